package order_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestStateMachineTable(t *testing.T) {
	t.Parallel()
	all := order.Statuses
	allowed := map[[2]order.Status]bool{
		{order.StatusPendingPayment, order.StatusPaid}:      true,
		{order.StatusPendingPayment, order.StatusCancelled}: true,
		{order.StatusPaid, order.StatusShipped}:             true,
		{order.StatusPaid, order.StatusClosed}:              true,
		{order.StatusShipped, order.StatusCompleted}:        true,
		{order.StatusShipped, order.StatusClosed}:           true,
		{order.StatusCompleted, order.StatusClosed}:         true,
	}
	for _, from := range all {
		for _, to := range all {
			if got, want := order.CanMove(from, to), allowed[[2]order.Status{from, to}]; got != want {
				t.Errorf("CanMove(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
	checks := []struct {
		name string
		fn   func(*order.Order) error
		ok   order.Status
	}{
		{"cancel", (*order.Order).CanCancel, order.StatusPendingPayment},
		{"pay", (*order.Order).CanPay, order.StatusPendingPayment},
		{"ship", (*order.Order).CanShip, order.StatusPaid},
		{"confirm", (*order.Order).CanConfirm, order.StatusShipped},
	}
	for _, c := range checks {
		for _, st := range all {
			err := c.fn(&order.Order{Status: st})
			if st == c.ok && err != nil {
				t.Errorf("%s from %s: %v, want allowed", c.name, st, err)
			}
			if st != c.ok {
				wantCode(t, err, apperr.CodeInvalidState)
				var e *apperr.Error
				if errors.As(err, &e) && e.Details["status"] != string(st) {
					t.Errorf("%s from %s: details.status = %v", c.name, st, e.Details["status"])
				}
			}
		}
	}
}

func TestCancelReturnsStock(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a, b := f.sku(t, 100, 10), f.sku(t, 200, 10)
		o := f.order(t, 7, f.address(t, 7), line(b, 4), line(a, 3))
		f.clk.Advance(time.Minute)
		got, err := f.svc.Cancel(ctx, 7, o.ID)
		must(t, err)
		if got.Status != order.StatusCancelled || got.CancelledAt == nil || !got.CancelledAt.Equal(start.Add(time.Minute)) {
			t.Errorf("cancelled order = %s at %v", got.Status, got.CancelledAt)
		}
		if f.stock(t, a) != 10 || f.stock(t, b) != 10 {
			t.Errorf("stock = %d/%d, want 10/10", f.stock(t, a), f.stock(t, b))
		}
		if f.gate.closeCalls(o.ID) != 1 {
			t.Errorf("payment gate called %d times, want 1", f.gate.closeCalls(o.ID))
		}
		det, err := f.svc.AdminGet(ctx, o.ID)
		must(t, err)
		last := det.Events[len(det.Events)-1]
		if len(det.Events) != 2 || last.From != order.StatusPendingPayment || last.To != order.StatusCancelled ||
			last.ActorType != order.ActorCustomer || det.CancelReason != order.CancelByCustomer {
			t.Errorf("events = %+v, cancel reason %q", det.Events, det.CancelReason)
		}
		// Twice: invalid_state, stock not returned again.
		_, err = f.svc.Cancel(ctx, 7, o.ID)
		wantCode(t, err, apperr.CodeInvalidState)
		if f.stock(t, a) != 10 {
			t.Errorf("stock after second cancel = %d, want 10", f.stock(t, a))
		}
	})
}

func TestOtherCustomersOrderIsNotFound(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.sku(t, 100, 10)
		o := f.order(t, 7, f.address(t, 7), line(a, 1))
		shipped := f.paid(t, 7, f.address(t, 7), line(a, 1))
		_, err := f.svc.MarkShipped(ctx, shipped.ID, order.Staff(staffID), "shipped")
		must(t, err)
		calls := []struct {
			name string
			fn   func() error
		}{
			{"get", func() error { _, err := f.svc.Get(ctx, 8, o.ID); return err }},
			{"cancel", func() error { _, err := f.svc.Cancel(ctx, 8, o.ID); return err }},
			{"confirm", func() error { _, err := f.svc.Confirm(ctx, 8, shipped.ID); return err }},
			{"unknown", func() error { _, err := f.svc.Get(ctx, 7, 999999); return err }},
		}
		for _, c := range calls {
			t.Run(c.name, func(t *testing.T) { wantCode(t, c.fn(), apperr.CodeNotFound) })
		}
		if statusOf(t, f, o.ID) != order.StatusPendingPayment || statusOf(t, f, shipped.ID) != order.StatusShipped {
			t.Error("another customer's request changed an order")
		}
		if f.gate.closeCalls(o.ID) != 0 {
			t.Error("another customer's cancel reached the payment gate")
		}
		list, total, err := f.svc.List(ctx, 8, "", 0, 20)
		must(t, err)
		if total != 0 || len(list) != 0 {
			t.Errorf("customer 8 lists %d orders, want 0", total)
		}
	})
}

