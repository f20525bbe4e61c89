package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"golang.org/x/crypto/bcrypt"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/sandbox"
	"github.com/minimall/minimall/internal/staff"
)

// identityEnv is the application wired to a sandbox, on one database.
type identityEnv struct {
	t      *testing.T
	d      *db.DB
	h      http.Handler
	cfg    *config.Config
	clock  *clock.Fake
	sb     *sandbox.Server
	tokens *auth.Tokens
	staff  *staff.Service
}

func newIdentityEnv(t *testing.T, d *db.DB, extra map[string]string) *identityEnv {
	t.Helper()
	return newIdentityEnvLog(t, d, extra, io.Discard)
}

// newIdentityEnvLog is newIdentityEnv with the app's log written to logw.
func newIdentityEnvLog(t *testing.T, d *db.DB, extra map[string]string, logw io.Writer) *identityEnv {
	t.Helper()
	keys, err := sandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	priv, pub, err := sb.WriteFiles(t.TempDir(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := sb.Settings()
	ep := sandbox.EndpointsAt(srv.URL)
	env := map[string]string{
		"MINIMALL_WECHAT_APPID": s.WeChatAppID, "MINIMALL_WECHAT_SECRET": s.WeChatSecret, "MINIMALL_WECHAT_API_BASE": ep.WeChatAPIBase,
		"MINIMALL_ALIPAY_APPID": s.AlipayAppID, "MINIMALL_ALIPAY_PRIVATE_KEY_FILE": priv, "MINIMALL_ALIPAY_PUBLIC_KEY_FILE": pub,
		"MINIMALL_ALIPAY_GATEWAY": ep.AlipayGateway,
		// Products in these tests use images of an existing CDN, which staff
		// may keep; uploads go to a temporary directory.
		"MINIMALL_MEDIA_ALLOWED_HOSTS": "img.example.com", "MINIMALL_MEDIA_DIR": t.TempDir(),
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	a, err := app.New(cfg, d, slog.New(slog.NewTextHandler(logw, nil)), clk)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(cfg.JWT.Secret, clk)
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.New(d, clk)
	if err != nil {
		t.Fatal(err)
	}
	store, err := staff.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	passwords, err := auth.NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	totpKey, err := cfg.Staff.TOTPKeyBytes()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := staff.TOTPSealer(totpKey, cfg.JWT.Secret)
	if err != nil {
		t.Fatal(err)
	}
	staff, err := staff.NewService(d, store, passwords, tokens, log, clk, sealer)
	if err != nil {
		t.Fatal(err)
	}
	return &identityEnv{t: t, d: d, h: a.Handler(), cfg: cfg, clock: clk, sb: sb, tokens: tokens, staff: staff}
}

type reply struct {
	Status int
	Body   map[string]any
	Raw    string
	Header http.Header
}

func (r reply) code() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (e *identityEnv) do(method, path, token string, body any, header ...string) reply {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	r := reply{Status: w.Code, Raw: w.Body.String(), Header: w.Header()}
	_ = json.Unmarshal(w.Body.Bytes(), &r.Body)
	return r
}

func (e *identityEnv) login(channel, code string) reply {
	e.t.Helper()
	return e.do(http.MethodPost, "/api/v1/auth/"+channel+"/login", "", map[string]string{"code": code})
}

func (e *identityEnv) count(table string) int64 {
	e.t.Helper()
	var n int64
	if err := e.d.Reader(context.Background()).Table(table).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func TestCustomerLoginHTTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newIdentityEnv(t, d, nil)
		for _, ch := range []string{"wechat", "alipay"} {
			t.Run(ch, func(t *testing.T) {
				r1 := e.login(ch, "test-alice")
				if r1.Status != http.StatusOK {
					t.Fatalf("login: %d %s", r1.Status, r1.Raw)
				}
				u, _ := r1.Body["user"].(map[string]any)
				if u["channel"] != ch || u["id"] == nil || str(r1.Body, "access_token") == "" || str(r1.Body, "refresh_token") == "" {
					t.Fatalf("login body = %s", r1.Raw)
				}
				if r1.Body["expires_in"] != float64(7200) {
					t.Errorf("expires_in = %v, want 7200", r1.Body["expires_in"])
				}
				if r1.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("tokens must not be cached")
				}
				r2 := e.login(ch, "test-alice")
				u2, _ := r2.Body["user"].(map[string]any)
				if u2["id"] != u["id"] {
					t.Errorf("same name: customers %v and %v", u["id"], u2["id"])
				}
				me := e.do(http.MethodGet, "/api/v1/me", str(r1.Body, "access_token"), nil)
				if me.Status != http.StatusOK || me.Body["id"] != u["id"] || me.Body["channel"] != ch || me.Body["created_at"] == nil {
					t.Errorf("/me = %d %s", me.Status, me.Raw)
				}

				// Rotation: the new pair works, the old refresh token is reuse.
				old := str(r1.Body, "refresh_token")
				rr := e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": old})
				if rr.Status != http.StatusOK || str(rr.Body, "refresh_token") == old || str(rr.Body, "access_token") == "" {
					t.Fatalf("refresh: %d %s", rr.Status, rr.Raw)
				}
				ru, _ := rr.Body["user"].(map[string]any)
				if ru["id"] != u["id"] || ru["channel"] != ch {
					t.Errorf("refresh user = %v", ru)
				}
				reuse := e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": old})
				if reuse.Status != http.StatusUnauthorized || reuse.code() != "refresh_reused" {
					t.Fatalf("reuse: %d %s", reuse.Status, reuse.Raw)
				}
				// The family is revoked: the token issued by the rotation is dead too.
				next := e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": str(rr.Body, "refresh_token")})
				if next.Status != http.StatusUnauthorized || next.code() != "unauthenticated" {
					t.Errorf("newest token of a revoked family: %d %s", next.Status, next.Raw)
				}
				// The other login's family is untouched.
				other := e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": str(r2.Body, "refresh_token")})
				if other.Status != http.StatusOK {
					t.Errorf("another login's refresh: %d %s", other.Status, other.Raw)
				}
			})
		}
	})
}

func TestRefusedLoginHTTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newIdentityEnv(t, d, nil)
		tests := []struct {
			channel, code string
			status        int
			want          string
		}{
			{"wechat", "bad-code", 401, "invalid_code"},
			{"wechat", "risky", 403, "login_blocked"},
			{"wechat", "busy", 503, "upstream_unavailable"},
			{"wechat", "slow-down", 429, "rate_limited"},
			{"alipay", "bad-code", 401, "invalid_code"},
			{"alipay", "busy", 503, "upstream_unavailable"},
		}
		for _, tt := range tests {
			t.Run(tt.channel+"/"+tt.code, func(t *testing.T) {
				r := e.login(tt.channel, tt.code)
				if r.Status != tt.status || r.code() != tt.want {
					t.Errorf("got %d %s, want %d %s", r.Status, r.Raw, tt.status, tt.want)
				}
			})
		}
		for _, table := range []string{"customers", "customer_identities", "refresh_tokens"} {
			if n := e.count(table); n != 0 {
				t.Errorf("%s has %d rows after refused logins", table, n)
			}
		}
		bad := e.do(http.MethodPost, "/api/v1/auth/wechat/login", "", map[string]any{"code": "test-a", "extra": 1})
		if bad.Status != 400 || bad.code() != "invalid_argument" {
			t.Errorf("unknown field: %d %s", bad.Status, bad.Raw)
		}
	})
}

