// Package dashboard answers the staff dashboard: today's orders and takings,
// the work waiting (orders to ship, open after-sales, low stock) and the
// orders, takings and best sellers of the last days.
//
// Its rules:
//   - Days are the shop's calendar days, in the configured time zone
//     (shop.time_zone, Asia/Shanghai by default); a day runs from local
//     midnight to the next, so a day across a daylight-saving change is 23
//     or 25 hours long and still one day.
//   - An order counts on the day it was placed (created_at), whatever
//     became of it. Takings (GMV) are the amounts paid (paid_fen) on the day
//     the payment arrived (paid_at), before refunds; paid orders are counted
//     on that day too.
//   - Units sold are the units of lines of orders paid in the window, less
//     the units refunded since; the top products are ranked by them.
//   - A SKU is low on stock when it is live and its stock is at most the
//     configured threshold (dashboard.low_stock, 10 by default).
//   - It only reads. It reads the tables of the order, after-sale and
//     catalog modules directly: a report across modules, no rules of theirs.
package dashboard

import (
	"context"
	"errors"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
)

// Limits of a dashboard request.
const (
	DefaultDays = 30
	MaxDays     = 90
	// LowStockListed bounds the low-stock list; LowStock.Total counts all.
	LowStockListed = 50
	// TopProducts is the length of the best-seller list.
	TopProducts = 10
)

// Day is one shop day's figures.
type Day struct {
	Date       string // YYYY-MM-DD in the shop's time zone
	Orders     int64  // orders placed that day
	PaidOrders int64  // orders paid that day
	GMVFen     int64  // amounts paid that day
}

// LowStockSKU is a live SKU at or under the threshold.
type LowStockSKU struct {
	SKUID     int64
	ProductID int64
	Title     string
	SpecText  string
	Stock     int64
}

// TopProduct is a product ranked by units sold in the window.
type TopProduct struct {
	ProductID int64
	Title     string
	Units     int64
}

// Summary is the whole dashboard.
type Summary struct {
	TimeZone          string
	Today             Day
	ToShip            int64
	OpenAfterSales    int64
	LowStockThreshold int64
	LowStockTotal     int64
	LowStock          []LowStockSKU
	Days              int
	Series            []Day // oldest first, one per day, today last
	TopProducts       []TopProduct
}

// Service computes the dashboard.
type Service struct {
	store    *Store
	clock    clock.Clock
	loc      *time.Location
	lowStock int64
}

// NewService returns the dashboard of store, with days in loc and the given
// low-stock threshold.
func NewService(store *Store, clk clock.Clock, loc *time.Location, lowStock int64) (*Service, error) {
	if store == nil || clk == nil || loc == nil {
		return nil, errors.New("dashboard: nil dependency")
	}
	if lowStock < 0 {
		return nil, errors.New("dashboard: negative low-stock threshold")
	}
	return &Service{store: store, clock: clk, loc: loc, lowStock: lowStock}, nil
}

// DayBounds returns the starts of the last days shop days, oldest first,
// followed by the end of today: days+1 instants, each a local midnight.
func DayBounds(now time.Time, loc *time.Location, days int) []time.Time {
	local := now.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	bounds := make([]time.Time, days+1)
	for i := range bounds {
		bounds[i] = today.AddDate(0, 0, i-(days-1))
	}
	return bounds
}

// Summary computes the dashboard over the last days days (today included).
func (s *Service) Summary(ctx context.Context, days int) (Summary, error) {
	if days < 1 || days > MaxDays {
		return Summary{}, apperr.Invalid("days must be between 1 and 90", "days")
	}
	bounds := DayBounds(s.clock.Now(), s.loc, days)
	out := Summary{TimeZone: s.loc.String(), LowStockThreshold: s.lowStock, Days: days}
	series := make([]Day, days)
	for i := range series {
		series[i].Date = bounds[i].Format("2006-01-02")
	}
	placed, err := s.store.placedPerDay(ctx, bounds)
	if err != nil {
		return Summary{}, apperr.From(err)
	}
	paid, err := s.store.paidPerDay(ctx, bounds)
	if err != nil {
		return Summary{}, apperr.From(err)
	}
	for i := range series {
		series[i].Orders = placed[i].n
		series[i].PaidOrders, series[i].GMVFen = paid[i].n, paid[i].fen
	}
	out.Series = series
	out.Today = series[days-1]
	if out.ToShip, err = s.store.toShip(ctx); err != nil {
		return Summary{}, apperr.From(err)
	}
	if out.OpenAfterSales, err = s.store.openAfterSales(ctx); err != nil {
		return Summary{}, apperr.From(err)
	}
	if out.LowStock, out.LowStockTotal, err = s.store.lowStock(ctx, s.lowStock, LowStockListed); err != nil {
		return Summary{}, apperr.From(err)
	}
	if out.TopProducts, err = s.store.topProducts(ctx, bounds[0], bounds[days], TopProducts); err != nil {
		return Summary{}, apperr.From(err)
	}
	return out, nil
}
