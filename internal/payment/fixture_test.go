package payment_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/sandbox"
)

// sandboxKeys are generated once for the package: every test's sandbox
// signs with them (sandbox.Options.Keys), so the suite pays for RSA key
// generation once.
var sandboxKeys *sandbox.Keys

func TestMain(m *testing.M) {
	k, err := sandbox.NewKeys()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sandboxKeys = k
	os.Exit(dbtest.Main(m))
}

// env is the whole shop on a real database, served over HTTP, with its
// WeChat and WeChat Pay pointed at an in-process sandbox: every payment goes
// through the real SDK, the real router and the real order module.
type env struct {
	t     *testing.T
	d     *db.DB
	clk   *clock.Fake
	sb    *sandbox.Server
	st    sandbox.Settings
	api   *httptest.Server
	app   *app.App
	vars  map[string]string
	serve *atomic.Value // the API's handler, replaced by reconfigure
	cat   *catalog.Service
	addrs *address.Service
	store *payment.Store
	cid   int64
	seq   atomic.Int64
}

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	return newEnvWith(t, d, sandbox.Options{})
}

// newEnvWith is newEnv on a sandbox made with opts (their notification
// schedules compressed to milliseconds). Alipay is configured too, in
// public-key mode, with the sandbox's seller id checked.
func newEnvWith(t *testing.T, d *db.DB, opts sandbox.Options) *env {
	t.Helper()
	fast := []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond}
	opts.WeChatPayNotifySchedule, opts.AlipayNotifySchedule = fast, fast
	if opts.Keys == nil {
		opts.Keys = sandboxKeys
	}
	sb, err := sandbox.New(opts)
	must(t, err)
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	t.Cleanup(sb.StopDeliveries)
	st := sb.Settings()
	dir := t.TempDir()
	privFile, pubFile := filepath.Join(dir, "apiclient_key.pem"), filepath.Join(dir, "wechatpay_public_key.pem")
	must(t, os.WriteFile(privFile, []byte(st.WeChatPayPrivateKey), 0o600))
	must(t, os.WriteFile(pubFile, []byte(st.WeChatPayPublicKey), 0o600))
	aliPriv, aliPub := filepath.Join(dir, "alipay_app_private_key.pem"), filepath.Join(dir, "alipay_public_key.pem")
	must(t, os.WriteFile(aliPriv, []byte(st.AlipayAppPrivateKey), 0o600))
	must(t, os.WriteFile(aliPub, []byte(st.AlipayPublicKey), 0o600))

	var handler atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	vars := map[string]string{
		"MINIMALL_PUBLIC_BASE_URL":            api.URL,
		"MINIMALL_WECHAT_APPID":               st.WeChatAppID,
		"MINIMALL_WECHAT_SECRET":              st.WeChatSecret,
		"MINIMALL_WECHAT_API_BASE":            sbSrv.URL,
		"MINIMALL_WECHATPAY_MCHID":            st.WeChatPayMchID,
		"MINIMALL_WECHATPAY_SERIAL":           st.WeChatPaySerial,
		"MINIMALL_WECHATPAY_PRIVATE_KEY_FILE": privFile,
		"MINIMALL_WECHATPAY_APIV3_KEY":        st.WeChatPayAPIv3Key,
		"MINIMALL_WECHATPAY_PUBLIC_KEY_ID":    st.WeChatPayPublicKeyID,
		"MINIMALL_WECHATPAY_PUBLIC_KEY_FILE":  pubFile,
		"MINIMALL_WECHATPAY_API_BASE":         sbSrv.URL,
		"MINIMALL_ALIPAY_APPID":               st.AlipayAppID,
		"MINIMALL_ALIPAY_PRIVATE_KEY_FILE":    aliPriv,
		"MINIMALL_ALIPAY_PUBLIC_KEY_FILE":     aliPub,
		"MINIMALL_ALIPAY_GATEWAY":             sandbox.EndpointsAt(sbSrv.URL).AlipayGateway,
		"MINIMALL_ALIPAY_SELLER_ID":           st.AlipaySellerID,
		// Payment tests place and pay many orders for one customer; the
		// unpaid-order cap and the per-customer limits have their own tests.
		"MINIMALL_ORDER_MAX_UNPAID":          "1000",
		"MINIMALL_ORDER_CHECKOUT_PER_MINUTE": "1000",
		"MINIMALL_ORDER_PAY_PER_MINUTE":      "1000",
	}
	if opts.AlipayCertMode {
		// Certificate mode: the three certificate files replace the public key.
		delete(vars, "MINIMALL_ALIPAY_PUBLIC_KEY_FILE")
		for env, pem := range map[string]string{
			"MINIMALL_ALIPAY_APP_CERT_FILE":    st.AlipayAppCert,
			"MINIMALL_ALIPAY_ROOT_CERT_FILE":   st.AlipayRootCert,
			"MINIMALL_ALIPAY_PUBLIC_CERT_FILE": st.AlipayPublicCert,
		} {
			f := filepath.Join(dir, env+".crt")
			must(t, os.WriteFile(f, []byte(pem), 0o600))
			vars[env] = f
		}
	}
	cfg, err := config.Load("", func(k string) string { return vars[k] })
	must(t, err)
	// The sandbox checks time_expire against the real clock, so the shop's
	// fake clock starts now.
	clk := clock.NewFake(time.Now())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(cfg, d, log, clk)
	must(t, err)
	handler.Store(a.Handler())

	e := &env{t: t, d: d, clk: clk, sb: sb, st: st, api: api, app: a, vars: vars, serve: &handler}
	lg, err := audit.New(d, clk)
	must(t, err)
	cst, err := catalog.NewStore(d)
	must(t, err)
	e.cat, err = catalog.NewService(d, cst, lg, clk, catalog.NopInvalidator{})
	must(t, err)
	as, err := address.NewStore(d)
	must(t, err)
	e.addrs, err = address.NewService(d, as, clk)
	must(t, err)
	e.store, err = payment.NewStore(d)
	must(t, err)
	name := "杂货"
	c, err := e.cat.CreateCategory(context.Background(), 1, catalog.CategoryInput{Name: &name})
	must(t, err)
	e.cid = c.ID
	return e
}

