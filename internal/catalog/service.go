package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

// Change tells an Invalidator what a committed write touched. Every change
// to what a public product page or list page shows is announced, after
// commit, with the products it touched: the catalog's own staff writes, stock
// and sales moved by other modules (StockChanged) and anything else a page
// shows, such as a rating summary (ProductsChanged).
type Change struct {
	// ProductIDs are the products whose pages changed.
	ProductIDs []int64
	// Categories is true when the category tree changed (which can change
	// what a category filter covers): every list page drops.
	Categories bool
	// Lists is true when the change can add a product to a list, remove it
	// or reorder a list by price (staff product writes, shelf state): every
	// list page drops.
	Lists bool
	// Counts is true when only stock or sales figures moved (checkout,
	// cancel, an approved return, the sales job): detail pages may show the
	// old figures for up to the stock lag, and list pages keep their own
	// refresh schedule, so a product selling fast does not reload its page
	// for every unit.
	Counts bool
}

// Invalidator is told about every committed change to what public pages
// show, so a read cache can drop what the change made stale. It must not
// fail the write: the write has already committed when it is called.
type Invalidator interface {
	CatalogChanged(ctx context.Context, ch Change)
}

// NopInvalidator ignores changes; it serves while no read cache exists.
type NopInvalidator struct{}

// CatalogChanged does nothing.
func (NopInvalidator) CatalogChanged(context.Context, Change) {}

// Service holds the catalog's rules: public reads, and staff writes that are
// transactional, audited and announced to the Invalidator after commit.
type Service struct {
	db     *db.DB
	store  *Store
	audit  *audit.Log
	clock  clock.Clock
	notify Invalidator
	images ImagePolicy
	quotes *QuoteCache
}

// ImagePolicy decides which image URLs staff may put on products and SKUs
// (*media.Service: the shop's own uploads and allow-listed hosts).
type ImagePolicy interface {
	CheckStaffImages(ctx context.Context, field string, urls []string) error
}

// Option tunes a Service.
type Option func(*Service)

// WithImagePolicy checks every product write's images against p. Without it
// any http(s) URL is accepted (tools and tests that seed the catalog).
func WithImagePolicy(p ImagePolicy) Option { return func(s *Service) { s.images = p } }

// WithQuoteCache prices checkouts from q, which the caller also hands to the
// Redis link (Listeners) so that other instances' changes reach it. Without
// it the Service keeps its own, of DefaultQuoteEntries SKUs for
// DefaultStockLag, told of this Service's writes only.
func WithQuoteCache(q *QuoteCache) Option { return func(s *Service) { s.quotes = q } }

// NewService returns the catalog service.
func NewService(d *db.DB, store *Store, log *audit.Log, clk clock.Clock, inv Invalidator, opts ...Option) (*Service, error) {
	if d == nil || store == nil || log == nil || clk == nil || inv == nil {
		return nil, errors.New("catalog: nil dependency")
	}
	s := &Service{db: d, store: store, audit: log, clock: clk, notify: inv}
	for _, o := range opts {
		o(s)
	}
	if s.quotes == nil {
		q, err := NewQuoteCache(store, clk, QuoteOptions{})
		if err != nil {
			return nil, err
		}
		s.quotes = q
	}
	// The quote cache hears of every change first, before any other
	// instance could be told of it.
	s.notify = Invalidators{s.quotes, inv}
	return s, nil
}

// CatalogChanged passes on what another module changed in what products
// show (the reviews module's rating summaries), after its commit, to the
// same Invalidator staff writes use: the read caches drop those pages.
func (s *Service) CatalogChanged(ctx context.Context, ch Change) { s.notify.CatalogChanged(ctx, ch) }

// checkImages asks the image policy about the product's and SKUs' images.
func (s *Service) checkImages(ctx context.Context, in ProductInput) error {
	if s.images == nil {
		return nil
	}
	if err := s.images.CheckStaffImages(ctx, "images", in.Images); err != nil {
		return apperr.From(err)
	}
	for i, k := range in.SKUs {
		if k.Image == "" {
			continue
		}
		if err := s.images.CheckStaffImages(ctx, fmt.Sprintf("skus[%d].image", i), []string{k.Image}); err != nil {
			return apperr.From(err)
		}
	}
	return nil
}

