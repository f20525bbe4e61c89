package aftersale_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/aftersale"
	"github.com/minimall/minimall/internal/auth"
)

// TestCustomerRoutesRefuseOtherCustomers: every customer route answers 404
// for another customer's order, line or request.
func TestCustomerRoutesRefuseOtherCustomers(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.login("alice", "wechat"), e.login("bob", "wechat")
		sku := e.product(3000, 5, 1)[0]
		o := e.paidOrder(alice, [2]int64{sku, 2})
		bobs := e.paidOrder(bob, [2]int64{sku, 1})
		// Bob's line on Alice's order, and Alice's line on Bob's order.
		raw := e.call(bob.token, http.MethodPost, "/api/v1/aftersales", map[string]any{"order_id": o.ID, "type": "refund_only",
			"reason": "no_longer_needed", "items": []map[string]int64{{"order_item_id": o.Items[0].ID, "quantity": 1}}}, http.StatusNotFound, nil)
		if errCode(raw) != "not_found" {
			t.Errorf("another's order: %s", raw)
		}
		e.call(alice.token, http.MethodPost, "/api/v1/aftersales", map[string]any{"order_id": o.ID, "type": "refund_only",
			"reason": "no_longer_needed", "items": []map[string]int64{{"order_item_id": bobs.Items[0].ID, "quantity": 1}}}, http.StatusNotFound, nil)
		r := e.ask(alice, o.ID, "refund_only", http.StatusCreated, [3]int64{o.Items[0].ID, 1, 0})
		for _, rt := range []struct{ method, path string }{
			{http.MethodGet, fmt.Sprintf("/api/v1/aftersales/%d", r.ID)},
			{http.MethodPost, fmt.Sprintf("/api/v1/aftersales/%d/cancel", r.ID)},
			{http.MethodPost, fmt.Sprintf("/api/v1/aftersales/%d/return-shipment", r.ID)},
		} {
			var body any
			if rt.path[len(rt.path)-1] == 't' {
				body = map[string]string{"carrier": "SF", "tracking_no": "SF1234567890"}
			}
			st, raw := e.do(bob.token, rt.method, rt.path, body)
			if st != http.StatusNotFound {
				t.Errorf("bob %s %s = %d %s, want 404", rt.method, rt.path, st, raw)
			}
		}
		var list struct {
			Total int64 `json:"total"`
		}
		e.call(bob.token, http.MethodGet, "/api/v1/aftersales", nil, http.StatusOK, &list)
		if list.Total != 0 {
			t.Errorf("bob lists %d requests", list.Total)
		}
		e.call(alice.token, http.MethodGet, "/api/v1/aftersales", nil, http.StatusOK, &list)
		if list.Total != 1 {
			t.Errorf("alice lists %d requests", list.Total)
		}
		// The owner cancels it; it is her line again.
		if got := e.order(alice, o.ID).Items[0]; !got.AfterSaleOpen {
			t.Errorf("line not shown open: %+v", got)
		}
		e.call(alice.token, http.MethodPost, fmt.Sprintf("/api/v1/aftersales/%d/cancel", r.ID), nil, http.StatusOK, nil)
		if got := e.order(alice, o.ID).Items[0]; got.AfterSaleOpen {
			t.Errorf("line still open after cancel: %+v", got)
		}
	})
}

// TestRequestRulesAnswerStableCodes: wrong status, closed window, more
// than left, lower-only amounts, roles.
func TestRequestRulesAnswerStableCodes(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login("alice", "alipay")
		sku := e.product(3000, 5, 1)[0]
		o := e.paidOrder(c, [2]int64{sku, 2})
		line := o.Items[0].ID
		code := func(st int, raw []byte, wantSt int, want string) {
			t.Helper()
			if st != wantSt || errCode(raw) != want {
				t.Errorf("got %d %s, want %d %s", st, raw, wantSt, want)
			}
		}
		body := func(typ string, qty int64) map[string]any {
			return map[string]any{"order_id": o.ID, "type": typ, "reason": "damaged",
				"items": []map[string]int64{{"order_item_id": line, "quantity": qty}}}
		}
		st, raw := e.do(c.token, http.MethodPost, "/api/v1/aftersales", body("return_refund", 1))
		code(st, raw, http.StatusConflict, "invalid_state") // not shipped yet
		st, raw = e.do(c.token, http.MethodPost, "/api/v1/aftersales", body("refund_only", 3))
		code(st, raw, http.StatusConflict, "limit_exceeded")
		st, raw = e.do(c.token, http.MethodPost, "/api/v1/aftersales", map[string]any{"order_id": o.ID, "type": "refund_only",
			"reason": "because", "items": []map[string]int64{{"order_item_id": line, "quantity": 1}}})
		code(st, raw, http.StatusBadRequest, "invalid_argument")

		e.ship(o.ID)
		e.call(c.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/confirm", o.ID), nil, http.StatusOK, nil)
		r := e.ask(c, o.ID, "return_refund", http.StatusCreated, [3]int64{line, 1, 0})
		st, raw = e.do(c.token, http.MethodPost, "/api/v1/aftersales", body("refund_only", 1))
		code(st, raw, http.StatusConflict, "limit_exceeded") // one open request per line

		// Roles: warehouse cannot decide, customer service cannot receive.
		wh, cs := e.staffToken("warehouse1", auth.RoleWarehouse), e.staffToken("service1", auth.RoleCustomerService)
		e.staffAct(wh, r.ID, "approve", nil, http.StatusForbidden)
		e.staffAct(cs, r.ID, "approve", map[string]any{"refund_fen": 3001}, http.StatusBadRequest)
		e.staffAct(cs, r.ID, "approve", map[string]any{"refund_fen": 2000}, http.StatusBadRequest) // lower needs a reason
		got := e.staffAct(cs, r.ID, "approve", map[string]any{"refund_fen": 2000, "reason": "包装已拆"}, http.StatusOK)
		if got.RefundFen != 2000 || got.ComputedFen != 3000 {
			t.Errorf("lowered approval: refund %d computed %d", got.RefundFen, got.ComputedFen)
		}
		e.staffAct(cs, r.ID, "receive-return", map[string]any{"accept": true}, http.StatusForbidden)
		e.staffAct(wh, r.ID, "receive-return", map[string]any{"accept": false}, http.StatusBadRequest)
		got = e.staffAct(wh, r.ID, "receive-return", map[string]any{"accept": false, "reason": "not our goods"}, http.StatusOK)
		if got.Status != "rejected" {
			t.Errorf("refused return is %s", got.Status)
		}
		var audit int64
		must(t, e.d.Reader(context.Background()).Raw("SELECT COUNT(*) FROM audit_logs WHERE target_type = 'aftersale' AND target_id = ?",
			fmt.Sprint(r.ID)).Scan(&audit).Error)
		if audit != 2 {
			t.Errorf("%d audit entries, want 2 (approve, receive-return)", audit)
		}

		// After the window the request is refused.
		e.clk.Advance(8 * 24 * time.Hour)
		c.token = e.login("alice", "alipay").token
		st, raw = e.do(c.token, http.MethodPost, "/api/v1/aftersales", body("return_refund", 1))
		code(st, raw, http.StatusConflict, "window_closed")
	})
}

