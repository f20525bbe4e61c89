package sandbox

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WeChat Pay trade states and error codes the sandbox answers with.
const (
	WeChatPayTradeNotPay  = "NOTPAY"
	WeChatPayTradeSuccess = "SUCCESS"
	WeChatPayTradeClosed  = "CLOSED"
	WeChatPayTradeRefund  = "REFUND" // paid, then refunded (in part or in full)

	WeChatPayOrderNotExist = "ORDER_NOT_EXIST"
	WeChatPayOrderClosed   = "ORDER_CLOSED"
	WeChatPayOrderPaid     = "ORDERPAID"
	WeChatPaySignError     = "SIGN_ERROR"
	WeChatPayParamError    = "PARAM_ERROR"
	WeChatPayInvalidReq    = "INVALID_REQUEST"
	WeChatPaySystemError   = "SYSTEM_ERROR"
)

// DefaultWeChatPayNotifySchedule returns the platform's retry schedule for a
// payment notification that is not acknowledged with a 2xx: the wait before
// each retry (15 retries over about 24 hours).
func DefaultWeChatPayNotifySchedule() []time.Duration {
	return []time.Duration{
		15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute, 10 * time.Minute,
		20 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 60 * time.Minute,
		3 * time.Hour, 3 * time.Hour, 3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
	}
}

// Ways a test delivery of a payment notification can be tampered with. The
// signed ones (amount, appid, mchid, out_trade_no, no_resource, malformed,
// stale) carry a valid platform signature; the others do not verify.
const (
	TamperNone       = ""
	TamperSignature  = "signature"    // the signature's bytes are altered
	TamperBody       = "body"         // the body is altered after signing
	TamperForeignKey = "foreign_key"  // signed by a key that is not the platform's
	TamperProbe      = "probe"        // the platform's WECHATPAY/SIGNTEST/ probe signature
	TamperStale      = "stale"        // signed correctly ten minutes ago
	TamperAmount     = "amount"       // amount.total one fen more than the trade
	TamperAppID      = "appid"        // another mini-program's appid
	TamperMchID      = "mchid"        // another merchant's mchid
	TamperOutTradeNo = "out_trade_no" // an out_trade_no the merchant never made
	TamperNoResource = "no_resource"  // a signed body without resource
	TamperMalformed  = "malformed"    // a signed body that is not JSON
)

// wechatPayTrades is the sandbox's WeChat Pay: one merchant, its trades and the
// deliveries of their notifications.
type wechatPayTrades struct {
	mchID       string
	serial      string // merchant certificate serial
	apiv3Key    string
	publicKeyID string
	merchantPub *rsa.PublicKey  // verifies the merchant's requests
	platformKey *rsa.PrivateKey // signs as WeChat Pay
	foreignKey  *rsa.PrivateKey // signs forged notifications
	schedule    []time.Duration
	notes       *Notifier // payment notifications, by out_trade_no

	mu       sync.Mutex
	trades   map[string]*wechatPayTradeRec // by out_trade_no
	byPrepay map[string]string             // prepay_id → out_trade_no
	byTxn    map[string]string             // transaction_id → out_trade_no
	failures []WeChatPayFailure
}

// wechatPayTradeRec is one trade as the platform keeps it.
type wechatPayTradeRec struct {
	req           wechatPayPrepayBody
	prepayID      string
	expire        time.Time
	state         string
	transactionID string
	payerTotal    int64
	successTime   time.Time
	notifyID      string
}

