package alipay_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/alipay"
	"github.com/minimall/minimall/internal/sandbox"
)

func TestFormatYuan(t *testing.T) {
	tests := []struct {
		fen  int64
		want string
	}{
		{0, "0.00"}, {1, "0.01"}, {9, "0.09"}, {10, "0.10"}, {99, "0.99"}, {100, "1.00"}, {101, "1.01"},
		{1990, "19.90"}, {1999, "19.99"}, {123456, "1234.56"}, {100_000_000, "1000000.00"},
		{alipay.MaxTradeFen, "100000000.00"},
	}
	for _, tt := range tests {
		got, err := alipay.FormatYuan(tt.fen)
		if err != nil || got != tt.want {
			t.Errorf("FormatYuan(%d) = %q, %v; want %q", tt.fen, got, err, tt.want)
		}
	}
	if _, err := alipay.FormatYuan(-1); err == nil {
		t.Error("FormatYuan(-1) accepted")
	}
}

func TestParseYuan(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"0.01", 1}, {"0.1", 10}, {"0.10", 10}, {"1", 100}, {"19.90", 1990}, {"19.9", 1990}, {"88.88", 8888},
		{"1000000.00", 100_000_000}, {"100000000.00", alipay.MaxTradeFen}, {"0", 0}, {"0.00", 0},
	}
	for _, tt := range good {
		got, err := alipay.ParseYuan(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		"", " ", "1.001", "19.999", "-1.00", "+1.00", "1e2", "1E2", "0x10", " 1.00", "1.00 ", "1,00", "1.", ".5",
		"01.00", "00", "1.0a", "１.00", "NaN", "Inf", "1_000.00", "1.-1", "9999999999999999.00",
	} {
		if got, err := alipay.ParseYuan(in); err == nil {
			t.Errorf("ParseYuan(%q) = %d, want an error", in, got)
		}
	}
}

// TestYuanRoundTrip formats and parses every amount from 1 fen to 100,000
// fen and many random ones up to 100,000,000 fen, and checks each string
// against a decimal written independently.
func TestYuanRoundTrip(t *testing.T) {
	check := func(fen int64) {
		s, err := alipay.FormatYuan(fen)
		if err != nil {
			t.Fatalf("FormatYuan(%d): %v", fen, err)
		}
		want := strconv.FormatInt(fen/100, 10) + "." + strconv.FormatInt(100+fen%100, 10)[1:]
		if s != want {
			t.Fatalf("FormatYuan(%d) = %q, want %q", fen, s, want)
		}
		back, err := alipay.ParseYuan(s)
		if err != nil || back != fen {
			t.Fatalf("ParseYuan(%q) = %d, %v; want %d", s, back, err, fen)
		}
	}
	for fen := int64(1); fen <= 100_000; fen++ {
		check(fen)
	}
	r := rand.New(rand.NewPCG(8, 8))
	for range 200_000 {
		check(1 + r.Int64N(100_000_000))
	}
	check(100_000_000)
}

// payClient is a client of a sandbox, with the sandbox's own view.
func payClient(t *testing.T, opts sandbox.Options) (*alipay.Client, *sandbox.Server) {
	t.Helper()
	c, sb := newClient(t, opts)
	t.Cleanup(sb.StopDeliveries)
	return c, sb
}

