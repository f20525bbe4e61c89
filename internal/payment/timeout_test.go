package payment_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/sandbox"
)

// TestHungPlatformCallsAreCutAtTheTimeout: with WeChat Pay and Alipay
// accepting calls and never answering, 200 pay requests (100 on each
// channel, ten at a time) each answer 503 upstream_unavailable once
// MINIMALL_PAYMENT_PLATFORM_TIMEOUT has passed, and leave no goroutine (and
// so no connection) behind.
func TestHungPlatformCallsAreCutAtTheTimeout(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		const timeout = 100 * time.Millisecond
		e.reconfigure(map[string]string{"MINIMALL_PAYMENT_PLATFORM_TIMEOUT": timeout.String()})
		_, sku := e.product(300, 10)
		c := e.bothChannels("hu")
		// One answered call per channel first (on other orders), so that
		// what the runtime keeps for good (pools, timers) exists before
		// counting.
		e.pay(c, e.order(c, sku, 1).ID)
		e.payAlipay(c, e.order(c, sku, 1).ID)
		// Orders whose attempt never gets a prepay answer: every pay request
		// asks the platform again.
		orders := map[string]int64{"wechat": e.order(c, sku, 1).ID, "alipay": e.order(c, sku, 1).ID}
		http.DefaultClient.CloseIdleConnections()
		before := runtime.NumGoroutine()

		e.sb.Hang(sandbox.HangWeChatPay, true)
		e.sb.Hang(sandbox.HangAlipay, true)
		var mu sync.Mutex
		var failures []string
		sem := make(chan struct{}, 10)
		var wg sync.WaitGroup
		for i := range 200 {
			ch := "wechat"
			if i%2 == 1 {
				ch = "alipay"
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				start := time.Now()
				status, body := e.do(c.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", orders[ch]), map[string]string{"channel": ch})
				took := time.Since(start)
				var env struct {
					Error struct {
						Code string `json:"code"`
					} `json:"error"`
				}
				_ = json.Unmarshal(body, &env)
				if status != http.StatusServiceUnavailable || env.Error.Code != "upstream_unavailable" || took > 5*time.Second {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %d %s after %s", ch, status, body, took))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		e.sb.Hang(sandbox.HangWeChatPay, false)
		e.sb.Hang(sandbox.HangAlipay, false)
		if len(failures) > 0 {
			t.Fatalf("%d of 200 calls were not cut into 503 upstream_unavailable, e.g. %s", len(failures), failures[0])
		}

		// Goroutines of the cut calls end once their connections close;
		// give them a moment, then count.
		http.DefaultClient.CloseIdleConnections()
		deadline := time.Now().Add(10 * time.Second)
		after := runtime.NumGoroutine()
		for after > before+5 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			after = runtime.NumGoroutine()
		}
		if after > before+5 {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines before the 200 hung calls, %d after:\n%s", before, after, buf[:n])
		}
	})
}