// WeChatPayFailure makes the next Times merchant API calls answer Status
// with the platform error Code (e.g. 500 SYSTEM_ERROR).
type WeChatPayFailure struct {
	Times   int    `json:"times"`
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WeChatPayDelivery is one attempt to deliver a notification.
type WeChatPayDelivery struct {
	NotificationID string    `json:"notification_id"`
	Nonce          string    `json:"nonce"`
	Tamper         string    `json:"tamper,omitempty"`
	Status         int       `json:"status"` // 0 when the request failed
	Body           string    `json:"body,omitempty"`
	Error          string    `json:"error,omitempty"`
	At             time.Time `json:"at"`
}

// WeChatPayTrade is the sandbox's view of a trade, for tests and the control
// routes.
type WeChatPayTrade struct {
	OutTradeNo    string `json:"out_trade_no"`
	PrepayID      string `json:"prepay_id"`
	TransactionID string `json:"transaction_id,omitempty"`
	TradeState    string `json:"trade_state"`
	TotalFen      int64  `json:"total"`
	PayerTotalFen int64  `json:"payer_total"`
	NotifyURL     string `json:"notify_url"`
	OpenID        string `json:"openid"`
	TimeExpire    string `json:"time_expire"`
}

// newWeChatPayTrades makes the merchant with the sandbox's keys and fills in the
// WeChat Pay part of the settings.
func newWeChatPayTrades(st *Settings, keys *Keys, schedule []time.Duration) (*wechatPayTrades, error) {
	merchantKey, platformKey, foreignKey := keys.wechatPayMerchant, keys.wechatPayPlatform, keys.wechatPayForeign
	priv, err := x509.MarshalPKCS8PrivateKey(merchantKey)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&platformKey.PublicKey)
	if err != nil {
		return nil, err
	}
	if schedule == nil {
		schedule = DefaultWeChatPayNotifySchedule()
	}
	w := &wechatPayTrades{
		mchID:       "19" + digits(randomHex(8), 8),
		serial:      strings.ToUpper(randomHex(20)),
		apiv3Key:    randomHex(16),
		publicKeyID: "PUB_KEY_ID_" + digits(randomHex(16), 28),
		merchantPub: &merchantKey.PublicKey,
		platformKey: platformKey,
		foreignKey:  foreignKey,
		schedule:    schedule,
		notes:       NewNotifier(schedule, Acked2xx),
		trades:      map[string]*wechatPayTradeRec{},
		byPrepay:    map[string]string{},
		byTxn:       map[string]string{},
	}
	st.WeChatPayMchID = w.mchID
	st.WeChatPaySerial = w.serial
	st.WeChatPayAPIv3Key = w.apiv3Key
	st.WeChatPayPrivateKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}))
	st.WeChatPayPublicKeyID = w.publicKeyID
	st.WeChatPayPublicKey = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	return w, nil
}

func (s *Server) registerWeChatPayTrades() {
	s.mux.HandleFunc("POST /v3/pay/transactions/jsapi", s.wechatPayMerchant(s.wechatPayPrepay))
	s.mux.HandleFunc("GET /v3/pay/transactions/out-trade-no/{out_trade_no}", s.wechatPayMerchant(s.wechatPayQueryByOutTradeNo))
	s.mux.HandleFunc("GET /v3/pay/transactions/id/{transaction_id}", s.wechatPayMerchant(s.wechatPayQueryByID))
	s.mux.HandleFunc("POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close", s.wechatPayMerchant(s.wechatPayClose))
	// POST /_sandbox/wechatpay/pay {"prepay_id","hold"?,"coupon_fen"?}.
	s.mux.HandleFunc("POST /_sandbox/wechatpay/pay", control(
		func(q wechatPayPayControl) bool { return q.PrepayID != "" },
		wechatPayErrorBody{WeChatPayParamError, `body must be {"prepay_id":"..."}`},
		func(_ *http.Request, q wechatPayPayControl) (any, error) {
			return s.PayWeChat(q.PrepayID, WeChatPayPayOptions{Hold: q.Hold, CouponFen: q.CouponFen})
		}, writeWeChatPayError))
	// POST /_sandbox/wechatpay/deliver {"out_trade_no","copies"?,"tamper"?,
	// "distinct_ids"?}: the delivery happens during the call.
	s.mux.HandleFunc("POST /_sandbox/wechatpay/deliver", control(
		func(q wechatPayDeliverControl) bool { return q.OutTradeNo != "" && q.Copies <= 200 },
		wechatPayErrorBody{WeChatPayParamError, `body must be {"out_trade_no":"...","copies":1..200,"tamper":"..."}`},
		func(r *http.Request, q wechatPayDeliverControl) (any, error) {
			ds, err := s.DeliverWeChatPay(r.Context(), q.OutTradeNo, WeChatPayDeliverOptions{Copies: q.Copies, Tamper: q.Tamper, DistinctIDs: q.Distinct})
			return map[string]any{"deliveries": ds}, err
		}, writeWeChatPayError))
	// POST /_sandbox/wechatpay/fail {"times","status","code","message"}.
	s.mux.HandleFunc("POST /_sandbox/wechatpay/fail", control(
		func(f WeChatPayFailure) bool { return f.Times >= 1 && f.Status >= 400 && f.Code != "" },
		wechatPayErrorBody{WeChatPayParamError, `body must be {"times":n,"status":4xx|5xx,"code":"..."}`},
		func(_ *http.Request, f WeChatPayFailure) (any, error) { s.FailWeChatPay(f); return f, nil }, writeWeChatPayError))
	s.mux.HandleFunc("GET /_sandbox/wechatpay/trades/{out_trade_no}", s.wechatPayControlTrade)
}