func TestConfirmOnlyFromShipped(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.sku(t, 100, 10)
		addr := f.address(t, 7)
		pending := f.order(t, 7, addr, line(a, 1))
		paid := f.paid(t, 7, addr, line(a, 1))
		for _, id := range []int64{pending.ID, paid.ID} {
			_, err := f.svc.Confirm(ctx, 7, id)
			wantCode(t, err, apperr.CodeInvalidState)
		}
		_, err := f.svc.MarkShipped(ctx, paid.ID, order.Staff(staffID), "shipped")
		must(t, err)
		got, err := f.svc.Confirm(ctx, 7, paid.ID)
		must(t, err)
		if got.Status != order.StatusCompleted || got.CompletedAt == nil {
			t.Errorf("confirmed order = %s, completed_at %v", got.Status, got.CompletedAt)
		}
		_, err = f.svc.Confirm(ctx, 7, paid.ID)
		wantCode(t, err, apperr.CodeInvalidState)
		_, err = f.svc.Cancel(ctx, 7, paid.ID)
		wantCode(t, err, apperr.CodeInvalidState)
	})
}

func TestMarkPaid(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		o := f.order(t, 7, f.address(t, 7), line(f.sku(t, 100, 10), 2))
		paidAt := start.Add(5 * time.Minute)
		wantCode(t, paidErr(f.svc.MarkPaid(ctx, o.ID, o.TotalFen-1, paidAt, order.Payment(3))), apperr.CodeConflict)
		wantCode(t, paidErr(f.svc.MarkPaid(ctx, o.ID, o.TotalFen, paidAt, order.Customer(7))), apperr.CodeForbidden)
		wantCode(t, paidErr(f.svc.MarkPaid(ctx, 999999, o.TotalFen, paidAt, order.Payment(3))), apperr.CodeNotFound)
		if statusOf(t, f, o.ID) != order.StatusPendingPayment {
			t.Fatal("a refused payment changed the order")
		}
		must(t, paidErr(f.svc.MarkPaid(ctx, o.ID, o.TotalFen, paidAt, order.Payment(3))))
		got, err := f.svc.Get(ctx, 7, o.ID)
		must(t, err)
		if got.Status != order.StatusPaid || got.PaidFen != o.TotalFen || got.PaidAt == nil || !got.PaidAt.Equal(paidAt) {
			t.Errorf("paid order = %s, paid %d at %v", got.Status, got.PaidFen, got.PaidAt)
		}
		err = paidErr(f.svc.MarkPaid(ctx, o.ID, o.TotalFen, paidAt, order.Payment(4)))
		wantCode(t, err, apperr.CodeInvalidState)
		// Joins the caller's transaction: rolled back with it.
		o2 := f.order(t, 7, f.address(t, 7), line(f.sku(t, 100, 10), 1))
		rollback := errors.New("roll back")
		err = d.Tx(ctx, func(ctx context.Context) error {
			if err := paidErr(f.svc.MarkPaid(ctx, o2.ID, o2.TotalFen, paidAt, order.Payment(5))); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) || statusOf(t, f, o2.ID) != order.StatusPendingPayment {
			t.Errorf("err %v, status %s; want the payment rolled back", err, statusOf(t, f, o2.ID))
		}
	})
}

