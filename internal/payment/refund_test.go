package payment_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/sandbox"
)

// eventually polls cond until it holds or 15 s pass.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) stock(skuID int64) int64 {
	return e.count("SELECT stock FROM skus WHERE id = ?", skuID)
}

func (e *env) refunds(attemptID int64) []payment.Refund {
	e.t.Helper()
	rs, err := e.app.Payments().RefundsOfAttempt(context.Background(), attemptID)
	must(e.t, err)
	return rs
}

// hideAttempt marks an attempt closed in the database, as if its close had
// been recorded while the payer was already paying: the cancel that follows
// finds nothing to close, and the payment arrives late.
func (e *env) hideAttempt(outTradeNo string) {
	must(e.t, e.d.Writer(context.Background()).Exec(
		"UPDATE payment_attempts SET status = 'closed', open_key = NULL WHERE out_trade_no = ?", outTradeNo).Error)
}

func (e *env) cancel(c customer, orderID int64) {
	e.t.Helper()
	e.call(c.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", orderID), nil, http.StatusOK, nil)
}

func TestLatePaymentIsRefundedOnceAndTheOrderStaysCancelled(t *testing.T) {
	t.Run("wechat", func(t *testing.T) {
		dbtestEach(t, func(t *testing.T, e *env) {
			_, sku := e.product(1250, 10)
			mia := e.login("mia")
			o := e.order(mia, sku, 2)
			p := e.pay(mia, o.ID)
			if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
				t.Fatal(err)
			}
			e.hideAttempt(p.OutTradeNo)
			e.cancel(mia, o.ID)
			if got := e.stock(sku); got != 10 {
				t.Fatalf("stock after cancel = %d, want 10", got)
			}
			ds, err := e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo, sandbox.WeChatPayDeliverOptions{Copies: 3})
			must(t, err)
			for _, d := range ds {
				if d.Status != http.StatusNoContent {
					t.Fatalf("late payment answered %d %s", d.Status, d.Body)
				}
			}
			a := e.attempt(p.OutTradeNo)
			rs := e.refunds(a.ID)
			if len(rs) != 1 || rs[0].AmountFen != o.TotalFen || rs[0].Status != payment.RefundSucceeded || rs[0].AnomalyID == 0 {
				t.Fatalf("refunds %+v, want one succeeded refund of %d", rs, o.TotalFen)
			}
			at := e.sb.WeChatRefundsOfTrade(p.OutTradeNo)
			if len(at) != 1 || at[0].RefundFen != o.TotalFen {
				t.Fatalf("refunds at WeChat Pay %+v, want one of %d", at, o.TotalFen)
			}
			// The platform's REFUND.SUCCESS notification is accepted.
			select {
			case <-e.sb.WeChatRefundAcknowledged(rs[0].OutRefundNo):
			case <-time.After(15 * time.Second):
				t.Fatal("refund notification not acknowledged")
			}
			// The safety net finds nothing left to refund; more copies of the
			// payment change nothing.
			n, err := e.app.Payments().RefundAnomalies(context.Background(), 100)
			must(t, err)
			if n != 0 {
				t.Fatalf("refund job refunded %d anomalies, want 0", n)
			}
			_, err = e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo, sandbox.WeChatPayDeliverOptions{Copies: 2, DistinctIDs: true})
			must(t, err)
			if got := len(e.sb.WeChatRefundsOfTrade(p.OutTradeNo)); got != 1 {
				t.Fatalf("refunds at WeChat Pay = %d, want 1", got)
			}
			if got := e.getOrder(mia, o.ID); got.Status != "cancelled" || got.PaidFen != 0 {
				t.Fatalf("order %+v, want cancelled and unpaid", got)
			}
			if got := e.stock(sku); got != 10 {
				t.Fatalf("stock = %d, want 10 (returned once)", got)
			}
			if a := e.attempt(p.OutTradeNo); a.RefundedFen != o.TotalFen {
				t.Fatalf("attempt refunded %d, want %d", a.RefundedFen, o.TotalFen)
			}
		})
	})
	t.Run("alipay", func(t *testing.T) {
		alipayEach(t, sandbox.Options{}, func(t *testing.T, e *env) {
			_, sku := e.product(990, 5)
			nia := e.alipayLogin("nia")
			o := e.order(nia, sku, 1)
			p := e.payAlipay(nia, o.ID)
			if _, err := e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{Hold: true}); err != nil {
				t.Fatal(err)
			}
			e.hideAttempt(p.OutTradeNo)
			e.cancel(nia, o.ID)
			ds, err := e.sb.DeliverAlipay(context.Background(), p.OutTradeNo, sandbox.AlipayDeliverOptions{Copies: 3})
			must(t, err)
			for _, d := range ds {
				if d.Body != payment.AlipayAck {
					t.Fatalf("late payment answered %d %s", d.HTTP, d.Body)
				}
			}
			a := e.attempt(p.OutTradeNo)
			rs := e.refunds(a.ID)
			if len(rs) != 1 || rs[0].Status != payment.RefundSucceeded || rs[0].AmountFen != o.TotalFen {
				t.Fatalf("refunds %+v", rs)
			}
			if calls, fen := e.sb.AlipayRefundCalls(p.OutTradeNo), e.sb.AlipayRefundedFen(p.OutTradeNo); calls != 1 || fen != o.TotalFen {
				t.Fatalf("Alipay saw %d refund calls for %d fen, want 1 for %d", calls, fen, o.TotalFen)
			}
			// The TRADE_CLOSED notification the full refund causes is
			// verified, recorded and acknowledged, and moves nothing.
			e.eventually("the refund's TRADE_CLOSED notification is recorded", func() bool {
				return e.count("SELECT COUNT(*) FROM payment_notifications WHERE out_trade_no = ? AND event_type = 'TRADE_CLOSED+refund' AND outcome = 'ignored'", p.OutTradeNo) == 1
			})
			if got := e.getOrder(nia, o.ID).Status; got != "cancelled" {
				t.Fatalf("order %s, want cancelled", got)
			}
			if got := e.stock(sku); got != 5 {
				t.Fatalf("stock = %d, want 5", got)
			}
		})
	})
}

