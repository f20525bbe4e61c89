// Package payment owns how money reaches an order: payment attempts per order
// and channel, the prepay that lets a customer pay in the mini-program, the
// platforms' payment notifications, the close-before-cancel hook of the
// order module, refunds, and the reconciliation of trades whose
// notification never came.
//
// Rules (docs/payments.md):
//   - Only a verified platform notification, or the platform's own answer to
//     a query, moves an order to paid; no route does.
//   - A notification is accepted only when its signature verifies, its
//     merchant (appid and mchid for WeChat Pay, app_id and seller_id for
//     Alipay) is ours, its out_trade_no is one of our attempts on its channel
//     and its order amount (amount.total or total_amount, never what the
//     payer paid after discounts) equals the attempt's. A signed notification
//     that fails a check is refused and recorded as a payment anomaly, since
//     money may have moved.
//   - Both channels report a payment as one channel-neutral Paid value, and
//     one settle path applies it.
//   - In one transaction the attempt becomes succeeded and the order paid,
//     both by conditional updates (products' sales are counted by the order
//     module's job, off this transaction); duplicates
//     change nothing. A payment for an order that is no longer pending is
//     recorded (late or double payment) without touching the order, and
//     refunded in full through its channel once the transaction commits
//     (a job is the safety net).
//   - The refunds of an attempt that have not failed never add up to more
//     than its paid amount: a guarded counter on the attempt row grows in
//     the transaction that stores the refund, before the platform is asked.
//   - A refund whose outcome is unknown, and an attempt still pending after
//     MINIMALL_PAYMENT_RECONCILE_AFTER, are queried by jobs whose every
//     step is claimed with a conditional update, on any number of instances.
//   - Platform calls are never made inside a database transaction.
package payment

import (
	"context"
	"time"

	"github.com/minimall/minimall/internal/customer"
	"github.com/minimall/minimall/internal/order"
)

// Channel is a payment platform.
type Channel string

// The payment channels; a customer pays on the channel it logged in with.
const (
	ChannelWeChat Channel = "wechat"
	ChannelAlipay Channel = "alipay"
)

// channelNames are the channels the API accepts, configured or not, with
// their platforms' names.
var channelNames = map[Channel]string{ChannelWeChat: "WeChat Pay", ChannelAlipay: "Alipay"}

// Status is where a payment attempt stands.
type Status string

// Attempt statuses: pending until the platform reports the trade paid
// (succeeded) or the trade is closed before payment (closed); failed is an
// attempt the platform refused for good.
const (
	StatusPending   Status = "pending"
	StatusSucceeded Status = "succeeded"
	StatusClosed    Status = "closed"
	StatusFailed    Status = "failed"
)

// Anomaly kinds: money that may have moved without matching an order.
const (
	AnomalyUnknownTrade        = "unknown_trade"        // a signed notification for an out_trade_no we never made
	AnomalyMerchantMismatch    = "merchant_mismatch"    // appid/mchid (WeChat) or app_id/seller_id (Alipay) is not ours
	AnomalyAmountMismatch      = "amount_mismatch"      // amount.total or total_amount differs from the attempt
	AnomalyTransactionMismatch = "transaction_mismatch" // a second transaction id for a paid attempt
	AnomalyLatePayment         = "late_payment"         // paid after the order was cancelled
	AnomalyDoublePayment       = "double_payment"       // the order was already paid through another attempt
)

// Anomaly statuses.
const (
	AnomalyOpen     = "open"
	AnomalyResolved = "resolved"
)

// Notification outcomes, as stored.
const (
	OutcomeAccepted = "accepted"
	OutcomeIgnored  = "ignored"
	OutcomeRefused  = "refused"
)

// Attempt is one trade at one platform for one order.
type Attempt struct {
	ID            int64
	OrderID       int64
	CustomerID    int64
	Channel       Channel
	OutTradeNo    string
	AmountFen     int64
	Status        Status
	Description   string
	PayerID       string // the openid (or Alipay user_id / open_id) the trade was made for
	NotifyURL     string
	PrepayID      string // WeChat's prepay_id or Alipay's trade_no; "" until the platform answered the prepay
	ExpiresAt     time.Time
	ProviderTxnID string // "" until a payment is known
	PayerTotalFen int64
	PaidAt        *time.Time
	ClosedAt      *time.Time
	// RefundedFen is the sum of the attempt's refunds that have not failed;
	// it never exceeds AmountFen.
	RefundedFen int64
	// NextCheckAt is when reconciliation next queries a pending attempt at
	// its platform; Checks counts those queries.
	NextCheckAt *time.Time
	Checks      int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Anomaly is a payment event staff must look at.
type Anomaly struct {
	ID             int64
	Channel        Channel
	Kind           string
	OrderID        int64
	AttemptID      int64
	NotificationID int64
	OutTradeNo     string
	ProviderTxnID  string
	ExpectedFen    int64
	ActualFen      int64
	Detail         string
	Status         string
	ResolvedAt     *time.Time
	ResolutionNote string
	ResolvedBy     int64
	CreatedAt      time.Time
	// Refunds are the refunds made for the anomaly (late and double
	// payments are refunded automatically), filled in by lists.
	Refunds []Refund
}

// Notification is a stored, verified platform notification.
type Notification struct {
	ID            int64
	Channel       Channel
	NotifyID      string
	EventType     string
	OutTradeNo    string
	ProviderTxnID string
	AttemptID     int64
	Outcome       string
	Reason        string
	Body          string
	ReceivedAt    time.Time
}

// Orders is what payments need from the order module. Calls made with a
// context that carries a transaction join it.
type Orders interface {
	// Get returns one of the customer's orders; another customer's order is
	// an *apperr.Error not_found.
	Get(ctx context.Context, customerID, orderID int64) (order.Order, error)
	// ByID returns any order with its items.
	ByID(ctx context.Context, orderID int64) (order.Order, error)
	// MarkPaid moves an order from pending_payment to paid by a conditional
	// update with its order event, reading nothing when it moves; an order no
	// longer pending answers invalid_state with its status.
	MarkPaid(ctx context.Context, orderID, paidFen int64, at time.Time, actor order.Actor) error
}

// Identities finds a customer's platform accounts (*customer.Store).
type Identities interface {
	Identities(ctx context.Context, customerID int64, channel string) ([]customer.Identity, error)
}

// Paid is a platform's report, from a verified notification or from a query
// answered by the platform, that an attempt was paid. It is the same for
// every channel, so that one settle path applies every payment.
type Paid struct {
	Channel       Channel
	OutTradeNo    string
	ProviderTxnID string // WeChat's transaction_id, Alipay's trade_no
	AppID         string // the paying app as the platform names it
	MerchantID    string // WeChat's mchid, Alipay's seller_id ("" when Alipay sent none)
	TotalFen      int64  // the order amount: what the payment is checked against
	PayerTotalFen int64  // what the payer paid after platform discounts
	Currency      string // "" when the platform does not say (Alipay: CNY)
	PaidAt        *time.Time
	// Raw is the platform's report as received (the decrypted resource, the
	// notification form, or the query answer), kept with anomalies found by
	// a query, which have no stored notification.
	Raw string
}
