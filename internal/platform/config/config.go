// Package config loads minimall's configuration from an optional YAML file and
// MINIMALL_* environment variables into one typed, validated Config.
//
// Environment variables map to YAML keys through the explicit table in keys.go,
// never by splitting names on underscores, so a key such as
// MINIMALL_WECHATPAY_APIV3_KEY has exactly one YAML spelling.
package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	// The shop's time zone is loaded by name; the binary carries tzdata.
	_ "time/tzdata"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// DevJWTSecret is the development default; production refuses it.
const DevJWTSecret = "minimall-development-secret-do-not-use-in-production"

// Environments.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Database drivers.
const (
	DriverSQLite = "sqlite"
	DriverMySQL  = "mysql"
)

// Config is the whole configuration of one minimall process.
type Config struct {
	Env       string    `koanf:"env"`
	HTTP      HTTP      `koanf:"http"`
	DB        DB        `koanf:"db"`
	JWT       JWT       `koanf:"jwt"`
	Staff     Staff     `koanf:"staff"`
	Order     Order     `koanf:"order"`
	AfterSale AfterSale `koanf:"aftersale"`
	WeChat    WeChat    `koanf:"wechat"`
	WeChatPay WeChatPay `koanf:"wechatpay"`
	Alipay    Alipay    `koanf:"alipay"`
	Courier   Courier   `koanf:"courier"`
	Sandbox   Sandbox   `koanf:"sandbox"`
	Payment   Payment   `koanf:"payment"`
	Review    Review    `koanf:"review"`
	Upload    Upload    `koanf:"upload"`
	Media     Media     `koanf:"media"`
	Catalog   Catalog   `koanf:"catalog"`
	Cart      Cart      `koanf:"cart"`
	Shop      Shop      `koanf:"shop"`
	Dashboard Dashboard `koanf:"dashboard"`
	Redis     Redis     `koanf:"redis"`
	Debug     Debug     `koanf:"debug"`
	Metrics   Metrics   `koanf:"metrics"`
	Bootstrap Bootstrap `koanf:"bootstrap"`
}

// HTTP configures the listener and the HTTP platform.
type HTTP struct {
	Addr           string   `koanf:"addr"`
	PublicBaseURL  string   `koanf:"public_base_url"`
	TrustedProxies List     `koanf:"trusted_proxies"`
	MaxBody        ByteSize `koanf:"max_body"`
	CORSOrigins    List     `koanf:"cors_origins"`
	// APIDocs is "true", "false" or "" (the default: on in development and
	// demo mode, off in production); see APIDocsEnabled.
	APIDocs string `koanf:"api_docs"`
}

// APIDocsEnabled reports whether GET /docs serves the API reference: always
// when api_docs is true, never when false, and outside production otherwise.
func (c *Config) APIDocsEnabled() bool {
	switch c.HTTP.APIDocs {
	case "true":
		return true
	case "false":
		return false
	}
	return c.Env != EnvProduction
}

// DB selects and configures the system of record.
type DB struct {
	Driver string `koanf:"driver"`
	DSN    string `koanf:"dsn"`
	// Timeout bounds each unit of the server's database work (a statement
	// outside a transaction, or a whole transaction).
	Timeout time.Duration `koanf:"timeout"`
	// ReplicaDSNs are MySQL read replicas for the reads that may lag
	// (docs/scaling.md); ReplicaMaxLag is how far behind one may be and
	// still serve.
	ReplicaDSNs   List          `koanf:"replica_dsns"`
	ReplicaMaxLag time.Duration `koanf:"replica_max_lag"`
}

// JWT configures access tokens.
type JWT struct {
	Secret string `koanf:"secret"`
}

// Staff configures staff accounts.
type Staff struct {
	// TOTPKey seals the staff second-factor secrets at rest: 32 bytes in
	// standard base64 or hex. Empty: a key derived from the JWT secret.
	TOTPKey string `koanf:"totp_key"`
}

