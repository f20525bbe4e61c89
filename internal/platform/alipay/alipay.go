// Package alipay adapts the Alipay open platform through
// github.com/smartwalle/alipay/v3: client construction from configuration
// (keys as PEM or the bare base64 the Alipay console hands out), and the
// mini-program login call alipay.system.oauth.token with its error mapping.
//
// smartwalle reports business failures with a nil error: every call here
// checks the response code itself.
package alipay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/minimall/minimall/internal/apperr"
)

// DefaultGateway is Alipay's production gateway.
const DefaultGateway = "https://openapi.alipay.com/gateway.do"

// requestTimeout bounds one call to the gateway.
const requestTimeout = 10 * time.Second

// Alipay codes that matter to minimall.
const (
	CodeSuccess            = "10000"
	CodeServiceUnavailable = "20000" // service temporarily unavailable
	CodeInvalidArguments   = "40002"
	SubCodeInvalidCode     = "isv.code-invalid"
)

// Config is what a Client needs. Keys and certificates are the contents
// (PEM, or bare base64 for keys), not file names; LoadKeyFile reads a file.
//
// Public-key mode sets PublicKey. Certificate mode sets AppCert, RootCert
// and PublicCert instead: requests then carry app_cert_sn and
// alipay_root_cert_sn, and responses are verified with the key of the
// Alipay public-key certificate named by alipay_cert_sn.
type Config struct {
	AppID      string
	PrivateKey string // the application's private key (PKCS#1 or PKCS#8)
	PublicKey  string // Alipay's public key (public-key mode)
	AppCert    string // appCertPublicKey_<appid>.crt (certificate mode)
	RootCert   string // alipayRootCert.crt (certificate mode)
	PublicCert string // alipayCertPublicKey_RSA2.crt (certificate mode)
	Gateway    string // full gateway URL
	// Timeout bounds one call (MINIMALL_PAYMENT_PLATFORM_TIMEOUT); a call
	// cut there is upstream_unavailable. 0 means 10 s.
	Timeout time.Duration
}

// CertMode reports whether the configuration is in certificate mode.
func (c Config) CertMode() bool { return c.AppCert != "" || c.RootCert != "" || c.PublicCert != "" }

// Client calls the Alipay gateway for one app.
type Client struct {
	appID    string
	certMode bool
	sdk      *sdk.Client
}

// LoadKeyFile reads a key file in either of the formats Alipay keys come in.
func LoadKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("alipay: read key: %w", err)
	}
	return normalizeKey(string(b)), nil
}

// normalizeKey keeps PEM as it is and strips the whitespace and line breaks
// that a copied bare base64 key often carries.
func normalizeKey(k string) string {
	k = strings.TrimSpace(k)
	if strings.HasPrefix(k, "-----") {
		return k + "\n"
	}
	return strings.Join(strings.Fields(k), "")
}

// New returns a client whose timestamps are Beijing time, as Alipay expects.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.AppID == "" || cfg.PrivateKey == "":
		return nil, errors.New("alipay: app id and application private key are required")
	case cfg.CertMode() && (cfg.AppCert == "" || cfg.RootCert == "" || cfg.PublicCert == ""):
		return nil, errors.New("alipay: certificate mode needs the app certificate, the root certificate and the Alipay certificate")
	case cfg.CertMode() && cfg.PublicKey != "":
		return nil, errors.New("alipay: set either the Alipay public key or the certificates, not both")
	case !cfg.CertMode() && cfg.PublicKey == "":
		return nil, errors.New("alipay: the Alipay public key (or the certificates) is required")
	}
	if cfg.Gateway == "" {
		cfg.Gateway = DefaultGateway
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = requestTimeout
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return nil, fmt.Errorf("alipay: load Asia/Shanghai (embed time/tzdata): %w", err)
	}
	c, err := sdk.New(cfg.AppID, normalizeKey(cfg.PrivateKey), true,
		sdk.WithProductionGateway(cfg.Gateway),
		sdk.WithTimeLocation(loc),
		sdk.WithHTTPClient(&http.Client{Timeout: timeout}),
	)
	if err != nil {
		return nil, fmt.Errorf("alipay: application private key: %w", err)
	}
	if cfg.CertMode() {
		if err := loadCerts(c, cfg); err != nil {
			return nil, err
		}
		return &Client{appID: cfg.AppID, certMode: true, sdk: c}, nil
	}
	if err := c.LoadAliPayPublicKey(normalizeKey(cfg.PublicKey)); err != nil {
		return nil, fmt.Errorf("alipay: Alipay public key: %w", err)
	}
	return &Client{appID: cfg.AppID, sdk: c}, nil
}

