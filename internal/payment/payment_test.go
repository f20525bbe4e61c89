package payment_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/sandbox"
	"github.com/minimall/minimall/internal/staff"
)

func TestPayThenNotificationPaysTheOrder(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		pid, sku := e.product(1990, 10)
		alice := e.login("alice")
		o := e.order(alice, sku, 2)

		p := e.pay(alice, o.ID)
		if p.Channel != "wechat" || p.OutTradeNo == "" || len(p.OutTradeNo) > 32 || p.RequestPayment.SignType != "RSA" ||
			!strings.HasPrefix(p.RequestPayment.Package, "prepay_id=") || p.RequestPayment.TimeStamp == "" {
			t.Fatalf("pay answered %+v", p)
		}
		if err := e.verifyPaySign(p); err != nil {
			t.Fatalf("paySign does not verify with the merchant public key: %v", err)
		}
		trade, ok := e.sb.WeChatPayTradeOf(p.OutTradeNo)
		if !ok || trade.TotalFen != o.TotalFen || trade.NotifyURL != e.api.URL+payment.NotifyPathWeChat ||
			trade.OpenID != e.sb.WeChatOpenID("alice") || !strings.HasSuffix(trade.TimeExpire, "+08:00") {
			t.Fatalf("trade at the platform: %+v (order total %d)", trade, o.TotalFen)
		}
		if got := e.getOrder(alice, o.ID).Status; got != "pending_payment" {
			t.Fatalf("before paying: status %s", got)
		}

		// The user pays with a platform coupon: the merchant still checks
		// the order amount.
		if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{CouponFen: 100}); err != nil {
			t.Fatal(err)
		}
		e.waitAcked(p.OutTradeNo)

		got := e.getOrder(alice, o.ID)
		if got.Status != "paid" || got.PaidFen != o.TotalFen {
			t.Fatalf("after the notification: %+v, want paid %d", got, o.TotalFen)
		}
		a := e.attempt(p.OutTradeNo)
		if a.Status != payment.StatusSucceeded || a.ProviderTxnID == "" || a.PayerTotalFen != o.TotalFen-100 {
			t.Fatalf("attempt %+v", a)
		}
		if n := e.paidEvents(o.ID); n != 1 {
			t.Fatalf("paid events = %d, want 1", n)
		}
		if s := e.sales(pid); s != 2 {
			t.Fatalf("sales = %d, want 2", s)
		}
		ns, err := e.store.Notifications(context.Background(), p.OutTradeNo)
		must(t, err)
		if len(ns) != 1 || ns[0].Outcome != payment.OutcomeAccepted || !strings.Contains(ns[0].Body, a.ProviderTxnID) {
			t.Fatalf("stored notifications %+v", ns)
		}
		// A paid order cannot be paid again.
		status, body := e.do(alice.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", o.ID), map[string]string{"channel": "wechat"})
		if status != http.StatusConflict || !strings.Contains(string(body), "invalid_state") {
			t.Fatalf("paying a paid order: %d %s", status, body)
		}
	})
}

func TestPayAgainReusesTheAttemptWithAFreshSignature(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(500, 10)
		bob := e.login("bob")
		o := e.order(bob, sku, 1)
		first := e.pay(bob, o.ID)
		second := e.pay(bob, o.ID)
		if first.OutTradeNo != second.OutTradeNo || first.prepayID() != second.prepayID() {
			t.Fatalf("second pay made a new trade: %s/%s vs %s/%s", first.OutTradeNo, first.prepayID(), second.OutTradeNo, second.prepayID())
		}
		if first.RequestPayment.NonceStr == second.RequestPayment.NonceStr || first.RequestPayment.PaySign == second.RequestPayment.PaySign {
			t.Fatal("second pay did not sign fresh parameters")
		}
		if err := e.verifyPaySign(second); err != nil {
			t.Fatal(err)
		}
		if n := e.count("SELECT COUNT(*) FROM payment_attempts WHERE order_id = ?", o.ID); n != 1 {
			t.Fatalf("attempts = %d, want 1", n)
		}
	})
}

