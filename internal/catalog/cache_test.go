package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/platform/httpx"
	"github.com/minimall/minimall/internal/platform/redistest"
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
	ID    int64  `json:"id"`
	Title string `json:"title"`
	SKUs  []struct {
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
		Sales       int64 `json:"sales"`
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
		// The instance that heard of the change answers not found on the
		// next read, and drops its lists at once.
		if detail(t, x.a, p.ID) != nil {
			t.Fatal("the writing instance still shows the off-shelf product")
		}
		if got := list(t, x.a, search); got.Total != 0 {
			t.Fatalf("the writing instance still lists the off-shelf product: %+v", got)
		}
		// An instance that heard nothing shows it until the safety TTL,
		// never at it (its list pages follow their shorter schedule).
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

func TestCachePriceChangeShowsOnTheNextRead(t *testing.T) {
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
		// No time passes: the announced instance shows it on the next read.
		check(x.a, "announced instance")
		if got := detail(t, x.b, cheap.ID).SKUs[0].PriceFen; got != 1000 {
			t.Fatalf("an instance that heard nothing reloaded early (price %d): the test does not exercise the TTL", got)
		}
		x.clk.Advance(x.b.TTL())
		check(x.b, "instance that heard nothing, after the safety TTL")
	})
}

func TestCacheStockFromCheckoutLagsAtMostTheStockLag(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		lag := x.a.StockLag()
		p := x.product(t, "保温杯", "cup", 3000)
		sku := p.SKUs[0].ID
		for _, c := range []*catalog.Cache{x.a, x.b} {
			if got := detail(t, c, p.ID).SKUs[0].Stock; got != 10 {
				t.Fatalf("stock = %d, want 10", got)
			}
		}
		// Checkout takes stock in its transaction and announces it after
		// commit.
		if ok, err := x.store.DecrementStock(ctx, sku, 4); err != nil || !ok {
			t.Fatalf("decrement: %v %v", ok, err)
		}
		x.svc.StockChanged(ctx, p.ID)
		x.clk.Advance(lag - time.Millisecond)
		if got := detail(t, x.a, p.ID).SKUs[0].Stock; got != 10 {
			t.Fatalf("stock within the lag = %d, want the cached 10 (coalesced)", got)
		}
		x.clk.Advance(time.Millisecond)
		if got := detail(t, x.a, p.ID).SKUs[0].Stock; got != 6 {
			t.Fatalf("stock at the lag = %d, want 6", got)
		}
		// Without the announcement, only the safety TTL bounds it.
		if got := detail(t, x.b, p.ID).SKUs[0].Stock; got != 10 {
			t.Fatalf("unannounced stock = %d, want the cached 10", got)
		}
		x.clk.Advance(x.b.TTL())
		if got := detail(t, x.b, p.ID).SKUs[0].Stock; got != 6 {
			t.Fatalf("unannounced stock after the safety TTL = %d, want 6", got)
		}
		// A staff stock adjustment shows at once.
		if _, err := x.svc.AdjustStock(ctx, staff, sku, catalog.StockChange{Delta: ptr(int64(5)), Reason: "补货"}); err != nil {
			t.Fatal(err)
		}
		if got := detail(t, x.a, p.ID).SKUs[0].Stock; got != 11 {
			t.Fatalf("stock after adjustment = %d, want 11", got)
		}
	})
}

// The generation rule: a page whose rows were read before a change
// committed is never served after the change was announced, even when its
// load finishes after the announcement.
func TestCacheNeverServesAPageLoadedDuringAChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		p := x.product(t, "旧标题", "gen", 1000)
		name := "minimall:test:race"
		var armed atomic.Bool
		armed.Store(true)
		in := productInput(x.cat.ID, "新标题", "gen", 1000)
		in.SKUs[0].ID = p.SKUs[0].ID
		cb := d.Reader(ctx).Callback()
		// Once the load has read the product row, staff rename the product:
		// the write commits and is announced before the load reads the
		// SKUs and stores the page.
		err := cb.Row().Before("gorm:row").Register(name, func(tx *gorm.DB) {
			if strings.Contains(tx.Statement.SQL.String(), "FROM skus WHERE product_id IN") && armed.CompareAndSwap(true, false) {
				if _, err := x.svc.UpdateProduct(ctx, staff, p.ID, in); err != nil {
					t.Error(err)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cb.Row().Remove(name) })
		if got := detail(t, x.a, p.ID).Title; got != "旧标题" {
			t.Fatalf("the racing load read title %q, want the old one: the test does not exercise the race", got)
		}
		if armed.Load() {
			t.Fatal("the write never ran during the load")
		}
		if got := detail(t, x.a, p.ID).Title; got != "新标题" {
			t.Fatalf("title after the announced write = %q, want 新标题: a page loaded during the change was served after it", got)
		}
	})
}