// AppID returns the app's app_id.
func (c *Client) AppID() string { return c.appID }

// SDK returns the underlying smartwalle client for the payment adapter.
func (c *Client) SDK() *sdk.Client { return c.sdk }

// Subject kinds: an app either receives the classic 2088... user_id or, since
// 2023, an app-scoped open_id.
const (
	KindUserID = "user_id"
	KindOpenID = "open_id"
)

// Account is the Alipay user behind a login code.
type Account struct {
	Subject string // user_id or open_id
	Kind    string // KindUserID or KindOpenID
	UnionID string
}

// OAuthToken exchanges a my.getAuthCode code for the user's id. Refusals come
// back as *apperr.Error: invalid_code, upstream_unavailable or upstream_error.
func (c *Client) OAuthToken(ctx context.Context, code string) (Account, error) {
	res, err := c.sdk.SystemOauthToken(ctx, sdk.SystemOauthToken{GrantType: "authorization_code", Code: code})
	if err != nil {
		var e *sdk.Error
		if errors.As(err, &e) {
			return Account{}, mapError(*e)
		}
		return Account{}, apperr.New(apperr.CodeUpstreamUnavailable, "Alipay could not be reached; try again").WithCause(err)
	}
	if res == nil {
		return Account{}, apperr.New(apperr.CodeUpstreamError, "Alipay answered nothing")
	}
	// SystemOauthTokenRsp.IsSuccess requires user_id, which open_id apps never
	// receive: judge by the code and the ids instead.
	if res.Code != "" && string(res.Code) != CodeSuccess {
		return Account{}, mapError(res.Error)
	}
	switch {
	case res.UserId != "":
		return Account{Subject: res.UserId, Kind: KindUserID, UnionID: res.UnionId}, nil
	case res.OpenId != "":
		return Account{Subject: res.OpenId, Kind: KindOpenID, UnionID: res.UnionId}, nil
	default:
		return Account{}, apperr.New(apperr.CodeUpstreamError, "Alipay answered without a user id")
	}
}

func mapError(e sdk.Error) *apperr.Error {
	cause := fmt.Errorf("alipay code=%s msg=%s sub_code=%s sub_msg=%s", e.Code, e.Msg, e.SubCode, e.SubMsg)
	switch {
	case e.SubCode == SubCodeInvalidCode || strings.HasPrefix(e.SubCode, "isv.code-") || e.SubCode == "isv.auth-code-expired":
		return apperr.New(apperr.CodeInvalidCode, "the login code is invalid or used; call my.getAuthCode again").WithCause(cause)
	case string(e.Code) == CodeServiceUnavailable || strings.HasPrefix(e.SubCode, "aop.") || strings.HasSuffix(e.SubCode, "SYSTEM_ERROR"):
		return apperr.New(apperr.CodeUpstreamUnavailable, "Alipay is busy; try again").WithCause(cause)
	default:
		return apperr.New(apperr.CodeUpstreamError, "Alipay refused the request").WithCause(cause)
	}
}

// LoadCertFiles reads the three certificate-mode files: the app's
// certificate, Alipay's root certificate and Alipay's public-key
// certificate, naming the configuration key of a file that cannot be read.
func LoadCertFiles(appCert, rootCert, publicCert string) (app, root, public string, err error) {
	read := func(env, path string) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", env, err)
		}
		return string(b), nil
	}
	if app, err = read("MINIMALL_ALIPAY_APP_CERT_FILE", appCert); err != nil {
		return "", "", "", err
	}
	if root, err = read("MINIMALL_ALIPAY_ROOT_CERT_FILE", rootCert); err != nil {
		return "", "", "", err
	}
	if public, err = read("MINIMALL_ALIPAY_PUBLIC_CERT_FILE", publicCert); err != nil {
		return "", "", "", err
	}
	return app, root, public, nil
}
