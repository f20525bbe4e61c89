package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/staff"
)

// TestTwoFactorLoginHTTP walks the second factor through the real router:
// enrolment, login with totp_code, the shop-wide requirement and its
// enrol-only tokens, and the owner's reset.
func TestTwoFactorLoginHTTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newIdentityEnv(t, d, nil)
		owner := e.ownerToken()
		login := func(user, pass, code string) reply {
			body := map[string]string{"username": user, "password": pass}
			if code != "" {
				body["totp_code"] = code
			}
			return e.do(http.MethodPost, "/api/v1/admin/auth/login", "", body)
		}
		codeAt := func(secret string, at time.Time) string {
			c, err := totp.GenerateCode(secret, at)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		enrol := func(token string) string {
			r := e.do(http.MethodPost, "/api/v1/admin/auth/totp/enrol", token, nil)
			if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("enrol: %d %s (Cache-Control %q)", r.Status, r.Raw, r.Header.Get("Cache-Control"))
			}
			secret := str(r.Body, "secret")
			r = e.do(http.MethodPost, "/api/v1/admin/auth/totp/activate", token, map[string]string{"code": codeAt(secret, e.clock.Now())})
			if codes, _ := r.Body["recovery_codes"].([]any); r.Status != 200 || len(codes) != 10 {
				t.Fatalf("activate: %d %s", r.Status, r.Raw)
			}
			e.clock.Advance(30 * time.Second)
			return secret
		}
		if r := e.do(http.MethodPut, "/api/v1/admin/security", owner, map[string]any{"require_totp": true}); r.Status != 409 || r.code() != "invalid_state" {
			t.Fatalf("require before the owner enrolled: %d %s", r.Status, r.Raw)
		}
		ownerSecret := enrol(owner)
		if r := login("owner", "owner-password", ""); r.Status != 401 || r.code() != "totp_required" {
			t.Fatalf("owner login without a code: %d %s", r.Status, r.Raw)
		}
		r := login("owner", "owner-password", codeAt(ownerSecret, e.clock.Now()))
		if r.Status != 200 || r.Body["totp_enrolment_required"] != false {
			t.Fatalf("owner login with a code: %d %s", r.Status, r.Raw)
		}
		owner = str(r.Body, "access_token")
		if r := e.do(http.MethodGet, "/api/v1/admin/auth/totp", owner, nil); r.Status != 200 || r.Body["enabled"] != true || r.Body["recovery_codes_left"] != float64(10) {
			t.Errorf("owner totp status: %d %s", r.Status, r.Raw)
		}

		if _, err := e.staff.Create(context.Background(), staff.SystemActor, staff.NewAccount{Username: "packer", Password: "packer-password", Role: auth.RoleWarehouse}); err != nil {
			t.Fatal(err)
		}
		if r := e.do(http.MethodPut, "/api/v1/admin/security", owner, map[string]any{"require_totp": true}); r.Status != 200 || r.Body["require_totp"] != true {
			t.Fatalf("require: %d %s", r.Status, r.Raw)
		}
		r = login("packer", "packer-password", "")
		if r.Status != 200 || r.Body["totp_enrolment_required"] != true {
			t.Fatalf("packer login under the requirement: %d %s", r.Status, r.Raw)
		}
		limited := str(r.Body, "access_token")
		if r := e.do(http.MethodGet, "/api/v1/admin/orders", limited, nil); r.Status != 403 || r.code() != "forbidden" {
			t.Errorf("enrol-only token on orders: %d %s, want 403", r.Status, r.Raw)
		} else if det, _ := r.Body["error"].(map[string]any)["details"].(map[string]any); det["reason"] != "totp_enrolment_required" {
			t.Errorf("refusal details %v", det)
		}
		packerSecret := enrol(limited)
		r = login("packer", "packer-password", codeAt(packerSecret, e.clock.Now()))
		if r.Status != 200 || r.Body["totp_enrolment_required"] != false {
			t.Fatalf("packer login after enrolment: %d %s", r.Status, r.Raw)
		}
		packer := str(r.Body, "access_token")
		packerID := int64(r.Body["staff"].(map[string]any)["id"].(float64))
		if r := e.do(http.MethodGet, "/api/v1/admin/orders", packer, nil); r.Status != 200 {
			t.Errorf("full token on orders: %d %s", r.Status, r.Raw)
		}
		// Replay of the code that just logged in.
		if r := login("packer", "packer-password", codeAt(packerSecret, e.clock.Now())); r.Status != 401 || r.code() != "unauthenticated" {
			t.Errorf("replayed code: %d %s", r.Status, r.Raw)
		}

		// Owner-only routes refuse the warehouse role.
		if r := e.do(http.MethodPost, fmt.Sprintf("/api/v1/admin/staff/%d/totp/reset", packerID), packer, nil); r.Status != 403 {
			t.Errorf("packer resetting: %d %s", r.Status, r.Raw)
		}
		r = e.do(http.MethodPost, fmt.Sprintf("/api/v1/admin/staff/%d/totp/reset", packerID), owner, nil)
		if r.Status != 200 || r.Body["totp_enabled"] != false {
			t.Fatalf("owner reset: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/orders", packer, nil); r.Status != 401 {
			t.Errorf("packer's token after the reset: %d %s, want 401", r.Status, r.Raw)
		}
		r = e.do(http.MethodGet, "/api/v1/admin/audit?action=staff.totp_reset", owner, nil)
		if items, _ := r.Body["items"].([]any); r.Status != 200 || len(items) != 1 {
			t.Errorf("audit of the reset: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/security", owner, nil); r.Status != 200 || r.Body["require_totp"] != true {
			t.Errorf("security settings: %d %s", r.Status, r.Raw)
		}

		// The owner turns their own second factor off: refused while the
		// shop requires one, then with the password and a fresh code.
		e.clock.Advance(30 * time.Second)
		disable := func(password, code string) reply {
			return e.do(http.MethodPost, "/api/v1/admin/auth/totp/disable", owner, map[string]string{"password": password, "code": code})
		}
		r = disable("owner-password", codeAt(ownerSecret, e.clock.Now()))
		if det, _ := r.Body["error"].(map[string]any)["details"].(map[string]any); r.Status != 409 || r.code() != "invalid_state" || det["status"] != "required" {
			t.Errorf("disable while required: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodPut, "/api/v1/admin/security", owner, map[string]any{"require_totp": false}); r.Status != 200 {
			t.Fatalf("lift the requirement: %d %s", r.Status, r.Raw)
		}
		// A wrong password or code is a 400 naming the field, not a 401: the
		// console takes any 401 for an ended session. The token still works.
		fields := func(r reply) any {
			det, _ := r.Body["error"].(map[string]any)["details"].(map[string]any)
			return fmt.Sprint(det["fields"])
		}
		if r := disable("wrong-password", codeAt(ownerSecret, e.clock.Now())); r.Status != 400 || r.code() != "invalid_argument" || fields(r) != "[password]" {
			t.Errorf("disable with a wrong password: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/auth/totp", owner, nil); r.Status != 200 || r.Body["enabled"] != true {
			t.Errorf("owner's token after a wrong password: %d %s", r.Status, r.Raw)
		}
		if r := disable("owner-password", "000000"); r.Status != 400 || r.code() != "invalid_argument" || fields(r) != "[code]" {
			t.Errorf("disable with a wrong code: %d %s", r.Status, r.Raw)
		}
		// A code that logged in is used up: replayed here, it is a wrong code.
		used := codeAt(ownerSecret, e.clock.Now())
		if r := login("owner", "owner-password", used); r.Status != 200 {
			t.Fatalf("owner login: %d %s", r.Status, r.Raw)
		}
		if r := disable("owner-password", used); r.Status != 400 || r.code() != "invalid_argument" || fields(r) != "[code]" {
			t.Errorf("disable with a replayed code: %d %s", r.Status, r.Raw)
		}
		e.clock.Advance(30 * time.Second)
		r = disable("owner-password", codeAt(ownerSecret, e.clock.Now()))
		if r.Status != 200 || r.Body["totp_enabled"] != false || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("disable: %d %s (Cache-Control %q)", r.Status, r.Raw, r.Header.Get("Cache-Control"))
		}
		if r := login("owner", "owner-password", ""); r.Status != 200 {
			t.Errorf("owner login without a code after disable: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/orders", owner, nil); r.Status != 200 {
			t.Errorf("owner's token after disable: %d %s", r.Status, r.Raw)
		}
	})
}

// TestTOTPDisableRateLimited: turning a second factor off checks a password,
// so it shares the login limit of the client address.
func TestTOTPDisableRateLimited(t *testing.T) {
	e := newIdentityEnv(t, dbtest.SQLite(t), nil)
	owner := e.ownerToken()
	for i := 0; ; i++ {
		r := e.do(http.MethodPost, "/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": "wrong-password"})
		if r.Status == 429 {
			break
		}
		if i > app.LoginBurst {
			t.Fatalf("no rate limit after %d logins: %d %s", i, r.Status, r.Raw)
		}
	}
	r := e.do(http.MethodPost, "/api/v1/admin/auth/totp/disable", owner, map[string]string{"password": "owner-password", "code": "123456"})
	if r.Status != 429 || r.code() != "rate_limited" {
		t.Errorf("disable past the login limit: %d %s, want 429 rate_limited", r.Status, r.Raw)
	}
}

