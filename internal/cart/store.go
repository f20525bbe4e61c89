package cart

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/db"
)

// Store reads and writes cart lines; writes join the transaction carried by
// the context.
type Store struct {
	db *db.DB
}

// NewStore returns a store on d.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("cart: nil database")
	}
	return &Store{db: d}, nil
}

type lineRow struct {
	ID         int64     `gorm:"column:id;primaryKey"`
	CustomerID int64     `gorm:"column:customer_id"`
	SKUID      int64     `gorm:"column:sku_id"`
	Quantity   int64     `gorm:"column:quantity"`
	Selected   bool      `gorm:"column:selected"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	UpdatedAt  time.Time `gorm:"column:updated_at"`
}

func (lineRow) TableName() string { return "cart_items" }

func (r lineRow) domain() Line {
	return Line{ID: r.ID, CustomerID: r.CustomerID, SKUID: r.SKUID, Quantity: r.Quantity, Selected: r.Selected,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// increment adds n to the customer's line of the SKU, selecting it, unless
// the result would pass limit; it reports whether it did.
func (s *Store) increment(ctx context.Context, customerID, skuID, n, limit int64, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE cart_items SET quantity = quantity + ?, selected = ?, updated_at = ?
		WHERE customer_id = ? AND sku_id = ? AND quantity + ? <= ?`, n, true, now, customerID, skuID, n, limit)
	return res.RowsAffected == 1, res.Error
}

// lockCustomer takes the row locks of the customer's lines until commit, so
// that two requests adding new lines count one after the other.
func (s *Store) lockCustomer(ctx context.Context, customerID int64) error {
	return s.db.Writer(ctx).Exec("UPDATE cart_items SET updated_at = updated_at WHERE customer_id = ?", customerID).Error
}

func (s *Store) count(ctx context.Context, customerID int64) (int64, error) {
	var n int64
	err := s.db.Reader(ctx).Model(&lineRow{}).Where("customer_id = ?", customerID).Count(&n).Error
	return n, err
}

func (s *Store) insert(ctx context.Context, l *Line) error {
	r := lineRow{CustomerID: l.CustomerID, SKUID: l.SKUID, Quantity: l.Quantity, Selected: l.Selected,
		CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return err
	}
	l.ID = r.ID
	return nil
}

func (s *Store) lineBySKU(ctx context.Context, customerID, skuID int64) (Line, bool, error) {
	var rows []lineRow
	if err := s.db.Reader(ctx).Where("customer_id = ? AND sku_id = ?", customerID, skuID).Limit(1).Find(&rows).Error; err != nil {
		return Line{}, false, err
	}
	if len(rows) == 0 {
		return Line{}, false, nil
	}
	return rows[0].domain(), true, nil
}

func (s *Store) line(ctx context.Context, customerID, id int64) (Line, bool, error) {
	var rows []lineRow
	if err := s.db.Reader(ctx).Where("id = ? AND customer_id = ?", id, customerID).Limit(1).Find(&rows).Error; err != nil {
		return Line{}, false, err
	}
	if len(rows) == 0 {
		return Line{}, false, nil
	}
	return rows[0].domain(), true, nil
}

// update writes only the fields a patch carries, so that a concurrent add's
// increment of the quantity is never overwritten by a selection change.
func (s *Store) update(ctx context.Context, customerID, id int64, quantity *int64, selected *bool, now time.Time) (bool, error) {
	set := map[string]any{"updated_at": now}
	if quantity != nil {
		set["quantity"] = *quantity
	}
	if selected != nil {
		set["selected"] = *selected
	}
	res := s.db.Writer(ctx).Model(&lineRow{}).Where("id = ? AND customer_id = ?", id, customerID).Updates(set)
	return res.RowsAffected == 1, res.Error
}

func (s *Store) delete(ctx context.Context, customerID, id int64) (bool, error) {
	res := s.db.Writer(ctx).Exec("DELETE FROM cart_items WHERE id = ? AND customer_id = ?", id, customerID)
	return res.RowsAffected == 1, res.Error
}

// takeUnits removes n units from the customer's line of a SKU, deleting the
// line when nothing is left of it.
func (s *Store) takeUnits(ctx context.Context, customerID, skuID, n int64) error {
	w := s.db.Writer(ctx)
	if err := w.Exec("DELETE FROM cart_items WHERE customer_id = ? AND sku_id = ? AND quantity <= ?", customerID, skuID, n).Error; err != nil {
		return err
	}
	return w.Exec("UPDATE cart_items SET quantity = quantity - ? WHERE customer_id = ? AND sku_id = ? AND quantity > ?",
		n, customerID, skuID, n).Error
}

// lines returns the customer's lines, newest first.
func (s *Store) lines(ctx context.Context, customerID int64) ([]Line, error) {
	var rows []lineRow
	if err := s.db.Reader(ctx).Where("customer_id = ?", customerID).Order("id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Line, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// views reads the customer's lines, newest first, with the live facts of
// their SKUs in one statement: the cart list is read on every visit to the
// cart page, so it joins the catalog's skus and products tables read-only
// instead of asking the catalog in a second round trip. Columns are scanned
// by hand, without reflection. A line whose SKU row is gone reads as a
// deleted SKU.
func (s *Store) views(ctx context.Context, customerID int64) ([]View, error) {
	rows, err := s.db.Reader(ctx).Raw(`SELECT c.id, c.sku_id, c.quantity, c.selected, c.created_at, c.updated_at,
		s.id, s.product_id, s.sku_code, s.spec_text, s.price_fen, s.stock, s.image, s.deleted_at IS NOT NULL,
		p.title, p.images, p.on_shelf
		FROM cart_items c
		LEFT JOIN skus s ON s.id = c.sku_id
		LEFT JOIN products p ON p.id = s.product_id
		WHERE c.customer_id = ? ORDER BY c.id DESC`, customerID).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []View
	for rows.Next() {
		var v View
		var skuID, productID, price, stock sql.NullInt64
		var code, specText, image, title, images sql.NullString
		var deleted, onShelf sql.NullBool
		if err := rows.Scan(&v.ID, &v.SKUID, &v.Quantity, &v.Selected, &v.CreatedAt, &v.UpdatedAt,
			&skuID, &productID, &code, &specText, &price, &stock, &image, &deleted,
			&title, &images, &onShelf); err != nil {
			return nil, err
		}
		v.CustomerID = customerID
		if !skuID.Valid {
			v.Item = catalog.Item{SKUID: v.SKUID, Deleted: true}
		} else {
			v.Item = catalog.Item{SKUID: v.SKUID, ProductID: productID.Int64, Code: code.String, Title: title.String,
				Image: catalog.ItemImage(image.String, images.String), SpecText: specText.String,
				PriceFen: price.Int64, Stock: stock.Int64, OnShelf: onShelf.Bool, Deleted: deleted.Bool}
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
