package app

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/jobs"
)

// Order jobs run on these intervals (ARCHITECTURE.md: 10 s or less).
const (
	paymentDeadlineEvery = 5 * time.Second
	autoConfirmEvery     = 10 * time.Second
	// salesCountEvery bounds how long a paid order's units take to show in
	// its products' sales.
	salesCountEvery = 5 * time.Second
)

// buildOrders builds the order module on the catalog, cart and address
// services built by buildCatalog and registers its background jobs. Its
// payment gate is connected in New, once the payment module exists.
func (a *App) buildOrders() error {
	store, err := order.NewStore(a.db)
	if err != nil {
		return err
	}
	carriers, err := order.NewCarriers(order.DefaultCarriers())
	if err != nil {
		return err
	}
	a.orders, err = order.NewService(order.Deps{
		DB: a.db, Store: store, Catalog: a.catalogSvc, Cart: a.carts, Addresses: a.addresses,
		Carriers: carriers, Audit: a.audit, Clock: a.clock, Log: a.log,
	}, order.Config{
		PayTimeout:  a.cfg.Order.PayTimeout,
		AutoConfirm: a.cfg.Order.AutoConfirm,
		// The delivery clock (MINIMALL_ORDER_AUTO_CONFIRM_AFTER_DELIVERY).
		AutoConfirmAfterDelivery: a.cfg.Order.AutoConfirmAfterDelivery,
		Pricing:                  order.Pricing{FreightFen: a.cfg.Order.FreightFen, FreeOverFen: a.cfg.Order.FreeFreightOverFen},
		MaxUnpaid:                a.cfg.Order.MaxUnpaid,
	})
	if err != nil {
		return err
	}
	// Per-customer limits on the two routes that hold stock or call the
	// payment platforms: each checkout reserves stock for the payment
	// deadline, and each pay request costs one to three platform calls
	// counted against the merchant's own frequency limits.
	if a.checkoutLimit, err = a.limiter("checkout", a.cfg.Order.CheckoutPerMinute, a.cfg.Order.CheckoutPerMinute); err != nil {
		return err
	}
	if a.payLimit, err = a.limiter("pay", a.cfg.Order.PayPerMinute, a.cfg.Order.PayPerMinute); err != nil {
		return err
	}
	if a.ordersH, err = order.NewHandlers(a.orders); err != nil {
		return err
	}
	return a.addJobs(
		jobs.Job{Name: "order-payment-deadline", Every: paymentDeadlineEvery, Batch: order.JobBatch, Step: a.orders.CancelExpired},
		jobs.Job{Name: "order-auto-confirm", Every: autoConfirmEvery, Batch: order.JobBatch, Step: a.orders.ConfirmOverdue},
		jobs.Job{Name: "order-sales-count", Every: salesCountEvery, Batch: order.JobBatch, Step: a.orders.CountSales},
	)
}

// customerKey keys a per-customer limit by the customer of the request's
// token; it runs after the customer guard.
func customerKey(c *gin.Context) string {
	if id := auth.CustomerID(c); id > 0 {
		return strconv.FormatInt(id, 10)
	}
	return ""
}
