package aftersale

import (
	"context"

	"github.com/minimall/minimall/internal/payment"
)

// SKU is what an exchange needs to know about a replacement SKU.
type SKU struct {
	ID        int64
	ProductID int64
	PriceFen  int64
	Buyable   bool
}

// Catalog is the part of the catalog after-sales use. Calls made with a
// context that carries a transaction join it.
type Catalog interface {
	// SKUs reads the given SKUs keyed by id; unknown ids are absent.
	SKUs(ctx context.Context, ids []int64) (map[int64]SKU, error)
	// TakeStock takes n units by the catalog's guarded decrement and
	// reports whether there were enough.
	TakeStock(ctx context.Context, skuID, n int64) (bool, error)
	// ReturnStock gives n units back by the catalog's guarded increment
	// and reports whether the SKU exists.
	ReturnStock(ctx context.Context, skuID, n int64) (bool, error)
}

// Refunds is the payment module's refund service. Its calls reach the
// platforms, so they are never made inside a transaction.
type Refunds interface {
	// RefundOrder refunds amountFen of what paid an order under the
	// caller's outRefundNo; asked again with the same number it answers the
	// same refund and refunds nothing more.
	RefundOrder(ctx context.Context, orderID, amountFen int64, reason, outRefundNo string) (payment.Refund, error)
	// ResubmitRefund asks again for a failed refund under its number.
	ResubmitRefund(ctx context.Context, outRefundNo string) (payment.Refund, error)
	// RefundByOutRefundNo reads a refund's outcome.
	RefundByOutRefundNo(ctx context.Context, outRefundNo string) (payment.Refund, bool, error)
	// RefundAnomaly re-submits the refund of a late or double payment.
	RefundAnomaly(ctx context.Context, anomalyID int64) (payment.Refund, error)
}

// Parcel kinds of after-sales.
const (
	ParcelReturn      = "return"      // the customer's return parcel
	ParcelReplacement = "replacement" // an exchange's replacement
)

// Parcel is a tracked return or replacement parcel.
type Parcel struct {
	Carrier    string
	TrackingNo string
	State      string // "" until the courier reports
}

// Parcels is the logistics module's tracking of parcels that are not an
// order's outbound shipment. Track validates the carrier code (the carrier
// table) and the tracking number, registers the parcel for the request and
// subscribes it at the courier; called inside a transaction it joins it.
type Parcels interface {
	Track(ctx context.Context, kind string, aftersaleID int64, carrier, trackingNo, phone string) (Parcel, error)
	// Of returns the tracked parcels of requests of one kind, by request.
	Of(ctx context.Context, kind string, aftersaleIDs []int64) (map[int64]Parcel, error)
}
