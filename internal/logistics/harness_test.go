package logistics_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/sandbox"
	"github.com/minimall/minimall/internal/staff"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// sandboxKeys are generated once for the package's tests and passed in
// sandbox.Options.Keys: RSA key generation is most of what sandbox.New costs.
var sandboxKeys = sync.OnceValues(sandbox.NewKeys)

// syncBuffer is a log sink the server's goroutines and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// shop is minimall on a test database, served over HTTP (the platforms call
// it back), with every platform pointed at an in-process sandbox reached
// over HTTP too.
type shop struct {
	t       *testing.T
	d       *db.DB
	a       *app.App
	sb      *sandbox.Server
	sbURL   string
	url     string
	clk     *clock.Fake
	env     map[string]string
	logs    *syncBuffer
	tokens  *auth.Tokens
	cat     *catalog.Service
	users   *staff.Store
	cid     int64
	seq     int
	staffTk string
}

func newShop(t *testing.T, d *db.DB) *shop {
	t.Helper()
	keys, err := sandboxKeys()
	must(t, err)
	sb, err := sandbox.New(sandbox.Options{Keys: keys})
	must(t, err)
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	t.Cleanup(sb.StopDeliveries)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener.Close()
	srv.Listener = ln
	base := "http://" + ln.Addr().String()

	dir := t.TempDir()
	if _, _, err := sb.WriteFiles(dir, sbSrv.URL); err != nil {
		t.Fatal(err)
	}
	env := readEnv(t, filepath.Join(dir, sandbox.FileEnv))
	env["MINIMALL_PUBLIC_BASE_URL"] = base
	for _, k := range []string{"MINIMALL_ORDER_MAX_UNPAID", "MINIMALL_ORDER_CHECKOUT_PER_MINUTE", "MINIMALL_ORDER_PAY_PER_MINUTE"} {
		env[k] = "1000"
	}
	cfg, err := config.Load("", func(k string) string { return env[k] })
	must(t, err)
	s := &shop{t: t, d: d, sb: sb, sbURL: sbSrv.URL, url: base, env: env, logs: &syncBuffer{},
		clk: clock.NewFake(time.Now().Truncate(time.Millisecond))}
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.a, err = app.New(cfg, d, log, s.clk)
	must(t, err)
	srv.Config.Handler = s.a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	sb.SetWeChatPushURL(base+"/api/v1/notify/wechat", false)

	s.tokens, err = auth.NewTokens(cfg.JWT.Secret, s.clk)
	must(t, err)
	lg, err := audit.New(d, s.clk)
	must(t, err)
	cst, err := catalog.NewStore(d)
	must(t, err)
	s.cat, err = catalog.NewService(d, cst, lg, s.clk, catalog.NopInvalidator{})
	must(t, err)
	s.users, err = staff.NewStore(d)
	must(t, err)
	name := "数码"
	c, err := s.cat.CreateCategory(context.Background(), 1, catalog.CategoryInput{Name: &name})
	must(t, err)
	s.cid = c.ID
	s.staffTk = s.staff(auth.RoleWarehouse)
	t.Cleanup(func() { s.checkNoSecretsLogged() })
	return s
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env
}

