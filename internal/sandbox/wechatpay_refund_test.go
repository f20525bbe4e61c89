package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"github.com/minimall/minimall/internal/sandbox"
)

// refundNotice is what a merchant endpoint built on the SDK's own notify
// handler received.
type refundNotice struct {
	event  string
	status string
	no     string
	refund int64
}

// refundReceiver is a merchant endpoint that verifies and decrypts refund
// notifications with wechatpay-go's notify handler only.
func refundReceiver(t *testing.T, h *notify.Handler) (string, <-chan refundNotice) {
	t.Helper()
	got := make(chan refundNotice, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var res struct {
			OutRefundNo  string `json:"out_refund_no"`
			RefundStatus string `json:"refund_status"`
			Amount       struct {
				Refund int64 `json:"refund"`
			} `json:"amount"`
		}
		req, err := h.ParseNotifyRequest(r.Context(), r, &res)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got <- refundNotice{event: req.EventType, status: res.RefundStatus, no: res.OutRefundNo, refund: res.Amount.Refund}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

func TestWeChatPayRefundsWithTheOfficialSDK(t *testing.T) {
	f := newWXFixture(t, []time.Duration{5 * time.Millisecond})
	notifyURL, got := refundReceiver(t, f.handler)
	resp := f.prepay(t, "WXREFUND0001", "https://shop.example.com/notify", 1000)
	if _, err := f.sb.PayWeChat(*resp.PrepayId, sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
		t.Fatal(err)
	}
	svc := refunddomestic.RefundsApiService{Client: f.client}
	create := func(no string, refund int64) (*refunddomestic.Refund, error) {
		r, _, err := svc.Create(context.Background(), refunddomestic.CreateRequest{
			OutTradeNo: core.String("WXREFUND0001"), OutRefundNo: core.String(no), NotifyUrl: core.String(notifyURL),
			Amount: &refunddomestic.AmountReq{Refund: core.Int64(refund), Total: core.Int64(1000), Currency: core.String("CNY")},
		})
		return r, err
	}
	wait := func(want string) refundNotice {
		t.Helper()
		select {
		case n := <-got:
			if n.event != "REFUND."+want || n.status != want {
				t.Fatalf("notification %+v, want REFUND.%s", n, want)
			}
			return n
		case <-time.After(10 * time.Second):
			t.Fatalf("no REFUND.%s notification", want)
		}
		return refundNotice{}
	}

	// SUCCESS at once; the answer verified by the SDK; the notification
	// verified and decrypted by the SDK's handler.
	r, err := create("RF1", 300)
	if err != nil {
		t.Fatal(err)
	}
	if *r.Status != refunddomestic.STATUS_SUCCESS || *r.Amount.Refund != 300 || r.RefundId == nil || r.SuccessTime == nil {
		t.Fatalf("refund %+v", r)
	}
	if n := wait("SUCCESS"); n.no != "RF1" || n.refund != 300 {
		t.Fatalf("notification %+v", n)
	}
	// The same out_refund_no is the same refund.
	again, err := create("RF1", 300)
	if err != nil || *again.RefundId != *r.RefundId {
		t.Fatalf("retry: %v %+v", err, again)
	}
	if _, err := create("RF1", 301); err == nil {
		t.Fatal("another amount under the same out_refund_no was accepted")
	}

	// PROCESSING, then SUCCESS through the control call; the query follows.
	f.sb.SetWeChatPayRefunds(sandbox.WeChatPayRefundOptions{Outcome: sandbox.WeChatPayRefundProcessing})
	r2, err := create("RF2", 500)
	if err != nil || *r2.Status != refunddomestic.STATUS_PROCESSING {
		t.Fatalf("processing refund: %v %+v", err, r2)
	}
	if _, err := f.sb.CompleteWeChatRefund("RF2", sandbox.WeChatPayRefundSuccess); err != nil {
		t.Fatal(err)
	}
	wait("SUCCESS")
	q, _, err := svc.QueryByOutRefundNo(context.Background(), refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String("RF2")})
	if err != nil || *q.Status != refunddomestic.STATUS_SUCCESS {
		t.Fatalf("query: %v %+v", err, q)
	}

	// More than what is left is refused; an abnormal refund is notified.
	if _, err := create("RF3", 201); err == nil {
		t.Fatal("refunds over the total were accepted")
	}
	f.sb.SetWeChatPayRefunds(sandbox.WeChatPayRefundOptions{Outcome: sandbox.WeChatPayRefundAbnormal})
	if _, err := create("RF3", 200); err != nil {
		t.Fatal(err)
	}
	wait("ABNORMAL")
	if _, _, err := svc.QueryByOutRefundNo(context.Background(), refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String("RF-none")}); err == nil ||
		!strings.Contains(err.Error(), sandbox.WeChatPayResourceNotExists) {
		t.Fatalf("query of an unknown refund: %v", err)
	}
	// A refunded trade shows REFUND.
	if tr, _ := f.sb.WeChatPayTradeOf("WXREFUND0001"); tr.TradeState != sandbox.WeChatPayTradeRefund {
		t.Fatalf("trade %s after refunds, want REFUND", tr.TradeState)
	}
}

func TestWeChatPayRefundControlRoutes(t *testing.T) {
	f := newWXFixture(t, []time.Duration{5 * time.Millisecond})
	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(f.srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := post("/_sandbox/wechatpay/refunds/options", `{"outcome":"LATER"}`); status != http.StatusBadRequest {
		t.Fatalf("unknown outcome: %d %s", status, body)
	}
	if status, body := post("/_sandbox/wechatpay/refunds/options", `{"outcome":"PROCESSING","hold":true}`); status != http.StatusOK {
		t.Fatalf("options: %d %s", status, body)
	}
	if status, _ := post("/_sandbox/wechatpay/refunds/complete", `{"out_refund_no":"nope","status":"SUCCESS"}`); status != http.StatusBadRequest {
		t.Fatalf("completing an unknown refund: %d", status)
	}
	resp, err := http.Get(f.srv.URL + "/_sandbox/wechatpay/refunds/nope")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || e.Code != sandbox.WeChatPayResourceNotExists {
		t.Fatalf("unknown refund: %d %+v", resp.StatusCode, e)
	}
}
