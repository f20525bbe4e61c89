package sandbox

import (
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Alipay refund codes the sandbox answers with.
const (
	AlipayRefundAmountExceeded = "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
	AlipayRefundSuccess        = "REFUND_SUCCESS"
)

// alipayRefundRec is one refund (out_request_no) of a trade.
type alipayRefundRec struct {
	outTradeNo   string
	outRequestNo string
	fen          int64
	reason       string
	at           time.Time
}

// alipayRefunds is the refund side of the sandbox's Alipay: refunds are
// synchronous, as alipay.trade.refund is; the trade's notify_url then gets
// the trade_status_sync notification the refund causes.
type alipayRefunds struct {
	mu sync.Mutex
	// byKey holds refunds by out_trade_no + "\x00" + out_request_no.
	byKey map[string]*alipayRefundRec
	// loseAnswers is how many of the next refunds are made but answered
	// 20000, as a timeout after Alipay acted looks to the merchant.
	loseAnswers int
	calls       map[string]int // trade.refund calls by out_trade_no
}

func (s *Server) registerAlipayRefunds() {
	s.alipayRefunds = &alipayRefunds{byKey: map[string]*alipayRefundRec{}, calls: map[string]int{}}
	s.handleAlipayMethod("alipay.trade.refund", s.alipayTradeRefund)
	s.handleAlipayMethod("alipay.trade.fastpay.refund.query", s.alipayRefundQuery)
	// POST /_sandbox/alipay/refunds/lose-answers {"times"}.
	s.mux.HandleFunc("POST /_sandbox/alipay/refunds/lose-answers", control(
		func(q loseAnswersControl) bool { return q.Times >= 0 },
		alipayControlRefusal(`body must be {"times":n}`),
		func(_ *http.Request, q loseAnswersControl) (any, error) {
			s.LoseAlipayRefundAnswers(q.Times)
			return q, nil
		},
		writeAlipayControlError))
}

// LoseAlipayRefundAnswers makes the next n refunds happen but answer code
// 20000 (the outcome looks unknown to the merchant).
func (s *Server) LoseAlipayRefundAnswers(n int) {
	s.alipayRefunds.mu.Lock()
	defer s.alipayRefunds.mu.Unlock()
	s.alipayRefunds.loseAnswers = n
}

// AlipayRefundCalls returns how many alipay.trade.refund calls named a
// trade.
func (s *Server) AlipayRefundCalls(outTradeNo string) int {
	s.alipayRefunds.mu.Lock()
	defer s.alipayRefunds.mu.Unlock()
	return s.alipayRefunds.calls[outTradeNo]
}

// AlipayRefundedFen returns the sum of a trade's refunds.
func (s *Server) AlipayRefundedFen(outTradeNo string) int64 {
	s.alipayRefunds.mu.Lock()
	defer s.alipayRefunds.mu.Unlock()
	var n int64
	for _, r := range s.alipayRefunds.byKey {
		if r.outTradeNo == outTradeNo {
			n += r.fen
		}
	}
	return n
}

type alipayRefundBody struct {
	OutTradeNo   string `json:"out_trade_no"`
	TradeNo      string `json:"trade_no"`
	RefundAmount string `json:"refund_amount"`
	RefundReason string `json:"refund_reason"`
	OutRequestNo string `json:"out_request_no"`
}

// requestNo is the refund's out_request_no; left out, Alipay takes the
// trade's out_trade_no.
func (b alipayRefundBody) requestNo(t *alipayTradeRec) string {
	if b.OutRequestNo == "" {
		return t.outTradeNo
	}
	return b.OutRequestNo
}

// alipayTradeRefund serves alipay.trade.refund: a paid trade is refunded
// at once; the same out_request_no answers again with fund_change N and
// refunds nothing more; the refunds never exceed the trade's total, and a
// trade refunded in full becomes TRADE_CLOSED.
func (s *Server) alipayTradeRefund(_ *http.Request, form url.Values) (string, any) {
	const node = "alipay_trade_refund_response"
	a, rs := s.alipayTrades, s.alipayRefunds
	var b alipayRefundBody
	if refusal := a.begin(form, &b); refusal != nil {
		return node, refusal
	}
	fen, ok := alipayYuan(b.RefundAmount)
	if !ok {
		return node, alipayBusiness(AlipayInvalidParameter, "refund_amount 格式错误")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t, refusal := a.tradeLocked(form)
	if refusal != nil {
		return node, refusal
	}
	reqNo := b.requestNo(t)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.calls[t.outTradeNo]++
	var refunded int64
	for _, r := range rs.byKey {
		if r.outTradeNo == t.outTradeNo {
			refunded += r.fen
		}
	}
	answer := func(change string) map[string]string {
		res := map[string]string{
			"code": "10000", "msg": "Success", "trade_no": t.tradeNo, "out_trade_no": t.outTradeNo,
			"buyer_logon_id": "159****5620", "fund_change": change, "refund_fee": sandboxYuan(refunded),
		}
		if t.buyerID != "" {
			res["buyer_user_id"] = t.buyerID
		} else {
			res["buyer_open_id"] = t.buyerOpenID
		}
		return res
	}
	if _, ok := rs.byKey[t.outTradeNo+"\x00"+reqNo]; ok {
		return node, answer("N")
	}
	switch {
	case t.paid.IsZero():
		return node, alipayBusiness(AlipayTradeStatusError, "交易状态不合法")
	case refunded+fen > t.totalFen:
		return node, alipayBusiness(AlipayRefundAmountExceeded, "退款金额超限")
	}
	rs.byKey[t.outTradeNo+"\x00"+reqNo] = &alipayRefundRec{outTradeNo: t.outTradeNo, outRequestNo: reqNo, fen: fen, reason: b.RefundReason, at: time.Now()}
	refunded += fen
	if refunded == t.totalFen {
		t.status = AlipayTradeClosed
	}
	s.notifyRefund(t, reqNo, refunded)
	if rs.loseAnswers > 0 {
		rs.loseAnswers--
		return node, AlipayError{Code: "20000", Msg: "Service Currently Unavailable", SubCode: "isp.unknow-error", SubMsg: "系统繁忙"}
	}
	return node, answer("Y")
}

// notifyRefund posts, in the background and with Alipay's retries, the
// trade_status_sync notification a refund causes when the trade has a
// notify_url: TRADE_SUCCESS carrying refund_fee for a partial refund,
// TRADE_CLOSED once the whole total is refunded. It is not a refund
// notification: merchants verify, record and acknowledge it.
func (s *Server) notifyRefund(t *alipayTradeRec, outRequestNo string, refundedFen int64) {
	if t.notifyURL == "" {
		return
	}
	opts := AlipayDeliverOptions{Refund: true, RefundFen: refundedFen, OutBizNo: outRequestNo}
	s.alipayTrades.notes.Send(t.outTradeNo, s.alipayTradeNotification(t.outTradeNo, opts))
}

// alipayRefundQuery serves alipay.trade.fastpay.refund.query: a refund made
// answers REFUND_SUCCESS; one never made answers success without
// refund_status.
func (s *Server) alipayRefundQuery(_ *http.Request, form url.Values) (string, any) {
	const node = "alipay_trade_fastpay_refund_query_response"
	var b alipayRefundBody
	t, unlock, refusal := s.alipayTrades.openTrade(form, &b)
	if refusal != nil {
		return node, refusal
	}
	defer unlock()
	rs, reqNo := s.alipayRefunds, b.requestNo(t)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	res := map[string]string{"code": "10000", "msg": "Success", "trade_no": t.tradeNo, "out_trade_no": t.outTradeNo, "out_request_no": reqNo}
	if r, ok := rs.byKey[t.outTradeNo+"\x00"+reqNo]; ok {
		res["refund_status"] = AlipayRefundSuccess
		res["refund_amount"] = sandboxYuan(r.fen)
		res["total_amount"] = t.totalAmount
		res["gmt_refund_pay"] = r.at.In(beijingZone).Format("2006-01-02 15:04:05")
	}
	return node, res
}

// loseAnswersControl is the body of POST /_sandbox/alipay/refunds/lose-answers.
type loseAnswersControl struct {
	Times int `json:"times"`
}
