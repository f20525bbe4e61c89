package payment

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Gateway is one payment platform as the service uses it. Each platform
// has one implementation in its own file (channel_wechat.go,
// channel_alipay.go); the service holds them in a map by Channel and never
// branches on the platform. Implementations speak the platform's protocol
// through its adapter (internal/platform/...) and answer in channel-neutral
// values and *apperr.Error kinds: a business refusal is upstream_error, an
// unknown outcome (busy, timeout, unverifiable answer) upstream_unavailable.
// No method is ever called inside a database transaction.
//
// Adding a platform (docs/payments.md, "Adding a channel"): a Channel
// constant and a Gateway in a new file, its configuration, its construction
// in internal/app/payments.go and its notification route.
type Gateway interface {
	// Info describes the channel.
	Info() ChannelInfo
	// Prepay opens the attempt's trade at the platform for the payer and
	// returns the platform's handle for it (WeChat's prepay_id, Alipay's
	// trade_no), stored as the attempt's PrepayID. Asked again with the same
	// attempt, the platform answers the same trade.
	Prepay(ctx context.Context, a Attempt, p Payer) (string, error)
	// Checkout is what the mini-program needs to pay the attempt's opened
	// trade, as fields of the pay answer beside channel and out_trade_no.
	Checkout(ctx context.Context, a Attempt) (map[string]any, error)
	// Close closes the attempt's trade so that it can no longer be paid.
	// ErrTradeNotFound: the platform never had it (the prepay never arrived).
	Close(ctx context.Context, a Attempt) error
	// Query asks the platform where the attempt's trade stands.
	// ErrTradeNotFound: the platform does not know it.
	Query(ctx context.Context, a Attempt) (Trade, error)
	// Refund asks for a refund of the attempt and answers what the platform
	// said (processing when the outcome is not known yet). An error is a
	// business refusal (upstream_error, invalid_argument: the refund fails)
	// or an unknown outcome (anything else: the refund stays processing).
	Refund(ctx context.Context, a Attempt, r Refund, notifyURL string) (RefundOutcome, error)
	// QueryRefund asks the platform about a refund. ErrRefundNotFound: the
	// platform does not have it, and it is asked for again under the same
	// out_refund_no.
	QueryRefund(ctx context.Context, a Attempt, r Refund) (RefundOutcome, error)
	// ParseNotification verifies a delivery of the platform's notification
	// (signature, freshness, decryption) and reads it. A refusal is an
	// *apperr.Error: invalid_argument (malformed), unauthenticated (not
	// signed by the platform), payload_too_large, or internal (our keys are
	// wrong: the platform must retry once they are fixed).
	ParseNotification(ctx context.Context, d Delivery) (Event, error)
	// Owns reports whether a payment names our app and merchant.
	Owns(p Paid) bool
}

// ChannelInfo describes a channel to the service.
type ChannelInfo struct {
	Channel Channel
	// Name is the platform's name in messages ("WeChat Pay").
	Name string
	// Login is where a customer gets the identity this channel pays with
	// ("WeChat"), in messages.
	Login string
	// AppID is the paying app: the customer's identity of that app pays.
	AppID string
	// TradePrefix starts every out_trade_no of the channel (2 letters).
	TradePrefix string
	// NotifyPath is where the platform delivers payment notifications;
	// RefundNotifyPath where it delivers refund notifications ("": none).
	NotifyPath, RefundNotifyPath string
}

// Payer is the customer's account on a channel: the subject the trade is
// made for and its kind (an Alipay user_id or open_id, a WeChat openid).
type Payer struct {
	Subject string
	Kind    string
}

// TradeState is where a trade stands at its platform.
type TradeState int

// Trade states: waiting for the payer (or in progress), paid, or closed
// unpaid.
const (
	TradeWaiting TradeState = iota
	TradePaid
	TradeClosed
)

// Trade is a platform's answer to a query. Paid is filled in when the
// trade is paid.
type Trade struct {
	State TradeState
	Paid  Paid
}

// RefundOutcome is what a platform said about a refund.
type RefundOutcome struct {
	Status     RefundStatus // processing when not known yet
	ProviderID string
	Detail     string
	At         *time.Time
}

// The platforms' "I do not have it" answers, as Gateways report them.
var (
	ErrTradeNotFound  = errors.New("payment: the platform does not know the trade")
	ErrRefundNotFound = errors.New("payment: the platform does not know the refund")
)

// Delivery is a notification as a platform delivered it: its headers and
// its body, already bounded.
type Delivery struct {
	Header http.Header
	Body   []byte
}

// Event is a verified notification read by its Gateway.
type Event struct {
	// Notification is what is stored (id, event type, trade, body).
	Notification Notification
	// Paid is set when the notification reports a payment.
	Paid *Paid
	// Refund is set when it reports a refund's outcome.
	Refund *RefundReport
	// Foreign marks a notification that is neither and names another
	// merchant: refused, without an anomaly (no money moved through it).
	Foreign bool
}

// RefundReport is a refund outcome a platform notified.
type RefundReport struct {
	OutTradeNo  string
	OutRefundNo string
	AmountFen   int64
	Outcome     RefundOutcome
}
