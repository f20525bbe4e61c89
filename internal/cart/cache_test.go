package cart_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/cart"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/platform/redistest"
)

// service returns another cart service on the fixture's database, catalog
// and clock: another instance of the shop.
func (f *fixture) service(t *testing.T, opts ...cart.Option) *cart.Service {
	t.Helper()
	st, err := cart.NewStore(f.d)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cart.NewService(f.d, st, f.cat, f.clk, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// retitle renames a product behind every cache's back, as a raw statement.
func (f *fixture) retitle(t *testing.T, productID int64, title string) {
	t.Helper()
	if err := f.d.Writer(context.Background()).Exec("UPDATE products SET title = ? WHERE id = ?", title, productID).Error; err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, svc *cart.Service, customerID int64) cart.Cart {
	t.Helper()
	c, err := svc.Get(context.Background(), customerID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// titles returns the title every line shows, or "mixed".
func titles(c cart.Cart) string {
	out := ""
	for i, l := range c.Lines {
		if i > 0 && l.Item.Title != out {
			return "mixed"
		}
		out = l.Item.Title
	}
	return out
}

// quantities shows a cart's lines as sku:quantity, selection and the
// selected total.
func quantities(c cart.Cart) string {
	s := ""
	for _, l := range c.Lines {
		s += fmt.Sprintf("%d:%d:%v ", l.SKUID, l.Quantity, l.Selected)
	}
	return s + fmt.Sprint(c.SelectedTotalFen)
}

// Every kind of write to a cart shows on the next read, although the read
// before it was served from memory (a rename made behind the cache's back
// does not show until the write), and the read after it is a fresh load.
func TestCartReadYourWrites(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		p := f.product(t, "w", 500, 50, 50)
		a, b := p.SKUs[0].ID, p.SKUs[1].ID
		la, err := f.cart.Add(ctx, alice, a, 1)
		if err != nil {
			t.Fatal(err)
		}
		var lb int64
		steps := []struct {
			name  string
			write func() error
			want  string
		}{
			{"add a line", func() error {
				v, err := f.cart.Add(ctx, alice, b, 2)
				lb = v.ID
				return err
			}, fmt.Sprintf("%d:2:true %d:1:true 1500", b, a)},
			{"add to a line", func() error { _, err := f.cart.Add(ctx, alice, a, 3); return err },
				fmt.Sprintf("%d:2:true %d:4:true 3000", b, a)},
			{"change the quantity", func() error {
				_, err := f.cart.Update(ctx, alice, la.ID, cart.Patch{Quantity: ptr(int64(7))})
				return err
			}, fmt.Sprintf("%d:2:true %d:7:true 4500", b, a)},
			{"unselect", func() error {
				_, err := f.cart.Update(ctx, alice, la.ID, cart.Patch{Selected: ptr(false)})
				return err
			}, fmt.Sprintf("%d:2:true %d:7:false 1000", b, a)},
			{"remove", func() error { return f.cart.Remove(ctx, alice, lb) }, fmt.Sprintf("%d:7:false 0", a)},
			{"checkout", func() error {
				return d.Tx(ctx, func(ctx context.Context) error {
					if err := f.cart.RemoveOrdered(ctx, alice, []cart.Ordered{{SKUID: a, Quantity: 5}}); err != nil {
						return err
					}
					// A read from outside the order's transaction, before
					// its commit, sees the cart as it was and caches it:
					// the version must move after the commit, or this
					// would be served after the order answered.
					if c := get(t, f.cart, alice); quantities(c) != fmt.Sprintf("%d:7:false 0", a) {
						return fmt.Errorf("cart before the commit = %s", quantities(c))
					}
					return nil
				})
			}, fmt.Sprintf("%d:2:false 0", a)},
		}
		for i, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				before := get(t, f.cart, alice)
				title := fmt.Sprintf("behind %d", i)
				f.retitle(t, p.ID, title)
				if c := get(t, f.cart, alice); titles(c) == title {
					t.Fatal("the read before the write was not served from memory: the test proves nothing")
				} else if quantities(c) != quantities(before) {
					t.Fatalf("cached cart = %s, want %s", quantities(c), quantities(before))
				}
				if err := st.write(); err != nil {
					t.Fatal(err)
				}
				c := get(t, f.cart, alice)
				if got := quantities(c); got != st.want {
					t.Fatalf("cart after %s = %s, want %s", st.name, got, st.want)
				}
				if titles(c) != title {
					t.Fatalf("cart after %s shows title %q, want the fresh %q", st.name, titles(c), title)
				}
			})
		}
	})
}

