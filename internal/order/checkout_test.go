package order_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestCheckoutSnapshotsPricesAndReservesStock(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a, b := f.sku(t, 1990, 10), f.sku(t, 500, 3)
		addr := f.address(t, 7)
		// b listed twice: merged into one line of 2.
		o, created, err := f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: 7, AddressID: addr,
			Items: []order.LineInput{line(b, 1), line(a, 2), line(b, 1)}, Remark: "  请尽快发货  "})
		must(t, err)
		if !created {
			t.Fatal("created = false, want true")
		}
		if o.Status != order.StatusPendingPayment {
			t.Errorf("status = %s, want pending_payment", o.Status)
		}
		if len(o.Items) != 2 || o.Items[0].SKUID != a || o.Items[1].SKUID != b {
			t.Fatalf("items = %+v, want lines of %d then %d", o.Items, a, b)
		}
		if got := o.Items[1].Quantity; got != 2 {
			t.Errorf("merged quantity = %d, want 2", got)
		}
		if o.Items[0].Title == "" || o.Items[0].SpecText != "颜色:红色" || !strings.HasPrefix(o.Items[0].Image, "https://") {
			t.Errorf("item snapshot = %+v", o.Items[0])
		}
		if o.GoodsFen != 2*1990+2*500 || o.FreightFen != freightFen || o.TotalFen != o.GoodsFen+freightFen {
			t.Errorf("goods, freight, total = %d, %d, %d", o.GoodsFen, o.FreightFen, o.TotalFen)
		}
		if o.Remark != "请尽快发货" {
			t.Errorf("remark = %q", o.Remark)
		}
		if o.Address.Name != "张三" || o.Address.Phone != "13800138000" || o.Address.Detail != "文三路 1 号" {
			t.Errorf("address = %+v", o.Address)
		}
		if !o.PayDeadline.Equal(start.Add(payTimeout)) {
			t.Errorf("pay deadline = %v, want %v", o.PayDeadline, start.Add(payTimeout))
		}
		if len(o.OrderNo) != 20 || strings.Trim(o.OrderNo, "0123456789") != "" || !strings.HasPrefix(o.OrderNo, "261101100000") {
			t.Errorf("order_no = %q, want 20 digits starting with Beijing time 261101100000", o.OrderNo)
		}
		if got := f.stock(t, a); got != 8 {
			t.Errorf("stock of a = %d, want 8", got)
		}
		if got := f.stock(t, b); got != 1 {
			t.Errorf("stock of b = %d, want 1", got)
		}
		// Read back: the same order, with its creation event.
		got, err := f.svc.Get(ctx, 7, o.ID)
		must(t, err)
		if got.OrderNo != o.OrderNo || got.TotalFen != o.TotalFen || len(got.Items) != 2 {
			t.Errorf("read back = %+v", got)
		}
		det, err := f.svc.AdminGet(ctx, o.ID)
		must(t, err)
		if len(det.Events) != 1 || det.Events[0].From != "" || det.Events[0].To != order.StatusPendingPayment ||
			det.Events[0].ActorType != order.ActorCustomer || det.Events[0].ActorID != 7 {
			t.Errorf("events = %+v", det.Events)
		}
		// A later price change does not touch the order.
		must(t, d.Writer(ctx).Exec("UPDATE skus SET price_fen = 1 WHERE id = ?", a).Error)
		got, err = f.svc.Get(ctx, 7, o.ID)
		must(t, err)
		if got.Items[0].PriceFen != 1990 {
			t.Errorf("snapshotted price = %d, want 1990", got.Items[0].PriceFen)
		}
	})
}

func TestFreightRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		p       order.Pricing
		goods   int64
		freight int64
	}{
		{"below threshold", order.Pricing{FreightFen: 1000, FreeOverFen: 9900}, 9899, 1000},
		{"at threshold", order.Pricing{FreightFen: 1000, FreeOverFen: 9900}, 9900, 0},
		{"threshold disabled", order.Pricing{FreightFen: 1000}, 1_000_000, 1000},
		{"no freight", order.Pricing{}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Freight(tt.goods); got != tt.freight {
				t.Errorf("Freight(%d) = %d, want %d", tt.goods, got, tt.freight)
			}
		})
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		a := f.sku(t, freeOverFen, 5)
		o := f.order(t, 7, f.address(t, 7), line(a, 1))
		if o.FreightFen != 0 || o.TotalFen != freeOverFen {
			t.Errorf("freight, total = %d, %d; want free freight", o.FreightFen, o.TotalFen)
		}
	})
}

