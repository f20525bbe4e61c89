package wechat

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/cache"

	"github.com/minimall/minimall/internal/platform/redisx"
)

// RedisUse names the access-token cache's use of Redis in logs and in
// minimall_redis_fallback_total.
const RedisUse = "wechat_token"

// RedisCache keeps silenceper's cached values (the access token) in Redis,
// so that every instance uses the same token: WeChat revokes the previous
// token a few minutes after a new one is issued, and instances that each
// fetched their own would keep invalidating one another.
//
// While Redis does not answer, the cache falls back to this process's memory
// (one token per instance, as without Redis) instead of failing: silenceper
// fails the whole token fetch when the cache refuses to store it. The outage
// is logged once and counted by the redisx use.
type RedisCache struct {
	client *redis.Client
	use    *redisx.Use
	prefix string
	local  *cache.Memory
}

// NewRedisCache returns a cache on c; keys are under "<prefix>wechat:".
func NewRedisCache(c *redisx.Client) (*RedisCache, error) {
	if c == nil {
		return nil, errors.New("wechat: nil redis client")
	}
	return &RedisCache{client: c.Redis(), use: c.Use(RedisUse), prefix: c.Key("wechat", ""), local: cache.NewMemory()}, nil
}

// Get returns the string stored under key, or nil.
func (c *RedisCache) Get(key string) interface{} {
	return c.GetContext(context.Background(), key)
}

// GetContext is Get with a context.
func (c *RedisCache) GetContext(ctx context.Context, key string) interface{} {
	var v string
	err := c.use.Do(ctx, func(ctx context.Context) error {
		var err error
		v, err = c.client.Get(ctx, c.prefix+key).Result()
		return err
	})
	switch {
	case err == nil:
		return v
	case errors.Is(err, redis.Nil):
		return nil
	default:
		return c.local.Get(key)
	}
}

// Set stores val (a string) for timeout.
func (c *RedisCache) Set(key string, val interface{}, timeout time.Duration) error {
	return c.SetContext(context.Background(), key, val, timeout)
}

// SetContext is Set with a context.
func (c *RedisCache) SetContext(ctx context.Context, key string, val interface{}, timeout time.Duration) error {
	s, ok := val.(string)
	if !ok {
		return errors.New("wechat: the redis cache stores strings only")
	}
	if err := c.use.Do(ctx, func(ctx context.Context) error { return c.client.Set(ctx, c.prefix+key, s, timeout).Err() }); err != nil {
		return c.local.Set(key, s, timeout)
	}
	return nil
}

// IsExist reports whether key is stored.
func (c *RedisCache) IsExist(key string) bool {
	return c.IsExistContext(context.Background(), key)
}

// IsExistContext is IsExist with a context.
func (c *RedisCache) IsExistContext(ctx context.Context, key string) bool {
	var n int64
	err := c.use.Do(ctx, func(ctx context.Context) error {
		var err error
		n, err = c.client.Exists(ctx, c.prefix+key).Result()
		return err
	})
	if err != nil {
		return c.local.IsExist(key)
	}
	return n > 0
}

// Delete removes key, from Redis and from the fallback.
func (c *RedisCache) Delete(key string) error {
	return c.DeleteContext(context.Background(), key)
}

// DeleteContext is Delete with a context.
func (c *RedisCache) DeleteContext(ctx context.Context, key string) error {
	_ = c.local.Delete(key)
	// A token Redis could not forget is refused by WeChat again and dropped
	// on the next try; the fallback is already clean.
	_ = c.use.Do(ctx, func(ctx context.Context) error { return c.client.Del(ctx, c.prefix+key).Err() })
	return nil
}
