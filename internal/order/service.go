package order

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/cart"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

// Config holds the order rules merchants tune.
type Config struct {
	// PayTimeout is how long a new order waits for payment.
	PayTimeout time.Duration
	// AutoConfirm is how long after shipping an order completes by itself.
	AutoConfirm time.Duration
	// AutoConfirmAfterDelivery is how long after delivery (every parcel
	// signed) an order completes by itself, when that comes first; 0 leaves
	// only AutoConfirm.
	AutoConfirmAfterDelivery time.Duration
	// Pricing is the freight rule.
	Pricing Pricing
	// MaxUnpaid is how many unpaid (pending_payment) orders one customer may
	// hold at once; checkout refuses the next with limit_exceeded. Each
	// unpaid order holds stock until its deadline, so without a cap one
	// customer could hold a product's whole stock.
	MaxUnpaid int
}

func (c Config) validate() error {
	switch {
	case c.PayTimeout <= 0:
		return errors.New("order: pay timeout must be positive")
	case c.AutoConfirm <= 0:
		return errors.New("order: auto-confirm delay must be positive")
	case c.AutoConfirmAfterDelivery < 0:
		return errors.New("order: auto-confirm after delivery must not be negative")
	case c.Pricing.FreightFen < 0 || c.Pricing.FreeOverFen < 0:
		return errors.New("order: freight must not be negative")
	case c.MaxUnpaid <= 0:
		return errors.New("order: the unpaid-order cap must be positive")
	}
	return nil
}

// Deps are the Service's collaborators; every one is required. The payment
// gate is not among them: the payment module is built on this service, so it
// is connected afterwards with ConnectPayments.
type Deps struct {
	DB        *db.DB
	Store     *Store
	Catalog   *catalog.Service
	Cart      *cart.Service
	Addresses *address.Service
	Carriers  *Carriers
	Audit     *audit.Log
	Clock     clock.Clock
	Log       *slog.Logger
}

// Service holds the order rules: checkout, the state machine and the jobs.
type Service struct {
	db        *db.DB
	store     *Store
	catalog   *catalog.Service
	cart      *cart.Service
	addresses *address.Service
	payments  PaymentGate
	shipping  Shipping
	carriers  *Carriers
	audit     *audit.Log
	clock     clock.Clock
	log       *slog.Logger
	cfg       Config
}

