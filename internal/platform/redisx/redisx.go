// Package redisx is an instance's one Redis client and the rule every use of
// it follows: state is shared through Redis while Redis answers, and each
// use falls back to what this instance holds in memory when it does not.
//
// Rules:
//   - Redis is optional and never on the path of an error to a customer: a
//     use that cannot reach Redis serves the request from its per-instance
//     fallback (a local rate-limit bucket, a local token cache, the local
//     read cache with its shorter life).
//   - An outage is logged once, at WARN, when the first operation of a use
//     fails, and once, at INFO, when Redis answers that use again; never
//     once per request.
//   - Every operation served by the fallback counts in
//     minimall_redis_fallback_total{use}; minimall_redis_available{use} is 0
//     during an outage.
//   - After a failure a use does not ask Redis again for RetryEvery, so an
//     outage costs requests nothing but the first timeout; then one
//     operation tries again.
//   - Every key and channel starts with the configured prefix
//     (MINIMALL_REDIS_PREFIX), so several shops or test runs share one Redis.
package redisx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds one operation on the request path. Loopback or
	// same-zone Redis answers in well under a millisecond; a slower answer
	// means trouble, and the request goes on without it.
	DefaultTimeout = 500 * time.Millisecond
	// DefaultRetryEvery is how long a use serves from its fallback after a
	// failure before it asks Redis again.
	DefaultRetryEvery = time.Second
	// DefaultPrefix starts every key and channel.
	DefaultPrefix = "minimall:"
)

// ErrUnavailable is returned by Use.Do while a recent failure keeps the use
// on its fallback.
var ErrUnavailable = errors.New("redis unavailable")

// Options configure a Client.
type Options struct {
	// Addr is Redis' host:port.
	Addr string
	// Prefix starts every key and channel (DefaultPrefix when empty).
	Prefix string
	// Timeout bounds one operation (DefaultTimeout when zero).
	Timeout time.Duration
	// RetryEvery is the pause after a failure (DefaultRetryEvery when zero).
	RetryEvery time.Duration
	// Log receives the outage and recovery lines.
	Log *slog.Logger
	// Registry receives the fallback metrics.
	Registry prometheus.Registerer
}

// Client is an instance's Redis client and the state of each of its uses.
type Client struct {
	rdb        *redis.Client
	prefix     string
	timeout    time.Duration
	retryEvery time.Duration
	log        *slog.Logger
	fallbacks  *prometheus.CounterVec
	available  *prometheus.GaugeVec

	mu   sync.Mutex
	uses map[string]*Use
}

// New returns a client for opts; it does not connect until first used.
func New(opts Options) (*Client, error) {
	if opts.Addr == "" {
		return nil, errors.New("redisx: empty address")
	}
	if opts.Log == nil || opts.Registry == nil {
		return nil, errors.New("redisx: nil logger or registry")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.RetryEvery <= 0 {
		opts.RetryEvery = DefaultRetryEvery
	}
	quietOnce.Do(func() { redis.SetLogger(quietLogger{log: opts.Log}) })
	c := &Client{
		// ContextTimeoutEnabled makes every socket read and write end at the
		// operation's deadline; one retry covers a connection that Redis
		// closed while it sat in the pool.
		rdb: redis.NewClient(&redis.Options{Addr: opts.Addr, DialTimeout: opts.Timeout, ReadTimeout: opts.Timeout,
			WriteTimeout: opts.Timeout, ContextTimeoutEnabled: true, MaxRetries: 1}),
		prefix: opts.Prefix, timeout: opts.Timeout, retryEvery: opts.RetryEvery, log: opts.Log,
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minimall_redis_fallback_total",
			Help: "Operations served by this instance's own fallback because Redis did not answer, by use.",
		}, []string{"use"}),
		available: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "minimall_redis_available",
			Help: "1 while the use's last Redis operation succeeded, 0 during an outage.",
		}, []string{"use"}),
		uses: map[string]*Use{},
	}
	if err := opts.Registry.Register(c.fallbacks); err != nil {
		return nil, err
	}
	if err := opts.Registry.Register(c.available); err != nil {
		return nil, err
	}
	return c, nil
}

