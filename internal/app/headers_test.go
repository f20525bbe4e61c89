package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/platform/wechat/push"
)

// Answers that carry tokens are never stored by a browser or a proxy.
func TestLoginAnswersAreNoStore(t *testing.T) {
	e := newIdentityEnv(t, dbtest.SQLite(t), nil)
	e.ownerToken()
	staff := e.do(http.MethodPost, "/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": "owner-password"})
	customer := e.login("wechat", "test-alice")
	refresh := e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": str(customer.Body, "refresh_token")})
	refused := e.do(http.MethodPost, "/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": "wrong-password"})
	for name, r := range map[string]reply{"staff login": staff, "customer login": customer, "refresh": refresh, "refused login": refused} {
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s (%d): Cache-Control = %q, want no-store", name, r.Status, got)
		}
		if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", name, got)
		}
	}
	if staff.Status != 200 || customer.Status != 200 || refresh.Status != 200 {
		t.Fatalf("logins: %d %d %d", staff.Status, customer.Status, refresh.Status)
	}
}

// Platform callbacks answer an over-limit body in their platform's format,
// whether the body declares its length or crosses the limit while it is
// read: WeChat Pay's JSON {"code":"FAIL"}, Alipay's plain text "fail",
// kuaidi100's JSON {"result":false}, the WeChat message push's plain text.
func TestNotifyTooLargeInPlatformFormats(t *testing.T) {
	e := newIdentityEnv(t, dbtest.SQLite(t), map[string]string{"MINIMALL_WECHAT_PUSH_TOKEN": "push-token",
		"MINIMALL_COURIER_KEY": "k", "MINIMALL_COURIER_CUSTOMER": "c", "MINIMALL_COURIER_SALT": "s"})
	big := "param=" + strings.Repeat("x", int(e.cfg.HTTP.MaxBody)+1)
	weChatPay := func(t *testing.T, w *httptest.ResponseRecorder) {
		var b struct{ Code, Message string }
		if json.Unmarshal(w.Body.Bytes(), &b) != nil || b.Code != "FAIL" || b.Message == "" || strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("%s, want {\"code\":\"FAIL\",\"message\":...}", w.Body.String())
		}
	}
	plainFail := func(t *testing.T, w *httptest.ResponseRecorder) {
		if w.Body.String() != "fail" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("%q %s, want plain fail", w.Body.String(), w.Header().Get("Content-Type"))
		}
	}
	kuaidi100 := func(t *testing.T, w *httptest.ResponseRecorder) {
		var b struct {
			Result     *bool  `json:"result"`
			ReturnCode string `json:"returnCode"`
		}
		if json.Unmarshal(w.Body.Bytes(), &b) != nil || b.Result == nil || *b.Result || b.ReturnCode == "" || strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("%s, want {\"result\":false,\"returnCode\":...}", w.Body.String())
		}
	}
	ts := "1700000000"
	pushQuery := "?timestamp=" + ts + "&nonce=n&signature=" + push.Sign("push-token", ts, "n")
	for _, tc := range []struct {
		path, contentType string
		check             func(*testing.T, *httptest.ResponseRecorder)
	}{
		{"/api/v1/notify/wechatpay", "application/json", weChatPay},
		{"/api/v1/notify/wechatpay/refund", "application/json", weChatPay},
		{"/api/v1/notify/alipay", "application/x-www-form-urlencoded", plainFail},
		{"/api/v1/notify/courier", "application/x-www-form-urlencoded", kuaidi100},
		{"/api/v1/notify/wechat" + pushQuery, "application/json", plainFail},
	} {
		for _, streamed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/streamed=%v", tc.path, streamed), func(t *testing.T) {
				req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(big))
				req.Header.Set("Content-Type", tc.contentType)
				if streamed {
					// No declared length: the limit is crossed while the
					// handler reads.
					req.ContentLength = -1
				}
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, req)
				if w.Code != http.StatusRequestEntityTooLarge {
					t.Fatalf("status %d %s, want 413", w.Code, w.Body.String())
				}
				tc.check(t, w)
			})
		}
	}
}

func newAppWith(t *testing.T, env map[string]string, mutate func(*config.Config)) *app.App {
	t.Helper()
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	a, err := app.New(cfg, dbtest.SQLite(t), slog.New(slog.NewTextHandler(io.Discard, nil)), clock.NewFake(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// /metrics is on the public port in development, not in production unless
// MINIMALL_METRICS_PUBLIC is set, and only on its own listener once
// MINIMALL_METRICS_ADDR is set.
func TestMetricsPlacement(t *testing.T) {
	production := func(public bool) func(*config.Config) {
		return func(c *config.Config) { c.Env, c.Metrics.Public = config.EnvProduction, public }
	}
	tests := []struct {
		name   string
		env    map[string]string
		mutate func(*config.Config)
		want   int
	}{
		{name: "development", want: 200},
		{name: "production", mutate: production(false), want: 404},
		{name: "production, explicitly public", mutate: production(true), want: 200},
		{name: "own listener", env: map[string]string{"MINIMALL_METRICS_ADDR": "127.0.0.1:9"}, want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAppWith(t, tt.env, tt.mutate)
			w := httptest.NewRecorder()
			a.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if w.Code != tt.want {
				t.Errorf("GET /metrics on the public router = %d, want %d", w.Code, tt.want)
			}
		})
	}

	t.Run("served on its own listener", func(t *testing.T) {
		addr := freeAddr(t)
		a := newAppWith(t, map[string]string{"MINIMALL_METRICS_ADDR": addr}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { a.RunJobs(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(b), "go_goroutines") {
					t.Fatalf("metrics listener: %d %.200s", resp.StatusCode, b)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("metrics listener never answered: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