func TestDoublePaymentIsRefunded(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		pid, sku := e.product(800, 10)
		olga := e.login("olga")
		o := e.order(olga, sku, 1)
		p := e.pay(olga, o.ID)
		if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		// The order was paid through another attempt meanwhile.
		must(t, e.d.Writer(context.Background()).Exec("UPDATE orders SET status = 'paid', paid_fen = total_fen WHERE id = ?", o.ID).Error)
		ds, err := e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo, sandbox.WeChatPayDeliverOptions{})
		must(t, err)
		if ds[0].Status != http.StatusNoContent {
			t.Fatalf("answered %d %s", ds[0].Status, ds[0].Body)
		}
		rs := e.refunds(e.attempt(p.OutTradeNo).ID)
		if len(rs) != 1 || rs[0].Status != payment.RefundSucceeded || rs[0].AmountFen != o.TotalFen {
			t.Fatalf("refunds %+v", rs)
		}
		if got := e.getOrder(olga, o.ID).Status; got != "paid" || e.sales(pid) != 0 {
			t.Fatalf("order %s sales %d, want paid and untouched", got, e.sales(pid))
		}
		// Refunding the order never reaches the double payment: it was not
		// what paid the order (here nothing else did).
		if _, err := e.app.Payments().RefundOrder(context.Background(), o.ID, 100, "售后", "AS-1"); !apperr.Is(err, apperr.CodeInvalidState) {
			t.Fatalf("refunding an order paid only by a double payment: %v, want invalid_state", err)
		}
	})
}

