package catalog

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

// DefaultQuoteEntries is how many SKUs the quote cache holds at most when
// QuoteOptions.Entries is zero.
const DefaultQuoteEntries = 100_000

// QuoteOptions size the quote cache.
type QuoteOptions struct {
	// Entries bounds how many SKUs are held (DefaultQuoteEntries when zero;
	// negative turns the cache off: every quote reads the primary).
	Entries int
	// Life is how long a SKU's facts are used after they were read
	// (DefaultStockLag when zero): how late stock moved by checkouts, and
	// a change made without announcement, show in a quote.
	Life time.Duration
}

// QuoteStats describe the quote cache, for metrics.
type QuoteStats struct {
	// Entries are the SKUs held.
	Entries int
	// Hits are SKUs a quote took from memory; Loads SKUs it read from the
	// primary (not held, past their life, or their product changed since).
	Hits, Loads int64
}

// QuoteCache holds the facts checkout prices from (Item: price, stock,
// shelf state, title, image, spec text), per SKU, so that a checkout of a
// SKU read within the last Life does not read it again before its
// transaction.
//
// What it serves is a quote, never a decision: checkout's stock decrement
// also requires the quoted price (Service.TakeStockAt), so a price changed
// behind the cache rolls the order back to be priced again from the
// primary, and a cached "off shelf" or "short" is read again before a
// checkout is refused. The shelf state is the one fact taken from it as it
// is: every announced product change (CatalogChanged, this instance's staff
// writes and, through Redis, the other instances') drops the product's SKUs
// at once; a change nobody announced shows within Life. Stock and sales
// announcements (Change.Counts) drop nothing: checkouts announce them, and
// dropping a hot SKU at every order would make every order read it.
//
// The version rule (as the read cache's generations): each announced change
// stamps its products' stripe with a new sequence number; a load takes the
// sequence before it reads, and an entry is served only while its product's
// stripe (and the last flush) is not newer than that. A load racing a change
// is therefore never served after the announcement.
type QuoteCache struct {
	store *Store
	clock clock.Clock
	life  time.Duration
	items *otter.Cache[int64, *quoted]
	// seq numbers announcements; stamps holds, per stripe of product ids,
	// the number of the last announcement that touched it, and flushed the
	// number of the last flush.
	seq     atomic.Uint64
	stamps  []atomic.Uint64
	flushed atomic.Uint64

	hits, loads atomic.Int64
}

// quoted is one SKU's facts, read at readAt after announcement number seq.
type quoted struct {
	item   Item
	readAt time.Time
	seq    uint64
}

// NewQuoteCache returns an empty quote cache over store.
func NewQuoteCache(store *Store, clk clock.Clock, o QuoteOptions) (*QuoteCache, error) {
	if store == nil || clk == nil {
		return nil, errors.New("catalog: nil dependency of the quote cache")
	}
	if o.Life < 0 {
		return nil, errors.New("catalog: negative quote cache life")
	}
	if o.Life == 0 {
		o.Life = DefaultStockLag
	}
	c := &QuoteCache{store: store, clock: clk, life: o.Life}
	if o.Entries < 0 {
		return c, nil
	}
	if o.Entries == 0 {
		o.Entries = DefaultQuoteEntries
	}
	items, err := otter.New(&otter.Options[int64, *quoted]{
		MaximumSize: o.Entries,
		// The cache's own clock frees memory; whether an entry may be
		// served is decided on the catalog's clock (usable).
		ExpiryCalculator: otter.ExpiryWriting[int64, *quoted](o.Life),
	})
	if err != nil {
		return nil, err
	}
	c.items, c.stamps = items, make([]atomic.Uint64, 1<<stripeBits)
	return c, nil
}

