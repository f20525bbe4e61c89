package alipay

import (
	"context"
	"time"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/minimall/minimall/internal/apperr"
)

// RefundStatusSuccess is the refund_status of a refund that succeeded, as
// alipay.trade.fastpay.refund.query reports it; a refund Alipay never
// received or refused has no refund_status.
const RefundStatusSuccess = "REFUND_SUCCESS"

// RefundRequest is one alipay.trade.refund. OutRequestNo identifies the
// refund: a retry with it is the same refund and answers the same result.
type RefundRequest struct {
	OutTradeNo   string
	OutRequestNo string
	RefundFen    int64
	Reason       string
}

// RefundResult is Alipay's answer about a refund.
type RefundResult struct {
	TradeNo string
	// Succeeded reports that the refund is done: trade.refund answered 10000
	// with fund_change Y, or the query answered REFUND_SUCCESS.
	Succeeded bool
	// FundChange is trade.refund's fund_change ("N" on the retry of a refund
	// already made: the query tells whether it succeeded).
	FundChange string
	RefundFen  int64
	RefundedAt *time.Time
}

// Refund refunds part or all of a paid trade with alipay.trade.refund and
// out_request_no. Alipay refunds synchronously and sends no refund
// notification: 10000 is a refund made (or, with fund_change N, one made
// before); a business refusal is upstream_error; busy or no answer is
// upstream_unavailable, and QueryRefund settles it.
func (c *Client) Refund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	if req.RefundFen <= 0 || req.RefundFen > MaxTradeFen {
		return RefundResult{}, apperr.New(apperr.CodeInvalid, "an Alipay refund is between 0.01 and 100000000 yuan")
	}
	amount, err := FormatYuan(req.RefundFen)
	if err != nil {
		return RefundResult{}, apperr.Internal(err)
	}
	res, err := c.sdk.TradeRefund(ctx, sdk.TradeRefund{
		OutTradeNo: req.OutTradeNo, OutRequestNo: req.OutRequestNo, RefundAmount: amount, RefundReason: req.Reason,
	})
	if err != nil {
		return RefundResult{}, callError("trade.refund", err)
	}
	if err := businessError("trade.refund", res.Error); err != nil {
		return RefundResult{}, err
	}
	return RefundResult{TradeNo: res.TradeNo, FundChange: res.FundChange, Succeeded: res.FundChange == "Y", RefundFen: req.RefundFen}, nil
}

// QueryRefund asks Alipay about the refund of outRequestNo with
// alipay.trade.fastpay.refund.query. Succeeded is false when Alipay never
// received the refund or refused it: a retry of Refund with the same
// out_request_no then decides.
func (c *Client) QueryRefund(ctx context.Context, outTradeNo, outRequestNo string) (RefundResult, error) {
	res, err := c.sdk.TradeFastPayRefundQuery(ctx, sdk.TradeFastPayRefundQuery{OutTradeNo: outTradeNo, OutRequestNo: outRequestNo})
	if err != nil {
		return RefundResult{}, callError("trade.fastpay.refund.query", err)
	}
	if err := businessError("trade.fastpay.refund.query", res.Error); err != nil {
		return RefundResult{}, err
	}
	out := RefundResult{TradeNo: res.TradeNo, Succeeded: res.RefundStatus == RefundStatusSuccess}
	if res.RefundAmount != "" {
		if out.RefundFen, err = ParseYuan(res.RefundAmount); err != nil {
			return RefundResult{}, apperr.New(apperr.CodeUpstreamError, "Alipay answered a malformed refund_amount").WithCause(err)
		}
	}
	if res.GMTRefundPay != "" {
		if at, err := time.ParseInLocation(TimeFormat, res.GMTRefundPay, beijing); err == nil {
			u := at.UTC()
			out.RefundedAt = &u
		}
	}
	return out, nil
}