// wechatPayReply writes a response signed as WeChat Pay signs: RSA-SHA256 by
// the platform key over "timestamp\nnonce\nbody\n", with the Wechatpay-*
// headers. A nil body is an empty 204-style answer.
func (w *wechatPayTrades) reply(rw http.ResponseWriter, status int, body any) {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := randomHex(16)
	rw.Header().Set("Wechatpay-Timestamp", ts)
	rw.Header().Set("Wechatpay-Nonce", nonce)
	rw.Header().Set("Wechatpay-Serial", w.publicKeyID)
	rw.Header().Set("Wechatpay-Signature", signRSA(w.platformKey, ts+"\n"+nonce+"\n"+string(raw)+"\n"))
	rw.Header().Set("Request-ID", randomHex(12))
	if raw != nil {
		rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	rw.WriteHeader(status)
	_, _ = rw.Write(raw)
}

// wechatPayErrorBody is WeChat Pay's error body.
type wechatPayErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func signRSA(key *rsa.PrivateKey, msg string) string {
	h := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		panic(err) // only on a broken key, generated by New
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// wechatPayMerchant checks the merchant's Authorization header
// (WECHATPAY2-SHA256-RSA2048) as the platform does, then applies an injected
// failure, if any, and runs h.
func (s *Server) wechatPayMerchant(h func(rw http.ResponseWriter, r *http.Request, body []byte)) http.HandlerFunc {
	w := s.wechatPayTrades
	return func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{WeChatPayParamError, "请求体读取失败"})
			return
		}
		if msg := w.checkAuthorization(r, body); msg != "" {
			w.reply(rw, http.StatusUnauthorized, wechatPayErrorBody{WeChatPaySignError, msg})
			return
		}
		w.mu.Lock()
		var fail *WeChatPayFailure
		if len(w.failures) > 0 {
			f := w.failures[0]
			if f.Times--; f.Times <= 0 {
				w.failures = w.failures[1:]
			} else {
				w.failures[0] = f
			}
			fail = &f
		}
		w.mu.Unlock()
		if fail != nil {
			w.reply(rw, fail.Status, wechatPayErrorBody{fail.Code, fail.Message})
			return
		}
		h(rw, r, body)
	}
}

var authParam = regexp.MustCompile(`(\w+)="([^"]*)"`)

