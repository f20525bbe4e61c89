package config_test

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/platform/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	cfg, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:8080" || cfg.HTTP.PublicBaseURL != "http://127.0.0.1:8080" {
		t.Errorf("http = %+v", cfg.HTTP)
	}
	if cfg.HTTP.MaxBody != 1<<20 || cfg.Order.PayTimeout != 30*time.Minute || cfg.Order.AutoConfirm != 240*time.Hour {
		t.Errorf("defaults = %+v %+v", cfg.HTTP, cfg.Order)
	}
	if cfg.DB.Driver != "sqlite" || cfg.Payment.ReconcileAfter != time.Minute {
		t.Errorf("db/payment = %+v %+v", cfg.DB, cfg.Payment)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "http:\n  addr: \"0.0.0.0:9000\"\n  cors_origins: [\"https://a.example.com\"]\norder:\n  freight_fen: 500\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, env(map[string]string{
		"MINIMALL_FREIGHT_FEN":           "800",
		"MINIMALL_TRUSTED_PROXIES":       "10.0.0.0/8, 192.168.1.1",
		"MINIMALL_HTTP_MAX_BODY":         "512KiB",
		"MINIMALL_PUBLIC_BASE_URL":       "https://shop.example.com/",
		"MINIMALL_WECHATPAY_APIV3_KEY":   "",
		"MINIMALL_ORDER_PAY_TIMEOUT":     "15m",
		"MINIMALL_ORDER_AUTO_CONFIRM":    "168h",
		"MINIMALL_FREE_FREIGHT_OVER_FEN": "0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "0.0.0.0:9000" || cfg.Order.FreightFen != 800 || cfg.Order.PayTimeout != 15*time.Minute {
		t.Errorf("merged = %+v %+v", cfg.HTTP, cfg.Order)
	}
	if len(cfg.HTTP.TrustedProxies) != 2 || cfg.HTTP.TrustedProxies[1] != "192.168.1.1" {
		t.Errorf("trusted proxies = %v", cfg.HTTP.TrustedProxies)
	}
	if len(cfg.HTTP.CORSOrigins) != 1 || cfg.HTTP.MaxBody != 512<<10 {
		t.Errorf("cors/max body = %v %d", cfg.HTTP.CORSOrigins, cfg.HTTP.MaxBody)
	}
	if cfg.HTTP.PublicBaseURL != "https://shop.example.com" {
		t.Errorf("public base url = %q", cfg.HTTP.PublicBaseURL)
	}
}