func TestCheckoutRefusesBadInputAndChangesNothing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a, short := f.sku(t, 100, 5), f.sku(t, 100, 1)
		off := f.sku(t, 100, 5)
		f.offShelf(t, off)
		addr := f.address(t, 7)
		foreign := f.address(t, 8)
		many := make([]order.LineInput, order.MaxLines+1)
		for i := range many {
			many[i] = line(int64(1000+i), 1)
		}
		tests := []struct {
			name   string
			in     order.CheckoutInput
			code   apperr.Code
			detail []int64
		}{
			{"no items", order.CheckoutInput{AddressID: addr}, apperr.CodeInvalid, nil},
			{"empty items", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{}}, apperr.CodeInvalid, nil},
			{"items and cart", order.CheckoutInput{AddressID: addr, FromCart: true, Items: []order.LineInput{line(a, 1)}}, apperr.CodeInvalid, nil},
			{"zero quantity", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{line(a, 0)}}, apperr.CodeInvalid, nil},
			{"negative quantity", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{line(a, -1)}}, apperr.CodeInvalid, nil},
			{"bad sku id", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{line(0, 1)}}, apperr.CodeInvalid, nil},
			{"quantity over cap", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{line(a, 1000)}}, apperr.CodeLimitExceeded, []int64{a}},
			{"merged quantity over cap", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{line(a, 500), line(a, 500)}}, apperr.CodeLimitExceeded, []int64{a}},
			{"too many lines", order.CheckoutInput{AddressID: addr, Items: many}, apperr.CodeLimitExceeded, nil},
			{"no address", order.CheckoutInput{Items: []order.LineInput{line(a, 1)}}, apperr.CodeInvalid, nil},
			{"unknown address", order.CheckoutInput{AddressID: 999999, Items: []order.LineInput{line(a, 1)}}, apperr.CodeNotFound, nil},
			{"foreign address", order.CheckoutInput{AddressID: foreign, Items: []order.LineInput{line(a, 1)}}, apperr.CodeNotFound, nil},
			{"remark too long", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{line(a, 1)}, Remark: strings.Repeat("好", 201)}, apperr.CodeInvalid, nil},
			{"remark control character", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{line(a, 1)}, Remark: "a\x00b"}, apperr.CodeInvalid, nil},
			{"bad idempotency key", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{line(a, 1)}, IdempotencyKey: "has space"}, apperr.CodeInvalid, nil},
			{"unknown sku", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{line(a, 1), line(987654, 1)}}, apperr.CodeUnavailableItem, []int64{987654}},
			{"off shelf", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{line(a, 1), line(off, 1)}}, apperr.CodeUnavailableItem, []int64{off}},
			{"short of stock", order.CheckoutInput{AddressID: addr, Items: []order.LineInput{line(a, 1), line(short, 2)}}, apperr.CodeOutOfStock, []int64{short}},
			{"empty cart", order.CheckoutInput{AddressID: addr, FromCart: true}, apperr.CodeInvalid, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.in.CustomerID = 7
				_, _, err := f.svc.Checkout(ctx, tt.in)
				wantCode(t, err, tt.code)
				if tt.detail != nil {
					var e *apperr.Error
					if !asErr(err, &e) || !slices.Equal(e.Details["sku_ids"].([]int64), tt.detail) {
						t.Errorf("details = %v, want sku_ids %v", err, tt.detail)
					}
				}
				if n := f.count(t, "orders"); n != 0 {
					t.Errorf("orders = %d, want 0", n)
				}
				if got := f.stock(t, a); got != 5 {
					t.Errorf("stock = %d, want 5", got)
				}
			})
		}
	})
}