// checkAuthorization returns "" when the request is signed by the merchant,
// or the platform's message otherwise.
func (w *wechatPayTrades) checkAuthorization(r *http.Request, body []byte) string {
	scheme, params, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || scheme != "WECHATPAY2-SHA256-RSA2048" {
		return "Authorization 头缺失或认证类型错误"
	}
	p := map[string]string{}
	for _, m := range authParam.FindAllStringSubmatch(params, -1) {
		p[m[1]] = m[2]
	}
	switch {
	case p["mchid"] != w.mchID:
		return "商户号与签名不匹配"
	case p["serial_no"] != w.serial:
		return "商户证书序列号有误"
	}
	ts, err := strconv.ParseInt(p["timestamp"], 10, 64)
	if err != nil || abs(time.Now().Unix()-ts) > 5*60 {
		return "请求时间戳已过期"
	}
	sig, err := base64.StdEncoding.DecodeString(p["signature"])
	if err != nil || p["nonce_str"] == "" {
		return "签名错误"
	}
	msg := r.Method + "\n" + r.RequestURI + "\n" + p["timestamp"] + "\n" + p["nonce_str"] + "\n" + string(body) + "\n"
	h := sha256.Sum256([]byte(msg))
	if rsa.VerifyPKCS1v15(w.merchantPub, crypto.SHA256, h[:], sig) != nil {
		return "签名错误，请检查后再试"
	}
	return ""
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// wechatPayPrepayBody is the JSAPI prepay request.
type wechatPayPrepayBody struct {
	AppID       string `json:"appid"`
	MchID       string `json:"mchid"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	TimeExpire  string `json:"time_expire"`
	Attach      string `json:"attach"`
	NotifyURL   string `json:"notify_url"`
	Amount      struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Payer struct {
		OpenID string `json:"openid"`
	} `json:"payer"`
}

var outTradeNoPattern = regexp.MustCompile(`^[0-9A-Za-z_\-|*]{6,32}$`)

// wechatPayPrepay serves POST /v3/pay/transactions/jsapi. The same
// out_trade_no with the same parameters answers the same prepay_id, as the
// platform does; with other parameters it is refused.
func (s *Server) wechatPayPrepay(rw http.ResponseWriter, _ *http.Request, body []byte) {
	w := s.wechatPayTrades
	var req wechatPayPrepayBody
	if err := json.Unmarshal(body, &req); err != nil {
		w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{WeChatPayParamError, "输入源“/body”映射到字段失败"})
		return
	}
	bad := func(msg string) { w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{WeChatPayParamError, msg}) }
	expire, expErr := time.Parse(time.RFC3339, req.TimeExpire)
	switch {
	case req.MchID != w.mchID:
		w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{"MCH_NOT_EXISTS", "商户号不存在"})
		return
	case req.AppID != s.settings.WeChatAppID:
		w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{"APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配"})
		return
	case req.Description == "" || len([]rune(req.Description)) > 127:
		bad("description 长度须在 1 到 127 之间")
		return
	case !outTradeNoPattern.MatchString(req.OutTradeNo):
		bad("out_trade_no 格式错误")
		return
	case req.NotifyURL == "" || !(strings.HasPrefix(req.NotifyURL, "https://") || strings.HasPrefix(req.NotifyURL, "http://")):
		bad("notify_url 格式错误")
		return
	case req.Amount.Total <= 0:
		bad("amount.total 必须大于 0")
		return
	case req.Amount.Currency != "" && req.Amount.Currency != "CNY":
		bad("amount.currency 只支持 CNY")
		return
	case req.Payer.OpenID == "":
		bad("payer.openid 不能为空")
		return
	case req.TimeExpire != "" && expErr != nil:
		bad("time_expire 格式错误")
		return
	case req.TimeExpire != "" && !expire.After(time.Now()):
		bad("time_expire 早于当前时间")
		return
	}
	if req.TimeExpire == "" {
		expire = time.Now().Add(2 * time.Hour)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.trades[req.OutTradeNo]; ok {
		switch {
		case t.state == WeChatPayTradeSuccess || t.state == WeChatPayTradeRefund:
			w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{WeChatPayOrderPaid, "该订单已支付"})
		case t.state == WeChatPayTradeClosed:
			w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{WeChatPayOrderClosed, "订单已关闭"})
		case t.req != req:
			w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{WeChatPayInvalidReq, "201 商户订单号重复"})
		default:
			w.reply(rw, http.StatusOK, map[string]string{"prepay_id": t.prepayID})
		}
		return
	}
	t := &wechatPayTradeRec{req: req, prepayID: "wx" + time.Now().Format("02150405") + randomHex(12), expire: expire, state: WeChatPayTradeNotPay}
	w.trades[req.OutTradeNo] = t
	w.byPrepay[t.prepayID] = req.OutTradeNo
	w.reply(rw, http.StatusOK, map[string]string{"prepay_id": t.prepayID})
}

// transaction is the trade as the query APIs and notifications show it.
func (w *wechatPayTrades) transaction(t *wechatPayTradeRec) map[string]any {
	m := map[string]any{
		"appid": t.req.AppID, "mchid": t.req.MchID, "out_trade_no": t.req.OutTradeNo,
		"trade_type": "JSAPI", "trade_state": t.state, "attach": t.req.Attach,
		"payer":  map[string]string{"openid": t.req.Payer.OpenID},
		"amount": map[string]any{"total": t.req.Amount.Total, "currency": "CNY"},
	}
	switch t.state {
	case WeChatPayTradeSuccess, WeChatPayTradeRefund:
		m["trade_state_desc"] = "支付成功"
		if t.state == WeChatPayTradeRefund {
			m["trade_state_desc"] = "转入退款"
		}
		m["transaction_id"] = t.transactionID
		m["bank_type"] = "OTHERS"
		m["success_time"] = t.successTime.In(beijingZone).Format(time.RFC3339)
		m["amount"] = map[string]any{"total": t.req.Amount.Total, "payer_total": t.payerTotal, "currency": "CNY", "payer_currency": "CNY"}
	case WeChatPayTradeClosed:
		m["trade_state_desc"] = "订单已关闭"
	default:
		m["trade_state_desc"] = "订单未支付"
	}
	return m
}

// beijingZone is UTC+8, the zone of the platform's timestamps.
var beijingZone = time.FixedZone("CST", 8*3600)

func (s *Server) wechatPayQueryByOutTradeNo(rw http.ResponseWriter, r *http.Request, _ []byte) {
	s.wechatPayQuery(rw, r, r.PathValue("out_trade_no"), false)
}

func (s *Server) wechatPayQueryByID(rw http.ResponseWriter, r *http.Request, _ []byte) {
	s.wechatPayQuery(rw, r, r.PathValue("transaction_id"), true)
}

// wechatPayQuery serves both query APIs; an unpaid trade has no transaction
// id, so it is found only by out_trade_no.
func (s *Server) wechatPayQuery(rw http.ResponseWriter, r *http.Request, key string, byID bool) {
	w := s.wechatPayTrades
	if r.URL.Query().Get("mchid") != w.mchID {
		w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{WeChatPayParamError, "mchid 与请求商户不一致"})
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	no := key
	if byID {
		no = w.byTxn[key]
	}
	t, ok := w.trades[no]
	if !ok {
		w.reply(rw, http.StatusNotFound, wechatPayErrorBody{WeChatPayOrderNotExist, "订单不存在"})
		return
	}
	w.reply(rw, http.StatusOK, w.transaction(t))
}

// wechatPayClose serves the close API: 204 for an unpaid (or already
// closed) trade, ORDERPAID for a paid one.
func (s *Server) wechatPayClose(rw http.ResponseWriter, r *http.Request, body []byte) {
	w := s.wechatPayTrades
	var req struct {
		MchID string `json:"mchid"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.MchID != w.mchID {
		w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{WeChatPayParamError, "mchid 与请求商户不一致"})
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.trades[r.PathValue("out_trade_no")]
	switch {
	case !ok:
		w.reply(rw, http.StatusNotFound, wechatPayErrorBody{WeChatPayOrderNotExist, "订单不存在"})
	case t.state == WeChatPayTradeSuccess || t.state == WeChatPayTradeRefund:
		w.reply(rw, http.StatusBadRequest, wechatPayErrorBody{WeChatPayOrderPaid, "该订单已支付"})
	default:
		t.state = WeChatPayTradeClosed
		w.reply(rw, http.StatusNoContent, nil)
	}
}

// WeChatPayPayOptions tune a simulated payment.
type WeChatPayPayOptions struct {
	// Hold keeps the notification back: a test delivers it later (late,
	// duplicated, tampered) through DeliverWeChatPay.
	Hold bool
	// CouponFen is a platform coupon: the payer pays the total less it,
	// which must not change what the merchant checks (amount.total).
	CouponFen int64
}

// WeChatPayError is a refusal of the sandbox's WeChat Pay.
type WeChatPayError struct {
	Status  int
	Code    string
	Message string
}

// Error returns the platform code and message.
func (e *WeChatPayError) Error() string { return e.Code + ": " + e.Message }

// PayWeChat pays the trade of prepayID as a user would in wx.requestPayment
// and, unless held, delivers its notification in the background, re-signed
// on every attempt and retried on the platform's schedule until the merchant
// acknowledges it with a 2xx.
func (s *Server) PayWeChat(prepayID string, opts WeChatPayPayOptions) (WeChatPayTrade, error) {
	w := s.wechatPayTrades
	w.mu.Lock()
	t, ok := w.trades[w.byPrepay[prepayID]]
	switch {
	case !ok:
		w.mu.Unlock()
		return WeChatPayTrade{}, &WeChatPayError{http.StatusNotFound, WeChatPayOrderNotExist, "prepay_id 不存在"}
	case t.state == WeChatPayTradeSuccess || t.state == WeChatPayTradeRefund:
		w.mu.Unlock()
		return WeChatPayTrade{}, &WeChatPayError{http.StatusBadRequest, WeChatPayOrderPaid, "该订单已支付"}
	case t.state == WeChatPayTradeClosed:
		w.mu.Unlock()
		return WeChatPayTrade{}, &WeChatPayError{http.StatusBadRequest, WeChatPayOrderClosed, "订单已关闭"}
	case !time.Now().Before(t.expire):
		w.mu.Unlock()
		return WeChatPayTrade{}, &WeChatPayError{http.StatusBadRequest, WeChatPayOrderClosed, "订单已过期"}
	case opts.CouponFen < 0 || opts.CouponFen >= t.req.Amount.Total:
		w.mu.Unlock()
		return WeChatPayTrade{}, &WeChatPayError{http.StatusBadRequest, WeChatPayParamError, "coupon_fen out of range"}
	}
	t.state = WeChatPayTradeSuccess
	t.transactionID = "4200" + time.Now().In(beijingZone).Format("20060102") + digits(randomHex(16), 16)
	t.payerTotal = t.req.Amount.Total - opts.CouponFen
	t.successTime = time.Now()
	t.notifyID = strings.ToLower(randomHex(4) + "-" + randomHex(2) + "-" + randomHex(2) + "-" + randomHex(2) + "-" + randomHex(6))
	w.byTxn[t.transactionID] = t.req.OutTradeNo
	view := w.view(t)
	w.mu.Unlock()
	if !opts.Hold {
		w.notes.Send(view.OutTradeNo, w.paymentNotification(view.OutTradeNo, TamperNone, false))
	}
	return view, nil
}

func (w *wechatPayTrades) view(t *wechatPayTradeRec) WeChatPayTrade {
	return WeChatPayTrade{
		OutTradeNo: t.req.OutTradeNo, PrepayID: t.prepayID, TransactionID: t.transactionID, TradeState: t.state,
		TotalFen: t.req.Amount.Total, PayerTotalFen: t.payerTotal, NotifyURL: t.req.NotifyURL,
		OpenID: t.req.Payer.OpenID, TimeExpire: t.req.TimeExpire,
	}
}

// WeChatPayTradeOf returns the sandbox's view of a trade.
func (s *Server) WeChatPayTradeOf(outTradeNo string) (WeChatPayTrade, bool) {
	w := s.wechatPayTrades
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.trades[outTradeNo]
	if !ok {
		return WeChatPayTrade{}, false
	}
	return w.view(t), true
}

// WeChatPayDeliverOptions tune a delivery made on demand.
type WeChatPayDeliverOptions struct {
	// Copies delivers the same notification this many times at once (at
	// least 1), as the platform's duplicate deliveries do.
	Copies int
	// Tamper alters the notification (one of the Tamper constants).
	Tamper string
	// DistinctIDs gives every copy its own notification id, so that only the
	// payment's own state can tell the copies are one payment.
	DistinctIDs bool
}

// DeliverWeChatPay delivers the notification of a paid trade now, once per
// copy and concurrently, without retrying, and returns each answer.
func (s *Server) DeliverWeChatPay(ctx context.Context, outTradeNo string, opts WeChatPayDeliverOptions) ([]WeChatPayDelivery, error) {
	w := s.wechatPayTrades
	w.mu.Lock()
	t, ok := w.trades[outTradeNo]
	paid := ok && (t.state == WeChatPayTradeSuccess || t.state == WeChatPayTradeRefund)
	w.mu.Unlock()
	if !paid {
		return nil, &WeChatPayError{http.StatusBadRequest, WeChatPayOrderNotExist, "no paid trade " + outTradeNo}
	}
	return weChatPayDeliveries(w.notes.Now(ctx, outTradeNo, opts.Copies, w.paymentNotification(outTradeNo, opts.Tamper, opts.DistinctIDs))), nil
}

// WeChatPayDeliveries returns every delivery attempt made for a trade.
func (s *Server) WeChatPayDeliveries(outTradeNo string) []WeChatPayDelivery {
	return weChatPayDeliveries(s.wechatPayTrades.notes.Deliveries(outTradeNo))
}

// WeChatPayAcknowledged returns a channel closed once the merchant has
// acknowledged a notification of the paid trade outTradeNo with a 2xx.
func (s *Server) WeChatPayAcknowledged(outTradeNo string) <-chan struct{} {
	return s.wechatPayTrades.notes.Acknowledged(outTradeNo)
}

// weChatPayDeliveries shows the Notifier's records as WeChat Pay's.
func weChatPayDeliveries(ds []Delivery) []WeChatPayDelivery {
	out := make([]WeChatPayDelivery, len(ds))
	for i, d := range ds {
		out[i] = WeChatPayDelivery{NotificationID: d.ID, Nonce: d.Nonce, Tamper: d.Tamper, Status: d.Status,
			Body: d.Body, Error: d.Error, At: d.At}
	}
	return out
}

// paymentNotification returns the build function of a paid trade's
// notification: read, encrypted and signed afresh for every attempt,
// altered as tamper says, under a fresh id when freshID.
func (w *wechatPayTrades) paymentNotification(outTradeNo, tamper string, freshID bool) func() (Notification, error) {
	return func() (Notification, error) {
		w.mu.Lock()
		t := w.trades[outTradeNo]
		tx := w.transaction(t)
		notifyID, url := t.notifyID, t.req.NotifyURL
		w.mu.Unlock()
		if freshID || tamper != TamperNone {
			// A tampered notification is another notification: it must not
			// share the genuine one's id.
			notifyID = strings.ToLower(randomHex(16))
		}
		body, header, err := w.notification(notifyID, tx, tamper)
		if err != nil {
			return Notification{}, err
		}
		return Notification{URL: url, Header: header, Body: body, ID: notifyID, Nonce: header.Get("Wechatpay-Nonce"),
			Tamper: tamper, Event: "TRANSACTION.SUCCESS", Genuine: tamper == TamperNone}, nil
	}
}

// notification builds the encrypted, signed TRANSACTION.SUCCESS
// notification of tx, altered as tamper says.
func (w *wechatPayTrades) notification(notifyID string, tx map[string]any, tamper string) ([]byte, http.Header, error) {
	switch tamper {
	case TamperAmount:
		a := tx["amount"].(map[string]any)
		a["total"] = a["total"].(int64) + 1
		a["payer_total"] = a["payer_total"].(int64) + 1
	case TamperAppID:
		tx["appid"] = "wx" + randomHex(8)
	case TamperMchID:
		tx["mchid"] = "19" + digits(randomHex(8), 8)
	case TamperOutTradeNo:
		tx["out_trade_no"] = "UNKNOWN" + strings.ToUpper(randomHex(8))
	}
	env, err := w.envelope(notifyID, "TRANSACTION.SUCCESS", "支付成功", "transaction", tx)
	if err != nil {
		return nil, nil, err
	}
	if tamper == TamperNoResource {
		delete(env, "resource")
	}
	body, err := json.Marshal(env)
	if err != nil {
		return nil, nil, err
	}
	if tamper == TamperMalformed {
		body = []byte(`{"id":"` + notifyID + `","event_type":`)
	}
	now := time.Now()
	if tamper == TamperStale {
		now = now.Add(-10 * time.Minute)
	}
	key := w.platformKey
	if tamper == TamperForeignKey {
		key = w.foreignKey
	}
	h := w.signedHeader(body, now, key)
	switch tamper {
	case TamperSignature:
		raw, _ := base64.StdEncoding.DecodeString(h.Get("Wechatpay-Signature"))
		raw[len(raw)/2] ^= 0xff
		h.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(raw))
	case TamperProbe:
		h.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+base64.StdEncoding.EncodeToString([]byte(randomHex(32))))
	case TamperBody:
		body = bytes.Replace(body, []byte(`"summary":"支付成功"`), []byte(`"summary":"支付成功 "`), 1)
	}
	return body, h, nil
}