// TOTPKeyBytes decodes TOTPKey; nil when it is unset.
func (s Staff) TOTPKeyBytes() ([]byte, error) {
	k := strings.TrimSpace(s.TOTPKey)
	if k == "" {
		return nil, nil
	}
	if b, err := hex.DecodeString(k); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(k); err == nil && len(b) == 32 {
		return b, nil
	}
	return nil, errors.New("must be 32 bytes in standard base64 (44 characters) or hex (64 characters)")
}

// Order holds the order rules that merchants tune.
type Order struct {
	PayTimeout  time.Duration `koanf:"pay_timeout"`
	AutoConfirm time.Duration `koanf:"auto_confirm"`
	// AutoConfirmAfterDelivery completes a delivered order this long after
	// delivered_at, when that comes before AutoConfirm after shipping.
	AutoConfirmAfterDelivery time.Duration `koanf:"auto_confirm_after_delivery"`
	FreightFen               int64         `koanf:"freight_fen"`
	FreeFreightOverFen       int64         `koanf:"free_freight_over_fen"`
	MaxUnpaid                int           `koanf:"max_unpaid"`
	// CheckoutPerMinute and PayPerMinute limit each customer's checkouts and
	// pay requests (a pay request costs one to three platform calls).
	CheckoutPerMinute int `koanf:"checkout_per_minute"`
	PayPerMinute      int `koanf:"pay_per_minute"`
}

// AfterSale holds the after-sales deadlines.
type AfterSale struct {
	Window       time.Duration `koanf:"window"`
	AutoApprove  time.Duration `koanf:"auto_approve"`
	ReturnWindow time.Duration `koanf:"return_window"`
}

// WeChat configures the mini-program (login, access token).
type WeChat struct {
	AppID   string `koanf:"appid"`
	Secret  string `koanf:"secret"`
	APIBase string `koanf:"api_base"`
	// PushToken and PushAESKey are the message-push settings (token and
	// the EncodingAESKey of safe mode).
	PushToken  string `koanf:"push_token"`
	PushAESKey string `koanf:"push_aes_key"`
}

// Configured reports whether WeChat login is set up.
func (w WeChat) Configured() bool { return w.AppID != "" && w.Secret != "" }

// WeChatPay configures WeChat Pay API v3 in public-key mode.
type WeChatPay struct {
	MchID          string `koanf:"mchid"`
	Serial         string `koanf:"serial"`
	PrivateKeyFile string `koanf:"private_key_file"`
	APIv3Key       string `koanf:"apiv3_key"`
	PublicKeyID    string `koanf:"public_key_id"`
	PublicKeyFile  string `koanf:"public_key_file"`
	APIBase        string `koanf:"api_base"`
}

// Configured reports whether any WeChat Pay key is set; Validate then
// requires all of them.
func (w WeChatPay) Configured() bool {
	return w.MchID != "" || w.Serial != "" || w.PrivateKeyFile != "" || w.APIv3Key != "" ||
		w.PublicKeyID != "" || w.PublicKeyFile != ""
}

// Alipay configures the Alipay open platform, in public-key mode (Alipay's
// public key) or in certificate mode (the three certificate files).
type Alipay struct {
	AppID          string `koanf:"appid"`
	PrivateKeyFile string `koanf:"private_key_file"`
	PublicKeyFile  string `koanf:"public_key_file"`
	AppCertFile    string `koanf:"app_cert_file"`
	RootCertFile   string `koanf:"root_cert_file"`
	PublicCertFile string `koanf:"public_cert_file"`
	Gateway        string `koanf:"gateway"`
	SellerID       string `koanf:"seller_id"`
}

// Configured reports whether any Alipay key is set; Validate then requires
// all of them.
func (a Alipay) Configured() bool {
	return a.AppID != "" || a.PrivateKeyFile != "" || a.PublicKeyFile != "" || a.CertMode()
}

