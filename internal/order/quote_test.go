package order_test

import (
	"context"
	"slices"
	"testing"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// Checkout prices from the catalog's quote cache; these tests change the
// catalog behind a cached quote and check that no order is ever placed at a
// price that is no longer the SKU's, that stock and shelf refusals follow
// the fresh state, and that nothing is written by a refused checkout.

// setPrice changes the SKU's price through the catalog service, as staff
// do: the change is announced and drops the SKU from the quote cache.
func (f *fixture) setPrice(t *testing.T, skuID, priceFen int64) {
	t.Helper()
	ctx := context.Background()
	k, err := f.cat.Store().SKU(ctx, skuID)
	must(t, err)
	p, err := f.cat.Product(ctx, k.ProductID)
	must(t, err)
	in := catalog.ProductInput{CategoryID: p.CategoryID, Title: p.Title, Subtitle: p.Subtitle, Images: p.Images,
		Description: p.Description}
	for _, s := range p.SKUs {
		if s.ID == skuID {
			s.PriceFen = priceFen
		}
		in.SKUs = append(in.SKUs, catalog.SKUInput{ID: s.ID, Code: s.Code, Specs: s.Specs, PriceFen: s.PriceFen,
			OriginalPriceFen: s.OriginalPriceFen, WeightGrams: s.WeightGrams, Image: s.Image})
	}
	_, err = f.cat.UpdateProduct(ctx, staffID, k.ProductID, in)
	must(t, err)
}

// exec changes rows behind the catalog's back: nothing is announced.
func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	must(t, f.d.Writer(context.Background()).Exec(sql, args...).Error)
}

// preview prices one line and returns the goods total of the quote.
func (f *fixture) preview(t *testing.T, customerID, skuID, qty int64) order.Quote {
	t.Helper()
	q, err := f.svc.Preview(context.Background(), order.CheckoutInput{CustomerID: customerID, Items: []order.LineInput{line(skuID, qty)}})
	must(t, err)
	return q
}

// written counts the rows a checkout writes.
func (f *fixture) written(t *testing.T) [3]int64 {
	t.Helper()
	return [3]int64{f.count(t, "orders"), f.count(t, "order_items"), f.count(t, "order_events")}
}

func wantSKUs(t *testing.T, err error, ids ...int64) {
	t.Helper()
	var e *apperr.Error
	if !asErr(err, &e) || !slices.Equal(e.Details["sku_ids"].([]int64), ids) {
		t.Errorf("details = %v, want sku_ids %v", err, ids)
	}
}

func TestCheckoutPlacesAtThePriceChangedAfterTheQuoteWasCached(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		sku := f.sku(t, 1000, 10)
		addr := f.address(t, 7)
		if q := f.preview(t, 7, sku, 1); q.GoodsFen != 1000 {
			t.Fatalf("first quote = %d, want 1000", q.GoodsFen)
		}

		// Staff change the price through the catalog: the cached quote is
		// dropped at once.
		f.setPrice(t, sku, 1200)
		o := f.order(t, 7, addr, line(sku, 1))
		if o.Items[0].PriceFen != 1200 || o.GoodsFen != 1200 {
			t.Errorf("order after a staff price change = %d (goods %d), want 1200", o.Items[0].PriceFen, o.GoodsFen)
		}

		// The price is changed by direct SQL, which announces nothing: the
		// cached quote still says 1200, and the price-guarded decrement
		// rolls the order back to be priced again.
		hits := f.cat.QuoteCacheStats().Hits
		if q := f.preview(t, 7, sku, 1); q.GoodsFen != 1200 {
			t.Fatalf("quote = %d, want 1200", q.GoodsFen)
		}
		f.exec(t, "UPDATE skus SET price_fen = 1500 WHERE id = ?", sku)
		if q := f.preview(t, 7, sku, 1); q.GoodsFen != 1200 || f.cat.QuoteCacheStats().Hits < hits+2 {
			t.Fatalf("quote = %d after an unannounced change, want the cached 1200: the test does not exercise the cache", q.GoodsFen)
		}
		o, created, err := f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: 7, AddressID: addr, Items: []order.LineInput{line(sku, 2)}})
		must(t, err)
		if !created || o.Items[0].PriceFen != 1500 || o.GoodsFen != 3000 || o.TotalFen != 3000+freightFen {
			t.Errorf("order after a direct price change = %d (goods %d, total %d), want 1500 (3000, %d)",
				o.Items[0].PriceFen, o.GoodsFen, o.TotalFen, 3000+freightFen)
		}
		got, err := f.svc.Get(ctx, 7, o.ID)
		must(t, err)
		if got.Items[0].PriceFen != 1500 || got.TotalFen != o.TotalFen {
			t.Errorf("stored order = %+v", got)
		}
		if n := f.stock(t, sku); n != 7 {
			t.Errorf("stock = %d, want 7", n)
		}
		if w := f.written(t); w != [3]int64{2, 2, 2} {
			t.Errorf("orders, items, events = %v, want two orders of one line and one event each", w)
		}
	})
}

