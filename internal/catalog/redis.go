package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/minimall/minimall/internal/platform/redisx"
)

// Invalidators announces a change to each of its members in order, e.g. to
// this instance's cache and then to the other instances.
type Invalidators []Invalidator

// CatalogChanged tells every member.
func (all Invalidators) CatalogChanged(ctx context.Context, ch Change) {
	for _, inv := range all {
		inv.CatalogChanged(ctx, ch)
	}
}

// RedisUse names the catalog's use of Redis in logs and in
// minimall_redis_fallback_total.
const RedisUse = "catalog_invalidation"

// Limits of the Redis link.
const (
	// redisPing is how long a quiet subscription waits before it pings
	// Redis to prove the link is alive; a ping unanswered for as long again
	// counts as a lost link.
	redisPing = 5 * time.Second
	// redisMaxPending bounds the product ids held for one message; past
	// it, the message asks every instance to flush instead.
	redisMaxPending = 20000
)

// Listener is the local cache as the Redis link sees it.
type Listener interface {
	Invalidator
	// Flush drops every page.
	Flush()
	// SetUnsure shortens every page's life to the stock lag while changes
	// may be missed, and restores it when cleared.
	SetUnsure(unsure bool)
}

// RedisInvalidations shares catalog changes between instances over a Redis
// channel: CatalogChanged publishes a change, and Listen hands every change
// published by the other instances to the local cache.
//
// Changes that must show at once are published at once. Stock and sales
// changes are coalesced per product and published at most once per window
// (a quarter of the stock lag), so a product selling a thousand units a
// second costs a few messages a second, not a thousand; other instances
// therefore show them within the stock lag plus the window.
//
// Redis pub/sub delivers at most once, so the link is honest about what it
// may have missed: until the first subscription is confirmed, while the
// connection is down or a ping goes unanswered, the local cache is unsure
// (pages live at most the stock lag); every (re)subscription flushes the
// local cache and makes it sure again. A publish that fails is kept and
// retried with the next window, merged with newer changes. An outage is
// logged once (redisx), not at every failed publish or subscription.
type RedisInvalidations struct {
	client  *redis.Client
	use     *redisx.Use
	channel string
	local   Listener
	log     *slog.Logger
	window  time.Duration
	// self tags this instance's messages, which it has applied already.
	self string

	mu      sync.Mutex
	pending wireChange
	timer   *time.Timer
}

// NewRedisInvalidations returns the link between the channel
// "<prefix>catalog:changes" of rc and the local cache, which it makes unsure
// until the first subscription. Stock and sales changes are published at
// most once per window.
func NewRedisInvalidations(rc *redisx.Client, local Listener, window time.Duration, log *slog.Logger) (*RedisInvalidations, error) {
	if rc == nil || local == nil || log == nil {
		return nil, errors.New("catalog: nil dependency of the redis invalidations")
	}
	if window <= 0 {
		return nil, errors.New("catalog: empty redis window")
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	local.SetUnsure(true)
	return &RedisInvalidations{client: rc.Redis(), use: rc.Use(RedisUse), channel: rc.Key("catalog", "changes"),
		local: local, log: log, window: window, self: hex.EncodeToString(id[:])}, nil
}

// wireChange is one message on the channel: ProductIDs drop at once,
// CountIDs moved stock or sales, Flush asks for a whole flush.
type wireChange struct {
	From       string  `json:"from,omitempty"`
	ProductIDs []int64 `json:"product_ids,omitempty"`
	CountIDs   []int64 `json:"count_ids,omitempty"`
	Categories bool    `json:"categories,omitempty"`
	Lists      bool    `json:"lists,omitempty"`
	Flush      bool    `json:"flush,omitempty"`
}

func (w *wireChange) empty() bool {
	return len(w.ProductIDs) == 0 && len(w.CountIDs) == 0 && !w.Categories && !w.Lists && !w.Flush
}

// merge adds o to w; past redisMaxPending ids, w becomes a flush.
func (w *wireChange) merge(o wireChange) {
	w.ProductIDs = append(w.ProductIDs, o.ProductIDs...)
	w.CountIDs = append(w.CountIDs, o.CountIDs...)
	w.Categories = w.Categories || o.Categories
	w.Lists = w.Lists || o.Lists
	w.Flush = w.Flush || o.Flush
	if len(w.CountIDs) > redisMaxPending {
		slices.Sort(w.CountIDs)
		w.CountIDs = slices.Compact(w.CountIDs)
	}
	if w.Flush || len(w.ProductIDs)+len(w.CountIDs) > redisMaxPending {
		*w = wireChange{Flush: true}
	}
}

// CatalogChanged publishes ch: at once, or with the next window for stock
// and sales. A failure is logged and retried with the next window; it is
// never returned, since the write has committed.
func (r *RedisInvalidations) CatalogChanged(ctx context.Context, ch Change) {
	w := wireChange{Categories: ch.Categories, Lists: ch.Lists}
	if ch.Counts {
		w.CountIDs = ch.ProductIDs
	} else {
		w.ProductIDs = ch.ProductIDs
	}
	if w.empty() {
		return
	}
	if !ch.Counts && r.publish(ctx, w) == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	w.CountIDs = slices.Clone(w.CountIDs)
	r.pending.merge(w)
	if r.timer == nil {
		r.timer = time.AfterFunc(r.window, r.publishPending)
	}
}

// publishPending publishes what waited for the window; on failure it keeps
// it for the next one.
func (r *RedisInvalidations) publishPending() {
	r.mu.Lock()
	w := r.pending
	r.pending, r.timer = wireChange{}, nil
	r.mu.Unlock()
	if w.empty() {
		return
	}
	slices.Sort(w.CountIDs)
	w.CountIDs = slices.Compact(w.CountIDs)
	if err := r.publish(context.Background(), w); err != nil && !errors.Is(err, redis.ErrClosed) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.pending.merge(w)
		if r.timer == nil {
			r.timer = time.AfterFunc(max(r.window, time.Second), r.publishPending)
		}
	}
}

