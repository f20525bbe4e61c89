package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/check"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/sandbox"
)

// faultShop is what the fault tests run a real minimall against: a private
// mariadbd (so the shared server of the other tests is never stopped) with
// a migrated database holding the demo catalog and the demo owner, and a
// sandbox for the platforms, in the test process, whose notifications retry
// every half second (the platforms' real schedules take minutes).
type faultShop struct {
	db    *dbtest.MariaDB
	dsn   string
	sb    *sandbox.Server
	sbURL string
	env   map[string]string
}

func newFaultShop(t *testing.T) *faultShop {
	t.Helper()
	m := dbtest.StartMariaDB(t)
	dsn := m.CreateDatabase("minimall")
	schedule := make([]time.Duration, 120)
	for i := range schedule {
		schedule[i] = 500 * time.Millisecond
	}
	sb, err := sandbox.New(sandbox.Options{WeChatPayNotifySchedule: schedule, AlipayNotifySchedule: schedule})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	t.Cleanup(sb.StopDeliveries)
	dir := t.TempDir()
	if _, _, err := sb.WriteFiles(dir, ts.URL); err != nil {
		t.Fatal(err)
	}
	env := readEnvFile(t, filepath.Join(dir, sandbox.FileEnv))
	for k, v := range map[string]string{
		"MINIMALL_DB_DRIVER":                 "mysql",
		"MINIMALL_DB_DSN":                    dsn,
		"MINIMALL_HTTP_ADDR":                 freeAddr(t),
		"MINIMALL_ORDER_CHECKOUT_PER_MINUTE": "100000",
		"MINIMALL_ORDER_PAY_PER_MINUTE":      "100000",
		"MINIMALL_ORDER_MAX_UNPAID":          "1000",
		"MINIMALL_PAYMENT_RECONCILE_AFTER":   "1s",
	} {
		env[k] = v
	}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"seed-demo"}, getenv, &out, &out); err != nil {
		t.Fatalf("seed-demo on the private server: %v\n%s", err, out.String())
	}
	return &faultShop{db: m, dsn: dsn, sb: sb, sbURL: ts.URL, env: env}
}

// readEnvFile reads KEY=VALUE lines (the sandbox's settings file).
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		env[k] = v
	}
	return env
}

