package order_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/staff"
)

// api is the real router on a test database, with functions to call it as a
// customer or a staff member.
type api struct {
	t      *testing.T
	d      *db.DB
	h      http.Handler
	tokens *auth.Tokens
	cat    *catalog.Service
	addrs  *address.Service
	users  *staff.Store
	cid    int64
	seq    int
}

func newAPI(t *testing.T, d *db.DB) *api {
	t.Helper()
	// The handler tests place many orders for one customer; the unpaid-order
	// cap and the per-customer limits have their own tests.
	cfg, err := config.Load("", func(k string) string {
		switch k {
		case "MINIMALL_ORDER_MAX_UNPAID", "MINIMALL_ORDER_CHECKOUT_PER_MINUTE", "MINIMALL_ORDER_PAY_PER_MINUTE":
			return "1000"
		}
		return ""
	})
	must(t, err)
	clk := clock.NewFake(start)
	a, err := app.New(cfg, d, slog.New(slog.NewTextHandler(io.Discard, nil)), clk)
	must(t, err)
	x := &api{t: t, d: d, h: a.Handler()}
	x.tokens, err = auth.NewTokens(cfg.JWT.Secret, clk)
	must(t, err)
	lg, err := audit.New(d, clk)
	must(t, err)
	cst, err := catalog.NewStore(d)
	must(t, err)
	x.cat, err = catalog.NewService(d, cst, lg, clk, catalog.NopInvalidator{})
	must(t, err)
	as, err := address.NewStore(d)
	must(t, err)
	x.addrs, err = address.NewService(d, as, clk)
	must(t, err)
	x.users, err = staff.NewStore(d)
	must(t, err)
	name := "服装"
	c, err := x.cat.CreateCategory(context.Background(), staffID, catalog.CategoryInput{Name: &name})
	must(t, err)
	x.cid = c.ID
	return x
}

func (x *api) sku(priceFen, stock int64) int64 {
	x.t.Helper()
	x.seq++
	p, err := x.cat.CreateProduct(context.Background(), staffID, catalog.ProductInput{
		CategoryID: x.cid, Title: fmt.Sprintf("T恤 %d", x.seq), Images: []string{"https://img.example.com/t.jpg"},
		SKUs: []catalog.SKUInput{{Code: fmt.Sprintf("TS-%d", x.seq), Specs: map[string]string{"尺码": "M"}, PriceFen: priceFen, Stock: stock}},
	}, true)
	must(x.t, err)
	return p.SKUs[0].ID
}

func (x *api) address(customerID int64) int64 {
	x.t.Helper()
	a, err := x.addrs.Create(context.Background(), customerID, address.Input{
		Name: "李四", Phone: "13900139000", Province: "上海市", City: "上海市", District: "徐汇区", Detail: "漕溪北路 2 号",
	})
	must(x.t, err)
	return a.ID
}

func (x *api) customer(id int64) string {
	x.t.Helper()
	tok, _, err := x.tokens.IssueCustomer(id, "wechat")
	must(x.t, err)
	return tok
}

func (x *api) staff(role auth.Role) string {
	x.t.Helper()
	x.seq++
	s, err := x.users.Insert(context.Background(), fmt.Sprintf("staff%d", x.seq), "x", role, false, start)
	must(x.t, err)
	tok, _, err := x.tokens.IssueStaff(s.ID, role, 0)
	must(x.t, err)
	return tok
}

type reply struct {
	status int
	body   map[string]any
	raw    string
}

func (r reply) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (x *api) do(method, path, token, body string, headers ...string) reply {
	x.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	x.h.ServeHTTP(w, req)
	r := reply{status: w.Code, raw: w.Body.String()}
	if w.Body.Len() > 0 {
		dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
		dec.UseNumber()
		_ = dec.Decode(&r.body)
	}
	return r
}

