package user

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// AddressHandlers serve the customer's shipping addresses.
type AddressHandlers struct {
	svc *AddressService
}

// NewAddressHandlers returns the address HTTP handlers.
func NewAddressHandlers(svc *AddressService) (*AddressHandlers, error) {
	if svc == nil {
		return nil, errors.New("user: nil address service")
	}
	return &AddressHandlers{svc: svc}, nil
}

// AddressBody is an address as the API shows it.
type AddressBody struct {
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

func addressBody(a Address) AddressBody {
	return AddressBody{ID: a.ID, Name: a.Name, Phone: a.Phone, Province: a.Province, City: a.City,
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

func (r addressRequest) input() (AddressInput, error) {
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
		return AddressInput{}, apperr.Invalid("missing required fields", missing...)
	}
	in := AddressInput{Name: *r.Name, Phone: *r.Phone, Province: *r.Province, City: *r.City, District: *r.District, Detail: *r.Detail}
	if r.IsDefault != nil {
		in.IsDefault = *r.IsDefault
	}
	return in, nil
}

func (h *AddressHandlers) decode(c *gin.Context) (AddressInput, bool) {
	var req addressRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return AddressInput{}, false
	}
	in, err := req.input()
	if err != nil {
		httpx.Error(c, err)
		return AddressInput{}, false
	}
	return in, true
}

// List serves GET /api/v1/addresses: the default first, then newest first.
func (h *AddressHandlers) List(c *gin.Context) {
	list, err := h.svc.List(c.Request.Context(), auth.CustomerID(c))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]AddressBody, len(list))
	for i, a := range list {
		out[i] = addressBody(a)
	}
	c.JSON(http.StatusOK, out)
}

// Create serves POST /api/v1/addresses.
func (h *AddressHandlers) Create(c *gin.Context) {
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
func (h *AddressHandlers) Update(c *gin.Context) {
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
func (h *AddressHandlers) Delete(c *gin.Context) {
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
