package app

import (
	"time"

	"github.com/minimall/minimall/internal/aftersale"
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
		DB: a.db, Store: store, Orders: a.orders, Catalog: a.catalogSvc,
		Refunds: a.payments, Parcels: a.logistics, Audit: a.audit, Clock: a.clock, Log: a.log,
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
