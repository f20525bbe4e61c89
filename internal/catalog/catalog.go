// Package catalog owns what the shop sells: the category tree, products (SPU)
// with their SKUs, stock and its staff adjustments, and keyword search over
// product titles. Customers read it without logging in; staff write it, and
// every write is audited and announced to an Invalidator after commit.
package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/text"
)

// Limits of the catalog's inputs.
const (
	MaxCategoryDepth    = 4
	MaxCategoryNameLen  = 32
	MaxTitleLen         = 60
	MaxSubtitleLen      = 120
	MaxImages           = 9
	MaxURLLen           = 512
	MaxDescriptionBytes = 60000
	MaxSKUs             = 100
	MaxSpecKeys         = 5
	MaxSpecKeyLen       = 16
	MaxSpecValueLen     = 32
	MaxSKUCodeLen       = 64
	MaxPriceFen         = 1_000_000_000
	MaxStock            = 1_000_000_000
	MaxWeightGrams      = 1_000_000
	MaxReasonLen        = 200
	MaxQueryLen         = 32
)

// Category is a node of the category tree. ParentID is 0 for a root; Depth
// is 1 for a root.
type Category struct {
	ID        int64
	ParentID  int64
	Depth     int
	Name      string
	SortOrder int
	Visible   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CategoryNode is a category with its children, ordered by sort order then id.
type CategoryNode struct {
	Category
	Children []*CategoryNode
}

// CategoryInput creates a category or, with nil fields left unchanged,
// updates one.
type CategoryInput struct {
	ParentID  *int64
	Name      *string
	SortOrder *int
	Visible   *bool
}

func (in *CategoryInput) validate(creating bool) error {
	if !creating && in.ParentID == nil && in.Name == nil && in.SortOrder == nil && in.Visible == nil {
		return apperr.Invalid("nothing to change: send parent_id, name, sort_order or visible")
	}
	if in.Name != nil {
		n, err := text.Line("name", *in.Name, 1, MaxCategoryNameLen)
		if err != nil {
			return err
		}
		in.Name = &n
	} else if creating {
		return apperr.Invalid("name is required", "name")
	}
	if in.ParentID != nil && *in.ParentID < 0 {
		return apperr.Invalid("parent_id must be 0 (a root) or a category id", "parent_id")
	}
	if in.SortOrder != nil && (*in.SortOrder < -1_000_000 || *in.SortOrder > 1_000_000) {
		return apperr.Invalid("sort_order must be between -1000000 and 1000000", "sort_order")
	}
	return nil
}

// Product is a product (SPU) with its live SKUs.
type Product struct {
	ID          int64
	CategoryID  int64
	Title       string
	Subtitle    string
	Images      []string
	Description string
	OnShelf     bool
	MinPriceFen int64
	Sales       int64
	Rating      Rating
	SKUs        []SKU
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// MainImage is the first image, or "" when the product has none.
func (p *Product) MainImage() string {
	if len(p.Images) == 0 {
		return ""
	}
	return p.Images[0]
}

// Rating summarises a product's published reviews, kept by the reviews
// module in the transaction that publishes or withdraws a review.
type Rating struct {
	Count int64
	Total int64
	// Stars[k-1] counts the k-star reviews.
	Stars [5]int64
}

// Average is the mean rating rounded to one decimal, 0 without reviews.
func (r Rating) Average() float64 {
	if r.Count == 0 {
		return 0
	}
	return float64((r.Total*10+r.Count/2)/r.Count) / 10
}

// SKU is one purchasable variant of a product.
type SKU struct {
	ID               int64
	ProductID        int64
	Code             string
	Specs            map[string]string
	SpecText         string
	PriceFen         int64
	OriginalPriceFen int64
	Stock            int64
	WeightGrams      int64
	Image            string
	Deleted          bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// ProductInput is a staff member's product with its whole SKU set.
type ProductInput struct {
	CategoryID  int64
	Title       string
	Subtitle    string
	Images      []string
	Description string
	SKUs        []SKUInput
}

// SKUInput is one SKU of a ProductInput. On update a SKU is matched by ID,
// else by Code; Stock is the initial stock of a new SKU and is ignored for
// an existing one (a product write never changes stock).
type SKUInput struct {
	ID               int64
	Code             string
	Specs            map[string]string
	PriceFen         int64
	OriginalPriceFen int64
	Stock            int64
	WeightGrams      int64
	Image            string
}

func validURL(s string) bool {
	if s == "" || len(s) > MaxURLLen {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func validCode(s string) bool {
	if s == "" || len(s) > MaxSKUCodeLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// validate trims and checks the input; errors name the offending fields
// with their JSON names.
func (in *ProductInput) validate() error {
	if in.CategoryID <= 0 {
		return apperr.Invalid("category_id must be a positive integer", "category_id")
	}
	var err error
	if in.Title, err = text.Line("title", in.Title, 1, MaxTitleLen); err != nil {
		return err
	}
	if in.Subtitle, err = text.Line("subtitle", in.Subtitle, 0, MaxSubtitleLen); err != nil {
		return err
	}
	if len(in.Images) > MaxImages {
		return apperr.Invalid(fmt.Sprintf("at most %d images", MaxImages), "images")
	}
	for i, img := range in.Images {
		if !validURL(img) {
			f := fmt.Sprintf("images[%d]", i)
			return apperr.Invalid(f+" must be an http(s) URL of at most 512 bytes", f)
		}
	}
	if len(in.Description) > MaxDescriptionBytes {
		return apperr.Invalid(fmt.Sprintf("description must be valid text of at most %d bytes", MaxDescriptionBytes), "description")
	}
	if in.Description, err = text.Block("description", in.Description, 0, MaxDescriptionBytes); err != nil {
		return err
	}
	if len(in.SKUs) == 0 || len(in.SKUs) > MaxSKUs {
		return apperr.Invalid(fmt.Sprintf("a product needs 1 to %d skus", MaxSKUs), "skus")
	}
	var keys []string
	codes := map[string]int{}
	ids := map[int64]int{}
	specSets := map[string]int{}
	for i := range in.SKUs {
		s := &in.SKUs[i]
		f := func(name string) string { return fmt.Sprintf("skus[%d].%s", i, name) }
		s.Code = strings.TrimSpace(s.Code)
		s.Image = strings.TrimSpace(s.Image)
		if s.ID < 0 {
			return apperr.Invalid(f("id")+" must be a positive integer", f("id"))
		}
		if s.ID > 0 {
			if j, dup := ids[s.ID]; dup {
				return apperr.Invalid(fmt.Sprintf("%s repeats skus[%d].id", f("id"), j), f("id"))
			}
			ids[s.ID] = i
		}
		if !validCode(s.Code) {
			return apperr.Invalid(f("sku_code")+" must be 1 to 64 letters, digits, '-', '_' or '.'", f("sku_code"))
		}
		if j, dup := codes[s.Code]; dup {
			return apperr.Invalid(fmt.Sprintf("%s repeats skus[%d].sku_code", f("sku_code"), j), f("sku_code"))
		}
		codes[s.Code] = i
		if s.PriceFen <= 0 || s.PriceFen > MaxPriceFen {
			return apperr.Invalid(f("price_fen")+" must be between 1 and 1000000000", f("price_fen"))
		}
		if s.OriginalPriceFen < 0 || s.OriginalPriceFen > MaxPriceFen {
			return apperr.Invalid(f("original_price_fen")+" must be between 0 and 1000000000", f("original_price_fen"))
		}
		if s.Stock < 0 || s.Stock > MaxStock {
			return apperr.Invalid(f("stock")+" must be between 0 and 1000000000", f("stock"))
		}
		if s.WeightGrams < 0 || s.WeightGrams > MaxWeightGrams {
			return apperr.Invalid(f("weight_grams")+" must be between 0 and 1000000", f("weight_grams"))
		}
		if s.Image != "" && !validURL(s.Image) {
			return apperr.Invalid(f("image")+" must be an http(s) URL of at most 512 bytes", f("image"))
		}
		if len(s.Specs) > MaxSpecKeys {
			return apperr.Invalid(fmt.Sprintf("%s has more than %d keys", f("specs"), MaxSpecKeys), f("specs"))
		}
		clean := make(map[string]string, len(s.Specs))
		for k, v := range s.Specs {
			var err error
			if k, err = text.Line(f("specs")+" keys", k, 1, MaxSpecKeyLen); err != nil {
				return apperr.Invalid(specMessage(err), f("specs"))
			}
			if v, err = text.Line(f("specs")+" values", v, 1, MaxSpecValueLen); err != nil {
				return apperr.Invalid(specMessage(err), f("specs"))
			}
			if _, dup := clean[k]; dup {
				return apperr.Invalid(f("specs")+" repeats a key", f("specs"))
			}
			clean[k] = v
		}
		s.Specs = clean
		own := specKeys(clean)
		if i == 0 {
			keys = own
		} else if !slices.Equal(keys, own) {
			return apperr.Invalid(fmt.Sprintf("%s must have the same keys as skus[0].specs (%s)", f("specs"), strings.Join(keys, ", ")), f("specs"))
		}
		text := SpecText(clean)
		if j, dup := specSets[text]; dup {
			return apperr.Invalid(fmt.Sprintf("%s repeats the specs of skus[%d]", f("specs"), j), f("specs"))
		}
		specSets[text] = i
	}
	return nil
}

func specKeys(specs map[string]string) []string {
	keys := make([]string, 0, len(specs))
	for k := range specs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// SpecText is the display form of specs, "key:value" pairs in key order
// joined by "; ", e.g. "尺码:M; 颜色:红色". Orders snapshot it.
func SpecText(specs map[string]string) string {
	var b strings.Builder
	for i, k := range specKeys(specs) {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(specs[k])
	}
	return b.String()
}

// Item is a SKU as cart and checkout see it: its live price and stock with
// the product facts that decide whether it can be bought.
type Item struct {
	SKUID     int64
	ProductID int64
	Code      string
	Title     string
	Image     string
	SpecText  string
	PriceFen  int64
	Stock     int64
	OnShelf   bool
	Deleted   bool
}

// Buyable reports whether the SKU can be sold at all, stock aside: its
// product is on shelf and the SKU is not deleted.
func (i Item) Buyable() bool { return i.OnShelf && !i.Deleted }

// Available reports whether the SKU can be bought now: it is buyable and has
// stock.
func (i Item) Available() bool { return i.Buyable() && i.Stock > 0 }

// Sort orders of the product list.
const (
	SortDefault   = "default"
	SortPriceAsc  = "price_asc"
	SortPriceDesc = "price_desc"
	SortSales     = "sales"
)

// ProductQuery filters and orders a product list.
type ProductQuery struct {
	// CategoryID limits the list to a category and its descendants; 0 is any.
	CategoryID int64
	// Q is a keyword matched against titles (see docs/catalog.md).
	Q string
	// Sort is one of the Sort constants; "" is SortDefault.
	Sort string
	// OnShelf filters by shelf state; public lists always use true.
	OnShelf *bool
	// Offset and Limit select the page.
	Offset, Limit int
}

func (q *ProductQuery) validate() error {
	switch q.Sort {
	case "":
		q.Sort = SortDefault
	case SortDefault, SortPriceAsc, SortPriceDesc, SortSales:
	default:
		return apperr.Invalid("sort must be one of default, price_asc, price_desc, sales", "sort")
	}
	if q.CategoryID < 0 {
		return apperr.Invalid("category_id must be a positive integer", "category_id")
	}
	if utf8.RuneCountInString(q.Q) > MaxQueryLen {
		return apperr.Invalid(fmt.Sprintf("q must have at most %d characters", MaxQueryLen), "q")
	}
	if q.Limit <= 0 {
		q.Limit = 20
	}
	if q.Offset < 0 {
		q.Offset = 0
	}
	return nil
}

// StockChange is a staff stock adjustment: either Delta, or Set with the
// Expected current stock (compare-and-set). Reason is required.
type StockChange struct {
	Delta    *int64
	Set      *int64
	Expected *int64
	Reason   string
}

func (c *StockChange) validate() error {
	switch {
	case c.Delta != nil && (c.Set != nil || c.Expected != nil):
		return apperr.Invalid("give either delta, or set with expected", "delta", "set")
	case c.Delta != nil:
		if *c.Delta == 0 || *c.Delta > MaxStock || *c.Delta < -MaxStock {
			return apperr.Invalid("delta must be a non-zero integer between -1000000000 and 1000000000", "delta")
		}
	case c.Set != nil:
		if *c.Set < 0 || *c.Set > MaxStock {
			return apperr.Invalid("set must be between 0 and 1000000000", "set")
		}
		if c.Expected == nil {
			return apperr.Invalid("expected is required with set", "expected")
		}
		if *c.Expected < 0 {
			return apperr.Invalid("expected must not be negative", "expected")
		}
	default:
		return apperr.Invalid("give either delta, or set with expected", "delta", "set")
	}
	var err error
	c.Reason, err = text.Line("reason", c.Reason, 1, MaxReasonLen)
	return err
}

// StockAdjustment is one recorded stock change.
type StockAdjustment struct {
	ID         int64
	SKUID      int64
	StaffID    int64
	Kind       string // "delta", "set" or "initial"
	Delta      int64
	StockAfter int64
	Reason     string
	CreatedAt  time.Time
}

// specMessage keeps the text rule's message for a spec key or value, whose
// error names the specs field as a whole.
func specMessage(err error) string {
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
