// Package sandbox simulates the platforms minimall talks to, speaking their
// real paths, formats and signatures, so that the whole shop runs on a laptop
// and in tests without touching real money or real accounts.
//
// New assembles one small simulator per platform, each a file group named
// after its platform, each making its own credentials and registering its
// own routes on the one mux:
//
//   - WeChat mini-program (wechat_*.go): login and access tokens
//     (wechat_login.go), message push (wechat_push.go), shipping-info
//     management (wechat_shipping.go), content security
//     (wechat_security.go);
//   - WeChat Pay (wechatpay_*.go): trades (wechatpay_trade.go), refunds
//     (wechatpay_refund.go);
//   - Alipay (alipay_*.go): the gateway and login (alipay_gateway.go),
//     trades (alipay_trade.go), refunds (alipay_refund.go);
//   - the courier tracking API, kuaidi100 (courier.go).
//
// Every push a simulator makes (payment and refund notifications, message
// pushes, courier pushes) goes through a Notifier (deliver.go): schedule,
// retries, a build function called for every attempt (so each is signed
// afresh), acknowledgements, and on-demand copies, held and altered
// deliveries for tests. What is shared lives beside New: keys (keys.go),
// generated when the server is made, or shared across the sandboxes of a
// test package through Options.Keys, and never written anywhere but the
// directory WriteFiles is given; hanging a platform's API (hang.go). Control
// routes live under /_sandbox/.
//
// Login codes (API.md): test-<name> logs in customer <name>, the same name
// always giving the same openid / Alipay user_id (WeChat also answers
// unionid u-<name>); bad-code, busy, risky and slow-down give the platforms'
// matching refusals.
package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sandbox login codes.
const (
	CodePrefixTest = "test-"
	CodeBad        = "bad-code"
	CodeBusy       = "busy"
	CodeRisky      = "risky"
	CodeSlowDown   = "slow-down"
)

// Options tune a Server.
type Options struct {
	// AlipayOpenID makes the simulated Alipay app an open_id app: logins
	// answer open_id instead of user_id, as apps created since 2023 do.
	AlipayOpenID bool
	// WeChatPayNotifySchedule replaces the platform's notification retry
	// schedule (DefaultWeChatPayNotifySchedule), so tests can compress it.
	WeChatPayNotifySchedule []time.Duration
	// AlipayNotifySchedule replaces Alipay's notification retry schedule
	// (DefaultAlipayNotifySchedule).
	AlipayNotifySchedule []time.Duration
	// AlipayCertMode runs the Alipay gateway in certificate mode: requests
	// must carry app_cert_sn and alipay_root_cert_sn, responses carry
	// alipay_cert_sn, and the settings hold the three certificates.
	AlipayCertMode bool
	// Keys are the RSA keys to use (NewKeys); nil generates a fresh set. A
	// test package shares one set across its sandboxes.
	Keys *Keys
	// WeChatMediaCheckDelay is how long after mediaCheckAsync an image's
	// verdict is pushed (DefaultMediaCheckDelay); negative: only when
	// DeliverMediaChecks or its control route says so.
	WeChatMediaCheckDelay time.Duration
}

// Settings are the credentials a minimall instance needs to talk to the
// sandbox. Keys are PEM.
type Settings struct {
	WeChatAppID  string
	WeChatSecret string

	AlipayAppID         string
	AlipayAppPrivateKey string // the application's private key (PKCS#8 PEM), handed to minimall
	AlipayAppPublicKey  string // verifies minimall's requests
	AlipayPublicKey     string // Alipay's public key (PKIX PEM), handed to minimall
	AlipaySellerID      string // the merchant's 2088... seller id in notifications
	// Certificate mode only (Options.AlipayCertMode): the app's certificate,
	// the root certificate and Alipay's public-key certificate (PEM).
	AlipayAppCert    string
	AlipayRootCert   string
	AlipayPublicCert string

	// Message push (token, EncodingAESKey) and the courier API
	// (wechat_shipping.go, courier.go).
	WeChatPushToken  string
	WeChatPushAESKey string
	CourierKey       string
	CourierCustomer  string
	CourierSalt      string

	WeChatPayMchID       string
	WeChatPaySerial      string // serial of the merchant API certificate
	WeChatPayAPIv3Key    string // 32 bytes; encrypts notifications
	WeChatPayPrivateKey  string // the merchant's apiclient_key.pem (PKCS#8 PEM), handed to minimall
	WeChatPayPublicKeyID string
	WeChatPayPublicKey   string // WeChat Pay's public key (PKIX PEM), handed to minimall
}

