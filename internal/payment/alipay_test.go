package payment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/sandbox"
)

// alipayLogin logs name in through Alipay and gives it an address.
func (e *env) alipayLogin(name string) customer {
	e.t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	e.call("", http.MethodPost, "/api/v1/auth/alipay/login", map[string]string{"code": "test-" + name}, http.StatusOK, &out)
	a, err := e.addrs.Create(context.Background(), out.User.ID, address.Input{
		Name: "李四", Phone: "13900139000", Province: "上海市", City: "上海市", District: "浦东新区", Detail: "世纪大道 1 号",
	})
	must(e.t, err)
	return customer{id: out.User.ID, token: out.AccessToken, address: a.ID}
}

// alipayPayResponse is the pay route's answer for Alipay.
type alipayPayResponse struct {
	Channel        string          `json:"channel"`
	OutTradeNo     string          `json:"out_trade_no"`
	TradeNo        string          `json:"trade_no"`
	RequestPayment json.RawMessage `json:"request_payment"`
}

func (e *env) payAlipay(c customer, orderID int64) alipayPayResponse {
	e.t.Helper()
	var p alipayPayResponse
	e.call(c.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", orderID), map[string]string{"channel": "alipay"}, http.StatusOK, &p)
	return p
}

// waitAlipayAcked waits until a genuine notification of the trade was
// answered "success".
func (e *env) waitAlipayAcked(outTradeNo string) {
	e.t.Helper()
	select {
	case <-e.sb.AlipayAcknowledged(outTradeNo):
	case <-time.After(15 * time.Second):
		e.t.Fatalf("notification of %s not acknowledged: %+v", outTradeNo, e.sb.AlipayDeliveries(outTradeNo))
	}
}

func alipayEach(t *testing.T, opts sandbox.Options, fn func(t *testing.T, e *env)) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) { fn(t, newEnvWith(t, d, opts)) })
}

func TestAlipayPayThenNotificationPaysTheOrder(t *testing.T) {
	for _, mode := range []sandbox.Options{{}, {AlipayOpenID: true}, {AlipayCertMode: true}} {
		openID := mode.AlipayOpenID
		t.Run(fmt.Sprintf("open_id app %v, certificate mode %v", openID, mode.AlipayCertMode), func(t *testing.T) {
			alipayEach(t, mode, func(t *testing.T, e *env) {
				pid, sku := e.product(1990, 10)
				alice := e.alipayLogin("alice")
				o := e.order(alice, sku, 2)
				p := e.payAlipay(alice, o.ID)
				if p.Channel != "alipay" || p.TradeNo == "" || !strings.HasPrefix(p.OutTradeNo, "AL") || len(p.RequestPayment) != 0 {
					t.Fatalf("pay answered %+v", p)
				}
				tr, ok := e.sb.AlipayTradeOf(p.OutTradeNo)
				a := e.attempt(p.OutTradeNo)
				wantExpire := a.ExpiresAt.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
				if !ok || tr.TradeNo != p.TradeNo || tr.TotalAmount != fmt.Sprintf("%d.%02d", o.TotalFen/100, o.TotalFen%100) ||
					tr.NotifyURL != e.api.URL+payment.NotifyPathAlipay || tr.TimeExpire != wantExpire || tr.Subject == "" {
					t.Fatalf("trade at Alipay %+v (order total %d, want expire %s)", tr, o.TotalFen, wantExpire)
				}
				if openID && (tr.BuyerOpenID != e.sb.AlipayOpenID("alice") || tr.BuyerID != "") {
					t.Fatalf("open_id app: buyer %q / %q", tr.BuyerID, tr.BuyerOpenID)
				}
				if !openID && (tr.BuyerID != sandbox.AlipayUserID("alice") || tr.BuyerOpenID != "") {
					t.Fatalf("user_id app: buyer %q / %q", tr.BuyerID, tr.BuyerOpenID)
				}
				// Paying again before the user pays finds the same trade.
				if again := e.payAlipay(alice, o.ID); again.TradeNo != p.TradeNo || again.OutTradeNo != p.OutTradeNo {
					t.Fatalf("second pay made a new trade: %+v vs %+v", again, p)
				}
				// The user pays with a platform discount: the merchant still
				// checks total_amount.
				if _, err := e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{DiscountFen: 100}); err != nil {
					t.Fatal(err)
				}
				e.waitAlipayAcked(p.OutTradeNo)
				got := e.getOrder(alice, o.ID)
				if got.Status != "paid" || got.PaidFen != o.TotalFen {
					t.Fatalf("after the notification: %+v", got)
				}
				a = e.attempt(p.OutTradeNo)
				if a.Status != payment.StatusSucceeded || a.ProviderTxnID != p.TradeNo || a.PayerTotalFen != o.TotalFen-100 || a.PaidAt == nil {
					t.Fatalf("attempt %+v", a)
				}
				if e.paidEvents(o.ID) != 1 || e.sales(pid) != 2 {
					t.Fatalf("paid events %d, sales %d", e.paidEvents(o.ID), e.sales(pid))
				}
				ns, err := e.store.Notifications(context.Background(), p.OutTradeNo)
				must(t, err)
				if len(ns) != 1 || ns[0].Outcome != payment.OutcomeAccepted || ns[0].Channel != payment.ChannelAlipay ||
					!strings.Contains(ns[0].Body, "trade_no="+p.TradeNo) {
					t.Fatalf("stored notifications %+v", ns)
				}
				status, body := e.do(alice.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", o.ID), map[string]string{"channel": "alipay"})
				if status != http.StatusConflict || !strings.Contains(string(body), "invalid_state") {
					t.Fatalf("paying a paid order: %d %s", status, body)
				}
			})
		})
	}
}