func TestRefundWhosePlatformCallFailedIsAskedAgainByTheJob(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(640, 10)
		pia := e.login("pia")
		o := e.order(pia, sku, 1)
		p := e.pay(pia, o.ID)
		if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		e.hideAttempt(p.OutTradeNo)
		e.cancel(pia, o.ID)
		// The refund right after the notification meets a busy platform, so
		// its outcome is unknown and it stays processing; the refund job
		// finds WeChat Pay never received it and asks again, once.
		e.sb.FailWeChatPay(sandbox.WeChatPayFailure{Times: 1, Status: 500, Code: "SYSTEM_ERROR", Message: "busy"})
		_, err := e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo, sandbox.WeChatPayDeliverOptions{})
		must(t, err)
		a := e.attempt(p.OutTradeNo)
		rs := e.refunds(a.ID)
		if len(rs) != 1 || rs[0].Status != payment.RefundProcessing {
			t.Fatalf("refunds after a busy platform %+v, want one processing", rs)
		}
		if n, err := e.app.Payments().SettleRefunds(context.Background(), 100); err != nil || n != 0 {
			t.Fatalf("refund job before the check is due: %d, %v", n, err)
		}
		e.clk.Advance(31 * time.Second)
		n, err := e.app.Payments().SettleRefunds(context.Background(), 100)
		must(t, err)
		if n != 1 {
			t.Fatalf("refund job checked %d refunds, want 1", n)
		}
		rs = e.refunds(a.ID)
		if len(rs) != 1 || rs[0].Status != payment.RefundSucceeded {
			t.Fatalf("refunds after the job %+v", rs)
		}
		if got := len(e.sb.WeChatRefundsOfTrade(p.OutTradeNo)); got != 1 {
			t.Fatalf("refunds at WeChat Pay = %d, want 1", got)
		}
	})
}

func TestLostNotificationIsFoundByReconciliation(t *testing.T) {
	t.Run("wechat", func(t *testing.T) {
		dbtestEach(t, func(t *testing.T, e *env) {
			pid, sku := e.product(1500, 10)
			quin := e.login("quin")
			o := e.order(quin, sku, 3)
			p := e.pay(quin, o.ID)
			if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
				t.Fatal(err)
			}
			svc := e.app.Payments()
			if n, err := svc.ReconcilePending(context.Background(), 100); err != nil || n != 0 {
				t.Fatalf("reconciliation before it is due checked %d (%v)", n, err)
			}
			e.clk.Advance(61 * time.Second)
			// Two instances at once: one checks, the other finds it claimed.
			var wg sync.WaitGroup
			counts := make([]int, 2)
			for i := range counts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := svc.ReconcilePending(context.Background(), 100)
					if err != nil {
						t.Error(err)
					}
					counts[i] = n
				}()
			}
			wg.Wait()
			if counts[0]+counts[1] != 1 {
				t.Fatalf("instances checked %v, want one check in all", counts)
			}
			if got := e.getOrder(quin, o.ID); got.Status != "paid" || got.PaidFen != o.TotalFen {
				t.Fatalf("order %+v, want paid", got)
			}
			if e.paidEvents(o.ID) != 1 || e.sales(pid) != 3 {
				t.Fatalf("paid events %d, sales %d", e.paidEvents(o.ID), e.sales(pid))
			}
			// The notification that finally arrives is a duplicate.
			ds, err := e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo, sandbox.WeChatPayDeliverOptions{})
			must(t, err)
			if ds[0].Status != http.StatusNoContent || e.paidEvents(o.ID) != 1 {
				t.Fatalf("late notification %d, paid events %d", ds[0].Status, e.paidEvents(o.ID))
			}
		})
	})
	t.Run("alipay", func(t *testing.T) {
		alipayEach(t, sandbox.Options{}, func(t *testing.T, e *env) {
			_, sku := e.product(700, 10)
			rui := e.alipayLogin("rui")
			o := e.order(rui, sku, 1)
			p := e.payAlipay(rui, o.ID)
			if _, err := e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{Hold: true}); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(61 * time.Second)
			n, err := e.app.Payments().ReconcilePending(context.Background(), 100)
			must(t, err)
			if n != 1 {
				t.Fatalf("checked %d, want 1", n)
			}
			if got := e.getOrder(rui, o.ID).Status; got != "paid" {
				t.Fatalf("order %s, want paid", got)
			}
		})
	})
}