// Server is the simulated platforms. It is safe for concurrent use.
type Server struct {
	mux  *http.ServeMux
	opts Options

	settings  Settings
	alipayKey *rsa.PrivateKey // signs as Alipay
	appPub    *rsa.PublicKey  // verifies the application's requests

	mu            sync.Mutex
	wechatTokens  map[string]bool // access tokens issued by /cgi-bin/token
	alipayMethods map[string]alipayMethod
	hung          map[string]chan struct{} // platforms whose API calls hang, each closed to let them go (hang.go)

	// One simulator per platform and part.
	wechatPush       *wechatPush       // WeChat message push (wechat_push.go)
	wechatShipping   *wechatShipping   // WeChat shipping-info management (wechat_shipping.go)
	wechatSecurity   *wechatSecurity   // WeChat content security (wechat_security.go)
	wechatPayTrades  *wechatPayTrades  // WeChat Pay's merchant, trades and notifications (wechatpay_trade.go)
	wechatPayRefunds *wechatPayRefunds // WeChat Pay's refunds and their notifications (wechatpay_refund.go)
	alipayTrades     *alipayTrades     // Alipay's trades and notifications (alipay_trade.go)
	alipayRefunds    *alipayRefunds    // Alipay's refunds (alipay_refund.go)
	courier          *courierTracking  // the courier tracking API and its pushes (courier.go)
}

// New makes a sandbox with fresh credentials, and with opts.Keys or a
// freshly generated set of keys.
func New(opts Options) (*Server, error) {
	keys := opts.Keys
	if keys == nil {
		var err error
		if keys, err = NewKeys(); err != nil {
			return nil, err
		}
	}
	alipayKey, appKey := keys.alipay, keys.app
	appPriv, err := x509.MarshalPKCS8PrivateKey(appKey)
	if err != nil {
		return nil, err
	}
	appPub, err := x509.MarshalPKIXPublicKey(&appKey.PublicKey)
	if err != nil {
		return nil, err
	}
	aliPub, err := x509.MarshalPKIXPublicKey(&alipayKey.PublicKey)
	if err != nil {
		return nil, err
	}
	s := &Server{
		mux:       http.NewServeMux(),
		opts:      opts,
		alipayKey: alipayKey,
		appPub:    &appKey.PublicKey,
		settings: Settings{
			WeChatAppID:         "wx" + randomHex(8),
			WeChatSecret:        randomHex(16),
			AlipayAppID:         "2021" + digits(randomHex(8), 12),
			AlipayAppPrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: appPriv})),
			AlipayAppPublicKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: appPub})),
			AlipayPublicKey:     string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: aliPub})),
		},
		wechatTokens:  map[string]bool{},
		alipayMethods: map[string]alipayMethod{},
	}
	s.mux.HandleFunc("GET /_sandbox/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("POST /_sandbox/hang", s.controlHang())
	// WeChat mini-program.
	s.registerWeChatLogin()
	s.registerWeChatPush()
	s.registerWeChatShipping()
	s.registerWeChatSecurity()
	// WeChat Pay.
	if s.wechatPayTrades, err = newWeChatPayTrades(&s.settings, keys, opts.WeChatPayNotifySchedule); err != nil {
		return nil, err
	}
	s.registerWeChatPayTrades()
	s.registerWeChatPayRefunds()
	// Alipay.
	s.registerAlipayGateway()
	if s.alipayTrades, err = newAlipayTrades(&s.settings, keys, opts); err != nil {
		return nil, err
	}
	s.registerAlipayTrades()
	s.registerAlipayRefunds()
	// The courier.
	s.registerCourier()
	return s, nil
}

// StopDeliveries stops every notification delivery still retrying (WeChat
// Pay's, Alipay's, WeChat's message pushes) and waits for them to end.
// Deliveries asked for on demand still work afterwards.
func (s *Server) StopDeliveries() {
	for _, n := range []*Notifier{s.wechatPayTrades.notes, s.wechatPayRefunds.notes, s.alipayTrades.notes,
		s.wechatPush.notes, s.courier.notes} {
		n.Stop()
	}
}

