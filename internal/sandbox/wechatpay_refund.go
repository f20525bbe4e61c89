package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// WeChat Pay refund statuses.
const (
	WeChatPayRefundSuccess    = "SUCCESS"
	WeChatPayRefundProcessing = "PROCESSING"
	WeChatPayRefundAbnormal   = "ABNORMAL"
	WeChatPayRefundClosed     = "CLOSED"

	WeChatPayResourceNotExists = "RESOURCE_NOT_EXISTS"
)

// WeChatPayRefundOptions choose how the sandbox's WeChat Pay handles the
// refunds asked for from now on.
type WeChatPayRefundOptions struct {
	// Outcome is where a refund ends: SUCCESS (the default: answered
	// SUCCESS at once), PROCESSING (answered PROCESSING and left so until
	// CompleteWeChatRefund), ABNORMAL or CLOSED (answered PROCESSING, then
	// ending so at once). Every ending is notified (REFUND.SUCCESS,
	// REFUND.ABNORMAL, REFUND.CLOSED), encrypted, signed and retried.
	Outcome string `json:"outcome"`
	// LoseAnswer applies the refund but answers 500 SYSTEM_ERROR, as a
	// timeout after the platform acted looks to the merchant.
	LoseAnswer bool `json:"lose_answer"`
	// Hold keeps refund notifications back (DeliverWeChatRefund sends them).
	Hold bool `json:"hold"`
}

// wechatPayRefundRec is one refund as the platform keeps it.
type wechatPayRefundRec struct {
	outRefundNo string
	outTradeNo  string
	refundID    string
	reason      string
	notifyURL   string
	refund      int64
	total       int64
	status      string
	created     time.Time
	success     time.Time
	notifyID    string
}

// WeChatPayRefund is the sandbox's view of a refund.
type WeChatPayRefund struct {
	OutRefundNo string `json:"out_refund_no"`
	OutTradeNo  string `json:"out_trade_no"`
	RefundID    string `json:"refund_id"`
	Status      string `json:"status"`
	RefundFen   int64  `json:"refund"`
	NotifyURL   string `json:"notify_url"`
}

// wechatPayRefunds is the refund side of the sandbox's WeChat Pay.
type wechatPayRefunds struct {
	mu    sync.Mutex
	opts  WeChatPayRefundOptions
	byNo  map[string]*wechatPayRefundRec
	notes *Notifier // refund notifications, by out_refund_no
}

func (s *Server) registerWeChatPayRefunds() {
	s.wechatPayRefunds = &wechatPayRefunds{byNo: map[string]*wechatPayRefundRec{}, notes: NewNotifier(s.wechatPayTrades.schedule, Acked2xx)}
	s.mux.HandleFunc("POST /v3/refund/domestic/refunds", s.wechatPayMerchant(s.wechatPayRefundCreate))
	s.mux.HandleFunc("GET /v3/refund/domestic/refunds/{out_refund_no}", s.wechatPayMerchant(s.wechatPayRefundQuery))
	// POST /_sandbox/wechatpay/refunds/options {"outcome","lose_answer","hold"}.
	s.mux.HandleFunc("POST /_sandbox/wechatpay/refunds/options", s.wechatPayControlRefundOptions)
	// POST /_sandbox/wechatpay/refunds/complete {"out_refund_no","status"}.
	s.mux.HandleFunc("POST /_sandbox/wechatpay/refunds/complete", control(
		func(q refundCompleteControl) bool { return q.OutRefundNo != "" },
		wechatPayErrorBody{WeChatPayParamError, `body must be {"out_refund_no":"...","status":"SUCCESS|ABNORMAL|CLOSED"}`},
		func(_ *http.Request, q refundCompleteControl) (any, error) {
			return s.CompleteWeChatRefund(q.OutRefundNo, q.Status)
		},
		writeWeChatPayError))
	s.mux.HandleFunc("GET /_sandbox/wechatpay/refunds/{out_refund_no}", s.wechatPayControlRefund)
}

// SetWeChatPayRefunds chooses how later refunds are handled.
func (s *Server) SetWeChatPayRefunds(o WeChatPayRefundOptions) {
	s.wechatPayRefunds.mu.Lock()
	defer s.wechatPayRefunds.mu.Unlock()
	s.wechatPayRefunds.opts = o
}