func TestPayRefusals(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(300, 100)
		carol, dave := e.login("carol"), e.login("dave")
		cancelled := e.order(carol, sku, 1)
		e.call(carol.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", cancelled.ID), nil, http.StatusOK, nil)
		noIdentity := e.login("erin")
		must(t, e.d.Writer(context.Background()).Exec("DELETE FROM customer_identities WHERE customer_id = ?", noIdentity.id).Error)
		erinOrder := e.order(noIdentity, sku, 1)
		open := e.order(carol, sku, 1)

		tests := []struct {
			name    string
			who     customer
			orderID int64
			body    any
			status  int
			code    string
		}{
			{"another customer's order", dave, open.ID, map[string]string{"channel": "wechat"}, 404, "not_found"},
			{"unknown order", carol, 999999, map[string]string{"channel": "wechat"}, 404, "not_found"},
			{"cancelled order", carol, cancelled.ID, map[string]string{"channel": "wechat"}, 409, "invalid_state"},
			{"alipay not yet", carol, open.ID, map[string]string{"channel": "alipay"}, 409, "channel_unavailable"},
			{"unknown channel", carol, open.ID, map[string]string{"channel": "paypal"}, 400, "invalid_argument"},
			{"unknown field", carol, open.ID, map[string]any{"channel": "wechat", "paid": true}, 400, "invalid_argument"},
			{"no wechat identity", noIdentity, erinOrder.ID, map[string]string{"channel": "wechat"}, 409, "channel_unavailable"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, body := e.do(tt.who.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", tt.orderID), tt.body)
				if status != tt.status || !strings.Contains(string(body), `"code":"`+tt.code+`"`) {
					t.Fatalf("got %d %s, want %d %s", status, body, tt.status, tt.code)
				}
			})
		}
		if n := e.count("SELECT COUNT(*) FROM payment_attempts"); n != 0 {
			t.Fatalf("refused pays left %d attempts", n)
		}
	})
}

func TestPayMapsPlatformErrors(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(300, 100)
		frank := e.login("frank")
		o := e.order(frank, sku, 1)
		tests := []struct {
			fail   sandbox.WeChatPayFailure
			status int
			code   string
		}{
			{sandbox.WeChatPayFailure{Times: 1, Status: 500, Code: sandbox.WeChatPaySystemError, Message: "系统错误"}, 503, "upstream_unavailable"},
			{sandbox.WeChatPayFailure{Times: 1, Status: 400, Code: sandbox.WeChatPayParamError, Message: "参数错误"}, 502, "upstream_error"},
			{sandbox.WeChatPayFailure{Times: 1, Status: 403, Code: "NOAUTH", Message: "商户无权限"}, 502, "upstream_error"},
		}
		for _, tt := range tests {
			t.Run(tt.fail.Code, func(t *testing.T) {
				e.sb.FailWeChatPay(tt.fail)
				status, body := e.do(frank.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", o.ID), map[string]string{"channel": "wechat"})
				if status != tt.status || !strings.Contains(string(body), tt.code) {
					t.Fatalf("got %d %s, want %d %s", status, body, tt.status, tt.code)
				}
			})
		}
		// The failed prepays left one open attempt; the next pay completes it
		// with the same out_trade_no.
		p := e.pay(frank, o.ID)
		if n := e.count("SELECT COUNT(*) FROM payment_attempts WHERE order_id = ?", o.ID); n != 1 {
			t.Fatalf("attempts = %d, want 1", n)
		}
		if a := e.attempt(p.OutTradeNo); a.PrepayID != p.prepayID() {
			t.Fatalf("attempt prepay id %q, answered %q", a.PrepayID, p.prepayID())
		}
	})
}

