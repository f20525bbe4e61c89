package catalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	accounts "github.com/minimall/minimall/internal/staff"
)

// api drives the real router.
type api struct {
	t      *testing.T
	h      http.Handler
	tokens map[string]string
}

type answer struct {
	status int
	body   map[string]any
	list   []any
	raw    string
}

func (r answer) code() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r answer) fields() string {
	e, _ := r.body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	b, _ := json.Marshal(d["fields"])
	return string(b)
}

func (r answer) id() int64 { n, _ := r.body["id"].(float64); return int64(n) }

func newAPI(t *testing.T, d *db.DB) *api {
	t.Helper()
	// The products below use images of an existing CDN, which staff may keep.
	cfg, err := config.Load("", func(k string) string {
		return map[string]string{"MINIMALL_MEDIA_ALLOWED_HOSTS": "img.example.com"}[k]
	})
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
	users, err := accounts.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	x := &api{t: t, h: a.Handler(), tokens: map[string]string{}}
	for _, role := range auth.Roles {
		st, err := users.Insert(context.Background(), "u-"+strings.ReplaceAll(string(role), "_", "-"), "not-a-real-hash", role, false, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if x.tokens[string(role)], _, err = tokens.IssueStaff(st.ID, role, 0); err != nil {
			t.Fatal(err)
		}
	}
	if x.tokens["customer"], _, err = tokens.IssueCustomer(42, "wechat"); err != nil {
		t.Fatal(err)
	}
	return x
}

func (x *api) do(method, path, who string, body any) answer {
	x.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			x.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+x.tokens[who])
	}
	rec := httptest.NewRecorder()
	x.h.ServeHTTP(rec, req)
	out := answer{status: rec.Code, raw: rec.Body.String()}
	if strings.HasPrefix(strings.TrimSpace(out.raw), "[") {
		_ = json.Unmarshal(rec.Body.Bytes(), &out.list)
	} else {
		_ = json.Unmarshal(rec.Body.Bytes(), &out.body)
	}
	return out
}