func (x *api) stock(skuID int64) int64 {
	var n int64
	must(x.t, x.d.Reader(context.Background()).Raw("SELECT stock FROM skus WHERE id = ?", skuID).Scan(&n).Error)
	return n
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func num(v any) int64 {
	n, _ := v.(json.Number).Int64()
	return n
}

func TestOrderRoutes(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newAPI(t, d)
		a := x.sku(2500, 5)
		alice, bob := x.customer(7), x.customer(8)
		addr := x.address(7)
		body := fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":%d,"quantity":2}],"remark":"放门口"}`, addr, a)

		r := x.do("POST", "/api/v1/orders/preview", alice, fmt.Sprintf(`{"items":[{"sku_id":%d,"quantity":2},{"sku_id":999999,"quantity":1}]}`, a))
		if r.status != http.StatusOK || num(r.body["goods_fen"]) != 5000 || num(r.body["total_fen"]) != 6000 {
			t.Fatalf("preview = %d %s", r.status, r.raw)
		}
		if got := fmt.Sprint(r.body["unavailable_sku_ids"]); got != "[999999]" {
			t.Errorf("unavailable_sku_ids = %s", got)
		}

		r = x.do("POST", "/api/v1/orders", alice, body, "Idempotency-Key", "abc-1")
		if r.status != http.StatusCreated {
			t.Fatalf("create = %d %s", r.status, r.raw)
		}
		wantKeys := []string{"address", "cancelled_at", "completed_at", "created_at", "delivered_at", "freight_fen", "goods_fen", "id", "items",
			"order_no", "paid_at", "paid_fen", "parcels", "pay_deadline", "remark", "shipped_at", "status", "total_fen"}
		if got := keys(r.body); !slices.Equal(got, wantKeys) {
			t.Errorf("order keys = %v, want %v", got, wantKeys)
		}
		items := r.body["items"].([]any)
		wantItemKeys := []string{"id", "image", "price_fen", "product_id", "quantity", "sku_id", "spec_text", "subtotal_fen", "title"}
		if got := keys(items[0].(map[string]any)); !slices.Equal(got, wantItemKeys) {
			t.Errorf("item keys = %v, want %v", got, wantItemKeys)
		}
		wantAddrKeys := []string{"city", "detail", "district", "name", "phone", "province"}
		if got := keys(r.body["address"].(map[string]any)); !slices.Equal(got, wantAddrKeys) {
			t.Errorf("address keys = %v", got)
		}
		if r.body["status"] != "pending_payment" || r.body["paid_at"] != nil || r.body["pay_deadline"] != "2026-11-01T02:30:00.000Z" {
			t.Errorf("order = %s", r.raw)
		}
		id := num(r.body["id"])
		path := fmt.Sprintf("/api/v1/orders/%d", id)

		// Replay: 200 with the first order; another body: 409.
		r = x.do("POST", "/api/v1/orders", alice, body, "Idempotency-Key", "abc-1")
		if r.status != http.StatusOK || num(r.body["id"]) != id {
			t.Errorf("replay = %d %s", r.status, r.raw)
		}
		r = x.do("POST", "/api/v1/orders", alice, strings.Replace(body, `"quantity":2`, `"quantity":1`, 1), "Idempotency-Key", "abc-1")
		if r.status != http.StatusConflict || r.errCode() != "idempotency_mismatch" {
			t.Errorf("mismatch = %d %s", r.status, r.raw)
		}
		if x.stock(a) != 3 {
			t.Errorf("stock = %d, want 3", x.stock(a))
		}

		r = x.do("GET", path, alice, "")
		if r.status != http.StatusOK || num(r.body["id"]) != id {
			t.Errorf("get = %d %s", r.status, r.raw)
		}
		r = x.do("GET", "/api/v1/orders?status=pending_payment", alice, "")
		if r.status != http.StatusOK || num(r.body["total"]) != 1 || num(r.body["page"]) != 1 {
			t.Errorf("list = %d %s", r.status, r.raw)
		}
		for _, c := range []struct{ method, path string }{
			{"GET", path}, {"POST", path + "/cancel"}, {"POST", path + "/confirm"},
		} {
			if r := x.do(c.method, c.path, bob, ""); r.status != http.StatusNotFound || r.errCode() != "not_found" {
				t.Errorf("bob %s %s = %d %s", c.method, c.path, r.status, r.raw)
			}
		}
		r = x.do("GET", "/api/v1/orders", bob, "")
		if num(r.body["total"]) != 0 {
			t.Errorf("bob's list = %s", r.raw)
		}

		r = x.do("POST", path+"/confirm", alice, "")
		if r.status != http.StatusConflict || r.errCode() != "invalid_state" {
			t.Errorf("confirm pending = %d %s", r.status, r.raw)
		}
		r = x.do("POST", path+"/cancel", alice, "")
		if r.status != http.StatusOK || r.body["status"] != "cancelled" || r.body["cancelled_at"] == nil {
			t.Errorf("cancel = %d %s", r.status, r.raw)
		}
		if x.stock(a) != 5 {
			t.Errorf("stock after cancel = %d, want 5", x.stock(a))
		}
		r = x.do("POST", path+"/cancel", alice, "")
		e, _ := r.body["error"].(map[string]any)
		det, _ := e["details"].(map[string]any)
		if r.status != http.StatusConflict || r.errCode() != "invalid_state" || det["status"] != "cancelled" {
			t.Errorf("second cancel = %d %s", r.status, r.raw)
		}
	})
}

