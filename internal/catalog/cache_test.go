package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// countQueries counts the statements read through d's reading pool until
// the test ends, with a gorm callback on every read path (Find, Count, Raw).
func countQueries(t *testing.T, d *db.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	name := "minimall:test:count"
	count := func(*gorm.DB) { n.Add(1) }
	cb := d.Reader(context.Background()).Callback()
	for _, err := range []error{
		cb.Query().After("gorm:query").Register(name, count),
		cb.Row().After("gorm:row").Register(name, count),
		cb.Raw().After("gorm:raw").Register(name, count),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = cb.Query().Remove(name)
		_ = cb.Row().Remove(name)
		_ = cb.Raw().Remove(name)
	})
	return &n
}

// instances is one database read by two instances' caches: a, which this
// instance's staff writes invalidate, and b, another instance that hears of
// no write (no Redis) and so relies on its TTL alone.
type instances struct {
	d     *db.DB
	clk   *clock.Fake
	store *catalog.Store
	svc   *catalog.Service
	a, b  *catalog.Cache
	cat   catalog.Category
}

func newInstances(t *testing.T, d *db.DB, o catalog.CacheOptions) *instances {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC))
	lg, err := audit.New(d, clk)
	if err != nil {
		t.Fatal(err)
	}
	st, err := catalog.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	x := &instances{d: d, clk: clk, store: st}
	if x.a, err = catalog.NewCache(st, clk, o); err != nil {
		t.Fatal(err)
	}
	if x.b, err = catalog.NewCache(st, clk, o); err != nil {
		t.Fatal(err)
	}
	if x.svc, err = catalog.NewService(d, st, lg, clk, x.a); err != nil {
		t.Fatal(err)
	}
	name := "服装"
	if x.cat, err = x.svc.CreateCategory(context.Background(), staff, catalog.CategoryInput{Name: &name}); err != nil {
		t.Fatal(err)
	}
	return x
}

