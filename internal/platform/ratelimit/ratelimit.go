// Package ratelimit limits requests per key (a client IP, a customer) with a
// token bucket per key. With a shared store (Redis, through Share) every
// instance draws from the same bucket, so N instances allow the limit once,
// not N times; without one, or while the store does not answer, each instance
// keeps its buckets in memory and limits on its own. The client IP comes from
// gin's ClientIP, which believes X-Forwarded-For only from the configured
// trusted proxies.
package ratelimit

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// idleAfter is how long an IP's bucket is kept after its last request; a
// bucket idle that long is full again anyway.
const idleAfter = 10 * time.Minute

// Shared holds buckets for every instance. Take takes one token from key's
// bucket of perMinute tokens a minute and burst tokens at most; when there
// is none it reports how long until the next. An error means the store did
// not answer, and the limiter decides with its own buckets instead.
type Shared interface {
	Take(ctx context.Context, key string, perMinute, burst int) (ok bool, wait time.Duration, err error)
}

// Limiter holds one token bucket per key.
type Limiter struct {
	perMinute int
	every     time.Duration
	burst     int
	clock     clock.Clock
	// shared and name place the buckets in a shared store, under name.
	shared Shared
	name   string

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a limiter allowing perMinute requests a minute per key, with
// bursts of burst.
func New(perMinute, burst int, clk clock.Clock) (*Limiter, error) {
	if perMinute <= 0 || burst <= 0 {
		return nil, errors.New("ratelimit: rate and burst must be positive")
	}
	if clk == nil {
		return nil, errors.New("ratelimit: nil clock")
	}
	return &Limiter{perMinute: perMinute, every: time.Minute / time.Duration(perMinute), burst: burst, clock: clk,
		buckets: map[string]*bucket{}}, nil
}

// Share keeps the limiter's buckets in s under name (one name per limit:
// "login", "checkout", "pay"), so that every instance sharing s draws from
// the same bucket. The in-memory buckets then serve only while s does not
// answer. Call it before the limiter is used.
func (l *Limiter) Share(s Shared, name string) error {
	if s == nil || name == "" {
		return errors.New("ratelimit: nil shared store or empty name")
	}
	l.shared, l.name = s, name
	return nil
}

// Allow takes one token from key's bucket and reports whether there was one.
func (l *Limiter) Allow(key string) bool {
	ok, _ := l.Take(context.Background(), key)
	return ok
}

// Take takes one token from key's bucket, in the shared store when there is
// one and it answers, else in this instance's memory. When there is none it
// takes nothing and reports how long until the next token.
func (l *Limiter) Take(ctx context.Context, key string) (bool, time.Duration) {
	if l.shared != nil {
		if ok, wait, err := l.shared.Take(ctx, l.name+":"+key, l.perMinute, l.burst); err == nil {
			return ok, wait
		}
	}
	return l.takeLocal(key)
}

// takeLocal takes a token from this instance's own bucket for key.
func (l *Limiter) takeLocal(key string) (bool, time.Duration) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > idleAfter {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > idleAfter {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// PerIP refuses requests over the limit with 429 rate_limited, keyed by the
// client IP.
func (l *Limiter) PerIP() gin.HandlerFunc {
	return l.PerKey(func(c *gin.Context) string { return c.ClientIP() },
		"too many login attempts from this address; wait a minute")
}

// PerKey refuses requests over the limit with 429 rate_limited and a
// Retry-After header (whole seconds until the next token), keyed by key. A
// request whose key is empty is not limited here (the route's guard has
// already refused it).
func (l *Limiter) PerKey(key func(c *gin.Context) string, message string) gin.HandlerFunc {
	return func(c *gin.Context) {
		k := key(c)
		if k == "" {
			c.Next()
			return
		}
		if ok, wait := l.Take(c.Request.Context(), k); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			if secs < 1 {
				secs = 1
			}
			c.Header("Retry-After", strconv.Itoa(secs))
			httpx.Error(c, apperr.New(apperr.CodeRateLimited, "%s", message).WithDetail("retry_after_seconds", secs))
			return
		}
		c.Next()
	}
}
