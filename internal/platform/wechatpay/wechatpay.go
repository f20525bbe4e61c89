// Package wechatpay adapts WeChat Pay API v3 (JSAPI payments of a
// mini-program) through the official github.com/wechatpay-apiv3/wechatpay-go
// SDK in public-key mode: prepay with the wx.requestPayment parameters,
// query, close, and the verified, decrypted payment notification.
//
// The SDK's base URL is a constant (https://api.mch.weixin.qq.com), so the
// Client sends its requests through an http.Client whose transport rewrites
// that host to the configured API base (MINIMALL_WECHATPAY_API_BASE): the
// same code talks to the platform or to the sandbox.
//
// Platform errors become *apperr.Error values: a business refusal (4xx) is
// upstream_error, a platform that is busy, times out or cannot be reached
// (5xx, SYSTEM_ERROR, network errors) is upstream_unavailable. Callers that
// need the platform's own code read it with PlatformCode.
package wechatpay

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
)

// DefaultAPIBase is where the SDK sends its requests.
const DefaultAPIBase = "https://api.mch.weixin.qq.com"

// requestTimeout bounds one call to the platform.
const requestTimeout = 10 * time.Second

// beijing is the zone of the platform's timestamps (UTC+8, no daylight
// saving), fixed so that it needs no tzdata.
var beijing = time.FixedZone("CST", 8*3600)

// Trade states the platform reports (trade_state).
const (
	TradeSuccess    = "SUCCESS"
	TradeRefund     = "REFUND"
	TradeNotPay     = "NOTPAY"
	TradeClosed     = "CLOSED"
	TradeRevoked    = "REVOKED"
	TradeUserPaying = "USERPAYING"
	TradePayError   = "PAYERROR"
)

// Platform error codes the payment module acts on.
const (
	CodeOrderNotExist = "ORDER_NOT_EXIST"
	CodeOrderClosed   = "ORDER_CLOSED"
	CodeOrderPaid     = "ORDERPAID"
	CodeSystemError   = "SYSTEM_ERROR"
	CodeSignError     = "SIGN_ERROR"
	CodeParamError    = "PARAM_ERROR"
)

// EventTransactionSuccess is the event type of a payment notification.
const EventTransactionSuccess = "TRANSACTION.SUCCESS"

// Config is what a Client needs: the mini-program's AppID, the merchant's
// credentials and WeChat Pay's public key.
type Config struct {
	AppID       string
	MchID       string
	Serial      string // serial number of the merchant API certificate
	PrivateKey  *rsa.PrivateKey
	APIv3Key    string
	PublicKeyID string
	PublicKey   *rsa.PublicKey
	APIBase     string // scheme and host, e.g. https://api.mch.weixin.qq.com
	// Timeout bounds one call (MINIMALL_PAYMENT_PLATFORM_TIMEOUT); a call
	// cut there is upstream_unavailable. 0 means 10 s.
	Timeout time.Duration
}

// ConfigFrom reads the key files named by cfg: the merchant key
// apiclient_key.pem (PKCS#8 PEM) and WeChat Pay's public key (PUBLIC KEY
// PEM). appID is the mini-program that pays.
func ConfigFrom(cfg config.WeChatPay, appID string) (Config, error) {
	priv, err := os.ReadFile(cfg.PrivateKeyFile)
	if err != nil {
		return Config{}, fmt.Errorf("wechatpay: merchant private key (MINIMALL_WECHATPAY_PRIVATE_KEY_FILE): %w", err)
	}
	key, err := utils.LoadPrivateKey(string(priv))
	if err != nil {
		return Config{}, fmt.Errorf("wechatpay: merchant private key %s: %w", cfg.PrivateKeyFile, err)
	}
	pub, err := os.ReadFile(cfg.PublicKeyFile)
	if err != nil {
		return Config{}, fmt.Errorf("wechatpay: public key (MINIMALL_WECHATPAY_PUBLIC_KEY_FILE): %w", err)
	}
	pk, err := utils.LoadPublicKey(string(pub))
	if err != nil {
		return Config{}, fmt.Errorf("wechatpay: public key %s: %w", cfg.PublicKeyFile, err)
	}
	return Config{
		AppID: appID, MchID: cfg.MchID, Serial: cfg.Serial, PrivateKey: key, APIv3Key: cfg.APIv3Key,
		PublicKeyID: cfg.PublicKeyID, PublicKey: pk, APIBase: cfg.APIBase,
	}, nil
}

// Client calls WeChat Pay for one merchant and one mini-program.
type Client struct {
	cfg     Config
	clock   clock.Clock
	core    *core.Client
	jsapi   *jsapi.JsapiApiService
	refunds *refunddomestic.RefundsApiService
	notify  *notify.Handler
}

