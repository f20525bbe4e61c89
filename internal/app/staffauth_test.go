package app_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// A staff token issued before a password change or before the account was
// disabled stops working on the router at once (on this instance).
func TestStaffTokenRevokedOnRouter(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newIdentityEnv(t, d, nil)
		owner := e.ownerToken()
		cr := e.do(http.MethodPost, "/api/v1/admin/staff", owner, map[string]any{"username": "keeper", "password": "keeper-password", "role": "warehouse"})
		if cr.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", cr.Status, cr.Raw)
		}
		path := fmt.Sprintf("/api/v1/admin/staff/%d", id(t, cr))
		login := func(password string) string {
			r := e.do(http.MethodPost, "/api/v1/admin/auth/login", "", map[string]string{"username": "keeper", "password": password})
			if r.Status != 200 {
				t.Fatalf("keeper login: %d %s", r.Status, r.Raw)
			}
			return str(r.Body, "access_token")
		}
		old := login("keeper-password")
		if r := e.do(http.MethodGet, "/api/v1/admin/orders", old, nil); r.Status != 200 {
			t.Fatalf("fresh token: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodPut, path, owner, map[string]any{"password": "keeper-password-2"}); r.Status != 200 {
			t.Fatalf("password change: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/orders", old, nil); r.Status != 401 {
			t.Errorf("token from before the password change: %d %s, want 401", r.Status, r.Raw)
		}
		fresh := login("keeper-password-2")
		if r := e.do(http.MethodGet, "/api/v1/admin/orders", fresh, nil); r.Status != 200 {
			t.Errorf("token after the change: %d %s", r.Status, r.Raw)
		}
		e.do(http.MethodPut, path, owner, map[string]any{"disabled": true})
		e.do(http.MethodPut, path, owner, map[string]any{"disabled": false})
		if r := e.do(http.MethodGet, "/api/v1/admin/orders", fresh, nil); r.Status != 401 {
			t.Errorf("token from before the account was disabled: %d %s, want 401", r.Status, r.Raw)
		}
	})
}