func TestReconciliationBacksOffThenClosesAfterTheDeadline(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(300, 10)
		sam := e.login("sam")
		o := e.order(sam, sku, 1)
		p := e.pay(sam, o.ID)
		svc := e.app.Payments()
		checks := 0
		for range 40 {
			e.clk.Advance(61 * time.Second)
			n, err := svc.ReconcilePending(context.Background(), 100)
			must(t, err)
			checks += n
			if e.attempt(p.OutTradeNo).Status != payment.StatusPending {
				break
			}
		}
		a := e.attempt(p.OutTradeNo)
		if a.Status != payment.StatusClosed {
			t.Fatalf("attempt %s after the deadline, want closed", a.Status)
		}
		// 30 minutes of 61 s steps: doubling waits check far fewer times.
		if checks < 3 || checks > 12 {
			t.Fatalf("checked %d times, want backoff (3..12)", checks)
		}
		if tr, _ := e.sb.WeChatPayTradeOf(p.OutTradeNo); tr.TradeState != sandbox.WeChatPayTradeClosed {
			t.Fatalf("trade %s, want CLOSED", tr.TradeState)
		}
	})
}

func TestConcurrentRefundsNeverExceedThePaidAmount(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(1000, 10)
		tao := e.login("tao")
		o := e.order(tao, sku, 1)
		p := e.pay(tao, o.ID)
		if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitAcked(p.OutTradeNo)
		a := e.attempt(p.OutTradeNo)
		part := a.AmountFen * 3 / 10
		var wg sync.WaitGroup
		errs := make([]error, 10)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.app.Payments().Refund(context.Background(), payment.RefundRequest{AttemptID: a.ID, AmountFen: part, Reason: "部分退款"})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case apperr.Is(err, apperr.CodeConflict):
			default:
				t.Fatalf("refund: %v", err)
			}
		}
		if ok != 3 {
			t.Fatalf("%d refunds of %d out of %d went through, want 3", ok, part, a.AmountFen)
		}
		if got := e.attempt(p.OutTradeNo).RefundedFen; got != 3*part {
			t.Fatalf("refunded %d, want %d", got, 3*part)
		}
		var atPlatform int64
		for _, r := range e.sb.WeChatRefundsOfTrade(p.OutTradeNo) {
			atPlatform += r.RefundFen
		}
		if atPlatform != 3*part {
			t.Fatalf("WeChat Pay refunded %d, want %d", atPlatform, 3*part)
		}
		// The same key again is the same refund; the rest can still go.
		first := e.refunds(a.ID)[0]
		again, err := e.app.Payments().Refund(context.Background(), payment.RefundRequest{AttemptID: a.ID, AmountFen: part, OutRefundNo: first.OutRefundNo})
		must(t, err)
		if again.ID != first.ID {
			t.Fatalf("a retry made refund %d, want %d", again.ID, first.ID)
		}
		rest, err := e.app.Payments().RefundOrder(context.Background(), o.ID, a.AmountFen-3*part, "售后", "AS-tao-0")
		if err != nil || rest.AttemptID != a.ID || rest.Status != payment.RefundSucceeded {
			t.Fatalf("refunding the rest by order: %+v, %v", rest, err)
		}
		if _, err := e.app.Payments().Refund(context.Background(), payment.RefundRequest{AttemptID: a.ID, AmountFen: 1}); !apperr.Is(err, apperr.CodeConflict) {
			t.Fatalf("refund over the paid amount: %v, want conflict", err)
		}
		if got := e.getOrder(tao, o.ID).Status; got != "paid" {
			t.Fatalf("order %s: refunds do not move orders", got)
		}
		// By order, as after-sales will ask: the paying attempt, the same bound.
		if _, err := e.app.Payments().RefundOrder(context.Background(), o.ID, 1, "售后", "AS-tao-1"); !apperr.Is(err, apperr.CodeConflict) {
			t.Fatalf("refunding a fully refunded order: %v, want conflict", err)
		}
	})
}