func TestConcurrentDuplicateNotificationsPayOnce(t *testing.T) {
	tests := []struct {
		name          string
		distinct      bool
		notifications int64 // stored: one per platform notification id
	}{
		{"same notification id", false, 1},
		{"distinct notification ids", true, 51}, // and the later copies' own id
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbtestEach(t, func(t *testing.T, e *env) {
				pid, sku := e.product(2500, 10)
				gina := e.login("gina")
				o := e.order(gina, sku, 3)
				p := e.pay(gina, o.ID)
				if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
					t.Fatal(err)
				}
				ds, err := e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo,
					sandbox.WeChatPayDeliverOptions{Copies: 50, DistinctIDs: tt.distinct})
				must(t, err)
				for i, d := range ds {
					if d.Status != http.StatusNoContent {
						t.Errorf("delivery %d: %d %s %s", i, d.Status, d.Body, d.Error)
					}
				}
				// The platform keeps delivering after the first acknowledgement.
				ds, err = e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo, sandbox.WeChatPayDeliverOptions{Copies: 5})
				must(t, err)
				for i, d := range ds {
					if d.Status != http.StatusNoContent {
						t.Errorf("later duplicate %d: %d %s", i, d.Status, d.Body)
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
				if n := e.count("SELECT COUNT(*) FROM payment_notifications"); n != tt.notifications {
					t.Fatalf("stored notifications = %d, want %d", n, tt.notifications)
				}
				if n := e.count("SELECT COUNT(*) FROM payment_anomalies"); n != 0 {
					t.Fatalf("anomalies = %d, want 0", n)
				}
			})
		})
	}
}

func TestRefusedNotificationsChangeNothing(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		pid, sku := e.product(880, 10)
		hank := e.login("hank")
		o := e.order(hank, sku, 1)
		p := e.pay(hank, o.ID)
		if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			tamper  string
			status  int
			anomaly string // the anomaly recorded, for signed notifications that fail a business check
		}{
			{sandbox.TamperSignature, 401, ""},
			{sandbox.TamperBody, 401, ""},
			{sandbox.TamperForeignKey, 401, ""},
			{sandbox.TamperProbe, 401, ""},
			{sandbox.TamperStale, 401, ""},
			{sandbox.TamperNoResource, 400, ""},
			{sandbox.TamperMalformed, 400, ""},
			{sandbox.TamperAmount, 400, payment.AnomalyAmountMismatch},
			{sandbox.TamperAppID, 400, payment.AnomalyMerchantMismatch},
			{sandbox.TamperMchID, 400, payment.AnomalyMerchantMismatch},
			{sandbox.TamperOutTradeNo, 400, payment.AnomalyUnknownTrade},
		}
		for _, tt := range tests {
			t.Run(tt.tamper, func(t *testing.T) {
				before := e.count("SELECT COUNT(*) FROM payment_anomalies")
				ds, err := e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo, sandbox.WeChatPayDeliverOptions{Tamper: tt.tamper})
				must(t, err)
				if ds[0].Status != tt.status || !strings.Contains(ds[0].Body, `"code":"FAIL"`) {
					t.Fatalf("answered %d %s, want %d FAIL", ds[0].Status, ds[0].Body, tt.status)
				}
				after := e.count("SELECT COUNT(*) FROM payment_anomalies")
				switch {
				case tt.anomaly == "" && after != before:
					t.Fatalf("an unverified notification recorded an anomaly")
				case tt.anomaly != "" && (after != before+1 || e.count("SELECT COUNT(*) FROM payment_anomalies WHERE kind = ?", tt.anomaly) == 0):
					t.Fatalf("anomaly %s not recorded once (%d → %d)", tt.anomaly, before, after)
				}
				if got := e.getOrder(hank, o.ID).Status; got != "pending_payment" {
					t.Fatalf("order became %s", got)
				}
				if a := e.attempt(p.OutTradeNo); a.Status != payment.StatusPending || a.ProviderTxnID != "" {
					t.Fatalf("attempt became %+v", a)
				}
				// The platform retries a refused notification: it is refused
				// again without a second anomaly.
				if tt.anomaly != "" {
					again, err := e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo, sandbox.WeChatPayDeliverOptions{Tamper: tt.tamper})
					must(t, err)
					if again[0].Status != tt.status {
						t.Fatalf("retry answered %d", again[0].Status)
					}
				}
			})
		}
		if s := e.sales(pid); s != 0 {
			t.Fatalf("sales = %d after refused notifications", s)
		}
		// The genuine notification still pays the order.
		ds, err := e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo, sandbox.WeChatPayDeliverOptions{})
		must(t, err)
		if ds[0].Status != http.StatusNoContent {
			t.Fatalf("genuine notification: %d %s", ds[0].Status, ds[0].Body)
		}
		if got := e.getOrder(hank, o.ID).Status; got != "paid" {
			t.Fatalf("order %s after the genuine notification", got)
		}
	})
}