func TestTradeCreateQueryClose(t *testing.T) {
	ctx := context.Background()
	c, sb := payClient(t, sandbox.Options{})
	expire := time.Now().Add(30 * time.Minute)
	req := alipay.TradeCreateRequest{
		OutTradeNo: "AL" + strconv.FormatInt(time.Now().UnixNano(), 10), Subject: "测试商品", AmountFen: 1990,
		BuyerID: sandbox.AlipayUserID("alice"), TimeExpire: expire, NotifyURL: "https://shop.example.com/api/v1/notify/alipay",
	}
	tradeNo, err := c.TradeCreate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := sb.AlipayTradeOf(req.OutTradeNo)
	wantExpire := expire.In(time.FixedZone("CST", 8*3600)).Format(alipay.TimeFormat)
	if !ok || tr.TradeNo != tradeNo || tr.TotalAmount != "19.90" || tr.BuyerID != req.BuyerID || tr.TimeExpire != wantExpire ||
		tr.NotifyURL != req.NotifyURL || tr.Subject != req.Subject {
		t.Fatalf("trade at Alipay %+v (trade_no %s, want expire %s)", tr, tradeNo, wantExpire)
	}
	// The same request finds the same trade.
	if again, err := c.TradeCreate(ctx, req); err != nil || again != tradeNo {
		t.Fatalf("repeated trade.create: %s, %v", again, err)
	}
	// Other content under the same out_trade_no is refused.
	other := req
	other.AmountFen = 2000
	if _, err := c.TradeCreate(ctx, other); apperr.CodeOf(err) != apperr.CodeUpstreamError || alipay.SubCode(err) != sandbox.AlipayContextInconsisent {
		t.Fatalf("changed trade: %v (sub_code %s)", err, alipay.SubCode(err))
	}
	q, err := c.Query(ctx, req.OutTradeNo)
	if err != nil || q.Status != alipay.TradeWaitBuyerPay || q.TotalFen != 1990 || q.TradeNo != tradeNo || q.PaidAt != nil {
		t.Fatalf("query: %+v, %v", q, err)
	}
	if err := c.Close(ctx, req.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	if q, err := c.Query(ctx, req.OutTradeNo); err != nil || q.Status != alipay.TradeClosed {
		t.Fatalf("query after close: %+v, %v", q, err)
	}
	if err := c.Close(ctx, req.OutTradeNo); alipay.SubCode(err) != alipay.SubCodeTradeStatusError {
		t.Fatalf("closing a closed trade: %v", err)
	}
	if _, err := c.Query(ctx, "NOPE123"); alipay.SubCode(err) != alipay.SubCodeTradeNotExist || apperr.CodeOf(err) != apperr.CodeUpstreamError {
		t.Fatalf("query of an unknown trade: %v", err)
	}
	if err := c.Close(ctx, "NOPE123"); alipay.SubCode(err) != alipay.SubCodeTradeNotExist {
		t.Fatalf("close of an unknown trade: %v", err)
	}
}

func TestTradeCreateErrors(t *testing.T) {
	ctx := context.Background()
	c, sb := payClient(t, sandbox.Options{})
	base := alipay.TradeCreateRequest{
		Subject: "x", AmountFen: 100, BuyerID: sandbox.AlipayUserID("bob"), TimeExpire: time.Now().Add(time.Hour),
		NotifyURL: "https://shop.example.com/n",
	}
	tests := []struct {
		name string
		fail *sandbox.AlipayFailure
		edit func(*alipay.TradeCreateRequest)
		code apperr.Code
	}{
		{name: "busy", fail: &sandbox.AlipayFailure{Times: 1, Code: "20000", SubCode: "isp.unknow-error"}, code: apperr.CodeUpstreamUnavailable},
		{name: "system error", fail: &sandbox.AlipayFailure{Times: 1, Code: "40004", SubCode: sandbox.AlipaySystemError}, code: apperr.CodeUpstreamUnavailable},
		{name: "business failure", fail: &sandbox.AlipayFailure{Times: 1, Code: "40004", SubCode: "ACQ.BUYER_ENABLE_STATUS_FORBID"}, code: apperr.CodeUpstreamError},
		{name: "expired", edit: func(r *alipay.TradeCreateRequest) { r.TimeExpire = time.Now().Add(-time.Minute) }, code: apperr.CodeUpstreamError},
		{name: "open_id for a user_id app", edit: func(r *alipay.TradeCreateRequest) { r.BuyerID, r.BuyerOpenID = "", "0abc" }, code: apperr.CodeUpstreamError},
		{name: "zero amount", edit: func(r *alipay.TradeCreateRequest) { r.AmountFen = 0 }, code: apperr.CodeInvalid},
		{name: "over the limit", edit: func(r *alipay.TradeCreateRequest) { r.AmountFen = alipay.MaxTradeFen + 1 }, code: apperr.CodeInvalid},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := base
			req.OutTradeNo = "ERR" + strconv.Itoa(i) + strconv.FormatInt(time.Now().UnixNano(), 10)
			if tt.edit != nil {
				tt.edit(&req)
			}
			if tt.fail != nil {
				sb.FailAlipay(*tt.fail)
			}
			if _, err := c.TradeCreate(ctx, req); apperr.CodeOf(err) != tt.code {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
		})
	}
	// A gateway that cannot be reached leaves the outcome unknown.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	s := sb.Settings()
	c2, err := alipay.New(alipay.Config{AppID: s.AlipayAppID, PrivateKey: s.AlipayAppPrivateKey, PublicKey: s.AlipayPublicKey, Gateway: dead.URL + "/gateway.do"})
	if err != nil {
		t.Fatal(err)
	}
	req := base
	req.OutTradeNo = "DEAD1"
	if _, err := c2.TradeCreate(ctx, req); apperr.CodeOf(err) != apperr.CodeUpstreamUnavailable {
		t.Fatalf("unreachable gateway: %v", err)
	}
}

// notifyReceiver is a merchant endpoint that parses every notification with
// the adapter and answers success only when it verifies.
type notifyReceiver struct {
	c   *alipay.Client
	got chan result
}

type result struct {
	n   alipay.Notification
	err error
}