// signed signs claims with key and method; the test forges tokens with it.
func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newIdentityEnv(t, d, nil)
		r := e.login("wechat", "test-tok")
		customer := str(r.Body, "access_token")
		st, err := e.staff.Create(context.Background(), staff.SystemActor, staff.NewAccount{Username: "owner", Password: "owner-password", Role: auth.RoleOwner})
		if err != nil {
			t.Fatal(err)
		}
		staff, _, err := e.tokens.IssueStaff(st.ID, st.Role, 0)
		if err != nil {
			t.Fatal(err)
		}
		secret := []byte(e.cfg.JWT.Secret)
		now := e.clock.Now()
		claims := func(typ, aud string, sub int64, exp time.Time) jwt.MapClaims {
			return jwt.MapClaims{"iss": "minimall", "sub": strconv.FormatInt(sub, 10), "aud": []string{aud},
				"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": exp.Unix(), "typ": typ}
		}
		custID := int64(r.Body["user"].(map[string]any)["id"].(float64))
		tamper := func(tok string) string {
			parts := strings.Split(tok, ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			payload = bytes.Replace(payload, []byte(`"sub":"`+strconv.FormatInt(custID, 10)+`"`), []byte(`"sub":"999"`), 1)
			parts[1] = base64.RawURLEncoding.EncodeToString(payload)
			return strings.Join(parts, ".")
		}
		noneTok := signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("customer", "minimall-miniprogram", custID, now.Add(time.Hour)))
		noExp := claims("customer", "minimall-miniprogram", custID, now)
		delete(noExp, "exp")
		tests := []struct {
			name   string
			path   string
			token  string
			status int
			code   string
		}{
			{"valid customer", "/api/v1/me", customer, 200, ""},
			{"no token", "/api/v1/me", "", 401, "unauthenticated"},
			{"garbage", "/api/v1/me", "abc.def.ghi", 401, "unauthenticated"},
			{"tampered payload", "/api/v1/me", tamper(customer), 401, "unauthenticated"},
			{"alg none", "/api/v1/me", noneTok, 401, "unauthenticated"},
			{"wrong secret", "/api/v1/me", signed(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-0123456"), claims("customer", "minimall-miniprogram", custID, now.Add(time.Hour))), 401, "unauthenticated"},
			{"HS512", "/api/v1/me", signed(t, jwt.SigningMethodHS512, secret, claims("customer", "minimall-miniprogram", custID, now.Add(time.Hour))), 401, "unauthenticated"},
			{"expired", "/api/v1/me", signed(t, jwt.SigningMethodHS256, secret, claims("customer", "minimall-miniprogram", custID, now.Add(-time.Minute))), 401, "unauthenticated"},
			{"no expiry", "/api/v1/me", signed(t, jwt.SigningMethodHS256, secret, noExp), 401, "unauthenticated"},
			{"wrong audience", "/api/v1/me", signed(t, jwt.SigningMethodHS256, secret, claims("customer", "minimall-admin", custID, now.Add(time.Hour))), 401, "unauthenticated"},
			{"unknown type", "/api/v1/me", signed(t, jwt.SigningMethodHS256, secret, claims("robot", "minimall-miniprogram", custID, now.Add(time.Hour))), 401, "unauthenticated"},
			{"staff token on customer route", "/api/v1/me", staff, 403, "forbidden"},
			{"customer token on admin route", "/api/v1/admin/staff", customer, 403, "forbidden"},
			{"forged staff type with customer audience", "/api/v1/admin/staff", signed(t, jwt.SigningMethodHS256, secret, claims("staff", "minimall-miniprogram", st.ID, now.Add(time.Hour))), 401, "unauthenticated"},
			{"valid staff", "/api/v1/admin/staff", staff, 200, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do(http.MethodGet, tt.path, tt.token, nil)
				if r.Status != tt.status || r.code() != tt.code {
					t.Errorf("got %d %s, want %d %q", r.Status, r.Raw, tt.status, tt.code)
				}
			})
		}
		// Tokens expire with the clock: 2 h for customers, 8 h for staff.
		e.clock.Advance(auth.CustomerTTL + time.Minute)
		if r := e.do(http.MethodGet, "/api/v1/me", customer, nil); r.Status != 401 {
			t.Errorf("customer token after 2h: %d", r.Status)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/staff", staff, nil); r.Status != 200 {
			t.Errorf("staff token after 2h: %d", r.Status)
		}
		e.clock.Advance(auth.StaffTTL)
		if r := e.do(http.MethodGet, "/api/v1/admin/staff", staff, nil); r.Status != 401 {
			t.Errorf("staff token after 8h: %d", r.Status)
		}
	})
}