// CertMode reports whether any certificate file is set: certificate mode,
// which needs all three and replaces the public key file.
func (a Alipay) CertMode() bool {
	return a.AppCertFile != "" || a.RootCertFile != "" || a.PublicCertFile != ""
}

// Courier configures the parcel tracking API (kuaidi100).
type Courier struct {
	APIBase  string `koanf:"api_base"`
	Key      string `koanf:"key"`
	Customer string `koanf:"customer"`
	Salt     string `koanf:"salt"`
}

// Configured reports whether any courier credential is set; Validate then
// requires all three.
func (c Courier) Configured() bool { return c.Key != "" || c.Customer != "" || c.Salt != "" }

// Sandbox configures the local platform simulator of demo mode.
type Sandbox struct {
	Addr string `koanf:"addr"`
}

// Payment holds payment rules.
type Payment struct {
	ReconcileAfter time.Duration `koanf:"reconcile_after"`
	// PlatformTimeout bounds one call to WeChat Pay or Alipay.
	PlatformTimeout time.Duration `koanf:"platform_timeout"`
}

// Review holds the review rules.
type Review struct {
	Window            time.Duration `koanf:"window"`
	AutoPublishAlipay bool          `koanf:"auto_publish_alipay"`
}

// Upload bounds image uploads.
type Upload struct {
	MaxBytes   ByteSize `koanf:"max_bytes"`
	DailyLimit int      `koanf:"daily_limit"`
}

// Media says where uploaded images are kept and served from.
type Media struct {
	Dir             string `koanf:"dir"`
	PublicBaseURL   string `koanf:"public_base_url"`
	S3Endpoint      string `koanf:"s3_endpoint"`
	S3Bucket        string `koanf:"s3_bucket"`
	S3Region        string `koanf:"s3_region"`
	S3AccessKey     string `koanf:"s3_access_key"`
	S3SecretKeyFile string `koanf:"s3_secret_key_file"`
	S3PathStyle     bool   `koanf:"s3_path_style"`
	AllowedHosts    List   `koanf:"allowed_hosts"`
}

// S3 reports whether images go to an object store.
func (m Media) S3() bool { return m.S3Endpoint != "" }

// Catalog tunes the read cache of the public product pages
// (docs/performance.md).
type Catalog struct {
	// CacheTTL is the safety TTL of a page that hears of no change.
	CacheTTL time.Duration `koanf:"cache_ttl"`
	// StockLag bounds how late stock and sales show on a product page; it
	// is also every page's life while changes may have been missed.
	StockLag time.Duration `koanf:"stock_lag"`
	// ListTTL is the refresh schedule of list pages.
	ListTTL time.Duration `koanf:"list_ttl"`
	// CacheMaxBytes is the byte budget of the cached pages.
	CacheMaxBytes ByteSize `koanf:"cache_max_bytes"`
}

// Cart sizes the cache of customers' carts (docs/performance.md); carts
// live in it for at most Catalog.StockLag.
type Cart struct {
	// CacheEntries bounds how many customers' carts are cached; 0 turns
	// the cache off.
	CacheEntries int `koanf:"cache_entries"`
}

// Shop holds shop-wide settings.
type Shop struct {
	// TimeZone is the IANA name of the shop's calendar: the dashboard's
	// days and the date filters of the audit log (Asia/Shanghai).
	TimeZone string `koanf:"time_zone"`
}

// Location loads TimeZone; Validate has checked it (the binary embeds
// tzdata).
func (s Shop) Location() (*time.Location, error) {
	return time.LoadLocation(s.TimeZone)
}

// Dashboard tunes the staff dashboard.
type Dashboard struct {
	// LowStock is the stock at or under which a live SKU is listed as low.
	LowStock int64 `koanf:"low_stock"`
}

// Redis optionally shares state between instances: rate limits, the WeChat
// access token and read-cache invalidation (docs/scaling.md).
type Redis struct {
	Addr string `koanf:"addr"`
	// Prefix starts every key and channel.
	Prefix string `koanf:"prefix"`
}

