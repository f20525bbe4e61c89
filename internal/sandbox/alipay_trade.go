package sandbox

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Alipay trade statuses and business codes the sandbox answers with.
const (
	AlipayWaitBuyerPay  = "WAIT_BUYER_PAY"
	AlipayTradeSuccess  = "TRADE_SUCCESS"
	AlipayTradeFinished = "TRADE_FINISHED"
	AlipayTradeClosed   = "TRADE_CLOSED"

	AlipayTradeNotExist      = "ACQ.TRADE_NOT_EXIST"
	AlipayTradeStatusError   = "ACQ.TRADE_STATUS_ERROR"
	AlipayTradeHasSuccess    = "ACQ.TRADE_HAS_SUCCESS"
	AlipayTradeHasClose      = "ACQ.TRADE_HAS_CLOSE"
	AlipayContextInconsisent = "ACQ.CONTEXT_INCONSISTENT"
	AlipayInvalidParameter   = "ACQ.INVALID_PARAMETER"
	AlipaySystemError        = "ACQ.SYSTEM_ERROR"
)

// DefaultAlipayNotifySchedule returns Alipay's retry schedule for a
// notification not answered with exactly "success": the wait before each
// retry (4m, 10m, 10m, 1h, 2h, 6h, 15h: eight deliveries over about 25 hours).
func DefaultAlipayNotifySchedule() []time.Duration {
	return []time.Duration{
		4 * time.Minute, 10 * time.Minute, 10 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 15 * time.Hour,
	}
}

// Ways a test delivery of an Alipay notification can be altered. The signed
// ones (amount, app_id, seller_id, out_trade_no) carry a valid Alipay
// signature over the altered content; the others do not verify.
const (
	AlipayTamperNone       = ""
	AlipayTamperSignature  = "signature"    // the signature's bytes are altered
	AlipayTamperBody       = "body"         // a parameter is altered after signing
	AlipayTamperForeignKey = "foreign_key"  // signed by a key that is not Alipay's
	AlipayTamperAmount     = "amount"       // total_amount one fen more than the trade
	AlipayTamperAppID      = "app_id"       // another app's app_id
	AlipayTamperSellerID   = "seller_id"    // another seller's seller_id
	AlipayTamperOutTradeNo = "out_trade_no" // an out_trade_no the merchant never made
)

// alipayTrades is the sandbox's Alipay acquiring: the trades, their
// notifications and, in certificate mode, the certificates.
type alipayTrades struct {
	sellerID   string
	foreignKey *rsa.PrivateKey
	notes      *Notifier // trade notifications, by out_trade_no

	// Certificate mode: serial numbers as smartwalle computes them.
	appCertSN    string
	rootCertSN   string
	alipayCertSN string

	mu        sync.Mutex
	trades    map[string]*alipayTradeRec // by out_trade_no
	byTradeNo map[string]string          // trade_no → out_trade_no
	failures  []AlipayFailure
}

// alipayTradeRec is one trade as Alipay keeps it.
type alipayTradeRec struct {
	outTradeNo  string
	tradeNo     string
	subject     string
	totalAmount string
	totalFen    int64
	buyerID     string
	buyerOpenID string
	notifyURL   string
	timeExpire  string
	expire      time.Time
	status      string
	created     time.Time
	paid        time.Time
	buyerPayFen int64
	notifyID    string
}

// AlipayTrade is the sandbox's view of a trade, for tests and control routes.
type AlipayTrade struct {
	OutTradeNo  string `json:"out_trade_no"`
	TradeNo     string `json:"trade_no"`
	Status      string `json:"trade_status"`
	TotalAmount string `json:"total_amount"`
	BuyerID     string `json:"buyer_id,omitempty"`
	BuyerOpenID string `json:"buyer_open_id,omitempty"`
	NotifyURL   string `json:"notify_url"`
	TimeExpire  string `json:"time_expire"`
	Subject     string `json:"subject"`
}

// AlipayFailure makes the next Times trade calls answer Code and SubCode
// (e.g. 20000, or 40004 ACQ.SYSTEM_ERROR).
type AlipayFailure struct {
	Times   int    `json:"times"`
	Code    string `json:"code"`
	SubCode string `json:"sub_code"`
}

