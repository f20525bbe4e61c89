package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Defaults of the read cache.
const (
	// DefaultCacheTTL is the staleness bound of a cached page: it is served
	// for at most this long after the moment its rows were read.
	DefaultCacheTTL = 2 * time.Second
	// DefaultCacheMaxBytes bounds the memory held by cached pages.
	DefaultCacheMaxBytes = 64 << 20
	// DefaultCacheKeepWarm is how long after its last read a page is still
	// refreshed ahead of its expiry.
	DefaultCacheKeepWarm = 5 * time.Second
	// entryOverhead approximates what an entry costs besides its body: the
	// map slot, the entry and its key.
	entryOverhead = 160
	// refreshBatch is how many products one refresh query reads.
	refreshBatch = 200
	// refreshWorkers is how many refresh batches run at once.
	refreshWorkers = 4
	// refreshRounds is how many times a TTL RunRefresher calls Refresh: a
	// page due at half its TTL is reloaded within an eighth of the TTL,
	// leaving the rest as slack for a refresher slowed down by load.
	refreshRounds = 8
)

// CacheOptions tune the read cache; zero values take the defaults.
type CacheOptions struct {
	// TTL is the staleness bound (DefaultCacheTTL).
	TTL time.Duration
	// MaxBytes bounds the bytes held by cached pages (DefaultCacheMaxBytes).
	MaxBytes int64
	// KeepWarm is how long after its last read Refresh keeps reloading a
	// page (DefaultCacheKeepWarm); a page unread for longer expires.
	KeepWarm time.Duration
}

// Cache serves the public product detail and the public product list
// (category pages and keyword search) as JSON bytes serialised once per load.
//
// Staleness is bounded: a page is served for at most TTL after the moment its
// rows were read, whatever happens elsewhere (stock taken by checkout, sales
// and ratings moved by other modules, a write made on another instance).
// Staff writes on this instance drop what they touched at once, through
// CatalogChanged; with Redis, writes on other instances do too (see
// RedisInvalidations). A load that was already reading when an invalidation
// arrived is answered to its callers but never stored, so a dropped page
// cannot come back from a read that raced the write.
//
// Concurrent misses of one page share one load (singleflight), and Refresh
// reloads the pages read in the last KeepWarm shortly before they expire,
// products in batches, so that a page in demand rarely makes a customer wait
// for the database.
// Memory is bounded by MaxBytes; past it, expired pages go first, then
// arbitrary ones.
//
// Checkout, payment, stock decisions and staff reads never use it.
type Cache struct {
	store    *Store
	clock    clock.Clock
	ttl      time.Duration
	maxBytes int64
	flight   singleflight.Group
	// seed keys the fingerprints of detail pages.
	seed maphash.Seed
	// keep is KeepWarm in refresh rounds; round counts Refresh calls and
	// stamps the pages served meanwhile.
	keep  int64
	round atomic.Int64

	hits, misses atomic.Int64

	mu      sync.RWMutex
	details map[int64]*entry
	lists   map[string]*listEntry
	bytes   int64
	// gen counts invalidations; a load stores its page only if gen has not
	// moved since the load began.
	gen uint64
}

// entry is one cached page: its JSON body, or the not-found error it
// answers, and when its rows were read.
type entry struct {
	body   []byte
	err    error
	readAt time.Time
	size   int64
	// seen is the refresh round in which the page was last served, so
	// Refresh reloads only pages that are still wanted.
	seen atomic.Int64
	// fp fingerprints the rows of a detail page and known tells whether
	// the product existed, so that a refresh reuses an unchanged body.
	fp    uint64
	known bool
}

// listEntry is a cached list page with the query that reloads it.
type listEntry struct {
	entry
	q    ProductQuery
	page httpx.Page
}

