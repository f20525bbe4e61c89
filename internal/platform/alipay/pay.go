package alipay

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/minimall/minimall/internal/apperr"
)

// ProductJSAPI is the product code of a mini-program payment (my.tradePay).
const ProductJSAPI = "JSAPI_PAY"

// TimeFormat is the layout of Alipay's timestamps, in Beijing time.
const TimeFormat = "2006-01-02 15:04:05"

// Trade statuses (trade_status).
const (
	TradeWaitBuyerPay = "WAIT_BUYER_PAY"
	TradeClosed       = "TRADE_CLOSED"
	TradeSuccess      = "TRADE_SUCCESS"
	TradeFinished     = "TRADE_FINISHED"
)

// Business codes (sub_code) the payment module acts on.
const (
	SubCodeTradeNotExist    = "ACQ.TRADE_NOT_EXIST"
	SubCodeTradeStatusError = "ACQ.TRADE_STATUS_ERROR"
	SubCodeTradeHasSuccess  = "ACQ.TRADE_HAS_SUCCESS"
	SubCodeTradeHasClose    = "ACQ.TRADE_HAS_CLOSE"
	SubCodeSystemError      = "ACQ.SYSTEM_ERROR"
)

// beijing is the zone of Alipay's timestamps (UTC+8, no daylight saving),
// fixed so that formatting needs no tzdata.
var beijing = time.FixedZone("CST", 8*3600)

// loadCerts configures certificate mode: the app certificate gives
// app_cert_sn, the root certificate alipay_root_cert_sn, and the Alipay
// public-key certificate the key that verifies responses and notifications.
// smartwalle silently ignores a certificate without an RSA key, so the
// certificates are checked here first.
func loadCerts(c *sdk.Client, cfg Config) error {
	if _, err := rsaCert(cfg.AppCert); err != nil {
		return fmt.Errorf("alipay: app certificate: %w", err)
	}
	if err := c.LoadAppCertPublicKey(cfg.AppCert); err != nil {
		return fmt.Errorf("alipay: app certificate: %w", err)
	}
	if !hasRSARoot(cfg.RootCert) {
		return errors.New("alipay: the root certificate file holds no RSA-signed certificate")
	}
	if err := c.LoadAliPayRootCert(cfg.RootCert); err != nil {
		return fmt.Errorf("alipay: root certificate: %w", err)
	}
	if _, err := rsaCert(cfg.PublicCert); err != nil {
		return fmt.Errorf("alipay: Alipay public-key certificate: %w", err)
	}
	if err := c.LoadAlipayCertPublicKey(cfg.PublicCert); err != nil {
		return fmt.Errorf("alipay: Alipay public-key certificate: %w", err)
	}
	return nil
}

// rsaCert parses the first certificate of a PEM file and requires an RSA key.
func rsaCert(p string) (*x509.Certificate, error) {
	blk, _ := pem.Decode([]byte(p))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, err
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, errors.New("the certificate's key is not RSA")
	}
	return cert, nil
}

// hasRSARoot reports whether a root certificate file holds a certificate
// signed with RSA, the only kind smartwalle counts in alipay_root_cert_sn.
func hasRSARoot(p string) bool {
	rest := []byte(p)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return false
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err == nil && (cert.SignatureAlgorithm == x509.SHA256WithRSA || cert.SignatureAlgorithm == x509.SHA1WithRSA) {
			return true
		}
	}
}

// TradeCreateRequest is one alipay.trade.create for a mini-program payment.
type TradeCreateRequest struct {
	OutTradeNo string
	Subject    string
	AmountFen  int64
	// BuyerID is the buyer's 2088... user_id (user_id apps); BuyerOpenID the
	// app-scoped open_id (open_id apps). Exactly one is set.
	BuyerID     string
	BuyerOpenID string
	TimeExpire  time.Time // sent in Beijing time, to the second
	NotifyURL   string
}

// TradeCreate creates the trade that my.tradePay pays and returns Alipay's
// trade_no. The same out_trade_no with the same parameters finds the same
// trade again. Refusals are *apperr.Error: upstream_error for a business
// failure (SubCode tells which), upstream_unavailable when Alipay is busy,
// unreachable or its answer does not verify.
func (c *Client) TradeCreate(ctx context.Context, req TradeCreateRequest) (string, error) {
	if req.AmountFen <= 0 || req.AmountFen > MaxTradeFen {
		return "", apperr.New(apperr.CodeInvalid, "an Alipay trade is between 0.01 and 100000000 yuan")
	}
	if (req.BuyerID == "") == (req.BuyerOpenID == "") {
		return "", apperr.Internal(errors.New("alipay: trade.create needs exactly one of buyer_id and buyer_open_id"))
	}
	amount, err := FormatYuan(req.AmountFen)
	if err != nil {
		return "", apperr.Internal(err)
	}
	p := sdk.TradeCreate{
		Trade: sdk.Trade{
			NotifyURL:   req.NotifyURL,
			Subject:     req.Subject,
			OutTradeNo:  req.OutTradeNo,
			TotalAmount: amount,
			ProductCode: ProductJSAPI,
			TimeExpire:  req.TimeExpire.In(beijing).Format(TimeFormat),
		},
		BuyerId:     req.BuyerID,
		BuyerOpenId: req.BuyerOpenID,
	}
	res, err := c.sdk.TradeCreate(ctx, p)
	if err != nil {
		return "", callError("trade.create", err)
	}
	if err := businessError("trade.create", res.Error); err != nil {
		return "", err
	}
	if res.TradeNo == "" {
		return "", apperr.New(apperr.CodeUpstreamError, "Alipay answered the trade without a trade_no")
	}
	return res.TradeNo, nil
}