// The payment gate finds the trade paid: the cancel answers invalid_state
// with status paid, the order is paid and its stock stays sold.
func TestCancelFindsTradePaid(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.sku(t, 100, 10)
		o := f.order(t, 7, f.address(t, 7), line(a, 2))
		f.gate.mu.Lock()
		f.gate.paid[o.ID] = true
		f.gate.markFn = func(ctx context.Context, id int64) error {
			return paidErr(f.svc.MarkPaid(ctx, id, o.TotalFen, f.clk.Now(), order.Payment(9)))
		}
		f.gate.mu.Unlock()
		_, err := f.svc.Cancel(ctx, 7, o.ID)
		wantCode(t, err, apperr.CodeInvalidState)
		var e *apperr.Error
		if !errors.As(err, &e) || e.Details["status"] != "paid" {
			t.Errorf("details = %v, want status paid", err)
		}
		if statusOf(t, f, o.ID) != order.StatusPaid || f.stock(t, a) != 8 {
			t.Errorf("status %s, stock %d; want paid and 8", statusOf(t, f, o.ID), f.stock(t, a))
		}
		// The deadline job leaves it alone too.
		f.clk.Advance(payTimeout + time.Second)
		n, err := f.svc.CancelExpired(ctx, 100)
		must(t, err)
		if n != 0 || statusOf(t, f, o.ID) != order.StatusPaid {
			t.Errorf("deadline job cancelled %d, status %s", n, statusOf(t, f, o.ID))
		}
	})
}

// A failing gate (platform unreachable) stops the cancel: nothing changes,
// and the deadline job tries again on its next run.
func TestCancelWhenGateFails(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.sku(t, 100, 10)
		o := f.order(t, 7, f.address(t, 7), line(a, 2))
		f.gate.mu.Lock()
		f.gate.fail = apperr.New(apperr.CodeUpstreamUnavailable, "platform busy")
		f.gate.mu.Unlock()
		_, err := f.svc.Cancel(ctx, 7, o.ID)
		wantCode(t, err, apperr.CodeUpstreamUnavailable)
		f.clk.Advance(payTimeout)
		n, err := f.svc.CancelExpired(ctx, 100)
		must(t, err)
		if n != 0 || statusOf(t, f, o.ID) != order.StatusPendingPayment || f.stock(t, a) != 8 {
			t.Fatalf("cancelled %d, status %s, stock %d; want nothing changed", n, statusOf(t, f, o.ID), f.stock(t, a))
		}
		f.gate.mu.Lock()
		f.gate.fail = nil
		f.gate.mu.Unlock()
		n, err = f.svc.CancelExpired(ctx, 100)
		must(t, err)
		if n != 1 || statusOf(t, f, o.ID) != order.StatusCancelled || f.stock(t, a) != 10 {
			t.Errorf("cancelled %d, status %s, stock %d; want 1, cancelled, 10", n, statusOf(t, f, o.ID), f.stock(t, a))
		}
	})
}

