package payment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/wechatpay"
)

// Where WeChat Pay delivers notifications.
const (
	NotifyPathWeChat       = "/api/v1/notify/wechatpay"
	NotifyPathWeChatRefund = "/api/v1/notify/wechatpay/refund"
)

// WeChatPay is the WeChat Pay adapter (*wechatpay.Client).
type WeChatPay interface {
	AppID() string
	MchID() string
	Prepay(ctx context.Context, req wechatpay.PrepayRequest) (string, error)
	RequestPayment(ctx context.Context, prepayID string) (wechatpay.RequestPayment, error)
	Query(ctx context.Context, outTradeNo string) (wechatpay.Transaction, error)
	Close(ctx context.Context, outTradeNo string) error
	ParseNotification(ctx context.Context, r *http.Request, maxBody int64) (wechatpay.Notification, error)
	Refund(ctx context.Context, req wechatpay.RefundRequest) (wechatpay.RefundResult, error)
	QueryRefund(ctx context.Context, outRefundNo string) (wechatpay.RefundResult, error)
	ParseRefundNotification(ctx context.Context, r *http.Request, maxBody int64) (wechatpay.RefundNotification, error)
}

// weChatGateway is WeChat Pay (API v3, JSAPI) as a Gateway.
type weChatGateway struct {
	c WeChatPay
}

// NewWeChatGateway returns the WeChat Pay channel over its adapter.
func NewWeChatGateway(c WeChatPay) (Gateway, error) {
	if c == nil {
		return nil, errors.New("payment: nil WeChat Pay client")
	}
	return weChatGateway{c: c}, nil
}

func (g weChatGateway) Info() ChannelInfo {
	return ChannelInfo{
		Channel: ChannelWeChat, Name: "WeChat Pay", Login: "WeChat", AppID: g.c.AppID(), TradePrefix: "WX",
		NotifyPath: NotifyPathWeChat, RefundNotifyPath: NotifyPathWeChatRefund,
	}
}

func (g weChatGateway) Prepay(ctx context.Context, a Attempt, p Payer) (string, error) {
	return g.c.Prepay(ctx, wechatpay.PrepayRequest{
		OutTradeNo: a.OutTradeNo, Description: a.Description, AmountFen: a.AmountFen, OpenID: p.Subject,
		TimeExpire: a.ExpiresAt, NotifyURL: a.NotifyURL,
	})
}

// Checkout signs fresh wx.requestPayment parameters for the prepay_id.
func (g weChatGateway) Checkout(ctx context.Context, a Attempt) (map[string]any, error) {
	rp, err := g.c.RequestPayment(ctx, a.PrepayID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"request_payment": rp}, nil
}

func (g weChatGateway) Close(ctx context.Context, a Attempt) error {
	return weChatNotFound(g.c.Close(ctx, a.OutTradeNo), wechatpay.CodeOrderNotExist, ErrTradeNotFound)
}

func (g weChatGateway) Query(ctx context.Context, a Attempt) (Trade, error) {
	tx, err := g.c.Query(ctx, a.OutTradeNo)
	if err != nil {
		return Trade{}, weChatNotFound(err, wechatpay.CodeOrderNotExist, ErrTradeNotFound)
	}
	switch tx.TradeState {
	case wechatpay.TradeSuccess, wechatpay.TradeRefund:
		return Trade{State: TradePaid, Paid: paidFromWeChat(tx)}, nil
	case wechatpay.TradeClosed, wechatpay.TradeRevoked, wechatpay.TradePayError:
		return Trade{State: TradeClosed}, nil
	}
	return Trade{State: TradeWaiting}, nil
}

func (g weChatGateway) Refund(ctx context.Context, a Attempt, r Refund, notifyURL string) (RefundOutcome, error) {
	res, err := g.c.Refund(ctx, wechatpay.RefundRequest{
		OutTradeNo: a.OutTradeNo, OutRefundNo: r.OutRefundNo, Reason: r.Reason, RefundFen: r.AmountFen,
		TotalFen: a.AmountFen, NotifyURL: notifyURL,
	})
	if err != nil {
		return RefundOutcome{}, err
	}
	return weChatRefundOutcome(res), nil
}

