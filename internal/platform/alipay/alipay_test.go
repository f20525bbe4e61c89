package alipay_test

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/alipay"
	"github.com/minimall/minimall/internal/sandbox"
)

// sandboxKeys are generated once for the package's tests and passed in
// sandbox.Options.Keys: RSA key generation is most of what sandbox.New costs.
// A sandbox playing another platform account keeps keys of its own.
var sandboxKeys = sync.OnceValues(sandbox.NewKeys)

func newClient(t *testing.T, opts sandbox.Options) (*alipay.Client, *sandbox.Server) {
	t.Helper()
	keys, err := sandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	opts.Keys = keys
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	s := sb.Settings()
	c, err := alipay.New(alipay.Config{
		AppID: s.AlipayAppID, PrivateKey: s.AlipayAppPrivateKey, PublicKey: s.AlipayPublicKey,
		Gateway: sandbox.EndpointsAt(srv.URL).AlipayGateway,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, sb
}

// TestOAuthTokenThroughSDK runs alipay.system.oauth.token through smartwalle,
// which verifies the sandbox's response signature with Alipay's public key.
func TestOAuthTokenThroughSDK(t *testing.T) {
	userIDApp, _ := newClient(t, sandbox.Options{})
	openIDApp, openSB := newClient(t, sandbox.Options{AlipayOpenID: true})
	tests := []struct {
		name     string
		client   *alipay.Client
		code     string
		wantErr  apperr.Code
		wantSubj string
		wantKind string
	}{
		{name: "user_id app", client: userIDApp, code: "test-alice", wantSubj: sandbox.AlipayUserID("alice"), wantKind: alipay.KindUserID},
		{name: "open_id app", client: openIDApp, code: "test-alice", wantSubj: openSB.AlipayOpenID("alice"), wantKind: alipay.KindOpenID},
		{name: "bad code", client: userIDApp, code: "bad-code", wantErr: apperr.CodeInvalidCode},
		{name: "unknown code", client: userIDApp, code: "nope", wantErr: apperr.CodeInvalidCode},
		{name: "busy", client: userIDApp, code: "busy", wantErr: apperr.CodeUpstreamUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acc, err := tt.client.OAuthToken(context.Background(), tt.code)
			if tt.wantErr != "" {
				if got := apperr.CodeOf(err); got != tt.wantErr {
					t.Fatalf("error code = %s (%v), want %s", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if acc.Subject != tt.wantSubj || acc.Kind != tt.wantKind || acc.Subject == "" {
				t.Errorf("account = %+v, want subject %q kind %q", acc, tt.wantSubj, tt.wantKind)
			}
		})
	}
}

// TestForeignSignatureRefused proves the SDK (and so minimall) refuses a
// response signed by another key: a client holding a different Alipay public
// key gets no account.
func TestForeignSignatureRefused(t *testing.T) {
	keys, err := sandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	other, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	defer srv.Close()
	s := sb.Settings()
	c, err := alipay.New(alipay.Config{
		AppID: s.AlipayAppID, PrivateKey: s.AlipayAppPrivateKey, PublicKey: other.Settings().AlipayPublicKey,
		Gateway: sandbox.EndpointsAt(srv.URL).AlipayGateway,
	})
	if err != nil {
		t.Fatal(err)
	}
	if acc, err := c.OAuthToken(context.Background(), "test-alice"); err == nil {
		t.Fatalf("got account %+v from a response signed with a foreign key", acc)
	}
	// And the sandbox refuses a request signed with a key it does not know.
	c2, err := alipay.New(alipay.Config{
		AppID: s.AlipayAppID, PrivateKey: other.Settings().AlipayAppPrivateKey, PublicKey: s.AlipayPublicKey,
		Gateway: sandbox.EndpointsAt(srv.URL).AlipayGateway,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.OAuthToken(context.Background(), "test-alice"); apperr.CodeOf(err) != apperr.CodeUpstreamError {
		t.Fatalf("request signed with an unknown key: got %v, want upstream_error", err)
	}
}

// TestKeysAsBareBase64 loads keys in the console's bare base64 form from files.
func TestKeysAsBareBase64(t *testing.T) {
	keys, err := sandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	defer srv.Close()
	dir := t.TempDir()
	bare := func(name, p string) string {
		blk, _ := pem.Decode([]byte(p))
		if blk == nil {
			t.Fatalf("%s is not PEM", name)
		}
		enc := base64.StdEncoding.EncodeToString(blk.Bytes)
		// Consoles wrap long keys; the loader must cope.
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(enc[:40]+"\n"+enc[40:]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		k, err := alipay.LoadKeyFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	s := sb.Settings()
	c, err := alipay.New(alipay.Config{
		AppID: s.AlipayAppID, PrivateKey: bare("app.key", s.AlipayAppPrivateKey), PublicKey: bare("alipay.pub", s.AlipayPublicKey),
		Gateway: sandbox.EndpointsAt(srv.URL).AlipayGateway,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OAuthToken(context.Background(), "test-dora"); err != nil {
		t.Fatal(err)
	}
}
