package aftersale_test

import (
	"golang.org/x/crypto/bcrypt"
	"sync"

	"bytes"
	"context"
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

	"github.com/minimall/minimall/internal/address"
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

// env is the whole shop on a real database, served over HTTP, with WeChat,
// WeChat Pay and Alipay pointed at an in-process sandbox: every payment and
// refund goes through the real SDKs, the real router and the real modules.
type env struct {
	t     *testing.T
	d     *db.DB
	clk   *clock.Fake
	sb    *sandbox.Server
	api   *httptest.Server
	app   *app.App
	cat   *catalog.Service
	addrs *address.Service
	owner string
	cid   int64
	seq   atomic.Int64
}

const freightFen = 1000

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	fast := []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond}
	keys, err := sandboxKeys()
	must(t, err)
	sb, err := sandbox.New(sandbox.Options{Keys: keys, WeChatPayNotifySchedule: fast, AlipayNotifySchedule: fast})
	must(t, err)
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	t.Cleanup(sb.StopDeliveries)
	st := sb.Settings()
	dir := t.TempDir()
	files := map[string]string{
		"wx_key.pem": st.WeChatPayPrivateKey, "wx_pub.pem": st.WeChatPayPublicKey,
		"ali_key.pem": st.AlipayAppPrivateKey, "ali_pub.pem": st.AlipayPublicKey,
	}
	for name, pem := range files {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(pem), 0o600))
	}
	var handler atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	vars := map[string]string{
		"MINIMALL_PUBLIC_BASE_URL":            api.URL,
		"MINIMALL_FREIGHT_FEN":                fmt.Sprint(freightFen),
		"MINIMALL_FREE_FREIGHT_OVER_FEN":      "0",
		"MINIMALL_WECHAT_APPID":               st.WeChatAppID,
		"MINIMALL_WECHAT_SECRET":              st.WeChatSecret,
		"MINIMALL_WECHAT_API_BASE":            sbSrv.URL,
		"MINIMALL_WECHATPAY_MCHID":            st.WeChatPayMchID,
		"MINIMALL_WECHATPAY_SERIAL":           st.WeChatPaySerial,
		"MINIMALL_WECHATPAY_PRIVATE_KEY_FILE": filepath.Join(dir, "wx_key.pem"),
		"MINIMALL_WECHATPAY_APIV3_KEY":        st.WeChatPayAPIv3Key,
		"MINIMALL_WECHATPAY_PUBLIC_KEY_ID":    st.WeChatPayPublicKeyID,
		"MINIMALL_WECHATPAY_PUBLIC_KEY_FILE":  filepath.Join(dir, "wx_pub.pem"),
		"MINIMALL_WECHATPAY_API_BASE":         sbSrv.URL,
		"MINIMALL_ALIPAY_APPID":               st.AlipayAppID,
		"MINIMALL_ALIPAY_PRIVATE_KEY_FILE":    filepath.Join(dir, "ali_key.pem"),
		"MINIMALL_ALIPAY_PUBLIC_KEY_FILE":     filepath.Join(dir, "ali_pub.pem"),
		"MINIMALL_ALIPAY_GATEWAY":             sandbox.EndpointsAt(sbSrv.URL).AlipayGateway,
		"MINIMALL_ALIPAY_SELLER_ID":           st.AlipaySellerID,
	}
	cfg, err := config.Load("", func(k string) string { return vars[k] })
	must(t, err)
	// The sandbox checks time_expire against the real clock.
	clk := clock.NewFake(time.Now())
	a, err := app.New(cfg, d, slog.New(slog.NewTextHandler(io.Discard, nil)), clk)
	must(t, err)
	handler.Store(a.Handler())

	e := &env{t: t, d: d, clk: clk, sb: sb, api: api, app: a}
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
	name := "杂货"
	c, err := e.cat.CreateCategory(context.Background(), 1, catalog.CategoryInput{Name: &name})
	must(t, err)
	e.cid = c.ID
	e.owner = e.staffToken("boss", auth.RoleOwner)
	return e
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) { fn(t, newEnv(t, d)) })
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// product creates an on-shelf product with SKUs at priceFen, each with
// stock units; it returns the SKU ids.
func (e *env) product(priceFen, stock int64, skus int) []int64 {
	e.t.Helper()
	n := e.seq.Add(1)
	in := catalog.ProductInput{CategoryID: e.cid, Title: fmt.Sprintf("商品 %d", n),
		Images: []string{fmt.Sprintf("https://img.example.com/%d.jpg", n)}}
	for i := range skus {
		in.SKUs = append(in.SKUs, catalog.SKUInput{Code: fmt.Sprintf("SKU-%d-%d", n, i),
			Specs: map[string]string{"颜色": fmt.Sprintf("色%d", i)}, PriceFen: priceFen, Stock: stock})
	}
	p, err := e.cat.CreateProduct(context.Background(), 1, in, true)
	must(e.t, err)
	ids := make([]int64, len(p.SKUs))
	for i, k := range p.SKUs {
		ids[i] = k.ID
	}
	return ids
}

