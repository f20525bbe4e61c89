package dashboard

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// TestPerDayQueriesUseTheirIndexes asks each database for its plan of the
// two per-day queries over 90 days: a range on idx_orders_created and on
// idx_orders_paid, not a scan of the orders table.
func TestPerDayQueriesUseTheirIndexes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		// A few rows, so that MySQL's optimizer has statistics to plan with.
		for i := 0; i < 20; i++ {
			at := time.Date(2026, 12, 1, i, 0, 0, 0, time.UTC)
			if err := d.Writer(ctx).Exec(`INSERT INTO orders (order_no, customer_id, status, goods_fen, freight_fen,
				total_fen, paid_fen, address_id, ship_name, ship_phone, ship_province, ship_city, ship_district,
				ship_detail, remark, request_hash, cancel_reason, pay_deadline, paid_at, created_at, updated_at)
				VALUES (?, 1, 'paid', 1, 0, 1, 1, 1, 'n', 'p', 'p', 'c', 'd', 'x', '', '', '', ?, ?, ?, ?)`,
				fmt.Sprintf("PLAN%03d", i), at, at, at, at).Error; err != nil {
				t.Fatal(err)
			}
		}
		if d.Dialect() == db.MySQL {
			if err := d.Writer(ctx).Exec("ANALYZE TABLE orders").Error; err != nil {
				t.Fatal(err)
			}
		}
		bounds := DayBounds(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), time.UTC, 90)
		for _, tc := range []struct{ col, sum, index string }{
			{placedCol, placedSum, "idx_orders_created"},
			{paidCol, paidSum, "idx_orders_paid"},
		} {
			q, args := perDayQuery(tc.col, tc.sum, bounds)
			var plan string
			if d.Dialect() == db.SQLite {
				var rows []struct{ Detail string }
				if err := d.Reader(ctx).Raw("EXPLAIN QUERY PLAN "+q, args...).Scan(&rows).Error; err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					plan += r.Detail + "; "
				}
			} else {
				var rows []struct {
					Key  *string
					Type string
				}
				if err := d.Reader(ctx).Raw("EXPLAIN "+q, args...).Scan(&rows).Error; err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					if r.Key != nil {
						plan += *r.Key + " (" + r.Type + "); "
					}
				}
			}
			if !strings.Contains(plan, tc.index) {
				t.Errorf("plan of the %s query: %q, want %s", tc.col, plan, tc.index)
			}
		}
	})
}