// quietOnce installs go-redis' logger once: go-redis logs through a
// package-level logger, and would print a line for every failed dial, i.e.
// for every request during an outage. Uses log the outage once themselves;
// go-redis' own lines go to debug.
var quietOnce sync.Once

type quietLogger struct{ log *slog.Logger }

func (q quietLogger) Printf(ctx context.Context, format string, v ...interface{}) {
	q.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// Redis returns the go-redis client, for libraries that take one.
func (c *Client) Redis() *redis.Client { return c.rdb }

// Key returns the key (or channel) named by parts under the prefix, e.g.
// Key("ratelimit", "login") is "minimall:ratelimit:login".
func (c *Client) Key(parts ...string) string { return c.prefix + strings.Join(parts, ":") }

// Close closes the connections.
func (c *Client) Close() error { return c.rdb.Close() }

// Use returns the use called name (one per kind of shared state: "ratelimit",
// "wechat_token", "catalog_invalidation"), made on first call.
func (c *Client) Use(name string) *Use {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.uses[name]
	if !ok {
		u = &Use{c: c, name: name, fallbacks: c.fallbacks.WithLabelValues(name), available: c.available.WithLabelValues(name)}
		u.available.Set(1)
		c.uses[name] = u
	}
	return u
}

// Use is one kind of shared state kept in Redis, with its own outage state.
type Use struct {
	c         *Client
	name      string
	fallbacks prometheus.Counter
	available prometheus.Gauge

	mu      sync.Mutex
	down    bool
	since   time.Time
	retryAt time.Time
	served  int64
}

// Name returns the use's name, its metric label.
func (u *Use) Name() string { return u.name }

// Do runs op on Redis within the client's timeout. It returns
// ErrUnavailable without running op while a recent failure keeps the use on
// its fallback, and op's error when op fails; in both cases the caller serves
// from its fallback, which Do has counted. redis.Nil (no such key) is an
// answer, not a failure. The operation is not cut by the caller's
// cancellation: a client that went away does not make Redis look down.
func (u *Use) Do(ctx context.Context, op func(ctx context.Context) error) error {
	if !u.ready(time.Now()) {
		u.fallbacks.Inc()
		return ErrUnavailable
	}
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.c.timeout)
	defer cancel()
	err := op(octx)
	if err == nil || errors.Is(err, redis.Nil) {
		u.Succeeded(ctx)
		return err
	}
	u.Failed(ctx, err)
	return err
}

// ready reports whether Redis may be asked now.
func (u *Use) ready(now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.down || !now.Before(u.retryAt) {
		return true
	}
	u.served++
	return false
}

// Failed records an operation of the use that Redis did not answer, for
// callers that talk to Redis themselves (a subscription): it counts one
// fallback and, when it starts an outage, logs it once.
func (u *Use) Failed(ctx context.Context, err error) {
	u.fallbacks.Inc()
	now := time.Now()
	u.mu.Lock()
	started := !u.down
	if started {
		u.down, u.since, u.served = true, now, 0
	}
	u.retryAt = now.Add(u.c.retryEvery)
	u.mu.Unlock()
	if started {
		u.available.Set(0)
		u.c.log.WarnContext(ctx, "redis unavailable: this instance falls back to its own state until it answers",
			"use", u.name, "err", err)
	}
}

// Succeeded records an answer from Redis; after an outage it logs the
// recovery once.
func (u *Use) Succeeded(ctx context.Context) {
	u.mu.Lock()
	ended := u.down
	since, served := u.since, u.served
	u.down = false
	u.mu.Unlock()
	if ended {
		u.available.Set(1)
		u.c.log.InfoContext(ctx, "redis available again: state is shared again", "use", u.name,
			"outage", time.Since(since).Round(time.Millisecond).String(), "served_without_trying", served)
	}
}

// Down reports whether the use is in an outage.
func (u *Use) Down() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.down
}