func TestAlipayPayRefusalsAndPlatformErrors(t *testing.T) {
	alipayEach(t, sandbox.Options{}, func(t *testing.T, e *env) {
		_, sku := e.product(300, 100)
		bob := e.alipayLogin("bob")
		wechatCustomer := e.login("wendy")
		o := e.order(bob, sku, 1)
		wo := e.order(wechatCustomer, sku, 1)
		// A WeChat customer cannot pay with Alipay, nor an Alipay one with WeChat Pay.
		for _, c := range []struct {
			who     customer
			orderID int64
			channel string
		}{{wechatCustomer, wo.ID, "alipay"}, {bob, o.ID, "wechat"}} {
			status, body := e.do(c.who.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", c.orderID), map[string]string{"channel": c.channel})
			if status != http.StatusConflict || !strings.Contains(string(body), "channel_unavailable") {
				t.Fatalf("%s: %d %s", c.channel, status, body)
			}
		}
		tests := []struct {
			fail   sandbox.AlipayFailure
			status int
			code   string
		}{
			{sandbox.AlipayFailure{Times: 1, Code: "20000", SubCode: "isp.unknow-error"}, 503, "upstream_unavailable"},
			{sandbox.AlipayFailure{Times: 1, Code: "40004", SubCode: sandbox.AlipaySystemError}, 503, "upstream_unavailable"},
			{sandbox.AlipayFailure{Times: 1, Code: "40004", SubCode: "ACQ.BUYER_ENABLE_STATUS_FORBID"}, 502, "upstream_error"},
		}
		for _, tt := range tests {
			t.Run(tt.fail.SubCode, func(t *testing.T) {
				e.sb.FailAlipay(tt.fail)
				status, body := e.do(bob.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", o.ID), map[string]string{"channel": "alipay"})
				if status != tt.status || !strings.Contains(string(body), tt.code) {
					t.Fatalf("got %d %s, want %d %s", status, body, tt.status, tt.code)
				}
			})
		}
		// The failed trade.create calls left one open attempt; the next pay
		// completes it with the same out_trade_no.
		p := e.payAlipay(bob, o.ID)
		if n := e.count("SELECT COUNT(*) FROM payment_attempts WHERE order_id = ?", o.ID); n != 1 {
			t.Fatalf("attempts = %d, want 1", n)
		}
		if a := e.attempt(p.OutTradeNo); a.PrepayID != p.TradeNo {
			t.Fatalf("attempt trade_no %q, answered %q", a.PrepayID, p.TradeNo)
		}
	})
}

func TestAlipayConcurrentDuplicateNotificationsPayOnce(t *testing.T) {
	for _, distinct := range []bool{false, true} {
		t.Run(fmt.Sprintf("distinct notify ids %v", distinct), func(t *testing.T) {
			alipayEach(t, sandbox.Options{}, func(t *testing.T, e *env) {
				pid, sku := e.product(2500, 10)
				gina := e.alipayLogin("gina")
				o := e.order(gina, sku, 3)
				p := e.payAlipay(gina, o.ID)
				if _, err := e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{Hold: true}); err != nil {
					t.Fatal(err)
				}
				ds, err := e.sb.DeliverAlipay(context.Background(), p.OutTradeNo, sandbox.AlipayDeliverOptions{Copies: 50, DistinctIDs: distinct})
				must(t, err)
				for i, d := range ds {
					if d.HTTP != http.StatusOK || d.Body != "success" {
						t.Errorf("delivery %d: %d %q %s", i, d.HTTP, d.Body, d.Error)
					}
				}
				if n := e.paidEvents(o.ID); n != 1 {
					t.Fatalf("paid events = %d, want 1", n)
				}
				if s := e.sales(pid); s != 3 {
					t.Fatalf("sales = %d, want 3", s)
				}
				if got := e.getOrder(gina, o.ID); got.Status != "paid" || got.PaidFen != o.TotalFen {
					t.Fatalf("order %+v", got)
				}
				want := int64(1)
				if distinct {
					want = 50
				}
				if n := e.count("SELECT COUNT(*) FROM payment_notifications WHERE channel = 'alipay'"); n != want {
					t.Fatalf("stored notifications = %d, want %d", n, want)
				}
				if n := e.count("SELECT COUNT(*) FROM payment_anomalies"); n != 0 {
					t.Fatalf("anomalies = %d", n)
				}
			})
		})
	}
}

func TestAlipayRefusedAndNonPaymentNotifications(t *testing.T) {
	alipayEach(t, sandbox.Options{}, func(t *testing.T, e *env) {
		pid, sku := e.product(880, 10)
		hank := e.alipayLogin("hank")
		o := e.order(hank, sku, 1)
		p := e.payAlipay(hank, o.ID)

		// Before the user pays: WAIT_BUYER_PAY is verified, recorded and
		// acknowledged, and pays nothing.
		ds, err := e.sb.DeliverAlipay(context.Background(), p.OutTradeNo, sandbox.AlipayDeliverOptions{Status: sandbox.AlipayWaitBuyerPay})
		must(t, err)
		if ds[0].Body != "success" || e.getOrder(hank, o.ID).Status != "pending_payment" {
			t.Fatalf("WAIT_BUYER_PAY: answered %q, order %s", ds[0].Body, e.getOrder(hank, o.ID).Status)
		}
		if n := e.count("SELECT COUNT(*) FROM payment_notifications WHERE outcome = 'ignored' AND event_type = 'WAIT_BUYER_PAY'"); n != 1 {
			t.Fatalf("WAIT_BUYER_PAY recorded %d times", n)
		}

		if _, err := e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			tamper  string
			status  int
			anomaly string // for signed notifications that fail a business check
		}{
			{sandbox.AlipayTamperSignature, 400, ""},
			{sandbox.AlipayTamperBody, 400, ""},
			{sandbox.AlipayTamperForeignKey, 400, ""},
			{sandbox.AlipayTamperAmount, 400, payment.AnomalyAmountMismatch},
			{sandbox.AlipayTamperAppID, 400, payment.AnomalyMerchantMismatch},
			{sandbox.AlipayTamperSellerID, 400, payment.AnomalyMerchantMismatch},
			{sandbox.AlipayTamperOutTradeNo, 400, payment.AnomalyUnknownTrade},
		}
		for _, tt := range tests {
			t.Run(tt.tamper, func(t *testing.T) {
				before := e.count("SELECT COUNT(*) FROM payment_anomalies")
				storedBefore := e.count("SELECT COUNT(*) FROM payment_notifications")
				ds, err := e.sb.DeliverAlipay(context.Background(), p.OutTradeNo, sandbox.AlipayDeliverOptions{Tamper: tt.tamper})
				must(t, err)
				if ds[0].HTTP != tt.status || ds[0].Body == "success" {
					t.Fatalf("answered %d %q, want %d and not success", ds[0].HTTP, ds[0].Body, tt.status)
				}
				after := e.count("SELECT COUNT(*) FROM payment_anomalies")
				switch {
				case tt.anomaly == "" && (after != before || e.count("SELECT COUNT(*) FROM payment_notifications") != storedBefore):
					t.Fatal("an unverified notification was recorded")
				case tt.anomaly != "" && (after != before+1 || e.count("SELECT COUNT(*) FROM payment_anomalies WHERE kind = ? AND channel = 'alipay'", tt.anomaly) == 0):
					t.Fatalf("anomaly %s not recorded once (%d → %d)", tt.anomaly, before, after)
				}
				if got := e.getOrder(hank, o.ID).Status; got != "pending_payment" {
					t.Fatalf("order became %s", got)
				}
				if a := e.attempt(p.OutTradeNo); a.Status != payment.StatusPending || a.ProviderTxnID != "" {
					t.Fatalf("attempt became %+v", a)
				}
			})
		}
		if s := e.sales(pid); s != 0 {
			t.Fatalf("sales = %d after refused notifications", s)
		}
		// Alipay retries a refused payment notification under its notify_id:
		// refused again, without a second anomaly.
		before := e.count("SELECT COUNT(*) FROM payment_anomalies")
		form := e.signedAmountMismatch(p.OutTradeNo)
		for range 2 {
			if status, body := e.postForm(form); status != http.StatusBadRequest || body == "success" {
				t.Fatalf("retried refused notification: %d %q", status, body)
			}
		}
		if after := e.count("SELECT COUNT(*) FROM payment_anomalies"); after != before+1 {
			t.Fatalf("anomalies %d → %d for one notification delivered twice", before, after)
		}

		// The genuine notification still pays the order.
		ds, err = e.sb.DeliverAlipay(context.Background(), p.OutTradeNo, sandbox.AlipayDeliverOptions{})
		must(t, err)
		if ds[0].Body != "success" || e.getOrder(hank, o.ID).Status != "paid" {
			t.Fatalf("genuine notification: %q, order %s", ds[0].Body, e.getOrder(hank, o.ID).Status)
		}
		// Alipay's own retry of the accepted notification (same notify_id) is
		// answered exactly "success" in plain text and changes nothing.
		again, err := e.sb.AlipayNotificationForm(p.OutTradeNo, sandbox.AlipayDeliverOptions{})
		must(t, err)
		resp, err := http.PostForm(e.api.URL+payment.NotifyPathAlipay, again)
		must(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "success" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("retry of the accepted notification: %d %q %s", resp.StatusCode, b, resp.Header.Get("Content-Type"))
		}
		// Later notifications of the same trade are recorded and acknowledged
		// without moving the order: a TRADE_FINISHED, a refund's
		// TRADE_SUCCESS, a TRADE_CLOSED after a full refund.
		for _, opts := range []sandbox.AlipayDeliverOptions{
			{Status: sandbox.AlipayTradeFinished}, {Refund: true}, {Status: sandbox.AlipayTradeClosed, Refund: true}, {Status: sandbox.AlipayTradeClosed},
		} {
			ds, err := e.sb.DeliverAlipay(context.Background(), p.OutTradeNo, opts)
			must(t, err)
			if ds[0].Body != "success" {
				t.Fatalf("%+v: answered %d %q", opts, ds[0].HTTP, ds[0].Body)
			}
		}
		if got := e.getOrder(hank, o.ID); got.Status != "paid" || e.paidEvents(o.ID) != 1 || e.sales(pid) != 1 {
			t.Fatalf("order %+v, paid events %d, sales %d", got, e.paidEvents(o.ID), e.sales(pid))
		}
		if a := e.attempt(p.OutTradeNo); a.Status != payment.StatusSucceeded {
			t.Fatalf("attempt %s", a.Status)
		}
		if n := e.count("SELECT COUNT(*) FROM payment_notifications WHERE out_trade_no = ? AND outcome = 'ignored'", p.OutTradeNo); n != 4 {
			t.Fatalf("ignored notifications = %d, want 4 (WAIT_BUYER_PAY, refund, two closes)", n)
		}
	})
}