func TestValidationNamesTheKey(t *testing.T) {
	secret := strings.Repeat("k", 40)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"bad env", map[string]string{"MINIMALL_ENV": "staging"}, []string{"MINIMALL_ENV"}},
		{"bad addr", map[string]string{"MINIMALL_HTTP_ADDR": "8080"}, []string{"MINIMALL_HTTP_ADDR"}},
		{"bad driver", map[string]string{"MINIMALL_DB_DRIVER": "postgres"}, []string{"MINIMALL_DB_DRIVER"}},
		{"short secret", map[string]string{"MINIMALL_JWT_SECRET": "short"}, []string{"MINIMALL_JWT_SECRET"}},
		{"short totp key", map[string]string{"MINIMALL_STAFF_TOTP_KEY": "c2hvcnQ="}, []string{"MINIMALL_STAFF_TOTP_KEY"}},
		{"totp key not base64", map[string]string{"MINIMALL_STAFF_TOTP_KEY": strings.Repeat("z", 64)}, []string{"MINIMALL_STAFF_TOTP_KEY"}},
		{"bad duration", map[string]string{"MINIMALL_ORDER_PAY_TIMEOUT": "soon"}, []string{"pay_timeout"}},
		{"timeout range", map[string]string{"MINIMALL_ORDER_PAY_TIMEOUT": "10s"}, []string{"MINIMALL_ORDER_PAY_TIMEOUT"}},
		{"negative freight", map[string]string{"MINIMALL_FREIGHT_FEN": "-1"}, []string{"MINIMALL_FREIGHT_FEN"}},
		{"bad size", map[string]string{"MINIMALL_HTTP_MAX_BODY": "lots"}, []string{"max_body"}},
		{"bad proxy", map[string]string{"MINIMALL_TRUSTED_PROXIES": "not-an-ip"}, []string{"MINIMALL_TRUSTED_PROXIES"}},
		{"bad cors", map[string]string{"MINIMALL_CORS_ORIGINS": "admin.example.com"}, []string{"MINIMALL_CORS_ORIGINS"}},
		{"public profiler", map[string]string{"MINIMALL_DEBUG_ADDR": "0.0.0.0:6060"}, []string{"MINIMALL_DEBUG_ADDR"}},
		{"profiler without port", map[string]string{"MINIMALL_DEBUG_ADDR": "127.0.0.1"}, []string{"MINIMALL_DEBUG_ADDR"}},
		{"bad base url", map[string]string{"MINIMALL_WECHAT_API_BASE": "api.weixin.qq.com"}, []string{"MINIMALL_WECHAT_API_BASE"}},
		{"half wechatpay", map[string]string{"MINIMALL_WECHATPAY_MCHID": "1900000001"}, []string{
			"MINIMALL_WECHATPAY_SERIAL", "MINIMALL_WECHATPAY_PRIVATE_KEY_FILE", "MINIMALL_WECHATPAY_APIV3_KEY",
			"MINIMALL_WECHATPAY_PUBLIC_KEY_ID", "MINIMALL_WECHATPAY_PUBLIC_KEY_FILE"}},
		{"half alipay", map[string]string{"MINIMALL_ALIPAY_APPID": "2021000000000000"}, []string{
			"MINIMALL_ALIPAY_PRIVATE_KEY_FILE", "MINIMALL_ALIPAY_PUBLIC_KEY_FILE"}},
		{"half alipay certificates", map[string]string{
			"MINIMALL_ALIPAY_APPID": "2021000000000000", "MINIMALL_ALIPAY_PRIVATE_KEY_FILE": "/k", "MINIMALL_ALIPAY_APP_CERT_FILE": "/a.crt",
		}, []string{"MINIMALL_ALIPAY_ROOT_CERT_FILE", "MINIMALL_ALIPAY_PUBLIC_CERT_FILE"}},
		{"alipay certificates and a public key", map[string]string{
			"MINIMALL_ALIPAY_APPID": "2021000000000000", "MINIMALL_ALIPAY_PRIVATE_KEY_FILE": "/k", "MINIMALL_ALIPAY_PUBLIC_KEY_FILE": "/p",
			"MINIMALL_ALIPAY_APP_CERT_FILE": "/a.crt", "MINIMALL_ALIPAY_ROOT_CERT_FILE": "/r.crt", "MINIMALL_ALIPAY_PUBLIC_CERT_FILE": "/c.crt",
		}, []string{"MINIMALL_ALIPAY_PUBLIC_KEY_FILE"}},
		{"negative cart cache", map[string]string{"MINIMALL_CART_CACHE_ENTRIES": "-1"}, []string{"MINIMALL_CART_CACHE_ENTRIES"}},
		{"half bootstrap", map[string]string{"MINIMALL_BOOTSTRAP_OWNER": "boss"}, []string{"MINIMALL_BOOTSTRAP_OWNER"}},
		{"production defaults", map[string]string{"MINIMALL_ENV": "production"}, []string{
			"MINIMALL_JWT_SECRET", "MINIMALL_DB_DRIVER", "MINIMALL_WECHATPAY_MCHID", "MINIMALL_WECHAT_APPID"}},
		{"production sandbox urls", map[string]string{
			"MINIMALL_ENV": "production", "MINIMALL_JWT_SECRET": secret,
			"MINIMALL_WECHAT_API_BASE": "http://127.0.0.1:8090", "MINIMALL_ALIPAY_GATEWAY": "http://localhost:8090/gateway.do",
		}, []string{"MINIMALL_WECHAT_API_BASE", "MINIMALL_ALIPAY_GATEWAY"}},
		{"production sandbox keys", map[string]string{
			"MINIMALL_ENV": "production", "MINIMALL_JWT_SECRET": secret,
			"MINIMALL_ALIPAY_APPID": "2021", "MINIMALL_ALIPAY_PRIVATE_KEY_FILE": "data/sandbox/alipay_app_private.pem",
			"MINIMALL_ALIPAY_PUBLIC_KEY_FILE": "/etc/minimall/alipay_public.pem",
		}, []string{"MINIMALL_ALIPAY_PRIVATE_KEY_FILE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load("", env(tc.env))
			if err == nil {
				t.Fatal("Load accepted an invalid configuration")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func TestProductionAcceptsACompleteConfiguration(t *testing.T) {
	_, err := config.Load("", env(map[string]string{
		"MINIMALL_ENV":                        "production",
		"MINIMALL_JWT_SECRET":                 strings.Repeat("p", 48),
		"MINIMALL_DB_DRIVER":                  "mysql",
		"MINIMALL_DB_DSN":                     "shop:pw@tcp(db:3306)/minimall",
		"MINIMALL_PUBLIC_BASE_URL":            "https://shop.example.com",
		"MINIMALL_WECHAT_APPID":               "wx0123456789abcdef",
		"MINIMALL_WECHAT_SECRET":              "s",
		"MINIMALL_WECHATPAY_MCHID":            "1900000001",
		"MINIMALL_WECHATPAY_SERIAL":           "ABC",
		"MINIMALL_WECHATPAY_PRIVATE_KEY_FILE": "/etc/minimall/apiclient_key.pem",
		"MINIMALL_WECHATPAY_APIV3_KEY":        strings.Repeat("v", 32),
		"MINIMALL_WECHATPAY_PUBLIC_KEY_ID":    "PUB_KEY_ID_0001",
		"MINIMALL_WECHATPAY_PUBLIC_KEY_FILE":  "/etc/minimall/pub_key.pem",
	}))
	if err != nil {
		t.Fatalf("complete production configuration refused: %v", err)
	}
}

func TestUnknownFileKeyIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("http:\n  adress: \":80\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, env(nil)); err == nil || !strings.Contains(err.Error(), "http.adress") {
		t.Fatalf("Load = %v, want an unknown key error", err)
	}
}

// TestExampleFileListsEveryKey keeps configs/minimall.example.yaml complete
// and loadable.
func TestExampleFileListsEveryKey(t *testing.T) {
	const path = "../../../configs/minimall.example.yaml"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys {
		if !strings.Contains(string(raw), "("+k.Env+")") {
			t.Errorf("example file does not document %s", k.Env)
		}
		leaf := k.Path[strings.LastIndex(k.Path, ".")+1:]
		if !strings.Contains(string(raw), leaf+":") {
			t.Errorf("example file has no %s key", k.Path)
		}
	}
	if _, err := config.Load(path, env(nil)); err != nil {
		t.Fatalf("example file does not load: %v", err)
	}
	if _, err := config.Load("../../../configs/demo.yaml", env(nil)); err != nil {
		t.Fatalf("demo file does not load: %v", err)
	}
}

// TestAPIDocsEnabled: on by default outside production, off in production
// unless asked for, and api_docs false wins everywhere.
func TestAPIDocsEnabled(t *testing.T) {
	for _, tc := range []struct {
		env, docs string
		want      bool
	}{
		{config.EnvDevelopment, "", true},
		{config.EnvDevelopment, "false", false},
		{config.EnvProduction, "", false},
		{config.EnvProduction, "true", true},
	} {
		c := &config.Config{Env: tc.env, HTTP: config.HTTP{APIDocs: tc.docs}}
		if got := c.APIDocsEnabled(); got != tc.want {
			t.Errorf("env %s api_docs %q: enabled = %v, want %v", tc.env, tc.docs, got, tc.want)
		}
	}
}

// TestStaffTOTPKey: the sealing key reads 32 bytes as standard base64 or
// hex, and is nil when unset (the server then derives one).
func TestStaffTOTPKey(t *testing.T) {
	want := []byte("0123456789abcdef0123456789abcdef")
	for _, v := range []string{"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", hex.EncodeToString(want)} {
		cfg, err := config.Load("", env(map[string]string{"MINIMALL_STAFF_TOTP_KEY": v}))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if got, err := cfg.Staff.TOTPKeyBytes(); err != nil || string(got) != string(want) {
			t.Errorf("%s read as %x, %v", v, got, err)
		}
	}
	cfg, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cfg.Staff.TOTPKeyBytes(); got != nil || err != nil {
		t.Errorf("unset key read as %x, %v", got, err)
	}
}
