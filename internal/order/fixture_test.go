package order_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/cart"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var start = time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)

const (
	staffID     = int64(1)
	payTimeout  = 30 * time.Minute
	autoConfirm = 240 * time.Hour
	// afterDelivery is the auto-confirm delay from delivery.
	afterDelivery = 168 * time.Hour
	freightFen    = 1000
	freeOverFen   = 9900
)

// fixture is an order service on a real database, built on the real
// catalog, cart and address services, with a fake payment gate and no
// logistics module.
type fixture struct {
	d     *db.DB
	clk   *clock.Fake
	cat   *catalog.Service
	carts *cart.Service
	addrs *address.Service
	store *order.Store
	svc   *order.Service
	gate  *fakeGate
	cid   int64
	seq   atomic.Int64
	// deps are the service's collaborators, for tests that build a service
	// with another configuration.
	deps order.Deps
}

// fakeGate plays the payment module: it counts CloseOpen calls, can fail,
// and can report chosen orders paid, paying them first like the payment
// module does.
type fakeGate struct {
	mu     sync.Mutex
	calls  map[int64]int
	paid   map[int64]bool
	fail   error
	markFn func(ctx context.Context, orderID int64) error
}

func (g *fakeGate) CloseOpen(ctx context.Context, orderID int64) (bool, error) {
	g.mu.Lock()
	g.calls[orderID]++
	paid, fail, mark := g.paid[orderID], g.fail, g.markFn
	g.mu.Unlock()
	if fail != nil {
		return false, fail
	}
	if paid && mark != nil {
		if err := mark(ctx, orderID); err != nil && !apperr.Is(err, apperr.CodeInvalidState) {
			return false, err
		}
	}
	return paid, nil
}

func (g *fakeGate) Attempts(context.Context, int64) ([]order.PaymentAttempt, error) { return nil, nil }

func (g *fakeGate) closeCalls(orderID int64) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[orderID]
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	f := &fixture{d: d, clk: clock.NewFake(start), gate: &fakeGate{calls: map[int64]int{}, paid: map[int64]bool{}}}
	lg, err := audit.New(d, f.clk)
	must(t, err)
	cst, err := catalog.NewStore(d)
	must(t, err)
	f.cat, err = catalog.NewService(d, cst, lg, f.clk, catalog.NopInvalidator{})
	must(t, err)
	cartStore, err := cart.NewStore(d)
	must(t, err)
	f.carts, err = cart.NewService(d, cartStore, f.cat, f.clk)
	must(t, err)
	as, err := address.NewStore(d)
	must(t, err)
	f.addrs, err = address.NewService(d, as, f.clk)
	must(t, err)
	f.store, err = order.NewStore(d)
	must(t, err)
	carriers, err := order.NewCarriers(order.DefaultCarriers())
	must(t, err)
	f.deps = order.Deps{
		DB: d, Store: f.store, Catalog: f.cat, Cart: f.carts, Addresses: f.addrs,
		Carriers: carriers, Audit: lg, Clock: f.clk,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	f.svc = f.service(t, testConfig(manyUnpaid))
	name := "杂货"
	c, err := f.cat.CreateCategory(context.Background(), staffID, catalog.CategoryInput{Name: &name})
	must(t, err)
	f.cid = c.ID
	return f
}

// manyUnpaid is the unpaid-order cap of most tests, which place many orders
// for one customer; the cap has its own tests.
const manyUnpaid = 10_000

// service builds an order service on the fixture's collaborators with cfg
// and connects the fake payment gate and no logistics, as the application
// connects its modules.
func (f *fixture) service(t testing.TB, cfg order.Config) *order.Service {
	t.Helper()
	svc, err := order.NewService(f.deps, cfg)
	must(t, err)
	must(t, svc.ConnectPayments(f.gate))
	must(t, svc.ConnectShipping(order.NoShipping{}))
	return svc
}

func testConfig(maxUnpaid int) order.Config {
	return order.Config{PayTimeout: payTimeout, AutoConfirm: autoConfirm, AutoConfirmAfterDelivery: afterDelivery, MaxUnpaid: maxUnpaid,
		Pricing: order.Pricing{FreightFen: freightFen, FreeOverFen: freeOverFen}}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sku creates an on-shelf product with one SKU and returns the SKU id.
func (f *fixture) sku(t testing.TB, priceFen, stock int64) int64 {
	t.Helper()
	n := f.seq.Add(1)
	p, err := f.cat.CreateProduct(context.Background(), staffID, catalog.ProductInput{
		CategoryID: f.cid, Title: fmt.Sprintf("商品 %d", n), Images: []string{fmt.Sprintf("https://img.example.com/%d.jpg", n)},
		SKUs: []catalog.SKUInput{{Code: fmt.Sprintf("SKU-%d", n), Specs: map[string]string{"颜色": "红色"},
			PriceFen: priceFen, Stock: stock}},
	}, true)
	must(t, err)
	return p.SKUs[0].ID
}

// offShelf takes the product of skuID off the shelf.
func (f *fixture) offShelf(t testing.TB, skuID int64) {
	t.Helper()
	k, err := f.cat.Store().SKU(context.Background(), skuID)
	must(t, err)
	_, err = f.cat.SetShelf(context.Background(), staffID, k.ProductID, false)
	must(t, err)
}

// address creates an address of customerID and returns its id.
func (f *fixture) address(t testing.TB, customerID int64) int64 {
	t.Helper()
	a, err := f.addrs.Create(context.Background(), customerID, address.Input{
		Name: "张三", Phone: "13800138000", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "文三路 1 号",
	})
	must(t, err)
	return a.ID
}

func (f *fixture) stock(t testing.TB, skuID int64) int64 {
	t.Helper()
	var n int64
	must(t, f.d.Reader(context.Background()).Raw("SELECT stock FROM skus WHERE id = ?", skuID).Scan(&n).Error)
	return n
}

func (f *fixture) count(t testing.TB, table string) int64 {
	t.Helper()
	var n int64
	must(t, f.d.Reader(context.Background()).Raw("SELECT COUNT(*) FROM "+table).Scan(&n).Error)
	return n
}

// order places an order of the given lines for customerID at addressID.
func (f *fixture) order(t testing.TB, customerID, addressID int64, lines ...order.LineInput) order.Order {
	t.Helper()
	o, created, err := f.svc.Checkout(context.Background(), order.CheckoutInput{
		CustomerID: customerID, AddressID: addressID, Items: lines})
	must(t, err)
	if !created {
		t.Fatal("checkout did not create an order")
	}
	return o
}

// paid places an order and pays it the way the payment module does.
func (f *fixture) paid(t testing.TB, customerID, addressID int64, lines ...order.LineInput) order.Order {
	t.Helper()
	o := f.order(t, customerID, addressID, lines...)
	must(t, paidErr(f.svc.MarkPaid(context.Background(), o.ID, o.TotalFen, f.clk.Now(), order.Payment(1))))
	return o
}

func line(skuID, qty int64) order.LineInput { return order.LineInput{SKUID: skuID, Quantity: qty} }

func wantCode(t testing.TB, err error, code apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); err == nil || got != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

func statusOf(t testing.TB, f *fixture, id int64) order.Status {
	t.Helper()
	o, err := f.store.ByID(context.Background(), id)
	must(t, err)
	return o.Status
}

func cartPatch(qty *int64, selected *bool) cart.Patch {
	return cart.Patch{Quantity: qty, Selected: selected}
}

func asErr(err error, target **apperr.Error) bool { return errors.As(err, target) }

// paidErr keeps the error of a MarkPaid call.
func paidErr(err error) error { return err }
