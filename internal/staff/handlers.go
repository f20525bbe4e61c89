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
	TOTPEnabled bool       `json:"totp_enabled"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func accountJSON(s Account) AccountJSON {
	return AccountJSON{
		ID: s.ID, Username: s.Username, Role: s.Role, Disabled: s.Disabled, LockedUntil: s.LockedUntil,
		LastLoginAt: s.LastLoginAt, TOTPEnabled: s.TOTPEnabled, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

type staffLoginRequest struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	TOTPCode     string `json:"totp_code"`
	RecoveryCode string `json:"recovery_code"`
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
	// TOTPEnrolmentRequired: the token only admits the enrolment routes.
	TOTPEnrolmentRequired bool   `json:"totp_enrolment_required"`
	RecoveryCodesLeft     *int64 `json:"recovery_codes_left,omitempty"`
}

// Login serves POST /api/v1/admin/auth/login.
func (h *Handlers) Login(c *gin.Context) {
	var req staffLoginRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	s, err := h.staff.Login(c.Request.Context(), LoginInput{Username: req.Username, Password: req.Password,
		ClientIP: c.ClientIP(), TOTPCode: req.TOTPCode, RecoveryCode: req.RecoveryCode})
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Code == apperr.CodeUnauthenticated {
			event := "staff_login_failed"
			if ae.Details["retry_after_seconds"] != nil {
				event = "staff_login_locked"
			}
			factor := "password"
			if req.TOTPCode != "" || req.RecoveryCode != "" {
				factor = "second_factor"
			}
			httpx.SecurityEvent(c, event, "username", logUsername(req.Username), "factor", factor)
		}
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, staffLoginResponse{
		AccessToken: s.AccessToken, ExpiresIn: int64(s.ExpiresIn / time.Second),
		Account:               staffBrief{ID: s.Account.ID, Username: s.Account.Username, Role: s.Account.Role},
		TOTPEnrolmentRequired: s.EnrolOnly, RecoveryCodesLeft: s.RecoveryCodesLeft,
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

type enrolmentJSON struct {
	Secret          string `json:"secret"`
	ProvisioningURI string `json:"provisioning_uri"`
}

// StartTOTP serves POST /api/v1/admin/auth/totp/enrol: a new secret for the
// caller's own second factor, not yet on.
func (h *Handlers) StartTOTP(c *gin.Context) {
	e, err := h.staff.StartTOTP(c.Request.Context(), auth.StaffID(c))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, enrolmentJSON(e))
}

type activateRequest struct {
	Code string `json:"code"`
}

// ActivateTOTP serves POST /api/v1/admin/auth/totp/activate {"code"}: the
// second factor goes on and the recovery codes are shown, once.
func (h *Handlers) ActivateTOTP(c *gin.Context) {
	var req activateRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	codes, err := h.staff.ActivateTOTP(c.Request.Context(), auth.StaffID(c), req.Code)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"recovery_codes": codes})
}

type disableRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

// DisableTOTP serves POST /api/v1/admin/auth/totp/disable {"password",
// "code"}: the caller turns their own second factor off. A wrong password or
// code is a 400 (the session is fine), logged as a security event.
func (h *Handlers) DisableTOTP(c *gin.Context) {
	var req disableRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	s, err := h.staff.DisableTOTP(c.Request.Context(), auth.StaffID(c),
		DisableInput{Password: req.Password, Code: req.Code, ClientIP: c.ClientIP()})
	if err != nil {
		if errors.Is(err, errDisableRefused) {
			// A refusal is a wrong password or code, or the login's lock
			// (429 here) that such failures led to.
			event := "staff_totp_disable_failed"
			if apperr.Is(err, apperr.CodeRateLimited) {
				event = "staff_login_locked"
			}
			httpx.SecurityEvent(c, event)
		}
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, accountJSON(s))
}

type totpStatusJSON struct {
	Enabled           bool       `json:"enabled"`
	EnabledAt         *time.Time `json:"enabled_at"`
	Pending           bool       `json:"pending"`
	RecoveryCodesLeft int64      `json:"recovery_codes_left"`
	Required          bool       `json:"required"`
}

// TOTPStatus serves GET /api/v1/admin/auth/totp: the caller's second factor.
func (h *Handlers) TOTPStatus(c *gin.Context) {
	st, err := h.staff.TOTPStatus(c.Request.Context(), auth.StaffID(c))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, totpStatusJSON(st))
}

// ResetTOTP serves POST /api/v1/admin/staff/{id}/totp/reset (owner).
func (h *Handlers) ResetTOTP(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	s, err := h.staff.ResetTOTP(c.Request.Context(), auth.StaffID(c), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, accountJSON(s))
}

type settingsJSON struct {
	RequireTOTP bool       `json:"require_totp"`
	UpdatedAt   *time.Time `json:"updated_at"`
}

// Settings serves GET /api/v1/admin/security (owner).
func (h *Handlers) Settings(c *gin.Context) {
	set, err := h.staff.Settings(c.Request.Context())
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, settingsJSON(set))
}

type settingsRequest struct {
	RequireTOTP *bool `json:"require_totp"`
}

// UpdateSettings serves PUT /api/v1/admin/security {"require_totp"} (owner).
func (h *Handlers) UpdateSettings(c *gin.Context) {
	var req settingsRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	if req.RequireTOTP == nil {
		httpx.Error(c, apperr.Invalid("require_totp is required", "require_totp"))
		return
	}
	set, err := h.staff.UpdateSettings(c.Request.Context(), auth.StaffID(c), *req.RequireTOTP)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, settingsJSON(set))
}