// adminRoutePermissions is the permission each staff route needs, from the
// roles table of API.md; "" means any active staff member. A staff route
// missing here fails TestRolePermissionsOnRouter, so every new admin route
// states its permission.
var adminRoutePermissions = map[string]auth.Permission{
	"GET /api/v1/admin/staff":                             auth.PermStaffManage,
	"POST /api/v1/admin/staff":                            auth.PermStaffManage,
	"PUT /api/v1/admin/staff/:id":                         auth.PermStaffManage,
	"GET /api/v1/admin/categories":                        auth.PermOrdersView,
	"GET /api/v1/admin/products":                          auth.PermOrdersView,
	"GET /api/v1/admin/products/:id":                      auth.PermOrdersView,
	"POST /api/v1/admin/categories":                       auth.PermCatalogWrite,
	"PUT /api/v1/admin/categories/:id":                    auth.PermCatalogWrite,
	"DELETE /api/v1/admin/categories/:id":                 auth.PermCatalogWrite,
	"POST /api/v1/admin/products":                         auth.PermCatalogWrite,
	"PUT /api/v1/admin/products/:id":                      auth.PermCatalogWrite,
	"POST /api/v1/admin/products/:id/on-shelf":            auth.PermCatalogWrite,
	"POST /api/v1/admin/products/:id/off-shelf":           auth.PermCatalogWrite,
	"POST /api/v1/admin/skus/:id/stock":                   auth.PermStockAdjust,
	"GET /api/v1/admin/orders":                            auth.PermOrdersView,
	"GET /api/v1/admin/orders/:id":                        auth.PermOrdersView,
	"GET /api/v1/admin/orders/:id/tracking":               auth.PermOrdersView,
	"POST /api/v1/admin/orders/:id/ship":                  auth.PermOrdersShip,
	"PUT /api/v1/admin/orders/:id/parcels/:parcel_id":     auth.PermOrdersShip,
	"POST /api/v1/admin/orders/:id/shipping-upload/retry": auth.PermOrdersShip,
	"GET /api/v1/admin/payment-anomalies":                 auth.PermOrdersView,
	"POST /api/v1/admin/payment-anomalies/:id/resolve":    auth.PermPaymentsResolve,
	"POST /api/v1/admin/aftersales/:id/approve":           auth.PermAfterSalesDecide,
	"POST /api/v1/admin/aftersales/:id/reject":            auth.PermAfterSalesDecide,
	"POST /api/v1/admin/aftersales/:id/receive-return":    auth.PermAfterSalesReceive,
	"GET /api/v1/admin/aftersales":                        auth.PermOrdersView,
	"GET /api/v1/admin/aftersales/:id":                    auth.PermOrdersView,
	"POST /api/v1/admin/aftersales/:id/ship-replacement":  auth.PermOrdersShip,
	"POST /api/v1/admin/orders/:id/refunds":               auth.PermAfterSalesDecide,
	"POST /api/v1/admin/payment-anomalies/:id/refund":     auth.PermAfterSalesDecide,
	"POST /api/v1/admin/reviews/:id/reply":                auth.PermReviewsModerate,
	"POST /api/v1/admin/reviews/:id/hide":                 auth.PermReviewsModerate,
	"POST /api/v1/admin/reviews/:id/publish":              auth.PermReviewsModerate,
	"GET /api/v1/admin/reviews":                           auth.PermReviewsModerate,
	"GET /api/v1/admin/reviews/:id":                       auth.PermReviewsModerate,
	"POST /api/v1/admin/uploads":                          auth.PermCatalogWrite,
	"GET /api/v1/admin/dashboard":                         auth.PermDashboard,
	"GET /api/v1/admin/audit":                             auth.PermAuditView,
	"POST /api/v1/admin/staff/:id/totp/reset":             auth.PermStaffManage,
	"GET /api/v1/admin/security":                          auth.PermStaffManage,
	"PUT /api/v1/admin/security":                          auth.PermStaffManage,
	"GET /api/v1/admin/auth/totp":                         "",
	"POST /api/v1/admin/auth/totp/enrol":                  "",
	"POST /api/v1/admin/auth/totp/activate":               "",
	"POST /api/v1/admin/auth/totp/disable":                "",
}