// NewService returns the order service; it refuses a missing dependency or
// an invalid configuration.
func NewService(d Deps, cfg Config) (*Service, error) {
	if d.DB == nil || d.Store == nil || d.Catalog == nil || d.Cart == nil || d.Addresses == nil ||
		d.Carriers == nil || d.Audit == nil || d.Clock == nil || d.Log == nil {
		return nil, errors.New("order: nil dependency")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{db: d.DB, store: d.Store, catalog: d.Catalog, cart: d.Cart, addresses: d.Addresses,
		carriers: d.Carriers, audit: d.Audit, clock: d.Clock, log: d.Log, cfg: cfg}, nil
}

// ConnectPayments gives the service its payment gate, and ConnectShipping
// its view of the logistics module: both modules are built on this service,
// so the composition root connects them once they exist and before serving.
// Each refuses nil and a second connection.
func (s *Service) ConnectPayments(g PaymentGate) error {
	return connect(&s.payments, g, "payment gate")
}

// ConnectShipping: see ConnectPayments.
func (s *Service) ConnectShipping(sh Shipping) error {
	return connect(&s.shipping, sh, "shipping")
}

func connect[P comparable](port *P, p P, what string) error {
	var none P
	if p == none {
		return fmt.Errorf("order: nil %s", what)
	}
	if *port != none {
		return fmt.Errorf("order: %s already connected", what)
	}
	*port = p
	return nil
}

// connected returns a port, or an internal error when it was never connected
// (a wiring mistake, never a customer's).
func connected[P comparable](p P, what string) (P, error) {
	var none P
	if p == none {
		return none, apperr.Internal(fmt.Errorf("order: no %s connected", what))
	}
	return p, nil
}

// now is the clock's time at the databases' precision (milliseconds), so
// that what a call returns equals what a later read finds.
func (s *Service) now() time.Time { return s.clock.Now().Truncate(time.Millisecond) }

// Carriers returns the carriers staff can ship with.
func (s *Service) Carriers() *Carriers { return s.carriers }

// ---- checkout ----

// Quote is a priced checkout: the lines that can be bought with their
// snapshots, the totals, and the SKUs that cannot be bought (unknown, off
// shelf, deleted or short of stock).
type Quote struct {
	Items             []Item
	GoodsFen          int64
	FreightFen        int64
	TotalFen          int64
	UnavailableSKUIDs []int64
	// OffShelfSKUIDs and ShortSKUIDs split UnavailableSKUIDs by cause.
	OffShelfSKUIDs []int64
	ShortSKUIDs    []int64
	// cached is set when the SKU facts came from the catalog's quote cache.
	cached bool
}

// lines resolves the requested lines: the explicit ones, or the customer's
// selected cart lines merged and checked like explicit ones.
func (s *Service) lines(ctx context.Context, in *CheckoutInput) ([]LineInput, error) {
	if !in.FromCart {
		return in.Items, nil
	}
	cl, err := s.cart.Selected(ctx, in.CustomerID)
	if err != nil {
		return nil, apperr.From(err)
	}
	if len(cl) == 0 {
		return nil, apperr.Invalid("no cart line is selected", "from_cart")
	}
	lines := make([]LineInput, len(cl))
	for i, l := range cl {
		lines[i] = LineInput{SKUID: l.SKUID, Quantity: l.Quantity}
	}
	return mergeLines(lines, "cart")
}

// quote prices lines from the catalog's current prices; nothing the client
// sent but SKU ids and quantities is used. With cached, the SKU facts come
// from the catalog's quote cache: the price is checked again by the stock
// decrement, and a refusal is confirmed by a fresh quote (confirmed) before
// it is answered. Without it they are read from the primary (and kept in
// the quote cache for the next quotes).
func (s *Service) quote(ctx context.Context, lines []LineInput, cached bool) (Quote, error) {
	ids := make([]int64, len(lines))
	for i, l := range lines {
		ids[i] = l.SKUID
	}
	var skus map[int64]catalog.Item
	var err error
	if cached {
		skus, err = s.catalog.QuoteItems(ctx, ids)
	} else {
		skus, err = s.catalog.RequoteItems(ctx, ids)
	}
	if err != nil {
		return Quote{}, apperr.From(err)
	}
	q := Quote{cached: cached}
	for _, l := range lines {
		k, ok := skus[l.SKUID]
		switch {
		case !ok || !k.Buyable():
			q.OffShelfSKUIDs = append(q.OffShelfSKUIDs, l.SKUID)
			q.UnavailableSKUIDs = append(q.UnavailableSKUIDs, l.SKUID)
			continue
		case k.Stock < l.Quantity:
			q.ShortSKUIDs = append(q.ShortSKUIDs, l.SKUID)
			q.UnavailableSKUIDs = append(q.UnavailableSKUIDs, l.SKUID)
			continue
		}
		sub := k.PriceFen * l.Quantity
		q.Items = append(q.Items, Item{SKUID: k.SKUID, ProductID: k.ProductID, Title: k.Title, SpecText: k.SpecText,
			Image: k.Image, PriceFen: k.PriceFen, Quantity: l.Quantity, SubtotalFen: sub})
		q.GoodsFen += sub
	}
	if len(q.Items) > 0 {
		q.FreightFen = s.cfg.Pricing.Freight(q.GoodsFen)
	}
	q.TotalFen = q.GoodsFen + q.FreightFen
	return q, nil
}

// confirmed returns q when every line can be bought, else the quote read
// again from the primary when q came from the cache, so that a cached
// "off shelf" or "short" never refuses what the fresh state accepts.
func (s *Service) confirmed(ctx context.Context, lines []LineInput, q Quote) (Quote, error) {
	if !q.cached || len(q.UnavailableSKUIDs) == 0 {
		return q, nil
	}
	return s.quote(ctx, lines, false)
}

// refusal is the answer to a quote with lines that cannot be bought.
func refusal(q Quote) error {
	if len(q.OffShelfSKUIDs) > 0 {
		return apperr.New(apperr.CodeUnavailableItem, "some items can no longer be bought").
			WithDetail("sku_ids", q.OffShelfSKUIDs)
	}
	if len(q.ShortSKUIDs) > 0 {
		return outOfStock(q.ShortSKUIDs)
	}
	return nil
}

// Preview prices a checkout request without changing anything. Lines that
// cannot be bought are left out of the totals and listed as unavailable.
// The address is optional; when given it must be the customer's.
func (s *Service) Preview(ctx context.Context, in CheckoutInput) (Quote, error) {
	if err := in.validate(false); err != nil {
		return Quote{}, err
	}
	if in.AddressID != 0 {
		if _, err := s.addresses.Get(ctx, in.CustomerID, in.AddressID); err != nil {
			return Quote{}, apperr.From(err)
		}
	}
	lines, err := s.lines(ctx, &in)
	if err != nil {
		return Quote{}, err
	}
	q, err := s.quote(ctx, lines, true)
	if err != nil {
		return Quote{}, err
	}
	return s.confirmed(ctx, lines, q)
}

// Checkout places an order and reports whether it created one (false: an
// idempotent replay of an earlier request with the same key and body, which
// returns that first order).
//
// Prices, titles, images and spec texts come from the catalog; the address
// is snapshotted. In one transaction it inserts the order, its items and its
// first event, removes the ordered cart lines (cart checkouts only), then
// takes the stock of each SKU in ascending id order with a guarded decrement
// and commits. A SKU short of stock answers out_of_stock, an off-shelf or
// deleted one unavailable_item, and nothing changes.
//
// The SKU facts are quoted from the catalog's quote cache (at most the stock
// lag old, dropped by every announced product change). The decrement also
// requires the quoted price, so a price, stock or deletion changed behind
// the cache rolls the transaction back; the request is then priced again
// from the primary and placed once more. A refusal found in the cache is
// read again from the primary before it is answered.
func (s *Service) Checkout(ctx context.Context, in CheckoutInput) (Order, bool, error) {
	if err := in.validate(true); err != nil {
		return Order{}, false, err
	}
	hash := in.requestHash()
	if in.IdempotencyKey != "" {
		if o, ok, err := s.replay(ctx, in.CustomerID, in.IdempotencyKey, hash); ok || err != nil {
			return o, false, err
		}
	}
	a, err := s.addresses.Get(ctx, in.CustomerID, in.AddressID)
	if err != nil {
		return Order{}, false, apperr.From(err)
	}
	lines, err := s.lines(ctx, &in)
	if err != nil {
		return Order{}, false, err
	}
	q, err := s.quote(ctx, lines, true)
	if err == nil {
		q, err = s.confirmed(ctx, lines, q)
	}
	if err != nil {
		return Order{}, false, err
	}
	if err := refusal(q); err != nil {
		return Order{}, false, err
	}
	// The customer's guard row is created outside the transaction (see
	// EnsureGuard), once; after that the store remembers it and this costs
	// nothing.
	if err := s.store.EnsureGuard(ctx, in.CustomerID, s.now()); err != nil {
		return Order{}, false, apperr.From(err)
	}
	o, replayed, err := s.placeOnce(ctx, in, hash, a, q)
	var stale *staleQuote
	if errors.As(err, &stale) && q.cached {
		// A price, the stock or a SKU's state changed since the cached
		// quote: nothing was written. The request is priced again from the
		// primary and placed once more.
		if q, err = s.quote(ctx, lines, false); err != nil {
			return Order{}, false, err
		}
		if err := refusal(q); err != nil {
			return Order{}, false, err
		}
		o, replayed, err = s.placeOnce(ctx, in, hash, a, q)
	}
	if errors.As(err, &stale) {
		return Order{}, false, outOfStock(stale.skuIDs)
	}
	if err != nil {
		return Order{}, false, apperr.From(err)
	}
	return o, !replayed, nil
}

// placeOnce places a priced request: the checkout transaction (place), run
// once more when the guard row is gone or the order number collided, or the
// earlier order (replayed) when the idempotency key was taken meanwhile.
func (s *Service) placeOnce(ctx context.Context, in CheckoutInput, hash string, a address.Address, q Quote) (Order, bool, error) {
	o, err := s.place(ctx, in, hash, a, q)
	if errors.Is(err, errNoGuard) {
		// A row the store remembered is gone (a database restored from a
		// backup): it is created again and the checkout runs once more.
		s.store.guarded.remove(in.CustomerID)
		if err := s.store.EnsureGuard(ctx, in.CustomerID, s.now()); err != nil {
			return Order{}, false, apperr.From(err)
		}
		o, err = s.place(ctx, in, hash, a, q)
	}
	if db.IsDuplicate(err) {
		// Either the idempotency key was taken by a request that committed
		// meanwhile, or (rarely) the order number. The winner is read
		// outside the failed transaction, so it is visible; an order number
		// collision places the order once more under a new number.
		if in.IdempotencyKey != "" {
			if o, ok, rerr := s.replay(ctx, in.CustomerID, in.IdempotencyKey, hash); ok || rerr != nil {
				return o, ok, rerr
			}
		}
		o, err = s.place(ctx, in, hash, a, q)
	}
	return o, false, err
}

// staleQuote is the error of a checkout transaction whose guarded stock
// decrement matched nothing for skuIDs (short of stock, priced otherwise
// now, or deleted): the transaction rolled back.
type staleQuote struct{ skuIDs []int64 }

func (e *staleQuote) Error() string {
	return fmt.Sprintf("order: stock not taken for skus %v", e.skuIDs)
}

func outOfStock(ids []int64) error {
	return apperr.New(apperr.CodeOutOfStock, "some items are out of stock").WithDetail("sku_ids", ids)
}

// replay returns the order a customer already placed with key, when there
// is one: ok with the order for the same request, idempotency_mismatch for
// another one.
func (s *Service) replay(ctx context.Context, customerID int64, key, hash string) (Order, bool, error) {
	found, ok, err := s.store.ByIdempotencyKey(ctx, customerID, key)
	if err != nil {
		return Order{}, false, apperr.Internal(err)
	}
	if !ok {
		return Order{}, false, nil
	}
	if found.RequestHash != hash {
		return Order{}, false, apperr.New(apperr.CodeIdempotencyMismatch,
			"this Idempotency-Key was used for another request")
	}
	o, err := s.store.ByID(ctx, found.ID)
	if err != nil {
		return Order{}, false, apperr.Internal(err)
	}
	return o, true, nil
}

// place runs the checkout transaction for a priced request. InnoDB can pick
// a deadlock victim among concurrent inserts of one unique key when the
// first inserter rolls back; TxRetry then runs the transaction again.
func (s *Service) place(ctx context.Context, in CheckoutInput, hash string, a address.Address, q Quote) (Order, error) {
	addr := snapshotAddress(a)
	now := s.now()
	no, err := newOrderNo(now)
	if err != nil {
		return Order{}, err
	}
	n := NewOrder{
		Order: Order{
			OrderNo: no, CustomerID: in.CustomerID, Status: StatusPendingPayment,
			Items: slices.Clone(q.Items), GoodsFen: q.GoodsFen, FreightFen: q.FreightFen, TotalFen: q.TotalFen,
			AddressID: in.AddressID, Address: addr, Remark: in.Remark,
			PayDeadline: now.Add(s.cfg.PayTimeout), CreatedAt: now, UpdatedAt: now,
		},
		IdempotencyKey: in.IdempotencyKey, RequestHash: hash,
	}
	err = s.db.TxRetry(ctx, func(ctx context.Context) error {
		if err := s.store.Insert(ctx, &n); err != nil {
			return err
		}
		if err := s.store.AddEvent(ctx, &Event{OrderID: n.ID, To: StatusPendingPayment,
			ActorType: ActorCustomer, ActorID: in.CustomerID, Reason: "order placed", CreatedAt: now}); err != nil {
			return err
		}
		if in.FromCart {
			ordered := make([]cart.Ordered, len(q.Items))
			for i, it := range q.Items {
				ordered[i] = cart.Ordered{SKUID: it.SKUID, Quantity: it.Quantity}
			}
			if err := s.cart.RemoveOrdered(ctx, in.CustomerID, ordered); err != nil {
				return err
			}
		}
		// The guard row serialises this customer's checkouts from here to
		// commit, so the count it returns (this order included; or the
		// limit, when the row's bound shows it cannot be passed) sees every
		// unpaid order a concurrent checkout committed and the cap holds
		// under any concurrency. Taken after the inserts, it is held for the
		// stock decrement and the commit only, so a customer's second
		// checkout waits as little as it can.
		unpaid, err := s.store.GuardCheckout(ctx, in.CustomerID, now, int64(s.cfg.MaxUnpaid))
		if err != nil {
			return err
		}
		if unpaid > int64(s.cfg.MaxUnpaid) {
			return apperr.New(apperr.CodeLimitExceeded,
				"you already have %d unpaid orders: pay or cancel one first", unpaid-1).
				WithDetail("limit", s.cfg.MaxUnpaid)
		}
		// Last, in ascending SKU id order (q.Items is sorted), so that the
		// hot rows are held for the shortest time and multi-SKU orders
		// never deadlock one another. Each decrement also requires the
		// quoted price: an order is never placed at a price that is no
		// longer the SKU's.
		var short []int64
		for _, it := range q.Items {
			ok, err := s.catalog.TakeStockAt(ctx, it.SKUID, it.Quantity, it.PriceFen)
			if err != nil {
				return err
			}
			if !ok {
				short = append(short, it.SKUID)
			}
		}
		if len(short) > 0 {
			return &staleQuote{skuIDs: short}
		}
		return nil
	})
	if err != nil {
		return Order{}, err
	}
	s.catalog.StockChanged(ctx, productsOf(q.Items)...)
	return n.Order, nil
}

// productsOf returns the products of items, each once, for the catalog's
// announcement after commit.
func productsOf(items []Item) []int64 {
	ids := make([]int64, 0, len(items))
	for _, it := range items {
		if !slices.Contains(ids, it.ProductID) {
			ids = append(ids, it.ProductID)
		}
	}
	return ids
}

// ---- reads ----

// Get returns one of the customer's orders; another customer's order is not
// found.
func (s *Service) Get(ctx context.Context, customerID, id int64) (Order, error) {
	o, err := s.store.ByID(ctx, id)
	if isNotFound(err) || err == nil && o.CustomerID != customerID {
		return Order{}, apperr.NotFound("order")
	}
	if err != nil {
		return Order{}, apperr.Internal(err)
	}
	if err := s.attachParcels(ctx, []*Order{&o}); err != nil {
		return Order{}, err
	}
	return o, nil
}

// attachParcels fills the orders' parcels from the logistics module.
func (s *Service) attachParcels(ctx context.Context, orders []*Order) error {
	if len(orders) == 0 {
		return nil
	}
	ids := make([]int64, len(orders))
	for i, o := range orders {
		ids[i] = o.ID
	}
	shipping, err := connected(s.shipping, "shipping")
	if err != nil {
		return err
	}
	parcels, err := shipping.Parcels(ctx, ids)
	if err != nil {
		return apperr.From(err)
	}
	for _, o := range orders {
		o.Parcels = parcels[o.ID]
		if o.Parcels == nil {
			o.Parcels = []Parcel{}
		}
	}
	return nil
}

func ptrs(list []Order) []*Order {
	out := make([]*Order, len(list))
	for i := range list {
		out[i] = &list[i]
	}
	return out
}

// ByID returns any order with its items, whoever owns it: for modules that
// act on orders (payments) and staff reads. Inside a transaction it reads
// through it.
func (s *Service) ByID(ctx context.Context, id int64) (Order, error) {
	o, err := s.store.ByID(ctx, id)
	if isNotFound(err) {
		return Order{}, apperr.NotFound("order")
	}
	if err != nil {
		return Order{}, apperr.Internal(err)
	}
	return o, nil
}

// List returns one page of the customer's orders, newest first, optionally
// of one status.
func (s *Service) List(ctx context.Context, customerID int64, status Status, offset, limit int) ([]Order, int64, error) {
	if status != "" && !status.Valid() {
		return nil, 0, apperr.Invalid("status must be one of "+statusList(), "status")
	}
	out, total, err := s.store.List(ctx, Filter{CustomerID: customerID, Status: status}, offset, limit)
	if err != nil {
		return nil, 0, apperr.Internal(err)
	}
	if err := s.attachParcels(ctx, ptrs(out)); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

func statusList() string {
	names := make([]string, len(Statuses))
	for i, st := range Statuses {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}

// AdminList returns one page of orders for staff, newest first.
func (s *Service) AdminList(ctx context.Context, f Filter, offset, limit int) ([]Order, int64, error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, 0, apperr.Invalid("status must be one of "+statusList(), "status")
	}
	if f.ShippingUpload != "" {
		if !slices.Contains(uploadStates, f.ShippingUpload) {
			return nil, 0, apperr.Invalid("shipping_upload must be one of pending, uploaded, failed, not_required", "shipping_upload")
		}
		shipping, err := connected(s.shipping, "shipping")
		if err != nil {
			return nil, 0, err
		}
		if f.uploaded, err = shipping.OrdersByUpload(ctx, f.ShippingUpload); err != nil {
			return nil, 0, apperr.From(err)
		}
	}
	out, total, err := s.store.List(ctx, f, offset, limit)
	if err != nil {
		return nil, 0, apperr.Internal(err)
	}
	if err := s.attachParcels(ctx, ptrs(out)); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// Detail is an order as staff see it: with its history, parcels, payment
// attempts and the state of its WeChat shipping-info upload.
type Detail struct {
	Order
	Events   []Event
	Payments []PaymentAttempt
	Upload   ShippingUpload
}

// AdminGet returns an order with its events, parcels, payment attempts and
// shipping-info upload.
func (s *Service) AdminGet(ctx context.Context, id int64) (Detail, error) {
	o, err := s.ByID(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Order: o}
	if d.Events, err = s.store.Events(ctx, id); err != nil {
		return Detail{}, apperr.Internal(err)
	}
	if err := s.attachParcels(ctx, []*Order{&d.Order}); err != nil {
		return Detail{}, err
	}
	shipping, err := connected(s.shipping, "shipping")
	if err != nil {
		return Detail{}, err
	}
	if d.Upload, err = shipping.Upload(ctx, id); err != nil {
		return Detail{}, apperr.From(err)
	}
	gate, err := connected(s.payments, "payment gate")
	if err != nil {
		return Detail{}, err
	}
	if d.Payments, err = gate.Attempts(ctx, id); err != nil {
		return Detail{}, apperr.Internal(err)
	}
	return d, nil
}

// ---- transitions ----

// move applies a guarded transition and its event inside the caller's
// transaction. When the order is no longer in from it reads the current
// status and answers invalid_state with it.
func (s *Service) move(ctx context.Context, id int64, c Change, actor Actor, reason string) error {
	ok, err := s.store.Move(ctx, id, c)
	if err != nil {
		return err
	}
	if !ok {
		cur, err := s.store.ByID(ctx, id)
		if err != nil {
			return err
		}
		return apperr.InvalidState(string(cur.Status), "the order is %s now", cur.Status)
	}
	return s.store.AddEvent(ctx, &Event{OrderID: id, From: c.From, To: c.To, ActorType: actor.Type,
		ActorID: actor.ID, Reason: reason, CreatedAt: c.At})
}

// Cancel cancels one of the customer's orders while it waits for payment.
func (s *Service) Cancel(ctx context.Context, customerID, id int64) (Order, error) {
	o, err := s.Get(ctx, customerID, id)
	if err != nil {
		return Order{}, err
	}
	if err := s.cancel(ctx, o, Customer(customerID), CancelByCustomer); err != nil {
		return Order{}, err
	}
	return s.Get(ctx, customerID, id)
}

// cancel is the one cancel path of customers and the deadline job. The
// payment gate first closes the order's open payment attempts at the
// platforms, outside any transaction; a trade already paid stops the
// cancel (invalid_state, status paid). Then, in one transaction, the order
// moves pending_payment → cancelled by a conditional update and its stock
// goes back, SKUs in ascending id order. Whoever loses a race (another
// cancel, the job, a payment) changes nothing.
func (s *Service) cancel(ctx context.Context, o Order, actor Actor, reason string) error {
	if err := o.CanCancel(); err != nil {
		return err
	}
	gate, err := connected(s.payments, "payment gate")
	if err != nil {
		return err
	}
	paid, err := gate.CloseOpen(ctx, o.ID)
	if err != nil {
		return apperr.From(err)
	}
	if paid {
		return apperr.InvalidState(string(StatusPaid), "the order has been paid and cannot be cancelled")
	}
	items := slices.Clone(o.Items)
	slices.SortFunc(items, func(a, b Item) int { return compareInt64(a.SKUID, b.SKUID) })
	err = s.db.Tx(ctx, func(ctx context.Context) error {
		now := s.now()
		c := Change{From: StatusPendingPayment, To: StatusCancelled, At: now, CancelReason: reason}
		if err := s.move(ctx, o.ID, c, actor, reason); err != nil {
			return err
		}
		for _, it := range items {
			ok, err := s.catalog.ReturnStock(ctx, it.SKUID, it.Quantity)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("order %d: return %d units of sku %d: sku missing", o.ID, it.Quantity, it.SKUID)
			}
		}
		return nil
	})
	if err != nil {
		return apperr.From(err)
	}
	s.catalog.StockChanged(ctx, productsOf(items)...)
	return nil
}

// Confirm records that the customer received a shipped order.
func (s *Service) Confirm(ctx context.Context, customerID, id int64) (Order, error) {
	o, err := s.Get(ctx, customerID, id)
	if err != nil {
		return Order{}, err
	}
	if err := s.complete(ctx, o, Customer(customerID), "receipt confirmed"); err != nil {
		return Order{}, err
	}
	return s.Get(ctx, customerID, id)
}

func (s *Service) complete(ctx context.Context, o Order, actor Actor, reason string) error {
	return s.completeOrder(ctx, o, actor, reason, false)
}

// completeOrder is complete; waitForAfterSales makes the move match only
// while the order has no open after-sale (the auto-confirm rule: the
// clock waits until the request ends).
func (s *Service) completeOrder(ctx context.Context, o Order, actor Actor, reason string, waitForAfterSales bool) error {
	if err := o.CanConfirm(); err != nil {
		return err
	}
	err := s.db.Tx(ctx, func(ctx context.Context) error {
		now := s.now()
		return s.move(ctx, o.ID, Change{From: StatusShipped, To: StatusCompleted, At: now, NoOpenAfterSale: waitForAfterSales}, actor, reason)
	})
	return apperr.From(err)
}

// MarkShipped moves a paid order to shipped (shipped_at now) with its event.
// Only the logistics module calls it, inside the transaction that records
// the parcels, which it joins. An order that is not paid answers
// invalid_state with its status; an unknown one not_found.
func (s *Service) MarkShipped(ctx context.Context, id int64, actor Actor, reason string) (time.Time, error) {
	now := s.now()
	err := s.db.Tx(ctx, func(ctx context.Context) error {
		o, err := s.store.ByID(ctx, id)
		if isNotFound(err) {
			return apperr.NotFound("order")
		}
		if err != nil {
			return err
		}
		if err := o.CanShip(); err != nil {
			return err
		}
		if err := s.move(ctx, id, Change{From: StatusPaid, To: StatusShipped, At: now}, actor, reason); err != nil {
			return err
		}
		// Read after the guarded move, which serialises shipping with every
		// after-sale change of the order (LockForAfterSale).
		return s.checkShippable(ctx, id)
	})
	return now, apperr.From(err)
}

// MarkDelivered records that every parcel of a shipped order was signed for
// and reports whether this call recorded it (false: already recorded, or
// the order is no longer shipped). It joins the caller's transaction. The
// auto-confirm clock then also runs from delivered_at.
func (s *Service) MarkDelivered(ctx context.Context, id int64, at time.Time) (bool, error) {
	ok, err := s.store.SetDelivered(ctx, id, at.UTC().Truncate(time.Millisecond), s.now())
	if err != nil {
		return false, apperr.Internal(err)
	}
	return ok, nil
}

// CompleteByPlatform completes a shipped order on a platform's verified
// word (WeChat's settlement event: the buyer confirmed receipt inside
// WeChat), with actor platform. An order already completed, or in any
// status but shipped, answers invalid_state and changes nothing.
func (s *Service) CompleteByPlatform(ctx context.Context, id int64, reason string) error {
	o, err := s.ByID(ctx, id)
	if err != nil {
		return err
	}
	return s.complete(ctx, o, Platform(), reason)
}

// checkShippable refuses to ship an order whose every unit was refunded
// before shipping, or whose refund request made before shipping still waits
// for staff's decision (approve or reject it first: the goods must not
// leave while the buyer may get the money back for them). Units refunded
// before shipping are withheld; the parcel holds the rest.
func (s *Service) checkShippable(ctx context.Context, id int64) error {
	o, err := s.store.ByID(ctx, id)
	if err != nil {
		return err
	}
	left := int64(0)
	for _, it := range o.Items {
		if it.AfterSaleQuantity > it.WithheldQuantity {
			return apperr.InvalidState(string(StatusPaid),
				"a refund request for order line %d waits for a decision; approve or reject it before shipping", it.ID)
		}
		left += it.ToShip()
	}
	if left == 0 {
		return apperr.InvalidState(string(StatusPaid), "every unit of the order was refunded before shipping; nothing is left to ship")
	}
	return nil
}

// MarkPaid moves an order from pending_payment to paid, with its order
// event. Only the payment module calls it, after a verified notification or
// the platform's own answer to a query; no route leads here. paidFen must
// equal the order total. Called with a context that carries a transaction
// (the payment attempt's), it joins it.
//
// The move is one conditional update that also matches the total, so the
// common case reads nothing: two statements, the update and the event. Only
// when it matches no row is the order read, to answer why: not_found,
// invalid_state with its status (the caller then treats the money as a late
// payment), or conflict for another amount.
func (s *Service) MarkPaid(ctx context.Context, orderID, paidFen int64, at time.Time, actor Actor) error {
	if actor.Type != ActorPayment && actor.Type != ActorSystem {
		return apperr.Forbidden("only the payment module records payments")
	}
	err := s.db.Tx(ctx, func(ctx context.Context) error {
		now := s.now()
		c := Change{From: StatusPendingPayment, To: StatusPaid, At: now,
			PaidAt: at.UTC().Truncate(time.Millisecond), PaidFen: paidFen}
		ok, err := s.store.Move(ctx, orderID, c)
		if err != nil {
			return err
		}
		if !ok {
			o, err := s.store.ByID(ctx, orderID)
			if isNotFound(err) {
				return apperr.NotFound("order")
			}
			if err != nil {
				return err
			}
			if err := o.CanPay(); err != nil {
				return err
			}
			if paidFen != o.TotalFen {
				return apperr.Conflict("paid amount %d differs from the order total %d", paidFen, o.TotalFen)
			}
			return fmt.Errorf("order: %d did not move to paid", orderID)
		}
		return s.store.AddEvent(ctx, &Event{OrderID: orderID, From: c.From, To: c.To, ActorType: actor.Type,
			ActorID: actor.ID, Reason: "payment received", CreatedAt: now})
	})
	return apperr.From(err)
}

// ---- jobs ----

// CountSales adds the units of up to limit newly paid orders to their
// products' sales counters and returns how many orders it counted. Payment
// only flags an order (sales_pending); counting here, in batches and off the
// payment's transaction, keeps popular products' rows from serialising
// payment notifications. Each order is claimed by a conditional update in
// the same transaction as the counters move, so it is counted once however
// many instances run the job, and a crash counts it on the next run.
func (s *Service) CountSales(ctx context.Context, limit int) (int, error) {
	ids, err := s.store.SalesPending(ctx, limit)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	counted := 0
	var moved []int64
	err = s.db.Tx(ctx, func(ctx context.Context) error {
		counted, moved = 0, nil
		claimed := make([]int64, 0, len(ids))
		for _, id := range ids {
			ok, err := s.store.ClaimSales(ctx, id)
			if err != nil {
				return err
			}
			if ok {
				claimed = append(claimed, id)
			}
		}
		if len(claimed) == 0 {
			return nil
		}
		units, err := s.store.UnitsByProduct(ctx, claimed)
		if err != nil {
			return err
		}
		for _, u := range units {
			if err := s.catalog.AddSales(ctx, u.ProductID, u.Units); err != nil {
				return err
			}
			moved = append(moved, u.ProductID)
		}
		counted = len(claimed)
		return nil
	})
	if err == nil && len(moved) > 0 {
		s.catalog.StockChanged(ctx, moved...)
	}
	return counted, err
}

// CancelExpired cancels up to limit orders whose payment deadline has
// passed, through the same path as a customer's cancel (so the payment gate
// runs first), and returns how many it cancelled. Orders a platform reports
// paid, or that another instance or the customer moved first, are skipped.
// It is safe to run on several instances at once.
func (s *Service) CancelExpired(ctx context.Context, limit int) (int, error) {
	now := s.now()
	return s.sweep(ctx, limit, "payment deadline cancel",
		func(after Due, n int) ([]Due, error) { return s.store.ExpiredUnpaid(ctx, now, after, n) },
		func(o Order) error { return s.cancel(ctx, o, System(), CancelByDeadline) })
}

// ConfirmOverdue completes up to limit orders shipped longer ago than the
// auto-confirm delay, or delivered longer ago than the delay after delivery
// (whichever comes first), through the same path as a customer's
// confirmation, and returns how many it completed. It is safe to run on
// several instances at once.
func (s *Service) ConfirmOverdue(ctx context.Context, limit int) (int, error) {
	done, err := s.confirmDue(ctx, limit, s.store.ShippedBefore, s.now().Add(-s.cfg.AutoConfirm), "confirmed automatically")
	if err != nil || done >= limit || s.cfg.AutoConfirmAfterDelivery == 0 {
		return done, err
	}
	more, err := s.confirmDue(ctx, limit-done, s.store.DeliveredBefore, s.now().Add(-s.cfg.AutoConfirmAfterDelivery),
		"confirmed automatically after delivery")
	return done + more, err
}

func (s *Service) confirmDue(ctx context.Context, limit int,
	list func(context.Context, time.Time, Due, int) ([]Due, error), cutoff time.Time, reason string) (int, error) {
	return s.sweep(ctx, limit, "auto-confirm",
		func(after Due, n int) ([]Due, error) { return list(ctx, cutoff, after, n) },
		func(o Order) error { return s.completeOrder(ctx, o, System(), reason, true) })
}

// sweepPage is how many due orders a job reads at a time.
const sweepPage = 100

// sweep is the shape of the order jobs: it pages through up to limit due
// orders (next returns the page after a cursor), applies act to each and
// returns how many act moved. An order someone else moved first answers
// invalid_state and is skipped; any other failure of one order is logged
// (what names the job) and the sweep goes on. A failed read ends the step.
func (s *Service) sweep(ctx context.Context, limit int, what string,
	next func(after Due, n int) ([]Due, error), act func(o Order) error) (int, error) {
	var after Due
	done, seen := 0, 0
	for seen < limit {
		due, err := next(after, min(limit-seen, sweepPage))
		if err != nil {
			return done, err
		}
		if len(due) == 0 {
			break
		}
		after = due[len(due)-1]
		// Instances that run the job at the same moment read the same page.
		// Each works through it in its own random order, so they mostly take
		// different orders instead of queueing on one row lock after another
		// only to find each order moved by the first.
		rand.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
		for _, d := range due {
			seen++
			o, err := s.store.ByID(ctx, d.ID)
			if err != nil {
				return done, err
			}
			err = act(o)
			switch {
			case err == nil:
				done++
			case apperr.Is(err, apperr.CodeInvalidState):
				// Paid, or moved by someone else first: nothing to do.
			default:
				s.log.ErrorContext(ctx, what+" failed", "order_id", d.ID, "err", err)
			}
			if ctx.Err() != nil {
				return done, ctx.Err()
			}
		}
	}
	return done, nil
}

// JobBatch is how many orders a job step handles at most.
const JobBatch = 500