func TestCheckoutFromCartRemovesOrderedLines(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a, b, c := f.sku(t, 100, 5), f.sku(t, 200, 5), f.sku(t, 300, 5)
		addr := f.address(t, 7)
		for _, k := range []int64{a, b, c} {
			_, err := f.carts.Add(ctx, 7, k, 2)
			must(t, err)
		}
		cart, err := f.carts.Get(ctx, 7)
		must(t, err)
		for _, v := range cart.Lines {
			if v.Line.SKUID == c {
				sel := false
				_, err := f.carts.Update(ctx, 7, v.Line.ID, cartPatch(nil, &sel))
				must(t, err)
			}
		}
		q, err := f.svc.Preview(ctx, order.CheckoutInput{CustomerID: 7, FromCart: true})
		must(t, err)
		if len(q.Items) != 2 || q.GoodsFen != 600 || q.TotalFen != 600+freightFen {
			t.Errorf("preview = %+v", q)
		}
		// The cart page is open before the checkout (and held in the cart
		// cache): the checkout's removal must show on the next read.
		cart, err = f.carts.Get(ctx, 7)
		must(t, err)
		if len(cart.Lines) != 3 || cart.SelectedTotalFen != 600 {
			t.Errorf("cart before checkout = %+v, want 3 lines, 600 selected", cart)
		}
		o, _, err := f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: 7, AddressID: addr, FromCart: true})
		must(t, err)
		if len(o.Items) != 2 || o.Items[0].SKUID != a || o.Items[1].SKUID != b || o.TotalFen != 600+freightFen {
			t.Errorf("order = %+v", o)
		}
		left, err := f.carts.Selected(ctx, 7)
		must(t, err)
		if len(left) != 0 {
			t.Errorf("selected lines after checkout = %+v, want none", left)
		}
		cart, err = f.carts.Get(ctx, 7)
		must(t, err)
		if len(cart.Lines) != 1 || cart.Lines[0].Line.SKUID != c {
			t.Errorf("cart after checkout = %+v, want only the unselected line", cart.Lines)
		}
		if f.stock(t, a) != 3 || f.stock(t, b) != 3 || f.stock(t, c) != 5 {
			t.Errorf("stock = %d, %d, %d; want 3, 3, 5", f.stock(t, a), f.stock(t, b), f.stock(t, c))
		}
	})
}

func TestCheckoutFromCartShortOfStockKeepsCart(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.sku(t, 100, 5)
		addr := f.address(t, 7)
		_, err := f.carts.Add(ctx, 7, a, 5)
		must(t, err)
		f.order(t, 8, f.address(t, 8), line(a, 1))
		_, _, err = f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: 7, AddressID: addr, FromCart: true})
		wantCode(t, err, apperr.CodeOutOfStock)
		sel, err := f.carts.Selected(ctx, 7)
		must(t, err)
		if len(sel) != 1 || sel[0].Quantity != 5 {
			t.Errorf("cart = %+v, want the line kept", sel)
		}
	})
}

func TestPreviewListsUnavailableAndChangesNothing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a, short, off := f.sku(t, 100, 5), f.sku(t, 100, 1), f.sku(t, 100, 5)
		f.offShelf(t, off)
		q, err := f.svc.Preview(ctx, order.CheckoutInput{CustomerID: 7,
			Items: []order.LineInput{line(off, 1), line(a, 2), line(short, 3), line(424242, 1)}})
		must(t, err)
		if len(q.Items) != 1 || q.Items[0].SKUID != a || q.GoodsFen != 200 || q.FreightFen != freightFen {
			t.Errorf("preview = %+v", q)
		}
		want := []int64{short, off, 424242}
		slices.Sort(want)
		if !slices.Equal(q.UnavailableSKUIDs, want) {
			t.Errorf("unavailable = %v, want %v", q.UnavailableSKUIDs, want)
		}
		if f.count(t, "orders") != 0 || f.stock(t, a) != 5 {
			t.Error("preview changed something")
		}
		_, err = f.svc.Preview(ctx, order.CheckoutInput{CustomerID: 7, AddressID: f.address(t, 8), Items: []order.LineInput{line(a, 1)}})
		wantCode(t, err, apperr.CodeNotFound)
	})
}