// TestRolePermissionsOnRouter sends every staff route of the real router a
// request from every role and checks the permission table: a role without
// the permission gets 403 forbidden, a role with it gets past the guard.
func TestRolePermissionsOnRouter(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newIdentityEnv(t, d, nil)
		ctx := context.Background()
		tokens := map[auth.Role]string{}
		for _, role := range auth.Roles {
			st, err := e.staff.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "r-" + strings.ReplaceAll(string(role), "_", "-"), Password: "role-password", Role: role})
			if err != nil {
				t.Fatal(err)
			}
			if tokens[role], _, err = e.tokens.IssueStaff(st.ID, role, 0); err != nil {
				t.Fatal(err)
			}
		}
		a, err := app.New(e.cfg, d, slog.New(slog.NewTextHandler(io.Discard, nil)), e.clock)
		if err != nil {
			t.Fatal(err)
		}
		param := regexp.MustCompile(`:[a-z_]+`)
		checked := 0
		for _, rt := range a.Engine().Routes() {
			key := rt.Method + " " + rt.Path
			if !strings.HasPrefix(rt.Path, "/api/v1/admin/") || rt.Path == "/api/v1/admin/auth/login" {
				continue
			}
			perm, ok := adminRoutePermissions[key]
			if !ok {
				t.Errorf("staff route %s has no entry in adminRoutePermissions", key)
				continue
			}
			checked++
			path := param.ReplaceAllString(rt.Path, "999999")
			for _, role := range auth.Roles {
				t.Run(key+"/"+string(role), func(t *testing.T) {
					var body any
					if rt.Method != http.MethodGet && rt.Method != http.MethodDelete {
						body = map[string]any{}
					}
					r := e.do(rt.Method, path, tokens[role], body)
					allowed := perm == "" || role.Can(perm)
					switch {
					case allowed && (r.Status == 401 || r.Status == 403):
						t.Errorf("%s may %s but got %d %s", role, perm, r.Status, r.Raw)
					case !allowed && (r.Status != 403 || r.code() != "forbidden"):
						t.Errorf("%s may not %s but got %d %s", role, perm, r.Status, r.Raw)
					}
				})
			}
		}
		if checked == 0 {
			t.Fatal("no staff routes found")
		}
	})
}

func TestStaffHTTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newIdentityEnv(t, d, nil)
		if _, err := e.staff.Bootstrap(context.Background(), "owner", "owner-password"); err != nil {
			t.Fatal(err)
		}
		lr := e.do(http.MethodPost, "/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": "owner-password"})
		if lr.Status != 200 || str(lr.Body, "access_token") == "" || lr.Body["expires_in"] != float64(8*3600) {
			t.Fatalf("owner login: %d %s", lr.Status, lr.Raw)
		}
		owner := str(lr.Body, "access_token")
		ownerID := lr.Body["staff"].(map[string]any)["id"]

		cr := e.do(http.MethodPost, "/api/v1/admin/staff", owner,
			map[string]any{"username": "Keeper", "password": "keeper-password", "role": "warehouse"}, "X-Request-Id", "req-create-1")
		if cr.Status != http.StatusCreated || cr.Body["username"] != "keeper" || cr.Body["role"] != "warehouse" || cr.Body["password_hash"] != nil {
			t.Fatalf("create: %d %s", cr.Status, cr.Raw)
		}
		id := strconv.FormatInt(int64(cr.Body["id"].(float64)), 10)
		if r := e.do(http.MethodPost, "/api/v1/admin/staff", owner, map[string]any{"username": "keeper", "password": "keeper-password", "role": "warehouse"}); r.Status != 409 || r.code() != "conflict" {
			t.Errorf("duplicate: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodPost, "/api/v1/admin/staff", owner, map[string]any{"username": "short", "password": "short", "role": "warehouse"}); r.Status != 400 {
			t.Errorf("short password: %d %s", r.Status, r.Raw)
		}
		kl := e.do(http.MethodPost, "/api/v1/admin/auth/login", "", map[string]string{"username": "keeper", "password": "keeper-password"})
		if kl.Status != 200 {
			t.Fatalf("keeper login: %d %s", kl.Status, kl.Raw)
		}
		keeper := str(kl.Body, "access_token")
		if r := e.do(http.MethodGet, "/api/v1/admin/staff", keeper, nil); r.Status != 403 {
			t.Errorf("warehouse lists staff: %d", r.Status)
		}
		up := e.do(http.MethodPut, "/api/v1/admin/staff/"+id, owner, map[string]any{"disabled": true}, "X-Request-Id", "req-disable-1")
		if up.Status != 200 || up.Body["disabled"] != true {
			t.Fatalf("disable: %d %s", up.Status, up.Raw)
		}
		// A disabled account's token stops working at once.
		if r := e.do(http.MethodGet, "/api/v1/admin/orders", keeper, nil); r.Status != 401 {
			t.Errorf("disabled staff token: %d %s", r.Status, r.Raw)
		}
		list := e.do(http.MethodGet, "/api/v1/admin/staff?page_size=1", owner, nil)
		if list.Status != 200 || list.Body["total"] != float64(2) || len(list.Body["items"].([]any)) != 1 {
			t.Errorf("list: %d %s", list.Status, list.Raw)
		}
		// Both writes are in the audit log with their actor and request id.
		var rows []struct {
			StaffID   int64
			Action    string
			RequestID string
		}
		if err := d.Reader(context.Background()).Table("audit_logs").Where("target_type = ? AND target_id = ?", "staff", id).Order("id").Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0].Action != "staff.create" || rows[0].RequestID != "req-create-1" ||
			rows[1].Action != "staff.update" || rows[1].RequestID != "req-disable-1" || float64(rows[1].StaffID) != ownerID {
			t.Errorf("audit rows = %+v", rows)
		}
	})
}

func TestStaffLockoutHTTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newIdentityEnv(t, d, nil)
		if _, err := e.staff.Bootstrap(context.Background(), "owner", "owner-password"); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= staff.MaxFailedLogins; i++ {
			r := e.do(http.MethodPost, "/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": "wrong-password"})
			if r.Status != 401 || r.code() != "unauthenticated" {
				t.Fatalf("failure %d: %d %s", i, r.Status, r.Raw)
			}
		}
		r := e.do(http.MethodPost, "/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": "owner-password"})
		if r.Status != 401 {
			t.Fatalf("locked owner logged in: %d %s", r.Status, r.Raw)
		}
		e.clock.Advance(staff.LockDuration)
		if r := e.do(http.MethodPost, "/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": "owner-password"}); r.Status != 200 {
			t.Errorf("after the lock: %d %s", r.Status, r.Raw)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	tests := []struct {
		name    string
		proxies string
		// forwarded is the X-Forwarded-For header of the second client.
		forwarded   string
		secondBlock bool
	}{
		{name: "no trusted proxy: forwarded header ignored", forwarded: "203.0.113.9", secondBlock: true},
		{name: "trusted proxy: forwarded client counted apart", proxies: "192.0.2.0/24", forwarded: "203.0.113.9", secondBlock: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newIdentityEnv(t, dbtest.SQLite(t), map[string]string{"MINIMALL_TRUSTED_PROXIES": tt.proxies})
			xff := "203.0.113.1"
			for i := 0; i < 60; i++ {
				r := e.do(http.MethodPost, "/api/v1/auth/wechat/login", "", map[string]string{"code": "bad-code"}, "X-Forwarded-For", xff)
				if r.Status != 401 {
					t.Fatalf("attempt %d: %d %s", i+1, r.Status, r.Raw)
				}
			}
			r := e.do(http.MethodPost, "/api/v1/auth/wechat/login", "", map[string]string{"code": "bad-code"}, "X-Forwarded-For", xff)
			if r.Status != 429 || r.code() != "rate_limited" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("attempt 61: %d %s", r.Status, r.Raw)
			}
			r = e.do(http.MethodPost, "/api/v1/auth/wechat/login", "", map[string]string{"code": "bad-code"}, "X-Forwarded-For", tt.forwarded)
			if blocked := r.Status == 429; blocked != tt.secondBlock {
				t.Errorf("another forwarded client: %d, blocked = %v, want %v", r.Status, blocked, tt.secondBlock)
			}
			// Two requests a second come back.
			e.clock.Advance(time.Second)
			r = e.do(http.MethodPost, "/api/v1/auth/wechat/login", "", map[string]string{"code": "bad-code"}, "X-Forwarded-For", xff)
			if r.Status != 401 {
				t.Errorf("a second later: %d %s", r.Status, r.Raw)
			}
		})
	}
}
