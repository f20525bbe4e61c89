package app

import (
	"context"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/cart"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/jobs"
	"github.com/minimall/minimall/internal/platform/ratelimit"
)

// Order jobs run on these intervals (ARCHITECTURE.md: 10 s or less).
const (
	paymentDeadlineEvery = 5 * time.Second
	autoConfirmEvery     = 10 * time.Second
	// salesCountEvery bounds how long a paid order's units take to show in
	// its products' sales.
	salesCountEvery = 5 * time.Second
)

// buildOrders wires the order module to the catalog, the cart and the
// address book built by buildCatalog, and to the payment gate, through its
// ports, and registers its background jobs.
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
		DB: a.db, Store: store, Catalog: orderCatalog{store: a.catalogSvc.Store(), svc: a.catalogSvc}, Cart: orderCart{a.carts},
		Addresses: orderAddresses{a.addresses}, Payments: a.payments, Shipping: orderShipping{a}, Carriers: carriers,
		Audit: a.audit, Clock: a.clock, Log: a.log,
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
	if a.checkoutLimit, err = ratelimit.New(a.cfg.Order.CheckoutPerMinute, a.cfg.Order.CheckoutPerMinute, a.clock); err != nil {
		return err
	}
	if a.payLimit, err = ratelimit.New(a.cfg.Order.PayPerMinute, a.cfg.Order.PayPerMinute, a.clock); err != nil {
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

// orderCatalog is the catalog as checkout sees it.
type orderCatalog struct {
	store *catalog.Store
	svc   *catalog.Service
}

func (c orderCatalog) SKUs(ctx context.Context, ids []int64) (map[int64]order.SKU, error) {
	items, err := c.store.Items(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]order.SKU, len(items))
	for id, it := range items {
		out[id] = order.SKU{ID: it.SKUID, ProductID: it.ProductID, Title: it.Title, Image: it.Image,
			SpecText: it.SpecText, PriceFen: it.PriceFen, Stock: it.Stock, OnShelf: it.OnShelf, Deleted: it.Deleted}
	}
	return out, nil
}

func (c orderCatalog) TakeStock(ctx context.Context, skuID, n int64) (bool, error) {
	return c.store.DecrementStock(ctx, skuID, n)
}

func (c orderCatalog) ReturnStock(ctx context.Context, skuID, n int64) (bool, error) {
	return c.store.IncrementStock(ctx, skuID, n)
}

func (c orderCatalog) AddSales(ctx context.Context, productID, n int64) error {
	return c.store.AddSales(ctx, productID, n)
}

func (c orderCatalog) StockChanged(ctx context.Context, productIDs []int64) {
	c.svc.StockChanged(ctx, productIDs...)
}

// orderCart is the cart as checkout sees it.
type orderCart struct{ svc *cart.Service }

func (c orderCart) Selected(ctx context.Context, customerID int64) ([]order.CartLine, error) {
	lines, err := c.svc.Selected(ctx, customerID)
	if err != nil {
		return nil, err
	}
	out := make([]order.CartLine, len(lines))
	for i, l := range lines {
		out[i] = order.CartLine{SKUID: l.SKUID, Quantity: l.Quantity}
	}
	return out, nil
}

func (c orderCart) Remove(ctx context.Context, customerID int64, ordered []order.CartLine) error {
	units := make([]cart.Ordered, len(ordered))
	for i, o := range ordered {
		units[i] = cart.Ordered{SKUID: o.SKUID, Quantity: o.Quantity}
	}
	return c.svc.RemoveOrdered(ctx, customerID, units)
}

// orderAddresses is the address book as checkout sees it.
type orderAddresses struct{ svc *address.Service }

func (c orderAddresses) Address(ctx context.Context, customerID, id int64) (order.Address, error) {
	a, err := c.svc.Get(ctx, customerID, id)
	if err != nil {
		return order.Address{}, err
	}
	return order.Address{Name: a.Name, Phone: a.Phone, Province: a.Province, City: a.City,
		District: a.District, Detail: a.Detail}, nil
}

// customerKey keys a per-customer limit by the customer of the request's
// token; it runs after the customer guard.
func customerKey(c *gin.Context) string {
	if id := auth.CustomerID(c); id > 0 {
		return strconv.FormatInt(id, 10)
	}
	return ""
}