func (x *instances) product(t *testing.T, title, code string, price int64) catalog.Product {
	t.Helper()
	p, err := x.svc.CreateProduct(context.Background(), staff, productInput(x.cat.ID, title, code, price), true)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type detailBody struct {
	ID   int64 `json:"id"`
	SKUs []struct {
		ID       int64 `json:"id"`
		PriceFen int64 `json:"price_fen"`
		Stock    int64 `json:"stock"`
	} `json:"skus"`
}

// detail reads a product through c: its body, or nil when not found.
func detail(t *testing.T, c *catalog.Cache, id int64) *detailBody {
	t.Helper()
	b, err := c.Product(context.Background(), id)
	if apperr.Is(err, apperr.CodeNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out detailBody
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

type listBody struct {
	Items []struct {
		ID          int64 `json:"id"`
		MinPriceFen int64 `json:"min_price_fen"`
	} `json:"items"`
	Total int64 `json:"total"`
}

func list(t *testing.T, c *catalog.Cache, q catalog.ProductQuery) listBody {
	t.Helper()
	b, err := c.Products(context.Background(), q, httpx.Page{Page: 1, PageSize: 20})
	if err != nil {
		t.Fatal(err)
	}
	var out listBody
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func listIDs(l listBody) []int64 {
	out := make([]int64, len(l.Items))
	for i, it := range l.Items {
		out[i] = it.ID
	}
	return out
}

func TestCacheOffShelfNeverOutlivesTheBound(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		ttl := x.a.TTL()
		p := x.product(t, "纯棉T恤", "tee", 1990)
		search := catalog.ProductQuery{Q: "纯棉"}
		for _, c := range []*catalog.Cache{x.a, x.b} {
			if detail(t, c, p.ID) == nil || len(list(t, c, search).Items) != 1 {
				t.Fatal("an on-shelf product is missing from the cache's answers")
			}
		}
		if _, err := x.svc.SetShelf(ctx, staff, p.ID, false); err != nil {
			t.Fatal(err)
		}
		// The instance that made the write drops the pages at once.
		if detail(t, x.a, p.ID) != nil {
			t.Fatal("the writing instance still shows the off-shelf product")
		}
		if got := list(t, x.a, search); got.Total != 0 {
			t.Fatalf("the writing instance still lists the off-shelf product: %+v", got)
		}
		// The other instance may show it until the bound, never at it.
		x.clk.Advance(ttl - time.Millisecond)
		if detail(t, x.b, p.ID) == nil {
			t.Fatal("the other instance reloaded before its TTL: the test does not exercise the bound")
		}
		x.clk.Advance(time.Millisecond)
		if detail(t, x.b, p.ID) != nil {
			t.Fatalf("the other instance shows an off-shelf product %s after the write", ttl)
		}
		if got := list(t, x.b, search); got.Total != 0 {
			t.Fatalf("the other instance lists an off-shelf product %s after the write: %+v", ttl, got)
		}
	})
}

func TestCachePriceChangeVisibleWithinTheBound(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		cheap := x.product(t, "帆布包", "bag", 1000)
		dear := x.product(t, "皮包", "leather", 5000)
		byPrice := catalog.ProductQuery{CategoryID: x.cat.ID, Sort: catalog.SortPriceAsc}
		for _, c := range []*catalog.Cache{x.a, x.b} {
			if got := listIDs(list(t, c, byPrice)); fmt.Sprint(got) != fmt.Sprint([]int64{cheap.ID, dear.ID}) {
				t.Fatalf("price order = %v", got)
			}
			if got := detail(t, c, cheap.ID).SKUs[0].PriceFen; got != 1000 {
				t.Fatalf("price = %d, want 1000", got)
			}
		}
		in := productInput(x.cat.ID, "帆布包", "bag", 9000)
		in.SKUs[0].ID = cheap.SKUs[0].ID
		if _, err := x.svc.UpdateProduct(ctx, staff, cheap.ID, in); err != nil {
			t.Fatal(err)
		}
		check := func(c *catalog.Cache, who string) {
			t.Helper()
			if got := detail(t, c, cheap.ID).SKUs[0].PriceFen; got != 9000 {
				t.Fatalf("%s: detail price = %d, want 9000", who, got)
			}
			l := list(t, c, byPrice)
			if got := listIDs(l); fmt.Sprint(got) != fmt.Sprint([]int64{dear.ID, cheap.ID}) || l.Items[1].MinPriceFen != 9000 {
				t.Fatalf("%s: list by price = %+v", who, l)
			}
		}
		check(x.a, "writing instance")
		x.clk.Advance(x.b.TTL())
		check(x.b, "other instance after the TTL")
	})
}

func TestCacheStockFromCheckoutLagsAtMostTheBound(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		p := x.product(t, "保温杯", "cup", 3000)
		sku := p.SKUs[0].ID
		if got := detail(t, x.a, p.ID).SKUs[0].Stock; got != 10 {
			t.Fatalf("stock = %d, want 10", got)
		}
		// Checkout takes stock without telling the cache.
		if ok, err := x.store.DecrementStock(ctx, sku, 4); err != nil || !ok {
			t.Fatalf("decrement: %v %v", ok, err)
		}
		x.clk.Advance(x.a.TTL() / 2)
		if got := detail(t, x.a, p.ID).SKUs[0].Stock; got != 10 {
			t.Fatalf("cached stock = %d, want the cached 10 within the TTL", got)
		}
		x.clk.Advance(x.a.TTL() / 2)
		if got := detail(t, x.a, p.ID).SKUs[0].Stock; got != 6 {
			t.Fatalf("stock after the TTL = %d, want 6", got)
		}
		// A staff stock adjustment is announced and shows at once.
		if _, err := x.svc.AdjustStock(ctx, staff, sku, catalog.StockChange{Delta: ptr(int64(5)), Reason: "补货"}); err != nil {
			t.Fatal(err)
		}
		if got := detail(t, x.a, p.ID).SKUs[0].Stock; got != 11 {
			t.Fatalf("stock after adjustment = %d, want 11", got)
		}
	})
}