// stock reads a SKU's stock.
func (e *env) stock(skuID int64) int64 {
	return e.count("SELECT stock FROM skus WHERE id = ?", skuID)
}

// status reads the status column of a row.
func (e *env) status(table string, id int64) string {
	e.t.Helper()
	var st string
	must(e.t, e.d.Reader(context.Background()).Raw("SELECT status FROM "+table+" WHERE id = ?", id).Scan(&st).Error)
	return st
}

func (e *env) count(query string, args ...any) int64 {
	e.t.Helper()
	var n int64
	must(e.t, e.d.Reader(context.Background()).Raw(query, args...).Scan(&n).Error)
	return n
}

type customer struct {
	id      int64
	token   string
	address int64
	channel string
}

// login logs name in on channel (wechat or alipay) and gives it an address.
func (e *env) login(name, channel string) customer {
	e.t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	e.call("", http.MethodPost, "/api/v1/auth/"+channel+"/login", map[string]string{"code": "test-" + name}, http.StatusOK, &out)
	a, err := e.addrs.Create(context.Background(), out.User.ID, address.Input{
		Name: "张三", Phone: "13800138000", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "文三路 1 号",
	})
	must(e.t, err)
	return customer{id: out.User.ID, token: out.AccessToken, address: a.ID, channel: channel}
}

// staffToken creates a staff member of role and logs it in.
func (e *env) staffToken(name string, role auth.Role) string {
	e.t.Helper()
	tokens, err := auth.NewTokens(config.DevJWTSecret, e.clk)
	must(e.t, err)
	lg, err := audit.New(e.d, e.clk)
	must(e.t, err)
	us, err := staff.NewStore(e.d)
	must(e.t, err)
	passwords, err := auth.NewPasswords(bcrypt.MinCost)
	must(e.t, err)
	sealer, err := staff.TOTPSealer(nil, config.DevJWTSecret)
	must(e.t, err)
	svc, err := staff.NewService(e.d, us, passwords, tokens, lg, e.clk, sealer)
	must(e.t, err)
	_, err = svc.Create(context.Background(), staff.SystemActor, staff.NewAccount{Username: name, Password: name + "-password", Role: role})
	must(e.t, err)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	e.call("", http.MethodPost, "/api/v1/admin/auth/login", map[string]string{"username": name, "password": name + "-password"}, http.StatusOK, &out)
	return out.AccessToken
}

type orderItem struct {
	ID               int64 `json:"id"`
	SKUID            int64 `json:"sku_id"`
	Quantity         int64 `json:"quantity"`
	SubtotalFen      int64 `json:"subtotal_fen"`
	RefundedQuantity int64 `json:"refunded_quantity"`
	AfterSaleOpen    bool  `json:"aftersale_open"`
}

type orderJSON struct {
	ID          int64       `json:"id"`
	Status      string      `json:"status"`
	Items       []orderItem `json:"items"`
	FreightFen  int64       `json:"freight_fen"`
	TotalFen    int64       `json:"total_fen"`
	PaidFen     int64       `json:"paid_fen"`
	RefundedFen int64       `json:"refunded_fen"`
	OutTradeNo  string      `json:"-"`
}

// paidOrder places an order of the given SKU quantities (pairs of SKU id
// and quantity) and pays it on the customer's channel through the sandbox.
func (e *env) paidOrder(c customer, lines ...[2]int64) orderJSON {
	e.t.Helper()
	items := make([]map[string]int64, len(lines))
	for i, l := range lines {
		items[i] = map[string]int64{"sku_id": l[0], "quantity": l[1]}
	}
	var o orderJSON
	e.call(c.token, http.MethodPost, "/api/v1/orders", map[string]any{"address_id": c.address, "items": items}, http.StatusCreated, &o)
	var p struct {
		OutTradeNo     string `json:"out_trade_no"`
		TradeNo        string `json:"trade_no"`
		RequestPayment struct {
			Package string `json:"package"`
		} `json:"request_payment"`
	}
	e.call(c.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", o.ID), map[string]string{"channel": c.channel}, http.StatusOK, &p)
	switch c.channel {
	case "wechat":
		_, err := e.sb.PayWeChat(strings.TrimPrefix(p.RequestPayment.Package, "prepay_id="), sandbox.WeChatPayPayOptions{})
		must(e.t, err)
		select {
		case <-e.sb.WeChatPayAcknowledged(p.OutTradeNo):
		case <-time.After(15 * time.Second):
			e.t.Fatal("payment notification not acknowledged")
		}
	default:
		_, err := e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{})
		must(e.t, err)
		select {
		case <-e.sb.AlipayAcknowledged(p.OutTradeNo):
		case <-time.After(15 * time.Second):
			e.t.Fatal("payment notification not acknowledged")
		}
	}
	o = e.order(c, o.ID)
	if o.Status != "paid" {
		e.t.Fatalf("order %d is %s after payment", o.ID, o.Status)
	}
	o.OutTradeNo = p.OutTradeNo
	return o
}

