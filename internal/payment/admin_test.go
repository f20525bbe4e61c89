package payment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/sandbox"
	"github.com/minimall/minimall/internal/staff"
)

// staffToken creates a staff member of role and logs it in.
func (e *env) staffToken(name string, role auth.Role) string {
	e.t.Helper()
	tokens, err := auth.NewTokens(config.DevJWTSecret, e.clk)
	must(e.t, err)
	lg, err := audit.New(e.d, e.clk)
	must(e.t, err)
	us, err := staff.NewStore(e.d)
	must(e.t, err)
	passwords, err := auth.NewPasswords(bcrypt.MinCost)
	must(e.t, err)
	sealer, err := staff.TOTPSealer(nil, config.DevJWTSecret)
	must(e.t, err)
	svc, err := staff.NewService(e.d, us, passwords, tokens, lg, e.clk, sealer)
	must(e.t, err)
	_, err = svc.Create(context.Background(), staff.SystemActor, staff.NewAccount{Username: name, Password: name + "-password", Role: role})
	must(e.t, err)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	e.call("", http.MethodPost, "/api/v1/admin/auth/login", map[string]string{"username": name, "password": name + "-password"}, http.StatusOK, &out)
	return out.AccessToken
}

type anomalyPage struct {
	Items []struct {
		ID             int64  `json:"id"`
		Kind           string `json:"kind"`
		Status         string `json:"status"`
		OrderID        int64  `json:"order_id"`
		ResolutionNote string `json:"resolution_note"`
		Refunds        []struct {
			AmountFen int64  `json:"amount_fen"`
			Status    string `json:"status"`
		} `json:"refunds"`
	} `json:"items"`
	Total int64 `json:"total"`
}

func TestStaffSeeAnomaliesWithTheirRefundsAndResolveThem(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(1100, 10)
		yan := e.login("yan")
		o := e.order(yan, sku, 1)
		p := e.pay(yan, o.ID)
		if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		e.hideAttempt(p.OutTradeNo)
		e.cancel(yan, o.ID)
		_, err := e.sb.DeliverWeChatPay(context.Background(), p.OutTradeNo, sandbox.WeChatPayDeliverOptions{})
		must(t, err)
		// A refused notification of another trade is listed too.
		o2 := e.order(yan, sku, 1)
		p2 := e.pay(yan, o2.ID)
		if _, err := e.sb.PayWeChat(p2.prepayID(), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		_, err = e.sb.DeliverWeChatPay(context.Background(), p2.OutTradeNo, sandbox.WeChatPayDeliverOptions{Tamper: sandbox.TamperAmount})
		must(t, err)

		owner, cs := e.staffToken("boss", auth.RoleOwner), e.staffToken("helpdesk", auth.RoleCustomerService)
		list := func(token, query string) anomalyPage {
			t.Helper()
			var pg anomalyPage
			raw := e.call(token, http.MethodGet, "/api/v1/admin/payment-anomalies"+query, nil, http.StatusOK, nil)
			must(t, json.Unmarshal(raw, &pg))
			return pg
		}
		all := list(cs, "")
		if all.Total != 2 || len(all.Items) != 2 {
			t.Fatalf("all anomalies: %+v", all)
		}
		late := list(cs, "?kind=late_payment&status=open")
		if late.Total != 1 || late.Items[0].OrderID != o.ID || len(late.Items[0].Refunds) != 1 ||
			late.Items[0].Refunds[0].Status != "succeeded" || late.Items[0].Refunds[0].AmountFen != o.TotalFen {
			t.Fatalf("late payments: %+v", late)
		}
		if pg := list(cs, "?kind=amount_mismatch"); pg.Total != 1 || len(pg.Items[0].Refunds) != 0 {
			t.Fatalf("amount mismatches: %+v", pg)
		}
		if status, body := e.do(cs, http.MethodGet, "/api/v1/admin/payment-anomalies?kind=nonsense", nil); status != http.StatusBadRequest {
			t.Fatalf("unknown kind: %d %s", status, body)
		}
		path := fmt.Sprintf("/api/v1/admin/payment-anomalies/%d/resolve", late.Items[0].ID)
		if status, _ := e.do(cs, http.MethodPost, path, map[string]string{"note": "ok"}); status != http.StatusForbidden {
			t.Fatalf("customer service resolving: %d, want 403", status)
		}
		if status, _ := e.do(owner, http.MethodPost, path, map[string]string{"note": ""}); status != http.StatusBadRequest {
			t.Fatalf("empty note: %d, want 400", status)
		}
		e.call(owner, http.MethodPost, path, map[string]string{"note": "退款已到账，已电话告知顾客"}, http.StatusOK, nil)
		if status, _ := e.do(owner, http.MethodPost, path, map[string]string{"note": "again"}); status != http.StatusConflict {
			t.Fatalf("resolving twice: %d, want 409", status)
		}
		res := list(owner, "?status=resolved")
		if res.Total != 1 || res.Items[0].ResolutionNote != "退款已到账，已电话告知顾客" || res.Items[0].Status != "resolved" {
			t.Fatalf("resolved: %+v", res)
		}
		if pg := list(owner, "?status=open"); pg.Total != 1 || pg.Items[0].Kind != "amount_mismatch" {
			t.Fatalf("open: %+v", pg)
		}
	})
}

// TestStaffOrderDetailShowsPaymentAttempts proves staff see an order's
// payment attempts, with their outcome, in the order detail.
func TestStaffOrderDetailShowsPaymentAttempts(t *testing.T) {
	dbtestEach(t, func(t *testing.T, e *env) {
		_, sku := e.product(1500, 5)
		pia := e.login("pia")
		o := e.order(pia, sku, 1)
		p := e.pay(pia, o.ID)
		if _, err := e.sb.PayWeChat(p.prepayID(), sandbox.WeChatPayPayOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitAcked(p.OutTradeNo)
		token := e.staffToken("viewer", auth.RoleCustomerService)
		var detail struct {
			Status          string `json:"status"`
			PaymentAttempts []struct {
				Channel       string  `json:"channel"`
				OutTradeNo    string  `json:"out_trade_no"`
				Status        string  `json:"status"`
				AmountFen     int64   `json:"amount_fen"`
				ProviderTxnID string  `json:"provider_txn_id"`
				PaidAt        *string `json:"paid_at"`
			} `json:"payment_attempts"`
		}
		e.call(token, http.MethodGet, fmt.Sprintf("/api/v1/admin/orders/%d", o.ID), nil, http.StatusOK, &detail)
		if detail.Status != "paid" || len(detail.PaymentAttempts) != 1 {
			t.Fatalf("detail %+v", detail)
		}
		a := detail.PaymentAttempts[0]
		if a.Channel != "wechat" || a.OutTradeNo != p.OutTradeNo || a.Status != "succeeded" ||
			a.AmountFen != o.TotalFen || a.ProviderTxnID == "" || a.PaidAt == nil {
			t.Fatalf("payment attempt %+v", a)
		}
	})
}
