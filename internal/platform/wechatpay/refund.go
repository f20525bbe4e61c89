package wechatpay

import (
	"context"
	"net/http"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"github.com/minimall/minimall/internal/apperr"
)

// Refund statuses the platform reports (status, refund_status).
const (
	RefundSuccess    = "SUCCESS"
	RefundClosed     = "CLOSED"
	RefundProcessing = "PROCESSING"
	RefundAbnormal   = "ABNORMAL"
)

// Refund notification event types.
const (
	EventRefundSuccess  = "REFUND.SUCCESS"
	EventRefundAbnormal = "REFUND.ABNORMAL"
	EventRefundClosed   = "REFUND.CLOSED"
)

// CodeResourceNotExists is the platform's answer to a query for a refund it
// never received.
const CodeResourceNotExists = "RESOURCE_NOT_EXISTS"

// RefundRequest is one refund of a paid trade.
type RefundRequest struct {
	OutTradeNo  string
	OutRefundNo string
	Reason      string
	RefundFen   int64
	TotalFen    int64 // the trade's order amount
	NotifyURL   string
}

// RefundResult is the platform's view of a refund, from a create, a query
// or a refund notification.
type RefundResult struct {
	OutTradeNo  string
	OutRefundNo string
	RefundID    string
	Status      string
	RefundFen   int64
	TotalFen    int64
	SuccessTime *time.Time
}

func refundOf(r *refunddomestic.Refund) RefundResult {
	out := RefundResult{RefundID: str(r.RefundId), OutRefundNo: str(r.OutRefundNo), OutTradeNo: str(r.OutTradeNo)}
	if r.Status != nil {
		out.Status = string(*r.Status)
	}
	if r.Amount != nil {
		out.RefundFen, out.TotalFen = i64(r.Amount.Refund), i64(r.Amount.Total)
	}
	if r.SuccessTime != nil {
		u := r.SuccessTime.UTC()
		out.SuccessTime = &u
	}
	return out
}

// Refund asks the platform to refund part or all of a paid trade
// (refunddomestic Create). The same out_refund_no is the same refund: a
// retry after an unknown outcome never refunds twice. A business refusal is
// upstream_error; an unknown outcome (busy, timeout) upstream_unavailable.
func (c *Client) Refund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	create := refunddomestic.CreateRequest{
		OutTradeNo:  core.String(req.OutTradeNo),
		OutRefundNo: core.String(req.OutRefundNo),
		Amount: &refunddomestic.AmountReq{
			Refund: core.Int64(req.RefundFen), Total: core.Int64(req.TotalFen), Currency: core.String("CNY"),
		},
	}
	if req.Reason != "" {
		create.Reason = core.String(req.Reason)
	}
	if req.NotifyURL != "" {
		create.NotifyUrl = core.String(req.NotifyURL)
	}
	r, _, err := c.refunds.Create(ctx, create)
	if err != nil {
		return RefundResult{}, mapError("refund", err)
	}
	return refundOf(r), nil
}

// QueryRefund asks the platform about the refund of outRefundNo. A refund
// the platform never received is an upstream_error whose PlatformCode is
// RESOURCE_NOT_EXISTS.
func (c *Client) QueryRefund(ctx context.Context, outRefundNo string) (RefundResult, error) {
	r, _, err := c.refunds.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String(outRefundNo)})
	if err != nil {
		return RefundResult{}, mapError("refund query", err)
	}
	return refundOf(r), nil
}

// RefundNotification is a refund notification whose signature verified and
// whose resource decrypted.
type RefundNotification struct {
	ID        string
	EventType string
	Plaintext string
	Refund    RefundResult
}

// refundResource is the decrypted resource of a refund notification.
type refundResource struct {
	MchID        string     `json:"mchid"`
	OutTradeNo   string     `json:"out_trade_no"`
	OutRefundNo  string     `json:"out_refund_no"`
	RefundID     string     `json:"refund_id"`
	RefundStatus string     `json:"refund_status"`
	SuccessTime  *time.Time `json:"success_time"`
	Amount       struct {
		Total  int64 `json:"total"`
		Refund int64 `json:"refund"`
	} `json:"amount"`
}

// ParseRefundNotification reads a refund notification (REFUND.SUCCESS,
// REFUND.ABNORMAL, REFUND.CLOSED) exactly as ParseNotification reads a
// payment's: shape, headers, signature with the platform's public key and
// decryption with the APIv3 key, through the SDK's notify handler. A
// resource for another merchant is refused as malformed.
func (c *Client) ParseRefundNotification(ctx context.Context, r *http.Request, maxBody int64) (RefundNotification, error) {
	var res refundResource
	env, plain, err := c.parseNotify(ctx, r, maxBody, &res)
	if err != nil {
		return RefundNotification{}, err
	}
	if res.MchID != c.cfg.MchID || res.OutRefundNo == "" {
		return RefundNotification{}, refuse(apperr.CodeInvalid, "malformed", "refund resource of merchant %q without our out_refund_no", res.MchID)
	}
	out := RefundNotification{ID: *env.ID, EventType: *env.EventType, Plaintext: plain, Refund: RefundResult{
		OutTradeNo: res.OutTradeNo, OutRefundNo: res.OutRefundNo, RefundID: res.RefundID, Status: res.RefundStatus,
		RefundFen: res.Amount.Refund, TotalFen: res.Amount.Total,
	}}
	if res.SuccessTime != nil {
		u := res.SuccessTime.UTC()
		out.Refund.SuccessTime = &u
	}
	return out, nil
}
