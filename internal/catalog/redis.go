package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
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

// DefaultRedisChannel is the Redis channel that carries catalog changes
// between instances.
const DefaultRedisChannel = "minimall:catalog:changes"

// RedisInvalidations shares catalog changes between instances over a Redis
// channel: CatalogChanged publishes a change, and Run hands every change
// published by any instance (this one included) to the local cache.
//
// Redis pub/sub delivers at most once. A message lost while an instance was
// disconnected only delays that instance until its pages expire, so the
// cache's TTL stays the staleness bound; Run also flushes the local cache
// whenever it (re)subscribes, since changes may have been missed meanwhile.
type RedisInvalidations struct {
	client  *redis.Client
	channel string
	local   Invalidator
	flush   func()
	log     *slog.Logger
}

// NewRedisInvalidations returns the link between client's channel and the
// local cache: local receives every change and flush is called on every
// (re)subscription.
func NewRedisInvalidations(client *redis.Client, channel string, local Invalidator, flush func(), log *slog.Logger) (*RedisInvalidations, error) {
	if client == nil || local == nil || flush == nil || log == nil {
		return nil, errors.New("catalog: nil dependency of the redis invalidations")
	}
	if channel == "" {
		return nil, errors.New("catalog: empty redis channel")
	}
	return &RedisInvalidations{client: client, channel: channel, local: local, flush: flush, log: log}, nil
}

// wireChange is a Change on the wire.
type wireChange struct {
	ProductIDs []int64 `json:"product_ids,omitempty"`
	Categories bool    `json:"categories,omitempty"`
}

// CatalogChanged publishes ch. A failure is logged and not returned: the
// write has committed, and other instances catch up within the TTL.
func (r *RedisInvalidations) CatalogChanged(ctx context.Context, ch Change) {
	b, err := json.Marshal(wireChange{ProductIDs: ch.ProductIDs, Categories: ch.Categories})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		err = r.client.Publish(ctx, r.channel, b).Err()
	}
	if err != nil {
		r.log.WarnContext(ctx, "catalog change not shared; other instances catch up within the cache TTL", "err", err)
	}
}

// Subscribe subscribes to the channel and returns once Redis has confirmed
// it; Run then receives on the subscription. Split in two so that a caller
// (a test, the start-up sequence) knows when changes start to arrive.
func (r *RedisInvalidations) Subscribe(ctx context.Context) (*redis.PubSub, error) {
	ps := r.client.Subscribe(ctx, r.channel)
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, err
	}
	r.flush()
	return ps, nil
}

// Run receives changes on ps until ctx ends, then closes ps. go-redis
// reconnects and resubscribes by itself after a lost connection; each new
// subscription flushes the local cache.
func (r *RedisInvalidations) Run(ctx context.Context, ps *redis.PubSub) {
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	defer ps.Close()
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			r.log.WarnContext(ctx, "catalog changes: redis receive failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				r.flush()
			}
		case *redis.Message:
			var w wireChange
			if err := json.Unmarshal([]byte(m.Payload), &w); err != nil {
				r.log.WarnContext(ctx, "catalog changes: bad message; flushing the cache", "err", err)
				r.flush()
				continue
			}
			r.local.CatalogChanged(ctx, Change{ProductIDs: w.ProductIDs, Categories: w.Categories})
		}
	}
}

// Listen subscribes, retrying every few seconds while Redis is unreachable,
// and then runs until ctx ends. Until the first subscription, the cache's
// TTL alone bounds staleness.
func (r *RedisInvalidations) Listen(ctx context.Context) {
	for {
		ps, err := r.Subscribe(ctx)
		if err == nil {
			r.Run(ctx, ps)
			return
		}
		if ctx.Err() != nil {
			return
		}
		r.log.WarnContext(ctx, "catalog changes: cannot subscribe to redis; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
}