func TestCacheSharesOneLoadAndReadsInFewQueries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		var ids []int64
		for i := range 25 {
			p := x.product(t, fmt.Sprintf("毛巾%d", i), fmt.Sprintf("towel%d", i), int64(1000+i))
			ids = append(ids, p.ID)
		}
		n := countQueries(t, d)

		// Many concurrent misses of one page: one load of two queries
		// (the product, its SKUs).
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := x.a.Product(ctx, ids[0]); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := n.Load(); got != 2 {
			t.Fatalf("32 concurrent reads of a cold page ran %d queries, want 2", got)
		}
		// A list page of 20 products: the category tree, the count and the
		// page, whatever the number of products (no query per product).
		n.Store(0)
		l := list(t, x.a, catalog.ProductQuery{CategoryID: x.cat.ID})
		if len(l.Items) != 20 || l.Total != 25 {
			t.Fatalf("list = %d items of %d", len(l.Items), l.Total)
		}
		if got := n.Load(); got != 3 {
			t.Fatalf("a list page ran %d queries, want 3", got)
		}
		// Served again within the TTL: no query at all.
		n.Store(0)
		list(t, x.a, catalog.ProductQuery{CategoryID: x.cat.ID})
		detail(t, x.a, ids[0])
		if got := n.Load(); got != 0 {
			t.Fatalf("cached pages ran %d queries, want 0", got)
		}
		if st := x.a.Stats(); st.Hits < 2 || st.Misses < 2 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestCacheRefreshReloadsReadPagesInBatches(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		// Keep warm for one refresh round only, so that pages unread since
		// the previous round are left to expire.
		x := newInstances(t, d, catalog.CacheOptions{KeepWarm: catalog.DefaultCacheTTL / 8})
		ttl := x.a.TTL()
		var ps []catalog.Product
		for i := range 5 {
			ps = append(ps, x.product(t, fmt.Sprintf("雨伞%d", i), fmt.Sprintf("umbrella%d", i), int64(2000+i)))
		}
		for _, p := range ps {
			detail(t, x.a, p.ID)
		}
		if ok, err := x.store.DecrementStock(ctx, ps[0].SKUs[0].ID, 3); err != nil || !ok {
			t.Fatalf("decrement: %v %v", ok, err)
		}
		x.clk.Advance(ttl / 2)
		n := countQueries(t, d)
		if err := x.a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := n.Load(); got != 2 {
			t.Fatalf("refreshing 5 products ran %d queries, want 2 (one batch)", got)
		}
		// The refreshed pages carry the new stock and a new read time: they
		// are served from memory for another TTL.
		x.clk.Advance(ttl - time.Millisecond)
		n.Store(0)
		if got := detail(t, x.a, ps[0].ID).SKUs[0].Stock; got != 7 {
			t.Fatalf("stock after refresh = %d, want 7", got)
		}
		if got := n.Load(); got != 0 {
			t.Fatalf("a refreshed page ran %d queries, want 0", got)
		}
		// Only the page read since the last round is refreshed again; the
		// others expire and load on their next read.
		x.clk.Advance(ttl / 2)
		if err := x.a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		n.Store(0)
		detail(t, x.a, ps[0].ID)
		if got := n.Load(); got != 0 {
			t.Fatalf("the page read since the last round ran %d queries, want 0 (refreshed)", got)
		}
		detail(t, x.a, ps[1].ID)
		if got := n.Load(); got != 2 {
			t.Fatalf("a page unread since the last round ran %d queries, want 2 (expired, loaded)", got)
		}
		// A refresh never revives an off-shelf product.
		if _, err := x.svc.SetShelf(ctx, staff, ps[0].ID, false); err != nil {
			t.Fatal(err)
		}
		if err := x.a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if detail(t, x.a, ps[0].ID) != nil {
			t.Fatal("an off-shelf product came back")
		}
	})
}