// A hot product under concurrent checkouts, each announcing its stock after
// commit, reloads its page about once per stock lag, not once per checkout,
// and its stock still shows within the lag.
func TestCacheHotProductReloadsOncePerStockLag(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var intervals []time.Duration
		var mu sync.Mutex
		x := newInstances(t, d, catalog.CacheOptions{OnReload: func(since time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			intervals = append(intervals, since)
		}})
		lag := x.a.StockLag()
		p := x.product(t, "爆款", "hot", 100)
		sku := p.SKUs[0].ID
		if _, err := x.svc.AdjustStock(ctx, staff, sku, catalog.StockChange{Delta: ptr(int64(990)), Reason: "备货"}); err != nil {
			t.Fatal(err)
		}
		// Checkouts never pause: one more is announced while every load of
		// the page is between its two statements.
		name := "minimall:test:busy"
		cb := d.Reader(ctx).Callback()
		if err := cb.Row().Before("gorm:row").Register(name, func(tx *gorm.DB) {
			if strings.Contains(tx.Statement.SQL.String(), "FROM skus WHERE product_id IN") {
				x.svc.StockChanged(ctx, p.ID)
			}
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cb.Row().Remove(name) })
		detail(t, x.a, p.ID)
		before := x.a.Stats().DetailLoads
		const windows, steps, buyers = 10, 8, 6
		sold := 0
		for range windows * steps {
			var wg sync.WaitGroup
			for range buyers {
				wg.Add(2)
				go func() {
					defer wg.Done()
					if ok, err := x.store.DecrementStock(ctx, sku, 1); err != nil || !ok {
						t.Errorf("checkout: %v %v", ok, err)
						return
					}
					x.svc.StockChanged(ctx, p.ID)
				}()
				go func() {
					defer wg.Done()
					if _, err := x.a.Product(ctx, p.ID); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			sold += buyers
			if err := x.a.RefreshDue(ctx); err != nil {
				t.Fatal(err)
			}
			x.clk.Advance(lag / steps)
		}
		loads := x.a.Stats().DetailLoads - before
		if loads < windows/2 || loads > windows*4/3+2 {
			t.Fatalf("%d checkouts over %d stock lags reloaded the page %d times, want about one per lag", sold, windows, loads)
		}
		mu.Lock()
		for _, iv := range intervals {
			if iv < lag/2 {
				t.Errorf("the page reloaded %s after its previous load, under half the stock lag", iv)
			}
		}
		mu.Unlock()
		x.clk.Advance(lag)
		if got, want := detail(t, x.a, p.ID).SKUs[0].Stock, int64(1000-sold); got != want {
			t.Fatalf("stock one lag after the last checkout = %d, want %d", got, want)
		}
	})
}

