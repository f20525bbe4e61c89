package order

import (
	"context"
	"time"
)

// SKU is what checkout needs to know about a SKU: its live price and stock
// with the product facts that decide whether it can be bought.
type SKU struct {
	ID        int64
	ProductID int64
	Title     string
	Image     string
	SpecText  string
	PriceFen  int64
	Stock     int64
	OnShelf   bool
	Deleted   bool
}

// Buyable reports whether the SKU can be sold at all (stock aside).
func (s SKU) Buyable() bool { return s.OnShelf && !s.Deleted }

// Catalog is the part of the catalog checkout and cancellation use. Calls
// made with a context that carries a transaction join it.
type Catalog interface {
	// SKUs reads the given SKUs, deleted ones included, keyed by id; unknown
	// ids are absent.
	SKUs(ctx context.Context, ids []int64) (map[int64]SKU, error)
	// TakeStock takes n units in one guarded statement
	// (stock = stock - n WHERE id = ? AND stock >= n) and reports whether
	// it did.
	TakeStock(ctx context.Context, skuID, n int64) (bool, error)
	// ReturnStock gives n units back and reports whether the SKU exists.
	ReturnStock(ctx context.Context, skuID, n int64) (bool, error)
	// AddSales adds n to a product's sales counter.
	AddSales(ctx context.Context, productID, n int64) error
	// StockChanged announces, after commit and never inside a transaction,
	// that the stock or sales of these products moved, so the product pages
	// show it within the catalog's stock lag. It cannot fail.
	StockChanged(ctx context.Context, productIDs []int64)
}

// CartLine is a selected line of a customer's cart.
type CartLine struct {
	SKUID    int64
	Quantity int64
}

// Cart is the part of the cart checkout uses. Calls made with a context that
// carries a transaction join it.
type Cart interface {
	// Selected returns the customer's selected cart lines.
	Selected(ctx context.Context, customerID int64) ([]CartLine, error)
	// Remove takes the ordered units off the customer's lines and deletes
	// the lines left empty; units added meanwhile stay in the cart.
	Remove(ctx context.Context, customerID int64, ordered []CartLine) error
}

// Addresses is the part of the address book checkout uses.
type Addresses interface {
	// Address returns one of the customer's addresses. An unknown id, or
	// another customer's address, is an *apperr.Error with code not_found.
	Address(ctx context.Context, customerID, addressID int64) (Address, error)
}

// PaymentGate is the payment module's say in cancellation. Every cancel, by
// the customer or by the payment deadline, calls CloseOpen before its
// transaction (a platform call is never made inside one): it closes the
// order's open payment attempts at the platforms and reports paid when a
// platform answers that a trade of the order is already paid. The order is
// then not cancelled; the payment module pays it through Service.MarkPaid.
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

// NoPayments is the PaymentGate of a shop without payment channels: there is
// never an open attempt to close.
type NoPayments struct{}

// CloseOpen reports that nothing was paid.
func (NoPayments) CloseOpen(context.Context, int64) (bool, error) { return false, nil }

// Attempts reports none.
func (NoPayments) Attempts(context.Context, int64) ([]PaymentAttempt, error) { return nil, nil }

// Shipping is the logistics module's side of an order: its parcels and its
// WeChat shipping-info upload, for the reads that show them. The logistics
// module owns both and moves the order through Service.MarkShipped,
// MarkDelivered and CompleteByPlatform.
type Shipping interface {
	// Parcels returns the outbound parcels of the given orders, keyed by
	// order id, oldest first.
	Parcels(ctx context.Context, orderIDs []int64) (map[int64][]Parcel, error)
	// Upload returns where the order's shipping-info upload stands.
	Upload(ctx context.Context, orderID int64) (ShippingUpload, error)
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