// signedAmountMismatch is one signed notification whose total_amount is one
// fen more than the trade, as Alipay would deliver it (and retry it).
func (e *env) signedAmountMismatch(outTradeNo string) url.Values {
	e.t.Helper()
	form, err := e.sb.AlipayNotificationForm(outTradeNo, sandbox.AlipayDeliverOptions{Tamper: sandbox.AlipayTamperAmount})
	must(e.t, err)
	return form
}

// postForm posts a notification form to the shop and returns the answer.
func (e *env) postForm(form url.Values) (int, string) {
	e.t.Helper()
	resp, err := http.PostForm(e.api.URL+payment.NotifyPathAlipay, form)
	must(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(e.t, err)
	return resp.StatusCode, string(b)
}

func TestAlipayMalformedNotifications(t *testing.T) {
	alipayEach(t, sandbox.Options{}, func(t *testing.T, e *env) {
		tests := []struct {
			name        string
			contentType string
			body        string
		}{
			{"empty", "application/x-www-form-urlencoded", ""},
			{"json", "application/json", `{"notify_id":"x"}`},
			{"bad escape", "application/x-www-form-urlencoded", "notify_id=%zz"},
			{"unsigned", "application/x-www-form-urlencoded", "notify_id=1&app_id=2&out_trade_no=3&trade_status=TRADE_SUCCESS&total_amount=1.00"},
			{"bad signature", "application/x-www-form-urlencoded", "notify_id=1&app_id=2&out_trade_no=3&trade_status=TRADE_SUCCESS&total_amount=1.00&sign=AAAA"},
			{"sign not base64", "application/x-www-form-urlencoded", "notify_id=1&app_id=2&out_trade_no=3&trade_status=TRADE_SUCCESS&total_amount=1.00&sign=***"},
			{"repeated field", "application/x-www-form-urlencoded", "notify_id=1&notify_id=2&app_id=2&out_trade_no=3&trade_status=TRADE_SUCCESS&sign=AAAA"},
			{"too large", "application/x-www-form-urlencoded", "notify_id=" + strings.Repeat("x", 2<<20)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, err := http.Post(e.api.URL+payment.NotifyPathAlipay, tt.contentType, strings.NewReader(tt.body))
				must(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 400 || resp.StatusCode >= 500 || string(b) == "success" {
					t.Fatalf("answered %d %q, want a 4xx that is not success", resp.StatusCode, b)
				}
			})
		}
		if n := e.count("SELECT COUNT(*) FROM payment_notifications"); n != 0 {
			t.Fatalf("stored %d notifications", n)
		}
	})
}

func TestAlipayLatePaymentIsRecorded(t *testing.T) {
	alipayEach(t, sandbox.Options{}, func(t *testing.T, e *env) {
		pid, sku := e.product(1000, 10)
		ivy := e.alipayLogin("ivy")
		o := e.order(ivy, sku, 1)
		p := e.payAlipay(ivy, o.ID)
		if _, err := e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		must(t, e.d.Writer(context.Background()).Exec("UPDATE orders SET status = 'cancelled' WHERE id = ?", o.ID).Error)
		ds, err := e.sb.DeliverAlipay(context.Background(), p.OutTradeNo, sandbox.AlipayDeliverOptions{Copies: 3})
		must(t, err)
		for _, d := range ds {
			if d.Body != "success" {
				t.Fatalf("answered %d %q", d.HTTP, d.Body)
			}
		}
		if got := e.getOrder(ivy, o.ID).Status; got != "cancelled" {
			t.Fatalf("order became %s", got)
		}
		if n := e.count("SELECT COUNT(*) FROM payment_anomalies WHERE kind = ? AND order_id = ? AND channel = 'alipay'", payment.AnomalyLatePayment, o.ID); n != 1 {
			t.Fatalf("late payment anomalies = %d", n)
		}
		if e.sales(pid) != 0 || e.paidEvents(o.ID) != 0 {
			t.Fatal("a late payment moved sales or the order")
		}
	})
}

func TestAlipayCancelClosesTheTradeOrFindsItPaid(t *testing.T) {
	alipayEach(t, sandbox.Options{}, func(t *testing.T, e *env) {
		_, sku := e.product(700, 10)
		jack := e.alipayLogin("jack")

		o := e.order(jack, sku, 1)
		p := e.payAlipay(jack, o.ID)
		e.call(jack.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), nil, http.StatusOK, nil)
		if tr, _ := e.sb.AlipayTradeOf(p.OutTradeNo); tr.Status != sandbox.AlipayTradeClosed {
			t.Fatalf("trade %s after cancel, want TRADE_CLOSED", tr.Status)
		}
		if a := e.attempt(p.OutTradeNo); a.Status != payment.StatusClosed {
			t.Fatalf("attempt %s, want closed", a.Status)
		}
		if _, err := e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{}); err == nil {
			t.Fatal("a closed trade was paid")
		}

		// Paid but not yet notified: close answers ACQ.TRADE_STATUS_ERROR,
		// the query finds the payment, the order is paid and the cancel
		// refused.
		o2 := e.order(jack, sku, 1)
		p2 := e.payAlipay(jack, o2.ID)
		if _, err := e.sb.PayAlipay(p2.TradeNo, sandbox.AlipayPayOptions{Hold: true, DiscountFen: 50}); err != nil {
			t.Fatal(err)
		}
		status, body := e.do(jack.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o2.ID), nil)
		if status != http.StatusConflict || !strings.Contains(string(body), `"status":"paid"`) {
			t.Fatalf("cancel of a paid trade: %d %s", status, body)
		}
		if got := e.getOrder(jack, o2.ID); got.Status != "paid" || got.PaidFen != o2.TotalFen {
			t.Fatalf("order %+v, want paid", got)
		}
		if a := e.attempt(p2.OutTradeNo); a.ProviderTxnID != p2.TradeNo || a.PayerTotalFen != o2.TotalFen-50 {
			t.Fatalf("attempt after the query %+v", a)
		}
		ds, err := e.sb.DeliverAlipay(context.Background(), p2.OutTradeNo, sandbox.AlipayDeliverOptions{})
		must(t, err)
		if ds[0].Body != "success" || e.paidEvents(o2.ID) != 1 {
			t.Fatalf("notification after the query: %q, paid events %d", ds[0].Body, e.paidEvents(o2.ID))
		}

		// Alipay unavailable on close and query: the cancel waits.
		o3 := e.order(jack, sku, 1)
		e.payAlipay(jack, o3.ID)
		e.sb.FailAlipay(sandbox.AlipayFailure{Times: 2, Code: "20000", SubCode: "isp.unknow-error"})
		if status, body := e.do(jack.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o3.ID), nil); status != http.StatusServiceUnavailable {
			t.Fatalf("cancel with Alipay down: %d %s", status, body)
		}
		if got := e.getOrder(jack, o3.ID).Status; got != "pending_payment" {
			t.Fatalf("order %s", got)
		}
	})
}

