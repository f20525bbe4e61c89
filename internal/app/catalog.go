package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/minimall/minimall/internal/cart"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/user"
)

// buildCatalog wires the catalog (public reads from the read cache, staff
// writes announced to it and, with Redis, to the other instances), the cart
// and the address book.
func (a *App) buildCatalog() error {
	store, err := catalog.NewStore(a.db)
	if err != nil {
		return err
	}
	cache, err := catalog.NewCache(store, a.clock, catalog.CacheOptions{})
	if err != nil {
		return err
	}
	a.registerCacheMetrics(cache)
	var inv catalog.Invalidator = cache
	if a.cfg.Redis.Addr != "" {
		shared, err := catalog.NewRedisInvalidations(redis.NewClient(&redis.Options{Addr: a.cfg.Redis.Addr}),
			catalog.DefaultRedisChannel, cache, cache.Flush, a.log)
		if err != nil {
			return err
		}
		inv = catalog.Invalidators{cache, shared}
		a.background = append(a.background, Job{Name: "catalog cache invalidations (redis)", Run: shared.Listen})
	}
	a.background = append(a.background, Job{Name: "catalog cache refresh", Run: func(ctx context.Context) {
		cache.RunRefresher(ctx, func(err error) { a.log.WarnContext(ctx, "catalog cache refresh failed", "err", err) })
	}})
	if a.catalogSvc, err = catalog.NewService(a.db, store, a.audit, a.clock, inv, catalog.WithImagePolicy(a.media)); err != nil {
		return err
	}
	if a.catalogH, err = catalog.NewHandlers(a.catalogSvc, cache); err != nil {
		return err
	}
	cartStore, err := cart.NewStore(a.db)
	if err != nil {
		return err
	}
	if a.carts, err = cart.NewService(a.db, cartStore, a.catalogSvc, a.clock); err != nil {
		return err
	}
	if a.cartH, err = cart.NewHandlers(a.carts); err != nil {
		return err
	}
	addrStore, err := user.NewAddressStore(a.db)
	if err != nil {
		return err
	}
	if a.addresses, err = user.NewAddressService(a.db, addrStore, a.clock); err != nil {
		return err
	}
	a.addressesH, err = user.NewAddressHandlers(a.addresses)
	return err
}

// registerCacheMetrics exposes the read cache's hits, misses and size on
// /metrics, read from the cache when Prometheus scrapes.
func (a *App) registerCacheMetrics(cache *catalog.Cache) {
	stat := func(f func(catalog.CacheStats) float64) func() float64 {
		return func() float64 { return f(cache.Stats()) }
	}
	a.metrics.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "minimall_catalog_cache_hits_total",
			Help: "Public catalog pages served from the read cache."}, stat(func(s catalog.CacheStats) float64 { return float64(s.Hits) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "minimall_catalog_cache_misses_total",
			Help: "Public catalog pages loaded from the database on a request."}, stat(func(s catalog.CacheStats) float64 { return float64(s.Misses) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "minimall_catalog_cache_entries",
			Help: "Pages held by the read cache."}, stat(func(s catalog.CacheStats) float64 { return float64(s.Entries) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "minimall_catalog_cache_bytes",
			Help: "Approximate bytes held by the read cache."}, stat(func(s catalog.CacheStats) float64 { return float64(s.Bytes) })),
	)
}
