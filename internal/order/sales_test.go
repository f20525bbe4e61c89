package order_test

import (
	"context"
	"sync"
	"testing"

	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// productSales reads the sales counter of the product a SKU belongs to.
func productSales(t *testing.T, d *db.DB, skuID int64) int64 {
	t.Helper()
	var n int64
	must(t, d.Reader(context.Background()).Raw(
		"SELECT p.sales FROM products p JOIN skus s ON s.product_id = p.id WHERE s.id = ?", skuID).Scan(&n).Error)
	return n
}

// TestCountSalesCountsPaidOrdersOnce proves the sales job adds the units of
// paid orders, and only of paid orders, exactly once, also when several
// instances run it at the same moment.
func TestCountSalesCountsPaidOrdersOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a, b := f.sku(t, 100, 100), f.sku(t, 200, 100)
		addr := f.address(t, 7)
		for range 5 {
			f.paid(t, 7, addr, line(a, 2), line(b, 1))
		}
		f.order(t, 7, addr, line(a, 7)) // pending payment: not a sale
		cancelled := f.order(t, 7, addr, line(b, 9))
		_, err := f.svc.Cancel(ctx, 7, cancelled.ID)
		must(t, err)
		if productSales(t, d, a) != 0 {
			t.Fatal("sales moved before the job ran")
		}

		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := f.svc.CountSales(ctx, 100)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		if total != 5 {
			t.Errorf("instances counted %d orders in all, want 5", total)
		}
		if got, want := productSales(t, d, a), int64(10); got != want {
			t.Errorf("sales of a = %d, want %d", got, want)
		}
		if got, want := productSales(t, d, b), int64(5); got != want {
			t.Errorf("sales of b = %d, want %d", got, want)
		}
		n, err := f.svc.CountSales(ctx, 100)
		must(t, err)
		if n != 0 || productSales(t, d, a) != 10 {
			t.Errorf("a second run counted %d orders, sales %d", n, productSales(t, d, a))
		}
		// A later payment is counted by the next run, in batches of limit.
		f.paid(t, 7, addr, line(a, 1))
		f.paid(t, 7, addr, line(a, 1))
		n, err = f.svc.CountSales(ctx, 1)
		must(t, err)
		if n != 1 || productSales(t, d, a) != 11 {
			t.Errorf("a batch of 1 counted %d orders, sales %d", n, productSales(t, d, a))
		}
		n, err = f.svc.CountSales(ctx, 1)
		must(t, err)
		if n != 1 || productSales(t, d, a) != 12 {
			t.Errorf("the next batch counted %d orders, sales %d", n, productSales(t, d, a))
		}
	})
}