func TestPaymentDeadlineJob(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.sku(t, 100, 100)
		addr := f.address(t, 7)
		early := f.order(t, 7, addr, line(a, 1))
		paid := f.paid(t, 7, addr, line(a, 1))
		f.clk.Advance(10 * time.Minute)
		late := f.order(t, 7, addr, line(a, 1))
		// Just before the first deadline: nothing.
		f.clk.Set(early.PayDeadline.Add(-time.Second))
		n, err := f.svc.CancelExpired(ctx, 100)
		must(t, err)
		if n != 0 {
			t.Fatalf("cancelled %d before the deadline", n)
		}
		f.clk.Set(early.PayDeadline)
		n, err = f.svc.CancelExpired(ctx, 100)
		must(t, err)
		if n != 1 || statusOf(t, f, early.ID) != order.StatusCancelled || statusOf(t, f, late.ID) != order.StatusPendingPayment ||
			statusOf(t, f, paid.ID) != order.StatusPaid {
			t.Fatalf("cancelled %d: early %s, late %s, paid %s", n, statusOf(t, f, early.ID), statusOf(t, f, late.ID), statusOf(t, f, paid.ID))
		}
		if f.gate.closeCalls(early.ID) != 1 {
			t.Errorf("the deadline cancel did not close payments first")
		}
		det, err := f.svc.AdminGet(ctx, early.ID)
		must(t, err)
		last := det.Events[len(det.Events)-1]
		if last.ActorType != order.ActorSystem || det.CancelReason != order.CancelByDeadline {
			t.Errorf("event %+v, reason %q", last, det.CancelReason)
		}
		f.clk.Set(late.PayDeadline.Add(time.Hour))
		n, err = f.svc.CancelExpired(ctx, 100)
		must(t, err)
		if n != 1 || f.stock(t, a) != 99 {
			t.Errorf("cancelled %d, stock %d; want 1 and 99 (the paid order keeps its unit)", n, f.stock(t, a))
		}
	})
}

// The job pages by deadline and stops at its limit.
func TestPaymentDeadlineJobLimit(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.sku(t, 100, 500)
		addr := f.address(t, 7)
		for range 7 {
			f.order(t, 7, addr, line(a, 1))
			f.clk.Advance(time.Second)
		}
		f.clk.Advance(payTimeout)
		for _, want := range []int{3, 3, 1, 0} {
			n, err := f.svc.CancelExpired(ctx, 3)
			must(t, err)
			if n != want {
				t.Fatalf("cancelled %d, want %d", n, want)
			}
		}
		if f.stock(t, a) != 500 {
			t.Errorf("stock = %d, want 500", f.stock(t, a))
		}
	})
}

// A customer's cancel races two instances of the deadline job: each order
// is cancelled once and its stock returned once.
func TestCancelRacesDeadlineJob(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a, b := f.sku(t, 100, 100), f.sku(t, 100, 100)
		addr := f.address(t, 7)
		var orders []order.Order
		for i := range 20 {
			orders = append(orders, f.order(t, 7, addr, line(a, int64(1+i%3)), line(b, 2)))
		}
		f.clk.Advance(payTimeout + time.Second)
		var wg sync.WaitGroup
		cancelled := make([]bool, len(orders))
		var jobDone [2]int
		for i, o := range orders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.svc.Cancel(ctx, 7, o.ID)
				if err == nil {
					cancelled[i] = true
				} else if !apperr.Is(err, apperr.CodeInvalidState) {
					t.Errorf("cancel %d: %v", o.ID, err)
				}
			}()
		}
		for j := range jobDone {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := f.svc.CancelExpired(ctx, 100)
				if err != nil {
					t.Errorf("job: %v", err)
				}
				jobDone[j] = n
			}()
		}
		wg.Wait()
		total := jobDone[0] + jobDone[1]
		for _, c := range cancelled {
			if c {
				total++
			}
		}
		if total != len(orders) {
			t.Errorf("%d successful cancels, want exactly %d", total, len(orders))
		}
		var events int64
		must(t, d.Reader(ctx).Raw("SELECT COUNT(*) FROM order_events WHERE to_status = 'cancelled'").Scan(&events).Error)
		if events != int64(len(orders)) {
			t.Errorf("cancel events = %d, want %d", events, len(orders))
		}
		if f.stock(t, a) != 100 || f.stock(t, b) != 100 {
			t.Errorf("stock = %d/%d, want 100/100", f.stock(t, a), f.stock(t, b))
		}
	})
}