// New builds a client. clk stamps the wx.requestPayment parameters; the SDK
// itself checks the freshness of signatures against the real clock.
func New(cfg Config, clk clock.Clock) (*Client, error) {
	if clk == nil {
		return nil, errors.New("wechatpay: nil clock")
	}
	switch {
	case cfg.AppID == "":
		return nil, errors.New("wechatpay: the mini-program AppID (MINIMALL_WECHAT_APPID) is required")
	case cfg.MchID == "" || cfg.Serial == "" || cfg.PublicKeyID == "":
		return nil, errors.New("wechatpay: mchid, serial and public key id are required")
	case cfg.PrivateKey == nil || cfg.PublicKey == nil:
		return nil, errors.New("wechatpay: the merchant private key and the WeChat Pay public key are required")
	case len(cfg.APIv3Key) != 32:
		return nil, errors.New("wechatpay: the APIv3 key must be 32 bytes")
	}
	if cfg.APIBase == "" {
		cfg.APIBase = DefaultAPIBase
	}
	base, err := url.Parse(cfg.APIBase)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("wechatpay: api base %q is not an http(s) URL", cfg.APIBase)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = requestTimeout
	}
	hc := &http.Client{Timeout: timeout, Transport: &rewriter{base: base, next: http.DefaultTransport}}
	c, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(cfg.MchID, cfg.Serial, cfg.PrivateKey, cfg.PublicKeyID, cfg.PublicKey),
		option.WithHTTPClient(hc),
	)
	if err != nil {
		return nil, fmt.Errorf("wechatpay: %w", err)
	}
	h, err := notify.NewRSANotifyHandler(cfg.APIv3Key, verifiers.NewSHA256WithRSAPubkeyVerifier(cfg.PublicKeyID, *cfg.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("wechatpay: notify handler: %w", err)
	}
	return &Client{
		cfg: cfg, clock: clk, core: c, jsapi: &jsapi.JsapiApiService{Client: c},
		refunds: &refunddomestic.RefundsApiService{Client: c}, notify: h,
	}, nil
}

// AppID returns the mini-program's AppID.
func (c *Client) AppID() string { return c.cfg.AppID }

// MchID returns the merchant id.
func (c *Client) MchID() string { return c.cfg.MchID }

// rewriter sends requests for the SDK's fixed host to the configured base.
type rewriter struct {
	base *url.URL
	next http.RoundTripper
}

// RoundTrip rewrites the scheme and host, then sends the request.
func (r *rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == "api.mch.weixin.qq.com" && r.base.Host != req.URL.Host {
		req = req.Clone(req.Context())
		req.URL.Scheme = r.base.Scheme
		req.URL.Host = r.base.Host
		req.Host = r.base.Host
	}
	return r.next.RoundTrip(req)
}

// PrepayRequest is one JSAPI prepay.
type PrepayRequest struct {
	OutTradeNo  string
	Description string
	AmountFen   int64
	OpenID      string
	TimeExpire  time.Time // sent in Beijing time, to the second
	NotifyURL   string
}

// Prepay creates (or, for the same out_trade_no and parameters, finds) the
// platform's trade and returns its prepay_id.
func (c *Client) Prepay(ctx context.Context, req PrepayRequest) (string, error) {
	expire := req.TimeExpire.In(beijing).Truncate(time.Second)
	resp, _, err := c.jsapi.Prepay(ctx, jsapi.PrepayRequest{
		Appid:       core.String(c.cfg.AppID),
		Mchid:       core.String(c.cfg.MchID),
		Description: core.String(req.Description),
		OutTradeNo:  core.String(req.OutTradeNo),
		TimeExpire:  &expire,
		NotifyUrl:   core.String(req.NotifyURL),
		Amount:      &jsapi.Amount{Total: core.Int64(req.AmountFen), Currency: core.String("CNY")},
		Payer:       &jsapi.Payer{Openid: core.String(req.OpenID)},
	})
	if err != nil {
		return "", mapError("prepay", err)
	}
	if resp.PrepayId == nil || *resp.PrepayId == "" {
		return "", apperr.New(apperr.CodeUpstreamError, "WeChat Pay answered without a prepay_id")
	}
	return *resp.PrepayId, nil
}

// RequestPayment is what the mini-program passes to wx.requestPayment.
// TimeStamp is a string: wx.requestPayment refuses numbers.
type RequestPayment struct {
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
}

// RequestPayment signs a fresh set of wx.requestPayment parameters for
// prepayID with the merchant key (appId, timeStamp, nonceStr, package, each
// followed by a newline), as the SDK's PrepayWithRequestPayment does, so a
// customer who pays again gets new parameters without a new prepay.
func (c *Client) RequestPayment(ctx context.Context, prepayID string) (RequestPayment, error) {
	nonce, err := utils.GenerateNonce()
	if err != nil {
		return RequestPayment{}, apperr.Internal(err)
	}
	rp := RequestPayment{
		TimeStamp: strconv.FormatInt(c.clock.Now().Unix(), 10),
		NonceStr:  nonce,
		Package:   "prepay_id=" + prepayID,
		SignType:  "RSA",
	}
	msg := fmt.Sprintf("%s\n%s\n%s\n%s\n", c.cfg.AppID, rp.TimeStamp, rp.NonceStr, rp.Package)
	sig, err := c.core.Sign(ctx, msg)
	if err != nil {
		return RequestPayment{}, apperr.Internal(fmt.Errorf("wechatpay: sign payment: %w", err))
	}
	rp.PaySign = sig.Signature
	return rp, nil
}