// checkNoSecretsLogged fails when a key, token, salt or secret of the
// configuration, or an access token the sandbox issued, shows in a log line.
func (s *shop) checkNoSecretsLogged() {
	logs := s.logs.String()
	for _, k := range []string{"MINIMALL_WECHAT_SECRET", "MINIMALL_WECHAT_PUSH_TOKEN", "MINIMALL_WECHAT_PUSH_AES_KEY",
		"MINIMALL_COURIER_KEY", "MINIMALL_COURIER_CUSTOMER", "MINIMALL_COURIER_SALT", "MINIMALL_WECHATPAY_APIV3_KEY"} {
		if v := s.env[k]; v != "" && strings.Contains(logs, v) {
			s.t.Errorf("the value of %s appears in the logs", k)
		}
	}
	if strings.Contains(logs, "sandbox-at-") {
		s.t.Error("a WeChat access token appears in the logs")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (s *shop) staff(role auth.Role) string {
	s.t.Helper()
	s.seq++
	st, err := s.users.Insert(context.Background(), fmt.Sprintf("logistics%d", s.seq), "x", role, false, s.clk.Now())
	must(s.t, err)
	tok, _, err := s.tokens.IssueStaff(st.ID, role, 0)
	must(s.t, err)
	return tok
}

func (s *shop) sku(priceFen int64) int64 {
	s.t.Helper()
	s.seq++
	p, err := s.cat.CreateProduct(context.Background(), 1, catalog.ProductInput{
		CategoryID: s.cid, Title: fmt.Sprintf("耳机 %d", s.seq), Images: []string{"https://img.example.com/e.jpg"},
		SKUs: []catalog.SKUInput{{Code: fmt.Sprintf("EP-%d", s.seq), Specs: map[string]string{"颜色": "黑"}, PriceFen: priceFen, Stock: 100}},
	}, true)
	must(s.t, err)
	return p.SKUs[0].ID
}

type reply struct {
	status int
	body   map[string]any
	raw    string
}

func (r reply) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r reply) obj(key string) map[string]any {
	m, _ := r.body[key].(map[string]any)
	return m
}

func (r reply) list(key string) []any {
	l, _ := r.body[key].([]any)
	return l
}

func (s *shop) call(method, url, token string, body any) reply {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		if str, ok := body.(string); ok {
			rd = strings.NewReader(str)
		} else {
			b, err := json.Marshal(body)
			must(s.t, err)
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, url, rd)
	must(s.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	must(s.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (s *shop) api(method, path, token string, body any) reply {
	s.t.Helper()
	return s.call(method, s.url+path, token, body)
}

func (s *shop) sandbox(path string, body any) reply {
	s.t.Helper()
	return s.call(http.MethodPost, s.sbURL+path, "", body)
}

// form posts a form, as the courier does.
func (s *shop) form(path string, v url.Values) reply {
	s.t.Helper()
	res, err := http.PostForm(s.url+path, v)
	must(s.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// customer logs a customer in through the sandbox on channel (wechat or
// alipay) and gives them an address.
func (s *shop) customer(channel, name string) (token string, addressID int64) {
	s.t.Helper()
	r := s.api("POST", "/api/v1/auth/"+channel+"/login", "", map[string]string{"code": "test-" + name})
	if r.status != 200 {
		s.t.Fatalf("login: %d %s", r.status, r.raw)
	}
	token = r.body["access_token"].(string)
	r = s.api("POST", "/api/v1/addresses", token, map[string]any{"name": "王五", "phone": "13900139000",
		"province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "文三路 1 号", "is_default": true})
	if r.status != 201 {
		s.t.Fatalf("address: %d %s", r.status, r.raw)
	}
	return token, num(r.body["id"])
}

// paidOrder places an order of the given SKUs (one unit each) and pays it
// on channel at the sandbox; it returns the order id, its item ids and the
// platform's transaction id.
func (s *shop) paidOrder(channel, token string, addressID int64, skus ...int64) (int64, []int64, string) {
	s.t.Helper()
	items := make([]map[string]int64, len(skus))
	for i, k := range skus {
		items[i] = map[string]int64{"sku_id": k, "quantity": 1}
	}
	r := s.api("POST", "/api/v1/orders", token, map[string]any{"address_id": addressID, "items": items})
	if r.status != 201 {
		s.t.Fatalf("checkout: %d %s", r.status, r.raw)
	}
	id := num(r.body["id"])
	var itemIDs []int64
	for _, it := range r.list("items") {
		itemIDs = append(itemIDs, num(it.(map[string]any)["id"]))
	}
	r = s.api("POST", fmt.Sprintf("/api/v1/orders/%d/pay", id), token, map[string]string{"channel": channel})
	if r.status != 200 {
		s.t.Fatalf("pay: %d %s", r.status, r.raw)
	}
	outTradeNo := r.body["out_trade_no"].(string)
	var txn string
	switch channel {
	case "wechat":
		pkg := r.obj("request_payment")["package"].(string)
		acked := s.sb.WeChatPayAcknowledged(outTradeNo)
		if p := s.sandbox("/_sandbox/wechatpay/pay", map[string]string{"prepay_id": strings.TrimPrefix(pkg, "prepay_id=")}); p.status != 200 {
			s.t.Fatalf("sandbox pay: %d %s", p.status, p.raw)
		}
		wait(s.t, acked)
		tr, _ := s.sb.WeChatPayTradeOf(outTradeNo)
		txn = tr.TransactionID
	case "alipay":
		acked := s.sb.AlipayAcknowledged(outTradeNo)
		if p := s.sandbox("/_sandbox/alipay/pay", map[string]string{"trade_no": r.body["trade_no"].(string)}); p.status != 200 {
			s.t.Fatalf("sandbox pay: %d %s", p.status, p.raw)
		}
		wait(s.t, acked)
	}
	if st := s.order(id)["status"]; st != "paid" {
		s.t.Fatalf("order status after payment = %v", st)
	}
	return id, itemIDs, txn
}

func wait(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatal("the sandbox's notification was not acknowledged")
	}
}

// order returns the staff order detail.
func (s *shop) order(id int64) map[string]any {
	s.t.Helper()
	r := s.api("GET", fmt.Sprintf("/api/v1/admin/orders/%d", id), s.staffTk, nil)
	if r.status != 200 {
		s.t.Fatalf("admin order: %d %s", r.status, r.raw)
	}
	return r.body
}

func (s *shop) ship(id int64, body any) reply {
	s.t.Helper()
	return s.api("POST", fmt.Sprintf("/api/v1/admin/orders/%d/ship", id), s.staffTk, body)
}

func upload(o map[string]any) map[string]any {
	u, _ := o["shipping_upload"].(map[string]any)
	return u
}

// runOutbox runs n steps of the outbox job at once, as n instances would,
// and returns how many rows they claimed in total.
func (s *shop) runOutbox(n int) int {
	s.t.Helper()
	var wg sync.WaitGroup
	counts := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.a.Logistics().DeliverOutbox(context.Background(), 100)
			if err != nil {
				s.t.Errorf("outbox step: %v", err)
			}
			counts[i] = c
		}()
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	return total
}

func (s *shop) count(query string, args ...any) int64 {
	s.t.Helper()
	var n int64
	must(s.t, s.d.Reader(context.Background()).Raw(query, args...).Scan(&n).Error)
	return n
}