func TestCacheRefreshesReadPagesAheadInBatches(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		ttl := x.a.TTL()
		var ps []catalog.Product
		for i := range 5 {
			ps = append(ps, x.product(t, fmt.Sprintf("雨伞%d", i), fmt.Sprintf("umbrella%d", i), int64(2000+i)))
		}
		for _, p := range ps {
			detail(t, x.a, p.ID)
		}
		first, err := x.a.Product(ctx, ps[4].ID)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := x.store.DecrementStock(ctx, ps[0].SKUs[0].ID, 3); err != nil || !ok {
			t.Fatalf("decrement: %v %v", ok, err)
		}
		n := countQueries(t, d)
		// In their last quarter of life, read pages are served and queued.
		x.clk.Advance(ttl * 3 / 4)
		for _, p := range ps[:4] {
			detail(t, x.a, p.ID)
		}
		detail(t, x.a, ps[4].ID)
		if got := n.Load(); got != 0 {
			t.Fatalf("pages due for a refresh ran %d queries on read, want 0", got)
		}
		if err := x.a.RefreshDue(ctx); err != nil {
			t.Fatal(err)
		}
		if got := n.Load(); got != 2 {
			t.Fatalf("refreshing 5 products ran %d queries, want 2 (one batch)", got)
		}
		// The refreshed pages carry the new stock and a new read time.
		x.clk.Advance(ttl - time.Millisecond)
		n.Store(0)
		if got := detail(t, x.a, ps[0].ID).SKUs[0].Stock; got != 7 {
			t.Fatalf("stock after refresh = %d, want 7", got)
		}
		again, err := x.a.Product(ctx, ps[4].ID)
		if err != nil || n.Load() != 0 {
			t.Fatalf("refreshed pages: %v, %d queries, want 0", err, n.Load())
		}
		// An unchanged page keeps its serialised body.
		if &again[0] != &first[0] {
			t.Fatal("an unchanged page was serialised again")
		}
		// A refresh never revives an off-shelf product.
		x.clk.Advance(ttl / 2)
		detail(t, x.a, ps[0].ID)
		if _, err := x.svc.SetShelf(ctx, staff, ps[0].ID, false); err != nil {
			t.Fatal(err)
		}
		if err := x.a.RefreshDue(ctx); err != nil {
			t.Fatal(err)
		}
		if detail(t, x.a, ps[0].ID) != nil {
			t.Fatal("an off-shelf product came back")
		}
	})
}

// List pages live on their own schedule: sales counted by the job show on a
// list sorted by sales within the list TTL; a shelf change drops them at once.
func TestCacheListPagesFollowTheirSchedule(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		a := x.product(t, "羊毛袜", "sock", 900)
		b := x.product(t, "棉袜", "cotton", 800)
		bySales := catalog.ProductQuery{CategoryID: x.cat.ID, Sort: catalog.SortSales}
		if got := listIDs(list(t, x.a, bySales)); fmt.Sprint(got) != fmt.Sprint([]int64{b.ID, a.ID}) {
			t.Fatalf("sales order = %v", got)
		}
		if err := x.store.AddSales(ctx, a.ID, 5); err != nil {
			t.Fatal(err)
		}
		x.svc.StockChanged(ctx, a.ID)
		x.clk.Advance(x.a.ListTTL() - time.Millisecond)
		if got := listIDs(list(t, x.a, bySales)); fmt.Sprint(got) != fmt.Sprint([]int64{b.ID, a.ID}) {
			t.Fatalf("the list reloaded before its schedule: %v", got)
		}
		x.clk.Advance(time.Millisecond)
		l := list(t, x.a, bySales)
		if got := listIDs(l); fmt.Sprint(got) != fmt.Sprint([]int64{a.ID, b.ID}) || l.Items[0].Sales != 5 {
			t.Fatalf("sales order after the list TTL = %+v", l)
		}
		if _, err := x.svc.SetShelf(ctx, staff, b.ID, false); err != nil {
			t.Fatal(err)
		}
		if got := listIDs(list(t, x.a, bySales)); fmt.Sprint(got) != fmt.Sprint([]int64{a.ID}) {
			t.Fatalf("list after a shelf change = %v, want only %d", got, a.ID)
		}
	})
}

// While changes from other instances may be missed, every page lives at
// most the stock lag; a flush drops every page.
func TestCacheUnsureFallsBackToTheStockLag(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		p := x.product(t, "围巾", "scarf", 3000)
		detail(t, x.b, p.ID)
		if _, err := x.store.DecrementStock(ctx, p.SKUs[0].ID, 1); err != nil {
			t.Fatal(err)
		}
		x.clk.Advance(x.b.StockLag())
		if got := detail(t, x.b, p.ID).SKUs[0].Stock; got != 10 {
			t.Fatalf("a sure cache reloaded an unannounced page (stock %d)", got)
		}
		x.b.SetUnsure(true)
		if got := detail(t, x.b, p.ID).SKUs[0].Stock; got != 9 {
			t.Fatalf("an unsure cache served a page older than the stock lag (stock %d, want 9)", got)
		}
		x.b.SetUnsure(false)
		if _, err := x.store.DecrementStock(ctx, p.SKUs[0].ID, 1); err != nil {
			t.Fatal(err)
		}
		x.b.Flush()
		if got := detail(t, x.b, p.ID).SKUs[0].Stock; got != 8 {
			t.Fatalf("stock after a flush = %d, want 8", got)
		}
	})
}