func TestCacheKeepsReadPagesWarm(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		ttl := x.a.TTL()
		p := x.product(t, "拖鞋", "slipper", 1500)
		first, err := x.a.Product(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := countQueries(t, d)
		// Read once, then left alone for three TTLs: the refresher keeps
		// reloading it (KeepWarm is 5 s), so the next read costs nothing.
		for range 6 {
			x.clk.Advance(ttl / 2)
			if err := x.a.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got := n.Load(); got != 12 {
			t.Fatalf("six refresh rounds ran %d queries, want 12", got)
		}
		n.Store(0)
		again, err := x.a.Product(ctx, p.ID)
		if err != nil || n.Load() != 0 {
			t.Fatalf("a page kept warm: %v, %d queries, want 0", err, n.Load())
		}
		// Unchanged rows: the refreshes reused the serialised body.
		if &again[0] != &first[0] {
			t.Fatal("an unchanged page was serialised again")
		}
		// Changed rows: the next refresh serialises the new stock.
		if ok, err := x.store.DecrementStock(ctx, p.SKUs[0].ID, 1); err != nil || !ok {
			t.Fatalf("decrement: %v %v", ok, err)
		}
		x.clk.Advance(ttl / 2)
		if err := x.a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := detail(t, x.a, p.ID).SKUs[0].Stock; got != 9 {
			t.Fatalf("stock after a refresh = %d, want 9", got)
		}
	})
}

func TestCacheMemoryIsBounded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newInstances(t, d, catalog.CacheOptions{MaxBytes: 2048})
		for i := range 12 {
			p := x.product(t, fmt.Sprintf("围巾%d", i), fmt.Sprintf("scarf%d", i), int64(3000+i))
			if detail(t, x.a, p.ID) == nil {
				t.Fatal("product missing")
			}
			if st := x.a.Stats(); st.Bytes > 2048 || st.Entries == 0 {
				t.Fatalf("after %d products: %+v, want at most 2048 bytes", i+1, st)
			}
		}
		if st := x.a.Stats(); st.Entries >= 12 {
			t.Fatalf("nothing was evicted: %+v", st)
		}
	})
}

func TestCacheRefusesBadQueriesWithoutCaching(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newInstances(t, d, catalog.CacheOptions{})
		_, err := x.a.Products(context.Background(), catalog.ProductQuery{Sort: "random"}, httpx.Page{Page: 1, PageSize: 20})
		wantCode(t, err, apperr.CodeInvalid)
		_, err = x.a.Products(context.Background(), catalog.ProductQuery{CategoryID: 999}, httpx.Page{Page: 1, PageSize: 20})
		wantCode(t, err, apperr.CodeNotFound)
		if _, err := catalog.NewCache(nil, x.clk, catalog.CacheOptions{}); err == nil {
			t.Fatal("a cache without a store was built")
		}
	})
}

// redisClient returns a client of the local Redis, or skips the test with
// a message when none answers. Redis is optional in minimall and not
// started by CI, so this test never fails for its absence.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	addr := "127.0.0.1:6379"
	conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		t.Skipf("Redis skipped: nothing listens on %s (%v)", addr, err)
	}
	_ = conn.Close()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Skipf("Redis skipped: %s does not answer PING (%v)", addr, err)
	}
	return c
}

// applied hands changes to a cache and reports each one on a channel, so
// the test waits for the delivery instead of sleeping.
type applied struct {
	cache *catalog.Cache
	done  chan catalog.Change
}

func (a applied) CatalogChanged(ctx context.Context, ch catalog.Change) {
	a.cache.CatalogChanged(ctx, ch)
	a.done <- ch
}

