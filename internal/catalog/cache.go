package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"
	"golang.org/x/sync/singleflight"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Defaults of the read cache.
const (
	// DefaultCacheTTL is the safety TTL of a cached page: however quiet its
	// product, a page is served for at most this long after its rows were
	// read. Announced changes drop pages long before.
	DefaultCacheTTL = 5 * time.Minute
	// DefaultStockLag is how late a detail page may show stock and sales
	// after a checkout, cancel, return or the sales job moved them. It is
	// also the short TTL of every page while changes made on other
	// instances may have been missed.
	DefaultStockLag = 2 * time.Second
	// DefaultListTTL is the schedule of list pages: sales figures (and the
	// order by sales) on a list page are at most this old. Changes that
	// move products in or out of lists, or reorder them by price, drop
	// every list page at once.
	DefaultListTTL = 30 * time.Second
	// DefaultCacheMaxBytes is the byte budget of the cached pages.
	DefaultCacheMaxBytes = 256 << 20
	// entryOverhead approximates what a page costs besides its body: the
	// entry, its key and the cache's node and hash table slot.
	entryOverhead = 240
	// refreshBatch is how many products one refresh query reads.
	refreshBatch = 200
	// refreshQueue is how many pages may wait for a refresh ahead of their
	// expiry; when it is full, a page is loaded by the read that finds it
	// expired instead.
	refreshQueue = 8192
	// stripeBits sizes the generation tables: 65,536 stripes of two
	// counters (1 MiB), so that a change to one product makes at most a
	// handful of others reload early.
	stripeBits = 16
)

// CacheOptions tune the read cache; zero values take the defaults.
type CacheOptions struct {
	// TTL is the safety TTL (DefaultCacheTTL).
	TTL time.Duration
	// StockLag bounds how late stock and sales show (DefaultStockLag).
	StockLag time.Duration
	// ListTTL is the refresh schedule of list pages (DefaultListTTL).
	ListTTL time.Duration
	// MaxBytes is the byte budget of the cached pages (DefaultCacheMaxBytes).
	MaxBytes int64
	// ReplicaWindow, when the database has read replicas, is how long after
	// a commit a serving replica may still lack it (db.DB.ReplicaWindow).
	// Pages load from a replica, except those of products (and lists)
	// announced as changed within the window, which load from the primary,
	// so an announced change is never undone by a replica's older rows.
	ReplicaWindow time.Duration
	// OnReload, when set, is told, for each detail page loaded again, how
	// long after the previous load of the same product it was read: the
	// reload interval per product, which /metrics shows as a histogram.
	OnReload func(since time.Duration)
}

// Cache serves the public product detail and the public product list
// (category pages and keyword search) as JSON bytes serialised once per load.
//
// Freshness is driven by announced changes (see Change): every committed
// change to what a public page shows calls CatalogChanged after commit, on
// this instance and, through Redis, on the others.
//   - A staff write, a rating: the product's detail page is not served again;
//     a staff product write or a shelf change also drops every list page.
//   - Stock and sales (Change.Counts): a detail page read before the change is
//     served for at most StockLag after its read, so a product selling a
//     thousand units a second reloads about once per StockLag, not a
//     thousand times.
//   - List pages live for ListTTL: the sales figures and the sales order on
//     them are at most that old.
//   - Any page lives at most TTL (the safety TTL), and at most StockLag while
//     changes from other instances may have been missed (SetUnsure).
//
// The generation rule: a change bumps a generation counter (per product
// stripe, or for all lists) after its commit; a page remembers the
// generation taken before its rows were read and is never served once it
// differs. A page loaded while a change was being committed is therefore
// never served after the announcement, whichever of the load or the
// announcement finishes first.
//
// Pages read in their last quarter of life are reloaded ahead of it by
// RunRefresher (detail pages in batches of a few hundred products, two
// statements a batch), so a page in demand rarely makes a customer wait for
// the database. Concurrent misses of one page share one load (singleflight).
//
// Memory is bounded by MaxBytes, counted as the bytes of the serialised
// bodies plus a fixed overhead per page, and eviction is W-TinyLFU (otter):
// a page read once does not push out pages read often.
//
// Checkout, payment, stock decisions and staff reads never use it.
type Cache struct {
	store    *Store
	clock    clock.Clock
	ttl      time.Duration
	lag      time.Duration
	listTTL  time.Duration
	onReload func(time.Duration)
	pages    *otter.Cache[pageKey, *entry]
	flight   singleflight.Group
	// seed keys the fingerprints of detail pages.
	seed maphash.Seed
	// due holds the pages to reload ahead of their expiry.
	due chan pageKey

	// epoch moves on Flush; listGen when every list page must go; pageGen
	// and countGen per stripe of product ids, when a product's page must go
	// at once and when its stock or sales moved.
	epoch    atomic.Uint64
	listGen  atomic.Uint64
	pageGen  []atomic.Uint64
	countGen []atomic.Uint64
	// unsure is set while changes from other instances may be missed.
	unsure atomic.Bool

	// With read replicas: when each stripe, the lists and everything were
	// last announced as changed (unix nanoseconds of the cache's clock).
	window                   time.Duration
	changedAt                []atomic.Int64
	listChangedAt, flushedAt atomic.Int64

	hits, misses, detailLoads, listLoads atomic.Int64
}

