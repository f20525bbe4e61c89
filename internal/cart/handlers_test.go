package cart_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

type answer struct {
	status int
	body   map[string]any
	raw    string
}

func (r answer) code() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestCartHTTP(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg, err := config.Load("", func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
		a, err := app.New(cfg, d, slog.New(slog.NewTextHandler(io.Discard, nil)), clk)
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := auth.NewTokens(cfg.JWT.Secret, clk)
		if err != nil {
			t.Fatal(err)
		}
		tok := map[string]string{}
		tok["alice"], _, _ = tokens.IssueCustomer(alice, "wechat")
		tok["bob"], _, _ = tokens.IssueCustomer(bob, "alipay")
		tok["staff"], _, _ = tokens.IssueStaff(1, auth.RoleOwner, 0)
		do := func(method, path, who, body string) answer {
			t.Helper()
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if who != "" {
				req.Header.Set("Authorization", "Bearer "+tok[who])
			}
			rec := httptest.NewRecorder()
			a.Handler().ServeHTTP(rec, req)
			out := answer{status: rec.Code, raw: rec.Body.String()}
			_ = json.Unmarshal(rec.Body.Bytes(), &out.body)
			return out
		}
		f := newFixture(t, d)
		p := f.product(t, "http", 1200, 10)
		sku := strconv.FormatInt(p.SKUs[0].ID, 10)

		first := do("POST", "/api/v1/cart/items", "alice", `{"sku_id":`+sku+`,"quantity":2}`)
		if first.status != 201 || first.body["quantity"].(float64) != 2 || first.body["title"] != "商品http" || first.body["available"] != true {
			t.Fatalf("add = %d %s", first.status, first.raw)
		}
		line := strconv.FormatInt(int64(first.body["id"].(float64)), 10)
		cases := []struct {
			name, method, path, who, body string
			status                        int
			code                          string
		}{
			{"merge", "POST", "/api/v1/cart/items", "alice", `{"sku_id":` + sku + `,"quantity":3}`, 201, ""},
			{"quantity not an integer", "POST", "/api/v1/cart/items", "alice", `{"sku_id":` + sku + `,"quantity":1.5}`, 400, "invalid_argument"},
			{"quantity zero", "POST", "/api/v1/cart/items", "alice", `{"sku_id":` + sku + `,"quantity":0}`, 400, "invalid_argument"},
			{"quantity missing", "POST", "/api/v1/cart/items", "alice", `{"sku_id":` + sku + `}`, 400, "invalid_argument"},
			{"unknown field", "POST", "/api/v1/cart/items", "alice", `{"sku_id":` + sku + `,"quantity":1,"price_fen":1}`, 400, "invalid_argument"},
			{"over the cap", "POST", "/api/v1/cart/items", "alice", `{"sku_id":` + sku + `,"quantity":1000}`, 409, "limit_exceeded"},
			{"over stock", "POST", "/api/v1/cart/items", "alice", `{"sku_id":` + sku + `,"quantity":6}`, 409, "out_of_stock"},
			{"unknown sku", "POST", "/api/v1/cart/items", "alice", `{"sku_id":99999,"quantity":1}`, 404, "not_found"},
			{"staff token", "GET", "/api/v1/cart", "staff", "", 403, "forbidden"},
			{"no token", "GET", "/api/v1/cart", "", "", 401, "unauthenticated"},
			{"patch quantity", "PATCH", "/api/v1/cart/items/" + line, "alice", `{"quantity":4,"selected":false}`, 200, ""},
			{"patch empty", "PATCH", "/api/v1/cart/items/" + line, "alice", `{}`, 400, "invalid_argument"},
			{"patch negative", "PATCH", "/api/v1/cart/items/" + line, "alice", `{"quantity":-1}`, 400, "invalid_argument"},
			{"patch bad id", "PATCH", "/api/v1/cart/items/x1", "alice", `{"quantity":1}`, 400, "invalid_argument"},
			{"another customer's line", "PATCH", "/api/v1/cart/items/" + line, "bob", `{"quantity":1}`, 404, "not_found"},
			{"another customer deletes", "DELETE", "/api/v1/cart/items/" + line, "bob", "", 404, "not_found"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := do(tc.method, tc.path, tc.who, tc.body)
				if r.status != tc.status || r.code() != tc.code {
					t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code(), tc.status, tc.code, r.raw)
				}
			})
		}
		c := do("GET", "/api/v1/cart", "alice", "")
		items := c.body["items"].([]any)
		it := items[0].(map[string]any)
		if c.status != 200 || len(items) != 1 || it["quantity"].(float64) != 4 || it["selected"] != false ||
			it["stock"].(float64) != 10 || it["price_fen"].(float64) != 1200 || c.body["selected_total_fen"].(float64) != 0 {
			t.Fatalf("cart = %s", c.raw)
		}
		if _, err := f.cat.SetShelf(context.Background(), staff, p.ID, false); err != nil {
			t.Fatal(err)
		}
		// A shelf change is not a write to the cart: the cart read before it
		// is served until the stock lag has passed since, then read again.
		if r := do("GET", "/api/v1/cart", "alice", ""); r.raw != c.raw {
			t.Fatalf("cart within the stock lag = %s, want the cached %s", r.raw, c.raw)
		}
		clk.Advance(cfg.Catalog.StockLag)
		if r := do("GET", "/api/v1/cart", "alice", ""); r.body["items"].([]any)[0].(map[string]any)["available"] != false {
			t.Fatalf("off-shelf line after the stock lag = %s", r.raw)
		}
		if r := do("DELETE", "/api/v1/cart/items/"+line, "alice", ""); r.status != 204 {
			t.Fatalf("delete = %d %s", r.status, r.raw)
		}
		if r := do("GET", "/api/v1/cart", "bob", ""); r.raw != `{"items":[],"selected_total_fen":0}` {
			t.Fatalf("bob's cart = %s", r.raw)
		}
	})
}
