package aftersale_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/minimall/minimall/internal/sandbox"
)

// TestPlatformRefusalKeepsRefundingAndIsRetried: a refusal the platform
// documents as passing (balance short) leaves the request refunding with
// the platform's word on it; the refund jobs ask again and it is made.
func TestPlatformRefusalKeepsRefundingAndIsRetried(t *testing.T) {
	for _, ch := range channels {
		t.Run(ch, func(t *testing.T) {
			each(t, func(t *testing.T, e *env) {
				c := e.login("alice", ch)
				sku := e.product(3000, 5, 1)[0]
				o := e.paidOrder(c, [2]int64{sku, 1})
				word := "NOT_ENOUGH"
				if ch == "wechat" {
					e.sb.FailWeChatPay(sandbox.WeChatPayFailure{Times: 1, Status: http.StatusForbidden, Code: "NOT_ENOUGH", Message: "基本账户余额不足，请充值后重新发起"})
				} else {
					word = "ACQ.SELLER_BALANCE_NOT_ENOUGH"
					e.sb.FailAlipay(sandbox.AlipayFailure{Times: 1, Code: "40004", SubCode: word})
				}
				r := e.ask(c, o.ID, "refund_only", http.StatusCreated, [3]int64{o.Items[0].ID, 1, 0})
				r = e.staffAct(e.owner, r.ID, "approve", nil, http.StatusOK)
				if r.Status != "refunding" || !strings.Contains(r.RefundDetail, word) {
					t.Fatalf("after a refusal the request is %s with %q", r.Status, r.RefundDetail)
				}
				if got := e.refundedAtPlatform(ch, o.OutTradeNo); got != 0 {
					t.Fatalf("refunded %d despite the refusal", got)
				}
				e.settle()
				r = e.request(c, r.ID)
				if r.Status != "refunded" {
					t.Fatalf("after the retry the request is %s (%s)", r.Status, r.RefundDetail)
				}
				if got := e.refundedAtPlatform(ch, o.OutTradeNo); got != o.PaidFen {
					t.Errorf("refunded %d, want %d", got, o.PaidFen)
				}
			})
		})
	}
}
