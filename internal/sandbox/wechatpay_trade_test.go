package sandbox_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/wechatpay"
	"github.com/minimall/minimall/internal/sandbox"
)

// These tests prove the sandbox's WeChat Pay against wechatpay-go itself:
// its client signs the requests and validates the signed answers, and its
// own notify handler verifies and decrypts the notifications. None of them
// goes through minimall's adapter.

// hostRewriter sends the SDK's fixed host to the sandbox.
type hostRewriter struct{ base *url.URL }

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = h.base.Scheme, h.base.Host, h.base.Host
	return http.DefaultTransport.RoundTrip(r)
}

type wechatPayFixture struct {
	sb      *sandbox.Server
	srv     *httptest.Server
	st      sandbox.Settings
	merch   *rsa.PrivateKey
	pub     *rsa.PublicKey
	client  *core.Client
	jsapi   *jsapi.JsapiApiService
	handler *notify.Handler
}

func newWXFixture(t *testing.T, schedule []time.Duration) *wechatPayFixture {
	t.Helper()
	sb := newSandbox(t, sandbox.Options{WeChatPayNotifySchedule: schedule})
	t.Cleanup(sb.StopDeliveries)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	st := sb.Settings()
	merch, err := utils.LoadPrivateKey(st.WeChatPayPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := utils.LoadPublicKey(st.WeChatPayPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	f := &wechatPayFixture{sb: sb, srv: srv, st: st, merch: merch, pub: pub}
	f.client = f.sdkClient(t, merch)
	f.jsapi = &jsapi.JsapiApiService{Client: f.client}
	f.handler, err = notify.NewRSANotifyHandler(st.WeChatPayAPIv3Key, verifiers.NewSHA256WithRSAPubkeyVerifier(st.WeChatPayPublicKeyID, *pub))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *wechatPayFixture) sdkClient(t *testing.T, key *rsa.PrivateKey) *core.Client {
	t.Helper()
	base, _ := url.Parse(f.srv.URL)
	c, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(f.st.WeChatPayMchID, f.st.WeChatPaySerial, key, f.st.WeChatPayPublicKeyID, f.pub),
		option.WithHTTPClient(&http.Client{Transport: hostRewriter{base}, Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *wechatPayFixture) prepay(t *testing.T, outTradeNo, notifyURL string, total int64) *jsapi.PrepayWithRequestPaymentResponse {
	t.Helper()
	resp, _, err := f.jsapi.PrepayWithRequestPayment(context.Background(), f.prepayRequest(outTradeNo, notifyURL, total))
	if err != nil {
		t.Fatalf("prepay: %v", err)
	}
	return resp
}

func (f *wechatPayFixture) prepayRequest(outTradeNo, notifyURL string, total int64) jsapi.PrepayRequest {
	expire := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	return jsapi.PrepayRequest{
		Appid: core.String(f.st.WeChatAppID), Mchid: core.String(f.st.WeChatPayMchID),
		Description: core.String("test order"), OutTradeNo: core.String(outTradeNo),
		TimeExpire: &expire, NotifyUrl: core.String(notifyURL),
		Amount: &jsapi.Amount{Total: core.Int64(total), Currency: core.String("CNY")},
		Payer:  &jsapi.Payer{Openid: core.String("o-test-openid")},
	}
}

func TestWeChatPayPrepayAnswersVerifyWithTheSDK(t *testing.T) {
	f := newWXFixture(t, nil)
	resp := f.prepay(t, "T"+strings.Repeat("1", 20), "https://shop.example.com/notify", 1990)
	if resp.PrepayId == nil || *resp.PrepayId == "" {
		t.Fatal("no prepay_id")
	}
	// paySign is the merchant's signature over appId, timeStamp, nonceStr
	// and package: it verifies with the merchant's public key.
	msg := *resp.Appid + "\n" + *resp.TimeStamp + "\n" + *resp.NonceStr + "\n" + *resp.Package + "\n"
	sig, _ := base64.StdEncoding.DecodeString(*resp.PaySign)
	h := sha256.Sum256([]byte(msg))
	if err := rsa.VerifyPKCS1v15(&f.merch.PublicKey, crypto.SHA256, h[:], sig); err != nil {
		t.Fatalf("paySign does not verify: %v", err)
	}
	// The same out_trade_no with the same parameters finds the same trade.
	again, _, err := f.jsapi.Prepay(context.Background(), f.prepayRequest("T"+strings.Repeat("1", 20), "https://shop.example.com/notify", 1990))
	if err != nil || *again.PrepayId != *resp.PrepayId {
		t.Fatalf("idempotent prepay: got %v, %v; want %s", again, err, *resp.PrepayId)
	}
	// Other parameters for a taken out_trade_no are refused.
	_, _, err = f.jsapi.Prepay(context.Background(), f.prepayRequest("T"+strings.Repeat("1", 20), "https://shop.example.com/notify", 1991))
	if !core.IsAPIError(err, sandbox.WeChatPayInvalidReq) {
		t.Fatalf("prepay with another amount: got %v, want %s", err, sandbox.WeChatPayInvalidReq)
	}
}

func TestWeChatPayRefusesRequestsNotSignedByTheMerchant(t *testing.T) {
	f := newWXFixture(t, nil)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := &jsapi.JsapiApiService{Client: f.sdkClient(t, other)}
	_, _, err = forged.Prepay(context.Background(), f.prepayRequest("FORGED000001", "https://shop.example.com/n", 100))
	var api *core.APIError
	if !errors.As(err, &api) || api.StatusCode != http.StatusUnauthorized || api.Code != sandbox.WeChatPaySignError {
		t.Fatalf("got %v, want 401 %s", err, sandbox.WeChatPaySignError)
	}
}

func TestWeChatPayParamErrors(t *testing.T) {
	f := newWXFixture(t, nil)
	tests := []struct {
		name   string
		mutate func(r *jsapi.PrepayRequest)
		code   string
	}{
		{"zero amount", func(r *jsapi.PrepayRequest) { r.Amount.Total = core.Int64(0) }, sandbox.WeChatPayParamError},
		{"long out_trade_no", func(r *jsapi.PrepayRequest) { r.OutTradeNo = core.String(strings.Repeat("9", 33)) }, sandbox.WeChatPayParamError},
		{"expired", func(r *jsapi.PrepayRequest) { e := time.Now().Add(-time.Minute); r.TimeExpire = &e }, sandbox.WeChatPayParamError},
		{"other app", func(r *jsapi.PrepayRequest) { r.Appid = core.String("wx0000") }, "APPID_MCHID_NOT_MATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.prepayRequest("PARAM"+strings.Repeat("7", 10), "https://shop.example.com/n", 100)
			tt.mutate(&r)
			_, _, err := f.jsapi.Prepay(context.Background(), r)
			if !core.IsAPIError(err, tt.code) {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
		})
	}
}

func TestWeChatPayQueryPayAndClose(t *testing.T) {
	f := newWXFixture(t, nil)
	ctx := context.Background()
	mch := core.String(f.st.WeChatPayMchID)
	paid := f.prepay(t, "PAID00000001", "http://127.0.0.1:1/unreachable", 500)
	open := f.prepay(t, "OPEN00000001", "http://127.0.0.1:1/unreachable", 700)

	tx, _, err := f.jsapi.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String("PAID00000001"), Mchid: mch})
	if err != nil || *tx.TradeState != sandbox.WeChatPayTradeNotPay {
		t.Fatalf("query before paying: %v, %v", tx, err)
	}
	trade, err := f.sb.PayWeChat(*paid.PrepayId, sandbox.WeChatPayPayOptions{Hold: true, CouponFen: 100})
	if err != nil {
		t.Fatal(err)
	}
	tx, _, err = f.jsapi.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String("PAID00000001"), Mchid: mch})
	if err != nil || *tx.TradeState != sandbox.WeChatPayTradeSuccess || *tx.Amount.Total != 500 || *tx.Amount.PayerTotal != 400 {
		t.Fatalf("query after paying: %v, %v", tx, err)
	}
	byID, _, err := f.jsapi.QueryOrderById(ctx, jsapi.QueryOrderByIdRequest{TransactionId: core.String(trade.TransactionID), Mchid: mch})
	if err != nil || *byID.OutTradeNo != "PAID00000001" {
		t.Fatalf("query by transaction id: %v, %v", byID, err)
	}

	tests := []struct {
		name       string
		outTradeNo string
		wantCode   string // "" for 204
	}{
		{"unpaid trade closes", "OPEN00000001", ""},
		{"closing twice is fine", "OPEN00000001", ""},
		{"paid trade refuses", "PAID00000001", sandbox.WeChatPayOrderPaid},
		{"unknown trade", "NOPE00000001", sandbox.WeChatPayOrderNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.jsapi.CloseOrder(ctx, jsapi.CloseOrderRequest{OutTradeNo: core.String(tt.outTradeNo), Mchid: mch})
			if tt.wantCode == "" {
				if err != nil || res.Response.StatusCode != http.StatusNoContent {
					t.Fatalf("close: %v", err)
				}
				return
			}
			if !core.IsAPIError(err, tt.wantCode) {
				t.Fatalf("got %v, want %s", err, tt.wantCode)
			}
		})
	}
	if _, err := f.sb.PayWeChat(*open.PrepayId, sandbox.WeChatPayPayOptions{}); err == nil || !strings.Contains(err.Error(), sandbox.WeChatPayOrderClosed) {
		t.Fatalf("paying a closed trade: got %v, want %s", err, sandbox.WeChatPayOrderClosed)
	}
	_, _, err = f.jsapi.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String("NOPE00000001"), Mchid: mch})
	if !core.IsAPIError(err, sandbox.WeChatPayOrderNotExist) {
		t.Fatalf("query unknown: got %v", err)
	}
}