// Store returns the service's store, for tests that inspect or arrange rows
// directly; other modules use the service's methods.
func (s *Service) Store() *Store { return s.store }

// ProductsChanged announces that something the public pages of these
// products show changed outside the catalog's own writes (a review changed a
// rating summary): their detail pages are not served again. Call it after
// the change has committed, never inside the transaction; it cannot fail.
func (s *Service) ProductsChanged(ctx context.Context, productIDs ...int64) {
	if len(productIDs) > 0 {
		s.notify.CatalogChanged(ctx, Change{ProductIDs: productIDs})
	}
}

// StockChanged announces that the stock or sales of these products moved
// (checkout, a cancel, an approved return, the sales job): their detail
// pages show it within the stock lag. Call it after the change has
// committed, never inside the transaction; it cannot fail.
func (s *Service) StockChanged(ctx context.Context, productIDs ...int64) {
	if len(productIDs) > 0 {
		s.notify.CatalogChanged(ctx, Change{ProductIDs: productIDs, Counts: true})
	}
}

// write runs fn in a transaction and, once it has committed, announces the
// change. Every staff write of the catalog goes through here.
func (s *Service) write(ctx context.Context, fn func(ctx context.Context) (Change, error)) error {
	var ch Change
	err := s.db.Tx(ctx, func(ctx context.Context) error {
		var err error
		ch, err = fn(ctx)
		return err
	})
	if err != nil {
		return apperr.From(err)
	}
	s.notify.CatalogChanged(ctx, ch)
	return nil
}

func (s *Service) record(ctx context.Context, staffID int64, action, targetType string, targetID int64, detail string) error {
	return s.audit.Record(ctx, audit.Entry{StaffID: staffID, Action: action, TargetType: targetType,
		TargetID: strconv.FormatInt(targetID, 10), Detail: detail})
}

// ---- categories ----

// Tree returns the category tree; with visibleOnly, hidden categories and
// everything under them are left out.
func (s *Service) Tree(ctx context.Context, visibleOnly bool) ([]*CategoryNode, error) {
	cats, err := s.store.Categories(ctx)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return buildTree(cats, visibleOnly), nil
}

// buildTree nests cats (ordered by parent, sort order and id) under their
// parents.
func buildTree(cats []Category, visibleOnly bool) []*CategoryNode {
	nodes := make(map[int64]*CategoryNode, len(cats))
	for _, c := range cats {
		nodes[c.ID] = &CategoryNode{Category: c, Children: []*CategoryNode{}}
	}
	roots := []*CategoryNode{}
	for _, c := range cats {
		n := nodes[c.ID]
		if visibleOnly && !c.Visible {
			continue
		}
		if c.ParentID == 0 {
			roots = append(roots, n)
		} else if p, ok := nodes[c.ParentID]; ok {
			p.Children = append(p.Children, n)
		}
	}
	return roots
}

// subtree returns id and the ids of all its descendants; with visibleOnly a
// hidden category (or one under a hidden ancestor) counts as unknown.
func subtree(cats []Category, id int64, visibleOnly bool) ([]int64, bool) {
	byID := make(map[int64]Category, len(cats))
	children := map[int64][]int64{}
	for _, c := range cats {
		byID[c.ID] = c
		children[c.ParentID] = append(children[c.ParentID], c.ID)
	}
	c, ok := byID[id]
	if !ok {
		return nil, false
	}
	if visibleOnly {
		for cur := c; ; {
			if !cur.Visible {
				return nil, false
			}
			if cur.ParentID == 0 {
				break
			}
			if cur, ok = byID[cur.ParentID]; !ok {
				return nil, false
			}
		}
	}
	out := []int64{}
	queue := []int64{id}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		out = append(out, n)
		queue = append(queue, children[n]...)
	}
	return out, true
}

