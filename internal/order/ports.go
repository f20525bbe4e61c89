package order

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// PaymentGate is the payment module's say in cancellation. The payment module
// sits above this one (it imports order and moves orders to paid), so order
// declares the port and the composition root connects it once both services
// exist (Service.ConnectPayments).
//
// Every cancel, by the customer or by the payment deadline, calls CloseOpen
// before its transaction (a platform call is never made inside one): it
// closes the order's open payment attempts at the platforms and reports paid
// when a platform answers that a trade of the order is already paid. The
// order is then not cancelled; the payment module pays it through
// Service.MarkPaid.
type PaymentGate interface {
	CloseOpen(ctx context.Context, orderID int64) (paid bool, err error)
	// Attempts lists the order's payment attempts, oldest first, for the
	// staff order detail.
	Attempts(ctx context.Context, orderID int64) ([]PaymentAttempt, error)
}

// PaymentAttempt is one payment attempt of an order as staff see it.
type PaymentAttempt struct {
	ID            int64
	Channel       string
	OutTradeNo    string
	Status        string
	AmountFen     int64
	RefundedFen   int64
	ProviderTxnID string
	CreatedAt     time.Time
	PaidAt        *time.Time
	ClosedAt      *time.Time
}

// Shipping is the logistics module's side of an order: its parcels and its
// WeChat shipping-info upload, for the reads that show them. The logistics
// module sits above this one (it imports order and moves orders through
// Service.MarkShipped, MarkDelivered and CompleteByPlatform), so order
// declares the port and the composition root connects it once both services
// exist (Service.ConnectShipping).
type Shipping interface {
	// Parcels returns the outbound parcels of the given orders, keyed by
	// order id, oldest first.
	Parcels(ctx context.Context, orderIDs []int64) (map[int64][]Parcel, error)
	// Upload returns where the order's shipping-info upload stands.
	Upload(ctx context.Context, orderID int64) (ShippingUpload, error)
	// OrdersByUpload returns a subquery selecting the ids of the orders
	// whose shipping-info upload is in state (UploadPending, UploadUploaded,
	// UploadFailed or UploadNotRequired), so that the staff order list
	// filters and counts in one statement. The logistics module owns where
	// upload states are kept; a nil subquery selects no order.
	OrdersByUpload(ctx context.Context, state string) (*gorm.DB, error)
}

// NoShipping is the Shipping of a shop without a logistics module: no
// parcels, nothing uploaded.
type NoShipping struct{}

// Parcels reports none.
func (NoShipping) Parcels(context.Context, []int64) (map[int64][]Parcel, error) { return nil, nil }

// Upload reports nothing.
func (NoShipping) Upload(context.Context, int64) (ShippingUpload, error) {
	return ShippingUpload{}, nil
}

// OrdersByUpload selects no order: nothing is uploaded.
func (NoShipping) OrdersByUpload(context.Context, string) (*gorm.DB, error) { return nil, nil }