func TestWeChatRefundOutcomesAndDuplicateNotifications(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(2000, 10)
		uma := e.login("uma")
		o := e.order(uma, sku, 1)
		p := e.pay(uma, o.ID)
		if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitAcked(p.OutTradeNo)
		a := e.attempt(p.OutTradeNo)
		svc := e.app.Payments()
		e.sb.SetWeChatPayRefunds(sandbox.WeChatPayRefundOptions{Outcome: sandbox.WeChatPayRefundProcessing})

		refundThen := func(fen int64, end string) payment.Refund {
			t.Helper()
			r, err := svc.Refund(context.Background(), payment.RefundRequest{AttemptID: a.ID, AmountFen: fen})
			must(t, err)
			if r.Status != payment.RefundProcessing || r.ProviderRefundID == "" {
				t.Fatalf("refund answered PROCESSING: %+v", r)
			}
			_, err = e.sb.CompleteWeChatRefund(r.OutRefundNo, end)
			must(t, err)
			select {
			case <-e.sb.WeChatRefundAcknowledged(r.OutRefundNo):
			case <-time.After(15 * time.Second):
				t.Fatalf("REFUND.%s not acknowledged", end)
			}
			got, _, err := e.store.RefundByOutRefundNo(context.Background(), r.OutRefundNo)
			must(t, err)
			return got
		}

		// PROCESSING then SUCCESS, then the notification again and again.
		ok := refundThen(500, sandbox.WeChatPayRefundSuccess)
		if ok.Status != payment.RefundSucceeded || ok.SucceededAt == nil {
			t.Fatalf("after REFUND.SUCCESS: %+v", ok)
		}
		ds, err := e.sb.DeliverWeChatRefund(context.Background(), ok.OutRefundNo, 4)
		must(t, err)
		for _, d := range ds {
			if d.Status != http.StatusNoContent {
				t.Fatalf("duplicate refund notification answered %d %s", d.Status, d.Body)
			}
		}
		again, _, err := e.store.RefundByOutRefundNo(context.Background(), ok.OutRefundNo)
		must(t, err)
		if again.Status != ok.Status || !again.UpdatedAt.Equal(ok.UpdatedAt) {
			t.Fatalf("duplicates changed the refund: %+v then %+v", ok, again)
		}
		if n := e.count("SELECT COUNT(*) FROM payment_notifications WHERE event_type = 'REFUND.SUCCESS'"); n != 1 {
			t.Fatalf("stored refund notifications = %d, want 1", n)
		}

		// CLOSED fails the refund and frees its amount.
		closed := refundThen(700, sandbox.WeChatPayRefundClosed)
		if closed.Status != payment.RefundFailed {
			t.Fatalf("after REFUND.CLOSED: %+v", closed)
		}
		if got := e.attempt(p.OutTradeNo).RefundedFen; got != 500 {
			t.Fatalf("refunded %d after a closed refund, want 500", got)
		}

		// ABNORMAL keeps the amount counted and waits for staff.
		ab := refundThen(300, sandbox.WeChatPayRefundAbnormal)
		if ab.Status != payment.RefundAbnormal {
			t.Fatalf("after REFUND.ABNORMAL: %+v", ab)
		}
		if got := e.attempt(p.OutTradeNo).RefundedFen; got != 800 {
			t.Fatalf("refunded %d, want 800", got)
		}
	})
}