// raise moves v up to n, never down.
func raise(v *atomic.Uint64, n uint64) {
	for {
		old := v.Load()
		if old >= n || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// CatalogChanged drops the SKUs of the changed products, unless only their
// stock or sales moved (see QuoteCache).
func (c *QuoteCache) CatalogChanged(_ context.Context, ch Change) {
	if c.items == nil || ch.Counts {
		return
	}
	for _, id := range ch.ProductIDs {
		raise(&c.stamps[stripe(id)], c.seq.Add(1))
	}
}

// Flush drops every SKU, e.g. when changes from other instances may have
// been missed.
func (c *QuoteCache) Flush() {
	if c.items != nil {
		raise(&c.flushed, c.seq.Add(1))
	}
}

// SetUnsure does nothing: quotes never live longer than the stock lag, the
// bound the read cache falls back to while changes may be missed.
func (c *QuoteCache) SetUnsure(bool) {}

// Stats returns the cache's size and counters.
func (c *QuoteCache) Stats() QuoteStats {
	s := QuoteStats{Hits: c.hits.Load(), Loads: c.loads.Load()}
	if c.items != nil {
		s.Entries = c.items.EstimatedSize()
	}
	return s
}

// usable tells whether e may be served at now: read within the life, and
// no announcement or flush touched its product since its read began.
func (c *QuoteCache) usable(e *quoted, now time.Time) bool {
	if age := now.Sub(e.readAt); age < 0 || age >= c.life {
		return false
	}
	return c.stamps[stripe(e.item.ProductID)].Load() <= e.seq && c.flushed.Load() <= e.seq
}

// Items returns the facts of skuIDs, from memory where it may and from the
// primary for the others; unknown ids are absent from the map.
func (c *QuoteCache) Items(ctx context.Context, skuIDs []int64) (map[int64]Item, error) {
	if c.items == nil {
		return c.Load(ctx, skuIDs)
	}
	out := make(map[int64]Item, len(skuIDs))
	now := c.clock.Now()
	var missing []int64
	for _, id := range skuIDs {
		if e, ok := c.items.GetIfPresent(id); ok && c.usable(e, now) {
			out[id] = e.item
			continue
		}
		missing = append(missing, id)
	}
	c.hits.Add(int64(len(skuIDs) - len(missing)))
	if len(missing) == 0 {
		return out, nil
	}
	loaded, err := c.Load(ctx, missing)
	if err != nil {
		return nil, err
	}
	for id, it := range loaded {
		out[id] = it
	}
	return out, nil
}

// Load reads skuIDs from the primary, keeps what it read for later quotes
// and returns it; unknown ids are absent from the map.
func (c *QuoteCache) Load(ctx context.Context, skuIDs []int64) (map[int64]Item, error) {
	// The sequence is taken before the read: an announcement made after it
	// (its change possibly missed by the read) outdates what is stored.
	seq := c.seq.Load()
	readAt := c.clock.Now()
	items, err := c.store.Items(db.ReadPrimary(ctx), skuIDs)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	c.loads.Add(int64(len(skuIDs)))
	if c.items == nil {
		return items, nil
	}
	for id, it := range items {
		e := &quoted{item: it, readAt: readAt, seq: seq}
		if !c.usable(e, readAt) {
			continue // outdated already: never served
		}
		c.items.Compute(id, func(old *quoted, found bool) (*quoted, otter.ComputeOp) {
			if found && (old.seq > e.seq || old.seq == e.seq && old.readAt.After(e.readAt)) {
				return old, otter.CancelOp
			}
			return e, otter.WriteOp
		})
	}
	return items, nil
}

// Listeners hand what the Redis link hears to several local caches (the
// read cache and the quote cache).
type Listeners []Listener

// CatalogChanged tells every member.
func (all Listeners) CatalogChanged(ctx context.Context, ch Change) {
	for _, l := range all {
		l.CatalogChanged(ctx, ch)
	}
}

// Flush flushes every member.
func (all Listeners) Flush() {
	for _, l := range all {
		l.Flush()
	}
}

// SetUnsure tells every member.
func (all Listeners) SetUnsure(unsure bool) {
	for _, l := range all {
		l.SetUnsure(unsure)
	}
}
