package push_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/silenceper/wechat/v2/miniprogram/message"
	"github.com/silenceper/wechat/v2/util"

	"github.com/minimall/minimall/internal/platform/wechat/push"
)

const (
	token  = "push-token-for-tests"
	aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" // 43 characters
	appID  = "wx0123456789abcdef"
)

// wxSign is WeChat's signature, computed here independently of the package.
func wxSign(parts ...string) string {
	sort.Strings(parts)
	h := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(h[:])
}

type recorder struct {
	mu     sync.Mutex
	events []push.Event
	fail   error
}

func (r *recorder) handle(_ context.Context, e push.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, e)
	return nil
}

func newServer(t *testing.T, cfg push.Config) (*httptest.Server, *recorder, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	d, err := push.New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if err := d.Handle("trade_manage_order_settlement", rec.handle); err != nil {
		t.Fatal(err)
	}
	if err := d.Handle("trade_manage_order_settlement", rec.handle); err == nil {
		t.Fatal("a second handler for one event was accepted")
	}
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.GET("/push", d.Verify)
	e.POST("/push", d.Receive)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv, rec, &logs
}

func do(t *testing.T, method, u string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestURLVerification(t *testing.T) {
	srv, _, _ := newServer(t, push.Config{Token: token})
	tests := []struct {
		name       string
		signature  string
		wantStatus int
		wantBody   string
	}{
		{"right signature echoes", wxSign(token, "1700000000", "n1"), 200, "echo-123"},
		{"wrong signature refused", wxSign("other-token", "1700000000", "n1"), 401, ""},
		{"missing signature refused", "", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"signature": {tt.signature}, "timestamp": {"1700000000"}, "nonce": {"n1"}, "echostr": {"echo-123"}}
			status, body := do(t, http.MethodGet, srv.URL+"/push?"+q.Encode(), nil)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", status, tt.wantStatus, body)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
			if tt.wantStatus != 200 && strings.Contains(body, "echo-123") {
				t.Errorf("refused verification echoed: %s", body)
			}
		})
	}
}

func TestNoTokenRefusesEverything(t *testing.T) {
	srv, _, _ := newServer(t, push.Config{})
	q := url.Values{"signature": {wxSign("", "1", "n")}, "timestamp": {"1"}, "nonce": {"n"}, "echostr": {"e"}}
	if status, _ := do(t, http.MethodGet, srv.URL+"/push?"+q.Encode(), nil); status != 401 {
		t.Fatalf("status = %d, want 401", status)
	}
}

const settlement = `{"ToUserName":"gh_1","FromUserName":"o_sys","CreateTime":1700000000,"MsgType":"event",` +
	`"Event":"trade_manage_order_settlement","transaction_id":"4200001","merchant_id":"1900001",` +
	`"merchant_trade_no":"P1","pay_time":1699990000,"confirm_receive_method":2,"confirm_receive_time":1700000000,"settlement_time":1700000000}`

func TestPlaintextEvents(t *testing.T) {
	srv, rec, logs := newServer(t, push.Config{Token: token})
	sig := func(tok string) string {
		q := url.Values{"signature": {wxSign(tok, "1700000000", "n2")}, "timestamp": {"1700000000"}, "nonce": {"n2"}}
		return srv.URL + "/push?" + q.Encode()
	}
	if status, body := do(t, http.MethodPost, sig("wrong"), []byte(settlement)); status != 401 {
		t.Fatalf("bad signature: status = %d (%s), want 401", status, body)
	}
	if len(rec.events) != 0 {
		t.Fatalf("a handler ran for a badly signed push")
	}
	status, body := do(t, http.MethodPost, sig(token), []byte(settlement))
	if status != 200 || body != "success" {
		t.Fatalf("status = %d, body = %q, want 200 success", status, body)
	}
	if len(rec.events) != 1 {
		t.Fatalf("events = %d, want 1", len(rec.events))
	}
	e := rec.events[0]
	if e.Name != "trade_manage_order_settlement" || e.MsgType != "event" || e.Format != push.FormatJSON {
		t.Errorf("event = %+v", e)
	}
	var typed message.PushDataOrderSettlement
	if err := e.Decode(&typed); err != nil {
		t.Fatal(err)
	}
	if typed.TransactionID != "4200001" || typed.ConfirmReceiveMethod != 2 {
		t.Errorf("decoded = %+v", typed)
	}

	unknown := `{"MsgType":"event","Event":"some_new_event","CreateTime":1700000000}`
	if status, body := do(t, http.MethodPost, sig(token), []byte(unknown)); status != 200 || body != "success" {
		t.Fatalf("unknown event: status = %d, body = %q, want 200 success", status, body)
	}
	if !strings.Contains(logs.String(), "some_new_event") {
		t.Errorf("unknown event not logged: %s", logs.String())
	}

	rec.fail = errors.New("database down")
	if status, _ := do(t, http.MethodPost, sig(token), []byte(settlement)); status != 500 {
		t.Errorf("failing handler: status = %d, want 500 so WeChat retries", status)
	}
}

func TestSafeMode(t *testing.T) {
	srv, rec, logs := newServer(t, push.Config{Token: token, AESKey: aesKey, AppID: appID})
	// The ciphertext is made by silenceper's own implementation of WeChat's
	// algorithm, so this test does not only agree with itself.
	encrypt := func(app string) string {
		b, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(settlement), app, aesKey)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	post := func(enc, msgSig string) (int, string) {
		body, _ := json.Marshal(map[string]string{"ToUserName": "gh_1", "Encrypt": enc})
		q := url.Values{"signature": {wxSign(token, "1700000001", "n3")}, "timestamp": {"1700000001"},
			"nonce": {"n3"}, "encrypt_type": {"aes"}, "msg_signature": {msgSig}}
		return do(t, http.MethodPost, srv.URL+"/push?"+q.Encode(), body)
	}
	good := encrypt(appID)
	tests := []struct {
		name       string
		enc, sig   string
		wantStatus int
		wantEvents int
	}{
		{"wrong msg_signature", good, wxSign(token, "1700000001", "n3", "other"), 401, 0},
		{"another app's message", encrypt("wxother"), wxSign(token, "1700000001", "n3", encrypt("wxother")), 400, 0},
		{"good", good, wxSign(token, "1700000001", "n3", good), 200, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(tt.enc, tt.sig)
			if status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", status, body, tt.wantStatus)
			}
			if len(rec.events) != tt.wantEvents {
				t.Fatalf("events = %d, want %d", len(rec.events), tt.wantEvents)
			}
		})
	}
	// A plaintext push is refused once safe mode is configured.
	q := url.Values{"signature": {wxSign(token, "1700000001", "n3")}, "timestamp": {"1700000001"}, "nonce": {"n3"}}
	if status, _ := do(t, http.MethodPost, srv.URL+"/push?"+q.Encode(), []byte(settlement)); status != 400 {
		t.Errorf("plaintext in safe mode: status = %d, want 400", status)
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), aesKey) {
		t.Errorf("a secret appears in the logs: %s", logs.String())
	}
}

func TestNewRefusesABadKey(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := push.New(push.Config{Token: token, AESKey: "short", AppID: appID}, log); err == nil {
		t.Error("a short EncodingAESKey was accepted")
	}
	if _, err := push.New(push.Config{Token: token, AESKey: aesKey}, log); err == nil {
		t.Error("safe mode without an AppID was accepted")
	}
}
