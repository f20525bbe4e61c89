package dashboard_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/dashboard"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// at is a wall-clock time in Shanghai.
func at(y int, m time.Month, d, h, min, sec, ms int) time.Time {
	return time.Date(y, m, d, h, min, sec, ms*int(time.Millisecond), shanghai)
}

type seeder struct {
	t *testing.T
	d *db.DB
	n int
}

func (s *seeder) exec(q string, args ...any) {
	s.t.Helper()
	if err := s.d.Writer(context.Background()).Exec(q, args...).Error; err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
}

// order inserts an order placed at created and, when paid is not zero, paid
// then for paidFen; it returns the order id.
func (s *seeder) order(status string, created, paid time.Time, paidFen int64) int64 {
	s.t.Helper()
	s.n++
	var paidAt any
	if !paid.IsZero() {
		paidAt = paid.UTC()
	}
	s.exec(`INSERT INTO orders (order_no, customer_id, status, goods_fen, freight_fen, total_fen, paid_fen,
		address_id, ship_name, ship_phone, ship_province, ship_city, ship_district, ship_detail,
		remark, request_hash, cancel_reason, pay_deadline, paid_at, created_at, updated_at)
		VALUES (?, 1, ?, ?, 0, ?, ?, 1, 'n', '13800000000', 'p', 'c', 'd', 'x', '', '', '', ?, ?, ?, ?)`,
		"T"+time.Now().Format("150405.000000")+string(rune('a'+s.n)), status, paidFen, paidFen, paidFen,
		created.UTC().Add(30*time.Minute), paidAt, created.UTC(), created.UTC())
	var id int64
	if err := s.d.Writer(context.Background()).Raw("SELECT MAX(id) FROM orders").Scan(&id).Error; err != nil {
		s.t.Fatal(err)
	}
	return id
}

func (s *seeder) item(orderID, productID int64, title string, qty, refunded int64) {
	s.t.Helper()
	s.exec(`INSERT INTO order_items (order_id, sku_id, product_id, title, spec_text, image, price_fen, quantity,
		subtotal_fen, refunded_quantity, created_at) VALUES (?, 1, ?, ?, '', '', 100, ?, ?, ?, ?)`,
		orderID, productID, title, qty, qty*100, refunded, time.Now().UTC())
}

func (s *seeder) product(id int64, title string) {
	s.t.Helper()
	now := time.Now().UTC()
	s.exec("INSERT INTO products (id, category_id, title, subtitle, images, description, created_at, updated_at) VALUES (?, 1, ?, '', '[]', '', ?, ?)", id, title, now, now)
}

func (s *seeder) sku(id, productID, stock int64, deleted bool) {
	s.t.Helper()
	now := time.Now().UTC()
	var del any
	if deleted {
		del = now
	}
	s.exec(`INSERT INTO skus (id, product_id, sku_code, specs, spec_text, image, price_fen, stock, deleted_at, created_at, updated_at)
		VALUES (?, ?, ?, '{}', 'red', '', 100, ?, ?, ?, ?)`, id, productID, "code-"+string(rune('a'+id)), stock, del, now, now)
}

func (s *seeder) afterSale(status string) {
	s.t.Helper()
	now := time.Now().UTC()
	s.exec(`INSERT INTO aftersales (order_id, customer_id, type, status, initiator, reason, description, images,
		decision_reason, refund_detail, created_at, updated_at)
		VALUES (1, 1, 'refund_only', ?, 'customer', 'r', '', '[]', '', '', ?, ?)`, status, now, now)
}