// The byte budget holds, and eviction keeps the pages read often rather
// than the ones read last (W-TinyLFU).
func TestCacheMemoryIsBoundedAndKeepsPopularPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		const budget = 16 << 10
		x := newInstances(t, d, catalog.CacheOptions{MaxBytes: budget})
		var ids []int64
		for i := range 60 {
			ids = append(ids, x.product(t, fmt.Sprintf("围巾%d", i), fmt.Sprintf("scarf%d", i), int64(3000+i)).ID)
		}
		// The frequency sketch counts once the cache is half full.
		for _, id := range ids[4:20] {
			detail(t, x.a, id)
		}
		hot := ids[:4]
		for range 20 {
			for _, id := range hot {
				detail(t, x.a, id)
			}
		}
		for _, id := range ids[20:] {
			detail(t, x.a, id)
			if st := x.a.Stats(); st.Bytes > budget+4096 {
				t.Fatalf("%+v, want at most the %d-byte budget", st, budget)
			}
		}
		st := x.a.Stats()
		if st.Evictions == 0 || st.Bytes > budget {
			t.Fatalf("after a scan of one-off pages: %+v, want evictions and at most %d bytes", st, budget)
		}
		n := countQueries(t, d)
		for _, id := range hot {
			if _, err := x.a.Product(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if got := n.Load(); got != 0 {
			t.Fatalf("the popular pages ran %d queries after a scan of one-off pages, want 0 (kept)", got)
		}
	})
}

// applied hands changes to a cache and reports each one on a channel, so
// the test waits for the delivery instead of sleeping.
type applied struct {
	*catalog.Cache
	done chan catalog.Change
}

func (a applied) CatalogChanged(ctx context.Context, ch catalog.Change) {
	a.Cache.CatalogChanged(ctx, ch)
	a.done <- ch
}

func TestRedisSharesChangesBetweenInstances(t *testing.T) {
	client, _ := redistest.Client(t, redistest.Shared(t), redistest.Prefix(t), nil)
	d := dbtest.SQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x := newInstances(t, d, catalog.CacheOptions{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Wide enough that a hundred announcements made on a loaded machine
	// still fall in one window.
	const window = 250 * time.Millisecond

	// Instance a publishes its changes; instance b listens and is unsure
	// until its subscription is confirmed.
	pubA, err := catalog.NewRedisInvalidations(client, x.a, window, log)
	if err != nil {
		t.Fatal(err)
	}
	got := applied{Cache: x.b, done: make(chan catalog.Change, 64)}
	subB, err := catalog.NewRedisInvalidations(client, got, window, log)
	if err != nil {
		t.Fatal(err)
	}
	if !x.b.Stats().Unsure {
		t.Fatal("an instance that has not subscribed yet is sure of its pages")
	}
	ps, err := subB.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if x.b.Stats().Unsure {
		t.Fatal("a confirmed subscription left the cache unsure")
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
	if ch := wait(); len(ch.ProductIDs) != 1 || ch.ProductIDs[0] != p.ID || !ch.Lists || ch.Counts {
		t.Fatalf("change heard = %+v", ch)
	}
	// No time has passed: the off-shelf product is gone from b because of
	// the shared change, not because of a TTL.
	if detail(t, x.b, p.ID) != nil {
		t.Fatal("instance b still shows the off-shelf product after the shared change")
	}
	// A hundred checkouts of one product within a window travel as one
	// message.
	for range 100 {
		svc.StockChanged(ctx, p.ID)
	}
	if ch := wait(); !ch.Counts || fmt.Sprint(ch.ProductIDs) != fmt.Sprint([]int64{p.ID}) {
		t.Fatalf("stock change heard = %+v", ch)
	}
	select {
	case ch := <-got.done:
		t.Fatalf("a second message for coalesced stock changes: %+v", ch)
	case <-time.After(4 * window):
	}
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
