package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/minimall/minimall/internal/sandbox"
)

// keys are generated once for the package's tests, as Options.Keys allows.
var keys = sync.OnceValues(sandbox.NewKeys)

// newSandbox makes a sandbox with the package's shared keys.
func newSandbox(t *testing.T, opts sandbox.Options) *sandbox.Server {
	t.Helper()
	k, err := keys()
	if err != nil {
		t.Fatal(err)
	}
	opts.Keys = k
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

func start(t *testing.T, opts sandbox.Options) (*sandbox.Server, string) {
	t.Helper()
	sb := newSandbox(t, opts)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv.URL
}

// tamper rewrites response bodies on their way to the SDK.
type tamper struct {
	from, to string
}

func (tp tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b = bytes.Replace(b, []byte(tp.from), []byte(tp.to), 1)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}

func sdkClient(t *testing.T, sb *sandbox.Server, base string, loc *time.Location, hc *http.Client) *sdk.Client {
	t.Helper()
	s := sb.Settings()
	opts := []sdk.OptionFunc{sdk.WithProductionGateway(sandbox.EndpointsAt(base).AlipayGateway), sdk.WithTimeLocation(loc)}
	if hc != nil {
		opts = append(opts, sdk.WithHTTPClient(hc))
	}
	c, err := sdk.New(s.AlipayAppID, s.AlipayAppPrivateKey, true, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LoadAliPayPublicKey(s.AlipayPublicKey); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAlipayResponsesVerifyWithSDK proves the sandbox signs responses as
// Alipay does: smartwalle's own verification accepts them, and refuses the
// same response once a byte of it changes.
func TestAlipayResponsesVerifyWithSDK(t *testing.T) {
	sb, base := start(t, sandbox.Options{})
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := sdk.SystemOauthToken{GrantType: "authorization_code", Code: "test-alice"}

	res, err := sdkClient(t, sb, base, shanghai, nil).SystemOauthToken(ctx, req)
	if err != nil {
		t.Fatalf("SDK refused the sandbox's response: %v", err)
	}
	if res.UserId != sandbox.AlipayUserID("alice") || !res.IsSuccess() || len(res.UserId) != 16 || !strings.HasPrefix(res.UserId, "2088") {
		t.Errorf("response = %+v", res)
	}

	forged := &http.Client{Transport: tamper{from: sandbox.AlipayUserID("alice"), to: sandbox.AlipayUserID("mallory")}}
	if _, err := sdkClient(t, sb, base, shanghai, forged).SystemOauthToken(ctx, req); err == nil {
		t.Error("SDK accepted a response whose user_id was changed after signing")
	}
}

// TestAlipayGatewayRefusals covers the gateway's own checks of requests.
func TestAlipayGatewayRefusals(t *testing.T) {
	sb, base := start(t, sandbox.Options{})
	ctx := context.Background()
	req := sdk.SystemOauthToken{GrantType: "authorization_code", Code: "test-alice"}
	// A client that stamps UTC instead of Beijing time is eight hours off.
	_, err := sdkClient(t, sb, base, time.UTC, nil).SystemOauthToken(ctx, req)
	var ae *sdk.Error
	if !asAlipay(err, &ae) || ae.SubCode != "isv.invalid-timestamp" {
		t.Errorf("UTC timestamp: got %v, want isv.invalid-timestamp", err)
	}
	// A form whose parameters changed after signing.
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	c := sdkClient(t, sb, base, shanghai, nil)
	values, err := c.URLValues(req)
	if err != nil {
		t.Fatal(err)
	}
	values.Set("code", "test-mallory")
	resp, err := http.PostForm(sandbox.EndpointsAt(base).AlipayGateway, values)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body["error_response"]), "isv.invalid-signature") {
		t.Errorf("tampered request: %s", body["error_response"])
	}
}

func asAlipay(err error, target **sdk.Error) bool {
	e, ok := err.(*sdk.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestWeChatErrorShapes(t *testing.T) {
	sb, base := start(t, sandbox.Options{})
	s := sb.Settings()
	tests := []struct {
		code    string
		errcode float64
	}{
		{"bad-code", 40029},
		{"busy", -1},
		{"risky", 40226},
		{"slow-down", 45011},
		{"test-zoe", 0},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			q := url.Values{"appid": {s.WeChatAppID}, "secret": {s.WeChatSecret}, "js_code": {tt.code}, "grant_type": {"authorization_code"}}
			resp, err := http.Get(base + "/sns/jscode2session?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				t.Errorf("status %d: WeChat answers errors with 200", resp.StatusCode)
			}
			got, _ := body["errcode"].(float64)
			if got != tt.errcode {
				t.Errorf("errcode = %v, want %v (%v)", body["errcode"], tt.errcode, body)
			}
			if tt.errcode == 0 && (body["openid"] != sb.WeChatOpenID("zoe") || body["unionid"] != "u-zoe") {
				t.Errorf("body = %v", body)
			}
		})
	}
}
