package wechat

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCache keeps silenceper's cached values (the access token) in Redis,
// so that every instance uses the same token: WeChat revokes the previous
// token a few minutes after a new one is issued, and instances that each
// fetched their own would keep invalidating one another.
type RedisCache struct {
	client *redis.Client
	prefix string
}

// NewRedisCache returns a cache on client; keys are prefixed with
// "minimall:wechat:".
func NewRedisCache(client *redis.Client) (*RedisCache, error) {
	if client == nil {
		return nil, errors.New("wechat: nil redis client")
	}
	return &RedisCache{client: client, prefix: "minimall:wechat:"}, nil
}

// redisTimeout bounds one cache operation; silenceper's Cache interface has
// no context.
const redisTimeout = 2 * time.Second

// Get returns the string stored under key, or nil.
func (c *RedisCache) Get(key string) interface{} {
	return c.GetContext(context.Background(), key)
}

// GetContext is Get with a context.
func (c *RedisCache) GetContext(ctx context.Context, key string) interface{} {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	v, err := c.client.Get(ctx, c.prefix+key).Result()
	if err != nil {
		return nil
	}
	return v
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
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	return c.client.Set(ctx, c.prefix+key, s, timeout).Err()
}

// IsExist reports whether key is stored.
func (c *RedisCache) IsExist(key string) bool {
	return c.IsExistContext(context.Background(), key)
}

// IsExistContext is IsExist with a context.
func (c *RedisCache) IsExistContext(ctx context.Context, key string) bool {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	n, err := c.client.Exists(ctx, c.prefix+key).Result()
	return err == nil && n > 0
}

// Delete removes key.
func (c *RedisCache) Delete(key string) error {
	return c.DeleteContext(context.Background(), key)
}

// DeleteContext is Delete with a context.
func (c *RedisCache) DeleteContext(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	return c.client.Del(ctx, c.prefix+key).Err()
}