// AlipayDelivery is one attempt to deliver a notification.
type AlipayDelivery struct {
	NotifyID string    `json:"notify_id"`
	Tamper   string    `json:"tamper,omitempty"`
	Status   string    `json:"trade_status"`
	HTTP     int       `json:"http_status"` // 0 when the request failed
	Body     string    `json:"body,omitempty"`
	Error    string    `json:"error,omitempty"`
	At       time.Time `json:"at"`
}

// newAlipayTrades makes the acquiring side; in certificate mode it issues a
// self-signed root, the app's certificate and Alipay's public-key
// certificate, and puts them in the settings.
func newAlipayTrades(st *Settings, keys *Keys, opts Options) (*alipayTrades, error) {
	schedule := opts.AlipayNotifySchedule
	if schedule == nil {
		schedule = DefaultAlipayNotifySchedule()
	}
	a := &alipayTrades{
		sellerID:   "2088" + digits(randomHex(8), 12),
		foreignKey: keys.alipayForeign,
		notes:      NewNotifier(schedule, AckedBody("success")),
		trades:     map[string]*alipayTradeRec{},
		byTradeNo:  map[string]string{},
	}
	st.AlipaySellerID = a.sellerID
	if opts.AlipayCertMode {
		if err := a.issueCerts(st, &keys.app.PublicKey, keys.alipay, keys.alipayRoot); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// issueCerts makes the certificate-mode files.
func (a *alipayTrades) issueCerts(st *Settings, appPub *rsa.PublicKey, alipayKey, rootKey *rsa.PrivateKey) error {
	now := time.Now()
	root := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{Country: []string{"CN"}, Organization: []string{"Sandbox Certification Authority"}, CommonName: "Sandbox Root CA"},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SignatureAlgorithm: x509.SHA256WithRSA,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		return err
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return err
	}
	issue := func(cn string, pub *rsa.PublicKey, serial int64) (*x509.Certificate, []byte, error) {
		tpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{Country: []string{"CN"}, Organization: []string{"Sandbox"}, CommonName: cn},
			NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
			KeyUsage:           x509.KeyUsageDigitalSignature,
			SignatureAlgorithm: x509.SHA256WithRSA,
		}
		der, err := x509.CreateCertificate(rand.Reader, tpl, rootCert, pub, rootKey)
		if err != nil {
			return nil, nil, err
		}
		c, err := x509.ParseCertificate(der)
		return c, der, err
	}
	appCert, appDER, err := issue(st.AlipayAppID, appPub, now.UnixNano()+1)
	if err != nil {
		return err
	}
	aliCert, aliDER, err := issue("Sandbox Alipay", &alipayKey.PublicKey, now.UnixNano()+2)
	if err != nil {
		return err
	}
	enc := func(der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	st.AlipayAppCert, st.AlipayRootCert, st.AlipayPublicCert = enc(appDER), enc(rootDER), enc(aliDER)
	a.appCertSN, a.rootCertSN, a.alipayCertSN = AlipayCertSN(appCert), AlipayCertSN(rootCert), AlipayCertSN(aliCert)
	return nil
}

// AlipayCertSN is a certificate's serial as Alipay names it: the MD5, in
// hex, of the issuer's distinguished name followed by the decimal serial
// number.
func AlipayCertSN(c *x509.Certificate) string {
	sum := md5.Sum([]byte(c.Issuer.String() + c.SerialNumber.String()))
	return hex.EncodeToString(sum[:])
}

func (s *Server) registerAlipayTrades() {
	s.handleAlipayMethod("alipay.trade.create", s.alipayTradeCreate)
	s.handleAlipayMethod("alipay.trade.query", s.alipayTradeQuery)
	s.handleAlipayMethod("alipay.trade.close", s.alipayTradeClose)
	// POST /_sandbox/alipay/pay {"trade_no","hold"?,"discount_fen"?}.
	s.mux.HandleFunc("POST /_sandbox/alipay/pay", control(
		func(q alipayPayControl) bool { return q.TradeNo != "" },
		alipayControlRefusal(`body must be {"trade_no":"..."}`),
		func(_ *http.Request, q alipayPayControl) (any, error) {
			return s.PayAlipay(q.TradeNo, AlipayPayOptions{Hold: q.Hold, DiscountFen: q.DiscountFen})
		}, writeAlipayControlError))
	// POST /_sandbox/alipay/deliver {"out_trade_no","copies"?,"tamper"?,
	// "status"?,"refund"?,"distinct_ids"?}: the delivery happens during the
	// call.
	s.mux.HandleFunc("POST /_sandbox/alipay/deliver", control(
		func(q alipayDeliverControl) bool { return q.OutTradeNo != "" && q.Copies <= 200 },
		alipayControlRefusal(`body must be {"out_trade_no":"...","copies":1..200}`),
		func(r *http.Request, q alipayDeliverControl) (any, error) {
			ds, err := s.DeliverAlipay(r.Context(), q.OutTradeNo, AlipayDeliverOptions{
				Copies: q.Copies, Tamper: q.Tamper, Status: q.Status, Refund: q.Refund, DistinctIDs: q.Distinct,
			})
			return map[string]any{"deliveries": ds}, err
		}, writeAlipayControlError))
	// POST /_sandbox/alipay/fail {"times","code","sub_code"}.
	s.mux.HandleFunc("POST /_sandbox/alipay/fail", control(
		func(f AlipayFailure) bool { return f.Times >= 1 && f.Code != "" },
		alipayControlRefusal(`body must be {"times":n,"code":"20000|40004","sub_code":"..."}`),
		func(_ *http.Request, f AlipayFailure) (any, error) { s.FailAlipay(f); return f, nil }, writeAlipayControlError))
	s.mux.HandleFunc("GET /_sandbox/alipay/trades/{out_trade_no}", s.alipayControlTrade)
}

// alipayBusiness is a business failure inside a method's own node, signed
// like a success (code 40004 "Business Failed" unless told otherwise).
func alipayBusiness(subCode, subMsg string) AlipayError {
	return AlipayError{Code: "40004", Msg: "Business Failed", SubCode: subCode, SubMsg: subMsg}
}

// injected returns the next injected failure, if any.
func (a *alipayTrades) injected() *AlipayFailure {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.failures) == 0 {
		return nil
	}
	f := a.failures[0]
	if f.Times--; f.Times <= 0 {
		a.failures = a.failures[1:]
	} else {
		a.failures[0] = f
	}
	return &f
}

