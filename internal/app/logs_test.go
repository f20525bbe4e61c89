package app_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// The access line names the actor; security events are WARN lines with the
// request id, the actor and the client address.
func TestSecurityEventsAndActorsAreLogged(t *testing.T) {
	var buf bytes.Buffer
	cfg, err := config.Load("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now())
	a, err := app.New(cfg, dbtest.SQLite(t), slog.New(slog.NewJSONHandler(&buf, nil)), clk)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(cfg.JWT.Secret, clk)
	if err != nil {
		t.Fatal(err)
	}
	customer, _, err := tokens.IssueCustomer(7, "wechat")
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, path, token, body, requestID string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", requestID)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		a.Handler().ServeHTTP(httptest.NewRecorder(), req)
	}
	send(http.MethodGet, "/api/v1/cart", customer, "", "req-cart")
	send(http.MethodGet, "/api/v1/admin/orders", customer, "", "req-admin")
	for i := 0; i < 5; i++ {
		send(http.MethodPost, "/api/v1/admin/auth/login", "", `{"username":"nobody","password":"wrong-password"}`, "req-login")
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	find := func(msg, requestID, event string) map[string]any {
		for _, m := range lines {
			if m["msg"] == msg && m["request_id"] == requestID && (event == "" || m["event"] == event) {
				return m
			}
		}
		return nil
	}
	if m := find("http", "req-cart", ""); m == nil || m["actor"] != "customer:7" {
		t.Errorf("access line of a customer request: %v, want actor customer:7", m)
	}
	if m := find("security event", "req-admin", "wrong_token_type"); m == nil || m["level"] != "WARN" || m["actor"] != "customer:7" || m["client_ip"] == "" {
		t.Errorf("customer token on an admin route: %v, want a WARN security event with the actor", m)
	}
	if m := find("security event", "req-login", "staff_login_locked"); m == nil || m["level"] != "WARN" || m["username"] != "nobody" {
		t.Errorf("fifth failed staff login: %v, want a WARN staff_login_locked event", m)
	}
	if strings.Contains(buf.String(), "wrong-password") {
		t.Error("a password reached the log")
	}
}
