package cart

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/minimall/minimall/internal/platform/redisx"
)

// RedisUse names the cart versions' use of Redis in logs and in
// minimall_redis_fallback_total.
const RedisUse = "cart_version"

// RedisVersionTTL is how long a customer's version key outlives the last
// write to the cart. A key that expired reads as version 0, which no cached
// cart can still carry by then: a cart is cached for seconds.
const RedisVersionTTL = 24 * time.Hour

// RedisVersions keep each customer's cart version in Redis, under
// "<prefix>cart:version:<customer id>", so that every instance sees a write
// made on another on its next read: a write INCRs the key (and refreshes its
// expiry), a read GETs it, a missing key is version 0.
//
// While Redis does not answer, reads get an error (and go to the database)
// and bumps are lost: the outage is logged once and every such operation
// counts in minimall_redis_fallback_total{use="cart_version"} (redisx).
type RedisVersions struct {
	client *redis.Client
	use    *redisx.Use
	prefix string
}

// NewRedisVersions returns the versions kept in c.
func NewRedisVersions(c *redisx.Client) (*RedisVersions, error) {
	if c == nil {
		return nil, errors.New("cart: nil redis client")
	}
	return &RedisVersions{client: c.Redis(), use: c.Use(RedisUse), prefix: c.Key("cart", "version", "")}, nil
}

func (v *RedisVersions) key(customerID int64) string {
	return v.prefix + strconv.FormatInt(customerID, 10)
}

// Version returns the customer's version; a missing key is version 0.
func (v *RedisVersions) Version(ctx context.Context, customerID int64) (uint64, error) {
	var n uint64
	err := v.use.Do(ctx, func(ctx context.Context) error {
		var err error
		n, err = v.client.Get(ctx, v.key(customerID)).Uint64()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// Bump moves the customer's version by one and keeps the key for
// RedisVersionTTL, in one round trip.
func (v *RedisVersions) Bump(ctx context.Context, customerID int64) error {
	k := v.key(customerID)
	return v.use.Do(ctx, func(ctx context.Context) error {
		_, err := v.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, k)
			p.Expire(ctx, k, RedisVersionTTL)
			return nil
		})
		return err
	})
}