// TestSummary checks every figure on both databases, with orders placed and
// paid around the shop's midnight: a day bucketed in UTC instead of
// Shanghai time puts them on the wrong day.
func TestSummary(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := &seeder{t: t, d: d}
		// Placed a millisecond before Shanghai midnight, paid at midnight.
		a := s.order("paid", at(2026, 12, 2, 23, 59, 59, 999), at(2026, 12, 3, 0, 0, 0, 0), 1000)
		// Placed at midnight, unpaid.
		s.order("pending_payment", at(2026, 12, 3, 0, 0, 0, 0), time.Time{}, 0)
		// Placed before the window, paid inside it.
		c := s.order("shipped", at(2026, 11, 30, 23, 0, 0, 0), at(2026, 12, 1, 8, 0, 0, 0), 2500)
		// Placed and paid today, later closed after a refund.
		dd := s.order("closed", at(2026, 12, 3, 9, 0, 0, 0), at(2026, 12, 3, 9, 5, 0, 0), 700)
		// Paid long before the window and still waiting to ship.
		f := s.order("paid", at(2026, 10, 1, 9, 0, 0, 0), at(2026, 10, 1, 9, 1, 0, 0), 99999)
		// Placed a millisecond before the window.
		s.order("cancelled", at(2026, 11, 30, 23, 59, 59, 999), time.Time{}, 0)

		s.product(1, "new title")
		s.product(2, "second")
		s.product(3, "old seller")
		s.item(a, 1, "old title", 3, 0)
		s.item(dd, 2, "second", 5, 4)
		s.item(c, 2, "second", 1, 0)
		s.item(f, 3, "old seller", 100, 0)

		s.sku(1, 1, 0, false)
		s.sku(2, 2, 10, false)
		s.sku(3, 2, 11, false)
		s.sku(4, 3, 1, true)

		for _, st := range []string{"requested", "refunded", "awaiting_return", "cancelled", "refunding"} {
			s.afterSale(st)
		}

		store, err := dashboard.NewStore(d)
		if err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFake(at(2026, 12, 3, 10, 0, 0, 0))
		svc, err := dashboard.NewService(store, clk, shanghai, 10)
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.Summary(context.Background(), 3)
		if err != nil {
			t.Fatal(err)
		}
		wantSeries := []dashboard.Day{
			{Date: "2026-12-01", Orders: 0, PaidOrders: 1, GMVFen: 2500},
			{Date: "2026-12-02", Orders: 1, PaidOrders: 0, GMVFen: 0},
			{Date: "2026-12-03", Orders: 2, PaidOrders: 2, GMVFen: 1700},
		}
		if !reflect.DeepEqual(got.Series, wantSeries) {
			t.Errorf("series = %+v, want %+v", got.Series, wantSeries)
		}
		if got.Today != wantSeries[2] {
			t.Errorf("today = %+v, want %+v", got.Today, wantSeries[2])
		}
		if got.ToShip != 2 {
			t.Errorf("to ship = %d, want 2", got.ToShip)
		}
		if got.OpenAfterSales != 3 {
			t.Errorf("open after-sales = %d, want 3 (requested, awaiting_return, refunding)", got.OpenAfterSales)
		}
		wantLow := []dashboard.LowStockSKU{
			{SKUID: 1, ProductID: 1, Title: "new title", SpecText: "red", Stock: 0},
			{SKUID: 2, ProductID: 2, Title: "second", SpecText: "red", Stock: 10},
		}
		if !reflect.DeepEqual(got.LowStock, wantLow) || got.LowStockTotal != 2 || got.LowStockThreshold != 10 {
			t.Errorf("low stock = %+v (total %d, threshold %d), want %+v (total 2, threshold 10)",
				got.LowStock, got.LowStockTotal, got.LowStockThreshold, wantLow)
		}
		// Product 2: 5 units less 4 refunded today, 1 on 1 December; product
		// 3 sold before the window.
		wantTop := []dashboard.TopProduct{{ProductID: 1, Title: "new title", Units: 3}, {ProductID: 2, Title: "second", Units: 2}}
		if !reflect.DeepEqual(got.TopProducts, wantTop) {
			t.Errorf("top products = %+v, want %+v", got.TopProducts, wantTop)
		}
		if got.TimeZone != "Asia/Shanghai" || got.Days != 3 {
			t.Errorf("time zone %q days %d", got.TimeZone, got.Days)
		}

		// Thirty days with no orders on most of them: every day is listed.
		month, err := svc.Summary(context.Background(), 30)
		if err != nil {
			t.Fatal(err)
		}
		if len(month.Series) != 30 || month.Series[0].Date != "2026-11-04" || month.Series[29].Date != "2026-12-03" {
			t.Fatalf("30-day series: %d days from %s", len(month.Series), month.Series[0].Date)
		}
		if month.Series[27] != wantSeries[0] || month.Series[10] != (dashboard.Day{Date: "2026-11-14"}) {
			t.Errorf("30-day series days: %+v, %+v", month.Series[27], month.Series[10])
		}

		for _, days := range []int{0, -1, 91} {
			if _, err := svc.Summary(context.Background(), days); !apperr.Is(err, apperr.CodeInvalid) {
				t.Errorf("Summary(%d) = %v, want invalid_argument", days, err)
			}
		}
	})
}

// TestDayBoundsFollowTheZone: days are local midnights, 23 hours long on a
// spring-forward day.
func TestDayBoundsFollowTheZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 9, 12, 0, 0, 0, ny)
	b := dashboard.DayBounds(now, ny, 2)
	if len(b) != 3 {
		t.Fatalf("%d bounds, want 3", len(b))
	}
	if got := b[1].Sub(b[0]); got != 23*time.Hour {
		t.Errorf("8 March 2026 in New York lasts %v, want 23h", got)
	}
	if b[2] != time.Date(2026, 3, 10, 0, 0, 0, 0, ny) {
		t.Errorf("end = %v", b[2])
	}
	sh := dashboard.DayBounds(time.Date(2026, 12, 2, 16, 30, 0, 0, time.UTC), shanghai, 1)
	if want := time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC); !sh[0].Equal(want) {
		t.Errorf("Shanghai day of 16:30 UTC starts %v, want %v", sh[0].UTC(), want)
	}
}