func (r notifyReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if err := req.ParseForm(); err != nil {
		http.Error(w, "fail", http.StatusBadRequest)
		return
	}
	n, err := r.c.ParseNotification(req.Context(), req.PostForm)
	r.got <- result{n, err}
	if err != nil {
		http.Error(w, "fail", http.StatusBadRequest)
		return
	}
	_, _ = w.Write([]byte("success"))
}

func TestParseNotificationThroughTheSandbox(t *testing.T) {
	for _, certMode := range []bool{false, true} {
		t.Run("cert mode "+strconv.FormatBool(certMode), func(t *testing.T) {
			ctx := context.Background()
			var c *alipay.Client
			var sb *sandbox.Server
			if certMode {
				c, sb = certClient(t)
			} else {
				c, sb = payClient(t, sandbox.Options{AlipayOpenID: true})
			}
			rcv := notifyReceiver{c: c, got: make(chan result, 16)}
			merchant := httptest.NewServer(rcv)
			t.Cleanup(merchant.Close)
			req := alipay.TradeCreateRequest{
				OutTradeNo: "N" + strconv.FormatInt(time.Now().UnixNano(), 10), Subject: "通知", AmountFen: 12345,
				TimeExpire: time.Now().Add(time.Hour), NotifyURL: merchant.URL + "/notify",
			}
			if certMode {
				req.BuyerID = sandbox.AlipayUserID("carol")
			} else {
				req.BuyerOpenID = sb.AlipayOpenID("carol")
			}
			tradeNo, err := c.TradeCreate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sb.PayAlipay(tradeNo, sandbox.AlipayPayOptions{DiscountFen: 345}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-sb.AlipayAcknowledged(req.OutTradeNo):
			case <-time.After(10 * time.Second):
				t.Fatalf("not acknowledged: %+v", sb.AlipayDeliveries(req.OutTradeNo))
			}
			r := <-rcv.got
			n := r.n
			if r.err != nil || n.TradeStatus != alipay.TradeSuccess || n.TotalFen != 12345 || n.BuyerPayFen != 12000 ||
				n.TradeNo != tradeNo || n.OutTradeNo != req.OutTradeNo || n.AppID != sb.Settings().AlipayAppID ||
				n.SellerID != sb.Settings().AlipaySellerID || n.PaidAt == nil || n.Refund || n.NotifyID == "" {
				t.Fatalf("notification %+v, %v", n, r.err)
			}
			q, err := c.Query(ctx, req.OutTradeNo)
			if err != nil || q.Status != alipay.TradeSuccess || q.PaidAt == nil || q.BuyerPayFen != 12000 {
				t.Fatalf("query of a paid trade: %+v, %v", q, err)
			}
			for _, tamper := range []string{sandbox.AlipayTamperSignature, sandbox.AlipayTamperBody, sandbox.AlipayTamperForeignKey} {
				ds, err := sb.DeliverAlipay(ctx, req.OutTradeNo, sandbox.AlipayDeliverOptions{Tamper: tamper})
				if err != nil {
					t.Fatal(err)
				}
				r := <-rcv.got
				var ne *alipay.NotifyError
				if ds[0].Body == "success" || r.err == nil || !errorsAs(r.err, &ne) || ne.Reason != "signature" {
					t.Fatalf("%s: answered %q, parse error %v", tamper, ds[0].Body, r.err)
				}
			}
		})
	}
}

func errorsAs(err error, target **alipay.NotifyError) bool {
	for err != nil {
		if ne, ok := err.(*alipay.NotifyError); ok {
			*target = ne
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestParseNotificationRefusesMalformedForms(t *testing.T) {
	c, _ := payClient(t, sandbox.Options{})
	tests := []url.Values{
		{},
		{"notify_id": {"x"}, "app_id": {"1"}, "out_trade_no": {"a"}, "trade_status": {"TRADE_SUCCESS"}},
		{"notify_id": {"x", "y"}, "app_id": {"1"}, "out_trade_no": {"a"}, "trade_status": {"TRADE_SUCCESS"}, "sign": {"AAAA"}},
		{"notify_id": {"x"}, "app_id": {"1"}, "out_trade_no": {"a"}, "trade_status": {"TRADE_SUCCESS"}, "sign": {"!!!"}},
		{"notify_id": {"x"}, "app_id": {"1"}, "out_trade_no": {"a"}, "trade_status": {"TRADE_SUCCESS"}, "sign": {"AAAA"}, "sign_type": {"RSA"}},
	}
	for i, form := range tests {
		if _, err := c.ParseNotification(context.Background(), form); err == nil {
			t.Errorf("form %d accepted", i)
		} else if !strings.Contains(err.Error(), "refused") {
			t.Errorf("form %d: %v", i, err)
		}
	}
}
