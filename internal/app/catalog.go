package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/cart"
	"github.com/minimall/minimall/internal/catalog"
)

// buildCatalog wires the catalog (public reads from the read cache, staff
// writes announced to it and, with Redis, to the other instances), the cart
// and the address book.
func (a *App) buildCatalog() error {
	store, err := catalog.NewStore(a.db)
	if err != nil {
		return err
	}
	reloads := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "minimall_catalog_page_reload_interval_seconds",
		Help:    "For each product page loaded again, the time since the previous load of the same product's page: a hot product under checkouts reloads about once per stock lag.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 120, 300, 600}})
	a.metrics.Registry.MustRegister(reloads)
	cc := a.cfg.Catalog
	cache, err := catalog.NewCache(store, a.clock, catalog.CacheOptions{TTL: cc.CacheTTL, StockLag: cc.StockLag,
		ListTTL: cc.ListTTL, MaxBytes: int64(cc.CacheMaxBytes), ReplicaWindow: a.db.ReplicaWindow(),
		OnReload: func(d time.Duration) { reloads.Observe(d.Seconds()) }})
	if err != nil {
		return err
	}
	a.registerCacheMetrics(cache)
	// Checkout prices from SKU facts at most the stock lag old, dropped at
	// once by every announced product change (the catalog service tells it
	// of its own writes; the Redis link of the other instances').
	quotes, err := catalog.NewQuoteCache(store, a.clock, catalog.QuoteOptions{Life: cache.StockLag()})
	if err != nil {
		return err
	}
	a.registerQuoteMetrics(quotes)
	var inv catalog.Invalidator = cache
	if a.redis != nil {
		// Stock and sales are published at most four times per stock lag.
		shared, err := catalog.NewRedisInvalidations(a.redis, catalog.Listeners{cache, quotes}, cache.StockLag()/4, a.log)
		if err != nil {
			return err
		}
		inv = catalog.Invalidators{cache, shared}
		a.background = append(a.background, Job{Name: "catalog cache invalidations (redis)", Run: shared.Listen})
	}
	a.background = append(a.background, Job{Name: "catalog cache refresh", Run: func(ctx context.Context) {
		cache.RunRefresher(ctx, func(err error) { a.log.WarnContext(ctx, "catalog cache refresh failed", "err", err) })
	}})
	if a.catalogSvc, err = catalog.NewService(a.db, store, a.audit, a.clock, inv, catalog.WithImagePolicy(a.media),
		catalog.WithQuoteCache(quotes)); err != nil {
		return err
	}
	if a.catalogH, err = catalog.NewHandlers(a.catalogSvc, cache); err != nil {
		return err
	}
	cartStore, err := cart.NewStore(a.db)
	if err != nil {
		return err
	}
	// Carts are cached for the stock lag, like product pages; with Redis
	// their versions are shared, so a write on one instance shows on the
	// next read on any other.
	co := cart.CacheOptions{Entries: a.cfg.Cart.CacheEntries, Life: cache.StockLag()}
	if a.redis != nil && co.Entries > 0 {
		if co.Versions, err = cart.NewRedisVersions(a.redis); err != nil {
			return err
		}
	}
	if a.carts, err = cart.NewService(a.db, cartStore, a.catalogSvc, a.clock, cart.WithCache(co)); err != nil {
		return err
	}
	a.registerCartMetrics(a.carts)
	if a.cartH, err = cart.NewHandlers(a.carts); err != nil {
		return err
	}
	addrStore, err := address.NewStore(a.db)
	if err != nil {
		return err
	}
	if a.addresses, err = address.NewService(a.db, addrStore, a.clock); err != nil {
		return err
	}
	a.addressesH, err = address.NewHandlers(a.addresses)
	return err
}

// funcMetric is one figure read when Prometheus scrapes /metrics: a
// counter, or a gauge when gauge is set.
type funcMetric struct {
	name, help string
	gauge      bool
	value      func() float64
}

// registerFuncMetrics exposes figures read when Prometheus scrapes.
func (a *App) registerFuncMetrics(ms ...funcMetric) {
	for _, m := range ms {
		if m.gauge {
			a.metrics.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.name, Help: m.help}, m.value))
		} else {
			a.metrics.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help}, m.value))
		}
	}
}

// registerCartMetrics exposes the cart cache's hits, loads and size.
func (a *App) registerCartMetrics(carts *cart.Service) {
	a.registerFuncMetrics(
		funcMetric{"minimall_cart_cache_hits_total", "Cart reads served from memory.", false,
			func() float64 { return float64(carts.CacheStats().Hits) }},
		funcMetric{"minimall_cart_cache_loads_total", "Cart reads that joined the tables on the primary.", false,
			func() float64 { return float64(carts.CacheStats().Loads) }},
		funcMetric{"minimall_cart_cache_entries", "Customers' carts held by the cart cache.", true,
			func() float64 { return float64(carts.CacheStats().Entries) }},
	)
}

// registerQuoteMetrics exposes the quote cache's hits, loads and size.
func (a *App) registerQuoteMetrics(quotes *catalog.QuoteCache) {
	a.registerFuncMetrics(
		funcMetric{"minimall_catalog_quote_hits_total", "SKUs a checkout or preview priced from the quote cache.", false,
			func() float64 { return float64(quotes.Stats().Hits) }},
		funcMetric{"minimall_catalog_quote_loads_total", "SKUs a checkout or preview read from the primary to price them.", false,
			func() float64 { return float64(quotes.Stats().Loads) }},
		funcMetric{"minimall_catalog_quote_entries", "SKUs held by the quote cache.", true,
			func() float64 { return float64(quotes.Stats().Entries) }},
	)
}

// registerCacheMetrics exposes the read cache's hits, misses and size.
func (a *App) registerCacheMetrics(cache *catalog.Cache) {
	st := cache.Stats
	a.registerFuncMetrics(
		funcMetric{"minimall_catalog_cache_hits_total", "Public catalog pages served from the read cache.", false,
			func() float64 { return float64(st().Hits) }},
		funcMetric{"minimall_catalog_cache_misses_total", "Public catalog pages a request had to wait for (loaded from the database).", false,
			func() float64 { return float64(st().Misses) }},
		funcMetric{"minimall_catalog_cache_detail_loads_total", "Product pages read from the database, on a request or ahead of expiry.", false,
			func() float64 { return float64(st().DetailLoads) }},
		funcMetric{"minimall_catalog_cache_list_loads_total", "List pages read from the database, on a request or ahead of expiry.", false,
			func() float64 { return float64(st().ListLoads) }},
		funcMetric{"minimall_catalog_cache_evictions_total", "Pages evicted to stay within MINIMALL_CATALOG_CACHE_MAX_BYTES.", false,
			func() float64 { return float64(st().Evictions) }},
		funcMetric{"minimall_catalog_cache_entries", "Pages held by the read cache.", true,
			func() float64 { return float64(st().Entries) }},
		funcMetric{"minimall_catalog_cache_bytes", "Bytes held by the read cache as its budget counts them.", true,
			func() float64 { return float64(st().Bytes) }},
		funcMetric{"minimall_catalog_cache_unsure", "1 while changes from other instances may be missed and pages live at most the stock lag.", true,
			func() float64 {
				if st().Unsure {
					return 1
				}
				return 0
			}},
	)
}
