package sandbox_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/minimall/minimall/internal/sandbox"
)

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// received is one notification as smartwalle decoded it.
type received struct {
	form url.Values
	n    *sdk.Notification
	err  error
}

// sdkMerchant answers notifications the way a merchant using smartwalle
// directly would: DecodeNotification, then "success" only when it verifies.
func sdkMerchant(t *testing.T, c *sdk.Client) (string, chan received) {
	t.Helper()
	got := make(chan received, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "fail", http.StatusBadRequest)
			return
		}
		n, err := c.DecodeNotification(r.Context(), r.PostForm)
		got <- received{form: r.PostForm, n: n, err: err}
		if err != nil {
			_, _ = w.Write([]byte("fail"))
			return
		}
		sdk.ACKNotification(w)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

// TestAlipayTradesAndNotificationsVerifyWithSDK drives trade.create, query
// and close with smartwalle's own client (which verifies every response's
// signature) and verifies the sandbox's notifications with smartwalle's own
// DecodeNotification: the genuine one verifies, the altered ones do not.
func TestAlipayTradesAndNotificationsVerifyWithSDK(t *testing.T) {
	sb, base := start(t, sandbox.Options{AlipayNotifySchedule: []time.Duration{time.Millisecond, time.Millisecond}})
	t.Cleanup(sb.StopDeliveries)
	c := sdkClient(t, sb, base, shanghai(t), nil)
	notifyURL, got := sdkMerchant(t, c)
	ctx := context.Background()
	out := "SDK" + strconv.FormatInt(time.Now().UnixNano(), 10)
	create := sdk.TradeCreate{
		Trade: sdk.Trade{
			NotifyURL: notifyURL, Subject: "商品", OutTradeNo: out, TotalAmount: "0.01", ProductCode: "JSAPI_PAY",
			TimeExpire: time.Now().Add(time.Hour).In(shanghai(t)).Format("2006-01-02 15:04:05"),
		},
		BuyerId: sandbox.AlipayUserID("alice"),
	}
	res, err := c.TradeCreate(ctx, create)
	if err != nil || !res.IsSuccess() || res.TradeNo == "" || res.OutTradeNo != out {
		t.Fatalf("trade.create through the SDK: %+v, %v", res, err)
	}
	q, err := c.TradeQuery(ctx, sdk.TradeQuery{OutTradeNo: out})
	if err != nil || !q.IsSuccess() || q.TradeStatus != sdk.TradeStatusWaitBuyerPay || q.TotalAmount != "0.01" {
		t.Fatalf("trade.query: %+v, %v", q, err)
	}
	// A business failure is signed too: the SDK returns it with err == nil.
	q2, err := c.TradeQuery(ctx, sdk.TradeQuery{OutTradeNo: "NOPE"})
	if err != nil || q2.IsSuccess() || q2.SubCode != sandbox.AlipayTradeNotExist || q2.Code != "40004" {
		t.Fatalf("query of an unknown trade: %+v, %v", q2, err)
	}

	if _, err := sb.PayAlipay(res.TradeNo, sandbox.AlipayPayOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sb.AlipayAcknowledged(out):
	case <-time.After(10 * time.Second):
		t.Fatalf("not acknowledged: %+v", sb.AlipayDeliveries(out))
	}
	r := <-got
	if r.err != nil || r.n.TradeStatus != sdk.TradeStatusSuccess || r.n.TotalAmount != "0.01" || r.n.TradeNo != res.TradeNo ||
		r.n.AppId != sb.Settings().AlipayAppID || r.n.SellerId != sb.Settings().AlipaySellerID || r.n.NotifyId == "" ||
		r.n.GmtPayment == "" || r.n.SignType != "RSA2" {
		t.Fatalf("genuine notification: %+v, %v", r.n, r.err)
	}
	// The same notification verified directly with VerifySign, and refused
	// once any parameter changes.
	if err := c.VerifySign(ctx, r.form); err != nil {
		t.Fatalf("VerifySign: %v", err)
	}
	altered := url.Values{}
	for k, v := range r.form {
		altered[k] = v
	}
	altered.Set("total_amount", "100.00")
	if err := c.VerifySign(ctx, altered); err == nil {
		t.Fatal("VerifySign accepted an altered total_amount")
	}

	// Signed but altered content verifies (the checks are the merchant's);
	// unsigned alterations do not.
	tests := []struct {
		tamper   string
		verifies bool
	}{
		{sandbox.AlipayTamperSignature, false},
		{sandbox.AlipayTamperBody, false},
		{sandbox.AlipayTamperForeignKey, false},
		{sandbox.AlipayTamperAmount, true},
		{sandbox.AlipayTamperAppID, true},
		{sandbox.AlipayTamperSellerID, true},
	}
	for _, tt := range tests {
		t.Run(tt.tamper, func(t *testing.T) {
			ds, err := sb.DeliverAlipay(ctx, out, sandbox.AlipayDeliverOptions{Tamper: tt.tamper})
			if err != nil {
				t.Fatal(err)
			}
			r := <-got
			if (r.err == nil) != tt.verifies || (ds[0].Body == "success") != tt.verifies {
				t.Fatalf("verifies = %v (%v), answered %q; want %v", r.err == nil, r.err, ds[0].Body, tt.verifies)
			}
			if tt.tamper == sandbox.AlipayTamperAmount && r.n.TotalAmount != "0.02" {
				t.Fatalf("amount tamper carried %s", r.n.TotalAmount)
			}
		})
	}

	// A paid trade cannot be closed; an unpaid one can.
	cl, err := c.TradeClose(ctx, sdk.TradeClose{OutTradeNo: out})
	if err != nil || cl.IsSuccess() || cl.SubCode != sandbox.AlipayTradeStatusError {
		t.Fatalf("close of a paid trade: %+v, %v", cl, err)
	}
}

