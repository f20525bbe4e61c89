package auth

import (
	"context"
	"errors"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// StaffChecker reads a staff member's current role, so that a disabled
// account or a changed role takes effect before its token expires. It returns
// an *apperr.Error (unauthenticated) for unknown or disabled accounts and for
// a token whose version is older than the account's (revoked by a password
// change or by disabling the account).
type StaffChecker interface {
	CurrentRole(ctx context.Context, staffID, tokenVersion int64) (Role, error)
}

// Middleware guards the customer and staff route groups.
type Middleware struct {
	tokens *Tokens
	staff  StaffChecker
}

// NewMiddleware returns the route guards.
func NewMiddleware(tokens *Tokens, staff StaffChecker) (*Middleware, error) {
	if tokens == nil || staff == nil {
		return nil, errors.New("auth: nil dependency")
	}
	return &Middleware{tokens: tokens, staff: staff}, nil
}

const (
	ctxCustomerID = "minimall.customer_id"
	ctxChannel    = "minimall.channel"
	ctxStaffID    = "minimall.staff_id"
	ctxStaffRole  = "minimall.staff_role"
)

func (m *Middleware) claims(c *gin.Context, want TokenType) (*Claims, bool) {
	h := c.GetHeader("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		httpx.Error(c, apperr.Unauthenticated("missing bearer token"))
		return nil, false
	}
	cl, err := m.tokens.Verify(strings.TrimSpace(token))
	if err != nil {
		httpx.Error(c, err)
		return nil, false
	}
	if cl.Type != want {
		httpx.SetActor(c, string(cl.Type), cl.SubjectID())
		httpx.SecurityEvent(c, "wrong_token_type")
		httpx.Error(c, apperr.Forbidden("this route needs a "+string(want)+" token"))
		return nil, false
	}
	return cl, true
}

// Customer admits requests that carry a valid customer token.
func (m *Middleware) Customer() gin.HandlerFunc {
	return func(c *gin.Context) {
		cl, ok := m.claims(c, TypeCustomer)
		if !ok {
			return
		}
		httpx.SetActor(c, "customer", cl.SubjectID())
		c.Set(ctxCustomerID, cl.SubjectID())
		c.Set(ctxChannel, cl.Channel)
		c.Next()
	}
}

// Staff admits requests that carry a valid, full staff token of an active
// account, and records the account's current role for Require. A token that
// may only enrol a second factor answers 403 with details.reason
// "totp_enrolment_required".
func (m *Middleware) Staff() gin.HandlerFunc { return m.staffGuard(false) }

// StaffEnrolment admits what Staff admits and also tokens that may only
// enrol a second factor: the routes that set one up.
func (m *Middleware) StaffEnrolment() gin.HandlerFunc { return m.staffGuard(true) }

func (m *Middleware) staffGuard(enrolment bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		cl, ok := m.claims(c, TypeStaff)
		if !ok {
			return
		}
		httpx.SetActor(c, "staff", cl.SubjectID())
		if cl.Scope == ScopeTOTPEnrol && !enrolment {
			httpx.SecurityEvent(c, "staff_token_refused", "reason", "totp_enrolment_required")
			httpx.Error(c, apperr.Forbidden("set up two-factor login first: this token only enrols a second factor").
				WithDetail("reason", "totp_enrolment_required"))
			return
		}
		role, err := m.staff.CurrentRole(c.Request.Context(), cl.SubjectID(), cl.Version)
		if err != nil {
			if apperr.Is(err, apperr.CodeUnauthenticated) {
				httpx.SecurityEvent(c, "staff_token_refused", "reason", apperr.CodeOf(err))
			}
			httpx.Error(c, err)
			return
		}
		c.Set(ctxStaffID, cl.SubjectID())
		c.Set(ctxStaffRole, role)
		c.Next()
	}
}

// Require admits staff whose role holds p; it runs after Staff.
func Require(p Permission) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !StaffRole(c).Can(p) {
			httpx.SecurityEvent(c, "permission_denied", "role", string(StaffRole(c)), "permission", string(p))
			httpx.Error(c, apperr.Forbidden("your role does not allow this"))
			return
		}
		c.Next()
	}
}

// CustomerID returns the authenticated customer's id (0 outside Customer).
func CustomerID(c *gin.Context) int64 { return c.GetInt64(ctxCustomerID) }

// Channel returns the channel the customer logged in with ("wechat", "alipay").
func Channel(c *gin.Context) string { return c.GetString(ctxChannel) }

// StaffID returns the authenticated staff member's id (0 outside Staff).
func StaffID(c *gin.Context) int64 { return c.GetInt64(ctxStaffID) }

// StaffRole returns the authenticated staff member's current role.
func StaffRole(c *gin.Context) Role {
	r, _ := c.Get(ctxStaffRole)
	role, _ := r.(Role)
	return role
}
