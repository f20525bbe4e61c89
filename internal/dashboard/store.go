package dashboard

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/minimall/minimall/internal/aftersale"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/db"
)

// Store reads the figures. Every query is a range on an index: orders by
// created_at (idx_orders_created) and by paid_at (idx_orders_paid, which
// carries paid_fen), orders by status, after-sales by status, order lines by
// order. The one exception is the low-stock list, which scans the SKUs:
// skus.stock has no index on purpose (migration 00003).
type Store struct {
	db *db.DB
}

// NewStore returns the store on d.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("dashboard: nil db")
	}
	return &Store{db: d}, nil
}

type bucket struct {
	n, fen int64
}

// dayCase builds a CASE expression giving the index of the day (between
// consecutive bounds) a row's col falls in, for rows the caller's WHERE
// keeps inside [bounds[0], bounds[n]). The CASEs nest as a binary search, so
// a row is compared with about log2(days) bounds rather than up to days of
// them (90 days: 7 comparisons; a flat chain made the 90-day dashboard four
// times slower, docs/benchmarks.md). Day boundaries are computed here in the
// shop's time zone and sent as UTC instants, so the SQL is the same on
// SQLite and MySQL and needs no time-zone tables.
func dayCase(col string, bounds []time.Time) (string, []any) {
	var b strings.Builder
	var args []any
	var build func(lo, hi int)
	build = func(lo, hi int) {
		if hi-lo == 1 {
			b.WriteString(strconv.Itoa(lo))
			return
		}
		mid := (lo + hi) / 2
		b.WriteString("CASE WHEN " + col + " < ? THEN ")
		args = append(args, bounds[mid].UTC())
		build(lo, mid)
		b.WriteString(" ELSE ")
		build(mid, hi)
		b.WriteString(" END")
	}
	build(0, len(bounds)-1)
	return b.String(), args
}

type dayRow struct {
	D   int
	N   int64
	Fen int64
}

// perDayQuery counts orders (and sums sum) per day of col.
func perDayQuery(col, sum string, bounds []time.Time) (string, []any) {
	expr, args := dayCase(col, bounds)
	days := len(bounds) - 1
	args = append(args, bounds[0].UTC(), bounds[days].UTC())
	return "SELECT " + expr + " AS d, COUNT(*) AS n, " + sum + " AS fen FROM orders WHERE " +
		col + " >= ? AND " + col + " < ? GROUP BY d", args
}

func (s *Store) perDay(ctx context.Context, col, sum string, bounds []time.Time) ([]bucket, error) {
	days := len(bounds) - 1
	q, args := perDayQuery(col, sum, bounds)
	var rows []dayRow
	if err := s.db.Reader(ctx).Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]bucket, days)
	for _, r := range rows {
		if r.D >= 0 && r.D < days {
			out[r.D] = bucket{n: r.N, fen: r.Fen}
		}
	}
	return out, nil
}

// The per-day figures: orders by the day they were placed; orders and the
// sum of paid_fen by the day they were paid.
const (
	placedCol, placedSum = "created_at", "0"
	paidCol, paidSum     = "paid_at", "COALESCE(SUM(paid_fen), 0)"
)

func (s *Store) placedPerDay(ctx context.Context, bounds []time.Time) ([]bucket, error) {
	return s.perDay(ctx, placedCol, placedSum, bounds)
}

func (s *Store) paidPerDay(ctx context.Context, bounds []time.Time) ([]bucket, error) {
	return s.perDay(ctx, paidCol, paidSum, bounds)
}

// toShip counts paid orders not yet shipped.
func (s *Store) toShip(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.Reader(ctx).Raw("SELECT COUNT(*) FROM orders WHERE status = ?", string(order.StatusPaid)).Scan(&n).Error
	return n, err
}

// openAfterSales counts requests that still hold their lines.
func (s *Store) openAfterSales(ctx context.Context) (int64, error) {
	var open []string
	for _, st := range aftersale.Statuses {
		if st.Open() {
			open = append(open, string(st))
		}
	}
	var n int64
	err := s.db.Reader(ctx).Raw("SELECT COUNT(*) FROM aftersales WHERE status IN ?", open).Scan(&n).Error
	return n, err
}

type lowStockRow struct {
	SKUID     int64 `gorm:"column:sku_id"`
	ProductID int64
	Title     string
	SpecText  string
	Stock     int64
}

// lowStock lists live SKUs with stock <= threshold, lowest first, at most
// limit of them, and counts all.
func (s *Store) lowStock(ctx context.Context, threshold int64, limit int) ([]LowStockSKU, int64, error) {
	var total int64
	r := s.db.Reader(ctx)
	if err := r.Raw("SELECT COUNT(*) FROM skus WHERE deleted_at IS NULL AND stock <= ?", threshold).
		Scan(&total).Error; err != nil {
		return nil, 0, err
	}
	var rows []lowStockRow
	if err := r.Raw(`SELECT s.id AS sku_id, s.product_id AS product_id, p.title AS title,
		s.spec_text AS spec_text, s.stock AS stock
		FROM skus s JOIN products p ON p.id = s.product_id
		WHERE s.deleted_at IS NULL AND s.stock <= ?
		ORDER BY s.stock, s.id LIMIT ?`, threshold, limit).Scan(&rows).Error; err != nil {
		return nil, 0, err
	}
	out := make([]LowStockSKU, len(rows))
	for i, x := range rows {
		out[i] = LowStockSKU(x)
	}
	return out, total, nil
}

type topRow struct {
	ProductID int64
	Title     string
	Units     int64
}

// topProducts ranks products by the units of lines of orders paid in
// [from, to), less the units refunded, and names them by their current
// title (the title at checkout when the product is gone).
func (s *Store) topProducts(ctx context.Context, from, to time.Time, limit int) ([]TopProduct, error) {
	var rows []topRow
	r := s.db.Reader(ctx)
	if err := r.Raw(`SELECT oi.product_id AS product_id, MAX(oi.title) AS title,
		SUM(oi.quantity - oi.refunded_quantity) AS units
		FROM orders o JOIN order_items oi ON oi.order_id = o.id
		WHERE o.paid_at >= ? AND o.paid_at < ?
		GROUP BY oi.product_id
		HAVING SUM(oi.quantity - oi.refunded_quantity) > 0
		ORDER BY units DESC, oi.product_id
		LIMIT ?`, from.UTC(), to.UTC(), limit).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]TopProduct, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]int64, len(rows))
	for i, x := range rows {
		ids[i] = x.ProductID
		out[i] = TopProduct(x)
	}
	var titles []struct {
		ID    int64
		Title string
	}
	if err := r.Raw("SELECT id, title FROM products WHERE id IN ?", ids).Scan(&titles).Error; err != nil {
		return nil, err
	}
	byID := make(map[int64]string, len(titles))
	for _, t := range titles {
		byID[t.ID] = t.Title
	}
	for i := range out {
		if t, ok := byID[out[i].ProductID]; ok {
			out[i].Title = t
		}
	}
	return out, nil
}
