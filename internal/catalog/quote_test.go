package catalog_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/platform/redistest"
)

// quoting is a catalog service on x's database whose quote cache the test
// holds, with its writes announced to announce.
func quoting(t *testing.T, x *instances, announce catalog.Invalidator) (*catalog.Service, *catalog.QuoteCache) {
	t.Helper()
	q, err := catalog.NewQuoteCache(x.store, x.clk, catalog.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lg, err := audit.New(x.d, x.clk)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := catalog.NewService(x.d, x.store, lg, x.clk, announce, catalog.WithQuoteCache(q))
	if err != nil {
		t.Fatal(err)
	}
	return svc, q
}

// quotedPrice returns the price the service quotes for sku.
func quotedPrice(t *testing.T, svc *catalog.Service, sku int64) int64 {
	t.Helper()
	items, err := svc.QuoteItems(context.Background(), []int64{sku})
	if err != nil {
		t.Fatal(err)
	}
	it, ok := items[sku]
	if !ok {
		t.Fatalf("sku %d is not quoted", sku)
	}
	return it.PriceFen
}

func setPriceBehind(t *testing.T, d *db.DB, sku, price int64) {
	t.Helper()
	if err := d.Writer(context.Background()).Exec("UPDATE skus SET price_fen = ? WHERE id = ?", price, sku).Error; err != nil {
		t.Fatal(err)
	}
}

func TestQuoteCacheKeepsSKUsForTheLagUntilTheirProductChanges(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		svc, q := quoting(t, x, catalog.NopInvalidator{})
		p, err := svc.CreateProduct(ctx, staff, productInput(x.cat.ID, "保温杯", "cup", 1000, 2000), true)
		if err != nil {
			t.Fatal(err)
		}
		other, err := svc.CreateProduct(ctx, staff, productInput(x.cat.ID, "茶壶", "pot", 500), true)
		if err != nil {
			t.Fatal(err)
		}
		a, b := p.SKUs[0].ID, p.SKUs[1].ID
		items, err := svc.QuoteItems(ctx, []int64{a, b, 987654})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 2 || items[a].PriceFen != 1000 || items[b].PriceFen != 2000 || !items[a].Buyable() ||
			items[a].Title != "保温杯" || items[a].Stock != 10 {
			t.Fatalf("quoted = %+v", items)
		}
		if s := q.Stats(); s.Loads != 3 || s.Hits != 0 {
			t.Fatalf("stats = %+v, want 3 loads", s)
		}

		// Unannounced changes and stock announcements leave the quote as
		// it is for the lag; so does a change of another product.
		setPriceBehind(t, d, a, 1111)
		svc.StockChanged(ctx, p.ID)
		svc.ProductsChanged(ctx, other.ID)
		x.clk.Advance(catalog.DefaultStockLag - time.Millisecond)
		if got := quotedPrice(t, svc, a); got != 1000 {
			t.Fatalf("price = %d, want the cached 1000", got)
		}
		if s := q.Stats(); s.Hits != 1 || s.Loads != 3 {
			t.Fatalf("stats = %+v, want a hit", s)
		}
		// Past the lag it is read again.
		x.clk.Advance(time.Millisecond)
		if got := quotedPrice(t, svc, a); got != 1111 {
			t.Fatalf("price after the lag = %d, want 1111", got)
		}
		// An announced change of its product drops every SKU of it at once.
		setPriceBehind(t, d, a, 1222)
		setPriceBehind(t, d, b, 2222)
		svc.ProductsChanged(ctx, p.ID)
		if got := quotedPrice(t, svc, a); got != 1222 {
			t.Fatalf("price after an announced change = %d, want 1222", got)
		}
		if got := quotedPrice(t, svc, b); got != 2222 {
			t.Fatalf("price of the other sku after an announced change = %d, want 2222", got)
		}
		// A staff write through the service is announced to the cache.
		in := productInput(x.cat.ID, "保温杯", "cup", 1300, 2300)
		in.SKUs[0].ID, in.SKUs[1].ID = a, b
		if _, err := svc.UpdateProduct(ctx, staff, p.ID, in); err != nil {
			t.Fatal(err)
		}
		if got := quotedPrice(t, svc, a); got != 1300 {
			t.Fatalf("price after a staff write = %d, want 1300", got)
		}
		if _, err := svc.SetShelf(ctx, staff, p.ID, false); err != nil {
			t.Fatal(err)
		}
		if items, err := svc.QuoteItems(ctx, []int64{a}); err != nil || items[a].Buyable() {
			t.Fatalf("quoted after off shelf = %+v, %v; want not buyable", items, err)
		}
		// A flush (the Redis link resubscribed) drops everything.
		setPriceBehind(t, d, other.SKUs[0].ID, 555)
		if got := quotedPrice(t, svc, other.SKUs[0].ID); got != 555 {
			t.Fatalf("price = %d, want 555", got)
		}
		setPriceBehind(t, d, other.SKUs[0].ID, 566)
		catalog.Listeners{x.a, q}.Flush()
		if got := quotedPrice(t, svc, other.SKUs[0].ID); got != 566 {
			t.Fatalf("price after a flush = %d, want 566", got)
		}
	})
}