// A cart read twice within the stock lag is read from the database once;
// a change its customer did not make (price) shows once the lag has passed.
// What Get returns is the caller's to change.
func TestCartCachedForTheStockLag(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		p := f.product(t, "lag", 500, 50)
		sku := p.SKUs[0].ID
		if _, err := f.cart.Add(ctx, alice, sku, 2); err != nil {
			t.Fatal(err)
		}
		first := get(t, f.cart, alice)
		if err := d.Writer(ctx).Exec("UPDATE skus SET price_fen = 800 WHERE id = ?", sku).Error; err != nil {
			t.Fatal(err)
		}
		n := countQueries(t, d)
		first.Lines[0].Quantity = 998 // the loading read's result is the caller's too
		loads := f.cart.CacheStats().Loads
		f.clk.Advance(catalog.DefaultStockLag - time.Millisecond)
		for i := range 2 {
			c := get(t, f.cart, alice)
			if got := n.Load(); got != 0 {
				t.Fatalf("read %d within the stock lag ran %d queries, want 0", i+2, got)
			}
			if l := c.Lines[0]; l.Quantity != 2 || l.Item.PriceFen != 500 || c.SelectedTotalFen != 1000 {
				t.Fatalf("read %d = %+v total %d, want the cached 2 × 500", i+2, l, c.SelectedTotalFen)
			}
			// The caller scribbles on what it got, which must not reach
			// the cache.
			c.Lines[0].Quantity, c.Lines[0].Item.PriceFen = 999, 1
		}
		if f.cart.CacheStats().Loads != loads {
			t.Fatal("a read served from memory counted a load")
		}
		f.clk.Advance(time.Millisecond)
		third := get(t, f.cart, alice)
		if l := third.Lines[0]; l.Item.PriceFen != 800 || third.SelectedTotalFen != 1600 {
			t.Fatalf("read after the stock lag = %+v total %d, want the new price 800 × 2", l, third.SelectedTotalFen)
		}
		if got := n.Load(); got != 1 {
			t.Fatalf("the read after the stock lag ran %d queries, want 1", got)
		}
	})
}

// With the cache turned off every read joins the tables.
func TestCartCacheOff(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		svc := f.service(t, cart.WithCache(cart.CacheOptions{Entries: 0}))
		p := f.product(t, "off", 500, 50)
		if _, err := svc.Add(context.Background(), alice, p.SKUs[0].ID, 1); err != nil {
			t.Fatal(err)
		}
		get(t, svc, alice)
		f.retitle(t, p.ID, "renamed")
		if c := get(t, svc, alice); titles(c) != "renamed" {
			t.Fatalf("uncached cart shows %q", titles(c))
		}
		if s := svc.CacheStats(); s != (cart.CacheStats{}) {
			t.Fatalf("stats of no cache = %+v", s)
		}
	})
}

// memVersions are versions shared by services in one test, as Redis shares
// them between instances.
type memVersions struct {
	mu sync.Mutex
	v  map[int64]uint64
}

func (m *memVersions) Version(_ context.Context, id int64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v[id], nil
}

func (m *memVersions) Bump(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v[id]++
	return nil
}

// afterNextRead runs fn once, right after the next statement through the
// reading pool has been sent, before its rows are read.
func afterNextRead(t *testing.T, d *db.DB, fn func()) {
	t.Helper()
	var armed atomic.Bool
	armed.Store(true)
	name := "minimall:test:race"
	cb := d.Reader(context.Background()).Callback()
	if err := cb.Row().After("gorm:row").Register(name, func(*gorm.DB) {
		if armed.CompareAndSwap(true, false) {
			fn()
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cb.Row().Remove(name) })
}

// A read on one instance whose load raced a write committed on another
// (the write commits and moves the version after the read sent its
// statement, before it stored what it read) is stored under the version it
// took before its load, so the next read loads again and shows the write.
// Taking the version after the load would store the rows read before the
// write as current.
func TestRacingLoadIsNotServedAfterTheWrite(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		shared := &memVersions{v: map[int64]uint64{}}
		x := f.service(t, cart.WithCache(cart.CacheOptions{Entries: 100, Versions: shared}))
		y := f.service(t, cart.WithCache(cart.CacheOptions{Entries: 100, Versions: shared}))
		p := f.product(t, "race", 500, 50, 50)
		a, b := p.SKUs[0].ID, p.SKUs[1].ID
		if _, err := x.Add(ctx, alice, a, 1); err != nil {
			t.Fatal(err)
		}
		afterNextRead(t, d, func() {
			if _, err := y.Add(ctx, alice, b, 3); err != nil {
				t.Error(err)
			}
		})
		get(t, x, alice) // its load races y's add
		f.retitle(t, p.ID, "after the race")
		c := get(t, x, alice)
		if want := fmt.Sprintf("%d:3:true %d:1:true 2000", b, a); quantities(c) != want {
			t.Fatalf("cart after the racing write = %s, want %s", quantities(c), want)
		}
		if titles(c) != "after the race" {
			t.Fatalf("the load that raced the write was served (title %q)", titles(c))
		}
	})
}