// TestAlipayNotificationRetriesUntilSuccess proves deliveries are retried
// until the answer is exactly "success": a merchant answering "SUCCESS " is
// not acknowledged.
func TestAlipayNotificationRetriesUntilSuccess(t *testing.T) {
	sb, base := start(t, sandbox.Options{AlipayNotifySchedule: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}})
	t.Cleanup(sb.StopDeliveries)
	c := sdkClient(t, sb, base, shanghai(t), nil)
	answers := make(chan string, 8)
	for _, a := range []string{"SUCCESS", "success\n", "fail", "success"} {
		answers <- a
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(<-answers))
	}))
	t.Cleanup(srv.Close)
	out := "RTY" + strconv.FormatInt(time.Now().UnixNano(), 10)
	res, err := c.TradeCreate(context.Background(), sdk.TradeCreate{
		Trade:   sdk.Trade{NotifyURL: srv.URL, Subject: "x", OutTradeNo: out, TotalAmount: "1.00", ProductCode: "JSAPI_PAY"},
		BuyerId: sandbox.AlipayUserID("bob"),
	})
	if err != nil || !res.IsSuccess() {
		t.Fatalf("%+v, %v", res, err)
	}
	if _, err := sb.PayAlipay(res.TradeNo, sandbox.AlipayPayOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sb.AlipayAcknowledged(out):
	case <-time.After(10 * time.Second):
		t.Fatalf("not acknowledged: %+v", sb.AlipayDeliveries(out))
	}
	ds := sb.AlipayDeliveries(out)
	if len(ds) != 4 || ds[3].Body != "success" {
		t.Fatalf("deliveries %+v, want 4 ending with success", ds)
	}
	if ds[0].NotifyID != ds[3].NotifyID {
		t.Fatal("a retry changed the notify_id")
	}
}

// TestAlipayCertModeWithSDK configures smartwalle itself in certificate mode
// with the sandbox's certificates: requests carry the serials the gateway
// checks, and responses verify with the Alipay certificate's key.
func TestAlipayCertModeWithSDK(t *testing.T) {
	sb, base := start(t, sandbox.Options{AlipayCertMode: true})
	t.Cleanup(sb.StopDeliveries)
	s := sb.Settings()
	c, err := sdk.New(s.AlipayAppID, s.AlipayAppPrivateKey, true,
		sdk.WithProductionGateway(sandbox.EndpointsAt(base).AlipayGateway), sdk.WithTimeLocation(shanghai(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, load := range []func() error{
		func() error { return c.LoadAppCertPublicKey(s.AlipayAppCert) },
		func() error { return c.LoadAliPayRootCert(s.AlipayRootCert) },
		func() error { return c.LoadAlipayCertPublicKey(s.AlipayPublicCert) },
	} {
		if err := load(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.TradeCreate(context.Background(), sdk.TradeCreate{
		Trade:   sdk.Trade{NotifyURL: "https://shop.example.com/n", Subject: "x", OutTradeNo: "CERT1", TotalAmount: "1.00", ProductCode: "JSAPI_PAY"},
		BuyerId: sandbox.AlipayUserID("carol"),
	})
	if err != nil || !res.IsSuccess() {
		t.Fatalf("certificate-mode trade.create: %+v, %v", res, err)
	}
	// Without the serials the gateway refuses, as Alipay does for a
	// certificate-mode app.
	plain := sdkClient(t, sb, base, shanghai(t), nil)
	if _, err := plain.TradeQuery(context.Background(), sdk.TradeQuery{OutTradeNo: "CERT1"}); err == nil {
		t.Fatal("a request without certificate serials was answered")
	}
}
