package cart_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/cart"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const (
	alice = int64(101)
	bob   = int64(202)
	staff = int64(1)
)

type fixture struct {
	d    *db.DB
	clk  *clock.Fake
	cat  *catalog.Service
	cart *cart.Service
	cid  int64
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC))
	lg, err := audit.New(d, clk)
	if err != nil {
		t.Fatal(err)
	}
	cst, err := catalog.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.NewService(d, cst, lg, clk, catalog.NopInvalidator{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := cart.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cart.NewService(d, st, cat, clk)
	if err != nil {
		t.Fatal(err)
	}
	name := "杂货"
	c, err := cat.CreateCategory(context.Background(), staff, catalog.CategoryInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{d: d, clk: clk, cat: cat, cart: svc, cid: c.ID}
}

// product creates an on-shelf product with one SKU per stock value.
func (f *fixture) product(t *testing.T, code string, price int64, stocks ...int64) catalog.Product {
	t.Helper()
	in := catalog.ProductInput{CategoryID: f.cid, Title: "商品" + code, Images: []string{"https://img.example.com/" + code + ".jpg"}}
	for i, s := range stocks {
		in.SKUs = append(in.SKUs, catalog.SKUInput{Code: fmt.Sprintf("%s-%d", code, i), Specs: map[string]string{"规格": fmt.Sprint(i)}, PriceFen: price, Stock: s})
	}
	p, err := f.cat.CreateProduct(context.Background(), staff, in, true)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if err == nil || apperr.CodeOf(err) != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

func ptr[T any](v T) *T { return &v }

func TestAddMergesAndRefuses(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		p := f.product(t, "a", 500, 2000, 5)
		big, small := p.SKUs[0].ID, p.SKUs[1].ID
		off := f.product(t, "off", 100, 10)
		if _, err := f.cat.SetShelf(ctx, staff, off.ID, false); err != nil {
			t.Fatal(err)
		}
		first, err := f.cart.Add(ctx, alice, big, 2)
		if err != nil {
			t.Fatal(err)
		}
		second, err := f.cart.Add(ctx, alice, big, 3)
		if err != nil {
			t.Fatal(err)
		}
		if second.ID != first.ID || second.Quantity != 5 {
			t.Fatalf("second add = line %d qty %d, want line %d qty 5", second.ID, second.Quantity, first.ID)
		}
		cases := []struct {
			name string
			sku  int64
			qty  int64
			code apperr.Code
		}{
			{"zero", big, 0, apperr.CodeInvalid},
			{"negative", big, -2, apperr.CodeInvalid},
			{"over the cap at once", big, 1000, apperr.CodeLimitExceeded},
			{"over the cap merged", big, 995, apperr.CodeLimitExceeded},
			{"over stock", small, 6, apperr.CodeOutOfStock},
			{"unknown sku", 99999, 1, apperr.CodeNotFound},
			{"bad sku id", 0, 1, apperr.CodeInvalid},
			{"off shelf", off.SKUs[0].ID, 1, apperr.CodeUnavailableItem},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.cart.Add(ctx, alice, tc.sku, tc.qty)
				wantCode(t, err, tc.code)
			})
		}
		if _, err := f.cart.Add(ctx, alice, small, 5); err != nil {
			t.Fatalf("add all the stock: %v", err)
		}
		_, err = f.cart.Add(ctx, alice, small, 1)
		wantCode(t, err, apperr.CodeOutOfStock)
		c, err := f.cart.Get(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Lines) != 2 || c.Lines[1].Quantity != 5 || c.Lines[0].Quantity != 5 || c.SelectedTotalFen != 5000 {
			t.Fatalf("cart = %+v", c)
		}
	})
}

func TestUpdateRemoveAndOwnership(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		p := f.product(t, "a", 500, 10)
		l, err := f.cart.Add(ctx, alice, p.SKUs[0].ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name     string
			customer int64
			patch    cart.Patch
			code     apperr.Code
			qty      int64
			selected bool
		}{
			{"quantity", alice, cart.Patch{Quantity: ptr(int64(4))}, "", 4, true},
			{"unselect", alice, cart.Patch{Selected: ptr(false)}, "", 4, false},
			{"both", alice, cart.Patch{Quantity: ptr(int64(10)), Selected: ptr(true)}, "", 10, true},
			{"over stock", alice, cart.Patch{Quantity: ptr(int64(11))}, apperr.CodeOutOfStock, 10, true},
			{"over cap", alice, cart.Patch{Quantity: ptr(int64(1000))}, apperr.CodeLimitExceeded, 10, true},
			{"zero", alice, cart.Patch{Quantity: ptr(int64(0))}, apperr.CodeInvalid, 10, true},
			{"empty", alice, cart.Patch{}, apperr.CodeInvalid, 10, true},
			{"another customer's line", bob, cart.Patch{Quantity: ptr(int64(1))}, apperr.CodeNotFound, 10, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.cart.Update(ctx, tc.customer, l.ID, tc.patch)
				if tc.code != "" {
					wantCode(t, err, tc.code)
				} else if err != nil {
					t.Fatal(err)
				}
				c, _ := f.cart.Get(ctx, alice)
				if len(c.Lines) != 1 || c.Lines[0].Quantity != tc.qty || c.Lines[0].Selected != tc.selected {
					t.Fatalf("line = %+v, want qty %d selected %v", c.Lines, tc.qty, tc.selected)
				}
			})
		}
		wantCode(t, f.cart.Remove(ctx, bob, l.ID), apperr.CodeNotFound)
		if err := f.cart.Remove(ctx, alice, l.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, f.cart.Remove(ctx, alice, l.ID), apperr.CodeNotFound)
	})
}