// pageKey names a page: a product's detail (list empty) or a list page.
type pageKey struct {
	product int64
	list    string
}

// generations is what a page remembers of the counters as they were
// before its rows were read.
type generations struct {
	epoch, gen, counts uint64
}

// entry is one cached page: its JSON body, or the not-found error it
// answers, when its rows were read and the generations they belong to.
type entry struct {
	body   []byte
	err    error
	readAt time.Time
	gens   generations
	size   uint32
	// queued is set while the page waits for a refresh ahead of expiry.
	queued atomic.Bool
	// fp fingerprints the rows of a detail page and known tells whether
	// the product existed, so that a refresh reuses an unchanged body.
	fp    uint64
	known bool
	// list is the query of a list page, to reload it.
	list *listQuery
}

// listQuery is a list page's query.
type listQuery struct {
	q    ProductQuery
	page httpx.Page
}

// NewCache returns an empty read cache over store.
func NewCache(store *Store, clk clock.Clock, o CacheOptions) (*Cache, error) {
	if store == nil || clk == nil {
		return nil, errors.New("catalog: nil dependency of the cache")
	}
	if o.TTL < 0 || o.StockLag < 0 || o.ListTTL < 0 || o.MaxBytes < 0 {
		return nil, errors.New("catalog: negative cache option")
	}
	if o.TTL == 0 {
		o.TTL = DefaultCacheTTL
	}
	if o.StockLag == 0 {
		o.StockLag = DefaultStockLag
	}
	if o.ListTTL == 0 {
		o.ListTTL = DefaultListTTL
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultCacheMaxBytes
	}
	if o.OnReload == nil {
		o.OnReload = func(time.Duration) {}
	}
	pages, err := otter.New(&otter.Options[pageKey, *entry]{
		MaximumWeight: uint64(o.MaxBytes),
		Weigher:       func(_ pageKey, e *entry) uint32 { return e.size },
		StatsRecorder: stats.NewCounter(),
	})
	if err != nil {
		return nil, err
	}
	if o.ReplicaWindow < 0 {
		return nil, errors.New("catalog: negative replica window")
	}
	c := &Cache{store: store, clock: clk, ttl: o.TTL, lag: min(o.StockLag, o.TTL), listTTL: min(o.ListTTL, o.TTL),
		onReload: o.OnReload, pages: pages, seed: maphash.MakeSeed(), due: make(chan pageKey, refreshQueue),
		pageGen: make([]atomic.Uint64, 1<<stripeBits), countGen: make([]atomic.Uint64, 1<<stripeBits),
		window: o.ReplicaWindow}
	if c.window > 0 {
		c.changedAt = make([]atomic.Int64, 1<<stripeBits)
	}
	return c, nil
}

// loadCtx returns the context for loading pages of ids (none: a list page):
// marked for a replica, unless one of them, the lists or the whole cache
// was announced as changed within the replica window, which a replica may
// not have applied yet.
func (c *Cache) loadCtx(ctx context.Context, ids []int64) context.Context {
	if c.window <= 0 {
		return ctx
	}
	since := c.clock.Now().Add(-c.window).UnixNano()
	recent := c.flushedAt.Load() > since
	if ids == nil {
		recent = recent || c.listChangedAt.Load() > since
	}
	for _, id := range ids {
		if recent {
			break
		}
		recent = c.changedAt[stripe(id)].Load() > since
	}
	if recent {
		return db.ReadPrimary(ctx)
	}
	return db.MayReadReplica(ctx)
}

