package ratelimit

import (
	"context"
	"errors"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/minimall/minimall/internal/platform/redisx"
)

// Redis keeps buckets in Redis with go-redis/redis_rate: GCRA in one Lua
// script, so a take is one atomic round trip and the bucket's state is one
// key that expires when it is full again. Redis' own clock decides, so
// instances whose clocks differ still agree. While Redis does not answer,
// Take returns the error and the limiter falls back to its own buckets
// (counted and logged once per outage by the redisx use).
type Redis struct {
	use    *redisx.Use
	lim    *redis_rate.Limiter
	prefix string
}

// NewRedis returns buckets in c's Redis under c's prefix, as the use
// "ratelimit".
func NewRedis(c *redisx.Client) (*Redis, error) {
	if c == nil {
		return nil, errors.New("ratelimit: nil redis client")
	}
	return &Redis{use: c.Use("ratelimit"), lim: redis_rate.NewLimiter(c.Redis()), prefix: c.Key("ratelimit", "")}, nil
}

// Take takes one token from key's bucket.
func (r *Redis) Take(ctx context.Context, key string, perMinute, burst int) (bool, time.Duration, error) {
	var res *redis_rate.Result
	err := r.use.Do(ctx, func(ctx context.Context) error {
		var err error
		res, err = r.lim.Allow(ctx, r.prefix+key, redis_rate.Limit{Rate: perMinute, Burst: burst, Period: time.Minute})
		return err
	})
	if err != nil {
		return false, 0, err
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, res.RetryAfter, nil
}