func TestUnsignedAndMalformedBodies(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		tests := []struct {
			name   string
			body   string
			status int
		}{
			{"empty", "", 400},
			{"not json", "{{{", 400},
			{"array", "[]", 400},
			{"no resource", `{"id":"x","create_time":"2026-01-01T00:00:00+08:00","event_type":"TRANSACTION.SUCCESS"}`, 400},
			{"null resource", `{"id":"x","create_time":"2026-01-01T00:00:00+08:00","event_type":"TRANSACTION.SUCCESS","resource":null}`, 400},
			{"unsigned", `{"id":"x","create_time":"2026-01-01T00:00:00+08:00","event_type":"TRANSACTION.SUCCESS","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"AAAA","nonce":"n","associated_data":"transaction"}}`, 401},
			{"too large", `{"id":"` + strings.Repeat("x", 2<<20) + `"}`, 413},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodPost, e.api.URL+payment.NotifyPathWeChat, strings.NewReader(tt.body))
				must(t, err)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				must(t, err)
				resp.Body.Close()
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
				}
			})
		}
		if n := e.count("SELECT COUNT(*) FROM payment_notifications"); n != 0 {
			t.Fatalf("stored %d notifications", n)
		}
	})
}

func TestLateAndDoublePaymentsAreRecorded(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		pid, sku := e.product(1000, 10)
		ivy := e.login("ivy")
		tests := []struct {
			name    string
			set     string // the order's status, built directly in the database
			anomaly string
		}{
			{"cancelled order", "cancelled", payment.AnomalyLatePayment},
			{"order paid through another attempt", "paid", payment.AnomalyDoublePayment},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				o := e.order(ivy, sku, 1)
				p := e.pay(ivy, o.ID)
				if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
					t.Fatal(err)
				}
				must(t, e.d.Writer(context.Background()).Exec("UPDATE orders SET status = ? WHERE id = ?", tt.set, o.ID).Error)
				salesBefore := e.sales(pid)
				ds, err := e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo, sandbox.WeChatPayDeliverOptions{Copies: 3})
				must(t, err)
				for _, d := range ds {
					if d.Status != http.StatusNoContent {
						t.Fatalf("answered %d %s", d.Status, d.Body)
					}
				}
				if got := e.getOrder(ivy, o.ID).Status; got != tt.set {
					t.Fatalf("order became %s", got)
				}
				if a := e.attempt(p.OutTradeNo); a.Status != payment.StatusSucceeded {
					t.Fatalf("attempt %s, want succeeded", a.Status)
				}
				if n := e.count("SELECT COUNT(*) FROM payment_anomalies WHERE kind = ? AND order_id = ?", tt.anomaly, o.ID); n != 1 {
					t.Fatalf("%s anomalies = %d, want 1", tt.anomaly, n)
				}
				if e.sales(pid) != salesBefore || e.paidEvents(o.ID) != 0 {
					t.Fatal("a late payment moved sales or the order")
				}
			})
		}
	})
}