// begin opens a call of the acquiring API: an injected failure answers
// first, then biz_content is decoded into biz (nil: the call reads none).
// A refusal that is not nil ends the call with it.
func (a *alipayTrades) begin(form url.Values, biz any) (refusal any) {
	if f := a.injected(); f != nil {
		return failureNode(f)
	}
	if biz != nil && json.Unmarshal([]byte(form.Get("biz_content")), biz) != nil {
		return AlipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: "isv.invalid-parameter", SubMsg: "biz_content 格式错误"}
	}
	return nil
}

// tradeLocked finds the trade a call names (findLocked; a.mu held); the
// refusal is ACQ.TRADE_NOT_EXIST when there is none.
func (a *alipayTrades) tradeLocked(form url.Values) (*alipayTradeRec, any) {
	t, ok := a.findLocked(form)
	if !ok {
		return nil, alipayBusiness(AlipayTradeNotExist, "交易不存在")
	}
	return t, nil
}

// openTrade opens a call about one trade: begin, then the trade it names,
// held under a.mu until the caller calls unlock (only when refusal is nil).
func (a *alipayTrades) openTrade(form url.Values, biz any) (t *alipayTradeRec, unlock func(), refusal any) {
	if refusal := a.begin(form, biz); refusal != nil {
		return nil, nil, refusal
	}
	a.mu.Lock()
	if t, refusal = a.tradeLocked(form); refusal != nil {
		a.mu.Unlock()
		return nil, nil, refusal
	}
	return t, a.mu.Unlock, nil
}

func failureNode(f *AlipayFailure) AlipayError {
	msg := "Business Failed"
	if f.Code == "20000" {
		msg = "Service Currently Unavailable"
	}
	return AlipayError{Code: f.Code, Msg: msg, SubCode: f.SubCode, SubMsg: "sandbox failure"}
}

