package app

import (
	"context"
	"time"

	"github.com/minimall/minimall/internal/aftersale"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/logistics"
	"github.com/minimall/minimall/internal/platform/jobs"
)

// afterSaleJobsEvery is how often the after-sales jobs look for due work
// (ARCHITECTURE.md: 10 s or less).
const afterSaleJobsEvery = 10 * time.Second

// buildAfterSales wires the after-sales module to the order service, the
// catalog's stock, the payment module's refund service and the logistics
// module's tracking of return and replacement parcels, and registers its
// jobs. It runs after buildOrders, buildPayments and buildLogistics.
func (a *App) buildAfterSales() error {
	store, err := aftersale.NewStore(a.db)
	if err != nil {
		return err
	}
	if a.afterSales, err = aftersale.NewService(aftersale.Deps{
		DB: a.db, Store: store, Orders: a.orders, Catalog: afterSaleCatalog{a.catalogSvc.Store()},
		Refunds: a.payments, Parcels: afterSaleParcels{a.logistics}, Audit: a.audit, Clock: a.clock, Log: a.log,
	}, aftersale.Config{
		Window: a.cfg.AfterSale.Window, AutoApprove: a.cfg.AfterSale.AutoApprove, ReturnWindow: a.cfg.AfterSale.ReturnWindow,
	}); err != nil {
		return err
	}
	if a.afterSalesH, err = aftersale.NewHandlers(a.afterSales); err != nil {
		return err
	}
	return a.addJobs(
		jobs.Job{Name: "aftersale-refund", Every: afterSaleJobsEvery, Batch: aftersale.JobBatch, Step: a.afterSales.SettleRefunds},
		jobs.Job{Name: "aftersale-auto-approve", Every: afterSaleJobsEvery, Batch: aftersale.JobBatch, Step: a.afterSales.AutoApprove},
		jobs.Job{Name: "aftersale-return-expiry", Every: afterSaleJobsEvery, Batch: aftersale.JobBatch, Step: a.afterSales.ExpireReturns},
	)
}

// AfterSales returns the after-sales service, whose job steps tests drive
// directly.
func (a *App) AfterSales() *aftersale.Service { return a.afterSales }

// afterSaleCatalog is the catalog as after-sales see it.
type afterSaleCatalog struct{ store *catalog.Store }

func (c afterSaleCatalog) SKUs(ctx context.Context, ids []int64) (map[int64]aftersale.SKU, error) {
	items, err := c.store.Items(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]aftersale.SKU, len(items))
	for id, it := range items {
		out[id] = aftersale.SKU{ID: it.SKUID, ProductID: it.ProductID, PriceFen: it.PriceFen, Buyable: it.OnShelf && !it.Deleted}
	}
	return out, nil
}

func (c afterSaleCatalog) TakeStock(ctx context.Context, skuID, n int64) (bool, error) {
	return c.store.DecrementStock(ctx, skuID, n)
}

func (c afterSaleCatalog) ReturnStock(ctx context.Context, skuID, n int64) (bool, error) {
	return c.store.IncrementStock(ctx, skuID, n)
}

// afterSaleParcels is the logistics module as after-sales see it: return
// and replacement parcels, tracked like outbound ones.
type afterSaleParcels struct{ svc *logistics.Service }

var parcelKinds = map[string]string{
	aftersale.ParcelReturn:      logistics.KindReturn,
	aftersale.ParcelReplacement: logistics.KindReplacement,
}

func (p afterSaleParcels) Track(ctx context.Context, kind string, id int64, carrier, trackingNo, phone string) (aftersale.Parcel, error) {
	got, err := p.svc.TrackParcel(ctx, parcelKinds[kind], id, carrier, trackingNo, phone)
	if err != nil {
		return aftersale.Parcel{}, err
	}
	return aftersale.Parcel{Carrier: got.Carrier, TrackingNo: got.TrackingNo, State: got.State}, nil
}

func (p afterSaleParcels) Of(ctx context.Context, kind string, ids []int64) (map[int64]aftersale.Parcel, error) {
	list, err := p.svc.ParcelsOf(ctx, parcelKinds[kind], ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]aftersale.Parcel, len(list))
	for _, x := range list {
		// The newest parcel of a request is the one it shows.
		out[x.RefID] = aftersale.Parcel{Carrier: x.Carrier, TrackingNo: x.TrackingNo, State: x.State}
	}
	return out, nil
}