func TestCancelClosesTheTradeOrFindsItPaid(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(700, 10)
		jack := e.login("jack")

		// Unpaid: the trade is closed at the platform, then the order is
		// cancelled; the trade can no longer be paid.
		o := e.order(jack, sku, 1)
		p := e.pay(jack, o.ID)
		e.call(jack.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), nil, http.StatusOK, nil)
		if tr, _ := e.sb.WeChatPayTradeOf(p.OutTradeNo); tr.TradeState != sandbox.WeChatPayTradeClosed {
			t.Fatalf("trade %s after cancel, want CLOSED", tr.TradeState)
		}
		if a := e.attempt(p.OutTradeNo); a.Status != payment.StatusClosed {
			t.Fatalf("attempt %s, want closed", a.Status)
		}
		if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{}); err == nil {
			t.Fatal("a closed trade was paid")
		}

		// Paid but not yet notified: the close is refused, the query finds
		// the payment, the order is paid and the cancel refused.
		o2 := e.order(jack, sku, 1)
		p2 := e.pay(jack, o2.ID)
		if _, err := e.sb.PayWeChat(p2.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		status, body := e.do(jack.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o2.ID), nil)
		if status != http.StatusConflict || !strings.Contains(string(body), `"status":"paid"`) {
			t.Fatalf("cancel of a paid trade: %d %s", status, body)
		}
		if got := e.getOrder(jack, o2.ID); got.Status != "paid" {
			t.Fatalf("order %s, want paid", got.Status)
		}
		// The notification that follows is a duplicate.
		ds, err := e.sb.DeliverWeChatPay(context.Background(), p2.OutTradeNo, sandbox.WeChatPayDeliverOptions{})
		must(t, err)
		if ds[0].Status != http.StatusNoContent || e.paidEvents(o2.ID) != 1 {
			t.Fatalf("notification after the query: %d, paid events %d", ds[0].Status, e.paidEvents(o2.ID))
		}
	})
}

func TestCancelRacingPaymentHasOneOutcome(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(600, 1000)
		kate := e.login("kate")
		for i := range 8 {
			o := e.order(kate, sku, 1)
			p := e.pay(kate, o.ID)
			var wg sync.WaitGroup
			var payErr error
			var cancelStatus int
			var cancelBody []byte
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, payErr = e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{})
			}()
			go func() {
				defer wg.Done()
				cancelStatus, cancelBody = e.do(kate.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), nil)
			}()
			wg.Wait()
			if payErr == nil {
				e.waitAcked(p.OutTradeNo)
			}
			got := e.getOrder(kate, o.ID).Status
			tr, _ := e.sb.WeChatPayTradeOf(p.OutTradeNo)
			switch got {
			case "paid":
				if tr.TradeState != sandbox.WeChatPayTradeSuccess || cancelStatus != http.StatusConflict || e.paidEvents(o.ID) != 1 {
					t.Fatalf("round %d: paid order with trade %s, cancel %d %s", i, tr.TradeState, cancelStatus, cancelBody)
				}
			case "cancelled":
				if tr.TradeState != sandbox.WeChatPayTradeClosed || payErr == nil || cancelStatus != http.StatusOK {
					t.Fatalf("round %d: cancelled order with trade %s, pay error %v", i, tr.TradeState, payErr)
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

func TestNoRouteMarksAnOrderPaid(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(450, 10)
		lena := e.login("lena")
		o := e.order(lena, sku, 1)
		users, err := staff.NewStore(e.d)
		must(t, err)
		passwords, err := auth.NewPasswords(bcrypt.MinCost)
		must(t, err)
		hash, err := passwords.Hash("owner-password-123")
		must(t, err)
		_, err = users.Insert(context.Background(), "owner", hash, auth.RoleOwner, false, e.clk.Now())
		must(t, err)
		var staff struct {
			AccessToken string `json:"access_token"`
		}
		e.call("", http.MethodPost, "/api/v1/admin/auth/login", map[string]string{"username": "owner", "password": "owner-password-123"}, http.StatusOK, &staff)

		// Every route, with every token, with a body that asks for payment.
		body := map[string]any{"status": "paid", "paid": true, "paid_fen": o.TotalFen, "channel": "wechat",
			"trade_state": "SUCCESS", "out_trade_no": "x", "transaction_id": "x"}
		tried := 0
		for _, r := range e.app.Engine().Routes() {
			if strings.HasSuffix(r.Path, "/cancel") {
				continue // a cancelled order cannot become paid either; keep it payable
			}
			path := strings.NewReplacer(":id", fmt.Sprint(o.ID)).Replace(r.Path)
			for _, token := range []string{"", lena.token, staff.AccessToken} {
				e.do(token, r.Method, path, body)
				tried++
			}
		}
		if tried < 30 {
			t.Fatalf("only %d calls made: the route table was not walked", tried)
		}
		if got := e.getOrder(lena, o.ID); got.Status != "pending_payment" || got.PaidFen != 0 || e.paidEvents(o.ID) != 0 {
			t.Fatalf("order became %+v", got)
		}
	})
}