func TestCheckoutFollowsStockChangedBehindTheCache(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		sku := f.sku(t, 500, 5)
		addr := f.address(t, 7)
		if _, err := f.carts.Add(ctx, 7, sku, 1); err != nil {
			t.Fatal(err)
		}
		if q := f.preview(t, 7, sku, 1); len(q.Items) != 1 {
			t.Fatalf("quote = %+v, want the line", q)
		}
		// Sold out behind the cache: the cached quote says 5 in stock, the
		// guarded decrement finds none, and the fresh quote refuses.
		f.exec(t, "UPDATE skus SET stock = 0 WHERE id = ?", sku)
		_, _, err := f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: 7, AddressID: addr, FromCart: true})
		wantCode(t, err, apperr.CodeOutOfStock)
		wantSKUs(t, err, sku)
		if w := f.written(t); w != [3]int64{} {
			t.Errorf("orders, items, events = %v after a refused checkout, want none", w)
		}
		if sel, err := f.carts.Selected(ctx, 7); err != nil || len(sel) != 1 {
			t.Errorf("cart = %+v, %v; want the line kept", sel, err)
		}
		if n := f.stock(t, sku); n != 0 {
			t.Errorf("stock = %d, want 0", n)
		}
		// Back in stock, again behind the cache, which now holds "short":
		// it is read again before refusing, and the order goes through.
		f.exec(t, "UPDATE skus SET stock = 3 WHERE id = ?", sku)
		o, created, err := f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: 7, AddressID: addr, FromCart: true})
		must(t, err)
		if !created || o.GoodsFen != 500 {
			t.Errorf("order = %+v, want one unit at 500", o)
		}
		if n := f.stock(t, sku); n != 2 {
			t.Errorf("stock = %d, want 2", n)
		}
		if sel, err := f.carts.Selected(ctx, 7); err != nil || len(sel) != 0 {
			t.Errorf("cart = %+v, %v; want the ordered line removed", sel, err)
		}
	})
}

func TestCheckoutStopsSellingAProductTakenOffShelfAtOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		sku, other := f.sku(t, 800, 5), f.sku(t, 300, 5)
		addr := f.address(t, 7)
		f.order(t, 7, addr, line(sku, 1), line(other, 1))
		// Taken off shelf through the catalog: refused at once, no time
		// having passed.
		f.offShelf(t, sku)
		_, _, err := f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: 7, AddressID: addr, Items: []order.LineInput{line(sku, 1), line(other, 1)}})
		wantCode(t, err, apperr.CodeUnavailableItem)
		wantSKUs(t, err, sku)
		if w := f.written(t); w != [3]int64{1, 2, 1} {
			t.Errorf("orders, items, events = %v, want only the first order", w)
		}
		if n := f.stock(t, sku); n != 4 {
			t.Errorf("stock = %d, want 4", n)
		}
		// Put back on shelf behind the cache, which holds "off shelf": a
		// cached refusal is read again first, and the order goes through.
		f.exec(t, "UPDATE products SET on_shelf = ? WHERE id = (SELECT product_id FROM skus WHERE id = ?)", true, sku)
		o := f.order(t, 7, addr, line(sku, 1))
		if o.GoodsFen != 800 {
			t.Errorf("order = %+v", o)
		}
		// Taken off shelf behind the cache (no announcement, as another
		// instance's write without Redis): sold for at most the stock lag.
		f.exec(t, "UPDATE products SET on_shelf = ? WHERE id = (SELECT product_id FROM skus WHERE id = ?)", false, sku)
		f.clk.Advance(catalog.DefaultStockLag)
		_, _, err = f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: 7, AddressID: addr, Items: []order.LineInput{line(sku, 1)}})
		wantCode(t, err, apperr.CodeUnavailableItem)
	})
}
