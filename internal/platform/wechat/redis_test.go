package wechat_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/minimall/minimall/internal/platform/redistest"
	"github.com/minimall/minimall/internal/platform/wechat"
)

// Three instances on one Redis use one access token: a refresh on one would
// otherwise revoke the tokens of the others.
func TestAccessTokenSharedThroughRedis(t *testing.T) {
	sb, base := newSandbox(t)
	addr, prefix := redistest.Shared(t), redistest.Prefix(t)
	tokens := map[string]bool{}
	for range 3 {
		rc, reg := redistest.Client(t, addr, prefix, nil)
		cache, err := wechat.NewRedisCache(rc)
		if err != nil {
			t.Fatal(err)
		}
		c, err := wechat.New(wechat.Config{AppID: sb.Settings().WeChatAppID, Secret: sb.Settings().WeChatSecret,
			APIBase: base, Cache: cache})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.AccessToken(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tokens[tok] = true
		if got := redistest.Counter(t, reg, "minimall_redis_fallback_total", "use", wechat.RedisUse); got != 0 {
			t.Fatalf("fallbacks with Redis up = %v", got)
		}
	}
	if len(tokens) != 1 {
		t.Fatalf("three instances on one Redis hold %d access tokens, want 1", len(tokens))
	}
}

// With Redis down the token is fetched and kept in the instance's memory:
// the calls that need it still work, the fallback metric moves, and the
// outage is logged once.
func TestAccessTokenWithRedisDown(t *testing.T) {
	sb, base := newSandbox(t)
	var log syncBuffer
	rc, reg := redistest.Client(t, redistest.ClosedAddr(t), redistest.Prefix(t), &log)
	cache, err := wechat.NewRedisCache(rc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := wechat.New(wechat.Config{AppID: sb.Settings().WeChatAppID, Secret: sb.Settings().WeChatSecret,
		APIBase: base, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	first := ""
	for i := range 5 {
		tok, err := c.AccessToken(context.Background())
		if err != nil {
			t.Fatalf("access token with Redis down: %v", err)
		}
		if !sb.WeChatAccessTokenValid(tok) {
			t.Fatalf("token %q was not issued by the sandbox", tok)
		}
		if i == 0 {
			first = tok
		} else if tok != first {
			t.Fatal("with Redis down the token is fetched again on every call, not kept in memory")
		}
	}
	if got := redistest.Counter(t, reg, "minimall_redis_fallback_total", "use", wechat.RedisUse); got < 5 {
		t.Fatalf("minimall_redis_fallback_total{use=wechat_token} = %v, want at least 5", got)
	}
	if n := redistest.Lines(log.String(), "level=WARN", "redis unavailable", "use=wechat_token"); n != 1 {
		t.Fatalf("%d outage warnings, want 1:\n%s", n, log.String())
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