// CreateCategory adds a category under in.ParentID (0 for a root).
func (s *Service) CreateCategory(ctx context.Context, staffID int64, in CategoryInput) (Category, error) {
	if err := in.validate(true); err != nil {
		return Category{}, err
	}
	now := s.clock.Now()
	c := Category{Name: *in.Name, Depth: 1, Visible: true, CreatedAt: now, UpdatedAt: now}
	if in.ParentID != nil {
		c.ParentID = *in.ParentID
	}
	if in.SortOrder != nil {
		c.SortOrder = *in.SortOrder
	}
	if in.Visible != nil {
		c.Visible = *in.Visible
	}
	err := s.write(ctx, func(ctx context.Context) (Change, error) {
		if c.ParentID != 0 {
			parent, err := s.lockedCategory(ctx, c.ParentID, "parent category")
			if err != nil {
				return Change{}, err
			}
			c.Depth = parent.Depth + 1
			if c.Depth > MaxCategoryDepth {
				return Change{}, apperr.Invalid(fmt.Sprintf("categories nest at most %d levels deep", MaxCategoryDepth), "parent_id")
			}
		}
		if err := s.store.insertCategory(ctx, &c); err != nil {
			if db.IsDuplicate(err) {
				return Change{}, apperr.Conflict("a category named %q already exists there", c.Name)
			}
			return Change{}, err
		}
		return Change{Categories: true}, s.record(ctx, staffID, "category.create", "category", c.ID, c.Name)
	})
	return c, err
}

func (s *Service) lockedCategory(ctx context.Context, id int64, what string) (Category, error) {
	ok, err := s.store.lockCategory(ctx, id)
	if err != nil {
		return Category{}, err
	}
	if !ok {
		return Category{}, apperr.NotFound(what)
	}
	return s.store.category(ctx, id)
}

// UpdateCategory changes the given fields of a category; moving it under
// another parent moves its subtree, within the depth limit and never under
// itself.
func (s *Service) UpdateCategory(ctx context.Context, staffID, id int64, in CategoryInput) (Category, error) {
	if err := in.validate(false); err != nil {
		return Category{}, err
	}
	var out Category
	err := s.write(ctx, func(ctx context.Context) (Change, error) {
		c, err := s.lockedCategory(ctx, id, "category")
		if err != nil {
			return Change{}, err
		}
		if in.Name != nil {
			c.Name = *in.Name
		}
		if in.SortOrder != nil {
			c.SortOrder = *in.SortOrder
		}
		if in.Visible != nil {
			c.Visible = *in.Visible
		}
		var moves []Category
		if in.ParentID != nil && *in.ParentID != c.ParentID {
			cats, err := s.store.Categories(ctx)
			if err != nil {
				return Change{}, err
			}
			below, _ := subtree(cats, id, false)
			newParent := *in.ParentID
			if slices.Contains(below, newParent) {
				return Change{}, apperr.Invalid("a category cannot move under itself or its descendants", "parent_id")
			}
			depth := 1
			if newParent != 0 {
				parent, err := s.lockedCategory(ctx, newParent, "parent category")
				if err != nil {
					return Change{}, err
				}
				depth = parent.Depth + 1
			}
			shift := depth - c.Depth
			byID := map[int64]Category{}
			for _, k := range cats {
				byID[k.ID] = k
			}
			for _, d := range below[1:] {
				k := byID[d]
				if k.Depth+shift > MaxCategoryDepth {
					return Change{}, apperr.Invalid(fmt.Sprintf("categories nest at most %d levels deep", MaxCategoryDepth), "parent_id")
				}
				k.Depth += shift
				moves = append(moves, k)
			}
			if depth > MaxCategoryDepth {
				return Change{}, apperr.Invalid(fmt.Sprintf("categories nest at most %d levels deep", MaxCategoryDepth), "parent_id")
			}
			c.ParentID, c.Depth = newParent, depth
		}
		c.UpdatedAt = s.clock.Now()
		ok, err := s.store.updateCategory(ctx, c)
		if err != nil {
			if db.IsDuplicate(err) {
				return Change{}, apperr.Conflict("a category named %q already exists there", c.Name)
			}
			return Change{}, err
		}
		if !ok {
			return Change{}, apperr.NotFound("category")
		}
		for _, k := range moves {
			if err := s.store.setCategoryDepth(ctx, k.ID, k.Depth); err != nil {
				return Change{}, err
			}
		}
		out = c
		return Change{Categories: true}, s.record(ctx, staffID, "category.update", "category", c.ID, c.Name)
	})
	return out, err
}