func TestRedisSharesChangesBetweenInstances(t *testing.T) {
	client := redisClient(t)
	d := dbtest.SQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x := newInstances(t, d, catalog.CacheOptions{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	channel := fmt.Sprintf("minimall:test:catalog:%d", time.Now().UnixNano())

	// Instance a publishes its writes; instance b listens.
	pubA, err := catalog.NewRedisInvalidations(client, channel, x.a, x.a.Flush, log)
	if err != nil {
		t.Fatal(err)
	}
	got := applied{cache: x.b, done: make(chan catalog.Change, 4)}
	subB, err := catalog.NewRedisInvalidations(client, channel, got, x.b.Flush, log)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := subB.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { subB.Run(ctx, ps); close(stopped) }()
	defer func() { cancel(); <-stopped }()

	lg, err := audit.New(d, x.clk)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := catalog.NewService(d, x.store, lg, x.clk, catalog.Invalidators{x.a, pubA})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.CreateProduct(ctx, staff, productInput(x.cat.ID, "蓝牙耳机", "buds", 19900), true)
	if err != nil {
		t.Fatal(err)
	}
	wait := func() catalog.Change {
		t.Helper()
		select {
		case ch := <-got.done:
			return ch
		case <-time.After(5 * time.Second):
			t.Fatal("instance b heard of no change within 5s")
			return catalog.Change{}
		}
	}
	wait() // the creation
	if detail(t, x.b, p.ID) == nil {
		t.Fatal("instance b does not show the new product")
	}
	if _, err := svc.SetShelf(ctx, staff, p.ID, false); err != nil {
		t.Fatal(err)
	}
	if ch := wait(); len(ch.ProductIDs) != 1 || ch.ProductIDs[0] != p.ID {
		t.Fatalf("change heard = %+v", ch)
	}
	// No time has passed: the off-shelf product is gone from b because of
	// the shared change, not because of its TTL.
	if detail(t, x.b, p.ID) != nil {
		t.Fatal("instance b still shows the off-shelf product after the shared change")
	}
}

// The cached detail is byte for byte what the service's product would be,
// serialised.
func TestCachedDetailMatchesTheService(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		in := productInput(x.cat.ID, "真丝围巾", "silk", 8800, 9900, 12000)
		in.Subtitle, in.Description = "桑蚕丝", "<p>手工卷边</p>"
		in.Images = append(in.Images, "https://img.example.com/silk-2.jpg")
		in.SKUs[1].Image, in.SKUs[2].OriginalPriceFen = "https://img.example.com/silk-b.jpg", 15000
		p := x.product(t, in.Title, "unused", 1)
		if _, err := x.svc.UpdateProduct(ctx, staff, p.ID, in); err != nil {
			t.Fatal(err)
		}
		want, err := x.svc.PublicProduct(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantBody, err := json.Marshal(catalog.PublicProductBody(want))
		if err != nil {
			t.Fatal(err)
		}
		got, err := x.a.Product(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(wantBody) {
			t.Fatalf("cached detail\n%s\nwant\n%s", got, wantBody)
		}
	})
}

// A refresh round reads the category table once for all its list pages.
func TestCacheRefreshReadsCategoriesOncePerRound(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		x.product(t, "羊毛袜", "sock", 900)
		for _, sort := range []string{catalog.SortDefault, catalog.SortPriceAsc, catalog.SortSales} {
			list(t, x.a, catalog.ProductQuery{CategoryID: x.cat.ID, Sort: sort})
		}
		x.clk.Advance(x.a.TTL() / 2)
		n := countQueries(t, d)
		if err := x.a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := n.Load(); got != 7 {
			t.Fatalf("refreshing 3 category pages ran %d queries, want 7 (the categories once, then count and page each)", got)
		}
		n.Store(0)
		x.clk.Advance(x.a.TTL()/2 + time.Millisecond)
		if got := list(t, x.a, catalog.ProductQuery{CategoryID: x.cat.ID, Sort: catalog.SortSales}); got.Total != 1 || n.Load() != 0 {
			t.Fatalf("a refreshed list page: %+v after %d queries, want it from memory", got, n.Load())
		}
	})
}