func (g weChatGateway) QueryRefund(ctx context.Context, _ Attempt, r Refund) (RefundOutcome, error) {
	res, err := g.c.QueryRefund(ctx, r.OutRefundNo)
	if err != nil {
		return RefundOutcome{}, weChatNotFound(err, wechatpay.CodeResourceNotExists, ErrRefundNotFound)
	}
	return weChatRefundOutcome(res), nil
}

// ParseNotification reads a payment (TRANSACTION.*) or refund (REFUND.*)
// notification, by its event type, through the adapter: shape, headers,
// signature and decryption with the SDK's own notify handler.
func (g weChatGateway) ParseNotification(ctx context.Context, d Delivery) (Event, error) {
	var head struct {
		EventType string `json:"event_type"`
	}
	_ = json.Unmarshal(d.Body, &head) // a malformed body is refused by the adapter
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, NotifyPathWeChat, bytes.NewReader(d.Body))
	if err != nil {
		return Event{}, apperr.Internal(err)
	}
	req.Header = d.Header.Clone()
	limit := int64(len(d.Body)) + 1
	if strings.HasPrefix(head.EventType, "REFUND.") {
		n, err := g.c.ParseRefundNotification(ctx, req, limit)
		if err != nil {
			return Event{}, weChatRefusal(err)
		}
		return Event{
			Notification: Notification{Channel: ChannelWeChat, NotifyID: n.ID, EventType: n.EventType,
				OutTradeNo: n.Refund.OutTradeNo, ProviderTxnID: n.Refund.RefundID, Body: n.Plaintext},
			Refund: &RefundReport{OutTradeNo: n.Refund.OutTradeNo, OutRefundNo: n.Refund.OutRefundNo,
				AmountFen: n.Refund.RefundFen, Outcome: weChatRefundOutcome(n.Refund)},
		}, nil
	}
	n, err := g.c.ParseNotification(ctx, req, limit)
	if err != nil {
		return Event{}, weChatRefusal(err)
	}
	ev := Event{Notification: Notification{Channel: ChannelWeChat, NotifyID: n.ID, EventType: n.EventType,
		OutTradeNo: n.Transaction.OutTradeNo, ProviderTxnID: n.Transaction.TransactionID, Body: n.Plaintext}}
	if n.EventType == wechatpay.EventTransactionSuccess && n.Transaction.TradeState == wechatpay.TradeSuccess {
		p := paidFromWeChat(n.Transaction)
		p.Raw = n.Plaintext
		ev.Paid = &p
	}
	return ev, nil
}

func (g weChatGateway) Owns(p Paid) bool {
	return p.AppID == g.c.AppID() && p.MerchantID == g.c.MchID()
}

// paidFromWeChat reads a WeChat Pay transaction.
func paidFromWeChat(tx wechatpay.Transaction) Paid {
	return Paid{
		Channel: ChannelWeChat, OutTradeNo: tx.OutTradeNo, ProviderTxnID: tx.TransactionID, AppID: tx.AppID,
		MerchantID: tx.MchID, TotalFen: tx.TotalFen, PayerTotalFen: tx.PayerTotalFen, Currency: tx.Currency,
		PaidAt: tx.SuccessTime,
	}
}

func weChatRefundOutcome(res wechatpay.RefundResult) RefundOutcome {
	out := RefundOutcome{Status: RefundProcessing, ProviderID: res.RefundID, At: res.SuccessTime}
	switch res.Status {
	case wechatpay.RefundSuccess:
		out.Status = RefundSucceeded
	case wechatpay.RefundClosed:
		out.Status, out.Detail = RefundFailed, "WeChat Pay closed the refund"
	case wechatpay.RefundAbnormal:
		out.Status, out.Detail = RefundAbnormal, "WeChat Pay could not return the money to the payer's account"
	}
	return out
}

// weChatNotFound marks err with notFound when WeChat Pay answered code.
func weChatNotFound(err error, code string, notFound error) error {
	if err != nil && wechatpay.PlatformCode(err) == code {
		return fmt.Errorf("%w: %w", notFound, err)
	}
	return err
}

// weChatRefusal turns the adapter's refusal into its kind.
func weChatRefusal(err error) error {
	var ne *wechatpay.NotifyError
	if errors.As(err, &ne) {
		return apperr.New(ne.Code, "notification refused: %s", ne.Reason).WithCause(err)
	}
	return apperr.Invalid("notification refused").WithCause(err)
}