// TestDeadlines: a refund-only request on an unshipped order is approved
// after the auto-approve delay, others are only reminded; an approved
// return without a parcel is cancelled after the return window; automatic
// confirmation waits while a request is open.
func TestDeadlines(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.login("alice", "wechat")
		sku := e.product(3000, 9, 1)[0]
		unshipped := e.paidOrder(c, [2]int64{sku, 1})
		shipped := e.paidOrder(c, [2]int64{sku, 2})
		e.ship(shipped.ID)
		auto := e.ask(c, unshipped.ID, "refund_only", http.StatusCreated, [3]int64{unshipped.Items[0].ID, 1, 0})
		other := e.ask(c, shipped.ID, "return_refund", http.StatusCreated, [3]int64{shipped.Items[0].ID, 1, 0})

		e.clk.Advance(47 * time.Hour)
		if n, err := e.app.AfterSales().AutoApprove(ctx, 100); err != nil || n != 0 {
			t.Fatalf("auto-approve before the delay: %d %v", n, err)
		}
		e.clk.Advance(2 * time.Hour)
		if n, err := e.app.AfterSales().AutoApprove(ctx, 100); err != nil || n != 2 {
			t.Fatalf("auto-approve: %d %v, want 2 (one approved, one reminded)", n, err)
		}
		if st := e.status("aftersales", auto.ID); st != "refunded" {
			t.Errorf("auto-approved request is %s", st)
		}
		if st := e.status("aftersales", other.ID); st != "requested" {
			t.Errorf("return request is %s, want requested (reminded only)", st)
		}

		// Auto-confirm waits for the open request.
		e.clk.Advance(11 * 24 * time.Hour)
		if _, err := e.app.Orders().ConfirmOverdue(ctx, 100); err != nil {
			t.Fatal(err)
		}
		if st := e.status("orders", shipped.ID); st != "shipped" {
			t.Fatalf("order with an open after-sale is %s", st)
		}
		if _, err := e.app.AfterSales().Approve(ctx, 1, other.ID, aftersale.ApproveInput{}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(7*24*time.Hour + time.Minute)
		if n, err := e.app.AfterSales().ExpireReturns(ctx, 100); err != nil || n != 1 {
			t.Fatalf("return expiry: %d %v", n, err)
		}
		if st := e.status("aftersales", other.ID); st != "cancelled" {
			t.Errorf("expired return is %s", st)
		}
		if _, err := e.app.Orders().ConfirmOverdue(ctx, 100); err != nil {
			t.Fatal(err)
		}
		if st := e.status("orders", shipped.ID); st != "completed" {
			t.Errorf("order after the request ended is %s", st)
		}
	})
}

// TestMerchantRefund: staff refund the whole order on the customer's
// behalf through the same rules; every step is audited.
func TestMerchantRefund(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login("alice", "wechat")
		o, _ := e.threeLines(c)
		var r requestJSON
		e.call(e.owner, http.MethodPost, fmt.Sprintf("/api/v1/admin/orders/%d/refunds", o.ID),
			map[string]any{"whole_order": true, "reason": "out_of_stock"}, http.StatusCreated, &r)
		if r.RefundFen != o.PaidFen || r.Status != "refunded" {
			t.Fatalf("merchant refund: %+v", r)
		}
		if got := e.order(c, o.ID); got.Status != "closed" {
			t.Errorf("order is %s", got.Status)
		}
		if n := e.count("SELECT COUNT(*) FROM audit_logs WHERE action = 'order.refund'"); n != 1 {
			t.Errorf("%d audit entries", n)
		}
		cs := e.staffToken("warehouse1", auth.RoleWarehouse)
		e.call(cs, http.MethodPost, fmt.Sprintf("/api/v1/admin/orders/%d/refunds", o.ID),
			map[string]any{"whole_order": true, "reason": "goodwill"}, http.StatusForbidden, nil)
	})
}