// TestOneOrderNeverHasTwoPayableTrades gives a customer both identities (as
// account linking would): paying with Alipay closes the open WeChat Pay
// trade first. And the cancel gate closes open attempts of both channels.
func TestOneOrderNeverHasTwoPayableTrades(t *testing.T) {
	alipayEach(t, sandbox.Options{}, func(t *testing.T, e *env) {
		_, sku := e.product(500, 10)
		kim := e.login("kim")
		ali := e.alipayLogin("kim-ali")
		must(t, e.d.Writer(context.Background()).Exec("UPDATE customer_identities SET customer_id = ? WHERE customer_id = ?", kim.id, ali.id).Error)

		o := e.order(kim, sku, 1)
		wx := e.pay(kim, o.ID)
		ap := e.payAlipay(kim, o.ID)
		if tr, _ := e.sb.WeChatPayTradeOf(wx.OutTradeNo); tr.TradeState != sandbox.WeChatPayTradeClosed || e.attempt(wx.OutTradeNo).Status != payment.StatusClosed {
			t.Fatalf("paying with Alipay left the WeChat Pay trade %s", tr.TradeState)
		}
		// A WeChat Pay trade paid before the switch pays the order instead.
		o2 := e.order(kim, sku, 1)
		wx2 := e.pay(kim, o2.ID)
		if _, err := e.sb.PayWeChat(wx2.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		status, body := e.do(kim.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", o2.ID), map[string]string{"channel": "alipay"})
		if status != http.StatusConflict || !strings.Contains(string(body), `"status":"paid"`) || e.getOrder(kim, o2.ID).Status != "paid" {
			t.Fatalf("switching channel after paying: %d %s", status, body)
		}

		// Open attempts on both channels (the WeChat one built directly, as
		// an older release could leave it): the cancel closes both.
		other := payment.Attempt{
			OrderID: o.ID, CustomerID: kim.id, Channel: payment.ChannelWeChat, OutTradeNo: "WXOPEN" + fmt.Sprint(o.ID),
			AmountFen: o.TotalFen, Description: "x", PayerID: "x", NotifyURL: e.api.URL + payment.NotifyPathWeChat,
			ExpiresAt: e.clk.Now().Add(time.Hour), CreatedAt: e.clk.Now(),
		}
		// The database holds an order to one open attempt (open_key): the
		// Alipay one gives up its key, as migration 00011 leaves the older
		// of two, for the WeChat one to be inserted.
		must(t, e.d.Writer(context.Background()).Exec("UPDATE payment_attempts SET open_key = NULL WHERE out_trade_no = ?", ap.OutTradeNo).Error)
		must(t, e.store.InsertAttempt(context.Background(), &other))
		e.call(kim.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), nil, http.StatusOK, nil)
		if tr, _ := e.sb.AlipayTradeOf(ap.OutTradeNo); tr.Status != sandbox.AlipayTradeClosed {
			t.Fatalf("alipay trade %s", tr.Status)
		}
		if e.attempt(ap.OutTradeNo).Status != payment.StatusClosed || e.attempt(other.OutTradeNo).Status != payment.StatusClosed {
			t.Fatal("attempts not closed")
		}
	})
}

func TestAlipayCancelRacingPaymentHasOneOutcome(t *testing.T) {
	alipayEach(t, sandbox.Options{}, func(t *testing.T, e *env) {
		_, sku := e.product(600, 1000)
		kate := e.alipayLogin("kate")
		for i := range 8 {
			o := e.order(kate, sku, 1)
			p := e.payAlipay(kate, o.ID)
			var wg sync.WaitGroup
			var payErr error
			var cancelStatus int
			var cancelBody []byte
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, payErr = e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{})
			}()
			go func() {
				defer wg.Done()
				cancelStatus, cancelBody = e.do(kate.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), nil)
			}()
			wg.Wait()
			if payErr == nil {
				e.waitAlipayAcked(p.OutTradeNo)
			}
			got := e.getOrder(kate, o.ID).Status
			tr, _ := e.sb.AlipayTradeOf(p.OutTradeNo)
			switch got {
			case "paid":
				if tr.Status != sandbox.AlipayTradeSuccess || cancelStatus != http.StatusConflict || e.paidEvents(o.ID) != 1 {
					t.Fatalf("round %d: paid order with trade %s, cancel %d %s", i, tr.Status, cancelStatus, cancelBody)
				}
			case "cancelled":
				if tr.Status != sandbox.AlipayTradeClosed || payErr == nil || cancelStatus != http.StatusOK {
					t.Fatalf("round %d: cancelled order with trade %s, pay error %v", i, tr.Status, payErr)
				}
			default:
				t.Fatalf("round %d: order %s (cancel %d %s, pay %v)", i, got, cancelStatus, cancelBody, payErr)
			}
			if n := e.count("SELECT COUNT(*) FROM payment_anomalies"); n != 0 {
				t.Fatalf("round %d: %d anomalies", i, n)
			}
		}
	})
}