type wechatPayRefundBody struct {
	TransactionID string `json:"transaction_id"`
	OutTradeNo    string `json:"out_trade_no"`
	OutRefundNo   string `json:"out_refund_no"`
	Reason        string `json:"reason"`
	NotifyURL     string `json:"notify_url"`
	Amount        struct {
		Refund   int64  `json:"refund"`
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

// refundJSON is a refund as the create and query APIs answer it.
func (w *wechatPayTrades) refundJSON(r *wechatPayRefundRec, txID string, payerTotal int64) map[string]any {
	m := map[string]any{
		"refund_id": r.refundID, "out_refund_no": r.outRefundNo, "transaction_id": txID, "out_trade_no": r.outTradeNo,
		"channel": "ORIGINAL", "user_received_account": "支付用户零钱", "status": r.status, "funds_account": "AVAILABLE",
		"create_time": r.created.In(beijingZone).Format(time.RFC3339),
		"amount": map[string]any{
			"total": r.total, "refund": r.refund, "payer_total": payerTotal, "payer_refund": r.refund,
			"settlement_total": r.total, "settlement_refund": r.refund, "discount_refund": 0, "currency": "CNY",
		},
		"promotion_detail": []any{},
	}
	if r.status == WeChatPayRefundSuccess {
		m["success_time"] = r.success.In(beijingZone).Format(time.RFC3339)
	}
	return m
}

// wechatPayRefundCreate serves POST /v3/refund/domestic/refunds. The same
// out_refund_no with the same content answers the same refund; the refunds
// of a trade that are not closed never exceed its total.
func (s *Server) wechatPayRefundCreate(rw http.ResponseWriter, _ *http.Request, body []byte) {
	w, rs := s.wechatPayTrades, s.wechatPayRefunds
	var req wechatPayRefundBody
	if err := json.Unmarshal(body, &req); err != nil {
		w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{WeChatPayParamError, "输入源“/body”映射到字段失败"})
		return
	}
	bad := func(code, msg string) { w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{code, msg}) }
	switch {
	case len(req.OutRefundNo) > 64 || !outRefundNoOK(req.OutRefundNo):
		bad(WeChatPayParamError, "out_refund_no 格式错误")
		return
	case req.Amount.Refund <= 0 || req.Amount.Total <= 0:
		bad(WeChatPayParamError, "amount.refund 必须大于 0")
		return
	case req.Amount.Currency != "" && req.Amount.Currency != "CNY":
		bad(WeChatPayParamError, "amount.currency 只支持 CNY")
		return
	case req.NotifyURL != "" && !strings.HasPrefix(req.NotifyURL, "http://") && !strings.HasPrefix(req.NotifyURL, "https://"):
		bad(WeChatPayParamError, "notify_url 格式错误")
		return
	}
	w.mu.Lock()
	no := req.OutTradeNo
	if req.TransactionID != "" {
		no = w.byTxn[req.TransactionID]
	}
	t, ok := w.trades[no]
	if !ok {
		w.mu.Unlock()
		w.reply(rw, http.StatusNotFound, wechatPayErrorBody{WeChatPayResourceNotExists, "订单不存在"})
		return
	}
	txID, payerTotal, state, total := t.transactionID, t.payerTotal, t.state, t.req.Amount.Total
	w.mu.Unlock()

	rs.mu.Lock()
	opts := rs.opts
	if r, ok := rs.byNo[req.OutRefundNo]; ok {
		same := r.outTradeNo == no && r.refund == req.Amount.Refund
		view := w.refundJSON(r, txID, payerTotal)
		rs.mu.Unlock()
		if !same {
			bad("INVALID_REQUEST", "退款单号已存在，请求参数不一致")
			return
		}
		w.reply(rw, http.StatusOK, view)
		return
	}
	switch {
	case state != WeChatPayTradeSuccess && state != WeChatPayTradeRefund:
		rs.mu.Unlock()
		bad("INVALID_REQUEST", "订单状态不正确，不能退款")
		return
	case req.Amount.Total != total:
		rs.mu.Unlock()
		bad(WeChatPayParamError, "订单金额与退款请求的原订单金额不一致")
		return
	}
	var refunded int64
	for _, r := range rs.byNo {
		if r.outTradeNo == no && r.status != WeChatPayRefundClosed {
			refunded += r.refund
		}
	}
	if refunded+req.Amount.Refund > total {
		rs.mu.Unlock()
		bad("INVALID_REQUEST", "申请退款金额超过订单可退金额")
		return
	}
	now := time.Now()
	r := &wechatPayRefundRec{
		outRefundNo: req.OutRefundNo, outTradeNo: no, reason: req.Reason, notifyURL: req.NotifyURL,
		refund: req.Amount.Refund, total: total, status: WeChatPayRefundProcessing, created: now,
		refundID: "50000" + digits(randomHex(16), 24),
	}
	rs.byNo[r.outRefundNo] = r
	answer := w.refundJSON(r, txID, payerTotal)
	final := opts.Outcome
	if final == "" {
		final = WeChatPayRefundSuccess
	}
	if final != WeChatPayRefundProcessing {
		s.endRefundLocked(r, final)
		if final == WeChatPayRefundSuccess {
			answer = w.refundJSON(r, txID, payerTotal)
		}
	}
	rs.mu.Unlock()
	// A trade with a refund shows REFUND (转入退款), as at the platform.
	w.mu.Lock()
	t.state = WeChatPayTradeRefund
	w.mu.Unlock()
	if final != WeChatPayRefundProcessing && !opts.Hold {
		s.deliverRefundInBackground(r.outRefundNo)
	}
	if opts.LoseAnswer {
		w.reply(rw, http.StatusInternalServerError, wechatPayErrorBody{WeChatPaySystemError, "系统繁忙，请稍后重试"})
		return
	}
	w.reply(rw, http.StatusOK, answer)
}

