package payment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/sandbox"
)

// bothChannels logs name in through WeChat and through Alipay and joins the
// two identities into one customer, as account linking would; the customer
// can pay on either channel.
func (e *env) bothChannels(name string) customer {
	e.t.Helper()
	c := e.login(name)
	ali := e.alipayLogin(name + "-ali")
	must(e.t, e.d.Writer(context.Background()).Exec("UPDATE customer_identities SET customer_id = ? WHERE customer_id = ?", c.id, ali.id).Error)
	return c
}

// payable reports whether the trade of an attempt can still be paid at its
// platform, as the sandbox sees it.
func (e *env) payable(a payment.Attempt) bool {
	switch a.Channel {
	case payment.ChannelWeChat:
		tr, ok := e.sb.WeChatPayTradeOf(a.OutTradeNo)
		return ok && tr.TradeState == sandbox.WeChatPayTradeNotPay
	case payment.ChannelAlipay:
		tr, ok := e.sb.AlipayTradeOf(a.OutTradeNo)
		return ok && tr.Status == sandbox.AlipayWaitBuyerPay
	}
	return false
}

// TestConcurrentPayOnBothChannelsLeavesOnePayableTrade sends pay on WeChat
// Pay and on Alipay for one order at the same moment, over HTTP, through the
// sandbox: the order ends with one open attempt and one payable trade, and a
// request that lost answers 409 conflict (never that the pending order is
// cancelled).
func TestConcurrentPayOnBothChannelsLeavesOnePayableTrade(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(700, 100)
		lin := e.bothChannels("lin")
		for round := range 6 {
			o := e.order(lin, sku, 1)
			type answer struct {
				status int
				body   []byte
			}
			answers := make([]answer, 2)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, ch := range []string{"wechat", "alipay"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					status, body := e.do(lin.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", o.ID), map[string]string{"channel": ch})
					answers[i] = answer{status, body}
				}()
			}
			close(start)
			wg.Wait()
			ok := 0
			for i, a := range answers {
				switch a.status {
				case http.StatusOK:
					ok++
				case http.StatusConflict:
					var env struct {
						Error struct {
							Code string `json:"code"`
						} `json:"error"`
					}
					must(t, json.Unmarshal(a.body, &env))
					if env.Error.Code != "conflict" {
						t.Fatalf("round %d, request %d: %d %s, want conflict", round, i, a.status, a.body)
					}
				default:
					t.Fatalf("round %d, request %d: %d %s", round, i, a.status, a.body)
				}
			}
			if ok == 0 {
				t.Fatalf("round %d: no request succeeded: %s / %s", round, answers[0].body, answers[1].body)
			}
			attempts, err := e.store.AttemptsOfOrder(context.Background(), o.ID)
			must(t, err)
			open, payable := 0, 0
			for _, a := range attempts {
				if a.Status == payment.StatusPending {
					open++
				}
				if e.payable(a) {
					payable++
					if a.Status != payment.StatusPending {
						t.Fatalf("round %d: payable trade %s of a %s attempt", round, a.OutTradeNo, a.Status)
					}
				}
			}
			if open != 1 || payable != 1 {
				t.Fatalf("round %d: %d open attempts and %d payable trades, want 1 and 1 (%+v)", round, open, payable, attempts)
			}
			if got := e.getOrder(lin, o.ID).Status; got != "pending_payment" {
				t.Fatalf("round %d: order %s", round, got)
			}
		}
	})
}