// splitRecent separates the products announced as changed within the
// replica window (read from the primary) from the others.
func (c *Cache) splitRecent(ids []int64) (settled, recent []int64) {
	if c.window <= 0 {
		return ids, nil
	}
	since := c.clock.Now().Add(-c.window).UnixNano()
	if c.flushedAt.Load() > since {
		return nil, ids
	}
	for _, id := range ids {
		if c.changedAt[stripe(id)].Load() > since {
			recent = append(recent, id)
		} else {
			settled = append(settled, id)
		}
	}
	return settled, recent
}

// TTL returns the cache's safety TTL.
func (c *Cache) TTL() time.Duration { return c.ttl }

// StockLag returns how late stock and sales may show on a detail page.
func (c *Cache) StockLag() time.Duration { return c.lag }

// ListTTL returns the refresh schedule of list pages.
func (c *Cache) ListTTL() time.Duration { return c.listTTL }

// CacheStats describe the cache, for metrics and tests.
type CacheStats struct {
	Entries int
	Bytes   int64
	// Hits are reads served from memory; Misses reads that waited for a load.
	Hits   int64
	Misses int64
	// DetailLoads and ListLoads count pages read from the database, on a
	// request or ahead of expiry.
	DetailLoads int64
	ListLoads   int64
	// Evictions are pages dropped to stay within the byte budget.
	Evictions int64
	// Unsure is set while changes from other instances may be missed.
	Unsure bool
}

// Stats returns the cache's current size and counters. The cache applies
// writes and evictions in batches; Stats first applies what is pending, so
// the size it reports is the one the budget holds to, not a moment behind.
func (c *Cache) Stats() CacheStats {
	c.pages.CleanUp()
	return CacheStats{Entries: c.pages.EstimatedSize(), Bytes: int64(c.pages.WeightedSize()),
		Hits: c.hits.Load(), Misses: c.misses.Load(), DetailLoads: c.detailLoads.Load(), ListLoads: c.listLoads.Load(),
		Evictions: int64(c.pages.Stats().Evictions), Unsure: c.unsure.Load()}
}

// stripe spreads product ids over the generation tables (Fibonacci hashing).
func stripe(id int64) int { return int(uint64(id) * 0x9E3779B97F4A7C15 >> (64 - stripeBits)) }

// CatalogChanged applies a committed change: see Cache and Change. It only
// moves counters, so it costs the same however many pages are cached.
func (c *Cache) CatalogChanged(_ context.Context, ch Change) {
	if c.window > 0 {
		// Before the generations move: a load that sees the new
		// generation also sees the change time and reads the primary.
		now := c.clock.Now().UnixNano()
		for _, id := range ch.ProductIDs {
			c.changedAt[stripe(id)].Store(now)
		}
		if ch.Lists || ch.Categories {
			c.listChangedAt.Store(now)
		}
	}
	for _, id := range ch.ProductIDs {
		if ch.Counts {
			c.countGen[stripe(id)].Add(1)
		} else {
			c.pageGen[stripe(id)].Add(1)
		}
	}
	if ch.Lists || ch.Categories {
		c.listGen.Add(1)
	}
}

// Flush drops every page, e.g. when changes from other instances may have
// been missed.
func (c *Cache) Flush() {
	if c.window > 0 {
		c.flushedAt.Store(c.clock.Now().UnixNano())
	}
	c.epoch.Add(1)
}

// SetUnsure shortens the life of every page to the stock lag while changes
// made on other instances may be missed (the Redis link is down), and
// restores the long TTL when it is cleared.
func (c *Cache) SetUnsure(unsure bool) { c.unsure.Store(unsure) }

func (c *Cache) detailGens(id int64) generations {
	s := stripe(id)
	return generations{epoch: c.epoch.Load(), gen: c.pageGen[s].Load(), counts: c.countGen[s].Load()}
}