var (
	alipayOutTradeNo = regexp.MustCompile(`^[0-9A-Za-z_]{1,64}$`)
	alipayAmount     = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})(?:\.([0-9]{1,2}))?$`)
)

// alipayYuan reads a yuan amount as the gateway accepts it: digits, at most
// two decimals, from 0.01 to 100000000.
func alipayYuan(s string) (int64, bool) {
	m := alipayAmount.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	yuan, _ := strconv.ParseInt(m[1], 10, 64)
	frac := (m[2] + "00")[:2]
	cents, _ := strconv.ParseInt(frac, 10, 64)
	fen := yuan*100 + cents
	return fen, fen >= 1 && fen <= 100_000_000*100
}

// sandboxYuan writes fen as yuan with two decimals.
func sandboxYuan(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

type alipayCreateBody struct {
	OutTradeNo  string `json:"out_trade_no"`
	TotalAmount string `json:"total_amount"`
	Subject     string `json:"subject"`
	ProductCode string `json:"product_code"`
	BuyerID     string `json:"buyer_id"`
	BuyerOpenID string `json:"buyer_open_id"`
	TimeExpire  string `json:"time_expire"`
	SellerID    string `json:"seller_id"`
}

// alipayTradeCreate serves alipay.trade.create for JSAPI_PAY. The same
// out_trade_no with the same content answers the same trade_no; other
// content is ACQ.CONTEXT_INCONSISTENT, a paid or closed trade
// ACQ.TRADE_HAS_SUCCESS / ACQ.TRADE_HAS_CLOSE.
func (s *Server) alipayTradeCreate(_ *http.Request, form url.Values) (string, any) {
	const node = "alipay_trade_create_response"
	a := s.alipayTrades
	var b alipayCreateBody
	if refusal := a.begin(form, &b); refusal != nil {
		return node, refusal
	}
	bad := func(msg string) (string, any) { return node, alipayBusiness(AlipayInvalidParameter, msg) }
	fen, amountOK := alipayYuan(b.TotalAmount)
	expire, expErr := time.ParseInLocation("2006-01-02 15:04:05", b.TimeExpire, beijingZone)
	switch {
	case !alipayOutTradeNo.MatchString(b.OutTradeNo):
		return bad("out_trade_no 格式错误")
	case !amountOK:
		return bad("total_amount 格式错误或超出范围")
	case b.Subject == "" || len([]rune(b.Subject)) > 256:
		return bad("subject 不能为空")
	case b.ProductCode != "JSAPI_PAY":
		return node, alipayBusiness("ACQ.PRODUCT_AMOUNT_LIMIT_ERROR", "product_code 必须为 JSAPI_PAY")
	case s.opts.AlipayOpenID && b.BuyerOpenID == "":
		return bad("buyer_open_id 不能为空")
	case !s.opts.AlipayOpenID && b.BuyerID == "":
		return bad("buyer_id 不能为空")
	case b.TimeExpire != "" && expErr != nil:
		return bad("time_expire 格式错误")
	case b.TimeExpire != "" && !expire.After(time.Now()):
		return bad("time_expire 早于当前时间")
	case b.SellerID != "" && b.SellerID != a.sellerID:
		return node, alipayBusiness("ACQ.PARTNER_ERROR", "卖家不存在")
	}
	notifyURL := form.Get("notify_url")
	if notifyURL != "" && !strings.HasPrefix(notifyURL, "http://") && !strings.HasPrefix(notifyURL, "https://") {
		return bad("notify_url 格式错误")
	}
	if b.TimeExpire == "" {
		expire = time.Now().Add(15 * 24 * time.Hour)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.trades[b.OutTradeNo]; ok {
		a.expireLocked(t)
		switch {
		case t.status == AlipayTradeSuccess || t.status == AlipayTradeFinished:
			return node, alipayBusiness(AlipayTradeHasSuccess, "交易已被支付")
		case t.status == AlipayTradeClosed:
			return node, alipayBusiness(AlipayTradeHasClose, "交易已经关闭")
		case t.totalAmount != b.TotalAmount || t.buyerID != b.BuyerID || t.buyerOpenID != b.BuyerOpenID || t.subject != b.Subject:
			return node, alipayBusiness(AlipayContextInconsisent, "交易信息被篡改")
		}
		return node, map[string]string{"code": "10000", "msg": "Success", "out_trade_no": t.outTradeNo, "trade_no": t.tradeNo}
	}
	now := time.Now()
	t := &alipayTradeRec{
		outTradeNo: b.OutTradeNo, tradeNo: now.In(beijingZone).Format("20060102") + "2200" + digits(randomHex(16), 16),
		subject: b.Subject, totalAmount: b.TotalAmount, totalFen: fen, buyerID: b.BuyerID, buyerOpenID: b.BuyerOpenID,
		notifyURL: notifyURL, timeExpire: b.TimeExpire, expire: expire, status: AlipayWaitBuyerPay, created: now,
	}
	a.trades[t.outTradeNo] = t
	a.byTradeNo[t.tradeNo] = t.outTradeNo
	return node, map[string]string{"code": "10000", "msg": "Success", "out_trade_no": t.outTradeNo, "trade_no": t.tradeNo}
}

// expireLocked closes an unpaid trade whose time_expire has passed, as
// Alipay does.
func (a *alipayTrades) expireLocked(t *alipayTradeRec) {
	if t.status == AlipayWaitBuyerPay && !time.Now().Before(t.expire) {
		t.status = AlipayTradeClosed
	}
}

type alipayTradeRef struct {
	OutTradeNo string `json:"out_trade_no"`
	TradeNo    string `json:"trade_no"`
}

// findLocked finds a trade by trade_no (which wins) or out_trade_no.
func (a *alipayTrades) findLocked(form url.Values) (*alipayTradeRec, bool) {
	var ref alipayTradeRef
	if err := json.Unmarshal([]byte(form.Get("biz_content")), &ref); err != nil {
		return nil, false
	}
	no := ref.OutTradeNo
	if ref.TradeNo != "" {
		no = a.byTradeNo[ref.TradeNo]
	}
	t, ok := a.trades[no]
	if ok {
		a.expireLocked(t)
	}
	return t, ok
}

// alipayTradeQuery serves alipay.trade.query.
func (s *Server) alipayTradeQuery(_ *http.Request, form url.Values) (string, any) {
	const node = "alipay_trade_query_response"
	t, unlock, refusal := s.alipayTrades.openTrade(form, nil)
	if refusal != nil {
		return node, refusal
	}
	defer unlock()
	res := map[string]string{
		"code": "10000", "msg": "Success", "trade_no": t.tradeNo, "out_trade_no": t.outTradeNo,
		"trade_status": t.status, "total_amount": t.totalAmount, "buyer_logon_id": "159****5620",
	}
	if t.buyerID != "" {
		res["buyer_user_id"] = t.buyerID
	} else {
		res["buyer_open_id"] = t.buyerOpenID
	}
	if !t.paid.IsZero() {
		res["buyer_pay_amount"] = sandboxYuan(t.buyerPayFen)
		res["receipt_amount"] = t.totalAmount
		res["send_pay_date"] = t.paid.In(beijingZone).Format("2006-01-02 15:04:05")
	}
	return node, res
}

// alipayTradeClose serves alipay.trade.close: only a trade waiting for
// payment closes; any other is ACQ.TRADE_STATUS_ERROR.
func (s *Server) alipayTradeClose(_ *http.Request, form url.Values) (string, any) {
	const node = "alipay_trade_close_response"
	t, unlock, refusal := s.alipayTrades.openTrade(form, nil)
	if refusal != nil {
		return node, refusal
	}
	defer unlock()
	if t.status != AlipayWaitBuyerPay {
		return node, alipayBusiness(AlipayTradeStatusError, "交易状态不合法")
	}
	t.status = AlipayTradeClosed
	return node, map[string]string{"code": "10000", "msg": "Success", "trade_no": t.tradeNo, "out_trade_no": t.outTradeNo}
}

// AlipayPayOptions tune a simulated payment.
type AlipayPayOptions struct {
	// Hold keeps the notification back: a test delivers it later through
	// DeliverAlipay.
	Hold bool
	// DiscountFen is a platform discount: the buyer pays the total less it
	// (buyer_pay_amount), which must not change what the merchant checks
	// (total_amount).
	DiscountFen int64
}

// AlipayErrorOf is a refusal of the sandbox's control calls.
type AlipayErrorOf struct {
	Status  int
	SubCode string
	Message string
}

// Error returns the code and message.
func (e *AlipayErrorOf) Error() string { return e.SubCode + ": " + e.Message }

// PayAlipay pays the trade of tradeNo as a user would in my.tradePay and,
// unless held, delivers its TRADE_SUCCESS notification in the background,
// re-signed on every attempt and retried on Alipay's schedule until the
// merchant answers exactly "success".
func (s *Server) PayAlipay(tradeNo string, opts AlipayPayOptions) (AlipayTrade, error) {
	a := s.alipayTrades
	a.mu.Lock()
	t, ok := a.trades[a.byTradeNo[tradeNo]]
	if ok {
		a.expireLocked(t)
	}
	switch {
	case !ok:
		a.mu.Unlock()
		return AlipayTrade{}, &AlipayErrorOf{http.StatusNotFound, AlipayTradeNotExist, "交易不存在"}
	case t.status != AlipayWaitBuyerPay:
		a.mu.Unlock()
		return AlipayTrade{}, &AlipayErrorOf{http.StatusBadRequest, AlipayTradeStatusError, "交易状态不合法: " + t.status}
	case opts.DiscountFen < 0 || opts.DiscountFen >= t.totalFen:
		a.mu.Unlock()
		return AlipayTrade{}, &AlipayErrorOf{http.StatusBadRequest, AlipayInvalidParameter, "discount_fen out of range"}
	}
	t.status = AlipayTradeSuccess
	t.paid = time.Now()
	t.buyerPayFen = t.totalFen - opts.DiscountFen
	t.notifyID = randomHex(16)
	view := a.view(t)
	a.mu.Unlock()
	if !opts.Hold {
		a.notes.Send(view.OutTradeNo, s.alipayTradeNotification(view.OutTradeNo, AlipayDeliverOptions{}))
	}
	return view, nil
}

func (a *alipayTrades) view(t *alipayTradeRec) AlipayTrade {
	return AlipayTrade{
		OutTradeNo: t.outTradeNo, TradeNo: t.tradeNo, Status: t.status, TotalAmount: t.totalAmount,
		BuyerID: t.buyerID, BuyerOpenID: t.buyerOpenID, NotifyURL: t.notifyURL, TimeExpire: t.timeExpire, Subject: t.subject,
	}
}

// AlipayTradeOf returns the sandbox's view of a trade.
func (s *Server) AlipayTradeOf(outTradeNo string) (AlipayTrade, bool) {
	a := s.alipayTrades
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.trades[outTradeNo]
	if !ok {
		return AlipayTrade{}, false
	}
	a.expireLocked(t)
	return a.view(t), true
}

// AlipayDeliverOptions tune a delivery made on demand.
type AlipayDeliverOptions struct {
	// Copies delivers the same notification this many times at once (at
	// least 1), as Alipay's duplicate deliveries do.
	Copies int
	// Tamper alters the notification (one of the AlipayTamper constants).
	Tamper string
	// Status replaces trade_status (e.g. WAIT_BUYER_PAY, TRADE_CLOSED,
	// TRADE_FINISHED) under a new notify_id.
	Status string
	// Refund adds refund_fee, gmt_refund and out_biz_no, as the
	// notification of a partial refund carries them, under a new notify_id.
	Refund bool
	// RefundFen and OutBizNo, with Refund, are the refund_fee (the trade's
	// refunds so far) and out_biz_no (the refund's out_request_no) carried;
	// unset, 0.01 and a random number.
	RefundFen int64
	OutBizNo  string
	// DistinctIDs gives every copy its own notify_id.
	DistinctIDs bool
}

// DeliverAlipay delivers the notification of a trade now, once per copy and
// concurrently, without retrying, and returns each answer. A trade that is
// not paid can still be notified with an explicit Status.
func (s *Server) DeliverAlipay(ctx context.Context, outTradeNo string, opts AlipayDeliverOptions) ([]AlipayDelivery, error) {
	a := s.alipayTrades
	a.mu.Lock()
	t, ok := a.trades[outTradeNo]
	paid := ok && !t.paid.IsZero()
	a.mu.Unlock()
	if !ok || (!paid && opts.Status == "") {
		return nil, &AlipayErrorOf{http.StatusBadRequest, AlipayTradeNotExist, "no paid trade " + outTradeNo}
	}
	return alipayDeliveries(a.notes.Now(ctx, outTradeNo, opts.Copies, s.alipayTradeNotification(outTradeNo, opts))), nil
}

// AlipayDeliveries returns every delivery attempt made for a trade.
func (s *Server) AlipayDeliveries(outTradeNo string) []AlipayDelivery {
	return alipayDeliveries(s.alipayTrades.notes.Deliveries(outTradeNo))
}

// AlipayAcknowledged returns a channel closed once the merchant has answered
// a genuine notification of the trade with exactly "success".
func (s *Server) AlipayAcknowledged(outTradeNo string) <-chan struct{} {
	return s.alipayTrades.notes.Acknowledged(outTradeNo)
}

// alipayDeliveries shows the Notifier's records as Alipay's.
func alipayDeliveries(ds []Delivery) []AlipayDelivery {
	out := make([]AlipayDelivery, len(ds))
	for i, d := range ds {
		out[i] = AlipayDelivery{NotifyID: d.ID, Tamper: d.Tamper, Status: d.Event, HTTP: d.Status, Body: d.Body,
			Error: d.Error, At: d.At}
	}
	return out
}

// alipayTradeNotification returns the build function of a trade's
// notification form, signed afresh for every attempt. Only the plain
// payment notification is genuine; altered forms and other statuses are
// test variants.
func (s *Server) alipayTradeNotification(outTradeNo string, opts AlipayDeliverOptions) func() (Notification, error) {
	return func() (Notification, error) {
		a := s.alipayTrades
		a.mu.Lock()
		t := *a.trades[outTradeNo]
		a.mu.Unlock()
		form := s.alipayNotification(&t, opts)
		h := http.Header{}
		h.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		return Notification{URL: t.notifyURL, Header: h, Body: []byte(form.Encode()), ID: form.Get("notify_id"),
			Tamper: opts.Tamper, Event: form.Get("trade_status"),
			Genuine: opts.Tamper == AlipayTamperNone && opts.Status == "" && !opts.Refund}, nil
	}
}

// alipayNotification builds the form Alipay posts for a trade, signed with
// RSA2 over every non-empty parameter but sign and sign_type, sorted.
func (s *Server) alipayNotification(t *alipayTradeRec, opts AlipayDeliverOptions) url.Values {
	a := s.alipayTrades
	now := time.Now().In(beijingZone)
	notifyID := t.notifyID
	if notifyID == "" || opts.DistinctIDs || opts.Tamper != AlipayTamperNone || opts.Status != "" || opts.Refund {
		// Another notification (or an altered one) has its own notify_id.
		notifyID = randomHex(16)
	}
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	status := t.status
	if opts.Status != "" {
		status = opts.Status
	}
	set("notify_time", now.Format("2006-01-02 15:04:05"))
	set("notify_type", "trade_status_sync")
	set("notify_id", notifyID)
	set("charset", "utf-8")
	set("version", "1.0")
	set("sign_type", "RSA2")
	set("app_id", s.settings.AlipayAppID)
	set("auth_app_id", s.settings.AlipayAppID)
	set("trade_no", t.tradeNo)
	set("out_trade_no", t.outTradeNo)
	set("trade_status", status)
	set("total_amount", t.totalAmount)
	set("subject", t.subject)
	set("seller_id", a.sellerID)
	set("buyer_id", t.buyerID)
	set("buyer_open_id", t.buyerOpenID)
	set("gmt_create", t.created.In(beijingZone).Format("2006-01-02 15:04:05"))
	if !t.paid.IsZero() && status != AlipayWaitBuyerPay {
		set("gmt_payment", t.paid.In(beijingZone).Format("2006-01-02 15:04:05"))
		set("buyer_pay_amount", sandboxYuan(t.buyerPayFen))
		set("receipt_amount", t.totalAmount)
		set("invoice_amount", sandboxYuan(t.buyerPayFen))
		set("point_amount", "0.00")
		set("fund_bill_list", `[{"amount":"`+sandboxYuan(t.buyerPayFen)+`","fundChannel":"ALIPAYACCOUNT"}]`)
	}
	if opts.Refund {
		fee, biz := "0.01", "RF"+randomHex(8)
		if opts.RefundFen > 0 {
			fee = sandboxYuan(opts.RefundFen)
		}
		if opts.OutBizNo != "" {
			biz = opts.OutBizNo
		}
		set("refund_fee", fee)
		set("gmt_refund", now.Format("2006-01-02 15:04:05.000"))
		set("out_biz_no", biz)
	}
	if status == AlipayTradeClosed || status == AlipayTradeFinished {
		set("gmt_close", now.Format("2006-01-02 15:04:05"))
	}
	switch opts.Tamper {
	case AlipayTamperAmount:
		v.Set("total_amount", sandboxYuan(t.totalFen+1))
	case AlipayTamperAppID:
		other := "2021" + digits(randomHex(8), 12)
		v.Set("app_id", other)
		v.Set("auth_app_id", other)
	case AlipayTamperSellerID:
		v.Set("seller_id", "2088"+digits(randomHex(8), 12))
	case AlipayTamperOutTradeNo:
		v.Set("out_trade_no", "UNKNOWN"+strings.ToUpper(randomHex(8)))
	}
	content := []byte(AlipaySignContent(v, "sign", "sign_type"))
	var sig string
	if opts.Tamper == AlipayTamperForeignKey {
		sig = signRSA(a.foreignKey, string(content))
	} else {
		sig = s.alipaySign(content)
	}
	switch opts.Tamper {
	case AlipayTamperSignature:
		raw, _ := base64.StdEncoding.DecodeString(sig)
		raw[len(raw)/2] ^= 0xff
		sig = base64.StdEncoding.EncodeToString(raw)
	case AlipayTamperBody:
		v.Set("subject", t.subject+" ")
	}
	v.Set("sign", sig)
	return v
}

// AlipayNotificationForm builds the signed form of a notification of a trade
// without delivering it, so that a test can deliver the very same
// notification several times, as Alipay's retries do.
func (s *Server) AlipayNotificationForm(outTradeNo string, opts AlipayDeliverOptions) (url.Values, error) {
	a := s.alipayTrades
	a.mu.Lock()
	t, ok := a.trades[outTradeNo]
	var cp alipayTradeRec
	if ok {
		cp = *t
	}
	a.mu.Unlock()
	if !ok {
		return nil, &AlipayErrorOf{http.StatusNotFound, AlipayTradeNotExist, "no trade " + outTradeNo}
	}
	return s.alipayNotification(&cp, opts), nil
}

// FailAlipay makes the next f.Times trade calls fail with f.
func (s *Server) FailAlipay(f AlipayFailure) {
	a := s.alipayTrades
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failures = append(a.failures, f)
}

// alipayControlTrade serves GET /_sandbox/alipay/trades/{out_trade_no}.
func (s *Server) alipayControlTrade(rw http.ResponseWriter, r *http.Request) {
	t, ok := s.AlipayTradeOf(r.PathValue("out_trade_no"))
	if !ok {
		writeJSON(rw, http.StatusNotFound, alipayBusiness(AlipayTradeNotExist, "交易不存在"))
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"trade": t, "deliveries": s.AlipayDeliveries(t.OutTradeNo)})
}

// alipayPayControl is the body of POST /_sandbox/alipay/pay.
type alipayPayControl struct {
	TradeNo     string `json:"trade_no"`
	Hold        bool   `json:"hold"`
	DiscountFen int64  `json:"discount_fen"`
}

// alipayDeliverControl is the body of POST /_sandbox/alipay/deliver.
type alipayDeliverControl struct {
	OutTradeNo string `json:"out_trade_no"`
	Copies     int    `json:"copies"`
	Tamper     string `json:"tamper"`
	Status     string `json:"status"`
	Refund     bool   `json:"refund"`
	Distinct   bool   `json:"distinct_ids"`
}

// alipayControlRefusal is the answer to a control body that is not right.
func alipayControlRefusal(msg string) AlipayError {
	return AlipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: AlipayInvalidParameter, SubMsg: msg}
}

func writeAlipayControlError(rw http.ResponseWriter, err error) {
	if e, ok := err.(*AlipayErrorOf); ok {
		writeJSON(rw, e.Status, alipayBusiness(e.SubCode, e.Message))
		return
	}
	writeJSON(rw, http.StatusInternalServerError, alipayBusiness(AlipaySystemError, err.Error()))
}