// checkClean runs the invariant checker on the shop's database until no
// invariant is broken and no work is pending (the jobs finish what a fault
// left in flight), and fails with the report after wait.
func (f *faultShop) checkClean(t *testing.T, wait time.Duration) check.Report {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, db.MySQL, f.dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	deadline := time.Now().Add(wait)
	for {
		rep, err := check.Run(ctx, d, time.Now())
		if err == nil && rep.OK() && len(rep.Pending) == 0 {
			return rep
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			if err == nil {
				_ = rep.WriteText(&b)
			}
			t.Fatalf("minimall check not clean after %v: %v\n%s", wait, err, b.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// count runs a COUNT query on the shop's database.
func (f *faultShop) count(t *testing.T, query string, args ...any) int64 {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, db.MySQL, f.dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int64
	if err := d.Reader(ctx).Raw(query, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// answer is one HTTP exchange of a fault test.
type answer struct {
	Route   string
	Started time.Time
	Took    time.Duration
	Status  int // 0: the request failed (connection refused, client timeout)
	Code    string
	Body    []byte
	Err     error
}

// shopClient calls the shop's API and keeps every answer.
type shopClient struct {
	base string
	http *http.Client
	mu   sync.Mutex
	log  []answer
}

func newShopClient(base string) *shopClient {
	// The client timeout is far above every bound asserted, so a hung
	// request shows as a long answer rather than as a client error.
	return &shopClient{base: base, http: &http.Client{Timeout: 30 * time.Second}}
}

func (c *shopClient) do(method, path, token string, body any, route string, out any) answer {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = c.base + path
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPost && route == "POST /api/v1/orders" {
		req.Header.Set("Idempotency-Key", randomKey())
	}
	a := answer{Route: route, Started: time.Now()}
	resp, err := c.http.Do(req)
	if err != nil {
		a.Err, a.Took = err, time.Since(a.Started)
	} else {
		a.Body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		a.Took, a.Status = time.Since(a.Started), resp.StatusCode
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(a.Body, &e) == nil {
			a.Code = e.Error.Code
		}
		if out != nil && a.Status < 300 {
			_ = json.Unmarshal(a.Body, out)
		}
	}
	c.mu.Lock()
	c.log = append(c.log, a)
	c.mu.Unlock()
	return a
}

// must is do for set-up calls that must succeed with want.
func (c *shopClient) must(t *testing.T, method, path, token string, body any, want int, out any) {
	t.Helper()
	a := c.do(method, path, token, body, method+" "+path, out)
	if a.Status != want {
		t.Fatalf("%s %s: %d %s (%v), want %d", method, path, a.Status, a.Body, a.Err, want)
	}
}

// between returns the answers to requests started in [from, to).
func (c *shopClient) between(from, to time.Time) []answer {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []answer
	for _, a := range c.log {
		if !a.Started.Before(from) && a.Started.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

func randomKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// shopper is a logged-in customer with an address.
type shopper struct {
	token     string
	addressID int64
}

func newShopper(t *testing.T, c *shopClient, name string) shopper {
	t.Helper()
	var login struct {
		AccessToken string `json:"access_token"`
	}
	c.must(t, http.MethodPost, "/api/v1/auth/wechat/login", "", map[string]string{"code": "test-" + name}, 200, &login)
	var addr struct {
		ID int64 `json:"id"`
	}
	c.must(t, http.MethodPost, "/api/v1/addresses", login.AccessToken, map[string]any{"name": "张三", "phone": "13800138000",
		"province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "文三路 1 号", "is_default": true}, 201, &addr)
	return shopper{token: login.AccessToken, addressID: addr.ID}
}

// demoSKUs returns the first SKU of up to n demo products.
func demoSKUs(t *testing.T, c *shopClient, n int) []int64 {
	t.Helper()
	var products struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	c.must(t, http.MethodGet, fmt.Sprintf("/api/v1/products?page_size=%d", n), "", nil, 200, &products)
	var skus []int64
	for _, p := range products.Items {
		var product struct {
			SKUs []struct {
				ID int64 `json:"id"`
			} `json:"skus"`
		}
		c.must(t, http.MethodGet, fmt.Sprintf("/api/v1/products/%d", p.ID), "", nil, 200, &product)
		skus = append(skus, product.SKUs[0].ID)
	}
	if len(skus) == 0 {
		t.Fatal("no demo products")
	}
	return skus
}

// staffToken logs the demo owner in.
func staffToken(t *testing.T, c *shopClient) string {
	t.Helper()
	var staff struct {
		AccessToken string `json:"access_token"`
	}
	c.must(t, http.MethodPost, "/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": "demo-owner-pass"}, 200, &staff)
	return staff.AccessToken
}

// workload places, pays, cancels and refunds orders as customers and staff
// would, and keeps what the shop acknowledged, so a test can prove none of
// it was lost.
type workload struct {
	c     *shopClient
	sbURL string
	skus  []int64
	staff string

	mu        sync.Mutex
	ordered   map[int64]bool   // checkouts answered 201
	paid      map[int64]string // orders the sandbox paid (its pay answered 200): out_trade_no
	cancelled map[int64]bool   // cancels answered 200
	refunded  map[int64]int64  // merchant refunds answered 201: order → after-sale
	refunding map[int64]bool   // orders a refund was asked for (answered or not)
}

func newWorkload(c *shopClient, sbURL string, skus []int64, staff string) *workload {
	return &workload{c: c, sbURL: sbURL, skus: skus, staff: staff, ordered: map[int64]bool{},
		paid: map[int64]string{}, cancelled: map[int64]bool{}, refunded: map[int64]int64{}, refunding: map[int64]bool{}}
}

// shop runs one customer until ctx ends: check out one unit; every fourth
// order is cancelled, the others paid at the sandbox.
func (w *workload) shop(ctx context.Context, s shopper, seed int) {
	for i := seed; ctx.Err() == nil; i++ {
		var order struct {
			ID int64 `json:"id"`
		}
		a := w.c.do(http.MethodPost, "/api/v1/orders", s.token, map[string]any{"address_id": s.addressID,
			"items": []map[string]int64{{"sku_id": w.skus[i%len(w.skus)], "quantity": 1}}}, "POST /api/v1/orders", &order)
		if a.Status == http.StatusCreated {
			w.mu.Lock()
			w.ordered[order.ID] = true
			w.mu.Unlock()
			if i%4 == 3 {
				if a := w.c.do(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", order.ID), s.token, nil,
					"POST /api/v1/orders/{id}/cancel", nil); a.Status == http.StatusOK {
					w.mu.Lock()
					w.cancelled[order.ID] = true
					w.mu.Unlock()
				}
			} else {
				w.pay(s, order.ID)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(30 * time.Millisecond):
		}
	}
}

// pay asks for a WeChat Pay trade and pays it at the sandbox, which then
// notifies the shop until acknowledged.
func (w *workload) pay(s shopper, orderID int64) {
	var pay struct {
		OutTradeNo     string `json:"out_trade_no"`
		RequestPayment struct {
			Package string `json:"package"`
		} `json:"request_payment"`
	}
	if a := w.c.do(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", orderID), s.token, map[string]string{"channel": "wechat"},
		"POST /api/v1/orders/{id}/pay", &pay); a.Status != http.StatusOK {
		return
	}
	prepay := strings.TrimPrefix(pay.RequestPayment.Package, "prepay_id=")
	if a := w.c.do(http.MethodPost, w.sbURL+"/_sandbox/wechatpay/pay", "", map[string]string{"prepay_id": prepay},
		"sandbox pay", nil); a.Status == http.StatusOK {
		w.mu.Lock()
		w.paid[orderID] = pay.OutTradeNo
		w.mu.Unlock()
	}
}

// refunds runs staff until ctx ends: every second order seen paid is
// refunded in full (a merchant refund before shipping).
func (w *workload) refunds(ctx context.Context) {
	for n := 0; ctx.Err() == nil; n++ {
		w.mu.Lock()
		var next int64
		for id := range w.paid {
			if !w.refunding[id] && id%2 == 0 {
				next = id
				break
			}
		}
		w.mu.Unlock()
		if next != 0 {
			var o struct {
				Status string `json:"status"`
			}
			if a := w.c.do(http.MethodGet, fmt.Sprintf("/api/v1/admin/orders/%d", next), w.staff, nil,
				"GET /api/v1/admin/orders/{id}", &o); a.Status == http.StatusOK && o.Status == "paid" {
				w.mu.Lock()
				w.refunding[next] = true
				w.mu.Unlock()
				var as struct {
					ID int64 `json:"id"`
				}
				if a := w.c.do(http.MethodPost, fmt.Sprintf("/api/v1/admin/orders/%d/refunds", next), w.staff,
					map[string]any{"whole_order": true, "reason": "goodwill"}, "POST /api/v1/admin/orders/{id}/refunds", &as); a.Status == http.StatusCreated {
					w.mu.Lock()
					w.refunded[next] = as.ID
					w.mu.Unlock()
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// run starts customers and staff; stop ends them and waits.
func (w *workload) run(t *testing.T, shoppers []shopper) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, s := range shoppers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.shop(ctx, s, i)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.refunds(ctx)
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// nothingLost checks the database against what the shop acknowledged: every
// order answered 201 exists; every order the sandbox paid ends paid (or
// closed by a refund) once its notification or the reconciliation landed;
// every cancel answered 200 left the order cancelled; every refund answered
// 201 ends refunded. It waits up to wait for the payments and refunds.
func (w *workload) nothingLost(t *testing.T, f *faultShop, wait time.Duration) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range w.ordered {
		if n := f.count(t, "SELECT COUNT(*) FROM orders WHERE id = ?", id); n != 1 {
			t.Errorf("order %d was acknowledged (201) and is not in the database", id)
		}
	}
	for id := range w.cancelled {
		if n := f.count(t, "SELECT COUNT(*) FROM orders WHERE id = ? AND status = 'cancelled'", id); n != 1 {
			t.Errorf("order %d: cancel acknowledged (200), order not cancelled", id)
		}
	}
	deadline := time.Now().Add(wait)
	for id, trade := range w.paid {
		for f.count(t, "SELECT COUNT(*) FROM orders WHERE id = ? AND status IN ('paid','closed')", id) != 1 {
			if time.Now().After(deadline) {
				t.Errorf("order %d: paid at the platform (%s), not paid in the shop after %v", id, trade, wait)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for id, as := range w.refunded {
		for f.count(t, "SELECT COUNT(*) FROM aftersales WHERE id = ? AND order_id = ? AND status = 'refunded'", as, id) != 1 {
			if time.Now().After(deadline) {
				t.Errorf("order %d: refund acknowledged (after-sale %d), not refunded after %v", id, as, wait)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("acknowledged: %d orders, %d paid at the platform, %d cancels, %d refunds",
		len(w.ordered), len(w.paid), len(w.cancelled), len(w.refunded))
	if len(w.ordered) == 0 || len(w.paid) == 0 || len(w.cancelled) == 0 || len(w.refunded) == 0 {
		t.Errorf("the workload did not exercise every kind of money work")
	}
}