func (c *Cache) listGens() generations {
	return generations{epoch: c.epoch.Load(), gen: c.listGen.Load()}
}

// state of a cached page.
type state int

const (
	stale state = iota // not to be served
	fresh
	due // served, and to be reloaded ahead of its expiry
)

// check tells whether e may be served at now given the current
// generations: a page whose generation moved is stale at once; otherwise it
// lives for life, or for the stock lag when its counts moved or the cache is
// unsure, and is due for a refresh in its last quarter.
func (c *Cache) check(e *entry, cur generations, now time.Time, life time.Duration) state {
	if e.gens.epoch != cur.epoch || e.gens.gen != cur.gen {
		return stale
	}
	if e.gens.counts != cur.counts || c.unsure.Load() {
		life = min(life, c.lag)
	}
	age := now.Sub(e.readAt)
	switch {
	case age >= life:
		return stale
	case age >= life-life/4:
		return due
	}
	return fresh
}

// enqueue asks the refresher to reload k ahead of its expiry, once.
func (c *Cache) enqueue(k pageKey, e *entry) {
	if !e.queued.CompareAndSwap(false, true) {
		return
	}
	select {
	case c.due <- k:
	default:
		e.queued.Store(false)
	}
}

// put stores e unless a change that drops pages was announced since its
// rows were read, or a page read later under the same generations is there.
// A stock or sales announcement does not stop it: such a page is served for
// the stock lag after its read (see check), which is what coalesces a hot
// product's reloads while checkouts keep announcing.
func (c *Cache) put(k pageKey, e *entry, cur generations) {
	if e.gens.epoch != cur.epoch || e.gens.gen != cur.gen {
		return
	}
	c.pages.Compute(k, func(old *entry, found bool) (*entry, otter.ComputeOp) {
		if found && old.gens.epoch == e.gens.epoch && old.gens.gen == e.gens.gen && old.readAt.After(e.readAt) {
			return old, otter.CancelOp
		}
		return e, otter.WriteOp
	})
}