// TestPaymentClosesTheOrdersOtherOpenTrades: when an order is paid while
// another of its trades is still open (left by an older release, which held
// one open trade per channel), that trade is closed at its platform before
// the payment's notification is acknowledged, not at reconciliation.
func TestPaymentClosesTheOrdersOtherOpenTrades(t *testing.T) {
	for _, paidOn := range []string{"alipay", "wechat"} {
		t.Run(paidOn, func(t *testing.T) {
			dbtestEach(t, func(t *testing.T, e *env) {
				_, sku := e.product(800, 10)
				mei := e.bothChannels("mei")
				o := e.order(mei, sku, 1)
				// The other channel's trade first, then released from the
				// order's slot as migration 00011 leaves the older of two.
				var other, paying string
				if paidOn == "alipay" {
					other = e.pay(mei, o.ID).OutTradeNo
				} else {
					other = e.payAlipay(mei, o.ID).OutTradeNo
				}
				must(t, e.d.Writer(context.Background()).Exec("UPDATE payment_attempts SET open_key = NULL WHERE out_trade_no = ?", other).Error)
				if paidOn == "alipay" {
					p := e.payAlipay(mei, o.ID)
					paying = p.OutTradeNo
					if _, err := e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{}); err != nil {
						t.Fatal(err)
					}
					e.waitAlipayAcked(paying)
				} else {
					p := e.pay(mei, o.ID)
					paying = p.OutTradeNo
					if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{}); err != nil {
						t.Fatal(err)
					}
					e.waitAcked(paying)
				}
				if got := e.getOrder(mei, o.ID).Status; got != "paid" {
					t.Fatalf("order %s", got)
				}
				a := e.attempt(other)
				if a.Status != payment.StatusClosed || e.payable(a) {
					t.Fatalf("the other trade %s is %s and payable=%v after the order was paid", other, a.Status, e.payable(a))
				}
				if n := e.count("SELECT COUNT(*) FROM payment_anomalies"); n != 0 {
					t.Fatalf("%d anomalies", n)
				}
			})
		})
	}
}

// TestRefusalForAWrongConfigurationIsReconsideredOnRetry: a payment
// notification refused because our merchant configuration was wrong is
// accepted when the platform retries it (same notification id) after the
// configuration is fixed. The anomaly of the first refusal stays, once.
func TestRefusalForAWrongConfigurationIsReconsideredOnRetry(t *testing.T) {
	cases := []struct {
		name, key string
		pay       func(e *env, c customer, orderID int64) string
		deliver   func(e *env, outTradeNo string) int
	}{
		{
			name: "wechat mchid", key: "MINIMALL_WECHATPAY_MCHID",
			pay: func(e *env, c customer, orderID int64) string {
				p := e.pay(c, orderID)
				if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
					e.t.Fatal(err)
				}
				return p.OutTradeNo
			},
			deliver: func(e *env, outTradeNo string) int {
				ds, err := e.sb.DeliverWeChatPay(context.Background(), outTradeNo, sandbox.WeChatPayDeliverOptions{})
				must(e.t, err)
				return ds[0].Status
			},
		},
		{
			name: "alipay seller id", key: "MINIMALL_ALIPAY_SELLER_ID",
			pay: func(e *env, c customer, orderID int64) string {
				p := e.payAlipay(c, orderID)
				if _, err := e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{Hold: true}); err != nil {
					e.t.Fatal(err)
				}
				return p.OutTradeNo
			},
			deliver: func(e *env, outTradeNo string) int {
				ds, err := e.sb.DeliverAlipay(context.Background(), outTradeNo, sandbox.AlipayDeliverOptions{})
				must(e.t, err)
				if ds[0].Body != payment.AlipayAck {
					return http.StatusBadRequest
				}
				return http.StatusNoContent
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbtestEach(t, func(t *testing.T, e *env) {
				_, sku := e.product(900, 10)
				c := e.bothChannels("nan")
				o := e.order(c, sku, 1)
				out := tc.pay(e, c, o.ID)
				right := e.vars[tc.key]
				e.reconfigure(map[string]string{tc.key: "2088000000000000"})
				if got := tc.deliver(e, out); got < 400 {
					t.Fatalf("delivery under the wrong %s answered %d", tc.key, got)
				}
				if got := e.getOrder(c, o.ID).Status; got != "pending_payment" {
					t.Fatalf("order %s after the refusal", got)
				}
				e.reconfigure(map[string]string{tc.key: right})
				for i := range 2 { // the retry, and one more
					if got := tc.deliver(e, out); got >= 300 {
						t.Fatalf("retry %d after the fix answered %d", i, got)
					}
				}
				if got := e.getOrder(c, o.ID).Status; got != "paid" {
					t.Fatalf("order %s after the fix", got)
				}
				if n := e.paidEvents(o.ID); n != 1 {
					t.Fatalf("%d paid events", n)
				}
				if n := e.count("SELECT COUNT(*) FROM payment_notifications WHERE out_trade_no = ? AND outcome = 'accepted'", out); n != 1 {
					t.Fatalf("%d accepted notifications, want the one stored", n)
				}
				if n := e.count("SELECT COUNT(*) FROM payment_anomalies WHERE kind = 'merchant_mismatch'"); n != 1 {
					t.Fatalf("%d merchant_mismatch anomalies, want 1", n)
				}
			})
		})
	}
}
