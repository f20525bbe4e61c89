package payment

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/customer"
	"github.com/minimall/minimall/internal/platform/alipay"
)

// NotifyPathAlipay is where Alipay delivers notifications.
const NotifyPathAlipay = "/api/v1/notify/alipay"

// AlipayAck is the exact body that tells Alipay a notification was received;
// any other answer makes it retry.
const AlipayAck = "success"

// Alipay is the Alipay adapter (*alipay.Client).
type Alipay interface {
	AppID() string
	TradeCreate(ctx context.Context, req alipay.TradeCreateRequest) (string, error)
	Query(ctx context.Context, outTradeNo string) (alipay.Trade, error)
	Close(ctx context.Context, outTradeNo string) error
	ParseNotification(ctx context.Context, form url.Values) (alipay.Notification, error)
	Refund(ctx context.Context, req alipay.RefundRequest) (alipay.RefundResult, error)
	QueryRefund(ctx context.Context, outTradeNo, outRequestNo string) (alipay.RefundResult, error)
}

// alipayGateway is Alipay (alipay.trade.create with JSAPI_PAY for
// my.tradePay) as a Gateway.
type alipayGateway struct {
	c      Alipay
	seller string // MINIMALL_ALIPAY_SELLER_ID; "" skips the seller check
}

// NewAlipayGateway returns the Alipay channel over its adapter. sellerID,
// when set, must be the seller_id of every notification
// (MINIMALL_ALIPAY_SELLER_ID).
func NewAlipayGateway(c Alipay, sellerID string) (Gateway, error) {
	if c == nil {
		return nil, errors.New("payment: nil Alipay client")
	}
	return alipayGateway{c: c, seller: sellerID}, nil
}

func (g alipayGateway) Info() ChannelInfo {
	return ChannelInfo{
		Channel: ChannelAlipay, Name: "Alipay", Login: "Alipay", AppID: g.c.AppID(), TradePrefix: "AL",
		NotifyPath: NotifyPathAlipay,
	}
}

// Prepay makes the trade with buyer_id for a classic app's 2088… user_id,
// buyer_open_id for an app that receives open_ids.
func (g alipayGateway) Prepay(ctx context.Context, a Attempt, p Payer) (string, error) {
	req := alipay.TradeCreateRequest{
		OutTradeNo: a.OutTradeNo, Subject: a.Description, AmountFen: a.AmountFen, TimeExpire: a.ExpiresAt,
		NotifyURL: a.NotifyURL,
	}
	if p.Kind == customer.KindAlipayOpenID {
		req.BuyerOpenID = p.Subject
	} else {
		req.BuyerID = p.Subject
	}
	return g.c.TradeCreate(ctx, req)
}

// Checkout answers the trade_no my.tradePay takes.
func (g alipayGateway) Checkout(_ context.Context, a Attempt) (map[string]any, error) {
	return map[string]any{"trade_no": a.PrepayID}, nil
}

func (g alipayGateway) Close(ctx context.Context, a Attempt) error {
	return alipayTradeNotFound(g.c.Close(ctx, a.OutTradeNo))
}

// Query reads alipay.trade.query. A closed trade of a pending attempt was
// closed unpaid (we never refund a pending attempt): by us, or by Alipay at
// time_expire.
func (g alipayGateway) Query(ctx context.Context, a Attempt) (Trade, error) {
	t, err := g.c.Query(ctx, a.OutTradeNo)
	if err != nil {
		return Trade{}, alipayTradeNotFound(err)
	}
	switch t.Status {
	case alipay.TradeSuccess, alipay.TradeFinished:
		return Trade{State: TradePaid, Paid: g.paidFromQuery(t)}, nil
	case alipay.TradeClosed:
		return Trade{State: TradeClosed}, nil
	}
	return Trade{State: TradeWaiting}, nil
}

// paidFromQuery reads a paid trade from alipay.trade.query. The answer
// names neither app_id nor seller_id: it was made with our app's key for
// our own out_trade_no and its signature verified, so the app and the
// seller are ours by construction.
func (g alipayGateway) paidFromQuery(t alipay.Trade) Paid {
	return Paid{
		Channel: ChannelAlipay, OutTradeNo: t.OutTradeNo, ProviderTxnID: t.TradeNo, AppID: g.c.AppID(),
		MerchantID: g.seller, TotalFen: t.TotalFen, PayerTotalFen: t.BuyerPayFen, PaidAt: t.PaidAt, Raw: t.Raw,
	}
}