func TestWeChatPayInjectedFailure(t *testing.T) {
	f := newWXFixture(t, nil)
	f.sb.FailWeChatPay(sandbox.WeChatPayFailure{Times: 1, Status: 500, Code: sandbox.WeChatPaySystemError, Message: "系统错误"})
	_, _, err := f.jsapi.Prepay(context.Background(), f.prepayRequest("FAIL00000001", "https://x.example.com/n", 1))
	var api *core.APIError
	if !errors.As(err, &api) || api.StatusCode != 500 || api.Code != sandbox.WeChatPaySystemError {
		t.Fatalf("got %v, want 500 SYSTEM_ERROR", err)
	}
	if _, _, err := f.jsapi.Prepay(context.Background(), f.prepayRequest("FAIL00000001", "https://x.example.com/n", 1)); err != nil {
		t.Fatalf("after the failure: %v", err)
	}
}

// sdkReceiver is a merchant notify endpoint built on the SDK's own handler.
type sdkReceiver struct {
	mu       sync.Mutex
	handler  *notify.Handler
	failFor  int // answer 500 to this many verified deliveries first
	got      []payments.Transaction
	ids      []string
	refusals []string
}

func (rcv *sdkReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var tx payments.Transaction
	req, err := rcv.handler.ParseNotifyRequest(r.Context(), r, &tx)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if err != nil {
		rcv.refusals = append(rcv.refusals, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rcv.got = append(rcv.got, tx)
	rcv.ids = append(rcv.ids, req.ID)
	if rcv.failFor > 0 {
		rcv.failFor--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestWeChatPayNotificationVerifiesAndRetriesReSigned(t *testing.T) {
	f := newWXFixture(t, []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond})
	rcv := &sdkReceiver{handler: f.handler, failFor: 2}
	merchant := httptest.NewServer(rcv)
	defer merchant.Close()

	resp := f.prepay(t, "NOTIFY000001", merchant.URL+"/notify", 1234)
	trade, err := f.sb.PayWeChat(*resp.PrepayId, sandbox.WeChatPayPayOptions{CouponFen: 34})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.sb.WeChatPayAcknowledged("NOTIFY000001"):
	case <-time.After(10 * time.Second):
		t.Fatalf("not acknowledged; deliveries: %+v", f.sb.WeChatPayDeliveries("NOTIFY000001"))
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 3 || len(rcv.refusals) != 0 {
		t.Fatalf("verified deliveries = %d, refusals %v; want 3 and none", len(rcv.got), rcv.refusals)
	}
	for i, tx := range rcv.got {
		if *tx.OutTradeNo != "NOTIFY000001" || *tx.TransactionId != trade.TransactionID || *tx.TradeState != "SUCCESS" ||
			*tx.Amount.Total != 1234 || *tx.Amount.PayerTotal != 1200 || *tx.Appid != f.st.WeChatAppID || *tx.Mchid != f.st.WeChatPayMchID {
			t.Errorf("delivery %d decrypted to %v", i, tx)
		}
		if rcv.ids[i] != rcv.ids[0] {
			t.Errorf("retry %d has id %s, want the first delivery's %s", i, rcv.ids[i], rcv.ids[0])
		}
	}
	ds := f.sb.WeChatPayDeliveries("NOTIFY000001")
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.Nonce] {
			t.Errorf("nonce %s reused: retries must be re-signed", d.Nonce)
		}
		seen[d.Nonce] = true
	}
	if got := []int{ds[0].Status, ds[1].Status, ds[2].Status}; got[0] != 500 || got[1] != 500 || got[2] != 204 {
		t.Errorf("statuses = %v, want [500 500 204]", got)
	}
}

func TestWeChatPayTamperedNotificationsAgainstTheSDK(t *testing.T) {
	f := newWXFixture(t, nil)
	rcv := &sdkReceiver{handler: f.handler}
	merchant := httptest.NewServer(rcv)
	defer merchant.Close()
	resp := f.prepay(t, "TAMPER000001", merchant.URL, 800)
	if _, err := f.sb.PayWeChat(*resp.PrepayId, sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tamper   string
		verifies bool
		check    func(tx payments.Transaction) bool
	}{
		{sandbox.TamperNone, true, func(tx payments.Transaction) bool { return *tx.Amount.Total == 800 }},
		{sandbox.TamperSignature, false, nil},
		{sandbox.TamperBody, false, nil},
		{sandbox.TamperForeignKey, false, nil},
		{sandbox.TamperProbe, false, nil},
		{sandbox.TamperStale, false, nil}, // the SDK's own freshness check
		{sandbox.TamperAmount, true, func(tx payments.Transaction) bool { return *tx.Amount.Total == 801 }},
		{sandbox.TamperAppID, true, func(tx payments.Transaction) bool { return *tx.Appid != f.st.WeChatAppID }},
		{sandbox.TamperMchID, true, func(tx payments.Transaction) bool { return *tx.Mchid != f.st.WeChatPayMchID }},
		{sandbox.TamperOutTradeNo, true, func(tx payments.Transaction) bool { return *tx.OutTradeNo != "TAMPER000001" }},
	}
	for _, tt := range tests {
		t.Run("tamper="+tt.tamper, func(t *testing.T) {
			rcv.mu.Lock()
			before := len(rcv.got)
			rcv.mu.Unlock()
			ds, err := f.sb.DeliverWeChatPay(context.Background(), "TAMPER000001", sandbox.WeChatPayDeliverOptions{Tamper: tt.tamper})
			if err != nil {
				t.Fatal(err)
			}
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			verified := len(rcv.got) > before
			if verified != tt.verifies {
				t.Fatalf("verified = %v, want %v (status %d)", verified, tt.verifies, ds[0].Status)
			}
			if verified && !tt.check(rcv.got[len(rcv.got)-1]) {
				t.Fatalf("decrypted %v", rcv.got[len(rcv.got)-1])
			}
		})
	}
}

func TestWeChatPayControlRoutes(t *testing.T) {
	f := newWXFixture(t, nil)
	rcv := &sdkReceiver{handler: f.handler}
	merchant := httptest.NewServer(rcv)
	defer merchant.Close()
	resp := f.prepay(t, "CONTROL00001", merchant.URL, 300)
	post := func(path, body string) (int, map[string]any) {
		r, err := http.Post(f.srv.URL+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var m map[string]any
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &m)
		return r.StatusCode, m
	}
	if code, m := post("/_sandbox/wechatpay/pay", `{"prepay_id":"`+*resp.PrepayId+`","hold":true}`); code != 200 || m["trade_state"] != "SUCCESS" {
		t.Fatalf("pay: %d %v", code, m)
	}
	if code, m := post("/_sandbox/wechatpay/pay", `{"prepay_id":"`+*resp.PrepayId+`"}`); code != 400 || m["code"] != sandbox.WeChatPayOrderPaid {
		t.Fatalf("pay twice: %d %v", code, m)
	}
	code, m := post("/_sandbox/wechatpay/deliver", `{"out_trade_no":"CONTROL00001","copies":5}`)
	if code != 200 || len(m["deliveries"].([]any)) != 5 {
		t.Fatalf("deliver: %d %v", code, m)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 5 {
		t.Fatalf("verified deliveries = %d, want 5", len(rcv.got))
	}
	for _, id := range rcv.ids {
		if id != rcv.ids[0] {
			t.Fatalf("duplicates carry ids %v, want one id", rcv.ids)
		}
	}
}

func TestWeChatPayFilesConfigureTheAdapter(t *testing.T) {
	f := newWXFixture(t, nil)
	env, err := f.sb.WeChatPayFiles(t.TempDir(), f.srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("", func(k string) string {
		if k == "MINIMALL_WECHAT_APPID" {
			return f.st.WeChatAppID
		}
		return env[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	wc, err := wechatpay.ConfigFrom(cfg.WeChatPay, cfg.WeChat.AppID)
	if err != nil {
		t.Fatal(err)
	}
	client, err := wechatpay.New(wc, clock.System{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Query(context.Background(), "NOPE00000002")
	if wechatpay.PlatformCode(err) != sandbox.WeChatPayOrderNotExist {
		t.Fatalf("query through the configured adapter: %v, want %s", err, sandbox.WeChatPayOrderNotExist)
	}
}
