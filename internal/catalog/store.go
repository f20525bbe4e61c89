package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/platform/db"
)

// Store reads and writes the catalog tables. Writes join the transaction
// carried by the context; stock only ever moves through guarded SQL.
type Store struct {
	db *db.DB
}

// NewStore returns a store on d.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("catalog: nil database")
	}
	return &Store{db: d}, nil
}

type categoryRow struct {
	ID        int64     `gorm:"column:id;primaryKey"`
	ParentID  int64     `gorm:"column:parent_id"`
	Depth     int       `gorm:"column:depth"`
	Name      string    `gorm:"column:name"`
	SortOrder int       `gorm:"column:sort_order"`
	Visible   bool      `gorm:"column:visible"`
	CreatedAt time.Time `gorm:"column:created_at"`
	UpdatedAt time.Time `gorm:"column:updated_at"`
}

func (categoryRow) TableName() string { return "categories" }

func (r categoryRow) domain() Category {
	return Category{ID: r.ID, ParentID: r.ParentID, Depth: r.Depth, Name: r.Name, SortOrder: r.SortOrder,
		Visible: r.Visible, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

type productRow struct {
	ID          int64     `gorm:"column:id;primaryKey"`
	CategoryID  int64     `gorm:"column:category_id"`
	Title       string    `gorm:"column:title"`
	Subtitle    string    `gorm:"column:subtitle"`
	Images      string    `gorm:"column:images"`
	Description string    `gorm:"column:description"`
	OnShelf     bool      `gorm:"column:on_shelf"`
	MinPriceFen int64     `gorm:"column:min_price_fen"`
	Sales       int64     `gorm:"column:sales"`
	RatingCount int64     `gorm:"column:rating_count"`
	RatingTotal int64     `gorm:"column:rating_total"`
	Rating1     int64     `gorm:"column:rating_1"`
	Rating2     int64     `gorm:"column:rating_2"`
	Rating3     int64     `gorm:"column:rating_3"`
	Rating4     int64     `gorm:"column:rating_4"`
	Rating5     int64     `gorm:"column:rating_5"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	UpdatedAt   time.Time `gorm:"column:updated_at"`
}

func (productRow) TableName() string { return "products" }

func (r productRow) domain() Product {
	p := Product{ID: r.ID, CategoryID: r.CategoryID, Title: r.Title, Subtitle: r.Subtitle,
		Description: r.Description, OnShelf: r.OnShelf, MinPriceFen: r.MinPriceFen, Sales: r.Sales,
		Rating: Rating{Count: r.RatingCount, Total: r.RatingTotal,
			Stars: [5]int64{r.Rating1, r.Rating2, r.Rating3, r.Rating4, r.Rating5}}, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	_ = json.Unmarshal([]byte(r.Images), &p.Images)
	if p.Images == nil {
		p.Images = []string{}
	}
	return p
}

type skuRow struct {
	ID               int64      `gorm:"column:id;primaryKey"`
	ProductID        int64      `gorm:"column:product_id"`
	Code             string     `gorm:"column:sku_code"`
	Specs            string     `gorm:"column:specs"`
	SpecText         string     `gorm:"column:spec_text"`
	PriceFen         int64      `gorm:"column:price_fen"`
	OriginalPriceFen int64      `gorm:"column:original_price_fen"`
	Stock            int64      `gorm:"column:stock"`
	WeightGrams      int64      `gorm:"column:weight_grams"`
	Image            string     `gorm:"column:image"`
	Position         int        `gorm:"column:position"`
	DeletedAt        *time.Time `gorm:"column:deleted_at"`
	CreatedAt        time.Time  `gorm:"column:created_at"`
	UpdatedAt        time.Time  `gorm:"column:updated_at"`
}

func (skuRow) TableName() string { return "skus" }

func (r skuRow) domain() SKU {
	s := SKU{ID: r.ID, ProductID: r.ProductID, Code: r.Code, SpecText: r.SpecText, PriceFen: r.PriceFen,
		OriginalPriceFen: r.OriginalPriceFen, Stock: r.Stock, WeightGrams: r.WeightGrams, Image: r.Image,
		Deleted: r.DeletedAt != nil, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	_ = json.Unmarshal([]byte(r.Specs), &s.Specs)
	if s.Specs == nil {
		s.Specs = map[string]string{}
	}
	return s
}

type stockAdjustmentRow struct {
	ID         int64     `gorm:"column:id;primaryKey"`
	SKUID      int64     `gorm:"column:sku_id"`
	StaffID    int64     `gorm:"column:staff_id"`
	Kind       string    `gorm:"column:kind"`
	Delta      int64     `gorm:"column:delta"`
	StockAfter int64     `gorm:"column:stock_after"`
	Reason     string    `gorm:"column:reason"`
	CreatedAt  time.Time `gorm:"column:created_at"`
}

func (stockAdjustmentRow) TableName() string { return "stock_adjustments" }

type tokenRow struct {
	Token     string `gorm:"column:token"`
	ProductID int64  `gorm:"column:product_id"`
}

func (tokenRow) TableName() string { return "product_search_tokens" }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only strings, slices and maps of strings reach here.
		panic(fmt.Sprintf("catalog: marshal %T: %v", v, err))
	}
	return string(b)
}

// ---- categories ----

func (s *Store) insertCategory(ctx context.Context, c *Category) error {
	r := categoryRow{ParentID: c.ParentID, Depth: c.Depth, Name: c.Name, SortOrder: c.SortOrder,
		Visible: c.Visible, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return err
	}
	c.ID = r.ID
	return nil
}

// updateCategory writes every field of c; it reports whether the row exists.
func (s *Store) updateCategory(ctx context.Context, c Category) (bool, error) {
	res := s.db.Writer(ctx).Model(&categoryRow{}).Where("id = ?", c.ID).Updates(map[string]any{
		"parent_id": c.ParentID, "depth": c.Depth, "name": c.Name, "sort_order": c.SortOrder,
		"visible": c.Visible, "updated_at": c.UpdatedAt,
	})
	return res.RowsAffected == 1, res.Error
}

func (s *Store) setCategoryDepth(ctx context.Context, id int64, depth int) error {
	return s.db.Writer(ctx).Exec("UPDATE categories SET depth = ? WHERE id = ?", depth, id).Error
}

// lockCategory takes the category's row lock for the rest of the
// transaction and reports whether it exists. Product writes lock the category
// they file a product under, and a category delete locks it too, so a product
// is never filed under a category deleted at the same moment.
func (s *Store) lockCategory(ctx context.Context, id int64) (bool, error) {
	res := s.db.Writer(ctx).Exec("UPDATE categories SET updated_at = updated_at WHERE id = ?", id)
	return res.RowsAffected == 1, res.Error
}

func (s *Store) deleteCategory(ctx context.Context, id int64) (bool, error) {
	res := s.db.Writer(ctx).Exec("DELETE FROM categories WHERE id = ?", id)
	return res.RowsAffected == 1, res.Error
}

func (s *Store) category(ctx context.Context, id int64) (Category, error) {
	var r categoryRow
	if err := s.db.Reader(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Category{}, err
	}
	return r.domain(), nil
}

// Categories returns every category ordered by parent, sort order and id.
func (s *Store) Categories(ctx context.Context) ([]Category, error) {
	var rows []categoryRow
	if err := s.db.Reader(ctx).Order("parent_id, sort_order, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Category, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

func (s *Store) countChildren(ctx context.Context, id int64) (int64, error) {
	var n int64
	err := s.db.Reader(ctx).Model(&categoryRow{}).Where("parent_id = ?", id).Count(&n).Error
	return n, err
}

func (s *Store) countProductsIn(ctx context.Context, categoryID int64) (int64, error) {
	var n int64
	err := s.db.Reader(ctx).Model(&productRow{}).Where("category_id = ?", categoryID).Count(&n).Error
	return n, err
}

// ---- products ----

func (s *Store) insertProduct(ctx context.Context, p *Product) error {
	r := productRow{CategoryID: p.CategoryID, Title: p.Title, Subtitle: p.Subtitle, Images: mustJSON(p.Images),
		Description: p.Description, OnShelf: p.OnShelf, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return err
	}
	p.ID = r.ID
	return nil
}

// updateProduct writes the staff-editable fields of p (never shelf state,
// sales or stock); it reports whether the row exists.
func (s *Store) updateProduct(ctx context.Context, p Product) (bool, error) {
	res := s.db.Writer(ctx).Model(&productRow{}).Where("id = ?", p.ID).Updates(map[string]any{
		"category_id": p.CategoryID, "title": p.Title, "subtitle": p.Subtitle, "images": mustJSON(p.Images),
		"description": p.Description, "updated_at": p.UpdatedAt,
	})
	return res.RowsAffected == 1, res.Error
}

// setShelf puts a product on or off shelf; it reports whether the row exists.
func (s *Store) setShelf(ctx context.Context, id int64, on bool, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec("UPDATE products SET on_shelf = ?, updated_at = ? WHERE id = ?", on, now, id)
	return res.RowsAffected == 1, res.Error
}

// refreshMinPrice recomputes the product's lowest live SKU price in SQL.
func (s *Store) refreshMinPrice(ctx context.Context, productID int64) error {
	return s.db.Writer(ctx).Exec(`UPDATE products SET min_price_fen = COALESCE(
		(SELECT MIN(price_fen) FROM skus WHERE product_id = ? AND deleted_at IS NULL), 0) WHERE id = ?`,
		productID, productID).Error
}

// AddSales moves a product's sales counter by n; the order module calls it
// off the checkout path (at payment, or from a job).
func (s *Store) AddSales(ctx context.Context, productID, n int64) error {
	return s.db.Writer(ctx).Exec("UPDATE products SET sales = sales + ? WHERE id = ? AND sales + ? >= 0", n, productID, n).Error
}

// AddRating moves a product's rating summary by delta (+1 or -1) reviews of
// stars (1–5), in one statement that joins the caller's transaction: the
// reviews module calls it in the transaction that publishes or withdraws a
// review.
func (s *Store) AddRating(ctx context.Context, productID int64, stars int, delta int64) error {
	if stars < 1 || stars > 5 || (delta != 1 && delta != -1) {
		return fmt.Errorf("catalog: rating %d%+d out of range", stars, delta)
	}
	col := fmt.Sprintf("rating_%d", stars)
	res := s.db.Writer(ctx).Exec("UPDATE products SET rating_count = rating_count + ?, rating_total = rating_total + ?, "+
		col+" = "+col+" + ? WHERE id = ?", delta, delta*int64(stars), delta, productID)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("catalog: no product %d to rate", productID)
	}
	return nil
}

// product reads one product without its SKUs.
func (s *Store) product(ctx context.Context, id int64) (Product, error) {
	var r productRow
	if err := s.db.Reader(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Product{}, err
	}
	return r.domain(), nil
}

// publicRows is what the public detail of one product is made of, as read:
// the scalar columns scanned, the JSON columns still raw, and a fingerprint
// of every column, so that a refresh can tell an unchanged page without
// decoding or serialising it again.
type publicRows struct {
	product Product
	images  string
	skus    []publicSKURow
	fp      uint64
}

type publicSKURow struct {
	sku   SKU
	specs string
}

// decode turns the rows into the product with its live SKUs.
func (r *publicRows) decode() Product {
	p := r.product
	_ = json.Unmarshal([]byte(r.images), &p.Images)
	if p.Images == nil {
		p.Images = []string{}
	}
	p.SKUs = make([]SKU, len(r.skus))
	for i, k := range r.skus {
		p.SKUs[i] = k.sku
		_ = json.Unmarshal([]byte(k.specs), &p.SKUs[i].Specs)
		if p.SKUs[i].Specs == nil {
			p.SKUs[i].Specs = map[string]string{}
		}
	}
	return p
}

// fingerprint hashes column values in order; a zero byte ends each one so
// that adjacent values cannot run into each other.
type fingerprint struct {
	h   maphash.Hash
	buf [24]byte
}

func (f *fingerprint) int(v int64) {
	f.h.Write(strconv.AppendInt(f.buf[:0], v, 10))
	f.h.WriteByte(0)
}

func (f *fingerprint) str(v string) {
	f.h.WriteString(v)
	f.h.WriteByte(0)
}

func (f *fingerprint) bool(v bool) {
	if v {
		f.h.WriteByte(1)
	} else {
		f.h.WriteByte(2)
	}
}

// publicRowsOf reads several products with their live SKUs in two
// statements, keyed by id; unknown ids are absent. It reads only what the
// public detail shows (no timestamps, SKU codes or weights) and scans by
// hand, without reflection: the read cache calls it for every page it loads
// or refreshes. seed keys the fingerprints.
func (s *Store) publicRowsOf(ctx context.Context, ids []int64, seed maphash.Seed) (map[int64]*publicRows, error) {
	out := make(map[int64]*publicRows, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Reader(ctx).Raw(`SELECT id, category_id, title, subtitle, images, description, on_shelf,
		min_price_fen, sales, rating_count, rating_total, rating_1, rating_2, rating_3, rating_4, rating_5
		FROM products WHERE id IN ?`, ids).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		r := &publicRows{}
		p := &r.product
		if err := rows.Scan(&p.ID, &p.CategoryID, &p.Title, &p.Subtitle, &r.images, &p.Description, &p.OnShelf,
			&p.MinPriceFen, &p.Sales, &p.Rating.Count, &p.Rating.Total, &p.Rating.Stars[0], &p.Rating.Stars[1],
			&p.Rating.Stars[2], &p.Rating.Stars[3], &p.Rating.Stars[4]); err != nil {
			return nil, err
		}
		out[p.ID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	rows, err = s.db.Reader(ctx).Raw(`SELECT id, product_id, specs, spec_text, price_fen, original_price_fen, stock, image
		FROM skus WHERE product_id IN ? AND deleted_at IS NULL ORDER BY product_id, position, id`, ids).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k publicSKURow
		if err := rows.Scan(&k.sku.ID, &k.sku.ProductID, &k.specs, &k.sku.SpecText, &k.sku.PriceFen,
			&k.sku.OriginalPriceFen, &k.sku.Stock, &k.sku.Image); err != nil {
			return nil, err
		}
		if r, ok := out[k.sku.ProductID]; ok {
			r.skus = append(r.skus, k)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var f fingerprint
	for _, r := range out {
		f.h.SetSeed(seed)
		p := &r.product
		f.int(p.ID)
		f.int(p.CategoryID)
		f.str(p.Title)
		f.str(p.Subtitle)
		f.str(r.images)
		f.str(p.Description)
		f.bool(p.OnShelf)
		f.int(p.MinPriceFen)
		f.int(p.Sales)
		f.int(p.Rating.Count)
		f.int(p.Rating.Total)
		for _, n := range p.Rating.Stars {
			f.int(n)
		}
		for _, k := range r.skus {
			f.int(k.sku.ID)
			f.str(k.specs)
			f.str(k.sku.SpecText)
			f.int(k.sku.PriceFen)
			f.int(k.sku.OriginalPriceFen)
			f.int(k.sku.Stock)
			f.str(k.sku.Image)
		}
		r.fp = f.h.Sum64()
	}
	return out, nil
}

// listProducts returns one page of products (without descriptions or SKUs)
// and the number of products that match.
func (s *Store) listProducts(ctx context.Context, q ProductQuery, categoryIDs []int64, tokens []string) ([]Product, int64, error) {
	base := s.db.Reader(ctx).Model(&productRow{})
	if q.OnShelf != nil {
		base = base.Where("on_shelf = ?", *q.OnShelf)
	}
	if categoryIDs != nil {
		base = base.Where("category_id IN ?", categoryIDs)
	}
	if len(tokens) > 0 {
		sub := s.db.Reader(ctx).Model(&tokenRow{}).Select("product_id").Where("token IN ?", tokens).
			Group("product_id").Having("COUNT(*) = ?", len(tokens))
		base = base.Where("id IN (?)", sub)
	}
	var total int64
	if err := base.Session(&gorm.Session{}).Count(&total).Error; err != nil {
		return nil, 0, err
	}
	if total == 0 || int64(q.Offset) >= total {
		return []Product{}, total, nil
	}
	order := "id DESC"
	switch q.Sort {
	case SortPriceAsc:
		order = "min_price_fen ASC, id ASC"
	case SortPriceDesc:
		order = "min_price_fen DESC, id DESC"
	case SortSales:
		order = "sales DESC, id DESC"
	}
	var rows []productRow
	err := base.Session(&gorm.Session{}).
		Select("id, category_id, title, subtitle, images, '' AS description, on_shelf, min_price_fen, sales, rating_count, rating_total, rating_1, rating_2, rating_3, rating_4, rating_5, created_at, updated_at").
		Order(order).Offset(q.Offset).Limit(q.Limit).Find(&rows).Error
	if err != nil {
		return nil, 0, err
	}
	out := make([]Product, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, total, nil
}

// replaceTokens rewrites a product's search tokens.
func (s *Store) replaceTokens(ctx context.Context, productID int64, tokens []string) error {
	w := s.db.Writer(ctx)
	if err := w.Exec("DELETE FROM product_search_tokens WHERE product_id = ?", productID).Error; err != nil {
		return err
	}
	if len(tokens) == 0 {
		return nil
	}
	rows := make([]tokenRow, len(tokens))
	for i, t := range tokens {
		rows[i] = tokenRow{Token: t, ProductID: productID}
	}
	return w.CreateInBatches(rows, 200).Error
}

// ---- SKUs ----

func (s *Store) insertSKU(ctx context.Context, k *SKU, position int) error {
	r := skuRow{ProductID: k.ProductID, Code: k.Code, Specs: mustJSON(k.Specs), SpecText: k.SpecText,
		PriceFen: k.PriceFen, OriginalPriceFen: k.OriginalPriceFen, Stock: k.Stock, WeightGrams: k.WeightGrams,
		Image: k.Image, Position: position, CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return err
	}
	k.ID = r.ID
	return nil
}

// updateSKU writes a SKU's descriptive fields and revives it if it was
// deleted. It never touches stock.
func (s *Store) updateSKU(ctx context.Context, k SKU, position int) (bool, error) {
	res := s.db.Writer(ctx).Model(&skuRow{}).Where("id = ? AND product_id = ?", k.ID, k.ProductID).Updates(map[string]any{
		"sku_code": k.Code, "specs": mustJSON(k.Specs), "spec_text": k.SpecText, "price_fen": k.PriceFen,
		"original_price_fen": k.OriginalPriceFen, "weight_grams": k.WeightGrams, "image": k.Image,
		"position": position, "deleted_at": nil, "updated_at": k.UpdatedAt,
	})
	return res.RowsAffected == 1, res.Error
}

func (s *Store) softDeleteSKU(ctx context.Context, id int64, now time.Time) error {
	return s.db.Writer(ctx).Exec("UPDATE skus SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL", now, now, id).Error
}

// skusOf returns the SKUs of the given products in display order, live ones
// only unless withDeleted.
func (s *Store) skusOf(ctx context.Context, productIDs []int64, withDeleted bool) ([]SKU, error) {
	q := s.db.Reader(ctx).Where("product_id IN ?", productIDs)
	if !withDeleted {
		q = q.Where("deleted_at IS NULL")
	}
	var rows []skuRow
	if err := q.Order("product_id, position, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]SKU, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// SKU reads one SKU, deleted or not.
func (s *Store) SKU(ctx context.Context, id int64) (SKU, error) {
	var r skuRow
	if err := s.db.Reader(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return SKU{}, err
	}
	return r.domain(), nil
}

func (s *Store) takenCodes(ctx context.Context, codes []string, exceptProduct int64) ([]string, error) {
	var out []string
	err := s.db.Reader(ctx).Model(&skuRow{}).Where("sku_code IN ? AND product_id <> ?", codes, exceptProduct).
		Order("sku_code").Pluck("sku_code", &out).Error
	return out, err
}

func (s *Store) stockOf(ctx context.Context, skuID int64) (int64, error) {
	var stock []int64
	if err := s.db.Reader(ctx).Model(&skuRow{}).Where("id = ?", skuID).Pluck("stock", &stock).Error; err != nil {
		return 0, err
	}
	if len(stock) == 0 {
		return 0, gorm.ErrRecordNotFound
	}
	return stock[0], nil
}

// addStock moves a live SKU's stock by delta unless the result would leave
// [0, MaxStock]; it reports whether it did.
func (s *Store) addStock(ctx context.Context, skuID, delta int64, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE skus SET stock = stock + ?, updated_at = ?
		WHERE id = ? AND deleted_at IS NULL AND stock + ? >= 0 AND stock + ? <= ?`,
		delta, now, skuID, delta, delta, MaxStock)
	return res.RowsAffected == 1, res.Error
}

// setStock is a compare-and-set of a live SKU's stock; it reports whether
// the stock was expected.
func (s *Store) setStock(ctx context.Context, skuID, expected, value int64, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec("UPDATE skus SET stock = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL AND stock = ?",
		value, now, skuID, expected)
	return res.RowsAffected == 1, res.Error
}

// DecrementStock takes n units of a live (not deleted) SKU if it has them,
// in one guarded statement; checkout calls it last in its transaction, in
// ascending SKU id order. It reports whether the units were taken.
func (s *Store) DecrementStock(ctx context.Context, skuID, n int64) (bool, error) {
	res := s.db.Writer(ctx).Exec("UPDATE skus SET stock = stock - ? WHERE id = ? AND stock >= ? AND deleted_at IS NULL", n, skuID, n)
	return res.RowsAffected == 1, res.Error
}

// DecrementStockAt takes n units of a live SKU if it has them and its price
// is still priceFen, in one guarded statement; it reports whether the units
// were taken.
func (s *Store) DecrementStockAt(ctx context.Context, skuID, n, priceFen int64) (bool, error) {
	res := s.db.Writer(ctx).Exec("UPDATE skus SET stock = stock - ? WHERE id = ? AND stock >= ? AND price_fen = ? AND deleted_at IS NULL",
		n, skuID, n, priceFen)
	return res.RowsAffected == 1, res.Error
}

// IncrementStock returns n units to a SKU (a cancelled order, an approved
// return), deleted or not, so stock is conserved. It reports whether the SKU
// exists.
func (s *Store) IncrementStock(ctx context.Context, skuID, n int64) (bool, error) {
	res := s.db.Writer(ctx).Exec("UPDATE skus SET stock = stock + ? WHERE id = ? AND stock + ? >= 0", n, skuID, n)
	return res.RowsAffected == 1, res.Error
}

func (s *Store) insertAdjustment(ctx context.Context, a *StockAdjustment) error {
	r := stockAdjustmentRow{SKUID: a.SKUID, StaffID: a.StaffID, Kind: a.Kind, Delta: a.Delta,
		StockAfter: a.StockAfter, Reason: a.Reason, CreatedAt: a.CreatedAt}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return err
	}
	a.ID = r.ID
	return nil
}