// envelope encrypts plain with the APIv3 key as a notification resource of
// originalType and wraps it in the notification's envelope.
func (w *wechatPayTrades) envelope(notifyID, eventType, summary, originalType string, plain any) (map[string]any, error) {
	raw, err := json.Marshal(plain)
	if err != nil {
		return nil, err
	}
	nonce := randomAlnum(12)
	ciphertext, err := sealAESGCM([]byte(w.apiv3Key), []byte(nonce), raw, []byte(originalType))
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"id": notifyID, "create_time": time.Now().In(beijingZone).Format(time.RFC3339),
		"resource_type": "encrypt-resource", "event_type": eventType, "summary": summary,
		"resource": map[string]string{
			"original_type": originalType, "algorithm": "AEAD_AES_256_GCM",
			"ciphertext": ciphertext, "associated_data": originalType, "nonce": nonce,
		},
	}, nil
}

// signedHeader signs a notification body as the platform does, at the
// given time and with the given key: RSA-SHA256 over
// "timestamp\nnonce\nbody\n", in the Wechatpay-* headers.
func (w *wechatPayTrades) signedHeader(body []byte, at time.Time, key *rsa.PrivateKey) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	nonce := randomHex(16)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Mozilla/4.0")
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Serial", w.publicKeyID)
	h.Set("Wechatpay-Signature", signRSA(key, ts+"\n"+nonce+"\n"+string(body)+"\n"))
	h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	return h
}