// DeleteCategory removes a category that has neither children nor products
// (on shelf or off); otherwise it answers conflict.
func (s *Service) DeleteCategory(ctx context.Context, staffID, id int64) error {
	return s.write(ctx, func(ctx context.Context) (Change, error) {
		c, err := s.lockedCategory(ctx, id, "category")
		if err != nil {
			return Change{}, err
		}
		n, err := s.store.countChildren(ctx, id)
		if err != nil {
			return Change{}, err
		}
		if n > 0 {
			return Change{}, apperr.Conflict("the category has %d subcategories; move or delete them first", n)
		}
		if n, err = s.store.countProductsIn(ctx, id); err != nil {
			return Change{}, err
		}
		if n > 0 {
			return Change{}, apperr.Conflict("the category holds %d products; move them first", n)
		}
		if _, err := s.store.deleteCategory(ctx, id); err != nil {
			return Change{}, err
		}
		return Change{Categories: true}, s.record(ctx, staffID, "category.delete", "category", id, c.Name)
	})
}

// ---- products: reads ----

// PublicProduct returns an on-shelf product with its live SKUs; an
// off-shelf or unknown product is not found.
func (s *Service) PublicProduct(ctx context.Context, id int64) (Product, error) {
	return publicProduct(ctx, s.store, id)
}

// Product returns a product, on shelf or not, with its live SKUs.
func (s *Service) Product(ctx context.Context, id int64) (Product, error) {
	return productWithSKUs(ctx, s.store, id)
}

// PublicProducts lists on-shelf products; a category filter covers its
// visible descendants, and a hidden or unknown category is not found.
func (s *Service) PublicProducts(ctx context.Context, q ProductQuery) ([]Product, int64, error) {
	return publicProducts(ctx, s.store, q, nil)
}

// Products lists products for staff, with an optional shelf filter.
func (s *Service) Products(ctx context.Context, q ProductQuery) ([]Product, int64, error) {
	return listProducts(ctx, s.store, q, false, nil)
}

// The read paths are functions of the store alone, so that the read cache
// (cache.go) loads exactly what the service would answer without depending
// on the service, which itself announces its writes to the cache.

func publicProduct(ctx context.Context, st *Store, id int64) (Product, error) {
	p, err := productWithSKUs(ctx, st, id)
	if err != nil {
		return Product{}, err
	}
	if !p.OnShelf {
		return Product{}, apperr.NotFound("product")
	}
	return p, nil
}

func productWithSKUs(ctx context.Context, st *Store, id int64) (Product, error) {
	p, err := st.product(ctx, id)
	if db.IsNotFound(err) {
		return Product{}, apperr.NotFound("product")
	}
	if err != nil {
		return Product{}, apperr.Internal(err)
	}
	if p.SKUs, err = st.skusOf(ctx, []int64{id}, false); err != nil {
		return Product{}, apperr.Internal(err)
	}
	return p, nil
}

// publicProducts lists on-shelf products; cats is the category table when
// the caller has just read it (the cache's refresh, once for many pages),
// or nil to read it here when the query filters by category.
func publicProducts(ctx context.Context, st *Store, q ProductQuery, cats []Category) ([]Product, int64, error) {
	on := true
	q.OnShelf = &on
	return listProducts(ctx, st, q, true, cats)
}

func listProducts(ctx context.Context, st *Store, q ProductQuery, visibleOnly bool, cats []Category) ([]Product, int64, error) {
	if err := q.validate(); err != nil {
		return nil, 0, err
	}
	var categoryIDs []int64
	if q.CategoryID != 0 {
		if cats == nil {
			var err error
			if cats, err = st.Categories(ctx); err != nil {
				return nil, 0, apperr.Internal(err)
			}
		}
		ids, ok := subtree(cats, q.CategoryID, visibleOnly)
		if !ok {
			return nil, 0, apperr.NotFound("category")
		}
		categoryIDs = ids
	}
	var tokens []string
	if q.Q != "" {
		var err error
		if tokens, err = QueryTokens(q.Q); err != nil {
			return nil, 0, err
		}
	}
	items, total, err := st.listProducts(ctx, q, categoryIDs, tokens)
	if err != nil {
		return nil, 0, apperr.Internal(err)
	}
	return items, total, nil
}