// 200 customers race for the last 10 units: exactly 10 orders, the others
// out_of_stock, stock 0 and never negative.
func TestCheckoutNeverOversells(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		hot := f.sku(t, 100, 10)
		const customers = 200
		addrs := make([]int64, customers+1)
		for c := int64(1); c <= customers; c++ {
			addrs[c] = f.address(t, c)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[apperr.Code]int{}
		created := 0
		for c := int64(1); c <= customers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ok, err := f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: c, AddressID: addrs[c],
					Items: []order.LineInput{line(hot, 1)}})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					codes[apperr.CodeOf(err)]++
				} else if ok {
					created++
				}
			}()
		}
		wg.Wait()
		if created != 10 || codes[apperr.CodeOutOfStock] != customers-10 || len(codes) != 1 {
			t.Errorf("created %d, errors %v; want 10 created and %d out_of_stock", created, codes, customers-10)
		}
		if got := f.stock(t, hot); got != 0 {
			t.Errorf("stock = %d, want 0", got)
		}
		if got := f.count(t, "orders"); got != 10 {
			t.Errorf("orders = %d, want 10", got)
		}
		if got := f.count(t, "order_items"); got != 10 {
			t.Errorf("order items = %d, want 10", got)
		}
	})
}

// Multi-SKU orders in opposite line orders never deadlock and never
// oversell: SKUs are taken in ascending id order.
func TestCheckoutMultiSKUConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a, b := f.sku(t, 100, 30), f.sku(t, 100, 30)
		const customers = 40
		addrs := make([]int64, customers+1)
		for c := int64(1); c <= customers; c++ {
			addrs[c] = f.address(t, c)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		var unexpected []error
		for c := int64(1); c <= customers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				items := []order.LineInput{line(a, 1), line(b, 1)}
				if c%2 == 0 {
					items = []order.LineInput{line(b, 1), line(a, 1)}
				}
				_, _, err := f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: c, AddressID: addrs[c], Items: items})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					created++
				case !apperr.Is(err, apperr.CodeOutOfStock):
					unexpected = append(unexpected, err)
				}
			}()
		}
		wg.Wait()
		if len(unexpected) > 0 {
			t.Fatalf("unexpected errors: %v", unexpected)
		}
		if created != 30 || f.stock(t, a) != 0 || f.stock(t, b) != 0 {
			t.Errorf("created %d, stock %d/%d; want 30 and 0/0", created, f.stock(t, a), f.stock(t, b))
		}
	})
}

func TestIdempotentCheckout(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a, b := f.sku(t, 100, 50), f.sku(t, 100, 50)
		addr := f.address(t, 7)
		in := order.CheckoutInput{CustomerID: 7, AddressID: addr, Items: []order.LineInput{line(a, 1), line(b, 2)},
			IdempotencyKey: "k-1"}
		first, created, err := f.svc.Checkout(ctx, in)
		must(t, err)
		if !created {
			t.Fatal("first submit did not create")
		}
		// Same request, lines in another order and split: the same normalised request.
		again := in
		again.Items = []order.LineInput{line(b, 1), line(a, 1), line(b, 1)}
		second, created, err := f.svc.Checkout(ctx, again)
		must(t, err)
		if created || second.ID != first.ID || second.OrderNo != first.OrderNo {
			t.Errorf("replay = %d created=%v, want order %d not created", second.ID, created, first.ID)
		}
		other := in
		other.Items = []order.LineInput{line(a, 2)}
		_, _, err = f.svc.Checkout(ctx, other)
		wantCode(t, err, apperr.CodeIdempotencyMismatch)
		// The key is per customer: another customer may use it.
		_, created, err = f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: 8, AddressID: f.address(t, 8),
			Items: []order.LineInput{line(a, 1)}, IdempotencyKey: "k-1"})
		must(t, err)
		if !created {
			t.Error("another customer's submit with the same key did not create an order")
		}
		if f.count(t, "orders") != 2 || f.stock(t, a) != 48 || f.stock(t, b) != 48 {
			t.Errorf("orders %d, stock %d/%d; want 2 orders, 48/48", f.count(t, "orders"), f.stock(t, a), f.stock(t, b))
		}
	})
}

