// Package ratelimit limits requests per key (a client IP, a customer) with a
// token bucket per key, held in process. Behind a load balancer each instance
// limits on its own; the client IP comes from gin's ClientIP, which believes
// X-Forwarded-For only from the configured trusted proxies.
package ratelimit

import (
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

// Limiter holds one token bucket per key.
type Limiter struct {
	every time.Duration
	burst int
	clock clock.Clock

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
	return &Limiter{every: time.Minute / time.Duration(perMinute), burst: burst, clock: clk, buckets: map[string]*bucket{}}, nil
}

// Allow takes one token from key's bucket and reports whether there was one.
func (l *Limiter) Allow(key string) bool {
	ok, _ := l.Take(key)
	return ok
}

// Take takes one token from key's bucket. When there is none it takes
// nothing and reports how long until the next token.
func (l *Limiter) Take(key string) (bool, time.Duration) {
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
		if ok, wait := l.Take(k); !ok {
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
