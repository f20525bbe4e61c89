package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/sandbox"
)

func postJSON(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestServeDemoLogins starts `serve --demo` and logs in through both
// mini-program channels (the in-process sandbox answers) and as the demo owner.
func TestServeDemoLogins(t *testing.T) {
	s := startServer(t, nil, "serve", "--demo")
	if !strings.Contains(s.Stdout.String(), "sandbox listening on http://") {
		t.Errorf("stdout does not announce the sandbox:\n%s", s.Stdout.String())
	}
	for _, ch := range []string{"wechat", "alipay"} {
		status, body := postJSON(t, s.URL+"/api/v1/auth/"+ch+"/login", map[string]string{"code": "test-demo"})
		if status != http.StatusOK || body["access_token"] == nil {
			t.Fatalf("%s login: %d %v\nstderr:\n%s", ch, status, body, s.Stderr.String())
		}
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s /me: %d", ch, resp.StatusCode)
		}
	}
	status, body := postJSON(t, s.URL+"/api/v1/auth/wechat/login", map[string]string{"code": "risky"})
	if status != http.StatusForbidden {
		t.Errorf("risky code: %d %v", status, body)
	}
	status, body = postJSON(t, s.URL+"/api/v1/admin/auth/login", map[string]string{"username": "owner", "password": "demo-owner-pass"})
	if status != http.StatusOK || body["access_token"] == nil {
		t.Errorf("demo owner login: %d %v", status, body)
	}
}

// TestSeedDemoOnlyOnEmptyDatabase seeds twice: the second run changes nothing.
func TestSeedDemoOnlyOnEmptyDatabase(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "seed.db")
	getenv := func(k string) string {
		return map[string]string{"MINIMALL_DB_DSN": dsn}[k]
	}
	var out1, out2 bytes.Buffer
	if err := run(context.Background(), []string{"seed-demo"}, getenv, &out1, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out1.String(), "demo data seeded") {
		t.Errorf("first seed: %s", out1.String())
	}
	if err := run(context.Background(), []string{"seed-demo"}, getenv, &out2, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out2.String(), "not seeded") {
		t.Errorf("second seed: %s", out2.String())
	}
}

// TestBootstrapOwnerFromConfig serves a migrated, empty database with a
// configured owner, who can then log in.
func TestBootstrapOwnerFromConfig(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "boot.db")
	pwFile := filepath.Join(dir, "owner.pw")
	if err := os.WriteFile(pwFile, []byte("bootstrap-pass-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"migrate"}, func(k string) string {
		return map[string]string{"MINIMALL_DB_DSN": dsn}[k]
	}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, map[string]string{
		"MINIMALL_DB_DSN": dsn, "MINIMALL_BOOTSTRAP_OWNER": "Boss", "MINIMALL_BOOTSTRAP_OWNER_PASSWORD_FILE": pwFile,
	}, "serve")
	status, body := postJSON(t, s.URL+"/api/v1/admin/auth/login", map[string]string{"username": "boss", "password": "bootstrap-pass-1"})
	if status != http.StatusOK || body["staff"].(map[string]any)["role"] != "owner" {
		t.Errorf("bootstrap owner login: %d %v", status, body)
	}
}

var sandboxListening = regexp.MustCompile(`sandbox listening on (http://\S+)`)

// TestSandboxCommand runs `minimall sandbox` alone: it serves the platforms
// and writes settings that point a server at it.
func TestSandboxCommand(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"MINIMALL_DB_DSN": filepath.Join(dir, "x.db"), "MINIMALL_SANDBOX_ADDR": "127.0.0.1:0"}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sandbox"}, func(k string) string { return vars[k] }, out, io.Discard)
	}()
	var base string
	deadline := time.Now().Add(30 * time.Second)
	for base == "" {
		if m := sandboxListening.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("sandbox returned early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("sandbox did not start")
		}
	}
	code, _ := get(t, base+"/_sandbox/health")
	if code != http.StatusOK {
		t.Errorf("sandbox health: %d", code)
	}
	env, err := os.ReadFile(filepath.Join(dir, "sandbox", sandbox.FileEnv))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"MINIMALL_WECHAT_API_BASE=" + base, "MINIMALL_ALIPAY_GATEWAY=" + base + sandbox.AlipayGatewayPath, "MINIMALL_ALIPAY_PRIVATE_KEY_FILE="} {
		if !strings.Contains(string(env), want) {
			t.Errorf("%s lacks %q:\n%s", sandbox.FileEnv, want, env)
		}
	}
	// The written settings log a server in through the standalone sandbox.
	settings := map[string]string{}
	for _, line := range strings.Split(string(env), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "MINIMALL_") {
			settings[k] = v
		}
	}
	settings["MINIMALL_DB_DSN"] = filepath.Join(dir, "served.db")
	if err := run(context.Background(), []string{"migrate"}, func(k string) string { return settings[k] }, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, settings, "serve")
	for _, ch := range []string{"wechat", "alipay"} {
		if status, body := postJSON(t, s.URL+"/api/v1/auth/"+ch+"/login", map[string]string{"code": "test-solo"}); status != http.StatusOK {
			t.Errorf("%s login through the standalone sandbox: %d %v", ch, status, body)
		}
	}
	if err := s.Stop(t); err != nil {
		t.Errorf("server stopped with %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("sandbox stopped with %v", err)
	}
}

func TestDemoAndSandboxRefusedInProduction(t *testing.T) {
	for _, args := range [][]string{{"serve", "--demo"}, {"sandbox"}, {"seed-demo"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			// A production configuration that passes validation, so that the
			// refusal comes from the command itself.
			env := map[string]string{
				"MINIMALL_ENV": "production", "MINIMALL_DB_DRIVER": "mysql", "MINIMALL_DB_DSN": "u:p@tcp(db.example.com:3306)/m",
				"MINIMALL_JWT_SECRET":   strings.Repeat("s", 40),
				"MINIMALL_WECHAT_APPID": "wx0123456789", "MINIMALL_WECHAT_SECRET": "secret",
				"MINIMALL_WECHATPAY_MCHID": "1900000001", "MINIMALL_WECHATPAY_SERIAL": "SERIAL",
				"MINIMALL_WECHATPAY_PRIVATE_KEY_FILE": "/etc/minimall/apiclient_key.pem", "MINIMALL_WECHATPAY_APIV3_KEY": strings.Repeat("k", 32),
				"MINIMALL_WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_1", "MINIMALL_WECHATPAY_PUBLIC_KEY_FILE": "/etc/minimall/wechatpay_pub.pem",
			}
			err := run(context.Background(), args, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "refused in production") {
				t.Fatalf("got %v, want a production refusal", err)
			}
		})
	}
}