func TestCartShowsAvailability(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		ok := f.product(t, "ok", 300, 10)
		off := f.product(t, "off", 200, 10)
		sold := f.product(t, "sold", 100, 3)
		gone := f.product(t, "gone", 700, 10, 10)
		for _, sku := range []int64{ok.SKUs[0].ID, off.SKUs[0].ID, sold.SKUs[0].ID, gone.SKUs[1].ID} {
			if _, err := f.cart.Add(ctx, alice, sku, 2); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.cat.SetShelf(ctx, staff, off.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := f.cat.AdjustStock(ctx, staff, sold.SKUs[0].ID, catalog.StockChange{Delta: ptr(int64(-3)), Reason: "卖完"}); err != nil {
			t.Fatal(err)
		}
		in := catalog.ProductInput{CategoryID: f.cid, Title: "商品gone", SKUs: []catalog.SKUInput{
			{ID: gone.SKUs[0].ID, Code: gone.SKUs[0].Code, Specs: gone.SKUs[0].Specs, PriceFen: 700}}}
		if _, err := f.cat.UpdateProduct(ctx, staff, gone.ID, in); err != nil {
			t.Fatal(err)
		}
		c, err := f.cart.Get(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]bool{}
		for _, l := range c.Lines {
			got[l.SKUID] = l.Available()
		}
		want := map[int64]bool{ok.SKUs[0].ID: true, off.SKUs[0].ID: false, sold.SKUs[0].ID: false, gone.SKUs[1].ID: false}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("available = %v, want %v", got, want)
		}
		if c.SelectedTotalFen != 600 {
			t.Fatalf("selected total = %d, want 600 (available lines only)", c.SelectedTotalFen)
		}
		// A deleted SKU's line keeps its title for the customer to recognise.
		for _, l := range c.Lines {
			if l.SKUID == gone.SKUs[1].ID && (l.Item.Title != "商品gone" || !l.Item.Deleted) {
				t.Fatalf("deleted sku line = %+v", l.Item)
			}
		}
		_, err = f.cart.Update(ctx, alice, c.Lines[0].ID, cart.Patch{Quantity: ptr(int64(1))})
		wantCode(t, err, apperr.CodeUnavailableItem)
		if bobs, _ := f.cart.Get(ctx, bob); len(bobs.Lines) != 0 {
			t.Fatalf("bob sees %d lines", len(bobs.Lines))
		}
	})
}

func TestLineCap(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		stocks := make([]int64, 50)
		for i := range stocks {
			stocks[i] = 5
		}
		var skus []int64
		for _, code := range []string{"a", "b", "c"} {
			for _, k := range f.product(t, code, 100, stocks...).SKUs {
				skus = append(skus, k.ID)
			}
		}
		for _, sku := range skus[:cart.MaxLines] {
			if _, err := f.cart.Add(ctx, alice, sku, 1); err != nil {
				t.Fatal(err)
			}
		}
		_, err := f.cart.Add(ctx, alice, skus[cart.MaxLines], 1)
		wantCode(t, err, apperr.CodeLimitExceeded)
		// Merging into an existing line is still allowed at the cap.
		if _, err := f.cart.Add(ctx, alice, skus[0], 1); err != nil {
			t.Fatalf("merge at the cap: %v", err)
		}
		c, _ := f.cart.Get(ctx, alice)
		if len(c.Lines) != cart.MaxLines {
			t.Fatalf("%d lines, want %d", len(c.Lines), cart.MaxLines)
		}
	})
}

func TestConcurrentAddsMergeIntoOneLine(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		sku := f.product(t, "hot", 100, 500).SKUs[0].ID
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.cart.Add(ctx, alice, sku, int64(i%3+1))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		want := int64(0)
		for i := range n {
			want += int64(i%3 + 1)
		}
		c, err := f.cart.Get(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Lines) != 1 || c.Lines[0].Quantity != want {
			t.Fatalf("cart = %+v, want one line of %d", c.Lines, want)
		}
	})
}