// Refund calls alipay.trade.refund. fund_change N (the retry of a refund
// made before, or nothing moved) is settled by the refund query.
func (g alipayGateway) Refund(ctx context.Context, a Attempt, r Refund, _ string) (RefundOutcome, error) {
	res, err := g.c.Refund(ctx, alipay.RefundRequest{
		OutTradeNo: a.OutTradeNo, OutRequestNo: r.OutRefundNo, RefundFen: r.AmountFen, Reason: r.Reason,
	})
	if err != nil {
		return RefundOutcome{}, err
	}
	if res.Succeeded {
		return RefundOutcome{Status: RefundSucceeded, ProviderID: res.TradeNo}, nil
	}
	q, err := g.c.QueryRefund(ctx, a.OutTradeNo, r.OutRefundNo)
	if err == nil && q.Succeeded {
		return RefundOutcome{Status: RefundSucceeded, ProviderID: q.TradeNo, At: q.RefundedAt}, nil
	}
	return RefundOutcome{Status: RefundProcessing, ProviderID: res.TradeNo, Detail: "Alipay answered fund_change N"}, nil
}

// QueryRefund calls alipay.trade.fastpay.refund.query. Alipay refunds
// synchronously: a refund it does not report as REFUND_SUCCESS was not
// made, and is asked for again under the same out_request_no.
func (g alipayGateway) QueryRefund(ctx context.Context, a Attempt, r Refund) (RefundOutcome, error) {
	res, err := g.c.QueryRefund(ctx, a.OutTradeNo, r.OutRefundNo)
	if err != nil {
		return RefundOutcome{}, err
	}
	if !res.Succeeded {
		return RefundOutcome{}, ErrRefundNotFound
	}
	return RefundOutcome{Status: RefundSucceeded, ProviderID: res.TradeNo, At: res.RefundedAt}, nil
}

// ParseNotification verifies Alipay's form (RSA2, smartwalle's
// DecodeNotification) and reads it. Only TRADE_SUCCESS and TRADE_FINISHED
// without refund fields are payments; every other notification (a refund's
// TRADE_SUCCESS, TRADE_CLOSED, WAIT_BUYER_PAY) is recorded without moving
// anything, and refused when it names another app or seller.
func (g alipayGateway) ParseNotification(ctx context.Context, d Delivery) (Event, error) {
	form, err := url.ParseQuery(string(d.Body))
	if err != nil {
		return Event{}, apperr.Invalid("notification refused: malformed").WithCause(err)
	}
	n, err := g.c.ParseNotification(ctx, form)
	if err != nil {
		reason := "malformed"
		var ne *alipay.NotifyError
		if errors.As(err, &ne) {
			reason = ne.Reason
		}
		return Event{}, apperr.Invalid("notification refused: %s", reason).WithCause(err)
	}
	event := n.TradeStatus
	if n.Refund {
		event += "+refund"
	}
	p := Paid{
		Channel: ChannelAlipay, OutTradeNo: n.OutTradeNo, ProviderTxnID: n.TradeNo, AppID: n.AppID, MerchantID: n.SellerID,
		TotalFen: n.TotalFen, PayerTotalFen: n.BuyerPayFen, PaidAt: n.PaidAt, Raw: n.Raw,
	}
	ev := Event{Notification: Notification{Channel: ChannelAlipay, NotifyID: n.NotifyID, EventType: event,
		OutTradeNo: n.OutTradeNo, ProviderTxnID: n.TradeNo, Body: n.Raw}}
	switch {
	case (n.TradeStatus == alipay.TradeSuccess || n.TradeStatus == alipay.TradeFinished) && !n.Refund:
		ev.Paid = &p
	case !g.Owns(p):
		ev.Foreign = true
		ev.Notification.Reason = fmt.Sprintf("%s: app_id %s seller_id %s", AnomalyMerchantMismatch, n.AppID, n.SellerID)
	}
	return ev, nil
}

func (g alipayGateway) Owns(p Paid) bool {
	return p.AppID == g.c.AppID() && (g.seller == "" || p.MerchantID == g.seller)
}

// alipayTradeNotFound marks err with ErrTradeNotFound when Alipay answered
// ACQ.TRADE_NOT_EXIST.
func alipayTradeNotFound(err error) error {
	if err != nil && alipay.SubCode(err) == alipay.SubCodeTradeNotExist {
		return fmt.Errorf("%w: %w", ErrTradeNotFound, err)
	}
	return err
}