func TestQuoteCacheNeverServesALoadRacingAChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := newInstances(t, d, catalog.CacheOptions{})
		svc, _ := quoting(t, x, catalog.NopInvalidator{})
		p, err := svc.CreateProduct(ctx, staff, productInput(x.cat.ID, "保温杯", "race", 1000), true)
		if err != nil {
			t.Fatal(err)
		}
		sku := p.SKUs[0].ID
		in := productInput(x.cat.ID, "保温杯", "race", 2000)
		in.SKUs[0].ID = sku
		name := "minimall:test:quote-race"
		var armed atomic.Bool
		armed.Store(true)
		cb := d.Reader(ctx).Callback()
		// Once the load has sent its query, staff change the price: the
		// write commits and is announced before the load stores what it
		// read.
		err = cb.Row().After("gorm:row").Register(name, func(tx *gorm.DB) {
			if strings.Contains(tx.Statement.SQL.String(), "FROM skus s JOIN products p") && armed.CompareAndSwap(true, false) {
				if _, err := svc.UpdateProduct(ctx, staff, p.ID, in); err != nil {
					t.Error(err)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cb.Row().Remove(name) })
		raced := quotedPrice(t, svc, sku)
		if armed.Load() {
			t.Fatal("the write never ran during the load")
		}
		if raced != 1000 && raced != 2000 {
			t.Fatalf("the racing load read %d", raced)
		}
		// Behind the cache, the price moves once more. Had the racing load
		// been kept as current, the next quote would answer what it read.
		setPriceBehind(t, d, sku, 3000)
		if got := quotedPrice(t, svc, sku); got != 3000 {
			t.Fatalf("price after the race = %d, want 3000 read again: a load racing a change was kept after it (it read %d)", got, raced)
		}
	})
}

func TestRedisDropsQuotesOnOtherInstances(t *testing.T) {
	client, _ := redistest.Client(t, redistest.Shared(t), redistest.Prefix(t), nil)
	d := dbtest.SQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x := newInstances(t, d, catalog.CacheOptions{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const window = 50 * time.Millisecond

	// Instance a publishes its staff writes; instance b hears them in its
	// read cache and its quote cache.
	quotesB, err := catalog.NewQuoteCache(x.store, x.clk, catalog.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svcB, err := catalog.NewService(d, x.store, mustAudit(t, x), x.clk, catalog.NopInvalidator{}, catalog.WithQuoteCache(quotesB))
	if err != nil {
		t.Fatal(err)
	}
	pubA, err := catalog.NewRedisInvalidations(client, x.a, window, log)
	if err != nil {
		t.Fatal(err)
	}
	heard := applied{Cache: x.b, done: make(chan catalog.Change, 64)}
	subB, err := catalog.NewRedisInvalidations(client, catalog.Listeners{quotesB, heard}, window, log)
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
	svcA, _ := quoting(t, x, catalog.Invalidators{x.a, pubA})
	wait := func() {
		t.Helper()
		select {
		case <-heard.done:
		case <-time.After(5 * time.Second):
			t.Fatal("instance b heard of no change within 5s")
		}
	}
	p, err := svcA.CreateProduct(ctx, staff, productInput(x.cat.ID, "蓝牙耳机", "buds", 19900), true)
	if err != nil {
		t.Fatal(err)
	}
	wait()
	sku := p.SKUs[0].ID
	if items, err := svcB.QuoteItems(ctx, []int64{sku}); err != nil || !items[sku].Buyable() {
		t.Fatalf("b quotes %+v, %v; want the sku buyable", items, err)
	}
	if _, err := svcA.SetShelf(ctx, staff, p.ID, false); err != nil {
		t.Fatal(err)
	}
	wait()
	// No time has passed: b's quote follows the shared change.
	if items, err := svcB.QuoteItems(ctx, []int64{sku}); err != nil || items[sku].Buyable() {
		t.Fatalf("b quotes %+v, %v after a's off-shelf; want not buyable", items, err)
	}
	if s := quotesB.Stats(); s.Loads != 2 || s.Hits != 0 {
		t.Fatalf("b's quote stats = %+v, want two loads", s)
	}
}

func mustAudit(t *testing.T, x *instances) *audit.Log {
	t.Helper()
	lg, err := audit.New(x.d, x.clk)
	if err != nil {
		t.Fatal(err)
	}
	return lg
}