// ServeHTTP serves the platforms' routes and the control routes.
// A platform made to hang (Hang) holds the call until the caller gives up.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.hold(r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Settings returns the credentials to configure minimall with.
func (s *Server) Settings() Settings { return s.settings }

// Endpoints are the base URLs of the simulated platforms on a sandbox
// reachable at base (scheme and host).
type Endpoints struct {
	WeChatAPIBase string
	AlipayGateway string
}

// EndpointsAt returns the platform URLs of a sandbox served at base.
func EndpointsAt(base string) Endpoints {
	base = strings.TrimRight(base, "/")
	return Endpoints{WeChatAPIBase: base, AlipayGateway: base + AlipayGatewayPath}
}

// File names written by WriteFiles.
const (
	FileAlipayAppPrivateKey = "alipay_app_private_key.pem"
	FileAlipayPublicKey     = "alipay_public_key.pem"
	FileEnv                 = "sandbox.env"
)

// WriteFiles writes the sandbox's keys and an environment file that points a
// minimall instance at a sandbox served at base, and returns the key paths.
// The private key is readable by the owner only.
func (s *Server) WriteFiles(dir, base string) (privateKeyFile, publicKeyFile string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	privateKeyFile = filepath.Join(dir, FileAlipayAppPrivateKey)
	publicKeyFile = filepath.Join(dir, FileAlipayPublicKey)
	if err := os.WriteFile(privateKeyFile, []byte(s.settings.AlipayAppPrivateKey), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(publicKeyFile, []byte(s.settings.AlipayPublicKey), 0o644); err != nil {
		return "", "", err
	}
	ep := EndpointsAt(base)
	absPriv, _ := filepath.Abs(privateKeyFile)
	absPub, _ := filepath.Abs(publicKeyFile)
	env := strings.Join([]string{
		"# minimall sandbox settings: `set -a; . " + filepath.Join(dir, FileEnv) + "; set +a` before `minimall serve`.",
		"MINIMALL_WECHAT_APPID=" + s.settings.WeChatAppID,
		"MINIMALL_WECHAT_SECRET=" + s.settings.WeChatSecret,
		"MINIMALL_WECHAT_API_BASE=" + ep.WeChatAPIBase,
		"MINIMALL_ALIPAY_APPID=" + s.settings.AlipayAppID,
		"MINIMALL_ALIPAY_PRIVATE_KEY_FILE=" + absPriv,
		"MINIMALL_ALIPAY_PUBLIC_KEY_FILE=" + absPub,
		"MINIMALL_ALIPAY_GATEWAY=" + ep.AlipayGateway,
		"MINIMALL_ALIPAY_SELLER_ID=" + s.settings.AlipaySellerID,
		"MINIMALL_WECHAT_PUSH_TOKEN=" + s.settings.WeChatPushToken,
		"MINIMALL_WECHAT_PUSH_AES_KEY=" + s.settings.WeChatPushAESKey,
		"MINIMALL_COURIER_API_BASE=" + strings.TrimRight(base, "/"),
		"MINIMALL_COURIER_KEY=" + s.settings.CourierKey,
		"MINIMALL_COURIER_CUSTOMER=" + s.settings.CourierCustomer,
		"MINIMALL_COURIER_SALT=" + s.settings.CourierSalt,
	}, "\n") + "\n"
	wxpay, err := s.WeChatPayFiles(dir, base)
	if err != nil {
		return "", "", err
	}
	for _, k := range slices.Sorted(maps.Keys(wxpay)) {
		env += k + "=" + wxpay[k] + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, FileEnv), []byte(env), 0o600); err != nil {
		return "", "", err
	}
	return privateKeyFile, publicKeyFile, nil
}

// nameOf returns the customer name of a test-<name> code.
func nameOf(code string) (string, bool) {
	name, ok := strings.CutPrefix(code, CodePrefixTest)
	return name, ok && name != ""
}

// derive returns a stable hex digest of parts, so the same test name always
// maps to the same platform id within one app.
func derive(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

// digits maps hex to n decimal digits.
func digits(h string, n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		c := h[i%len(h)]
		v := int(c-'0') % 10
		if c >= 'a' {
			v = int(c-'a'+10) % 10
		}
		b.WriteByte(byte('0' + v))
	}
	return b.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