// NewCache returns an empty read cache over store.
func NewCache(store *Store, clk clock.Clock, o CacheOptions) (*Cache, error) {
	if store == nil || clk == nil {
		return nil, errors.New("catalog: nil dependency of the cache")
	}
	if o.TTL < 0 || o.MaxBytes < 0 || o.KeepWarm < 0 {
		return nil, errors.New("catalog: negative cache option")
	}
	if o.TTL == 0 {
		o.TTL = DefaultCacheTTL
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultCacheMaxBytes
	}
	if o.KeepWarm == 0 {
		o.KeepWarm = DefaultCacheKeepWarm
	}
	return &Cache{store: store, clock: clk, ttl: o.TTL, maxBytes: o.MaxBytes, seed: maphash.MakeSeed(),
		keep:    max(1, int64(o.KeepWarm/(o.TTL/refreshRounds))),
		details: map[int64]*entry{}, lists: map[string]*listEntry{}}, nil
}

// TTL returns the cache's staleness bound.
func (c *Cache) TTL() time.Duration { return c.ttl }

// CacheStats describe the cache, for metrics and tests.
type CacheStats struct {
	Entries int
	Bytes   int64
	Hits    int64
	Misses  int64
}

// Stats returns the cache's current size and its hit and miss counts.
func (c *Cache) Stats() CacheStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return CacheStats{Entries: len(c.details) + len(c.lists), Bytes: c.bytes, Hits: c.hits.Load(), Misses: c.misses.Load()}
}

// CatalogChanged drops the detail pages of the changed products and every
// list page (a product's change can move it in or out of any list, or
// reorder one); a category change drops every list page. Loads in flight
// are not stored.
func (c *Cache) CatalogChanged(_ context.Context, ch Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range ch.ProductIDs {
		if e, ok := c.details[id]; ok {
			c.bytes -= e.size
			delete(c.details, id)
		}
	}
	if len(ch.ProductIDs) > 0 || ch.Categories {
		for k, e := range c.lists {
			c.bytes -= e.size
			delete(c.lists, k)
		}
	}
}

// Flush drops every page, e.g. when invalidations from other instances may
// have been missed.
func (c *Cache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.details = map[int64]*entry{}
	c.lists = map[string]*listEntry{}
	c.bytes = 0
}

func (c *Cache) fresh(e *entry, now time.Time) bool {
	return e != nil && now.Sub(e.readAt) < c.ttl
}

// serve answers e and stamps it with the current refresh round.
func (c *Cache) serve(e *entry) ([]byte, error) {
	if r := c.round.Load(); e.seen.Load() != r {
		e.seen.Store(r)
	}
	return e.body, e.err
}

// keepSeen carries the last round old was served in over to its
// replacement e, so a refresh does not make a page look unwanted.
func (e *entry) keepSeen(old *entry) {
	if s := old.seen.Load(); s > e.seen.Load() {
		e.seen.Store(s)
	}
}

// newEntry makes an entry that counts as never served.
func newEntry(readAt time.Time) *entry {
	e := &entry{readAt: readAt}
	e.seen.Store(-1 << 62)
	return e
}