// 20 submits with one key at once: one order, every answer that order.
func TestIdempotentCheckoutConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.sku(t, 100, 100)
		addr := f.address(t, 7)
		const submits = 20
		ids := make([]int64, submits)
		errs := make([]error, submits)
		createdN := 0
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range submits {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, created, err := f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: 7, AddressID: addr,
					Items: []order.LineInput{line(a, 3)}, IdempotencyKey: "same-key"})
				ids[i], errs[i] = o.ID, err
				if created {
					mu.Lock()
					createdN++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("submit %d: %v", i, err)
			}
			if ids[i] != ids[0] {
				t.Errorf("submit %d answered order %d, want %d", i, ids[i], ids[0])
			}
		}
		if createdN != 1 || f.count(t, "orders") != 1 || f.stock(t, a) != 97 {
			t.Errorf("created %d, orders %d, stock %d; want 1, 1, 97", createdN, f.count(t, "orders"), f.stock(t, a))
		}
	})
}

func TestOrderNumbersAreUniqueAndShort(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		a := f.sku(t, 100, 1000)
		addr := f.address(t, 7)
		seen := map[string]bool{}
		for range 50 {
			o := f.order(t, 7, addr, line(a, 1))
			if len(o.OrderNo) > 32 || strings.Trim(o.OrderNo, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
				t.Fatalf("order_no %q is not at most 32 of [0-9A-Za-z]", o.OrderNo)
			}
			if seen[o.OrderNo] {
				t.Fatalf("order_no %q repeats", o.OrderNo)
			}
			seen[o.OrderNo] = true
		}
		// Same second, so the numbers differ only in their random part:
		// consecutive orders are not consecutive numbers.
		nos := make([]string, 0, len(seen))
		for no := range seen {
			nos = append(nos, no)
		}
		slices.Sort(nos)
		sequential := 0
		for i := 1; i < len(nos); i++ {
			var x, y int64
			fmt.Sscan(nos[i-1][12:], &x)
			fmt.Sscan(nos[i][12:], &y)
			if y == x+1 {
				sequential++
			}
		}
		if sequential > 2 {
			t.Errorf("%d of %d order numbers follow one another", sequential, len(nos))
		}
	})
}

// What checkout answers equals what a later read finds, whatever the
// clock's precision.
func TestCheckoutAnswerMatchesStoredOrder(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.clk.Set(start.Add(999_999_999))
		o := f.order(t, 7, f.address(t, 7), line(f.sku(t, 100, 5), 1))
		got, err := f.svc.Get(context.Background(), 7, o.ID)
		must(t, err)
		if !got.CreatedAt.Equal(o.CreatedAt) || !got.PayDeadline.Equal(o.PayDeadline) {
			t.Errorf("stored created_at %v, pay_deadline %v; answered %v, %v", got.CreatedAt, got.PayDeadline, o.CreatedAt, o.PayDeadline)
		}
	})
}

// The ids checkout answers for an order's lines are the ids stored, on both
// databases (one multi-row INSERT: MySQL reports its first id, SQLite its
// last), also while other orders are inserted at the same time.
func TestCheckoutAnswersTheStoredLineIDs(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		skus := []int64{f.sku(t, 100, 500), f.sku(t, 200, 500), f.sku(t, 300, 500)}
		var wg sync.WaitGroup
		orders := make([]order.Order, 6)
		for i := range orders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := int64(40 + i)
				o, _, err := f.svc.Checkout(context.Background(), order.CheckoutInput{CustomerID: c, AddressID: f.address(t, c),
					Items: []order.LineInput{line(skus[0], 1), line(skus[1], 2), line(skus[2], 3)}})
				if err != nil {
					t.Error(err)
					return
				}
				orders[i] = o
			}()
		}
		wg.Wait()
		for _, o := range orders {
			got, err := f.svc.Get(context.Background(), o.CustomerID, o.ID)
			must(t, err)
			if len(got.Items) != len(o.Items) {
				t.Fatalf("order %d: %d lines stored, %d answered", o.ID, len(got.Items), len(o.Items))
			}
			for i := range got.Items {
				a, s := o.Items[i], got.Items[i]
				if a.ID != s.ID || a.SKUID != s.SKUID || a.Quantity != s.Quantity || a.PriceFen != s.PriceFen {
					t.Errorf("order %d line %d: answered id %d sku %d qty %d, stored id %d sku %d qty %d",
						o.ID, i, a.ID, a.SKUID, a.Quantity, s.ID, s.SKUID, s.Quantity)
				}
			}
		}
	})
}
