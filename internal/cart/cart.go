// Package cart keeps each customer's cart: one line per SKU (adding a SKU
// again merges into its line), a quantity bounded by MaxQuantity and by the
// stock at the time of the change, and a selection that checkout can use.
package cart

import (
	"context"
	"errors"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

// Limits of a cart.
const (
	MaxLines    = 100
	MaxQuantity = 999
)

// Line is one cart line as stored.
type Line struct {
	ID         int64
	CustomerID int64
	SKUID      int64
	Quantity   int64
	Selected   bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// View is a line with the live facts of its SKU.
type View struct {
	Line
	Item catalog.Item
}

// Available reports whether the line's SKU can be bought now: on shelf, not
// deleted, in stock.
func (v View) Available() bool { return v.Item.Available() }

// Cart is a customer's lines, newest first, and the total of the selected
// available lines at live prices.
type Cart struct {
	Lines            []View
	SelectedTotalFen int64
}

// Patch changes a line; nil fields stay as they are.
type Patch struct {
	Quantity *int64
	Selected *bool
}

// Service holds the cart's rules.
type Service struct {
	db        *db.DB
	store     *Store
	catalog   *catalog.Service
	clock     clock.Clock
	cacheOpts CacheOptions
	// cache is nil when turned off.
	cache *cache
}

// NewService returns the cart service; it reads live SKU facts from the
// catalog service. Carts are cached as WithCache says (by default
// DefaultCacheEntries of them, versions kept in this process).
func NewService(d *db.DB, store *Store, cat *catalog.Service, clk clock.Clock, opts ...Option) (*Service, error) {
	if d == nil || store == nil || cat == nil || clk == nil {
		return nil, errors.New("cart: nil dependency")
	}
	s := &Service{db: d, store: store, catalog: cat, clock: clk, cacheOpts: CacheOptions{Entries: DefaultCacheEntries}}
	for _, o := range opts {
		o(s)
	}
	if s.cacheOpts.Entries != 0 {
		c, err := newCache(clk, s.cacheOpts)
		if err != nil {
			return nil, err
		}
		s.cache = c
	}
	return s, nil
}

// CacheStats returns the cart cache's size and counters (all zero when it is
// turned off).
func (s *Service) CacheStats() CacheStats {
	if s.cache == nil {
		return CacheStats{}
	}
	return s.cache.stats()
}

// changed moves the customer's cart version after a committed write, before
// the write answers, so that the customer's next read, on any instance,
// shows it.
func (s *Service) changed(ctx context.Context, customerID int64) {
	if s.cache != nil {
		s.cache.bump(ctx, customerID)
	}
}

func checkQuantity(q int64) error {
	if q <= 0 {
		return apperr.Invalid("quantity must be a positive integer", "quantity")
	}
	if q > MaxQuantity {
		return apperr.New(apperr.CodeLimitExceeded, "at most %d of one item", MaxQuantity).WithDetail("max", MaxQuantity)
	}
	return nil
}

func outOfStock(it catalog.Item) error {
	return apperr.New(apperr.CodeOutOfStock, "only %d left", it.Stock).
		WithDetail("sku_ids", []int64{it.SKUID}).WithDetail("stock", it.Stock)
}

// item reads the SKU and refuses one that cannot be put in a cart.
func (s *Service) item(ctx context.Context, skuID int64) (catalog.Item, error) {
	items, err := s.catalog.Items(ctx, []int64{skuID})
	if err != nil {
		return catalog.Item{}, err
	}
	it, ok := items[skuID]
	if !ok || it.Deleted {
		return catalog.Item{}, apperr.NotFound("sku")
	}
	if !it.OnShelf {
		return catalog.Item{}, apperr.New(apperr.CodeUnavailableItem, "this item is off shelf").WithDetail("sku_ids", []int64{skuID})
	}
	return it, nil
}

// Add puts quantity of a SKU in the cart, merging into the SKU's existing
// line (which becomes selected). The merged quantity may exceed neither
// MaxQuantity (limit_exceeded) nor the SKU's current stock (out_of_stock).
func (s *Service) Add(ctx context.Context, customerID, skuID, quantity int64) (View, error) {
	if skuID <= 0 {
		return View{}, apperr.Invalid("sku_id must be a positive integer", "sku_id")
	}
	if err := checkQuantity(quantity); err != nil {
		return View{}, err
	}
	// A lost race with a concurrent request adding the same SKU (db.ErrRace),
	// or MySQL choosing this transaction as a deadlock victim among them,
	// runs the transaction again (TxRetry), which then merges into the
	// winner's line.
	var out View
	err := s.db.TxRetry(ctx, func(ctx context.Context) error {
		it, err := s.item(ctx, skuID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		limit := min(int64(MaxQuantity), it.Stock)
		ok, err := s.store.increment(ctx, customerID, skuID, quantity, limit, now)
		if err != nil {
			return err
		}
		if !ok {
			line, found, err := s.store.lineBySKU(ctx, customerID, skuID)
			if err != nil {
				return err
			}
			if found {
				if line.Quantity+quantity > MaxQuantity {
					return apperr.New(apperr.CodeLimitExceeded, "at most %d of one item", MaxQuantity).WithDetail("max", MaxQuantity)
				}
				if line.Quantity+quantity > it.Stock {
					return outOfStock(it)
				}
				// The line was committed by a concurrent request after our
				// update looked (MySQL at READ COMMITTED skips rows whose
				// insert is not yet committed): try again.
				return db.ErrRace
			}
			if quantity > it.Stock {
				return outOfStock(it)
			}
			// Serialise this customer's new lines, so the line cap holds.
			if err := s.store.lockCustomer(ctx, customerID); err != nil {
				return err
			}
			n, err := s.store.count(ctx, customerID)
			if err != nil {
				return err
			}
			if n >= MaxLines {
				return apperr.New(apperr.CodeLimitExceeded, "a cart holds at most %d lines", MaxLines).WithDetail("max", MaxLines)
			}
			l := Line{CustomerID: customerID, SKUID: skuID, Quantity: quantity, Selected: true, CreatedAt: now, UpdatedAt: now}
			if err := s.store.insert(ctx, &l); err != nil {
				return db.LostRace(err)
			}
		}
		db.AfterCommit(ctx, func(ctx context.Context) { s.changed(ctx, customerID) })
		line, _, err := s.store.lineBySKU(ctx, customerID, skuID)
		out = View{Line: line, Item: it}
		return err
	})
	if err != nil {
		return View{}, apperr.From(err)
	}
	return out, nil
}

// Update changes a line's quantity (1..MaxQuantity, within current stock,
// only while the SKU is on sale) and/or its selection. Another customer's
// line is not found.
func (s *Service) Update(ctx context.Context, customerID, lineID int64, p Patch) (View, error) {
	if p.Quantity == nil && p.Selected == nil {
		return View{}, apperr.Invalid("give quantity or selected", "quantity", "selected")
	}
	if p.Quantity != nil {
		if err := checkQuantity(*p.Quantity); err != nil {
			return View{}, err
		}
	}
	var out View
	err := s.db.Tx(ctx, func(ctx context.Context) error {
		line, found, err := s.store.line(ctx, customerID, lineID)
		if err != nil {
			return err
		}
		if !found {
			return apperr.NotFound("cart line")
		}
		if p.Quantity != nil {
			it, err := s.item(ctx, line.SKUID)
			if apperr.Is(err, apperr.CodeNotFound) {
				return apperr.New(apperr.CodeUnavailableItem, "this item is no longer sold").WithDetail("sku_ids", []int64{line.SKUID})
			}
			if err != nil {
				return err
			}
			if *p.Quantity > it.Stock {
				return outOfStock(it)
			}
		}
		ok, err := s.store.update(ctx, customerID, lineID, p.Quantity, p.Selected, s.clock.Now())
		if err != nil {
			return err
		}
		if !ok {
			return apperr.NotFound("cart line")
		}
		db.AfterCommit(ctx, func(ctx context.Context) { s.changed(ctx, customerID) })
		// Read the line back: our update holds its row, so this is what was
		// written, with any quantity another request added meanwhile.
		if line, _, err = s.store.line(ctx, customerID, lineID); err != nil {
			return err
		}
		items, err := s.catalog.Items(ctx, []int64{line.SKUID})
		out = View{Line: line, Item: items[line.SKUID]}
		return err
	})
	if err != nil {
		return View{}, apperr.From(err)
	}
	return out, nil
}

// Remove deletes a line; another customer's line is not found.
func (s *Service) Remove(ctx context.Context, customerID, lineID int64) error {
	ok, err := s.store.delete(ctx, customerID, lineID)
	if ok || err != nil {
		// An error may hide a delete that happened.
		db.AfterCommit(ctx, func(ctx context.Context) { s.changed(ctx, customerID) })
	}
	if err != nil {
		return apperr.Internal(err)
	}
	if !ok {
		return apperr.NotFound("cart line")
	}
	return nil
}

// Get returns the customer's cart with the titles, prices and stock of its
// SKUs, read in one query whatever the number of lines, or from the cache.
//
// The cache serves a customer's cart only under the cart version it was
// read under, and for at most its life (the catalog's stock lag). Every
// write to the cart moves the version after its commit and before it
// answers; a read takes the version before it reads the rows, so rows read
// before a write committed are never served after it answered, on this
// instance or, with Redis, on any other. A price, stock or shelf change
// shows within the life, as on product pages. A read inside a transaction,
// or while the shared version cannot be known, reads the rows.
func (s *Service) Get(ctx context.Context, customerID int64) (Cart, error) {
	views, err := s.views(ctx, customerID)
	if err != nil {
		return Cart{}, apperr.Internal(err)
	}
	c := Cart{Lines: views}
	if c.Lines == nil {
		c.Lines = []View{}
	}
	for _, v := range views {
		if v.Selected && v.Available() {
			c.SelectedTotalFen += v.Item.PriceFen * v.Quantity
		}
	}
	return c, nil
}

// views returns the customer's views, from the cache when it may serve them.
// The slice is the caller's: the cache keeps its own copy.
func (s *Service) views(ctx context.Context, customerID int64) ([]View, error) {
	if s.cache == nil || db.InTx(ctx) {
		return s.store.views(ctx, customerID)
	}
	ver, known := s.cache.version(ctx, customerID)
	now := s.clock.Now()
	if known {
		if views, ok := s.cache.get(customerID, ver, now); ok {
			return views, nil
		}
	}
	s.cache.loads.Add(1)
	views, err := s.store.views(ctx, customerID)
	if err != nil {
		return nil, err
	}
	if known {
		s.cache.put(customerID, ver, now, views)
	}
	return views, nil
}

// Selected returns the customer's selected lines; checkout from the cart
// uses them.
func (s *Service) Selected(ctx context.Context, customerID int64) ([]Line, error) {
	lines, err := s.store.lines(ctx, customerID)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	out := lines[:0]
	for _, l := range lines {
		if l.Selected {
			out = append(out, l)
		}
	}
	return out, nil
}

// Ordered is a quantity of one SKU that checkout ordered from the cart.
type Ordered struct {
	SKUID    int64
	Quantity int64
}

// RemoveOrdered takes the ordered units off the customer's lines, by a
// guarded decrement, and deletes the lines left empty; checkout calls it
// inside its transaction. Units the customer added between reading the cart
// and ordering stay in the cart. The cart's version moves after the
// outermost commit (db.AfterCommit), so the order's answer comes after it.
func (s *Service) RemoveOrdered(ctx context.Context, customerID int64, ordered []Ordered) error {
	for _, o := range ordered {
		if err := s.store.takeUnits(ctx, customerID, o.SKUID, o.Quantity); err != nil {
			return err
		}
	}
	db.AfterCommit(ctx, func(ctx context.Context) { s.changed(ctx, customerID) })
	return nil
}