// reconfigure rebuilds the shop on the same database with some
// configuration keys changed (an operator's fix and restart) and serves it
// at the same address.
func (e *env) reconfigure(changes map[string]string) {
	e.t.Helper()
	for k, v := range changes {
		e.vars[k] = v
	}
	cfg, err := config.Load("", func(k string) string { return e.vars[k] })
	must(e.t, err)
	a, err := app.New(cfg, e.d, slog.New(slog.NewTextHandler(io.Discard, nil)), e.clk)
	must(e.t, err)
	e.app = a
	e.serve.Store(a.Handler())
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// product creates an on-shelf product with one SKU; it returns the product
// and SKU ids.
func (e *env) product(priceFen, stock int64) (productID, skuID int64) {
	e.t.Helper()
	n := e.seq.Add(1)
	p, err := e.cat.CreateProduct(context.Background(), 1, catalog.ProductInput{
		CategoryID: e.cid, Title: fmt.Sprintf("商品 %d", n), Images: []string{fmt.Sprintf("https://img.example.com/%d.jpg", n)},
		SKUs: []catalog.SKUInput{{Code: fmt.Sprintf("SKU-%d", n), Specs: map[string]string{"颜色": "红色"}, PriceFen: priceFen, Stock: stock}},
	}, true)
	must(e.t, err)
	return p.ID, p.SKUs[0].ID
}

// customer is a logged-in customer.
type customer struct {
	id      int64
	token   string
	address int64
}

// login logs name in through WeChat (the sandbox's test-<name> code) and
// gives it an address.
func (e *env) login(name string) customer {
	e.t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	e.call("", http.MethodPost, "/api/v1/auth/wechat/login", map[string]string{"code": "test-" + name}, http.StatusOK, &out)
	a, err := e.addrs.Create(context.Background(), out.User.ID, address.Input{
		Name: "张三", Phone: "13800138000", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "文三路 1 号",
	})
	must(e.t, err)
	return customer{id: out.User.ID, token: out.AccessToken, address: a.ID}
}

// orderJSON is the part of an order the tests read.
type orderJSON struct {
	ID       int64  `json:"id"`
	Status   string `json:"status"`
	TotalFen int64  `json:"total_fen"`
	PaidFen  int64  `json:"paid_fen"`
}

// order places an order of qty units of skuID.
func (e *env) order(c customer, skuID, qty int64) orderJSON {
	e.t.Helper()
	var o orderJSON
	e.call(c.token, http.MethodPost, "/api/v1/orders", map[string]any{
		"address_id": c.address, "items": []map[string]int64{{"sku_id": skuID, "quantity": qty}},
	}, http.StatusCreated, &o)
	return o
}

func (e *env) getOrder(c customer, id int64) orderJSON {
	e.t.Helper()
	var o orderJSON
	e.call(c.token, http.MethodGet, fmt.Sprintf("/api/v1/orders/%d", id), nil, http.StatusOK, &o)
	return o
}

// payResponse is the answer of the pay route.
type payResponse struct {
	Channel        string `json:"channel"`
	OutTradeNo     string `json:"out_trade_no"`
	RequestPayment struct {
		TimeStamp string `json:"timeStamp"`
		NonceStr  string `json:"nonceStr"`
		Package   string `json:"package"`
		SignType  string `json:"signType"`
		PaySign   string `json:"paySign"`
	} `json:"request_payment"`
}

func (p payResponse) prepayID() string {
	return strings.TrimPrefix(p.RequestPayment.Package, "prepay_id=")
}

func (e *env) pay(c customer, orderID int64) payResponse {
	e.t.Helper()
	var p payResponse
	e.call(c.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", orderID), map[string]string{"channel": "wechat"}, http.StatusOK, &p)
	return p
}

// call sends a JSON request and checks the status; out may be nil.
func (e *env) call(token, method, path string, body any, want int, out any) []byte {
	e.t.Helper()
	status, raw := e.do(token, method, path, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, raw)
	}
	if out != nil {
		must(e.t, json.Unmarshal(raw, out))
	}
	return raw
}

func (e *env) do(token, method, path string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		must(e.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.api.URL+path, rd)
	must(e.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	must(e.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	must(e.t, err)
	return resp.StatusCode, raw
}

// waitAcked waits until the sandbox's notification of a trade has been
// acknowledged.
func (e *env) waitAcked(outTradeNo string) {
	e.t.Helper()
	select {
	case <-e.sb.WeChatPayAcknowledged(outTradeNo):
	case <-time.After(15 * time.Second):
		e.t.Fatalf("notification of %s not acknowledged: %+v", outTradeNo, e.sb.WeChatPayDeliveries(outTradeNo))
	}
}

// count runs a COUNT(*) query.
func (e *env) count(query string, args ...any) int64 {
	e.t.Helper()
	var n int64
	must(e.t, e.d.Reader(context.Background()).Raw(query, args...).Scan(&n).Error)
	return n
}

// sales returns a product's sales counter once the order module's sales job
// has counted every paid order, as it does within seconds in a server.
func (e *env) sales(productID int64) int64 {
	if _, err := e.app.Orders().CountSales(context.Background(), 1000); err != nil {
		e.t.Fatal(err)
	}
	return e.count("SELECT sales FROM products WHERE id = ?", productID)
}

// paidEvents counts an order's transitions to paid.
func (e *env) paidEvents(orderID int64) int64 {
	return e.count("SELECT COUNT(*) FROM order_events WHERE order_id = ? AND to_status = 'paid'", orderID)
}

// attempt returns the attempt of an out_trade_no.
func (e *env) attempt(outTradeNo string) payment.Attempt {
	e.t.Helper()
	a, ok, err := e.store.AttemptByOutTradeNo(context.Background(), outTradeNo)
	must(e.t, err)
	if !ok {
		e.t.Fatalf("no attempt %s", outTradeNo)
	}
	return a
}

// verifyPaySign checks paySign with the merchant's public key over appId,
// timeStamp, nonceStr and package.
func (e *env) verifyPaySign(p payResponse) error {
	key, err := utils.LoadPrivateKey(e.st.WeChatPayPrivateKey)
	if err != nil {
		return err
	}
	rp := p.RequestPayment
	msg := e.st.WeChatAppID + "\n" + rp.TimeStamp + "\n" + rp.NonceStr + "\n" + rp.Package + "\n"
	sig, err := base64.StdEncoding.DecodeString(rp.PaySign)
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(msg))
	return rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, h[:], sig)
}

// dbtestEach runs fn on both databases with a fresh environment.
func dbtestEach(t *testing.T, fn func(t *testing.T, e *env)) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) { fn(t, newEnv(t, d)) })
}