// Items reads SKUs as cart and checkout see them, keyed by SKU id; unknown
// ids are absent. Inside a transaction it reads through it.
func (s *Service) Items(ctx context.Context, skuIDs []int64) (map[int64]Item, error) {
	items, err := s.store.Items(ctx, skuIDs)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return items, nil
}

// QuoteItems returns the facts checkout prices from, keyed by SKU id, from
// the quote cache where it holds them (read at most the stock lag ago, and
// not changed since by any announced write) and from the primary for the
// others; unknown ids are absent. A cached price is checked by the stock
// decrement (TakeStockAt); a cached refusal (off shelf, deleted, short) is
// to be confirmed with RequoteItems before it is answered.
func (s *Service) QuoteItems(ctx context.Context, skuIDs []int64) (map[int64]Item, error) {
	return s.quotes.Items(ctx, skuIDs)
}

// RequoteItems reads skuIDs from the primary, as Items does, and keeps them
// in the quote cache for the next quotes.
func (s *Service) RequoteItems(ctx context.Context, skuIDs []int64) (map[int64]Item, error) {
	return s.quotes.Load(ctx, skuIDs)
}

// QuoteCacheStats describe the quote cache, for metrics.
func (s *Service) QuoteCacheStats() QuoteStats { return s.quotes.Stats() }

// ---- products: writes ----

// CreateProduct adds a product with its SKUs and their initial stock, on
// shelf when onShelf is set.
func (s *Service) CreateProduct(ctx context.Context, staffID int64, in ProductInput, onShelf bool) (Product, error) {
	if err := in.validate(); err != nil {
		return Product{}, err
	}
	if err := s.checkImages(ctx, in); err != nil {
		return Product{}, err
	}
	var id int64
	err := s.write(ctx, func(ctx context.Context) (Change, error) {
		if _, err := s.lockedCategory(ctx, in.CategoryID, "category"); err != nil {
			return Change{}, err
		}
		if err := s.checkCodes(ctx, in, 0); err != nil {
			return Change{}, err
		}
		now := s.clock.Now()
		p := Product{CategoryID: in.CategoryID, Title: in.Title, Subtitle: in.Subtitle, Images: imagesOf(in),
			Description: in.Description, OnShelf: onShelf, CreatedAt: now, UpdatedAt: now}
		if err := s.store.insertProduct(ctx, &p); err != nil {
			return Change{}, err
		}
		id = p.ID
		for i, k := range in.SKUs {
			if err := s.insertSKU(ctx, staffID, p.ID, k, i, now); err != nil {
				return Change{}, err
			}
		}
		if err := s.afterProductWrite(ctx, p.ID, p.Title); err != nil {
			return Change{}, err
		}
		return Change{ProductIDs: []int64{p.ID}, Lists: true}, s.record(ctx, staffID, "product.create", "product", p.ID, p.Title)
	})
	if err != nil {
		return Product{}, err
	}
	return s.Product(ctx, id)
}

func imagesOf(in ProductInput) []string {
	if in.Images == nil {
		return []string{}
	}
	return in.Images
}

// checkCodes answers conflict, naming them, when codes of in belong to other
// products. A unique violation at insert catches what a race slips past.
func (s *Service) checkCodes(ctx context.Context, in ProductInput, productID int64) error {
	codes := make([]string, len(in.SKUs))
	for i, k := range in.SKUs {
		codes[i] = k.Code
	}
	taken, err := s.store.takenCodes(ctx, codes, productID)
	if err != nil {
		return err
	}
	if len(taken) > 0 {
		return apperr.Conflict("sku code %s is taken by another product", taken[0]).WithDetail("sku_codes", taken)
	}
	return nil
}

func (s *Service) insertSKU(ctx context.Context, staffID, productID int64, in SKUInput, position int, now time.Time) error {
	k := SKU{ProductID: productID, Code: in.Code, Specs: in.Specs, SpecText: SpecText(in.Specs), PriceFen: in.PriceFen,
		OriginalPriceFen: in.OriginalPriceFen, Stock: in.Stock, WeightGrams: in.WeightGrams, Image: in.Image,
		CreatedAt: now, UpdatedAt: now}
	if err := s.store.insertSKU(ctx, &k, position); err != nil {
		if db.IsDuplicate(err) {
			return apperr.Conflict("sku code %s is taken", k.Code).WithDetail("sku_codes", []string{k.Code})
		}
		return err
	}
	if k.Stock > 0 {
		return s.store.insertAdjustment(ctx, &StockAdjustment{SKUID: k.ID, StaffID: staffID, Kind: "initial",
			Delta: k.Stock, StockAfter: k.Stock, Reason: "initial stock", CreatedAt: now})
	}
	return nil
}