func (x *api) must(r answer, status int) answer {
	x.t.Helper()
	if r.status != status {
		x.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

type obj = map[string]any

func productBody(categoryID int64, title, code string) obj {
	return obj{"category_id": categoryID, "title": title, "images": []string{"https://img.example.com/a.jpg"},
		"description": "<p>好</p>", "on_shelf": true,
		"skus": []obj{
			{"sku_code": code + "-r", "specs": obj{"颜色": "红"}, "price_fen": 1990, "original_price_fen": 2990, "stock": 5},
			{"sku_code": code + "-b", "specs": obj{"颜色": "蓝"}, "price_fen": 1590, "stock": 0},
		}}
}

func TestCatalogHTTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newAPI(t, d)
		root := x.must(x.do("POST", "/api/v1/admin/categories", "operator", obj{"name": "食品"}), 201).id()
		mid := x.must(x.do("POST", "/api/v1/admin/categories", "operator", obj{"name": "茶叶", "parent_id": root}), 201).id()
		leaf := x.must(x.do("POST", "/api/v1/admin/categories", "owner", obj{"name": "绿茶", "parent_id": mid, "sort_order": 2}), 201).id()
		p := x.must(x.do("POST", "/api/v1/admin/products", "operator", productBody(leaf, "西湖龙井明前茶", "lj")), 201)
		pid := p.id()
		skus := p.body["skus"].([]any)
		red := int64(skus[0].(obj)["id"].(float64))

		cases := []struct {
			name   string
			method string
			path   string
			who    string
			body   any
			status int
			code   string
			fields string
		}{
			{"public tree", "GET", "/api/v1/categories", "", nil, 200, "", ""},
			{"public list by root category", "GET", "/api/v1/products?category_id=" + itoa(root), "", nil, 200, "", ""},
			{"page_size over 100", "GET", "/api/v1/products?page_size=101", "", nil, 400, "invalid_argument", `["page_size"]`},
			{"bad category filter", "GET", "/api/v1/products?category_id=-3", "", nil, 400, "invalid_argument", `["category_id"]`},
			{"unknown category filter", "GET", "/api/v1/products?category_id=9999", "", nil, 404, "not_found", "null"},
			{"bad sort", "GET", "/api/v1/products?sort=random", "", nil, 400, "invalid_argument", `["sort"]`},
			{"malformed id", "GET", "/api/v1/products/abc", "", nil, 400, "invalid_argument", `["id"]`},
			{"negative id", "GET", "/api/v1/products/-1", "", nil, 400, "invalid_argument", `["id"]`},
			{"unknown product", "GET", "/api/v1/products/9999", "", nil, 404, "not_found", "null"},
			{"unknown field", "POST", "/api/v1/admin/products", "operator", obj{"category_id": leaf, "title": "x", "skus": []obj{}, "color": "red"}, 400, "invalid_argument", `["color"]`},
			{"missing fields", "POST", "/api/v1/admin/products", "operator", obj{"skus": []obj{{"specs": obj{}}}}, 400, "invalid_argument", `["category_id","title","skus[0].sku_code","skus[0].price_fen"]`},
			{"price zero", "POST", "/api/v1/admin/products", "operator", obj{"category_id": leaf, "title": "x", "skus": []obj{{"sku_code": "z", "price_fen": 0}}}, 400, "invalid_argument", `["skus[0].price_fen"]`},
			{"malformed json", "POST", "/api/v1/admin/products", "operator", `{"title":`, 400, "invalid_argument", "null"},
			{"duplicate sku code", "POST", "/api/v1/admin/products", "operator", productBody(leaf, "另一个", "lj"), 409, "conflict", "null"},
			{"customer service cannot write", "POST", "/api/v1/admin/products", "customer_service", productBody(leaf, "x", "cs"), 403, "forbidden", "null"},
			{"customer token on admin", "GET", "/api/v1/admin/products", "customer", nil, 403, "forbidden", "null"},
			{"no token on admin", "GET", "/api/v1/admin/products", "", nil, 401, "unauthenticated", "null"},
			{"warehouse reads products", "GET", "/api/v1/admin/products/" + itoa(pid), "warehouse", nil, 200, "", ""},
			{"bad on_shelf filter", "GET", "/api/v1/admin/products?on_shelf=maybe", "operator", nil, 400, "invalid_argument", `["on_shelf"]`},
			{"stock delta by warehouse", "POST", "/api/v1/admin/skus/" + itoa(red) + "/stock", "warehouse", obj{"delta": 3, "reason": "到货"}, 200, "", ""},
			{"stock cas mismatch", "POST", "/api/v1/admin/skus/" + itoa(red) + "/stock", "warehouse", obj{"set": 1, "expected": 5, "reason": "盘点"}, 409, "conflict", "null"},
			{"stock by operator cas", "POST", "/api/v1/admin/skus/" + itoa(red) + "/stock", "operator", obj{"set": 20, "expected": 8, "reason": "盘点"}, 200, "", ""},
			{"stock not an integer", "POST", "/api/v1/admin/skus/" + itoa(red) + "/stock", "operator", `{"delta":1.5,"reason":"x"}`, 400, "invalid_argument", `["delta"]`},
			{"stock unknown field", "POST", "/api/v1/admin/skus/" + itoa(red) + "/stock", "operator", obj{"delta": 1, "reason": "x", "why": 1}, 400, "invalid_argument", `["why"]`},
			{"stock customer service", "POST", "/api/v1/admin/skus/" + itoa(red) + "/stock", "customer_service", obj{"delta": 1, "reason": "x"}, 403, "forbidden", "null"},
			{"stock unknown sku", "POST", "/api/v1/admin/skus/9999/stock", "operator", obj{"delta": 1, "reason": "x"}, 404, "not_found", "null"},
			{"delete category with children", "DELETE", "/api/v1/admin/categories/" + itoa(root), "operator", nil, 409, "conflict", "null"},
			{"update unknown category", "PUT", "/api/v1/admin/categories/9999", "operator", obj{"name": "x"}, 404, "not_found", "null"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := x.do(tc.method, tc.path, tc.who, tc.body)
				if r.status != tc.status || r.code() != tc.code {
					t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code(), tc.status, tc.code, r.raw)
				}
				if tc.fields != "" && r.fields() != tc.fields {
					t.Fatalf("fields %s, want %s", r.fields(), tc.fields)
				}
			})
		}

		// The public detail shows the SKUs with the stock the adjustments left.
		detail := x.must(x.do("GET", "/api/v1/products/"+itoa(pid), "", nil), 200)
		s0 := detail.body["skus"].([]any)[0].(obj)
		if s0["stock"].(float64) != 20 || s0["specs"].(obj)["颜色"] != "红" || detail.body["rating"].(obj)["count"].(float64) != 0 {
			t.Fatalf("detail = %s", detail.raw)
		}
		// Search by a Chinese substring through the query string.
		list := x.must(x.do("GET", "/api/v1/products?q="+url.QueryEscape("龙井")+"&sort=price_asc", "", nil), 200)
		if list.body["total"].(float64) != 1 || list.body["items"].([]any)[0].(obj)["min_price_fen"].(float64) != 1590 {
			t.Fatalf("search = %s", list.raw)
		}
		// A PUT that sends stock for an existing SKU leaves its stock alone.
		put := productBody(leaf, "西湖龙井 新茶", "lj")
		put["skus"].([]obj)[0]["id"] = red
		put["skus"].([]obj)[0]["stock"] = 999
		delete(put, "on_shelf")
		got := x.must(x.do("PUT", "/api/v1/admin/products/"+itoa(pid), "operator", put), 200)
		if got.body["skus"].([]any)[0].(obj)["stock"].(float64) != 20 || got.body["title"] != "西湖龙井 新茶" {
			t.Fatalf("put = %s", got.raw)
		}
		// Off shelf: gone from the public detail and list, still visible to staff.
		x.must(x.do("POST", "/api/v1/admin/products/"+itoa(pid)+"/off-shelf", "operator", nil), 200)
		if r := x.do("GET", "/api/v1/products/"+itoa(pid), "", nil); r.status != 404 || r.code() != "not_found" {
			t.Fatalf("off-shelf detail: %d %s", r.status, r.raw)
		}
		if r := x.must(x.do("GET", "/api/v1/products", "", nil), 200); r.body["total"].(float64) != 0 {
			t.Fatalf("off-shelf listed: %s", r.raw)
		}
		if r := x.must(x.do("GET", "/api/v1/admin/products?on_shelf=false", "customer_service", nil), 200); r.body["total"].(float64) != 1 {
			t.Fatalf("staff list: %s", r.raw)
		}
		// Hiding a category removes it from the public tree only.
		x.must(x.do("PUT", "/api/v1/admin/categories/"+itoa(mid), "operator", obj{"visible": false}), 200)
		pub := x.must(x.do("GET", "/api/v1/categories", "", nil), 200)
		if len(pub.list) != 1 || len(pub.list[0].(obj)["children"].([]any)) != 0 {
			t.Fatalf("public tree = %s", pub.raw)
		}
		adm := x.must(x.do("GET", "/api/v1/admin/categories", "warehouse", nil), 200)
		if len(adm.list[0].(obj)["children"].([]any)) != 1 {
			t.Fatalf("admin tree = %s", adm.raw)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Staff reads go to the database while the public pages come from the read
// cache: stock taken by checkout (which does not announce itself) shows at
// once to staff and on the public detail only after the cache's TTL.
func TestAdminReadsBypassTheCache(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newAPI(t, d)
		cat := x.must(x.do("POST", "/api/v1/admin/categories", "operator", obj{"name": "茶具"}), 201).id()
		p := x.must(x.do("POST", "/api/v1/admin/products", "operator", productBody(cat, "白瓷盖碗", "gw")), 201)
		pid := p.id()
		red := int64(p.body["skus"].([]any)[0].(obj)["id"].(float64))
		stockOf := func(r answer) float64 {
			return r.body["skus"].([]any)[0].(obj)["stock"].(float64)
		}
		if got := stockOf(x.must(x.do("GET", "/api/v1/products/"+itoa(pid), "", nil), 200)); got != 5 {
			t.Fatalf("public stock = %v, want 5", got)
		}
		store, err := catalog.NewStore(d)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := store.DecrementStock(context.Background(), red, 2); err != nil || !ok {
			t.Fatalf("decrement: %v %v", ok, err)
		}
		if got := stockOf(x.must(x.do("GET", "/api/v1/admin/products/"+itoa(pid), "operator", nil), 200)); got != 3 {
			t.Fatalf("staff read stock = %v, want the database's 3", got)
		}
		if got := stockOf(x.must(x.do("GET", "/api/v1/products/"+itoa(pid), "", nil), 200)); got != 5 {
			t.Fatalf("public stock = %v, want the cached 5 within the TTL", got)
		}
		list := x.must(x.do("GET", "/api/v1/admin/products?on_shelf=true", "operator", nil), 200)
		if items := list.body["items"].([]any); len(items) != 1 {
			t.Fatalf("staff list = %s", list.raw)
		}
		// A staff write through the API drops the public page at once.
		x.must(x.do("POST", "/api/v1/admin/products/"+itoa(pid)+"/off-shelf", "operator", nil), 200)
		x.must(x.do("GET", "/api/v1/products/"+itoa(pid), "", nil), 404)
		if got := stockOf(x.must(x.do("GET", "/api/v1/admin/products/"+itoa(pid), "warehouse", nil), 200)); got != 3 {
			t.Fatalf("staff read of an off-shelf product: stock %v, want 3", got)
		}
	})
}
