// Package order owns checkout and everything that happens to an order after
// it: pricing, the address and item snapshots, stock reservation, the order
// state machine with its event history, shipping, the payment deadline and
// automatic confirmation.
//
// The module imports the modules below it (catalog, cart, address) and calls
// their services, whose writes join its transactions. The payment module
// sits above it: it calls Service.MarkPaid, and order asks it to close open
// trades before a cancel through the PaymentGate port of ports.go. Every status change is a conditional
// UPDATE whose rows-affected is checked, so concurrent requests and several
// instances of the background jobs agree on one outcome.
package order

import (
	"time"

	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/apperr"
)

// Status is where an order stands in its life.
type Status string

// The statuses of the order state machine (docs/orders.md).
const (
	StatusPendingPayment Status = "pending_payment"
	StatusPaid           Status = "paid"
	StatusShipped        Status = "shipped"
	StatusCompleted      Status = "completed"
	StatusCancelled      Status = "cancelled"
	StatusClosed         Status = "closed"
)

// Statuses lists every status, in the order of an order's life.
var Statuses = []Status{
	StatusPendingPayment, StatusPaid, StatusShipped, StatusCompleted, StatusCancelled, StatusClosed,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, k := range Statuses {
		if s == k {
			return true
		}
	}
	return false
}

// transitions is the state machine: the statuses each status may move to.
// closed is reached through after-sales, which another module drives.
var transitions = map[Status][]Status{
	StatusPendingPayment: {StatusPaid, StatusCancelled},
	StatusPaid:           {StatusShipped, StatusClosed},
	StatusShipped:        {StatusCompleted, StatusClosed},
	StatusCompleted:      {StatusClosed},
}

// CanMove reports whether the state machine allows from → to.
func CanMove(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Cancel reasons, stored on the order and in its cancel event.
const (
	CancelByCustomer = "customer"
	CancelByDeadline = "payment_deadline"
)

// Order is an order with its item and address snapshots.
type Order struct {
	ID           int64
	OrderNo      string
	CustomerID   int64
	Status       Status
	Items        []Item
	GoodsFen     int64
	FreightFen   int64
	TotalFen     int64
	PaidFen      int64
	AddressID    int64
	Address      Address
	Remark       string
	CancelReason string
	PayDeadline  time.Time
	PaidAt       *time.Time
	ShippedAt    *time.Time
	DeliveredAt  *time.Time
	CompletedAt  *time.Time
	CancelledAt  *time.Time
	ClosedAt     *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Parcels are the order's outbound parcels, read from the logistics
	// module (Shipping port) by the reads that show them.
	Parcels []Parcel
}

// Item is one order line: the SKU as it was sold.
type Item struct {
	ID          int64
	SKUID       int64
	ProductID   int64
	Title       string
	SpecText    string
	Image       string
	PriceFen    int64
	Quantity    int64
	SubtotalFen int64
}

// Address is the shipping address snapshotted at checkout.
type Address struct {
	Name     string
	Phone    string
	Province string
	City     string
	District string
	Detail   string
}

// snapshotAddress copies the parts of an address-book entry an order keeps.
func snapshotAddress(a address.Address) Address {
	return Address{Name: a.Name, Phone: a.Phone, Province: a.Province, City: a.City,
		District: a.District, Detail: a.Detail}
}

// Actor types of order events.
const (
	ActorCustomer = "customer"
	ActorStaff    = "staff"
	ActorSystem   = "system"
	ActorPayment  = "payment"
	ActorPlatform = "platform"
)

// Actor is who moved an order: a customer, a staff member, a background job
// (system) or the payment module acting on a verified platform answer.
type Actor struct {
	Type string
	ID   int64
}

// Customer is the actor for customer id.
func Customer(id int64) Actor { return Actor{Type: ActorCustomer, ID: id} }

// Staff is the actor for staff member id.
func Staff(id int64) Actor { return Actor{Type: ActorStaff, ID: id} }

// System is the actor of background jobs.
func System() Actor { return Actor{Type: ActorSystem} }

// Payment is the actor of the payment module; id is its payment attempt.
func Payment(attemptID int64) Actor { return Actor{Type: ActorPayment, ID: attemptID} }

// Platform is the actor of a platform's verified word about an order, e.g.
// WeChat reporting that the buyer confirmed receipt inside WeChat.
func Platform() Actor { return Actor{Type: ActorPlatform} }

// Event is one entry of an order's history. From is "" for the creation.
type Event struct {
	ID        int64
	OrderID   int64
	From      Status
	To        Status
	ActorType string
	ActorID   int64
	Reason    string
	CreatedAt time.Time
}

// Parcel is an outbound parcel of an order as the order shows it; the
// logistics module owns parcels and their tracking.
type Parcel struct {
	ID          int64
	Carrier     string
	CarrierName string
	TrackingNo  string
	ItemIDs     []int64
	State       string
}

// Shipping-info upload states (WeChat's order shipping-info management).
const (
	UploadPending     = "pending"
	UploadUploaded    = "uploaded"
	UploadFailed      = "failed"
	UploadNotRequired = "not_required"
)

// ShippingUpload is where the WeChat shipping-info upload of an order
// stands; State is "" before the order ships.
type ShippingUpload struct {
	State    string
	ErrCode  int64
	ErrMsg   string
	Attempts int
	At       *time.Time
}

func (o *Order) refuse(to Status, action string) error {
	if CanMove(o.Status, to) {
		return nil
	}
	return apperr.InvalidState(string(o.Status), "an order that is %s cannot be %s", o.Status, action)
}

// CanCancel allows cancelling only while the order waits for payment.
func (o *Order) CanCancel() error { return o.refuse(StatusCancelled, "cancelled") }

// CanPay allows recording a payment only while the order waits for it.
func (o *Order) CanPay() error { return o.refuse(StatusPaid, "paid") }

// CanShip allows shipping only a paid order.
func (o *Order) CanShip() error { return o.refuse(StatusShipped, "shipped") }

// CanConfirm allows confirming receipt only of a shipped order.
func (o *Order) CanConfirm() error { return o.refuse(StatusCompleted, "confirmed") }
