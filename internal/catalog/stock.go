package catalog

import "context"

// The calls below are what checkout and cancellation need from the catalog.
// Each joins the transaction carried by ctx, so the order module moves stock
// in the same transaction as its own rows, and returns the store's error
// unwrapped for the caller's transaction to decide on (retry or give up).

// TakeStock takes n units of a live SKU in one guarded statement
// (stock = stock - n WHERE id = ? AND stock >= n) and reports whether it
// did. Checkout calls it last in its transaction, in ascending SKU id order.
func (s *Service) TakeStock(ctx context.Context, skuID, n int64) (bool, error) {
	return s.store.DecrementStock(ctx, skuID, n)
}

// TakeStockAt takes n units of a live SKU whose price is still priceFen,
// in one guarded statement (stock = stock - n WHERE id = ? AND stock >= n
// AND price_fen = priceFen), and reports whether it did: false when the SKU
// is short, deleted or priced otherwise now. Checkout calls it with the
// price it quoted, so an order is never placed at a price that is no longer
// the SKU's.
func (s *Service) TakeStockAt(ctx context.Context, skuID, n, priceFen int64) (bool, error) {
	return s.store.DecrementStockAt(ctx, skuID, n, priceFen)
}

// ReturnStock gives n units back to a SKU, deleted or not (a cancelled
// order, an approved return), and reports whether the SKU exists.
func (s *Service) ReturnStock(ctx context.Context, skuID, n int64) (bool, error) {
	return s.store.IncrementStock(ctx, skuID, n)
}

// AddRating moves a product's rating summary by delta (+1 or -1) reviews
// of stars (1–5); the review module calls it in the transaction that
// publishes or withdraws a review.
func (s *Service) AddRating(ctx context.Context, productID int64, stars int, delta int64) error {
	return s.store.AddRating(ctx, productID, stars, delta)
}

// AddSales moves a product's sales counter by n; the order module calls it
// off the checkout path, from its sales job.
func (s *Service) AddSales(ctx context.Context, productID, n int64) error {
	return s.store.AddSales(ctx, productID, n)
}
