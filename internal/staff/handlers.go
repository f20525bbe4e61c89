package staff

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve staff login and staff management.
type Handlers struct {
	staff *Service
}

// NewHandlers returns the staff handlers.
func NewHandlers(staff *Service) (*Handlers, error) {
	if staff == nil {
		return nil, errNilDependency
	}
	return &Handlers{staff: staff}, nil
}

// AccountJSON is a staff account as the admin API shows it.
type AccountJSON struct {
	ID          int64      `json:"id"`
	Username    string     `json:"username"`
	Role        auth.Role  `json:"role"`
	Disabled    bool       `json:"disabled"`
	LockedUntil *time.Time `json:"locked_until"`
	LastLoginAt *time.Time `json:"last_login_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func accountJSON(s Account) AccountJSON {
	return AccountJSON{
		ID: s.ID, Username: s.Username, Role: s.Role, Disabled: s.Disabled, LockedUntil: s.LockedUntil,
		LastLoginAt: s.LastLoginAt, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

type staffLoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type staffBrief struct {
	ID       int64     `json:"id"`
	Username string    `json:"username"`
	Role     auth.Role `json:"role"`
}

type staffLoginResponse struct {
	AccessToken string     `json:"access_token"`
	ExpiresIn   int64      `json:"expires_in"`
	Account     staffBrief `json:"staff"`
}

// Login serves POST /api/v1/admin/auth/login.
func (h *Handlers) Login(c *gin.Context) {
	var req staffLoginRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	s, err := h.staff.Login(c.Request.Context(), LoginInput{Username: req.Username, Password: req.Password, ClientIP: c.ClientIP()})
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Code == apperr.CodeUnauthenticated {
			event := "staff_login_failed"
			if ae.Details["retry_after_seconds"] != nil {
				event = "staff_login_locked"
			}
			httpx.SecurityEvent(c, event, "username", logUsername(req.Username))
		}
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, staffLoginResponse{
		AccessToken: s.AccessToken, ExpiresIn: int64(s.ExpiresIn / time.Second),
		Account: staffBrief{ID: s.Account.ID, Username: s.Account.Username, Role: s.Account.Role},
	})
}

// List serves GET /api/v1/admin/staff.
func (h *Handlers) List(c *gin.Context) {
	p, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	items, total, err := h.staff.List(c.Request.Context(), p.Offset(), p.PageSize)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]AccountJSON, len(items))
	for i, s := range items {
		out[i] = accountJSON(s)
	}
	c.JSON(http.StatusOK, httpx.NewList(out, total, p))
}

type createStaffRequest struct {
	Username string    `json:"username"`
	Password string    `json:"password"`
	Role     auth.Role `json:"role"`
	Disabled bool      `json:"disabled"`
}

// Create serves POST /api/v1/admin/staff.
func (h *Handlers) Create(c *gin.Context) {
	var req createStaffRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	s, err := h.staff.Create(c.Request.Context(), auth.StaffID(c), NewAccount(req))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, accountJSON(s))
}

type updateStaffRequest struct {
	Username *string    `json:"username"`
	Password *string    `json:"password"`
	Role     *auth.Role `json:"role"`
	Disabled *bool      `json:"disabled"`
}

// Update serves PUT /api/v1/admin/staff/{id}; fields left out stay as they are.
func (h *Handlers) Update(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req updateStaffRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	s, err := h.staff.Update(c.Request.Context(), auth.StaffID(c), id, Change(req))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, accountJSON(s))
}

// logUsername bounds a typed username for the log (people sometimes type a
// password there; a username longer than any real one is cut).
func logUsername(s string) string {
	u := NormalizeUsername(s)
	if len(u) > 32 {
		return u[:32] + "…"
	}
	return u
}
