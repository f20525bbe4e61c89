package app_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/platform/dbtest"
)

// Checkout and pay are limited per customer: over the limit they answer 429
// rate_limited with Retry-After, another customer is not affected, and the
// bucket refills with time.
func TestCheckoutAndPayRateLimitedPerCustomer(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		env   string
		limit int
	}{
		{name: "checkout", path: "/api/v1/orders", env: "MINIMALL_ORDER_CHECKOUT_PER_MINUTE", limit: 4},
		{name: "pay", path: "/api/v1/orders/999/pay", env: "MINIMALL_ORDER_PAY_PER_MINUTE", limit: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newIdentityEnv(t, dbtest.SQLite(t), map[string]string{tt.env: strconv.Itoa(tt.limit)})
			alice := str(e.login("wechat", "test-alice").Body, "access_token")
			bob := str(e.login("wechat", "test-bob").Body, "access_token")
			body := map[string]any{"channel": "wechat"}
			for i := 0; i < tt.limit; i++ {
				if r := e.do(http.MethodPost, tt.path, alice, body); r.Status == 429 {
					t.Fatalf("request %d limited: %s", i+1, r.Raw)
				}
			}
			r := e.do(http.MethodPost, tt.path, alice, body)
			if r.Status != 429 || r.code() != "rate_limited" {
				t.Fatalf("request %d: %d %s, want 429 rate_limited", tt.limit+1, r.Status, r.Raw)
			}
			secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if err != nil || secs < 1 || secs > 60 {
				t.Errorf("Retry-After = %q, want whole seconds", r.Header.Get("Retry-After"))
			}
			if r := e.do(http.MethodPost, tt.path, bob, body); r.Status == 429 {
				t.Errorf("another customer limited: %s", r.Raw)
			}
			e.clock.Advance(time.Duration(secs) * time.Second)
			if r := e.do(http.MethodPost, tt.path, alice, body); r.Status == 429 {
				t.Errorf("after Retry-After: still limited: %s", r.Raw)
			}
		})
	}
}
