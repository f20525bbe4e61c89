package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// staffToken bootstraps the owner and logs in.
func (e *identityEnv) ownerToken() string {
	e.t.Helper()
	if _, err := e.staff.Bootstrap(context.Background(), "owner", "owner-password"); err != nil {
		e.t.Fatal(err)
	}
	r := e.do(http.MethodPost, "/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": "owner-password"})
	if r.Status != 200 {
		e.t.Fatalf("owner login: %d %s", r.Status, r.Raw)
	}
	return str(r.Body, "access_token")
}

func id(t *testing.T, r reply) int64 {
	t.Helper()
	v, ok := r.Body["id"].(float64)
	if !ok {
		t.Fatalf("no id in %d %s", r.Status, r.Raw)
	}
	return int64(v)
}

// Every free-text field refuses control characters and bidirectional
// overrides with 400 naming the field, and stores trimmed text. (Invalid
// UTF-8 cannot arrive through JSON, whose decoder replaces it; the rule's own
// tests cover it.)
func TestFreeTextFieldsFollowTheTextRule(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newIdentityEnv(t, d, nil)
		owner := e.ownerToken()
		alice := str(e.login("wechat", "test-alice").Body, "access_token")
		cat := e.do(http.MethodPost, "/api/v1/admin/categories", owner, map[string]any{"name": "  服装  "})
		if cat.Status != http.StatusCreated || cat.Body["name"] != "服装" {
			t.Fatalf("category: %d %s", cat.Status, cat.Raw)
		}
		catID := id(t, cat)
		product := func(title, key, value string) map[string]any {
			return map[string]any{"category_id": catID, "title": title, "images": []string{"https://img.example.com/a.jpg"},
				"skus": []map[string]any{{"sku_code": "A-1", "specs": map[string]string{key: value}, "price_fen": 100, "stock": 5}}}
		}
		p := e.do(http.MethodPost, "/api/v1/admin/products", owner, product("T恤", "颜色", "红"))
		if p.Status != http.StatusCreated {
			t.Fatalf("product: %d %s", p.Status, p.Raw)
		}
		skuID := int64(p.Body["skus"].([]any)[0].(map[string]any)["id"].(float64))
		address := func(field, v string) map[string]any {
			a := map[string]any{"name": "张三", "phone": "13800138000", "province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "文三路 1 号"}
			if field != "" {
				a[field] = v
			}
			return a
		}
		addr := e.do(http.MethodPost, "/api/v1/addresses", alice, address("", ""))
		if addr.Status != http.StatusCreated {
			t.Fatalf("address: %d %s", addr.Status, addr.Raw)
		}
		addrID := id(t, addr)

		for _, bad := range []struct{ name, v string }{
			{"NUL", "a\x00b"}, {"ESC", "\u001b[2J"}, {"BEL", "ding\a"}, {"DEL", "a\x7f"},
			{"RLO", "abc\u202Egpj.exe"}, {"C1", "a\u0085b"},
		} {
			tests := []struct {
				name   string
				method string
				path   string
				token  string
				body   any
				field  string
			}{
				{"address name", "POST", "/api/v1/addresses", alice, address("name", bad.v), "name"},
				{"address detail", "POST", "/api/v1/addresses", alice, address("detail", bad.v), "detail"},
				{"address province update", "PUT", fmt.Sprintf("/api/v1/addresses/%d", addrID), alice, address("province", bad.v), "province"},
				{"category name", "POST", "/api/v1/admin/categories", owner, map[string]any{"name": bad.v}, "name"},
				{"category rename", "PUT", fmt.Sprintf("/api/v1/admin/categories/%d", catID), owner, map[string]any{"name": bad.v}, "name"},
				{"product title", "POST", "/api/v1/admin/products", owner, product(bad.v, "颜色", "红"), "title"},
				{"sku spec key", "POST", "/api/v1/admin/products", owner, product("T恤", bad.v, "红"), "skus[0].specs"},
				{"sku spec value", "POST", "/api/v1/admin/products", owner, product("T恤", "颜色", bad.v), "skus[0].specs"},
				{"stock reason", "POST", fmt.Sprintf("/api/v1/admin/skus/%d/stock", skuID), owner, map[string]any{"delta": 1, "reason": bad.v}, "reason"},
				{"order remark", "POST", "/api/v1/orders", alice, map[string]any{"address_id": addrID, "items": []map[string]any{{"sku_id": skuID, "quantity": 1}}, "remark": bad.v}, "remark"},
			}
			for _, tt := range tests {
				t.Run(bad.name+"/"+tt.name, func(t *testing.T) {
					r := e.do(tt.method, tt.path, tt.token, tt.body)
					if r.Status != 400 || r.code() != "invalid_argument" {
						t.Fatalf("= %d %s, want 400 invalid_argument", r.Status, r.Raw)
					}
					fields := fmt.Sprint(r.Body["error"].(map[string]any)["details"].(map[string]any)["fields"])
					if fields != "["+tt.field+"]" {
						t.Errorf("details.fields = %s, want [%s]", fields, tt.field)
					}
				})
			}
		}
		// Nothing refused was stored.
		var n int64
		must(t, d.Reader(context.Background()).Raw("SELECT COUNT(*) FROM orders").Scan(&n).Error)
		if n != 0 {
			t.Errorf("orders = %d, want 0", n)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/categories", owner, nil); strings.Contains(r.Raw, `\u001b`) || strings.Contains(r.Raw, `\u0000`) {
			t.Errorf("a control character was stored: %s", r.Raw)
		}
	})
}

// An update that changes nothing is refused instead of touching the row.
func TestEmptyCategoryUpdateRefused(t *testing.T) {
	e := newIdentityEnv(t, dbtest.SQLite(t), nil)
	owner := e.ownerToken()
	cat := e.do(http.MethodPost, "/api/v1/admin/categories", owner, map[string]any{"name": "服装"})
	path := fmt.Sprintf("/api/v1/admin/categories/%d", id(t, cat))
	for _, body := range []string{"{}", "null", " null "} {
		req := e.raw(http.MethodPut, path, owner, body)
		if req.Status != 400 || req.code() != "invalid_argument" {
			t.Errorf("PUT %s: %d %s, want 400 invalid_argument", body, req.Status, req.Raw)
		}
	}
	after := e.do(http.MethodGet, "/api/v1/admin/categories", owner, nil)
	if !strings.Contains(after.Raw, `"updated_at":"`+str(cat.Body, "updated_at")+`"`) {
		t.Errorf("updated_at changed: before %s, after %s", str(cat.Body, "updated_at"), after.Raw)
	}
}

// raw sends body as it is, with a JSON content type.
func (e *identityEnv) raw(method, path, token, body string) reply {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	r := reply{Status: w.Code, Raw: w.Body.String(), Header: w.Header()}
	_ = json.Unmarshal(w.Body.Bytes(), &r.Body)
	return r
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