// afterProductWrite keeps the derived data of a product in step with its
// rows, in the same transaction: the lowest price and the search tokens.
func (s *Service) afterProductWrite(ctx context.Context, productID int64, title string) error {
	if err := s.store.refreshMinPrice(ctx, productID); err != nil {
		return err
	}
	return s.store.replaceTokens(ctx, productID, TitleTokens(title))
}

// UpdateProduct replaces a product's fields and SKU set. SKUs are matched by
// id, else by code among the product's SKUs (a deleted one is revived);
// unmatched input SKUs are added with their initial stock; live SKUs left
// out are soft-deleted. Stock of existing SKUs never changes here, and shelf
// state is unchanged.
func (s *Service) UpdateProduct(ctx context.Context, staffID, id int64, in ProductInput) (Product, error) {
	if err := in.validate(); err != nil {
		return Product{}, err
	}
	if err := s.checkImages(ctx, in); err != nil {
		return Product{}, err
	}
	err := s.write(ctx, func(ctx context.Context) (Change, error) {
		p, err := s.store.product(ctx, id)
		if db.IsNotFound(err) {
			return Change{}, apperr.NotFound("product")
		}
		if err != nil {
			return Change{}, err
		}
		if _, err := s.lockedCategory(ctx, in.CategoryID, "category"); err != nil {
			return Change{}, err
		}
		existing, err := s.store.skusOf(ctx, []int64{id}, true)
		if err != nil {
			return Change{}, err
		}
		byID := map[int64]SKU{}
		byCode := map[string]SKU{}
		for _, k := range existing {
			byID[k.ID] = k
			byCode[k.Code] = k
		}
		if err := s.checkCodes(ctx, in, id); err != nil {
			return Change{}, err
		}
		now := s.clock.Now()
		matched := map[int64]int{}
		target := make([]int64, len(in.SKUs))
		for i, k := range in.SKUs {
			var old SKU
			var found bool
			if k.ID > 0 {
				if old, found = byID[k.ID]; !found {
					return Change{}, apperr.NotFound(fmt.Sprintf("sku %d of this product", k.ID)).WithDetail("fields", []string{fmt.Sprintf("skus[%d].id", i)})
				}
			} else {
				old, found = byCode[k.Code]
			}
			if found {
				if j, dup := matched[old.ID]; dup {
					f := fmt.Sprintf("skus[%d]", i)
					return Change{}, apperr.Invalid(fmt.Sprintf("%s and skus[%d] are the same sku", f, j), f)
				}
				matched[old.ID] = i
				target[i] = old.ID
			}
		}
		// Deletions first, so a code moved from a removed SKU to a new one
		// frees in time; a removed SKU keeps its code.
		for _, k := range existing {
			if _, keep := matched[k.ID]; !keep && !k.Deleted {
				if err := s.store.softDeleteSKU(ctx, k.ID, now); err != nil {
					return Change{}, err
				}
			}
		}
		for i, k := range in.SKUs {
			oldID := target[i]
			if oldID == 0 {
				if err := s.insertSKU(ctx, staffID, id, k, i, now); err != nil {
					return Change{}, err
				}
				continue
			}
			upd := SKU{ID: oldID, ProductID: id, Code: k.Code, Specs: k.Specs, SpecText: SpecText(k.Specs),
				PriceFen: k.PriceFen, OriginalPriceFen: k.OriginalPriceFen, WeightGrams: k.WeightGrams, Image: k.Image, UpdatedAt: now}
			if _, err := s.store.updateSKU(ctx, upd, i); err != nil {
				if db.IsDuplicate(err) {
					return Change{}, apperr.Conflict("sku code %s is taken", k.Code).WithDetail("sku_codes", []string{k.Code})
				}
				return Change{}, err
			}
		}
		p.CategoryID, p.Title, p.Subtitle, p.Images, p.Description, p.UpdatedAt =
			in.CategoryID, in.Title, in.Subtitle, imagesOf(in), in.Description, now
		ok, err := s.store.updateProduct(ctx, p)
		if err != nil {
			return Change{}, err
		}
		if !ok {
			return Change{}, apperr.NotFound("product")
		}
		if err := s.afterProductWrite(ctx, id, p.Title); err != nil {
			return Change{}, err
		}
		return Change{ProductIDs: []int64{id}, Lists: true}, s.record(ctx, staffID, "product.update", "product", id, p.Title)
	})
	if err != nil {
		return Product{}, err
	}
	return s.Product(ctx, id)
}

