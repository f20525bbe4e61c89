package sandbox_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/minimall/minimall/internal/sandbox"
)

// TestAlipayRefundsWithSDK drives alipay.trade.refund and
// alipay.trade.fastpay.refund.query with smartwalle's own client, which
// verifies every response.
func TestAlipayRefundsWithSDK(t *testing.T) {
	sb, base := start(t, sandbox.Options{})
	t.Cleanup(sb.StopDeliveries)
	c := sdkClient(t, sb, base, shanghai(t), nil)
	notifyURL, got := sdkMerchant(t, c)
	ctx := context.Background()
	out := "RFD" + strconv.FormatInt(time.Now().UnixNano(), 10)
	res, err := c.TradeCreate(ctx, sdk.TradeCreate{
		Trade: sdk.Trade{
			NotifyURL: notifyURL, Subject: "商品", OutTradeNo: out, TotalAmount: "10.00",
			ProductCode: "JSAPI_PAY", TimeExpire: time.Now().Add(time.Hour).In(shanghai(t)).Format("2006-01-02 15:04:05"),
		},
		BuyerId: sandbox.AlipayUserID("alice"),
	})
	if err != nil || !res.IsSuccess() {
		t.Fatalf("trade.create: %+v %v", res, err)
	}
	refund := func(no, amount string) *sdk.TradeRefundRsp {
		t.Helper()
		r, err := c.TradeRefund(ctx, sdk.TradeRefund{OutTradeNo: out, OutRequestNo: no, RefundAmount: amount, RefundReason: "测试"})
		if err != nil {
			t.Fatalf("trade.refund: %v", err)
		}
		return r
	}
	if r := refund("R1", "1.00"); r.IsSuccess() || r.SubCode != sandbox.AlipayTradeStatusError {
		t.Fatalf("refund of an unpaid trade: %+v", r)
	}
	if _, err := sb.PayAlipay(res.TradeNo, sandbox.AlipayPayOptions{Hold: true}); err != nil {
		t.Fatal(err)
	}
	if r := refund("R1", "3.00"); !r.IsSuccess() || r.FundChange != "Y" || r.RefundFee != "3.00" {
		t.Fatalf("first refund: %+v", r)
	}
	if r := refund("R1", "3.00"); !r.IsSuccess() || r.FundChange != "N" || r.RefundFee != "3.00" {
		t.Fatalf("the same out_request_no again: %+v", r)
	}
	// The refund causes one trade_status_sync notification, verified by the
	// SDK: TRADE_SUCCESS with the refund's fields.
	notified := func(status, fee, biz string) {
		t.Helper()
		select {
		case r := <-got:
			if r.err != nil || string(r.n.TradeStatus) != status || r.n.RefundFee != fee || r.n.OutBizNo != biz || r.n.GmtRefund == "" {
				t.Fatalf("refund notification %+v (%v), want %s refund_fee %s out_biz_no %s", r.n, r.err, status, fee, biz)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s notification after a refund", status)
		}
	}
	notified(sandbox.AlipayTradeSuccess, "3.00", "R1")
	if r := refund("R2", "7.01"); r.IsSuccess() || r.SubCode != sandbox.AlipayRefundAmountExceeded {
		t.Fatalf("refund over the total: %+v", r)
	}
	q, err := c.TradeFastPayRefundQuery(ctx, sdk.TradeFastPayRefundQuery{OutTradeNo: out, OutRequestNo: "R1"})
	if err != nil || !q.IsSuccess() || q.RefundStatus != sandbox.AlipayRefundSuccess || q.RefundAmount != "3.00" {
		t.Fatalf("refund query: %+v %v", q, err)
	}
	q, err = c.TradeFastPayRefundQuery(ctx, sdk.TradeFastPayRefundQuery{OutTradeNo: out, OutRequestNo: "R9"})
	if err != nil || !q.IsSuccess() || q.RefundStatus != "" {
		t.Fatalf("query of a refund never made: %+v %v", q, err)
	}
	// A lost answer: the refund is made, the answer says busy.
	sb.LoseAlipayRefundAnswers(1)
	if r := refund("R3", "7.00"); r.IsSuccess() || r.Code != "20000" {
		t.Fatalf("lost answer: %+v", r)
	}
	if got := sb.AlipayRefundedFen(out); got != 1000 {
		t.Fatalf("refunded %d fen, want 1000", got)
	}
	notified(sandbox.AlipayTradeClosed, "10.00", "R3")
	if tr, _ := sb.AlipayTradeOf(out); tr.Status != sandbox.AlipayTradeClosed {
		t.Fatalf("trade %s after a full refund, want TRADE_CLOSED", tr.Status)
	}
}