// Product returns the public detail of an on-shelf product as JSON, or the
// not-found error an off-shelf or unknown product answers.
func (c *Cache) Product(ctx context.Context, id int64) ([]byte, error) {
	now := c.clock.Now()
	c.mu.RLock()
	e, gen := c.details[id], c.gen
	c.mu.RUnlock()
	if c.fresh(e, now) {
		c.hits.Add(1)
		return c.serve(e)
	}
	c.misses.Add(1)
	key := "d" + strconv.FormatInt(id, 10) + "/" + strconv.FormatUint(gen, 10)
	v, err, _ := c.flight.Do(key, func() (any, error) {
		// A load that finished between our look and this call has stored
		// the page already.
		c.mu.RLock()
		e, same := c.details[id], c.gen == gen
		c.mu.RUnlock()
		if same && c.fresh(e, c.clock.Now()) {
			return e, nil
		}
		e, err := c.loadProduct(context.WithoutCancel(ctx), id)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.gen == gen {
			c.putDetail(id, e)
		}
		c.mu.Unlock()
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return c.serve(v.(*entry))
}

func (c *Cache) loadProduct(ctx context.Context, id int64) (*entry, error) {
	readAt := c.clock.Now()
	rows, err := c.store.publicRowsOf(ctx, []int64{id}, c.seed)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return publicEntry(rows, id, readAt, nil)
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
	if old != nil && old.known == known && old.fp == fp {
		e := newEntry(readAt)
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
	e := newEntry(readAt)
	e.err = notFound
	if notFound == nil {
		b, err := json.Marshal(PublicProductBody(p))
		if err != nil {
			return nil, apperr.Internal(err)
		}
		e.body = b
	}
	e.size = int64(len(e.body)) + entryOverhead
	return e, nil
}

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
	now := c.clock.Now()
	c.mu.RLock()
	e, gen := c.lists[key], c.gen
	c.mu.RUnlock()
	if e != nil && c.fresh(&e.entry, now) {
		c.hits.Add(1)
		return c.serve(&e.entry)
	}
	c.misses.Add(1)
	v, err, _ := c.flight.Do("l"+key+"/"+strconv.FormatUint(gen, 10), func() (any, error) {
		c.mu.RLock()
		e, same := c.lists[key], c.gen == gen
		c.mu.RUnlock()
		if same && e != nil && c.fresh(&e.entry, c.clock.Now()) {
			return e, nil
		}
		e, err := c.loadList(context.WithoutCancel(ctx), q, page, nil, time.Time{})
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.gen == gen {
			c.putList(key, e)
		}
		c.mu.Unlock()
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return c.serve(&v.(*listEntry).entry)
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

// loadList loads a list page; cats is the category table if the caller has
// read it already (at catsAt, which then counts as the page's read time, so
// the bound holds for the categories too), else nil.
func (c *Cache) loadList(ctx context.Context, q ProductQuery, page httpx.Page, cats []Category, catsAt time.Time) (*listEntry, error) {
	readAt := c.clock.Now()
	if cats != nil {
		readAt = catsAt
	}
	e := &listEntry{q: q, page: page}
	e.readAt = readAt
	e.seen.Store(-1 << 62)
	items, total, err := publicProducts(ctx, c.store, q, cats)
	switch {
	case apperr.Is(err, apperr.CodeNotFound):
		e.err = err
	case err != nil:
		return nil, err
	default:
		if e.body, err = PublicListBody(items, total, page); err != nil {
			return nil, apperr.Internal(err)
		}
	}
	e.size = int64(len(e.body)) + entryOverhead
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

// putDetail and putList store a page; the caller holds mu.
func (c *Cache) putDetail(id int64, e *entry) {
	if old, ok := c.details[id]; ok {
		e.keepSeen(old)
		c.bytes -= old.size
		delete(c.details, id)
	}
	if !c.makeRoom(e.size) {
		return
	}
	c.details[id] = e
	c.bytes += e.size
}

func (c *Cache) putList(key string, e *listEntry) {
	e.size += int64(len(key))
	if old, ok := c.lists[key]; ok {
		e.keepSeen(&old.entry)
		c.bytes -= old.size
		delete(c.lists, key)
	}
	if !c.makeRoom(e.size) {
		return
	}
	c.lists[key] = e
	c.bytes += e.size
}

// makeRoom evicts pages until size more bytes fit: expired ones first, then
// arbitrary ones (map order is random). It reports false for a page larger
// than the whole budget. The caller holds mu.
func (c *Cache) makeRoom(size int64) bool {
	if size > c.maxBytes {
		return false
	}
	if c.bytes+size <= c.maxBytes {
		return true
	}
	now := c.clock.Now()
	for id, e := range c.details {
		if !c.fresh(e, now) {
			c.bytes -= e.size
			delete(c.details, id)
		}
	}
	for k, e := range c.lists {
		if !c.fresh(&e.entry, now) {
			c.bytes -= e.size
			delete(c.lists, k)
		}
	}
	for id, e := range c.details {
		if c.bytes+size <= c.maxBytes {
			return true
		}
		c.bytes -= e.size
		delete(c.details, id)
	}
	for k, e := range c.lists {
		if c.bytes+size <= c.maxBytes {
			return true
		}
		c.bytes -= e.size
		delete(c.lists, k)
	}
	return c.bytes+size <= c.maxBytes
}

// Refresh reloads, ahead of their expiry, the pages that are at least half
// their TTL old and were served within the last KeepWarm (counted in calls
// of Refresh): detail pages in batches of a few hundred products (two
// queries a batch), list pages one by one. Pages nobody read for longer are
// left to expire. Run it every eighth of the TTL (RunRefresher does); it returns
// the first error it met, after trying every page.
func (c *Cache) Refresh(ctx context.Context) error {
	now := c.clock.Now()
	wanted := c.round.Add(1) - c.keep
	var ids []int64
	type listWork struct {
		key  string
		q    ProductQuery
		page httpx.Page
	}
	var lists []listWork
	c.mu.RLock()
	gen := c.gen
	for id, e := range c.details {
		if e.seen.Load() >= wanted && now.Sub(e.readAt) >= c.ttl/2 {
			ids = append(ids, id)
		}
	}
	for k, e := range c.lists {
		if e.seen.Load() >= wanted && now.Sub(e.readAt) >= c.ttl/2 {
			lists = append(lists, listWork{key: k, q: e.q, page: e.page})
		}
	}
	c.mu.RUnlock()

	// The work runs on a few goroutines: under load the refresher competes
	// for the CPU with every request, and must still finish before the
	// pages it reloads expire.
	var first error
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	work := make(chan func())
	var wg sync.WaitGroup
	for range refreshWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for do := range work {
				do()
			}
		}()
	}
	for start := 0; start < len(ids); start += refreshBatch {
		batch := ids[start:min(start+refreshBatch, len(ids))]
		work <- func() {
			if err := c.refreshProducts(ctx, batch, gen); err != nil {
				fail(err)
			}
		}
	}
	// One read of the category table serves every list page of the round;
	// it is read after the round's generation was taken, like the pages.
	var cats []Category
	catsAt := c.clock.Now()
	if len(lists) > 0 {
		var err error
		if cats, err = c.store.Categories(ctx); err != nil {
			fail(err)
			lists = nil
		}
	}
	for _, w := range lists {
		work <- func() {
			e, err := c.loadList(ctx, w.q, w.page, cats, catsAt)
			if err != nil {
				fail(err)
				return
			}
			c.mu.Lock()
			if c.gen == gen {
				c.putList(w.key, e)
			}
			c.mu.Unlock()
		}
	}
	close(work)
	wg.Wait()
	return first
}

func (c *Cache) refreshProducts(ctx context.Context, ids []int64, gen uint64) error {
	old := make(map[int64]*entry, len(ids))
	c.mu.RLock()
	for _, id := range ids {
		if e, ok := c.details[id]; ok {
			old[id] = e
		}
	}
	c.mu.RUnlock()
	readAt := c.clock.Now()
	rows, err := c.store.publicRowsOf(ctx, ids, c.seed)
	if err != nil {
		return err
	}
	entries := make(map[int64]*entry, len(ids))
	for _, id := range ids {
		e, err := publicEntry(rows, id, readAt, old[id])
		if err != nil {
			return err
		}
		entries[id] = e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil
	}
	for id, e := range entries {
		c.putDetail(id, e)
	}
	return nil
}

// RunRefresher calls Refresh every eighth of the TTL until ctx ends, reporting
// errors to onError.
func (c *Cache) RunRefresher(ctx context.Context, onError func(error)) {
	t := time.NewTicker(c.ttl / refreshRounds)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
