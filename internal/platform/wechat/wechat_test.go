package wechat_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/wechat"
	"github.com/minimall/minimall/internal/sandbox"
)

// sandboxKeys are generated once for the package's tests and passed in
// sandbox.Options.Keys: RSA key generation is most of what sandbox.New costs.
// A sandbox playing another platform account keeps keys of its own.
var sandboxKeys = sync.OnceValues(sandbox.NewKeys)

func newSandbox(t *testing.T) (*sandbox.Server, string) {
	t.Helper()
	keys, err := sandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv.URL
}

func TestCode2SessionThroughSDK(t *testing.T) {
	sb, base := newSandbox(t)
	c, err := wechat.New(wechat.Config{AppID: sb.Settings().WeChatAppID, Secret: sb.Settings().WeChatSecret, APIBase: base})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		code     string
		wantErr  apperr.Code
		wantOpen string
	}{
		{code: "test-alice", wantOpen: sb.WeChatOpenID("alice")},
		{code: "test-bob", wantOpen: sb.WeChatOpenID("bob")},
		{code: "bad-code", wantErr: apperr.CodeInvalidCode},
		{code: "whatever", wantErr: apperr.CodeInvalidCode},
		{code: "busy", wantErr: apperr.CodeUpstreamUnavailable},
		{code: "risky", wantErr: apperr.CodeLoginBlocked},
		{code: "slow-down", wantErr: apperr.CodeRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			s, err := c.Code2Session(ctx, tt.code)
			if tt.wantErr != "" {
				if got := apperr.CodeOf(err); got != tt.wantErr {
					t.Fatalf("error code = %s (%v), want %s", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.OpenID != tt.wantOpen || s.OpenID == "" {
				t.Errorf("openid = %q, want %q", s.OpenID, tt.wantOpen)
			}
			if s.UnionID != sandbox.WeChatUnionID(tt.code[len("test-"):]) {
				t.Errorf("unionid = %q", s.UnionID)
			}
		})
	}
}

// TestTwoBasesInOneProcess proves that each client reaches its own base: the
// transport is installed once, yet a client never talks to another's sandbox.
func TestTwoBasesInOneProcess(t *testing.T) {
	sb1, base1 := newSandbox(t)
	sb2, base2 := newSandbox(t)
	c1, err := wechat.New(wechat.Config{AppID: sb1.Settings().WeChatAppID, Secret: sb1.Settings().WeChatSecret, APIBase: base1})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := wechat.New(wechat.Config{AppID: sb2.Settings().WeChatAppID, Secret: sb2.Settings().WeChatSecret, APIBase: base2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s1, err := c1.Code2Session(ctx, "test-carol")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := c2.Code2Session(ctx, "test-carol")
	if err != nil {
		t.Fatal(err)
	}
	if s1.OpenID != sb1.WeChatOpenID("carol") || s2.OpenID != sb2.WeChatOpenID("carol") || s1.OpenID == s2.OpenID {
		t.Errorf("openids %q, %q: each client must reach its own sandbox", s1.OpenID, s2.OpenID)
	}
	// A wrong secret is refused by the platform, not silently accepted.
	bad, err := wechat.New(wechat.Config{AppID: sb1.Settings().WeChatAppID, Secret: "wrong", APIBase: base1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Code2Session(ctx, "test-carol"); apperr.CodeOf(err) != apperr.CodeUpstreamError {
		t.Errorf("wrong secret: got %v, want upstream_error", err)
	}
}

func TestAccessTokenThroughSDK(t *testing.T) {
	sb, base := newSandbox(t)
	c, err := wechat.New(wechat.Config{AppID: sb.Settings().WeChatAppID, Secret: sb.Settings().WeChatSecret, APIBase: base})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.AccessToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !sb.WeChatAccessTokenValid(tok) {
		t.Errorf("access token %q was not issued by the sandbox", tok)
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(nil)
	base := srv.URL
	srv.Close()
	c, err := wechat.New(wechat.Config{AppID: "wx1", Secret: "s", APIBase: base})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Code2Session(context.Background(), "test-x"); apperr.CodeOf(err) != apperr.CodeUpstreamUnavailable {
		t.Errorf("got %v, want upstream_unavailable", err)
	}
}