func TestRefundWithALostAnswerIsSettledByTheJob(t *testing.T) {
	t.Run("wechat", func(t *testing.T) {
		dbtestEach(t, func(t *testing.T, e *env) {
			_, sku := e.product(900, 10)
			vic := e.login("vic")
			o := e.order(vic, sku, 1)
			p := e.pay(vic, o.ID)
			if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{}); err != nil {
				t.Fatal(err)
			}
			e.waitAcked(p.OutTradeNo)
			a := e.attempt(p.OutTradeNo)
			e.sb.SetWeChatPayRefunds(sandbox.WeChatPayRefundOptions{LoseAnswer: true, Hold: true})
			r, err := e.app.Payments().Refund(context.Background(), payment.RefundRequest{AttemptID: a.ID, AmountFen: a.AmountFen})
			must(t, err)
			if r.Status != payment.RefundProcessing {
				t.Fatalf("a lost answer left %s, want processing", r.Status)
			}
			e.clk.Advance(31 * time.Second)
			if _, err := e.app.Payments().SettleRefunds(context.Background(), 100); err != nil {
				t.Fatal(err)
			}
			got, _, err := e.store.RefundByOutRefundNo(context.Background(), r.OutRefundNo)
			must(t, err)
			if got.Status != payment.RefundSucceeded || len(e.sb.WeChatRefundsOfTrade(p.OutTradeNo)) != 1 {
				t.Fatalf("after the job: %+v", got)
			}
		})
	})
	t.Run("alipay", func(t *testing.T) {
		alipayEach(t, sandbox.Options{}, func(t *testing.T, e *env) {
			_, sku := e.product(900, 10)
			wen := e.alipayLogin("wen")
			o := e.order(wen, sku, 1)
			p := e.payAlipay(wen, o.ID)
			if _, err := e.sb.PayAlipay(p.TradeNo, sandbox.AlipayPayOptions{}); err != nil {
				t.Fatal(err)
			}
			e.waitAlipayAcked(p.OutTradeNo)
			a := e.attempt(p.OutTradeNo)
			e.sb.LoseAlipayRefundAnswers(1)
			r, err := e.app.Payments().Refund(context.Background(), payment.RefundRequest{AttemptID: a.ID, AmountFen: 400})
			must(t, err)
			if r.Status != payment.RefundProcessing {
				t.Fatalf("a lost answer left %s, want processing", r.Status)
			}
			e.clk.Advance(31 * time.Second)
			if _, err := e.app.Payments().SettleRefunds(context.Background(), 100); err != nil {
				t.Fatal(err)
			}
			got, _, err := e.store.RefundByOutRefundNo(context.Background(), r.OutRefundNo)
			must(t, err)
			if got.Status != payment.RefundSucceeded {
				t.Fatalf("after the job: %+v", got)
			}
			if calls, fen := e.sb.AlipayRefundCalls(p.OutTradeNo), e.sb.AlipayRefundedFen(p.OutTradeNo); calls != 1 || fen != 400 {
				t.Fatalf("Alipay saw %d calls refunding %d fen, want 1 call of 400", calls, fen)
			}
		})
	})
}

func TestDeadlineJobRacingAPaymentNeverPaysWithStockReturned(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(600, 1000)
		for i := range 6 {
			xia := e.login("xia") // a fresh token: the clock moves half an hour a round
			before := e.stock(sku)
			o := e.order(xia, sku, 2)
			p := e.pay(xia, o.ID)
			e.clk.Advance(31 * time.Minute) // past the deadline for the shop; the platform still takes the payment
			var wg sync.WaitGroup
			var payErr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, payErr = e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{})
			}()
			go func() {
				defer wg.Done()
				if _, err := e.app.Orders().CancelExpired(context.Background(), 100); err != nil {
					t.Error(err)
				}
			}()
			wg.Wait()
			if payErr == nil {
				e.waitAcked(p.OutTradeNo)
			}
			got := e.getOrder(xia, o.ID).Status
			a := e.attempt(p.OutTradeNo)
			switch got {
			case "paid":
				if e.stock(sku) != before-2 {
					t.Fatalf("round %d: paid order with stock returned (%d, before %d)", i, e.stock(sku), before)
				}
			case "cancelled":
				if e.stock(sku) != before {
					t.Fatalf("round %d: cancelled order with stock %d, want %d", i, e.stock(sku), before)
				}
				if a.Status == payment.StatusSucceeded {
					if rs := e.refunds(a.ID); len(rs) != 1 || rs[0].AmountFen != a.AmountFen {
						t.Fatalf("round %d: cancelled and paid without a full refund: %+v", i, rs)
					}
				}
			default:
				t.Fatalf("round %d: order %s", i, got)
			}
		}
	})
}