// SetShelf puts a product on or off shelf. A product goes on shelf only
// with at least one live SKU.
func (s *Service) SetShelf(ctx context.Context, staffID, id int64, on bool) (Product, error) {
	err := s.write(ctx, func(ctx context.Context) (Change, error) {
		ok, err := s.store.setShelf(ctx, id, on, s.clock.Now())
		if err != nil {
			return Change{}, err
		}
		if !ok {
			return Change{}, apperr.NotFound("product")
		}
		action := "product.off_shelf"
		if on {
			action = "product.on_shelf"
			skus, err := s.store.skusOf(ctx, []int64{id}, false)
			if err != nil {
				return Change{}, err
			}
			if len(skus) == 0 {
				return Change{}, apperr.InvalidState("off_shelf", "a product needs at least one sku to go on shelf")
			}
		}
		return Change{ProductIDs: []int64{id}, Lists: true}, s.record(ctx, staffID, action, "product", id, "")
	})
	if err != nil {
		return Product{}, err
	}
	return s.Product(ctx, id)
}

// AdjustStock moves a live SKU's stock by a delta, or sets it when it still
// equals the expected value, and records who did it and why. It returns the
// stock after the change.
func (s *Service) AdjustStock(ctx context.Context, staffID, skuID int64, ch StockChange) (int64, error) {
	if err := ch.validate(); err != nil {
		return 0, err
	}
	var after int64
	err := s.write(ctx, func(ctx context.Context) (Change, error) {
		k, err := s.store.SKU(ctx, skuID)
		if db.IsNotFound(err) || err == nil && k.Deleted {
			return Change{}, apperr.NotFound("sku")
		}
		if err != nil {
			return Change{}, err
		}
		now := s.clock.Now()
		a := StockAdjustment{SKUID: skuID, StaffID: staffID, Reason: ch.Reason, CreatedAt: now}
		if ch.Delta != nil {
			ok, err := s.store.addStock(ctx, skuID, *ch.Delta, now)
			if err != nil {
				return Change{}, err
			}
			if !ok {
				cur, err := s.store.stockOf(ctx, skuID)
				if err != nil {
					return Change{}, err
				}
				return Change{}, apperr.Conflict("stock %d cannot move by %d", cur, *ch.Delta).WithDetail("stock", cur)
			}
			a.Kind, a.Delta = "delta", *ch.Delta
		} else {
			ok, err := s.store.setStock(ctx, skuID, *ch.Expected, *ch.Set, now)
			if err != nil {
				return Change{}, err
			}
			if !ok {
				cur, err := s.store.stockOf(ctx, skuID)
				if err != nil {
					return Change{}, err
				}
				return Change{}, apperr.Conflict("stock is %d, not the expected %d", cur, *ch.Expected).WithDetail("stock", cur)
			}
			a.Kind, a.Delta = "set", *ch.Set-*ch.Expected
		}
		// The row is locked by our update until commit, so this is exact.
		if after, err = s.store.stockOf(ctx, skuID); err != nil {
			return Change{}, err
		}
		a.StockAfter = after
		if err := s.store.insertAdjustment(ctx, &a); err != nil {
			return Change{}, err
		}
		detail := fmt.Sprintf(`{"kind":%q,"delta":%d,"stock_after":%d,"reason":%s}`, a.Kind, a.Delta, after, mustJSON(a.Reason))
		return Change{ProductIDs: []int64{k.ProductID}}, s.record(ctx, staffID, "stock.adjust", "sku", skuID, detail)
	})
	return after, err
}