// Any mix of concurrent orders, cancels, deadline cancels and payments
// conserves stock: initial = current + units in orders that are not
// cancelled.
func TestStockConservation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		const initial = 40
		skus := []int64{f.sku(t, 100, initial), f.sku(t, 250, initial), f.sku(t, 990, initial)}
		const customers = 12
		addrs := make([]int64, customers+1)
		for c := int64(1); c <= customers; c++ {
			addrs[c] = f.address(t, c)
		}
		var wg sync.WaitGroup
		for c := int64(1); c <= customers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(c), 42))
				for range 8 {
					var items []order.LineInput
					for _, k := range skus {
						if r.IntN(2) == 0 {
							items = append(items, line(k, int64(1+r.IntN(4))))
						}
					}
					if len(items) == 0 {
						items = append(items, line(skus[r.IntN(len(skus))], 1))
					}
					o, _, err := f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: c, AddressID: addrs[c], Items: items})
					if apperr.Is(err, apperr.CodeOutOfStock) {
						continue
					}
					if err != nil {
						t.Errorf("checkout: %v", err)
						return
					}
					switch r.IntN(4) {
					case 0:
						if _, err := f.svc.Cancel(ctx, c, o.ID); err != nil && !apperr.Is(err, apperr.CodeInvalidState) {
							t.Errorf("cancel: %v", err)
						}
					case 1:
						err := paidErr(f.svc.MarkPaid(ctx, o.ID, o.TotalFen, f.clk.Now(), order.Payment(o.ID)))
						if err != nil && !apperr.Is(err, apperr.CodeInvalidState) {
							t.Errorf("pay: %v", err)
						}
					}
				}
			}()
		}
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					f.clk.Advance(5 * time.Minute)
					if _, err := f.svc.CancelExpired(ctx, 50); err != nil {
						t.Errorf("deadline job: %v", err)
					}
				}
			}()
		}
		wg.Wait()
		f.clk.Advance(payTimeout)
		_, err := f.svc.CancelExpired(ctx, 1000)
		must(t, err)
		var live, cancelled int64
		must(t, d.Reader(ctx).Raw("SELECT COUNT(*) FROM orders WHERE status <> 'cancelled'").Scan(&live).Error)
		must(t, d.Reader(ctx).Raw("SELECT COUNT(*) FROM orders WHERE status = 'cancelled'").Scan(&cancelled).Error)
		if live == 0 || cancelled == 0 {
			t.Errorf("the mix made %d live and %d cancelled orders; want some of each", live, cancelled)
		}
		for _, k := range skus {
			var held int64
			must(t, d.Reader(ctx).Raw(`SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i
				JOIN orders o ON o.id = i.order_id WHERE o.status <> 'cancelled' AND i.sku_id = ?`, k).Scan(&held).Error)
			if cur := f.stock(t, k); cur < 0 || cur+held != initial {
				t.Errorf("sku %d: stock %d + held %d = %d, want %d", k, cur, held, cur+held, initial)
			}
		}
		var pending int64
		must(t, d.Reader(ctx).Raw("SELECT COUNT(*) FROM orders WHERE status = 'pending_payment'").Scan(&pending).Error)
		if pending != 0 {
			t.Errorf("%d orders still pending after every deadline passed", pending)
		}
	})
}

func TestAutoConfirmJob(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.sku(t, 100, 10)
		addr := f.address(t, 7)
		first := f.paid(t, 7, addr, line(a, 1))
		second := f.paid(t, 7, addr, line(a, 1))
		unshipped := f.paid(t, 7, addr, line(a, 1))
		_, err := f.svc.MarkShipped(ctx, first.ID, order.Staff(staffID), "shipped")
		must(t, err)
		f.clk.Advance(time.Hour)
		_, err = f.svc.MarkShipped(ctx, second.ID, order.Staff(staffID), "shipped")
		must(t, err)
		f.clk.Set(start.Add(autoConfirm - time.Second))
		n, err := f.svc.ConfirmOverdue(ctx, 100)
		must(t, err)
		if n != 0 {
			t.Fatalf("completed %d before the delay", n)
		}
		f.clk.Set(start.Add(autoConfirm))
		n, err = f.svc.ConfirmOverdue(ctx, 100)
		must(t, err)
		if n != 1 || statusOf(t, f, first.ID) != order.StatusCompleted || statusOf(t, f, second.ID) != order.StatusShipped ||
			statusOf(t, f, unshipped.ID) != order.StatusPaid {
			t.Fatalf("completed %d: %s, %s, %s", n, statusOf(t, f, first.ID), statusOf(t, f, second.ID), statusOf(t, f, unshipped.ID))
		}
		det, err := f.svc.AdminGet(ctx, first.ID)
		must(t, err)
		if last := det.Events[len(det.Events)-1]; last.ActorType != order.ActorSystem || last.To != order.StatusCompleted {
			t.Errorf("event = %+v", last)
		}
		// Two instances at once: the second order completes once.
		f.clk.Advance(2 * time.Hour)
		var wg sync.WaitGroup
		counts := make([]int, 4)
		for i := range counts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				counts[i], _ = f.svc.ConfirmOverdue(ctx, 100)
			}()
		}
		wg.Wait()
		if sum := counts[0] + counts[1] + counts[2] + counts[3]; sum != 1 {
			t.Errorf("completed %d times, want 1", sum)
		}
		var events int64
		must(t, d.Reader(ctx).Raw("SELECT COUNT(*) FROM order_events WHERE order_id = ? AND to_status = 'completed'", second.ID).Scan(&events).Error)
		if events != 1 {
			t.Errorf("completed events = %d, want 1", events)
		}
	})
}