func TestAnomalyJobRefundsLatePaymentsLeftWithoutRefund(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(520, 10)
		zoe := e.login("zoe")
		ctx := context.Background()
		// An instance recorded two late payments and stopped before asking
		// for their refunds; staff already dealt with the second one.
		var attempts []payment.Attempt
		for range 2 {
			o := e.order(zoe, sku, 1)
			p := e.pay(zoe, o.ID)
			if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
				t.Fatal(err)
			}
			e.hideAttempt(p.OutTradeNo)
			e.cancel(zoe, o.ID)
			tr, _ := e.sb.WeChatPayTradeOf(p.OutTradeNo)
			a := e.attempt(p.OutTradeNo)
			moved, err := e.store.MarkSucceeded(ctx, a.ID, tr.TransactionID, tr.PayerTotalFen, e.clk.Now(), e.clk.Now())
			must(t, err)
			if !moved {
				t.Fatal("attempt not moved to succeeded")
			}
			must(t, e.store.InsertAnomaly(ctx, &payment.Anomaly{
				Channel: payment.ChannelWeChat, Kind: payment.AnomalyLatePayment, OrderID: o.ID, AttemptID: a.ID,
				OutTradeNo: a.OutTradeNo, ProviderTxnID: tr.TransactionID, ExpectedFen: a.AmountFen, ActualFen: a.AmountFen,
				Detail: "paid while the order is cancelled", CreatedAt: e.clk.Now(),
			}))
			attempts = append(attempts, a)
		}
		ans, err := e.store.Anomalies(ctx, payment.AnomalyOpen)
		must(t, err)
		if _, err := e.store.ResolveAnomaly(ctx, ans[1].ID, 1, "refunded by hand", e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		svc := e.app.Payments()
		n, err := svc.RefundAnomalies(ctx, 100)
		must(t, err)
		if n != 1 {
			t.Fatalf("job refunded %d anomalies, want 1", n)
		}
		if rs := e.refunds(attempts[0].ID); len(rs) != 1 || rs[0].Status != payment.RefundSucceeded || rs[0].AnomalyID != ans[0].ID {
			t.Fatalf("refunds of the open anomaly %+v", rs)
		}
		if rs := e.refunds(attempts[1].ID); len(rs) != 0 {
			t.Fatalf("the resolved anomaly was refunded: %+v", rs)
		}
		if n, err := svc.RefundAnomalies(ctx, 100); err != nil || n != 0 {
			t.Fatalf("second run refunded %d (%v), want 0", n, err)
		}
		if got := len(e.sb.WeChatRefundsOfTrade(attempts[0].OutTradeNo)); got != 1 {
			t.Fatalf("refunds at WeChat Pay = %d, want 1", got)
		}
	})
}

// TestQueriedMismatchIsRecordedOnce proves a platform answer that fails a
// check (here: an amount that differs from the attempt) is recorded as one
// anomaly however often reconciliation asks again, and pays nothing.
func TestQueriedMismatchIsRecordedOnce(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(300, 10)
		uma := e.login("uma")
		o := e.order(uma, sku, 1)
		p := e.pay(uma, o.ID)
		if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		// The attempt now expects one fen more than the platform collected.
		must(t, e.d.Writer(context.Background()).Exec("UPDATE payment_attempts SET amount_fen = amount_fen + 1 WHERE out_trade_no = ?", p.OutTradeNo).Error)
		for range 3 {
			e.clk.Advance(10 * time.Minute)
			if _, err := e.app.Payments().ReconcilePending(context.Background(), 100); err != nil {
				t.Fatal(err)
			}
		}
		a := e.attempt(p.OutTradeNo)
		if n := e.count("SELECT COUNT(*) FROM payment_anomalies WHERE attempt_id = ?", a.ID); n != 1 {
			t.Fatalf("%d anomalies for the attempt, want 1", n)
		}
		if got := e.getOrder(uma, o.ID).Status; got != "pending_payment" || a.Status != payment.StatusPending {
			t.Fatalf("order %s, attempt %s; want both unpaid", got, a.Status)
		}
	})
}