// Trade is Alipay's view of a trade from alipay.trade.query. Amounts are
// fen, parsed exactly from the yuan strings.
type Trade struct {
	OutTradeNo  string
	TradeNo     string
	Status      string
	TotalFen    int64 // the order amount: what a payment is checked against
	BuyerPayFen int64 // what the buyer paid after platform discounts
	BuyerID     string
	BuyerOpenID string
	PaidAt      *time.Time // send_pay_date, when paid
	Raw         string     // the response node as JSON
}

// Query asks Alipay for the trade of outTradeNo. A trade Alipay does not
// know is an upstream_error whose SubCode is ACQ.TRADE_NOT_EXIST.
func (c *Client) Query(ctx context.Context, outTradeNo string) (Trade, error) {
	res, err := c.sdk.TradeQuery(ctx, sdk.TradeQuery{OutTradeNo: outTradeNo})
	if err != nil {
		return Trade{}, callError("trade.query", err)
	}
	if err := businessError("trade.query", res.Error); err != nil {
		return Trade{}, err
	}
	t := Trade{
		OutTradeNo: res.OutTradeNo, TradeNo: res.TradeNo, Status: string(res.TradeStatus),
	}
	if t.TotalFen, err = ParseYuan(res.TotalAmount); err != nil {
		return Trade{}, apperr.New(apperr.CodeUpstreamError, "Alipay answered a malformed total_amount").WithCause(err)
	}
	if res.BuyerPayAmount != "" {
		if t.BuyerPayFen, err = ParseYuan(res.BuyerPayAmount); err != nil {
			return Trade{}, apperr.New(apperr.CodeUpstreamError, "Alipay answered a malformed buyer_pay_amount").WithCause(err)
		}
	}
	if res.SendPayDate != "" {
		if at, err := time.ParseInLocation(TimeFormat, res.SendPayDate, beijing); err == nil {
			u := at.UTC()
			t.PaidAt = &u
		}
	}
	t.Raw = fmt.Sprintf("trade_no=%s&out_trade_no=%s&trade_status=%s&total_amount=%s&buyer_pay_amount=%s&send_pay_date=%s",
		res.TradeNo, res.OutTradeNo, res.TradeStatus, res.TotalAmount, res.BuyerPayAmount, res.SendPayDate)
	return t, nil
}

// Close closes the unpaid trade of outTradeNo so that it can no longer be
// paid. A trade that is not waiting for payment makes Alipay refuse
// (SubCode ACQ.TRADE_STATUS_ERROR), one it never created too
// (ACQ.TRADE_NOT_EXIST); callers query after any other refusal.
func (c *Client) Close(ctx context.Context, outTradeNo string) error {
	res, err := c.sdk.TradeClose(ctx, sdk.TradeClose{OutTradeNo: outTradeNo})
	if err != nil {
		return callError("trade.close", err)
	}
	return businessError("trade.close", res.Error)
}

// platformError keeps Alipay's codes behind an *apperr.Error.
type platformError struct {
	op      string
	code    string
	subCode string
	msg     string
	err     error
}

func (e *platformError) Error() string {
	if e.code != "" {
		return fmt.Sprintf("alipay %s: code=%s sub_code=%s msg=%s", e.op, e.code, e.subCode, e.msg)
	}
	return fmt.Sprintf("alipay %s: %v", e.op, e.err)
}

func (e *platformError) Unwrap() error { return e.err }

// SubCode returns Alipay's sub_code carried by err (such as
// ACQ.TRADE_NOT_EXIST), or "" when Alipay gave none.
func SubCode(err error) string {
	var pe *platformError
	if errors.As(err, &pe) {
		return pe.subCode
	}
	return ""
}