func TestCustomerAndAdminLists(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.sku(t, 100, 100)
		addr7, addr8 := f.address(t, 7), f.address(t, 8)
		o1 := f.order(t, 7, addr7, line(a, 1))
		f.clk.Advance(24 * time.Hour)
		o2 := f.paid(t, 7, addr7, line(a, 2))
		o3 := f.order(t, 8, addr8, line(a, 3))
		list, total, err := f.svc.List(ctx, 7, "", 0, 20)
		must(t, err)
		if total != 2 || len(list) != 2 || list[0].ID != o2.ID || list[1].ID != o1.ID || len(list[0].Items) != 1 {
			t.Errorf("customer list = %d orders %+v", total, list)
		}
		list, total, err = f.svc.List(ctx, 7, order.StatusPaid, 0, 20)
		must(t, err)
		if total != 1 || list[0].ID != o2.ID {
			t.Errorf("paid list = %d", total)
		}
		_, _, err = f.svc.List(ctx, 7, "bogus", 0, 20)
		wantCode(t, err, apperr.CodeInvalid)
		tests := []struct {
			name string
			f    order.Filter
			want []int64
		}{
			{"all", order.Filter{}, []int64{o3.ID, o2.ID, o1.ID}},
			{"status", order.Filter{Status: order.StatusPendingPayment}, []int64{o3.ID, o1.ID}},
			{"order no", order.Filter{OrderNo: o2.OrderNo}, []int64{o2.ID}},
			{"customer", order.Filter{CustomerID: 8}, []int64{o3.ID}},
			{"from", order.Filter{CreatedFrom: start.Add(time.Hour)}, []int64{o3.ID, o2.ID}},
			{"before", order.Filter{CreatedBefore: start.Add(time.Hour)}, []int64{o1.ID}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				list, total, err := f.svc.AdminList(ctx, tt.f, 0, 20)
				must(t, err)
				var got []int64
				for _, o := range list {
					got = append(got, o.ID)
				}
				if total != int64(len(tt.want)) || len(got) != len(tt.want) {
					t.Fatalf("got %v (total %d), want %v", got, total, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Fatalf("got %v, want %v", got, tt.want)
					}
				}
			})
		}
		list, total, err = f.svc.AdminList(ctx, order.Filter{}, 1, 1)
		must(t, err)
		if total != 3 || len(list) != 1 || list[0].ID != o2.ID {
			t.Errorf("page 2 of size 1 = %d orders, total %d", len(list), total)
		}
	})
}

