package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/minimall/minimall/docs"
)

// timeLike finds strings that are meant as times; canonicalTime is the one
// shape they must all have (httpx.TimeFormat).
var (
	timeLike      = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}`)
	canonicalTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)
)

// specChecker checks answers of a running server: every JSON time in the
// one format, no "id":0, error bodies carrying the request id, and the body
// valid against docs/openapi.yaml for its route and status.
type specChecker struct {
	t      *testing.T
	router routers.Router
	base   string
	seen   map[string]bool
}

func newSpecChecker(t *testing.T, base string) *specChecker {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &specChecker{t: t, router: router, base: base, seen: map[string]bool{}}
}

// do sends one request and checks the answer; out, when not nil, receives it.
func (c *specChecker) do(method, path, token string, body any, want int, out any) {
	c.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, got, want)
	}
	c.check(req, resp, got)
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (c *specChecker) check(req *http.Request, resp *http.Response, body []byte) {
	c.t.Helper()
	where := req.Method + " " + req.URL.Path
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			c.t.Errorf("%s: answer is not JSON: %v", where, err)
			return
		}
		walkJSON(v, "", func(p string, x any) {
			switch x := x.(type) {
			case string:
				if timeLike.MatchString(x) && !canonicalTime.MatchString(x) {
					c.t.Errorf("%s: %s = %q, want RFC 3339 UTC with milliseconds", where, p, x)
				}
			case float64:
				if x == 0 && (strings.HasSuffix(p, ".id") || p == "id") {
					c.t.Errorf("%s: %s is 0", where, p)
				}
			}
		})
		if resp.StatusCode >= 400 {
			var e struct {
				Error struct {
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			_ = json.Unmarshal(body, &e)
			if e.Error.RequestID == "" || e.Error.RequestID != resp.Header.Get("X-Request-Id") {
				c.t.Errorf("%s: error.request_id %q, header %q", where, e.Error.RequestID, resp.Header.Get("X-Request-Id"))
			}
		}
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Errorf("%s: not in docs/openapi.yaml: %v", where, err)
		return
	}
	c.seen[route.Method+" "+route.Path] = true
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		c.t.Errorf("%s %d: answer does not match docs/openapi.yaml: %v\nbody: %s", where, resp.StatusCode, err, body)
	}
}

func walkJSON(v any, path string, f func(string, any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			walkJSON(x, path+"."+k, f)
		}
	case []any:
		for i, x := range v {
			walkJSON(x, fmt.Sprintf("%s[%d]", path, i), f)
		}
	default:
		f(strings.TrimPrefix(path, "."), v)
	}
}

// TestServeDemoAnswersMatchTheSpec walks the customer and staff API of a demo
// server (login, catalog, cart, addresses, checkout, payment through the
// sandbox, shipping, confirmation, staff and catalog administration, errors)
// and checks every answer with specChecker.
func TestServeDemoAnswersMatchTheSpec(t *testing.T) {
	addr := freeAddr(t)
	s := startServer(t, map[string]string{"MINIMALL_HTTP_ADDR": addr}, "serve", "--demo")
	m := sandboxListening.FindStringSubmatch(s.Stdout.String())
	if m == nil {
		t.Fatalf("no sandbox address in:\n%s", s.Stdout.String())
	}
	sandboxURL := m[1]
	c := newSpecChecker(t, s.URL)
	type idOnly struct {
		ID int64 `json:"id"`
	}

	var session struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	c.do("POST", "/api/v1/auth/wechat/login", "", map[string]string{"code": "test-json"}, 200, &session)
	c.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": session.RefreshToken}, 200, &session)
	tok := session.AccessToken
	c.do("GET", "/api/v1/me", tok, nil, 200, nil)
	c.do("PATCH", "/api/v1/me", tok, map[string]string{"nickname": "小明"}, 200, nil)
	// An avatar must be one of the customer's own uploads.
	c.do("PATCH", "/api/v1/me", tok, map[string]string{"avatar_url": s.URL + "/media/a.jpg"}, 400, nil)
	c.do("PATCH", "/api/v1/me", tok, map[string]string{"avatar_url": "https://elsewhere.example.com/a.jpg"}, 400, nil)
	c.do("GET", "/api/v1/categories", "", nil, 200, nil)
	var products struct{ Items []idOnly }
	c.do("GET", "/api/v1/products?page_size=5", "", nil, 200, &products)
	if len(products.Items) == 0 {
		t.Fatal("no demo products")
	}
	var product struct{ SKUs []idOnly }
	c.do("GET", fmt.Sprintf("/api/v1/products/%d", products.Items[0].ID), "", nil, 200, &product)
	sku := product.SKUs[0].ID

	var line idOnly
	c.do("POST", "/api/v1/cart/items", tok, map[string]any{"sku_id": sku, "quantity": 1}, 201, &line)
	c.do("PATCH", fmt.Sprintf("/api/v1/cart/items/%d", line.ID), tok, map[string]any{"quantity": 2}, 200, nil)
	c.do("GET", "/api/v1/cart", tok, nil, 200, nil)
	var address idOnly
	addressBody := map[string]any{"name": "张三", "phone": "13800138000", "province": "浙江省", "city": "杭州市",
		"district": "西湖区", "detail": "文三路 1 号", "is_default": true}
	c.do("POST", "/api/v1/addresses", tok, addressBody, 201, &address)
	c.do("PUT", fmt.Sprintf("/api/v1/addresses/%d", address.ID), tok, addressBody, 200, nil)
	c.do("GET", "/api/v1/addresses", tok, nil, 200, nil)
	checkout := map[string]any{"address_id": address.ID, "from_cart": true}
	c.do("POST", "/api/v1/orders/preview", tok, checkout, 200, nil)
	var order struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	c.do("POST", "/api/v1/orders", tok, checkout, 201, &order)
	var pay struct {
		RequestPayment struct {
			Package string `json:"package"`
		} `json:"request_payment"`
	}
	c.do("POST", fmt.Sprintf("/api/v1/orders/%d/pay", order.ID), tok, map[string]string{"channel": "wechat"}, 200, &pay)
	prepay := strings.TrimPrefix(pay.RequestPayment.Package, "prepay_id=")
	resp, err := http.Post(sandboxURL+"/_sandbox/wechatpay/pay", "application/json", strings.NewReader(`{"prepay_id":"`+prepay+`"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sandbox pay: %v %v", resp, err)
	}
	resp.Body.Close()
	for deadline := time.Now().Add(20 * time.Second); order.Status != "paid"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("order still %s", order.Status)
		}
		c.do("GET", fmt.Sprintf("/api/v1/orders/%d", order.ID), tok, nil, 200, &order)
	}
	var second idOnly
	c.do("POST", "/api/v1/orders", tok, map[string]any{"address_id": address.ID,
		"items": []map[string]any{{"sku_id": sku, "quantity": 1}}}, 201, &second)
	c.do("POST", fmt.Sprintf("/api/v1/orders/%d/cancel", second.ID), tok, nil, 200, nil)
	c.do("GET", "/api/v1/orders", tok, nil, 200, nil)

	var staff struct {
		AccessToken string `json:"access_token"`
	}
	c.do("POST", "/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": "demo-owner-pass"}, 200, &staff)
	st := staff.AccessToken
	c.do("GET", "/api/v1/admin/orders", st, nil, 200, nil)
	c.do("GET", fmt.Sprintf("/api/v1/admin/orders/%d", order.ID), st, nil, 200, nil)
	c.do("POST", fmt.Sprintf("/api/v1/admin/orders/%d/ship", order.ID), st, map[string]string{"carrier": "SF", "tracking_no": "SF1234567890"}, 200, nil)
	c.do("POST", fmt.Sprintf("/api/v1/orders/%d/confirm", order.ID), tok, nil, 200, nil)
	c.do("GET", "/api/v1/admin/payment-anomalies", st, nil, 200, nil)
	var clerk idOnly
	c.do("POST", "/api/v1/admin/staff", st, map[string]any{"username": "clerk1", "password": "clerk-password-1", "role": "warehouse"}, 201, &clerk)
	c.do("PUT", fmt.Sprintf("/api/v1/admin/staff/%d", clerk.ID), st, map[string]any{"disabled": true}, 200, nil)
	c.do("GET", "/api/v1/admin/staff", st, nil, 200, nil)
	var cat idOnly
	c.do("POST", "/api/v1/admin/categories", st, map[string]any{"name": "测试"}, 201, &cat)
	c.do("PUT", fmt.Sprintf("/api/v1/admin/categories/%d", cat.ID), st, map[string]any{"visible": false}, 200, nil)
	c.do("GET", "/api/v1/admin/categories", st, nil, 200, nil)
	c.do("GET", "/api/v1/admin/products", st, nil, 200, nil)
	c.do("GET", fmt.Sprintf("/api/v1/admin/products/%d", products.Items[0].ID), st, nil, 200, nil)
	c.do("POST", fmt.Sprintf("/api/v1/admin/skus/%d/stock", sku), st, map[string]any{"delta": 5, "reason": "recount"}, 200, nil)
	c.do("DELETE", fmt.Sprintf("/api/v1/admin/categories/%d", cat.ID), st, nil, 204, nil)
	c.do("DELETE", fmt.Sprintf("/api/v1/addresses/%d", address.ID), tok, nil, 204, nil)

	// Errors: the envelope with the request id, and a form body named as such.
	c.do("GET", "/api/v1/orders/999999", tok, nil, 404, nil)
	c.do("GET", "/api/v1/admin/orders", tok, nil, 403, nil)
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/cart/items", strings.NewReader("sku_id=1&quantity=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "request body must be JSON") {
		t.Errorf("form body: %d %s, want 400 request body must be JSON", resp.StatusCode, body)
	}
	c.check(req, resp, body)
	t.Logf("checked %d documented operations", len(c.seen))
}

// freeAddr returns a loopback address nothing listens on, for a server whose
// own address must be known before it starts (notify URLs are built from it).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
