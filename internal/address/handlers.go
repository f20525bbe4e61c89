package address

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve the customer's shipping addresses.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the address HTTP handlers.
func NewHandlers(svc *Service) (*Handlers, error) {
	if svc == nil {
		return nil, errors.New("address: nil address service")
	}
	return &Handlers{svc: svc}, nil
}

// Body is an address as the API shows it.
type Body struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Phone     string    `json:"phone"`
	Province  string    `json:"province"`
	City      string    `json:"city"`
	District  string    `json:"district"`
	Detail    string    `json:"detail"`
	IsDefault bool      `json:"is_default"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func addressBody(a Address) Body {
	return Body{ID: a.ID, Name: a.Name, Phone: a.Phone, Province: a.Province, City: a.City,
		District: a.District, Detail: a.Detail, IsDefault: a.IsDefault, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

type addressRequest struct {
	Name      *string `json:"name"`
	Phone     *string `json:"phone"`
	Province  *string `json:"province"`
	City      *string `json:"city"`
	District  *string `json:"district"`
	Detail    *string `json:"detail"`
	IsDefault *bool   `json:"is_default"`
}

func (r addressRequest) input() (Input, error) {
	var missing []string
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", r.Name}, {"phone", r.Phone}, {"province", r.Province}, {"city", r.City}, {"district", r.District}, {"detail", r.Detail}} {
		if f.v == nil {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Input{}, apperr.Invalid("missing required fields", missing...)
	}
	in := Input{Name: *r.Name, Phone: *r.Phone, Province: *r.Province, City: *r.City, District: *r.District, Detail: *r.Detail}
	if r.IsDefault != nil {
		in.IsDefault = *r.IsDefault
	}
	return in, nil
}

func (h *Handlers) decode(c *gin.Context) (Input, bool) {
	var req addressRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return Input{}, false
	}
	in, err := req.input()
	if err != nil {
		httpx.Error(c, err)
		return Input{}, false
	}
	return in, true
}

// List serves GET /api/v1/addresses: the default first, then newest first.
func (h *Handlers) List(c *gin.Context) {
	list, err := h.svc.List(c.Request.Context(), auth.CustomerID(c))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]Body, len(list))
	for i, a := range list {
		out[i] = addressBody(a)
	}
	c.JSON(http.StatusOK, out)
}

// Create serves POST /api/v1/addresses.
func (h *Handlers) Create(c *gin.Context) {
	in, ok := h.decode(c)
	if !ok {
		return
	}
	a, err := h.svc.Create(c.Request.Context(), auth.CustomerID(c), in)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, addressBody(a))
}

// Update serves PUT /api/v1/addresses/{id}.
func (h *Handlers) Update(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	in, ok := h.decode(c)
	if !ok {
		return
	}
	a, err := h.svc.Update(c.Request.Context(), auth.CustomerID(c), id, in)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, addressBody(a))
}

// Delete serves DELETE /api/v1/addresses/{id}.
func (h *Handlers) Delete(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	if err := h.svc.Delete(c.Request.Context(), auth.CustomerID(c), id); err != nil {
		httpx.Error(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