func (r *RedisInvalidations) publish(ctx context.Context, w wireChange) error {
	w.From = r.self
	b, err := json.Marshal(w)
	if err != nil {
		return err
	}
	// Do logs the outage once and counts each publish it could not make.
	return r.use.Do(ctx, func(ctx context.Context) error { return r.client.Publish(ctx, r.channel, b).Err() })
}

// Subscribe subscribes to the channel and returns once Redis has confirmed
// it, having flushed the local cache and made it sure: changes missed before
// cannot show any more. Run then receives on the subscription. Split in two
// so that a caller (a test, the start-up sequence) knows when changes start
// to arrive.
func (r *RedisInvalidations) Subscribe(ctx context.Context) (*redis.PubSub, error) {
	ps := r.client.Subscribe(ctx, r.channel)
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, err
	}
	r.local.Flush()
	r.local.SetUnsure(false)
	r.use.Succeeded(ctx)
	return ps, nil
}

// Run receives changes on ps until ctx ends or the link is lost, then
// closes ps; the local cache is unsure when it returns on a lost link.
// go-redis reconnects and resubscribes by itself after a failed read: the
// cache is unsure from the failure until the new subscription, which
// flushes it. A quiet channel is pinged, and a ping left unanswered counts
// as a lost link (a connection that died without closing).
func (r *RedisInvalidations) Run(ctx context.Context, ps *redis.PubSub) {
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	defer ps.Close()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, redisPing)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				if err := ps.Ping(ctx); err == nil {
					pinged = true
					continue
				}
			}
			// Pages live at most the stock lag until the link is back.
			r.local.SetUnsure(true)
			r.use.Failed(ctx, err)
			if pinged {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				r.local.Flush()
				r.local.SetUnsure(false)
				r.use.Succeeded(ctx)
			}
		case *redis.Message:
			r.apply(ctx, m.Payload)
		}
	}
}

func (r *RedisInvalidations) apply(ctx context.Context, payload string) {
	var w wireChange
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		r.log.WarnContext(ctx, "catalog changes: bad message; flushing the cache", "err", err)
		r.local.Flush()
		return
	}
	if w.From == r.self {
		return
	}
	if w.Flush {
		r.local.Flush()
		return
	}
	if len(w.ProductIDs) > 0 || w.Categories || w.Lists {
		r.local.CatalogChanged(ctx, Change{ProductIDs: w.ProductIDs, Categories: w.Categories, Lists: w.Lists})
	}
	if len(w.CountIDs) > 0 {
		r.local.CatalogChanged(ctx, Change{ProductIDs: w.CountIDs, Counts: true})
	}
}

// Listen subscribes, retrying every few seconds while Redis is unreachable,
// and runs until ctx ends, subscribing again whenever the link is lost.
// Until a subscription is confirmed the local cache is unsure.
func (r *RedisInvalidations) Listen(ctx context.Context) {
	for {
		ps, err := r.Subscribe(ctx)
		if err == nil {
			r.Run(ctx, ps)
		} else if ctx.Err() == nil {
			r.local.SetUnsure(true)
			r.use.Failed(ctx, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
}