// Adjustments returns the stock adjustments of a SKU, oldest first.
func (s *Store) Adjustments(ctx context.Context, skuID int64) ([]StockAdjustment, error) {
	var rows []stockAdjustmentRow
	if err := s.db.Reader(ctx).Where("sku_id = ?", skuID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]StockAdjustment, len(rows))
	for i, r := range rows {
		out[i] = StockAdjustment{ID: r.ID, SKUID: r.SKUID, StaffID: r.StaffID, Kind: r.Kind, Delta: r.Delta,
			StockAfter: r.StockAfter, Reason: r.Reason, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

type itemRow struct {
	SKUID     int64      `gorm:"column:sku_id"`
	ProductID int64      `gorm:"column:product_id"`
	Code      string     `gorm:"column:sku_code"`
	SpecText  string     `gorm:"column:spec_text"`
	PriceFen  int64      `gorm:"column:price_fen"`
	Stock     int64      `gorm:"column:stock"`
	SKUImage  string     `gorm:"column:sku_image"`
	DeletedAt *time.Time `gorm:"column:deleted_at"`
	Title     string     `gorm:"column:title"`
	Images    string     `gorm:"column:images"`
	OnShelf   bool       `gorm:"column:on_shelf"`
}

// Items reads SKUs with their products' title, image and shelf state in one
// query, keyed by SKU id; unknown ids are absent from the map.
func (s *Store) Items(ctx context.Context, skuIDs []int64) (map[int64]Item, error) {
	out := make(map[int64]Item, len(skuIDs))
	if len(skuIDs) == 0 {
		return out, nil
	}
	var rows []itemRow
	err := s.db.Reader(ctx).Raw(`SELECT s.id AS sku_id, s.product_id, s.sku_code, s.spec_text, s.price_fen, s.stock,
		s.image AS sku_image, s.deleted_at, p.title, p.images, p.on_shelf
		FROM skus s JOIN products p ON p.id = s.product_id WHERE s.id IN ?`, skuIDs).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.SKUID] = Item{SKUID: r.SKUID, ProductID: r.ProductID, Code: r.Code, Title: r.Title, Image: ItemImage(r.SKUImage, r.Images),
			SpecText: r.SpecText, PriceFen: r.PriceFen, Stock: r.Stock, OnShelf: r.OnShelf, Deleted: r.DeletedAt != nil}
	}
	return out, nil
}

// ItemImage is the image a cart or order line shows for a SKU: the SKU's
// own image, else its product's main image. productImages is the products
// table's images column (a JSON array), for modules that read SKU rows
// joined in their own queries, as the cart list does.
func ItemImage(skuImage, productImages string) string {
	if skuImage != "" {
		return skuImage
	}
	// Fast path for the usual column, written by json.Marshal: a first URL
	// without escapes, read without decoding the whole array.
	if rest, ok := strings.CutPrefix(productImages, `["`); ok {
		if end := strings.IndexByte(rest, '"'); end >= 0 && !strings.Contains(rest[:end], `\`) {
			return rest[:end]
		}
	}
	var imgs []string
	_ = json.Unmarshal([]byte(productImages), &imgs)
	if len(imgs) > 0 {
		return imgs[0]
	}
	return ""
}