// The auto-confirm clock runs from shipping and from delivery, whichever
// comes first: an order delivered a day after shipping completes 168 h after
// delivery (192 h after shipping), before the 240 h from shipping.
func TestAutoConfirmAfterDelivery(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.sku(t, 100, 10)
		addr := f.address(t, 7)
		delivered := f.paid(t, 7, addr, line(a, 1))
		undelivered := f.paid(t, 7, addr, line(a, 1))
		for _, id := range []int64{delivered.ID, undelivered.ID} {
			_, err := f.svc.MarkShipped(ctx, id, order.Staff(staffID), "shipped")
			must(t, err)
		}
		ok, err := f.svc.MarkDelivered(ctx, delivered.ID, start.Add(24*time.Hour))
		must(t, err)
		again, err := f.svc.MarkDelivered(ctx, delivered.ID, start.Add(25*time.Hour))
		must(t, err)
		if !ok || again {
			t.Fatalf("MarkDelivered = %v then %v, want true then false", ok, again)
		}
		f.clk.Set(start.Add(24*time.Hour + afterDelivery - time.Second))
		n, err := f.svc.ConfirmOverdue(ctx, 100)
		must(t, err)
		if n != 0 {
			t.Fatalf("completed %d before the delay after delivery", n)
		}
		f.clk.Set(start.Add(24*time.Hour + afterDelivery))
		n, err = f.svc.ConfirmOverdue(ctx, 100)
		must(t, err)
		if n != 1 || statusOf(t, f, delivered.ID) != order.StatusCompleted || statusOf(t, f, undelivered.ID) != order.StatusShipped {
			t.Fatalf("completed %d: %s, %s", n, statusOf(t, f, delivered.ID), statusOf(t, f, undelivered.ID))
		}
		det, err := f.svc.AdminGet(ctx, delivered.ID)
		must(t, err)
		if det.DeliveredAt == nil || !det.DeliveredAt.Equal(start.Add(24*time.Hour)) {
			t.Errorf("delivered_at = %v", det.DeliveredAt)
		}
		if last := det.Events[len(det.Events)-1]; last.Reason != "confirmed automatically after delivery" {
			t.Errorf("event = %+v", last)
		}
		// The platform's word completes a shipped order once.
		must(t, f.svc.CompleteByPlatform(ctx, undelivered.ID, "receipt confirmed in WeChat"))
		wantCode(t, f.svc.CompleteByPlatform(ctx, undelivered.ID, "receipt confirmed in WeChat"), apperr.CodeInvalidState)
	})
}

// Move writes only what a transition of the state machine allows: an edge
// the table lacks, or a field of another transition, is refused and the
// order stays as it was.
func TestMoveRefusesChangesOutsideTheStateMachine(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		o := f.order(t, 7, f.address(t, 7), line(f.sku(t, 100, 10), 1))
		for _, tt := range []struct {
			name string
			c    order.Change
		}{
			{"no such edge", order.Change{From: order.StatusPendingPayment, To: order.StatusShipped, At: start}},
			{"backwards", order.Change{From: order.StatusPendingPayment, To: order.StatusPendingPayment, At: start}},
			{"cancel with payment fields", order.Change{From: order.StatusPendingPayment, To: order.StatusCancelled, At: start,
				PaidFen: 100}},
			{"payment with a cancel reason", order.Change{From: order.StatusPendingPayment, To: order.StatusPaid, At: start,
				PaidAt: start, PaidFen: o.TotalFen, CancelReason: order.CancelByCustomer}},
		} {
			if ok, err := f.store.Move(ctx, o.ID, tt.c); err == nil || ok {
				t.Errorf("%s: Move = %v, %v; want an error", tt.name, ok, err)
			}
		}
		if got := statusOf(t, f, o.ID); got != order.StatusPendingPayment {
			t.Fatalf("status = %s, want %s", got, order.StatusPendingPayment)
		}
		ok, err := f.store.Move(ctx, o.ID, order.Change{From: order.StatusPendingPayment, To: order.StatusPaid, At: start,
			PaidAt: start, PaidFen: o.TotalFen})
		if err != nil || !ok {
			t.Fatalf("pay: %v, %v", ok, err)
		}
		got, err := f.store.ByID(ctx, o.ID)
		must(t, err)
		if got.Status != order.StatusPaid || got.PaidFen != o.TotalFen || got.PaidAt == nil || !got.PaidAt.Equal(start) {
			t.Errorf("paid order = %s, %d, %v; want paid, %d, %v", got.Status, got.PaidFen, got.PaidAt, o.TotalFen, start)
		}
	})
}