// With Redis, a write on one instance shows on the next read on another
// that had the cart in memory, for every kind of write.
func TestRedisVersionsShareWrites(t *testing.T) {
	addr := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		instance := func() *cart.Service {
			rc, _ := redistest.Client(t, addr, prefix+d.Dialect()+":", nil)
			v, err := cart.NewRedisVersions(rc)
			if err != nil {
				t.Fatal(err)
			}
			return f.service(t, cart.WithCache(cart.CacheOptions{Entries: 100, Versions: v}))
		}
		x, y := instance(), instance()
		p := f.product(t, "redis", 500, 50, 50)
		a, b := p.SKUs[0].ID, p.SKUs[1].ID
		la, err := x.Add(ctx, alice, a, 1)
		if err != nil {
			t.Fatal(err)
		}
		var lb int64
		steps := []struct {
			name  string
			write func() error
			want  string
		}{
			{"add", func() error { v, err := y.Add(ctx, alice, b, 2); lb = v.ID; return err },
				fmt.Sprintf("%d:2:true %d:1:true 1500", b, a)},
			{"update", func() error {
				_, err := y.Update(ctx, alice, la.ID, cart.Patch{Quantity: ptr(int64(4)), Selected: ptr(false)})
				return err
			}, fmt.Sprintf("%d:2:true %d:4:false 1000", b, a)},
			{"remove", func() error { return y.Remove(ctx, alice, lb) }, fmt.Sprintf("%d:4:false 0", a)},
			{"checkout", func() error {
				return d.Tx(ctx, func(ctx context.Context) error {
					return y.RemoveOrdered(ctx, alice, []cart.Ordered{{SKUID: a, Quantity: 1}})
				})
			}, fmt.Sprintf("%d:3:false 0", a)},
		}
		for i, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				get(t, x, alice)
				title := fmt.Sprintf("behind %d", i)
				f.retitle(t, p.ID, title)
				if titles(get(t, x, alice)) == title {
					t.Fatal("instance x did not serve the cart from memory: the test proves nothing")
				}
				if err := st.write(); err != nil {
					t.Fatal(err)
				}
				c := get(t, x, alice)
				if got := quantities(c); got != st.want || titles(c) != title {
					t.Fatalf("instance x after y's %s: %s titled %q, want %s titled %q", st.name, got, titles(c), st.want, title)
				}
			})
		}
	})
}

// With Redis down, cart reads and writes answer from the database: no
// error, never a cached cart (the other instances' writes could not be
// known), and the fallback is counted and logged once.
func TestRedisDownReadsTheDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		var log syncBuffer
		rc, reg := redistest.Client(t, redistest.ClosedAddr(t), redistest.Prefix(t), &log)
		v, err := cart.NewRedisVersions(rc)
		if err != nil {
			t.Fatal(err)
		}
		svc := f.service(t, cart.WithCache(cart.CacheOptions{Entries: 100, Versions: v}))
		p := f.product(t, "down", 500, 50)
		if _, err := svc.Add(ctx, alice, p.SKUs[0].ID, 2); err != nil {
			t.Fatalf("add with Redis down: %v", err)
		}
		for i := range 3 {
			title := fmt.Sprintf("down %d", i)
			f.retitle(t, p.ID, title)
			c, err := svc.Get(ctx, alice)
			if err != nil {
				t.Fatalf("read with Redis down: %v", err)
			}
			if titles(c) != title || quantities(c) != fmt.Sprintf("%d:2:true 1000", p.SKUs[0].ID) {
				t.Fatalf("read %d with Redis down = %s titled %q, want the database's %q", i, quantities(c), titles(c), title)
			}
		}
		if s := svc.CacheStats(); s.Hits != 0 || s.Entries != 0 {
			t.Fatalf("cache with Redis down = %+v, want nothing held or served", s)
		}
		if got := redistest.Counter(t, reg, "minimall_redis_fallback_total", "use", cart.RedisUse); got < 4 {
			t.Fatalf("minimall_redis_fallback_total{use=cart_version} = %v, want at least 4 (one bump, three reads)", got)
		}
		if n := redistest.Lines(log.String(), "level=WARN", "redis unavailable", "use="+cart.RedisUse); n != 1 {
			t.Fatalf("%d outage warnings, want 1:\n%s", n, log.String())
		}
	})
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