// TestTOTPDisableFailureLogged: a wrong password when turning one's own
// second factor off is a 400 for the client but a security event in the log.
func TestTOTPDisableFailureLogged(t *testing.T) {
	var buf bytes.Buffer
	e := newIdentityEnvLog(t, dbtest.SQLite(t), nil, &buf)
	owner := e.ownerToken()
	r := e.do(http.MethodPost, "/api/v1/admin/auth/totp/enrol", owner, nil)
	code, err := totp.GenerateCode(str(r.Body, "secret"), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do(http.MethodPost, "/api/v1/admin/auth/totp/activate", owner, map[string]string{"code": code}); r.Status != 200 {
		t.Fatalf("activate: %d %s", r.Status, r.Raw)
	}
	r = e.do(http.MethodPost, "/api/v1/admin/auth/totp/disable", owner, map[string]string{"password": "wrong-password", "code": code})
	if r.Status != 400 {
		t.Fatalf("disable with a wrong password: %d %s", r.Status, r.Raw)
	}
	log := buf.String()
	if !strings.Contains(log, "event=staff_totp_disable_failed") {
		t.Errorf("no staff_totp_disable_failed security event in:\n%s", log)
	}
	if strings.Contains(log, "wrong-password") || strings.Contains(log, code) {
		t.Error("a password or code reached the log")
	}
	// Wrong passwords lead to the login's lock: a 429 here, logged as the
	// lock it is.
	for i := 0; ; i++ {
		r = e.do(http.MethodPost, "/api/v1/admin/auth/totp/disable", owner, map[string]string{"password": "wrong-password", "code": code})
		if r.Status == 429 {
			break
		}
		if r.Status != 400 || i > staff.MaxFailedLogins {
			t.Fatalf("wrong password %d: %d %s, want 400 until a 429 lock", i+2, r.Status, r.Raw)
		}
	}
	if r.code() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Errorf("the lock: %d %s (Retry-After %q)", r.Status, r.Raw, r.Header.Get("Retry-After"))
	}
	if !strings.Contains(buf.String(), "event=staff_login_locked") {
		t.Errorf("no staff_login_locked security event in:\n%s", buf.String())
	}
}