// wechatPayPayControl is the body of POST /_sandbox/wechatpay/pay.
type wechatPayPayControl struct {
	PrepayID  string `json:"prepay_id"`
	Hold      bool   `json:"hold"`
	CouponFen int64  `json:"coupon_fen"`
}

// wechatPayDeliverControl is the body of POST /_sandbox/wechatpay/deliver.
type wechatPayDeliverControl struct {
	OutTradeNo string `json:"out_trade_no"`
	Copies     int    `json:"copies"`
	Tamper     string `json:"tamper"`
	Distinct   bool   `json:"distinct_ids"`
}

// FailWeChatPay makes the next f.Times merchant API calls fail with f.
func (s *Server) FailWeChatPay(f WeChatPayFailure) {
	w := s.wechatPayTrades
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures = append(w.failures, f)
}

// wechatPayControlTrade serves GET /_sandbox/wechatpay/trades/{out_trade_no}.
func (s *Server) wechatPayControlTrade(rw http.ResponseWriter, r *http.Request) {
	t, ok := s.WeChatPayTradeOf(r.PathValue("out_trade_no"))
	if !ok {
		writeJSON(rw, http.StatusNotFound, wechatPayErrorBody{WeChatPayOrderNotExist, "订单不存在"})
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"trade": t, "deliveries": s.WeChatPayDeliveries(t.OutTradeNo)})
}