func outRefundNoOK(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune("_-|*@", c)) {
			return false
		}
	}
	return s != ""
}

// endRefundLocked settles a refund at status (rs.mu held).
func (s *Server) endRefundLocked(r *wechatPayRefundRec, status string) {
	r.status = status
	if status == WeChatPayRefundSuccess {
		r.success = time.Now()
	}
	r.notifyID = strings.ToLower(randomHex(4) + "-" + randomHex(2) + "-" + randomHex(2) + "-" + randomHex(2) + "-" + randomHex(6))
}

// CompleteWeChatRefund ends a PROCESSING refund at status (SUCCESS,
// ABNORMAL or CLOSED) and, unless refund notifications are held, delivers
// its notification in the background with retries.
func (s *Server) CompleteWeChatRefund(outRefundNo, status string) (WeChatPayRefund, error) {
	rs := s.wechatPayRefunds
	switch status {
	case WeChatPayRefundSuccess, WeChatPayRefundAbnormal, WeChatPayRefundClosed:
	default:
		return WeChatPayRefund{}, &WeChatPayError{http.StatusBadRequest, WeChatPayParamError, "status must be SUCCESS, ABNORMAL or CLOSED"}
	}
	rs.mu.Lock()
	r, ok := rs.byNo[outRefundNo]
	if !ok || (r.status != WeChatPayRefundProcessing && r.status != WeChatPayRefundAbnormal) {
		rs.mu.Unlock()
		return WeChatPayRefund{}, &WeChatPayError{http.StatusBadRequest, WeChatPayResourceNotExists, "no refund in progress " + outRefundNo}
	}
	s.endRefundLocked(r, status)
	hold := rs.opts.Hold
	view := refundView(r)
	rs.mu.Unlock()
	if !hold {
		s.deliverRefundInBackground(outRefundNo)
	}
	return view, nil
}

func refundView(r *wechatPayRefundRec) WeChatPayRefund {
	return WeChatPayRefund{OutRefundNo: r.outRefundNo, OutTradeNo: r.outTradeNo, RefundID: r.refundID, Status: r.status,
		RefundFen: r.refund, NotifyURL: r.notifyURL}
}

// WeChatRefundOf returns the sandbox's view of a refund.
func (s *Server) WeChatRefundOf(outRefundNo string) (WeChatPayRefund, bool) {
	rs := s.wechatPayRefunds
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.byNo[outRefundNo]
	if !ok {
		return WeChatPayRefund{}, false
	}
	return refundView(r), true
}

// WeChatRefundsOfTrade returns the refunds of a trade.
func (s *Server) WeChatRefundsOfTrade(outTradeNo string) []WeChatPayRefund {
	rs := s.wechatPayRefunds
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []WeChatPayRefund
	for _, r := range rs.byNo {
		if r.outTradeNo == outTradeNo {
			out = append(out, refundView(r))
		}
	}
	return out
}

// wechatPayRefundQuery serves GET /v3/refund/domestic/refunds/{out_refund_no}.
func (s *Server) wechatPayRefundQuery(rw http.ResponseWriter, r *http.Request, _ []byte) {
	w, rs := s.wechatPayTrades, s.wechatPayRefunds
	rs.mu.Lock()
	ref, ok := rs.byNo[r.PathValue("out_refund_no")]
	var cp wechatPayRefundRec
	if ok {
		cp = *ref
	}
	rs.mu.Unlock()
	if !ok {
		w.reply(rw, http.StatusNotFound, wechatPayErrorBody{WeChatPayResourceNotExists, "退款单不存在"})
		return
	}
	w.mu.Lock()
	t := w.trades[cp.outTradeNo]
	txID, payerTotal := t.transactionID, t.payerTotal
	w.mu.Unlock()
	w.reply(rw, http.StatusOK, w.refundJSON(&cp, txID, payerTotal))
}

// deliverRefundInBackground delivers an ended refund's notification until
// acknowledged, on the platform's schedule.
func (s *Server) deliverRefundInBackground(outRefundNo string) {
	s.wechatPayRefunds.notes.Send(outRefundNo, s.refundNotification(outRefundNo))
}

