package cart

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
)

// DefaultCacheEntries is how many customers' carts the cache holds at most
// when WithCache is not given.
const DefaultCacheEntries = 100_000

// versionStripeBits sizes the table of this instance's cart versions:
// 65,536 counters (512 KiB) shared by all customers, so that a write to one
// cart makes at most a handful of others reload once.
const versionStripeBits = 16

// Versions hold each customer's cart version, which every committed change
// to the customer's cart moves. Instances that share one Versions (Redis)
// see each other's writes on the next read.
type Versions interface {
	// Version returns the customer's current version. An error means it
	// cannot be known now: the cart is then read from the database.
	Version(ctx context.Context, customerID int64) (uint64, error)
	// Bump moves the customer's version after a committed change. An error
	// means the other instances may not hear of the change: they show it
	// within the cache's life instead.
	Bump(ctx context.Context, customerID int64) error
}

// CacheOptions size the cart cache.
type CacheOptions struct {
	// Entries bounds how many customers' carts are held; 0 turns the cache
	// off (every read joins the tables).
	Entries int
	// Life is how long a cart is served after its rows were read: how late
	// a price, stock or shelf change shows in a cart that its customer did
	// not change (catalog.DefaultStockLag when zero).
	Life time.Duration
	// Versions are shared by the instances (RedisVersions); nil keeps them
	// in this process, which is right for one instance only.
	Versions Versions
}

// Option tunes a Service.
type Option func(*Service)

// WithCache sizes the cart cache. Without it a Service caches
// DefaultCacheEntries carts for catalog.DefaultStockLag, with versions kept in
// this process.
func WithCache(o CacheOptions) Option { return func(s *Service) { s.cacheOpts = o } }

// CacheStats describe the cart cache, for metrics.
type CacheStats struct {
	// Entries are the carts held.
	Entries int
	// Hits are reads served from memory; Loads reads that joined the tables
	// (no entry, an entry of an older version or past its life, or a
	// version that could not be known).
	Hits, Loads int64
}

// cache holds customers' cart views, each tagged with the cart version
// taken before its rows were read and served only while the customer's
// version is still that one and for at most its life (see Service.Get).
type cache struct {
	views *otter.Cache[int64, *cached]
	clock clock.Clock
	life  time.Duration
	// local are this instance's versions, one per stripe of customer ids,
	// moved by every write made here; shared, when set, are the versions
	// all instances move. An entry must match both.
	local  []atomic.Uint64
	shared Versions

	hits, loads atomic.Int64
}

// version is a cart's version as a read took it.
type version struct {
	local, shared uint64
}

// cached is one customer's views, read at readAt under ver.
type cached struct {
	views  []View
	readAt time.Time
	ver    version
}

func newCache(clk clock.Clock, o CacheOptions) (*cache, error) {
	if o.Entries < 0 || o.Life < 0 {
		return nil, errors.New("cart: negative cache option")
	}
	if o.Life == 0 {
		o.Life = catalog.DefaultStockLag
	}
	views, err := otter.New(&otter.Options[int64, *cached]{
		MaximumSize: o.Entries,
		// The cache's own clock frees memory; whether an entry may be
		// served is decided on the service's clock (fresh).
		ExpiryCalculator: otter.ExpiryWriting[int64, *cached](o.Life),
	})
	if err != nil {
		return nil, err
	}
	return &cache{views: views, clock: clk, life: o.Life, local: make([]atomic.Uint64, 1<<versionStripeBits),
		shared: o.Versions}, nil
}

// stripe spreads customer ids over the local versions (Fibonacci hashing).
func stripe(id int64) int { return int(uint64(id) * 0x9E3779B97F4A7C15 >> (64 - versionStripeBits)) }

// version returns the customer's version now, and false when the shared
// version cannot be known (the read must then neither use nor fill the
// cache). The local version is taken first: a write moves it first too.
func (c *cache) version(ctx context.Context, customerID int64) (version, bool) {
	v := version{local: c.local[stripe(customerID)].Load()}
	if c.shared == nil {
		return v, true
	}
	n, err := c.shared.Version(ctx, customerID)
	if err != nil {
		return v, false
	}
	v.shared = n
	return v, true
}

// get returns a copy of the customer's views if they were read under ver
// less than the cache's life before now.
func (c *cache) get(customerID int64, ver version, now time.Time) ([]View, bool) {
	e, ok := c.views.GetIfPresent(customerID)
	if !ok || e.ver != ver {
		return nil, false
	}
	if age := now.Sub(e.readAt); age < 0 || age >= c.life {
		return nil, false
	}
	c.hits.Add(1)
	return slices.Clone(e.views), true
}

// put keeps a copy of views read at readAt under ver, unless a write on
// this instance moved the version meanwhile (it would never be served).
func (c *cache) put(customerID int64, ver version, readAt time.Time, views []View) {
	if c.local[stripe(customerID)].Load() != ver.local {
		return
	}
	c.views.Set(customerID, &cached{views: slices.Clone(views), readAt: readAt, ver: ver})
}

// bump moves the customer's version after a committed write: the local one
// at once, so this instance never serves views read before the write, then
// the shared one for the others. The entry goes too, to free its memory.
func (c *cache) bump(ctx context.Context, customerID int64) {
	c.local[stripe(customerID)].Add(1)
	c.views.Invalidate(customerID)
	if c.shared != nil {
		// A failure is counted and logged by the shared versions (redisx);
		// the other instances show the write within the cache's life.
		_ = c.shared.Bump(ctx, customerID)
	}
}

func (c *cache) stats() CacheStats {
	return CacheStats{Entries: c.views.EstimatedSize(), Hits: c.hits.Load(), Loads: c.loads.Load()}
}
