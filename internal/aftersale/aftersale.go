// Package aftersale owns after-sale requests: refund-only, return-and-refund
// and exchange, per order line, with their state machine and history.
//
// Rules (docs/aftersales.md):
//   - The order module stays the owner of the order: every change here runs
//     in one transaction that starts with order.Service.LockForAfterSale (a
//     guarded update of the order row, so changes to one order happen one
//     after another) and moves the order's per-line counters through its
//     guarded updates (units claimed never exceed a line's quantity, units
//     refunded never exceed the claimed ones, refunds never exceed what the
//     order paid). At most one request per order line is open, enforced by
//     a unique index.
//   - Amounts are computed by the server (amount.go): a line's share of what
//     was paid, units over quantity, the last units taking the rest of the
//     share; freight only with the refund that leaves nothing to ship.
//   - Every status change is a conditional UPDATE whose rows-affected is
//     checked, with a history row, and, for staff, an audit entry.
//   - Money leaves through the payment module's refund service, never inside
//     a transaction: the request moves to refunding with its out_refund_no
//     in the transaction; the refund is asked for after commit, and a job
//     follows it until it is made (retrying refusals).
//   - Stock comes back through the catalog's guarded increment in the same
//     transaction as the guarded move that justifies it, so never twice.
package aftersale

import (
	"slices"
	"time"

	"github.com/minimall/minimall/internal/apperr"
)

// Type is what the customer asks for.
type Type string

// Request types.
const (
	TypeRefundOnly   Type = "refund_only"
	TypeReturnRefund Type = "return_refund"
	TypeExchange     Type = "exchange"
)

// Status is where a request stands.
type Status string

// Request statuses (API.md).
const (
	StatusRequested      Status = "requested"
	StatusApproved       Status = "approved"
	StatusRejected       Status = "rejected"
	StatusAwaitingReturn Status = "awaiting_return"
	StatusReturned       Status = "returned"
	StatusRefunding      Status = "refunding"
	StatusRefunded       Status = "refunded"
	StatusCompleted      Status = "completed"
	StatusCancelled      Status = "cancelled"
)

// Statuses lists every status.
var Statuses = []Status{StatusRequested, StatusApproved, StatusRejected, StatusAwaitingReturn, StatusReturned,
	StatusRefunding, StatusRefunded, StatusCompleted, StatusCancelled}

// Open reports whether a request in s still holds its lines.
func (s Status) Open() bool {
	switch s {
	case StatusRejected, StatusRefunded, StatusCompleted, StatusCancelled:
		return false
	}
	return true
}

// Initiators of a request.
const (
	InitiatorCustomer = "customer"
	InitiatorMerchant = "merchant"
)

// Actor types of history rows.
const (
	ActorCustomer = "customer"
	ActorStaff    = "staff"
	ActorSystem   = "system"
)

// Actor is who changed a request.
type Actor struct {
	Type string
	ID   int64
}

// Reasons are the fixed reason codes per type (docs/aftersales.md); the
// free text goes in the description.
var Reasons = map[Type][]string{
	TypeRefundOnly:   {"no_longer_needed", "ordered_by_mistake", "not_received", "missing_item", "damaged", "other"},
	TypeReturnRefund: {"no_longer_needed", "damaged", "not_as_described", "wrong_item", "quality_issue", "other"},
	TypeExchange:     {"wrong_size", "wrong_item", "damaged", "quality_issue", "other"},
}

// MerchantReasons are the reasons of refunds staff make on the customer's
// behalf.
var MerchantReasons = []string{"goodwill", "out_of_stock", "price_error", "other"}

// Limits of a request's free text.
const (
	MaxDescription = 200
	MaxImages      = 9
	MaxImageURL    = 500
	MaxDecision    = 200
)

// Request is one after-sale request with its lines.
type Request struct {
	ID             int64
	OrderID        int64
	CustomerID     int64
	Type           Type
	Status         Status
	Initiator      string
	Reason         string
	Description    string
	Images         []string
	BeforeShipping bool
	// ComputedFen is the amount the rules give; RefundFen what is refunded
	// (ComputedFen, or lower when staff lowered it on approval); FreightFen
	// the freight included in both.
	ComputedFen           int64
	RefundFen             int64
	FreightFen            int64
	DecisionReason        string
	ReturnCarrier         string
	ReturnTrackingNo      string
	ReturnShippedAt       *time.Time
	ReplacementCarrier    string
	ReplacementTrackingNo string
	OutRefundNo           string
	RefundStatus          string
	RefundDetail          string
	RefundTries           int
	NextRefundCheckAt     *time.Time
	RemindedAt            *time.Time
	ApprovedAt            *time.Time
	ReturnedAt            *time.Time
	RefundedAt            *time.Time
	EndedAt               *time.Time
	CreatedAt             time.Time
	UpdatedAt             time.Time
	Items                 []Item
}

// Item is one line of a request.
type Item struct {
	ID            int64
	OrderItemID   int64
	SKUID         int64
	Quantity      int64
	ShareFen      int64
	ExchangeSKUID int64
}

// Event is one entry of a request's history.
type Event struct {
	ID        int64
	From      Status
	To        Status
	ActorType string
	ActorID   int64
	Reason    string
	CreatedAt time.Time
}

func (r *Request) must(action string, from ...Status) error {
	if slices.Contains(from, r.Status) {
		return nil
	}
	return apperr.InvalidState(string(r.Status), "a request that is %s cannot be %s", r.Status, action)
}
