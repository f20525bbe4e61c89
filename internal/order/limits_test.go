package order_test

import (
	"context"
	"sync"
	"testing"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// A customer holds at most MaxUnpaid unpaid orders: the next checkout is
// refused with limit_exceeded and reserves nothing; paying or cancelling one
// frees a place; another customer is not affected.
func TestCheckoutCapsUnpaidOrders(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		svc := f.service(t, testConfig(2))
		sku := f.sku(t, 100, 100)
		const alice, bob = int64(1), int64(2)
		aliceAddr, bobAddr := f.address(t, alice), f.address(t, bob)
		place := func(c, addr int64) (order.Order, error) {
			o, _, err := svc.Checkout(ctx, order.CheckoutInput{CustomerID: c, AddressID: addr, Items: []order.LineInput{line(sku, 1)}})
			return o, err
		}
		first, err := place(alice, aliceAddr)
		must(t, err)
		second, err := place(alice, aliceAddr)
		must(t, err)
		_, err = place(alice, aliceAddr)
		wantCode(t, err, apperr.CodeLimitExceeded)
		if got := f.stock(t, sku); got != 98 {
			t.Errorf("stock after the refused checkout = %d, want 98", got)
		}
		if _, err := place(bob, bobAddr); err != nil {
			t.Errorf("another customer: %v", err)
		}
		// A paid order no longer counts, nor does a cancelled one.
		must(t, paidErr(svc.MarkPaid(ctx, first.ID, first.TotalFen, f.clk.Now(), order.Payment(1))))
		if _, err := place(alice, aliceAddr); err != nil {
			t.Fatalf("after paying one: %v", err)
		}
		_, err = place(alice, aliceAddr)
		wantCode(t, err, apperr.CodeLimitExceeded)
		_, err = svc.Cancel(ctx, alice, second.ID)
		must(t, err)
		if _, err := place(alice, aliceAddr); err != nil {
			t.Errorf("after cancelling one: %v", err)
		}
	})
}

// Concurrent checkouts of one customer never get past the cap: the count
// is taken after the customer's guard row is held.
func TestCheckoutUnpaidCapConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		const limit = 3
		svc := f.service(t, testConfig(limit))
		sku := f.sku(t, 100, 100)
		const customer = int64(7)
		addr := f.address(t, customer)
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[apperr.Code]int{}
		created := 0
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := svc.Checkout(ctx, order.CheckoutInput{CustomerID: customer, AddressID: addr,
					Items: []order.LineInput{line(sku, 1)}})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					codes[apperr.CodeOf(err)]++
				} else {
					created++
				}
			}()
		}
		wg.Wait()
		if created != limit || codes[apperr.CodeLimitExceeded] != 12-limit {
			t.Errorf("created %d, errors %v; want %d created and the rest limit_exceeded", created, codes, limit)
		}
		if got := f.stock(t, sku); got != 100-limit {
			t.Errorf("stock = %d, want %d", got, 100-limit)
		}
	})
}

// The checkout guard row is made once per customer and then remembered; a
// remembered row that is gone (a database restored from a backup) is made
// again and the checkout succeeds, and the guard's count still caps.
func TestCheckoutRemakesAVanishedGuardRow(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		svc := f.service(t, testConfig(2))
		sku := f.sku(t, 100, 100)
		const customer = int64(11)
		addr := f.address(t, customer)
		place := func() error {
			_, _, err := svc.Checkout(ctx, order.CheckoutInput{CustomerID: customer, AddressID: addr, Items: []order.LineInput{line(sku, 1)}})
			return err
		}
		must(t, place())
		must(t, d.Writer(ctx).Exec("DELETE FROM order_checkout_guards WHERE customer_id = ?", customer).Error)
		must(t, place())
		var rows int64
		must(t, d.Writer(ctx).Raw("SELECT COUNT(*) FROM order_checkout_guards WHERE customer_id = ?", customer).Scan(&rows).Error)
		if rows != 1 {
			t.Errorf("guard rows = %d, want 1", rows)
		}
		wantCode(t, place(), apperr.CodeLimitExceeded)
		if got := f.stock(t, sku); got != 98 {
			t.Errorf("stock = %d, want 98", got)
		}
	})
}

// The guard row's unpaid_seen is an upper bound of the customer's unpaid
// orders that checkout trusts while the bound plus one stays within the cap:
// after any mix of checkouts, payments and cancellations it is never below
// the true count, and the cap is never passed.
func TestCheckoutGuardBoundNeverBelowTheCount(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		const limit = 3
		svc := f.service(t, testConfig(limit))
		sku := f.sku(t, 100, 1000)
		const customer = int64(21)
		addr := f.address(t, customer)
		var unpaid []order.Order
		for step := 0; step < 40; step++ {
			switch {
			case step%5 == 3 && len(unpaid) > 0:
				o := unpaid[0]
				must(t, paidErr(svc.MarkPaid(ctx, o.ID, o.TotalFen, f.clk.Now(), order.Payment(int64(step)))))
				unpaid = unpaid[1:]
			case step%7 == 6 && len(unpaid) > 0:
				o := unpaid[len(unpaid)-1]
				_, err := svc.Cancel(ctx, customer, o.ID)
				must(t, err)
				unpaid = unpaid[:len(unpaid)-1]
			default:
				o, _, err := svc.Checkout(ctx, order.CheckoutInput{CustomerID: customer, AddressID: addr,
					Items: []order.LineInput{line(sku, 1)}})
				if len(unpaid) == limit {
					wantCode(t, err, apperr.CodeLimitExceeded)
				} else {
					must(t, err)
					unpaid = append(unpaid, o)
				}
			}
			var count, bound int64
			must(t, d.Writer(ctx).Raw("SELECT COUNT(*) FROM orders WHERE customer_id = ? AND status = ?",
				customer, string(order.StatusPendingPayment)).Scan(&count).Error)
			must(t, d.Writer(ctx).Raw("SELECT unpaid_seen FROM order_checkout_guards WHERE customer_id = ?",
				customer).Scan(&bound).Error)
			if count != int64(len(unpaid)) || count > limit {
				t.Fatalf("step %d: %d unpaid orders, want %d (cap %d)", step, count, len(unpaid), limit)
			}
			if bound < count {
				t.Fatalf("step %d: unpaid_seen %d is below the %d unpaid orders", step, bound, count)
			}
		}
	})
}