// Transaction is the platform's view of a trade, from a query or from a
// notification.
type Transaction struct {
	AppID         string
	MchID         string
	OutTradeNo    string
	TransactionID string
	TradeState    string
	TotalFen      int64 // the order amount: what the payment is checked against
	PayerTotalFen int64 // what the payer paid after platform coupons
	Currency      string
	PayerOpenID   string
	SuccessTime   *time.Time
}

func transactionOf(t *payments.Transaction) Transaction {
	out := Transaction{
		AppID: str(t.Appid), MchID: str(t.Mchid), OutTradeNo: str(t.OutTradeNo),
		TransactionID: str(t.TransactionId), TradeState: str(t.TradeState),
	}
	if t.Amount != nil {
		out.TotalFen = i64(t.Amount.Total)
		out.PayerTotalFen = i64(t.Amount.PayerTotal)
		out.Currency = str(t.Amount.Currency)
	}
	if t.Payer != nil {
		out.PayerOpenID = str(t.Payer.Openid)
	}
	if s := str(t.SuccessTime); s != "" {
		if ts, err := time.Parse(time.RFC3339, s); err == nil {
			u := ts.UTC()
			out.SuccessTime = &u
		}
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func i64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// Query asks the platform for the trade of outTradeNo. A trade the platform
// does not know is an upstream_error whose PlatformCode is ORDER_NOT_EXIST.
func (c *Client) Query(ctx context.Context, outTradeNo string) (Transaction, error) {
	t, _, err := c.jsapi.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{
		OutTradeNo: core.String(outTradeNo), Mchid: core.String(c.cfg.MchID),
	})
	if err != nil {
		return Transaction{}, mapError("query", err)
	}
	return transactionOf(t), nil
}

// QueryByTransactionID asks the platform for the trade with WeChat Pay's own
// transaction id.
func (c *Client) QueryByTransactionID(ctx context.Context, transactionID string) (Transaction, error) {
	t, _, err := c.jsapi.QueryOrderById(ctx, jsapi.QueryOrderByIdRequest{
		TransactionId: core.String(transactionID), Mchid: core.String(c.cfg.MchID),
	})
	if err != nil {
		return Transaction{}, mapError("query", err)
	}
	return transactionOf(t), nil
}

// Close closes the unpaid trade of outTradeNo so it can no longer be paid.
// A paid trade makes the platform refuse (PlatformCode ORDERPAID); callers
// query after any refusal.
func (c *Client) Close(ctx context.Context, outTradeNo string) error {
	_, err := c.jsapi.CloseOrder(ctx, jsapi.CloseOrderRequest{
		OutTradeNo: core.String(outTradeNo), Mchid: core.String(c.cfg.MchID),
	})
	if err != nil {
		return mapError("close", err)
	}
	return nil
}

// platformError keeps the platform's code behind an *apperr.Error.
type platformError struct {
	status int
	code   string
	msg    string
	err    error
}

func (e *platformError) Error() string {
	if e.code != "" {
		return fmt.Sprintf("wechatpay: http %d %s: %s", e.status, e.code, e.msg)
	}
	return fmt.Sprintf("wechatpay: %v", e.err)
}

func (e *platformError) Unwrap() error { return e.err }

// PlatformCode returns WeChat Pay's error code carried by err (such as
// ORDER_NOT_EXIST or ORDERPAID), or "" when the platform gave none.
func PlatformCode(err error) string {
	var pe *platformError
	if errors.As(err, &pe) {
		return pe.code
	}
	return ""
}

// mapError turns an SDK error into upstream_error (a business refusal) or
// upstream_unavailable (busy, 5xx, timeouts, unreachable, or an answer whose
// signature does not verify: the answer cannot be trusted, so the outcome is
// unknown).
func mapError(op string, err error) error {
	var api *core.APIError
	if errors.As(err, &api) {
		pe := &platformError{status: api.StatusCode, code: api.Code, msg: api.Message, err: err}
		if api.StatusCode >= 500 || api.Code == CodeSystemError || api.Code == "FREQUENCY_LIMITED" {
			return apperr.New(apperr.CodeUpstreamUnavailable, "WeChat Pay is unavailable, try again").WithCause(pe)
		}
		return apperr.New(apperr.CodeUpstreamError, "WeChat Pay refused the %s: %s", op, api.Code).WithCause(pe)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return apperr.New(apperr.CodeUpstreamUnavailable, "WeChat Pay did not answer in time").WithCause(&platformError{err: err})
	}
	return apperr.New(apperr.CodeUpstreamUnavailable, "WeChat Pay could not be reached or its answer did not verify").
		WithCause(&platformError{err: err})
}

// nowUnix is the real time the SDK checks signatures against.
func nowUnix() int64 { return time.Now().Unix() }

// Beijing formats t as the platform does (RFC 3339 in UTC+8).
func Beijing(t time.Time) string { return t.In(beijing).Format(time.RFC3339) }

// trimBody shortens a body for an error message.
func trimBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
