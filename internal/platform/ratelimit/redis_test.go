package ratelimit_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/ratelimit"
	"github.com/minimall/minimall/internal/platform/redistest"
)

// limiter returns a limiter of 120 a minute with bursts of 60 whose buckets
// are in Redis at addr under prefix, as one instance would build it.
func sharedLimiter(t *testing.T, addr, prefix string, log *syncLog) (*ratelimit.Limiter, *metrics) {
	t.Helper()
	rc, reg := redistest.Client(t, addr, prefix, log)
	shared, err := ratelimit.NewRedis(rc)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ratelimit.New(120, 60, clock.System{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Share(shared, "login"); err != nil {
		t.Fatal(err)
	}
	return l, &metrics{t: t, reg: reg}
}

func allowed(l *ratelimit.Limiter, key string, n int) int {
	got := 0
	for range n {
		if ok, _ := l.Take(context.Background(), key); ok {
			got++
		}
	}
	return got
}

// Three instances on one Redis draw from one bucket: together they allow the
// burst once, where three in-memory limiters would allow it three times.
func TestRedisBucketIsSharedByInstances(t *testing.T) {
	addr := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	var ls []*ratelimit.Limiter
	for range 3 {
		l, _ := sharedLimiter(t, addr, prefix, nil)
		ls = append(ls, l)
	}
	start := time.Now()
	got := 0
	for i := range 90 {
		if ok, _ := ls[i%3].Take(context.Background(), "10.0.0.1"); ok {
			got++
		}
	}
	// 60 at once, plus one token each half second the loop took.
	if most := 60 + int(time.Since(start)/(500*time.Millisecond)) + 1; got < 60 || got > most {
		t.Fatalf("three instances allowed %d of 90 attempts, want 60 to %d", got, most)
	}
	ok, wait := ls[1].Take(context.Background(), "10.0.0.1")
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("after the burst: ok=%v wait=%v, want a refusal with a wait of at most half a second", ok, wait)
	}
	if n := allowed(ls[2], "10.0.0.2", 1); n != 1 {
		t.Fatal("another key shares the first key's bucket")
	}
	// Another limit name (checkout) has buckets of its own.
	other, err := ratelimit.New(10, 10, clock.System{})
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := redistest.Client(t, addr, prefix, nil)
	shared, _ := ratelimit.NewRedis(rc)
	if err := other.Share(shared, "checkout"); err != nil {
		t.Fatal(err)
	}
	if n := allowed(other, "10.0.0.1", 11); n != 10 {
		t.Fatalf("the checkout limit allowed %d of 11 for a key the login limit refuses, want 10", n)
	}
}

// With Redis down, a limiter decides with its own buckets: nothing fails,
// the fallback metric moves with every decision and the outage is logged
// once.
func TestRedisDownFallsBackToInstanceBuckets(t *testing.T) {
	log := &syncLog{}
	l, m := sharedLimiter(t, redistest.ClosedAddr(t), redistest.Prefix(t), log)
	if n := allowed(l, "10.0.0.1", 61); n != 60 {
		t.Fatalf("with Redis down the instance allowed %d of 61, want its own burst of 60", n)
	}
	if got := m.fallbacks("ratelimit"); got != 61 {
		t.Fatalf("minimall_redis_fallback_total{use=ratelimit} = %v, want 61", got)
	}
	if got := m.available("ratelimit"); got != 0 {
		t.Fatalf("minimall_redis_available{use=ratelimit} = %v during the outage, want 0", got)
	}
	if n := redistest.Lines(log.String(), "level=WARN", "redis unavailable", "use=ratelimit"); n != 1 {
		t.Fatalf("%d outage warnings for 61 requests, want 1:\n%s", n, log.String())
	}
}

// A Redis that stops and comes back: shared, then per instance (one
// warning), then shared again (one recovery line).
func TestRedisOutageAndRecovery(t *testing.T) {
	srv := redistest.Start(t)
	log := &syncLog{}
	prefix := redistest.Prefix(t)
	a, ma := sharedLimiter(t, srv.Addr, prefix, log)
	b, _ := sharedLimiter(t, srv.Addr, prefix, nil)
	if got := allowed(a, "ip", 30) + allowed(b, "ip", 31); got > 61 {
		t.Fatalf("with Redis up two instances allowed %d of 61, want the shared burst of 60 (+1)", got)
	}
	if got := ma.fallbacks("ratelimit"); got != 0 {
		t.Fatalf("fallbacks with Redis up = %v", got)
	}

	srv.Stop(t)
	// Each instance now has its own full bucket: requests are not refused
	// for want of Redis, and never fail.
	if got := allowed(a, "ip", 40); got != 40 {
		t.Fatalf("with Redis down instance a allowed %d of 40, want 40 from its own bucket", got)
	}
	if ma.fallbacks("ratelimit") < 40 {
		t.Fatalf("fallbacks during the outage = %v, want at least 40", ma.fallbacks("ratelimit"))
	}

	srv.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for ma.available("ratelimit") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the limiter did not go back to Redis after it came back:\n%s", log.String())
		}
		allowed(a, "ip2", 1)
		time.Sleep(20 * time.Millisecond)
	}
	// Redis restarted empty: the shared bucket is full again, and shared.
	if got := allowed(a, "ip", 30) + allowed(b, "ip", 31); got > 61 {
		t.Fatalf("after the recovery two instances allowed %d of 61, want the shared burst of 60 (+1)", got)
	}
	out := log.String()
	if n := redistest.Lines(out, "level=WARN", "redis unavailable"); n != 1 {
		t.Fatalf("%d outage warnings, want 1:\n%s", n, out)
	}
	if n := redistest.Lines(out, "level=INFO", "redis available again"); n != 1 {
		t.Fatalf("%d recovery lines, want 1:\n%s", n, out)
	}
}

// syncLog is a log destination tests read while limiters write to it.
type syncLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// metrics reads one instance's Redis metrics.
type metrics struct {
	t   *testing.T
	reg prometheus.Gatherer
}

func (m *metrics) fallbacks(use string) float64 {
	return redistest.Counter(m.t, m.reg, "minimall_redis_fallback_total", "use", use)
}

func (m *metrics) available(use string) float64 {
	return redistest.Counter(m.t, m.reg, "minimall_redis_available", "use", use)
}