func (e *env) order(c customer, id int64) orderJSON {
	e.t.Helper()
	var o orderJSON
	e.call(c.token, http.MethodGet, fmt.Sprintf("/api/v1/orders/%d", id), nil, http.StatusOK, &o)
	return o
}

// refundedAtPlatform is what the platform refunded of a trade.
func (e *env) refundedAtPlatform(channel, outTradeNo string) int64 {
	if channel == "alipay" {
		return e.sb.AlipayRefundedFen(outTradeNo)
	}
	var n int64
	for _, r := range e.sb.WeChatRefundsOfTrade(outTradeNo) {
		if r.Status == sandbox.WeChatPayRefundSuccess {
			n += r.RefundFen
		}
	}
	return n
}

func (e *env) ship(orderID int64) {
	e.t.Helper()
	e.call(e.owner, http.MethodPost, fmt.Sprintf("/api/v1/admin/orders/%d/ship", orderID),
		map[string]string{"carrier": "SF", "tracking_no": fmt.Sprintf("SF%010d", orderID)}, http.StatusOK, nil)
}

type requestJSON struct {
	ID             int64  `json:"id"`
	OrderID        int64  `json:"order_id"`
	Type           string `json:"type"`
	Status         string `json:"status"`
	ComputedFen    int64  `json:"computed_fen"`
	RefundFen      int64  `json:"refund_fen"`
	FreightFen     int64  `json:"freight_fen"`
	BeforeShipping bool   `json:"before_shipping"`
	OutRefundNo    string `json:"out_refund_no"`
	RefundStatus   string `json:"refund_status"`
	RefundDetail   string `json:"refund_detail"`
	History        []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"history"`
}

// ask makes a request of typ for lines (pairs of order item id and
// quantity) and checks the status.
func (e *env) ask(c customer, orderID int64, typ string, want int, lines ...[3]int64) requestJSON {
	e.t.Helper()
	items := make([]map[string]int64, len(lines))
	for i, l := range lines {
		items[i] = map[string]int64{"order_item_id": l[0], "quantity": l[1]}
		if l[2] != 0 {
			items[i]["exchange_sku_id"] = l[2]
		}
	}
	reason := map[string]string{"refund_only": "no_longer_needed", "return_refund": "damaged", "exchange": "wrong_size"}[typ]
	var r requestJSON
	e.call(c.token, http.MethodPost, "/api/v1/aftersales", map[string]any{"order_id": orderID, "type": typ, "items": items,
		"reason": reason, "description": "说明", "images": []string{"https://img.example.com/a.jpg"}}, want, &r)
	return r
}

func (e *env) staffAct(token string, id int64, action string, body any, want int) requestJSON {
	e.t.Helper()
	var r requestJSON
	e.call(token, http.MethodPost, fmt.Sprintf("/api/v1/admin/aftersales/%d/%s", id, action), body, want, &r)
	return r
}

func (e *env) request(c customer, id int64) requestJSON {
	e.t.Helper()
	var r requestJSON
	e.call(c.token, http.MethodGet, fmt.Sprintf("/api/v1/aftersales/%d", id), nil, http.StatusOK, &r)
	return r
}

// settle runs the payment refund job and the after-sales refund job once,
// as a server does every few seconds, after the clock passed their waits.
func (e *env) settle() {
	e.t.Helper()
	e.clk.Advance(time.Hour)
	ctx := context.Background()
	if _, err := e.app.Payments().SettleRefunds(ctx, 100); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.app.AfterSales().SettleRefunds(ctx, 100); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) call(token, method, path string, body any, want int, out any) []byte {
	e.t.Helper()
	status, raw := e.do(token, method, path, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, raw)
	}
	if out != nil && len(raw) > 0 {
		must(e.t, json.Unmarshal(raw, out))
	}
	return raw
}

func (e *env) do(token, method, path string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, []byte(err.Error())
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.api.URL+path, rd)
	if err != nil {
		return 0, []byte(err.Error())
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func errCode(raw []byte) string {
	var b struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &b)
	return b.Error.Code
}