// Product returns the public detail of an on-shelf product as JSON, or the
// not-found error an off-shelf or unknown product answers.
func (c *Cache) Product(ctx context.Context, id int64) ([]byte, error) {
	k := pageKey{product: id}
	gens := c.detailGens(id)
	now := c.clock.Now()
	if e, ok := c.pages.GetIfPresent(k); ok {
		switch c.check(e, gens, now, c.ttl) {
		case fresh:
			c.hits.Add(1)
			return e.body, e.err
		case due:
			c.hits.Add(1)
			c.enqueue(k, e)
			return e.body, e.err
		}
	}
	c.misses.Add(1)
	key := "d" + strconv.FormatInt(id, 10) + "/" + strconv.FormatUint(gens.epoch, 10) + "/" + strconv.FormatUint(gens.gen, 10)
	v, err, _ := c.flight.Do(key, func() (any, error) {
		// A load that finished between our look and this call has stored
		// the page already.
		old, ok := c.pages.GetIfPresent(k)
		if ok && c.check(old, c.detailGens(id), c.clock.Now(), c.ttl) != stale {
			return old, nil
		}
		gens := c.detailGens(id)
		readAt := c.clock.Now()
		rows, err := c.store.publicRowsOf(c.loadCtx(context.WithoutCancel(ctx), []int64{id}), []int64{id}, c.seed)
		if err != nil {
			return nil, apperr.Internal(err)
		}
		e, err := c.detailPage(rows, id, readAt, gens, old)
		if err != nil {
			return nil, err
		}
		c.put(k, e, c.detailGens(id))
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	e := v.(*entry)
	return e.body, e.err
}

// detailPage makes the page of id from rows read at readAt under gens,
// reusing old's body when the rows are unchanged, and counts the load.
func (c *Cache) detailPage(rows map[int64]*publicRows, id int64, readAt time.Time, gens generations, old *entry) (*entry, error) {
	e, err := publicEntry(rows, id, readAt, old)
	if err != nil {
		return nil, err
	}
	e.gens = gens
	c.detailLoads.Add(1)
	if old != nil {
		c.onReload(readAt.Sub(old.readAt))
	}
	return e, nil
}

// publicEntry is the detail page of id among rows read at readAt: the
// product's public body, or not found when it is unknown or off shelf. When
// the rows are those old was made of, old's body is reused as it is.
func publicEntry(rows map[int64]*publicRows, id int64, readAt time.Time, old *entry) (*entry, error) {
	r, known := rows[id]
	var fp uint64
	if known {
		fp = r.fp
	}
	if old != nil && old.list == nil && old.known == known && old.fp == fp {
		e := &entry{readAt: readAt}
		e.body, e.err, e.size, e.fp, e.known = old.body, old.err, old.size, fp, known
		return e, nil
	}
	var p Product
	var notFound error
	if known {
		p = r.decode()
	}
	if !known || !p.OnShelf {
		notFound = apperr.NotFound("product")
	}
	e, err := detailEntry(p, notFound, readAt)
	if err != nil {
		return nil, err
	}
	e.fp, e.known = fp, known
	return e, nil
}

func detailEntry(p Product, notFound error, readAt time.Time) (*entry, error) {
	e := &entry{readAt: readAt, err: notFound}
	if notFound == nil {
		b, err := json.Marshal(PublicProductBody(p))
		if err != nil {
			return nil, apperr.Internal(err)
		}
		e.body = b
	}
	e.size = weight(len(e.body) + entryOverhead)
	return e, nil
}

// weight is a page's size as the byte budget counts it.
func weight(n int) uint32 { return uint32(min(n, 1<<31)) }

// Products returns one page of the public product list as JSON, in the
// list envelope, or the error the query answers (a hidden or unknown
// category is not found).
func (c *Cache) Products(ctx context.Context, q ProductQuery, page httpx.Page) ([]byte, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	key, err := listKey(q, page)
	if err != nil {
		return nil, err
	}
	k := pageKey{list: key}
	gens := c.listGens()
	now := c.clock.Now()
	if e, ok := c.pages.GetIfPresent(k); ok {
		switch c.check(e, gens, now, c.listTTL) {
		case fresh:
			c.hits.Add(1)
			return e.body, e.err
		case due:
			c.hits.Add(1)
			c.enqueue(k, e)
			return e.body, e.err
		}
	}
	c.misses.Add(1)
	v, err, _ := c.flight.Do("l"+key+"/"+strconv.FormatUint(gens.epoch, 10)+"/"+strconv.FormatUint(gens.gen, 10), func() (any, error) {
		if e, ok := c.pages.GetIfPresent(k); ok && c.check(e, c.listGens(), c.clock.Now(), c.listTTL) != stale {
			return e, nil
		}
		gens := c.listGens()
		e, err := c.loadList(c.loadCtx(context.WithoutCancel(ctx), nil), &listQuery{q: q, page: page}, nil, c.clock.Now())
		if err != nil {
			return nil, err
		}
		e.gens = gens
		e.size += weight(len(key))
		c.put(k, e, c.listGens())
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	e := v.(*entry)
	return e.body, e.err
}

// listKey names a validated query: two spellings of one keyword that cut
// into the same tokens share a page.
func listKey(q ProductQuery, page httpx.Page) (string, error) {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(q.CategoryID, 10))
	b.WriteByte('|')
	b.WriteString(q.Sort)
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(page.Page))
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(page.PageSize))
	b.WriteByte('|')
	if q.Q != "" {
		tokens, err := QueryTokens(q.Q)
		if err != nil {
			return "", err
		}
		b.WriteString(strings.Join(tokens, "\x00"))
	}
	return b.String(), nil
}

// loadList loads a list page read at readAt; cats is the category table if
// the caller has read it already (at or after readAt), else nil.
func (c *Cache) loadList(ctx context.Context, lq *listQuery, cats []Category, readAt time.Time) (*entry, error) {
	e := &entry{readAt: readAt, list: lq}
	items, total, err := publicProducts(ctx, c.store, lq.q, cats)
	switch {
	case apperr.Is(err, apperr.CodeNotFound):
		e.err = err
	case err != nil:
		return nil, err
	default:
		if e.body, err = PublicListBody(items, total, lq.page); err != nil {
			return nil, apperr.Internal(err)
		}
	}
	c.listLoads.Add(1)
	e.size = weight(len(e.body) + entryOverhead)
	return e, nil
}

// PublicListBody serialises a page of the public product list.
func PublicListBody(items []Product, total int64, page httpx.Page) ([]byte, error) {
	out := make([]ProductSummary, len(items))
	for i, p := range items {
		out[i] = ProductSummary{ID: p.ID, Title: p.Title, MainImage: p.MainImage(), MinPriceFen: p.MinPriceFen, Sales: p.Sales}
	}
	return json.Marshal(httpx.NewList(out, total, page))
}

// RefreshDue reloads the pages waiting for a refresh ahead of their expiry
// and returns the first error it met, after trying every page: detail pages
// in batches of a few hundred products (two statements a batch), list pages
// one by one after one read of the category table. RunRefresher calls it
// whenever pages are waiting; tests call it directly.
func (c *Cache) RefreshDue(ctx context.Context) error {
	var keys []pageKey
	for {
		select {
		case k := <-c.due:
			keys = append(keys, k)
			continue
		default:
		}
		break
	}
	return c.refresh(ctx, keys)
}

func (c *Cache) refresh(ctx context.Context, keys []pageKey) error {
	var ids []int64
	var lists []pageKey
	for _, k := range keys {
		if k.list == "" {
			ids = append(ids, k.product)
		} else {
			lists = append(lists, k)
		}
	}
	var first error
	for start := 0; start < len(ids); start += refreshBatch {
		if err := c.refreshProducts(ctx, ids[start:min(start+refreshBatch, len(ids))]); err != nil && first == nil {
			first = err
		}
	}
	if len(lists) > 0 {
		// One read of the category table serves every list page of the
		// round; the pages count as read when it began.
		gens := c.listGens()
		readAt := c.clock.Now()
		ctx := c.loadCtx(ctx, nil)
		cats, err := c.store.Categories(ctx)
		for _, k := range lists {
			old, ok := c.pages.GetIfPresent(k)
			if !ok || old.list == nil {
				continue
			}
			if err != nil {
				old.queued.Store(false)
				continue
			}
			e, err := c.loadList(ctx, old.list, cats, readAt)
			if err != nil {
				old.queued.Store(false)
				if first == nil {
					first = err
				}
				continue
			}
			e.gens = gens
			e.size += weight(len(k.list))
			c.put(k, e, c.listGens())
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (c *Cache) refreshProducts(ctx context.Context, ids []int64) error {
	olds := make(map[int64]*entry, len(ids))
	gens := make(map[int64]generations, len(ids))
	for _, id := range ids {
		if e, ok := c.pages.GetIfPresent(pageKey{product: id}); ok {
			olds[id] = e
		}
		gens[id] = c.detailGens(id)
	}
	readAt := c.clock.Now()
	rows, err := c.rowsOf(ctx, ids)
	if err != nil {
		for _, e := range olds {
			e.queued.Store(false)
		}
		return err
	}
	for _, id := range ids {
		e, err := c.detailPage(rows, id, readAt, gens[id], olds[id])
		if err != nil {
			return err
		}
		c.put(pageKey{product: id}, e, c.detailGens(id))
	}
	return nil
}

// rowsOf reads the public rows of ids for a refresh: from a replica, but
// those of products changed within the replica window from the primary.
func (c *Cache) rowsOf(ctx context.Context, ids []int64) (map[int64]*publicRows, error) {
	settled, recent := c.splitRecent(ids)
	rows := map[int64]*publicRows{}
	if len(settled) > 0 {
		r, err := c.store.publicRowsOf(db.MayReadReplica(ctx), settled, c.seed)
		if err != nil {
			return nil, err
		}
		rows = r
	}
	if len(recent) > 0 {
		r, err := c.store.publicRowsOf(db.ReadPrimary(ctx), recent, c.seed)
		if err != nil {
			return nil, err
		}
		for id, pr := range r {
			rows[id] = pr
		}
	}
	return rows, nil
}

// RunRefresher reloads pages as they fall due until ctx ends, reporting
// errors to onError.
func (c *Cache) RunRefresher(ctx context.Context, onError func(error)) {
	ctx = db.Background(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case k := <-c.due:
			keys := []pageKey{k}
		more:
			for len(keys) < 4*refreshBatch {
				select {
				case k := <-c.due:
					keys = append(keys, k)
				default:
					break more
				}
			}
			if err := c.refresh(ctx, keys); err != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
