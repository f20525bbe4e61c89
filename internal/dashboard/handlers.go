package dashboard

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve GET /api/v1/admin/dashboard.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the handlers of svc.
func NewHandlers(svc *Service) (*Handlers, error) {
	if svc == nil {
		return nil, errors.New("dashboard: nil service")
	}
	return &Handlers{svc: svc}, nil
}

type dayJSON struct {
	Date       string `json:"date"`
	Orders     int64  `json:"orders"`
	PaidOrders int64  `json:"paid_orders"`
	GMVFen     int64  `json:"gmv_fen"`
}

type lowStockJSON struct {
	SKUID     int64  `json:"sku_id"`
	ProductID int64  `json:"product_id"`
	Title     string `json:"title"`
	SpecText  string `json:"spec_text"`
	Stock     int64  `json:"stock"`
}

type topJSON struct {
	ProductID int64  `json:"product_id"`
	Title     string `json:"title"`
	Units     int64  `json:"units"`
}

type summaryJSON struct {
	TimeZone       string  `json:"time_zone"`
	Today          dayJSON `json:"today"`
	ToShip         int64   `json:"to_ship"`
	OpenAfterSales int64   `json:"open_aftersales"`
	LowStock       struct {
		Threshold int64          `json:"threshold"`
		Total     int64          `json:"total"`
		Items     []lowStockJSON `json:"items"`
	} `json:"low_stock"`
	Days        int       `json:"days"`
	Series      []dayJSON `json:"series"`
	TopProducts []topJSON `json:"top_products"`
}

// Get serves GET /api/v1/admin/dashboard?days=30 (1 to 90).
func (h *Handlers) Get(c *gin.Context) {
	days := DefaultDays
	if s, ok := c.GetQuery("days"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxDays {
			httpx.Error(c, apperr.Invalid("days must be an integer between 1 and 90", "days"))
			return
		}
		days = n
	}
	sum, err := h.svc.Summary(c.Request.Context(), days)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := summaryJSON{TimeZone: sum.TimeZone, Today: dayJSON(sum.Today), ToShip: sum.ToShip,
		OpenAfterSales: sum.OpenAfterSales, Days: sum.Days}
	out.LowStock.Threshold, out.LowStock.Total = sum.LowStockThreshold, sum.LowStockTotal
	out.LowStock.Items = make([]lowStockJSON, len(sum.LowStock))
	for i, x := range sum.LowStock {
		out.LowStock.Items[i] = lowStockJSON(x)
	}
	out.Series = make([]dayJSON, len(sum.Series))
	for i, d := range sum.Series {
		out.Series[i] = dayJSON(d)
	}
	out.TopProducts = make([]topJSON, len(sum.TopProducts))
	for i, p := range sum.TopProducts {
		out.TopProducts[i] = topJSON(p)
	}
	c.JSON(http.StatusOK, out)
}
