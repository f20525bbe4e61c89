package cart

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve the customer's cart.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the cart's HTTP handlers.
func NewHandlers(svc *Service) (*Handlers, error) {
	if svc == nil {
		return nil, errors.New("cart: nil service")
	}
	return &Handlers{svc: svc}, nil
}

// LineBody is a cart line with the live facts of its SKU.
type LineBody struct {
	ID        int64  `json:"id"`
	SKUID     int64  `json:"sku_id"`
	ProductID int64  `json:"product_id"`
	Title     string `json:"title"`
	Image     string `json:"image"`
	SpecText  string `json:"spec_text"`
	PriceFen  int64  `json:"price_fen"`
	Stock     int64  `json:"stock"`
	Quantity  int64  `json:"quantity"`
	Selected  bool   `json:"selected"`
	Available bool   `json:"available"`
}

func lineBody(v View) LineBody {
	return LineBody{ID: v.ID, SKUID: v.SKUID, ProductID: v.Item.ProductID, Title: v.Item.Title, Image: v.Item.Image,
		SpecText: v.Item.SpecText, PriceFen: v.Item.PriceFen, Stock: v.Item.Stock, Quantity: v.Quantity,
		Selected: v.Selected, Available: v.Available()}
}

// Body is the whole cart.
type Body struct {
	Items            []LineBody `json:"items"`
	SelectedTotalFen int64      `json:"selected_total_fen"`
}

type addRequest struct {
	SKUID    *int64 `json:"sku_id"`
	Quantity *int64 `json:"quantity"`
}

type patchRequest struct {
	Quantity *int64 `json:"quantity"`
	Selected *bool  `json:"selected"`
}

// Get serves GET /api/v1/cart.
func (h *Handlers) Get(c *gin.Context) {
	cart, err := h.svc.Get(c.Request.Context(), auth.CustomerID(c))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := Body{Items: make([]LineBody, len(cart.Lines)), SelectedTotalFen: cart.SelectedTotalFen}
	for i, v := range cart.Lines {
		out.Items[i] = lineBody(v)
	}
	c.JSON(http.StatusOK, out)
}

// Add serves POST /api/v1/cart/items: adds to the SKU's line, creating it
// when needed, and answers 201 with the line.
func (h *Handlers) Add(c *gin.Context) {
	var req addRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	var missing []string
	if req.SKUID == nil {
		missing = append(missing, "sku_id")
	}
	if req.Quantity == nil {
		missing = append(missing, "quantity")
	}
	if len(missing) > 0 {
		httpx.Error(c, apperr.Invalid("missing required fields", missing...))
		return
	}
	v, err := h.svc.Add(c.Request.Context(), auth.CustomerID(c), *req.SKUID, *req.Quantity)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, lineBody(v))
}

// Update serves PATCH /api/v1/cart/items/{id}.
func (h *Handlers) Update(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req patchRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	v, err := h.svc.Update(c.Request.Context(), auth.CustomerID(c), id, Patch{Quantity: req.Quantity, Selected: req.Selected})
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, lineBody(v))
}

// Remove serves DELETE /api/v1/cart/items/{id}.
func (h *Handlers) Remove(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	if err := h.svc.Remove(c.Request.Context(), auth.CustomerID(c), id); err != nil {
		httpx.Error(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