// Debug configures the opt-in profiling listener. It is never part of the
// public router and may only listen on a loopback address.
type Debug struct {
	Addr string `koanf:"addr"`
}

// Metrics places the Prometheus endpoint: on its own listener when Addr is
// set; otherwise on the public router, which production refuses unless
// Public is set.
type Metrics struct {
	Addr   string `koanf:"addr"`
	Public bool   `koanf:"public"`
}

// Bootstrap creates the first staff owner on an empty database.
type Bootstrap struct {
	Owner             string `koanf:"owner"`
	OwnerPasswordFile string `koanf:"owner_password_file"`
}

// List is a list of strings that also reads from one comma-separated string.
type List []string

// UnmarshalText splits a comma-separated string, dropping blanks.
func (l *List) UnmarshalText(b []byte) error {
	*l = nil
	for _, s := range strings.Split(string(b), ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// ByteSize is a size in bytes that reads "1MiB", "512KiB", "1000" and so on.
type ByteSize int64

// UnmarshalText parses a size with an optional B, KiB, MiB or GiB suffix.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("invalid size %q (want e.g. 1MiB, 512KiB or a byte count)", string(text))
	}
	*b = ByteSize(n * mult)
	return nil
}

// Load reads defaults, then the YAML file at path (if path is not empty), then
// every MINIMALL_* variable of the key table through getenv, and validates.
func Load(path string, getenv func(string) string) (*Config, error) {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(defaults(), "."), nil); err != nil {
		return nil, fmt.Errorf("config defaults: %w", err)
	}
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
		for _, key := range k.Keys() {
			if _, ok := keyByPath[key]; !ok && k.Get(key) != nil {
				return nil, fmt.Errorf("config file %s: unknown key %q", path, key)
			}
		}
	}
	env := map[string]any{}
	for _, key := range Keys {
		if v := getenv(key.Env); v != "" {
			env[key.Path] = v
		}
	}
	if err := k.Load(confmap.Provider(env, "."), nil); err != nil {
		return nil, fmt.Errorf("config environment: %w", err)
	}
	var cfg Config
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if cfg.HTTP.PublicBaseURL == "" {
		cfg.HTTP.PublicBaseURL = "http://" + cfg.HTTP.Addr
	}
	cfg.HTTP.PublicBaseURL = strings.TrimRight(cfg.HTTP.PublicBaseURL, "/")
	if cfg.Media.PublicBaseURL == "" && !cfg.Media.S3() {
		cfg.Media.PublicBaseURL = cfg.HTTP.PublicBaseURL + "/media"
	}
	cfg.Media.PublicBaseURL = strings.TrimRight(cfg.Media.PublicBaseURL, "/")
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Validate checks every key and names the offending ones. Production mode adds
// the rules that keep development shortcuts away from real money.
func (c *Config) Validate() error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", env, fmt.Sprintf(format, args...)))
	}
	switch c.Env {
	case EnvDevelopment, EnvProduction:
	default:
		bad("MINIMALL_ENV", "must be development or production, got %q", c.Env)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		bad("MINIMALL_HTTP_ADDR", "must be host:port: %v", err)
	}
	if !isHTTPURL(c.HTTP.PublicBaseURL) {
		bad("MINIMALL_PUBLIC_BASE_URL", "must be an http(s) URL, got %q", c.HTTP.PublicBaseURL)
	}
	for _, p := range c.HTTP.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				bad("MINIMALL_TRUSTED_PROXIES", "%q is neither an IP nor a CIDR", p)
			}
		}
	}
	if c.Debug.Addr != "" && !isLoopbackAddr(c.Debug.Addr) {
		bad("MINIMALL_DEBUG_ADDR", "must be a loopback host:port such as 127.0.0.1:6060, got %q", c.Debug.Addr)
	}
	if c.Metrics.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Addr); err != nil {
			bad("MINIMALL_METRICS_ADDR", "must be host:port: %v", err)
		} else if c.Metrics.Addr == c.HTTP.Addr {
			bad("MINIMALL_METRICS_ADDR", "must differ from MINIMALL_HTTP_ADDR")
		}
	}
	switch c.HTTP.APIDocs {
	case "", "true", "false":
	default:
		bad("MINIMALL_API_DOCS", "must be true or false, got %q", c.HTTP.APIDocs)
	}
	if c.HTTP.MaxBody < 1024 {
		bad("MINIMALL_HTTP_MAX_BODY", "must be at least 1KiB")
	}
	for _, o := range c.HTTP.CORSOrigins {
		if !isHTTPURL(o) {
			bad("MINIMALL_CORS_ORIGINS", "%q is not an origin like https://admin.example.com", o)
		}
	}
	switch c.DB.Driver {
	case DriverSQLite:
		if c.DB.DSN == "" {
			bad("MINIMALL_DB_DSN", "must name the SQLite file")
		}
	case DriverMySQL:
		if c.DB.DSN == "" {
			bad("MINIMALL_DB_DSN", "must be a MySQL DSN such as user:pass@tcp(host:3306)/minimall")
		}
	default:
		bad("MINIMALL_DB_DRIVER", "must be sqlite or mysql, got %q", c.DB.Driver)
	}
	if c.DB.Timeout < 100*time.Millisecond || c.DB.Timeout > 5*time.Minute {
		bad("MINIMALL_DB_TIMEOUT", "must be between 100ms and 5m")
	}
	if len(c.DB.ReplicaDSNs) > 0 && c.DB.Driver != DriverMySQL {
		bad("MINIMALL_DB_REPLICA_DSNS", "read replicas need MINIMALL_DB_DRIVER=mysql")
	}
	if c.DB.ReplicaMaxLag < time.Second || c.DB.ReplicaMaxLag > time.Hour {
		bad("MINIMALL_DB_REPLICA_MAX_LAG", "must be between 1s and 1h (the servers report whole seconds)")
	}
	if len(c.JWT.Secret) < 32 {
		bad("MINIMALL_JWT_SECRET", "must be at least 32 bytes")
	}
	if _, err := c.Staff.TOTPKeyBytes(); err != nil {
		bad("MINIMALL_STAFF_TOTP_KEY", "%v", err)
	}
	if c.Order.PayTimeout < time.Minute || c.Order.PayTimeout > 24*time.Hour {
		bad("MINIMALL_ORDER_PAY_TIMEOUT", "must be between 1m and 24h")
	}
	if c.Order.AutoConfirm < time.Hour {
		bad("MINIMALL_ORDER_AUTO_CONFIRM", "must be at least 1h")
	}
	for _, d := range []struct {
		env string
		val time.Duration
	}{
		{"MINIMALL_AFTERSALE_WINDOW", c.AfterSale.Window},
		{"MINIMALL_AFTERSALE_AUTO_APPROVE", c.AfterSale.AutoApprove},
		{"MINIMALL_AFTERSALE_RETURN_WINDOW", c.AfterSale.ReturnWindow},
	} {
		if d.val < time.Hour {
			bad(d.env, "must be at least 1h")
		}
	}
	if c.Order.MaxUnpaid < 1 || c.Order.MaxUnpaid > 1000 {
		bad("MINIMALL_ORDER_MAX_UNPAID", "must be between 1 and 1000")
	}
	if c.Order.CheckoutPerMinute < 1 {
		bad("MINIMALL_ORDER_CHECKOUT_PER_MINUTE", "must be at least 1")
	}
	if c.Order.PayPerMinute < 1 {
		bad("MINIMALL_ORDER_PAY_PER_MINUTE", "must be at least 1")
	}
	if c.Order.AutoConfirmAfterDelivery < time.Hour {
		bad("MINIMALL_ORDER_AUTO_CONFIRM_AFTER_DELIVERY", "must be at least 1h")
	}
	if c.WeChat.PushAESKey != "" && len(c.WeChat.PushAESKey) != 43 {
		bad("MINIMALL_WECHAT_PUSH_AES_KEY", "must be the 43-character EncodingAESKey")
	}
	if c.WeChat.PushAESKey != "" && c.WeChat.PushToken == "" {
		bad("MINIMALL_WECHAT_PUSH_TOKEN", "is required with MINIMALL_WECHAT_PUSH_AES_KEY")
	}
	if c.Order.FreightFen < 0 {
		bad("MINIMALL_FREIGHT_FEN", "must not be negative")
	}
	if c.Order.FreeFreightOverFen < 0 {
		bad("MINIMALL_FREE_FREIGHT_OVER_FEN", "must not be negative")
	}
	for _, u := range []struct{ env, val string }{
		{"MINIMALL_WECHAT_API_BASE", c.WeChat.APIBase},
		{"MINIMALL_WECHATPAY_API_BASE", c.WeChatPay.APIBase},
		{"MINIMALL_ALIPAY_GATEWAY", c.Alipay.Gateway},
		{"MINIMALL_COURIER_API_BASE", c.Courier.APIBase},
	} {
		if !isHTTPURL(u.val) {
			bad(u.env, "must be an http(s) URL, got %q", u.val)
		}
	}
	if c.WeChatPay.Configured() {
		for _, f := range []struct{ env, val string }{
			{"MINIMALL_WECHATPAY_MCHID", c.WeChatPay.MchID},
			{"MINIMALL_WECHATPAY_SERIAL", c.WeChatPay.Serial},
			{"MINIMALL_WECHATPAY_PRIVATE_KEY_FILE", c.WeChatPay.PrivateKeyFile},
			{"MINIMALL_WECHATPAY_PUBLIC_KEY_ID", c.WeChatPay.PublicKeyID},
			{"MINIMALL_WECHATPAY_PUBLIC_KEY_FILE", c.WeChatPay.PublicKeyFile},
		} {
			if f.val == "" {
				bad(f.env, "is required once WeChat Pay is configured")
			}
		}
		if len(c.WeChatPay.APIv3Key) != 32 {
			bad("MINIMALL_WECHATPAY_APIV3_KEY", "must be the 32-byte APIv3 key")
		}
	}
	if c.Alipay.Configured() {
		for _, f := range []struct{ env, val string }{
			{"MINIMALL_ALIPAY_APPID", c.Alipay.AppID},
			{"MINIMALL_ALIPAY_PRIVATE_KEY_FILE", c.Alipay.PrivateKeyFile},
		} {
			if f.val == "" {
				bad(f.env, "is required once Alipay is configured")
			}
		}
		switch {
		case c.Alipay.CertMode() && c.Alipay.PublicKeyFile != "":
			bad("MINIMALL_ALIPAY_PUBLIC_KEY_FILE", "must be empty in certificate mode (MINIMALL_ALIPAY_*_CERT_FILE set)")
		case c.Alipay.CertMode():
			for _, f := range []struct{ env, val string }{
				{"MINIMALL_ALIPAY_APP_CERT_FILE", c.Alipay.AppCertFile},
				{"MINIMALL_ALIPAY_ROOT_CERT_FILE", c.Alipay.RootCertFile},
				{"MINIMALL_ALIPAY_PUBLIC_CERT_FILE", c.Alipay.PublicCertFile},
			} {
				if f.val == "" {
					bad(f.env, "is required in certificate mode: set all three certificate files")
				}
			}
		case c.Alipay.PublicKeyFile == "":
			bad("MINIMALL_ALIPAY_PUBLIC_KEY_FILE", "is required once Alipay is configured (or the three certificate files)")
		}
	}
	if c.Courier.Configured() {
		for _, f := range []struct{ env, val string }{
			{"MINIMALL_COURIER_KEY", c.Courier.Key},
			{"MINIMALL_COURIER_CUSTOMER", c.Courier.Customer},
			{"MINIMALL_COURIER_SALT", c.Courier.Salt},
		} {
			if f.val == "" {
				bad(f.env, "is required once the courier API is configured")
			}
		}
	}
	if _, _, err := net.SplitHostPort(c.Sandbox.Addr); err != nil {
		bad("MINIMALL_SANDBOX_ADDR", "must be host:port: %v", err)
	}
	if c.Review.Window < time.Hour {
		bad("MINIMALL_REVIEW_WINDOW", "must be at least 1h")
	}
	if c.Upload.MaxBytes < 1024 || c.Upload.MaxBytes > 64<<20 {
		bad("MINIMALL_UPLOAD_MAX_BYTES", "must be between 1KiB and 64MiB")
	}
	if c.Upload.DailyLimit < 1 {
		bad("MINIMALL_UPLOAD_DAILY_LIMIT", "must be at least 1")
	}
	if !isHTTPURL(c.Media.PublicBaseURL) {
		bad("MINIMALL_MEDIA_PUBLIC_BASE_URL", "must be an http(s) URL (required with an S3 endpoint), got %q", c.Media.PublicBaseURL)
	}
	if c.Media.S3() {
		if !isHTTPURL(c.Media.S3Endpoint) {
			bad("MINIMALL_MEDIA_S3_ENDPOINT", "must be an http(s) URL, got %q", c.Media.S3Endpoint)
		}
		for _, f := range []struct{ env, val string }{
			{"MINIMALL_MEDIA_S3_BUCKET", c.Media.S3Bucket},
			{"MINIMALL_MEDIA_S3_ACCESS_KEY", c.Media.S3AccessKey},
			{"MINIMALL_MEDIA_S3_SECRET_KEY_FILE", c.Media.S3SecretKeyFile},
		} {
			if f.val == "" {
				bad(f.env, "is required with MINIMALL_MEDIA_S3_ENDPOINT")
			}
		}
	} else if c.Media.Dir == "" {
		bad("MINIMALL_MEDIA_DIR", "must name a directory (or set MINIMALL_MEDIA_S3_ENDPOINT)")
	}
	if c.Catalog.CacheTTL < time.Second || c.Catalog.CacheTTL > 24*time.Hour {
		bad("MINIMALL_CATALOG_CACHE_TTL", "must be between 1s and 24h")
	}
	if c.Catalog.StockLag < 100*time.Millisecond || c.Catalog.StockLag > c.Catalog.CacheTTL {
		bad("MINIMALL_CATALOG_STOCK_LAG", "must be between 100ms and MINIMALL_CATALOG_CACHE_TTL")
	}
	if c.Catalog.ListTTL < time.Second || c.Catalog.ListTTL > c.Catalog.CacheTTL {
		bad("MINIMALL_CATALOG_LIST_TTL", "must be between 1s and MINIMALL_CATALOG_CACHE_TTL")
	}
	if c.Cart.CacheEntries < 0 || c.Cart.CacheEntries > 10_000_000 {
		bad("MINIMALL_CART_CACHE_ENTRIES", "must be between 0 (no cache) and 10000000")
	}
	if c.Shop.TimeZone == "" {
		bad("MINIMALL_SHOP_TIME_ZONE", "must name a time zone such as Asia/Shanghai")
	} else if _, err := time.LoadLocation(c.Shop.TimeZone); err != nil {
		bad("MINIMALL_SHOP_TIME_ZONE", "unknown time zone %q", c.Shop.TimeZone)
	}
	if c.Dashboard.LowStock < 0 || c.Dashboard.LowStock > 1_000_000 {
		bad("MINIMALL_DASHBOARD_LOW_STOCK", "must be between 0 and 1000000")
	}
	if c.Catalog.CacheMaxBytes < 1<<20 {
		bad("MINIMALL_CATALOG_CACHE_MAX_BYTES", "must be at least 1MiB")
	}
	if c.Redis.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Redis.Addr); err != nil {
			bad("MINIMALL_REDIS_ADDR", "must be host:port")
		}
		if c.Redis.Prefix == "" || strings.ContainsAny(c.Redis.Prefix, " \t\r\n*?[]") {
			bad("MINIMALL_REDIS_PREFIX", "must be non-empty, without spaces or glob characters")
		}
	}
	if c.Payment.ReconcileAfter < time.Second {
		bad("MINIMALL_PAYMENT_RECONCILE_AFTER", "must be at least 1s")
	}
	if c.Payment.PlatformTimeout < 10*time.Millisecond || c.Payment.PlatformTimeout > time.Minute {
		bad("MINIMALL_PAYMENT_PLATFORM_TIMEOUT", "must be between 10ms and 1m")
	}
	if (c.Bootstrap.Owner == "") != (c.Bootstrap.OwnerPasswordFile == "") {
		bad("MINIMALL_BOOTSTRAP_OWNER", "and MINIMALL_BOOTSTRAP_OWNER_PASSWORD_FILE must be set together")
	}
	if c.Env == EnvProduction {
		errs = append(errs, c.productionErrors()...)
	}
	return errors.Join(errs...)
}