// countQueries counts the statements read through d's reading pool until
// the test ends, with a gorm callback on every read path.
func countQueries(t *testing.T, d *db.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	name := "minimall:test:count"
	count := func(*gorm.DB) { n.Add(1) }
	cb := d.Reader(context.Background()).Callback()
	for _, err := range []error{
		cb.Query().After("gorm:query").Register(name, count),
		cb.Row().After("gorm:row").Register(name, count),
		cb.Raw().After("gorm:raw").Register(name, count),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = cb.Query().Remove(name)
		_ = cb.Row().Remove(name)
		_ = cb.Raw().Remove(name)
	})
	return &n
}

// The cart list runs one statement however many lines it has, and shows
// each line exactly as the catalog describes its SKU.
func TestCartReadsInOneQuery(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		var skus []int64
		for i := range 8 {
			p := f.product(t, fmt.Sprintf("q%d", i), int64(100+i), 5, 5)
			skus = append(skus, p.SKUs[i%2].ID)
			if _, err := f.cart.Add(ctx, alice, p.SKUs[i%2].ID, int64(1+i%3)); err != nil {
				t.Fatal(err)
			}
		}
		n := countQueries(t, d)
		c, err := f.cart.Get(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Load(); got != 1 {
			t.Fatalf("a cart of 8 lines ran %d queries, want 1", got)
		}
		if len(c.Lines) != 8 {
			t.Fatalf("lines = %d, want 8", len(c.Lines))
		}
		items, err := f.cat.Items(ctx, skus)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for i, l := range c.Lines {
			if want := items[l.SKUID]; l.Item != want {
				t.Fatalf("line %d item = %+v, want the catalog's %+v", i, l.Item, want)
			}
			if l.CustomerID != alice || l.CreatedAt.IsZero() || !l.Selected {
				t.Fatalf("line %d = %+v", i, l.Line)
			}
			if i > 0 && l.ID > c.Lines[i-1].ID {
				t.Fatal("lines are not newest first")
			}
			total += l.Item.PriceFen * l.Quantity
		}
		if c.SelectedTotalFen != total {
			t.Fatalf("selected total = %d, want %d", c.SelectedTotalFen, total)
		}
		n.Store(0)
		if empty, err := f.cart.Get(ctx, bob); err != nil || len(empty.Lines) != 0 || n.Load() != 1 {
			t.Fatalf("empty cart: %+v, %v, %d queries", empty, err, n.Load())
		}
	})
}

// TestRemoveOrderedKeepsUnitsAddedMeanwhile proves checkout takes only the
// units it ordered off a line: units added after the cart was read stay.
func TestRemoveOrderedKeepsUnitsAddedMeanwhile(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		p := f.product(t, "r", 500, 50, 50)
		a, b := p.SKUs[0].ID, p.SKUs[1].ID
		if _, err := f.cart.Add(ctx, alice, a, 5); err != nil {
			t.Fatal(err)
		}
		if _, err := f.cart.Add(ctx, alice, b, 2); err != nil {
			t.Fatal(err)
		}
		if _, err := f.cart.Add(ctx, bob, a, 1); err != nil {
			t.Fatal(err)
		}
		// Checkout read 2 of a and 2 of b; 3 more of a were added since.
		if err := f.cart.RemoveOrdered(ctx, alice, []cart.Ordered{{SKUID: a, Quantity: 2}, {SKUID: b, Quantity: 2}}); err != nil {
			t.Fatal(err)
		}
		c, err := f.cart.Get(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Lines) != 1 || c.Lines[0].Line.SKUID != a || c.Lines[0].Line.Quantity != 3 {
			t.Fatalf("alice's cart after checkout: %+v, want only sku a with 3 units", c.Lines)
		}
		other, err := f.cart.Get(ctx, bob)
		if err != nil {
			t.Fatal(err)
		}
		if len(other.Lines) != 1 || other.Lines[0].Line.Quantity != 1 {
			t.Fatalf("bob's cart changed: %+v", other.Lines)
		}
	})
}

// TestSelectingKeepsTheQuantity proves a selection change writes only the
// selection: the quantity a concurrent add reached is kept.
func TestSelectingKeepsTheQuantity(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		p := f.product(t, "s", 500, 50)
		l, err := f.cart.Add(ctx, alice, p.SKUs[0].ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.cart.Add(ctx, alice, p.SKUs[0].ID, 2); err != nil {
			t.Fatal(err)
		}
		v, err := f.cart.Update(ctx, alice, l.Line.ID, cart.Patch{Selected: ptr(false)})
		if err != nil {
			t.Fatal(err)
		}
		if v.Line.Quantity != 3 || v.Line.Selected {
			t.Fatalf("line after unselecting = %+v, want 3 units unselected", v.Line)
		}
	})
}
