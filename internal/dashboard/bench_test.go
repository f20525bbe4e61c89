package dashboard_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/dashboard"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// benchOrders is the size of the benchmark's shop: orders spread evenly over
// 120 days, two thirds paid, two lines each, and 20,000 SKUs.
const benchOrders = 60_000

func seedBench(b *testing.B, d *db.DB, now time.Time) {
	b.Helper()
	ctx := context.Background()
	w := d.Writer(ctx)
	const batch = 500
	for start := 0; start < benchOrders; start += batch {
		var orders, items []string
		var oargs, iargs []any
		for i := start; i < start+batch; i++ {
			created := now.Add(-time.Duration(i) * 120 * 24 * time.Hour / benchOrders)
			var paid any
			status := "pending_payment"
			if i%3 != 0 {
				paid, status = created.Add(time.Minute), "completed"
			}
			orders = append(orders, "(?, 1, ?, 100, 0, 100, 100, 1, 'n', 'p', 'p', 'c', 'd', 'x', '', '', '', ?, ?, ?, ?)")
			oargs = append(oargs, fmt.Sprintf("B%07d", i), status, created, paid, created, created)
			for l := 0; l < 2; l++ {
				items = append(items, "(?, 1, ?, 't', '', '', 50, 1, 50, 0, ?)")
				iargs = append(iargs, i+1, (i*7+l)%500+1, created)
			}
		}
		if err := w.Exec(`INSERT INTO orders (order_no, customer_id, status, goods_fen, freight_fen, total_fen, paid_fen,
			address_id, ship_name, ship_phone, ship_province, ship_city, ship_district, ship_detail, remark, request_hash,
			cancel_reason, pay_deadline, paid_at, created_at, updated_at) VALUES `+strings.Join(orders, ","), oargs...).Error; err != nil {
			b.Fatal(err)
		}
		if err := w.Exec(`INSERT INTO order_items (order_id, sku_id, product_id, title, spec_text, image, price_fen,
			quantity, subtotal_fen, refunded_quantity, created_at) VALUES `+strings.Join(items, ","), iargs...).Error; err != nil {
			b.Fatal(err)
		}
	}
	for start := 0; start < 20_000; start += batch {
		var skus []string
		var args []any
		for i := start; i < start+batch; i++ {
			skus = append(skus, "(?, ?, '{}', '', '', 100, ?, ?, ?)")
			args = append(args, i%500+1, fmt.Sprintf("BS%06d", i), i%200, now, now)
		}
		if err := w.Exec(`INSERT INTO skus (product_id, sku_code, specs, spec_text, image, price_fen, stock, created_at, updated_at)
			VALUES `+strings.Join(skus, ","), args...).Error; err != nil {
			b.Fatal(err)
		}
	}
	for start := 1; start <= 500; start += batch {
		var ps []string
		var args []any
		for i := start; i < start+batch && i <= 500; i++ {
			ps = append(ps, "(?, 1, ?, '', '[]', '', ?, ?)")
			args = append(args, i, fmt.Sprintf("product %d", i), now, now)
		}
		if err := w.Exec(`INSERT INTO products (id, category_id, title, subtitle, images, description, created_at, updated_at)
			VALUES `+strings.Join(ps, ","), args...).Error; err != nil {
			b.Fatal(err)
		}
	}
	if d.Dialect() == db.MySQL {
		if err := w.Exec("ANALYZE TABLE orders, order_items, skus").Error; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSummary computes the 30- and 90-day dashboard of a shop with
// 60,000 orders (docs/benchmarks.md).
func BenchmarkSummary(b *testing.B) {
	for _, dialect := range []string{db.SQLite, db.MySQL} {
		b.Run(dialect, func(b *testing.B) {
			var d *db.DB
			if dialect == db.SQLite {
				d = dbtest.SQLite(b)
			} else {
				d = dbtest.MySQL(b)
			}
			now := time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC)
			seedBench(b, d, now)
			store, err := dashboard.NewStore(d)
			if err != nil {
				b.Fatal(err)
			}
			svc, err := dashboard.NewService(store, clock.NewFake(now), shanghai, 10)
			if err != nil {
				b.Fatal(err)
			}
			for _, days := range []int{30, 90} {
				b.Run(fmt.Sprintf("days=%d", days), func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						if _, err := svc.Summary(context.Background(), days); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
