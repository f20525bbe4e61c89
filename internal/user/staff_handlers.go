package user

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// StaffHandlers serve staff login and staff management.
type StaffHandlers struct {
	staff *StaffService
}

// NewStaffHandlers returns the staff handlers.
func NewStaffHandlers(staff *StaffService) (*StaffHandlers, error) {
	if staff == nil {
		return nil, errNilDependency
	}
	return &StaffHandlers{staff: staff}, nil
}

// StaffJSON is a staff account as the admin API shows it.
type StaffJSON struct {
	ID          int64      `json:"id"`
	Username    string     `json:"username"`
	Role        auth.Role  `json:"role"`
	Disabled    bool       `json:"disabled"`
	LockedUntil *time.Time `json:"locked_until"`
	LastLoginAt *time.Time `json:"last_login_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func staffJSON(s Staff) StaffJSON {
	return StaffJSON{
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
	Staff       staffBrief `json:"staff"`
}

// Login serves POST /api/v1/admin/auth/login.
func (h *StaffHandlers) Login(c *gin.Context) {
	var req staffLoginRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	s, err := h.staff.Login(c.Request.Context(), req.Username, req.Password)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, staffLoginResponse{
		AccessToken: s.AccessToken, ExpiresIn: int64(s.ExpiresIn / time.Second),
		Staff: staffBrief{ID: s.Staff.ID, Username: s.Staff.Username, Role: s.Staff.Role},
	})
}

// List serves GET /api/v1/admin/staff.
func (h *StaffHandlers) List(c *gin.Context) {
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
	out := make([]StaffJSON, len(items))
	for i, s := range items {
		out[i] = staffJSON(s)
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
func (h *StaffHandlers) Create(c *gin.Context) {
	var req createStaffRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	s, err := h.staff.Create(c.Request.Context(), auth.StaffID(c), NewStaff(req))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, staffJSON(s))
}

type updateStaffRequest struct {
	Username *string    `json:"username"`
	Password *string    `json:"password"`
	Role     *auth.Role `json:"role"`
	Disabled *bool      `json:"disabled"`
}

// Update serves PUT /api/v1/admin/staff/{id}; fields left out stay as they are.
func (h *StaffHandlers) Update(c *gin.Context) {
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
	s, err := h.staff.Update(c.Request.Context(), auth.StaffID(c), id, StaffChange(req))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, staffJSON(s))
}
