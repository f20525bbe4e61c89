package wechatpay_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/wechatpay"
	"github.com/minimall/minimall/internal/sandbox"
)

// client returns an adapter configured with the sandbox's credentials and
// pointed at base.
// sandboxKeys are generated once for the package's tests and passed in
// sandbox.Options.Keys: RSA key generation is most of what sandbox.New costs.
// A sandbox playing another platform account keeps keys of its own.
var sandboxKeys = sync.OnceValues(sandbox.NewKeys)

func client(t *testing.T, sb *sandbox.Server, base string) *wechatpay.Client {
	t.Helper()
	st := sb.Settings()
	priv, err := utils.LoadPrivateKey(st.WeChatPayPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := utils.LoadPublicKey(st.WeChatPayPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := wechatpay.New(wechatpay.Config{
		AppID: st.WeChatAppID, MchID: st.WeChatPayMchID, Serial: st.WeChatPaySerial, PrivateKey: priv,
		APIv3Key: st.WeChatPayAPIv3Key, PublicKeyID: st.WeChatPayPublicKeyID, PublicKey: pub, APIBase: base,
	}, clock.System{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPlatformErrorsMapToUpstreamCodes(t *testing.T) {
	keys, err := sandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.StopDeliveries()
	srv := httptest.NewServer(sb)
	defer srv.Close()

	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer hang.Close()
	defer close(release)
	unsigned := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"trade_state":"SUCCESS","out_trade_no":"X"}`))
	}))
	defer unsigned.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name     string
		base     string
		fail     *sandbox.WeChatPayFailure
		timeout  time.Duration
		code     apperr.Code
		platform string
	}{
		{"unknown trade", srv.URL, nil, 0, apperr.CodeUpstreamError, sandbox.WeChatPayOrderNotExist},
		{"system error", srv.URL, &sandbox.WeChatPayFailure{Times: 1, Status: 500, Code: "SYSTEM_ERROR"}, 0, apperr.CodeUpstreamUnavailable, "SYSTEM_ERROR"},
		{"frequency limited", srv.URL, &sandbox.WeChatPayFailure{Times: 1, Status: 429, Code: "FREQUENCY_LIMITED"}, 0, apperr.CodeUpstreamUnavailable, "FREQUENCY_LIMITED"},
		{"business refusal", srv.URL, &sandbox.WeChatPayFailure{Times: 1, Status: 403, Code: "NOAUTH"}, 0, apperr.CodeUpstreamError, "NOAUTH"},
		{"timeout", hang.URL, nil, 50 * time.Millisecond, apperr.CodeUpstreamUnavailable, ""},
		{"unreachable", closedURL, nil, 0, apperr.CodeUpstreamUnavailable, ""},
		{"unsigned answer", unsigned.URL, nil, 0, apperr.CodeUpstreamUnavailable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fail != nil {
				sb.FailWeChatPay(*tt.fail)
			}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := client(t, sb, tt.base).Query(ctx, "NOPE00000003")
			if got := apperr.CodeOf(err); got != tt.code {
				t.Fatalf("code %s (%v), want %s", got, err, tt.code)
			}
			if got := wechatpay.PlatformCode(err); got != tt.platform {
				t.Fatalf("platform code %q, want %q", got, tt.platform)
			}
		})
	}
}

func TestPrepayQueryAndClose(t *testing.T) {
	keys, err := sandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.StopDeliveries()
	srv := httptest.NewServer(sb)
	defer srv.Close()
	c := client(t, sb, srv.URL)
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Minute)
	id, err := c.Prepay(ctx, wechatpay.PrepayRequest{OutTradeNo: "ADAPTER00001", Description: "d", AmountFen: 42,
		OpenID: "o1", TimeExpire: deadline, NotifyURL: "https://shop.example.com/n"})
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := sb.WeChatPayTradeOf("ADAPTER00001")
	if tr.PrepayID != id || tr.TimeExpire != wechatpay.Beijing(deadline) {
		t.Fatalf("trade %+v; want prepay %s, time_expire %s", tr, id, wechatpay.Beijing(deadline))
	}
	tx, err := c.Query(ctx, "ADAPTER00001")
	if err != nil || tx.TradeState != wechatpay.TradeNotPay || tx.TotalFen != 42 {
		t.Fatalf("query: %+v %v", tx, err)
	}
	if err := c.Close(ctx, "ADAPTER00001"); err != nil {
		t.Fatal(err)
	}
	if tx, err := c.Query(ctx, "ADAPTER00001"); err != nil || tx.TradeState != wechatpay.TradeClosed {
		t.Fatalf("after close: %+v %v", tx, err)
	}
}