// businessError maps a response's code: 10000 is success; 20000 and
// ACQ.SYSTEM_ERROR are upstream_unavailable (the outcome is unknown, try
// again); any other code is upstream_error.
func businessError(op string, e sdk.Error) error {
	if string(e.Code) == CodeSuccess {
		return nil
	}
	pe := &platformError{op: op, code: string(e.Code), subCode: e.SubCode, msg: e.Msg + " " + e.SubMsg}
	if string(e.Code) == CodeServiceUnavailable || e.SubCode == SubCodeSystemError || strings.HasPrefix(e.SubCode, "isp.") {
		return apperr.New(apperr.CodeUpstreamUnavailable, "Alipay is busy, try again").WithCause(pe)
	}
	return apperr.New(apperr.CodeUpstreamError, "Alipay refused the %s: %s", op, firstNonEmpty(e.SubCode, string(e.Code))).WithCause(pe)
}

// callError maps an error returned by the SDK: a gateway refusal in
// error_response carries a code; anything else (network, timeout, a response
// whose signature does not verify) leaves the outcome unknown.
func callError(op string, err error) error {
	var e *sdk.Error
	if errors.As(err, &e) {
		if be := businessError(op, *e); be != nil {
			return be
		}
	}
	return apperr.New(apperr.CodeUpstreamUnavailable, "Alipay could not be reached or its answer did not verify").
		WithCause(&platformError{op: op, err: err})
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// Notification is an asynchronous notification whose RSA2 signature
// verified with Alipay's key. Amounts are fen, parsed exactly.
type Notification struct {
	NotifyID    string
	NotifyType  string
	AppID       string
	SellerID    string
	OutTradeNo  string
	TradeNo     string
	TradeStatus string
	TotalFen    int64 // total_amount: the order amount
	BuyerPayFen int64 // buyer_pay_amount, 0 when absent
	BuyerID     string
	BuyerOpenID string
	PaidAt      *time.Time // gmt_payment
	// Refund reports the refund fields (refund_fee, gmt_refund,
	// out_biz_no) that make a TRADE_SUCCESS or TRADE_CLOSED a refund's
	// notification rather than a payment's.
	Refund bool
	// Raw is the form as received, encoded.
	Raw string
}

// NotifyError is a notification refused before its content can be
// trusted: Reason is malformed or signature.
type NotifyError struct {
	Reason string
	Err    error
}

// Error tells the reason and the cause.
func (e *NotifyError) Error() string {
	return fmt.Sprintf("alipay notification refused (%s): %v", e.Reason, e.Err)
}

// Unwrap exposes the cause.
func (e *NotifyError) Unwrap() error { return e.Err }

// ParseNotification verifies a notification's form with smartwalle's
// DecodeNotification (RSA2 over the sorted parameters without sign and
// sign_type) and reads it. In public-key mode an alipay_cert_sn in the form
// is dropped first, so the configured key always verifies (smartwalle would
// otherwise look the serial up, and download unknown ones).
func (c *Client) ParseNotification(ctx context.Context, form url.Values) (Notification, error) {
	for _, k := range []string{"notify_id", "app_id", "out_trade_no", "trade_status", "sign"} {
		if len(form[k]) != 1 || form.Get(k) == "" {
			return Notification{}, &NotifyError{Reason: "malformed", Err: fmt.Errorf("%s is missing or repeated", k)}
		}
	}
	if st := form.Get("sign_type"); st != "" && st != "RSA2" {
		return Notification{}, &NotifyError{Reason: "signature", Err: fmt.Errorf("sign_type %q is not RSA2", st)}
	}
	values := url.Values{}
	for k, v := range form {
		values[k] = append([]string(nil), v...)
	}
	if !c.certMode {
		values.Del("alipay_cert_sn")
	}
	n, err := c.sdk.DecodeNotification(ctx, values)
	if err != nil {
		return Notification{}, &NotifyError{Reason: "signature", Err: err}
	}
	out := Notification{
		NotifyID: n.NotifyId, NotifyType: n.NotifyType, AppID: n.AppId, SellerID: n.SellerId,
		OutTradeNo: n.OutTradeNo, TradeNo: n.TradeNo, TradeStatus: string(n.TradeStatus),
		BuyerID: n.BuyerId, BuyerOpenID: n.BuyerOpenId,
		Refund: n.RefundFee != "" || n.GmtRefund != "" || n.OutBizNo != "",
		Raw:    form.Encode(),
	}
	if out.TotalFen, err = ParseYuan(n.TotalAmount); err != nil {
		return Notification{}, &NotifyError{Reason: "malformed", Err: fmt.Errorf("total_amount: %w", err)}
	}
	if n.BuyerPayAmount != "" {
		if out.BuyerPayFen, err = ParseYuan(n.BuyerPayAmount); err != nil {
			return Notification{}, &NotifyError{Reason: "malformed", Err: fmt.Errorf("buyer_pay_amount: %w", err)}
		}
	}
	if n.GmtPayment != "" {
		at, err := time.ParseInLocation(TimeFormat, n.GmtPayment, beijing)
		if err != nil {
			return Notification{}, &NotifyError{Reason: "malformed", Err: fmt.Errorf("gmt_payment: %w", err)}
		}
		u := at.UTC()
		out.PaidAt = &u
	}
	return out, nil
}