func TestOrderRoutesRefuseBadRequests(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newAPI(t, d)
		a := x.sku(100, 1)
		alice := x.customer(7)
		addr := x.address(7)
		foreign := x.address(8)
		staff := x.staff(auth.RoleOwner)
		tests := []struct {
			name, method, path, token, body string
			status                          int
			code                            string
		}{
			{"no token", "POST", "/api/v1/orders", "", `{}`, 401, "unauthenticated"},
			{"staff token", "POST", "/api/v1/orders", staff, `{}`, 403, "forbidden"},
			{"customer on admin", "GET", "/api/v1/admin/orders", alice, "", 403, "forbidden"},
			{"empty body", "POST", "/api/v1/orders", alice, "", 400, "invalid_argument"},
			{"malformed", "POST", "/api/v1/orders", alice, `{"address_id":`, 400, "invalid_argument"},
			{"unknown field", "POST", "/api/v1/orders", alice, fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":%d,"quantity":1,"price_fen":1}]}`, addr, a), 400, "invalid_argument"},
			{"empty items", "POST", "/api/v1/orders", alice, fmt.Sprintf(`{"address_id":%d,"items":[]}`, addr), 400, "invalid_argument"},
			{"zero quantity", "POST", "/api/v1/orders", alice, fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":%d,"quantity":0}]}`, addr, a), 400, "invalid_argument"},
			{"quantity over cap", "POST", "/api/v1/orders", alice, fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":%d,"quantity":1000}]}`, addr, a), 409, "limit_exceeded"},
			{"foreign address", "POST", "/api/v1/orders", alice, fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":%d,"quantity":1}]}`, foreign, a), 404, "not_found"},
			{"out of stock", "POST", "/api/v1/orders", alice, fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":%d,"quantity":2}]}`, addr, a), 409, "out_of_stock"},
			{"unknown sku", "POST", "/api/v1/orders", alice, fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":777777,"quantity":1}]}`, addr), 409, "unavailable_item"},
			{"bad key", "POST", "/api/v1/orders", alice, fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":%d,"quantity":1}]}`, addr, a), 400, "invalid_argument"},
			{"bad id", "GET", "/api/v1/orders/abc", alice, "", 400, "invalid_argument"},
			{"bad status", "GET", "/api/v1/orders?status=lost", alice, "", 400, "invalid_argument"},
			{"bad page", "GET", "/api/v1/orders?page_size=500", alice, "", 400, "invalid_argument"},
			{"unknown order", "POST", "/api/v1/orders/424242/cancel", alice, "", 404, "not_found"},
			{"bad admin date", "GET", "/api/v1/admin/orders?created_from=yesterday", staff, "", 400, "invalid_argument"},
			{"bad admin customer", "GET", "/api/v1/admin/orders?customer_id=-1", staff, "", 400, "invalid_argument"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var r reply
				if tt.name == "bad key" {
					r = x.do(tt.method, tt.path, tt.token, tt.body, "Idempotency-Key", strings.Repeat("k", 65))
				} else {
					r = x.do(tt.method, tt.path, tt.token, tt.body)
				}
				if r.status != tt.status || r.errCode() != tt.code {
					t.Errorf("= %d %s, want %d %s", r.status, r.raw, tt.status, tt.code)
				}
			})
		}
		var n int64
		must(t, d.Reader(context.Background()).Raw("SELECT COUNT(*) FROM orders").Scan(&n).Error)
		if n != 0 || x.stock(a) != 1 {
			t.Errorf("orders %d, stock %d; want nothing changed", n, x.stock(a))
		}
		r := x.do("POST", "/api/v1/orders", alice, fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":%d,"quantity":2}]}`, addr, a))
		e := r.body["error"].(map[string]any)
		if got := fmt.Sprint(e["details"].(map[string]any)["sku_ids"]); got != fmt.Sprintf("[%d]", a) {
			t.Errorf("out_of_stock details.sku_ids = %s", got)
		}
	})
}

func TestAdminOrderRoutes(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newAPI(t, d)
		ctx := context.Background()
		a := x.sku(100, 10)
		alice := x.customer(7)
		addr := x.address(7)
		create := func() int64 {
			r := x.do("POST", "/api/v1/orders", alice, fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":%d,"quantity":1}]}`, addr, a))
			if r.status != http.StatusCreated {
				t.Fatalf("create = %d %s", r.status, r.raw)
			}
			return num(r.body["id"])
		}
		pending, paid := create(), create()
		// Paid the way the payment module will: through the store, as tests may.
		st, err := order.NewStore(d)
		must(t, err)
		ok, err := st.Move(ctx, paid, order.Change{From: order.StatusPendingPayment, To: order.StatusPaid, At: start,
			PaidAt: start, PaidFen: 1100})
		if err != nil || !ok {
			t.Fatalf("pay through the store: %v %v", ok, err)
		}
		cs, wh := x.staff(auth.RoleCustomerService), x.staff(auth.RoleWarehouse)

		r := x.do("GET", "/api/v1/admin/orders?status=paid&customer_id=7&created_from=2026-11-01&created_to=2026-11-01", cs, "")
		if r.status != http.StatusOK || num(r.body["total"]) != 1 {
			t.Fatalf("admin list = %d %s", r.status, r.raw)
		}
		row := r.body["items"].([]any)[0].(map[string]any)
		if num(row["id"]) != paid || num(row["customer_id"]) != 7 {
			t.Errorf("admin row = %v", row)
		}
		r = x.do("GET", "/api/v1/admin/orders?created_to=2026-10-31", cs, "")
		if num(r.body["total"]) != 0 {
			t.Errorf("orders before 1 November = %s", r.raw)
		}
		r = x.do("GET", fmt.Sprintf("/api/v1/admin/orders/%d", pending), cs, "")
		if r.status != http.StatusOK || len(r.body["events"].([]any)) != 1 {
			t.Errorf("admin detail = %d %s", r.status, r.raw)
		}
		ship := `{"carrier":"SF","tracking_no":"SF1402230559"}`
		r = x.do("POST", fmt.Sprintf("/api/v1/admin/orders/%d/ship", paid), cs, ship)
		if r.status != http.StatusForbidden {
			t.Errorf("customer service ships = %d %s", r.status, r.raw)
		}
		r = x.do("POST", fmt.Sprintf("/api/v1/admin/orders/%d/ship", pending), wh, ship)
		if r.status != http.StatusConflict || r.errCode() != "invalid_state" {
			t.Errorf("ship pending = %d %s", r.status, r.raw)
		}
		r = x.do("POST", fmt.Sprintf("/api/v1/admin/orders/%d/ship", paid), wh, `{"carrier":"DHL","tracking_no":"SF1402230559"}`)
		if r.status != http.StatusBadRequest || r.errCode() != "invalid_argument" {
			t.Errorf("ship with unknown carrier = %d %s", r.status, r.raw)
		}
		r = x.do("POST", fmt.Sprintf("/api/v1/admin/orders/%d/ship", paid), wh, ship)
		if r.status != http.StatusOK || r.body["status"] != "shipped" || len(r.body["parcels"].([]any)) != 1 {
			t.Fatalf("ship = %d %s", r.status, r.raw)
		}
		r = x.do("POST", fmt.Sprintf("/api/v1/admin/orders/%d/ship", paid), wh, ship)
		if r.status != http.StatusConflict || r.errCode() != "invalid_state" {
			t.Errorf("ship twice = %d %s", r.status, r.raw)
		}
		r = x.do("POST", fmt.Sprintf("/api/v1/orders/%d/confirm", paid), alice, "")
		if r.status != http.StatusOK || r.body["status"] != "completed" || r.body["completed_at"] == nil {
			t.Errorf("confirm = %d %s", r.status, r.raw)
		}
		r = x.do("GET", fmt.Sprintf("/api/v1/admin/orders/%d", paid), cs, "")
		var tos []string
		for _, e := range r.body["events"].([]any) {
			tos = append(tos, e.(map[string]any)["to"].(string))
		}
		// The store-made payment wrote no event; the other transitions did.
		if want := []string{"pending_payment", "shipped", "completed"}; !slices.Equal(tos, want) {
			t.Errorf("events = %v, want %v", tos, want)
		}
	})
}