// productionErrors refuses development shortcuts when real money moves.
func (c *Config) productionErrors() []error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s (production)", env, fmt.Sprintf(format, args...)))
	}
	if c.JWT.Secret == DevJWTSecret {
		bad("MINIMALL_JWT_SECRET", "the development default is refused")
	}
	for _, u := range []struct{ env, val string }{
		{"MINIMALL_WECHAT_API_BASE", c.WeChat.APIBase},
		{"MINIMALL_WECHATPAY_API_BASE", c.WeChatPay.APIBase},
		{"MINIMALL_ALIPAY_GATEWAY", c.Alipay.Gateway},
		{"MINIMALL_COURIER_API_BASE", c.Courier.APIBase},
	} {
		if isLocalURL(u.val) {
			bad(u.env, "points at a local sandbox (%s)", u.val)
		}
	}
	for _, f := range []struct{ env, val string }{
		{"MINIMALL_WECHATPAY_PRIVATE_KEY_FILE", c.WeChatPay.PrivateKeyFile},
		{"MINIMALL_WECHATPAY_PUBLIC_KEY_FILE", c.WeChatPay.PublicKeyFile},
		{"MINIMALL_ALIPAY_PRIVATE_KEY_FILE", c.Alipay.PrivateKeyFile},
		{"MINIMALL_ALIPAY_PUBLIC_KEY_FILE", c.Alipay.PublicKeyFile},
		{"MINIMALL_ALIPAY_APP_CERT_FILE", c.Alipay.AppCertFile},
		{"MINIMALL_ALIPAY_ROOT_CERT_FILE", c.Alipay.RootCertFile},
		{"MINIMALL_ALIPAY_PUBLIC_CERT_FILE", c.Alipay.PublicCertFile},
	} {
		if strings.Contains(f.val, "sandbox") {
			bad(f.env, "is a sandbox key (%s)", f.val)
		}
	}
	if !c.WeChatPay.Configured() && !c.Alipay.Configured() {
		bad("MINIMALL_WECHATPAY_MCHID", "no payment channel is configured: set the WeChat Pay or Alipay keys")
	}
	if !c.WeChat.Configured() && c.Alipay.AppID == "" {
		bad("MINIMALL_WECHAT_APPID", "no login channel is configured")
	}
	if c.DB.Driver == DriverSQLite {
		bad("MINIMALL_DB_DRIVER", "production runs on MySQL")
	}
	return errs
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func isLocalURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// isLoopbackAddr reports whether addr is host:port on a loopback address.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