func writeWeChatPayError(rw http.ResponseWriter, err error) {
	if e, ok := err.(*WeChatPayError); ok {
		writeJSON(rw, e.Status, wechatPayErrorBody{e.Code, e.Message})
		return
	}
	writeJSON(rw, http.StatusInternalServerError, wechatPayErrorBody{WeChatPaySystemError, err.Error()})
}

// sealAESGCM encrypts plain with AES-256-GCM under the APIv3 key and returns
// the base64 ciphertext (tag appended), as notification resources carry it.
func sealAESGCM(key, nonce, plain, associated []byte) (string, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nil, nonce, plain, associated)), nil
}

// randomAlnum returns n random letters and digits.
func randomAlnum(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// File names of the WeChat Pay keys written by WriteFiles.
const (
	FileWeChatPayPrivateKey = "apiclient_key.pem"
	FileWeChatPayPublicKey  = "wechatpay_public_key.pem"
)

// WeChatPayFiles writes the merchant private key (owner-readable only) and
// WeChat Pay's public key into dir and returns the MINIMALL_WECHATPAY_*
// settings that point a minimall instance at a sandbox served at base.
func (s *Server) WeChatPayFiles(dir, base string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	priv, err := filepath.Abs(filepath.Join(dir, FileWeChatPayPrivateKey))
	if err != nil {
		return nil, err
	}
	pub, err := filepath.Abs(filepath.Join(dir, FileWeChatPayPublicKey))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(priv, []byte(s.settings.WeChatPayPrivateKey), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(pub, []byte(s.settings.WeChatPayPublicKey), 0o644); err != nil {
		return nil, err
	}
	return map[string]string{
		"MINIMALL_WECHATPAY_MCHID":            s.settings.WeChatPayMchID,
		"MINIMALL_WECHATPAY_SERIAL":           s.settings.WeChatPaySerial,
		"MINIMALL_WECHATPAY_PRIVATE_KEY_FILE": priv,
		"MINIMALL_WECHATPAY_APIV3_KEY":        s.settings.WeChatPayAPIv3Key,
		"MINIMALL_WECHATPAY_PUBLIC_KEY_ID":    s.settings.WeChatPayPublicKeyID,
		"MINIMALL_WECHATPAY_PUBLIC_KEY_FILE":  pub,
		"MINIMALL_WECHATPAY_API_BASE":         strings.TrimRight(base, "/"),
	}, nil
}

// WeChatPayNotification builds the signed, encrypted notification of a paid
// trade without delivering it, and returns where the platform would post it:
// a load test prepares many and fires them itself. The signature is fresh
// for five minutes.
func (s *Server) WeChatPayNotification(outTradeNo string) (url string, body []byte, header http.Header, err error) {
	w := s.wechatPayTrades
	w.mu.Lock()
	t, ok := w.trades[outTradeNo]
	if !ok || (t.state != WeChatPayTradeSuccess && t.state != WeChatPayTradeRefund) {
		w.mu.Unlock()
		return "", nil, nil, &WeChatPayError{http.StatusBadRequest, WeChatPayOrderNotExist, "no paid trade " + outTradeNo}
	}
	w.mu.Unlock()
	n, err := w.paymentNotification(outTradeNo, TamperNone, false)()
	if err != nil {
		return "", nil, nil, err
	}
	url, body, header = n.URL, n.Body, n.Header
	return url, body, header, nil
}