// DeliverWeChatRefund delivers the notification of an ended refund now,
// copies times at once, without retrying, and returns each answer.
func (s *Server) DeliverWeChatRefund(ctx context.Context, outRefundNo string, copies int) ([]WeChatPayDelivery, error) {
	rs := s.wechatPayRefunds
	rs.mu.Lock()
	r, ok := rs.byNo[outRefundNo]
	ended := ok && r.notifyID != ""
	rs.mu.Unlock()
	if !ended {
		return nil, &WeChatPayError{http.StatusBadRequest, WeChatPayResourceNotExists, "no ended refund " + outRefundNo}
	}
	return weChatPayDeliveries(rs.notes.Now(ctx, outRefundNo, copies, s.refundNotification(outRefundNo))), nil
}

// WeChatRefundAcknowledged returns a channel closed once the merchant has
// acknowledged a notification of the refund with a 2xx.
func (s *Server) WeChatRefundAcknowledged(outRefundNo string) <-chan struct{} {
	return s.wechatPayRefunds.notes.Acknowledged(outRefundNo)
}

// refundNotification returns the build function of an ended refund's
// notification, encrypted and signed afresh for every attempt.
func (s *Server) refundNotification(outRefundNo string) func() (Notification, error) {
	return func() (Notification, error) {
		w, rs := s.wechatPayTrades, s.wechatPayRefunds
		rs.mu.Lock()
		r := *rs.byNo[outRefundNo]
		rs.mu.Unlock()
		w.mu.Lock()
		txID, payerTotal := w.trades[r.outTradeNo].transactionID, w.trades[r.outTradeNo].payerTotal
		w.mu.Unlock()
		plain := map[string]any{
			"mchid": w.mchID, "transaction_id": txID, "out_trade_no": r.outTradeNo, "refund_id": r.refundID,
			"out_refund_no": r.outRefundNo, "refund_status": r.status, "user_received_account": "支付用户零钱",
			"amount": map[string]any{"total": r.total, "refund": r.refund, "payer_total": payerTotal, "payer_refund": r.refund},
		}
		if r.status == WeChatPayRefundSuccess {
			plain["success_time"] = r.success.In(beijingZone).Format(time.RFC3339)
		}
		summary := map[string]string{WeChatPayRefundSuccess: "退款成功", WeChatPayRefundAbnormal: "退款异常", WeChatPayRefundClosed: "退款关闭"}[r.status]
		env, err := w.envelope(r.notifyID, "REFUND."+r.status, summary, "refund", plain)
		if err != nil {
			return Notification{}, err
		}
		body, err := json.Marshal(env)
		if err != nil {
			return Notification{}, err
		}
		h := w.signedHeader(body, time.Now(), w.platformKey)
		return Notification{URL: r.notifyURL, Header: h, Body: body, ID: r.notifyID, Nonce: h.Get("Wechatpay-Nonce"),
			Event: "REFUND." + r.status, Genuine: true}, nil
	}
}

// wechatPayControlRefund serves GET /_sandbox/wechatpay/refunds/{out_refund_no}.
func (s *Server) wechatPayControlRefund(rw http.ResponseWriter, r *http.Request) {
	v, ok := s.WeChatRefundOf(r.PathValue("out_refund_no"))
	if !ok {
		writeJSON(rw, http.StatusNotFound, wechatPayErrorBody{WeChatPayResourceNotExists, "退款单不存在"})
		return
	}
	ds := weChatPayDeliveries(s.wechatPayRefunds.notes.Deliveries(v.OutRefundNo))
	writeJSON(rw, http.StatusOK, map[string]any{"refund": v, "deliveries": ds})
}

// refundCompleteControl is the body of POST /_sandbox/wechatpay/refunds/complete.
type refundCompleteControl struct {
	OutRefundNo string `json:"out_refund_no"`
	Status      string `json:"status"`
}

// wechatPayControlRefundOptions serves POST /_sandbox/wechatpay/refunds/options.
func (s *Server) wechatPayControlRefundOptions(rw http.ResponseWriter, r *http.Request) {
	control(func(WeChatPayRefundOptions) bool { return true },
		wechatPayErrorBody{WeChatPayParamError, `body must be {"outcome":"SUCCESS|PROCESSING|ABNORMAL|CLOSED","lose_answer":bool,"hold":bool}`},
		func(_ *http.Request, o WeChatPayRefundOptions) (any, error) {
			switch o.Outcome {
			case "", WeChatPayRefundSuccess, WeChatPayRefundProcessing, WeChatPayRefundAbnormal, WeChatPayRefundClosed:
			default:
				return nil, &WeChatPayError{http.StatusBadRequest, WeChatPayParamError, "outcome must be SUCCESS, PROCESSING, ABNORMAL or CLOSED"}
			}
			s.SetWeChatPayRefunds(o)
			return o, nil
		}, writeWeChatPayError)(rw, r)
}
