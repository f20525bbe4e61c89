package address

import (
	"context"
	"errors"
	"time"

	"github.com/minimall/minimall/internal/platform/db"
)

// Store reads and writes addresses; writes join the transaction
// carried by the context. The default address is the one whose default_for
// column holds the customer id; a unique index allows one per customer.
type Store struct {
	db *db.DB
}

// NewStore returns a store on d.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("address: nil database")
	}
	return &Store{db: d}, nil
}

type addressRow struct {
	ID         int64     `gorm:"column:id;primaryKey"`
	CustomerID int64     `gorm:"column:customer_id"`
	Name       string    `gorm:"column:name"`
	Phone      string    `gorm:"column:phone"`
	Province   string    `gorm:"column:province"`
	City       string    `gorm:"column:city"`
	District   string    `gorm:"column:district"`
	Detail     string    `gorm:"column:detail"`
	DefaultFor *int64    `gorm:"column:default_for"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	UpdatedAt  time.Time `gorm:"column:updated_at"`
}

func (addressRow) TableName() string { return "addresses" }

func (r addressRow) address() Address {
	return Address{ID: r.ID, CustomerID: r.CustomerID, Name: r.Name, Phone: r.Phone, Province: r.Province,
		City: r.City, District: r.District, Detail: r.Detail, IsDefault: r.DefaultFor != nil,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// lockCustomer takes the row locks of the customer's addresses until commit.
func (s *Store) lockCustomer(ctx context.Context, customerID int64) error {
	return s.db.Writer(ctx).Exec("UPDATE addresses SET updated_at = updated_at WHERE customer_id = ?", customerID).Error
}

func (s *Store) count(ctx context.Context, customerID int64) (int64, error) {
	var n int64
	err := s.db.Reader(ctx).Model(&addressRow{}).Where("customer_id = ?", customerID).Count(&n).Error
	return n, err
}

func (s *Store) clearDefault(ctx context.Context, customerID int64, now time.Time) error {
	return s.db.Writer(ctx).Exec("UPDATE addresses SET default_for = NULL, updated_at = ? WHERE default_for = ?", now, customerID).Error
}

func (s *Store) insert(ctx context.Context, a *Address) error {
	r := addressRow{CustomerID: a.CustomerID, Name: a.Name, Phone: a.Phone, Province: a.Province, City: a.City,
		District: a.District, Detail: a.Detail, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if a.IsDefault {
		r.DefaultFor = &a.CustomerID
	}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return err
	}
	a.ID = r.ID
	return nil
}

func (s *Store) update(ctx context.Context, a Address) (bool, error) {
	var def *int64
	if a.IsDefault {
		def = &a.CustomerID
	}
	res := s.db.Writer(ctx).Exec(`UPDATE addresses SET name = ?, phone = ?, province = ?, city = ?, district = ?,
		detail = ?, default_for = ?, updated_at = ? WHERE id = ? AND customer_id = ?`,
		a.Name, a.Phone, a.Province, a.City, a.District, a.Detail, def, a.UpdatedAt, a.ID, a.CustomerID)
	return res.RowsAffected == 1, res.Error
}

func (s *Store) delete(ctx context.Context, customerID, id int64) (bool, error) {
	res := s.db.Writer(ctx).Exec("DELETE FROM addresses WHERE id = ? AND customer_id = ?", id, customerID)
	return res.RowsAffected == 1, res.Error
}

// promoteNewest makes the customer's newest address the default.
func (s *Store) promoteNewest(ctx context.Context, customerID int64, now time.Time) error {
	var ids []int64
	if err := s.db.Reader(ctx).Model(&addressRow{}).Where("customer_id = ?", customerID).
		Order("id DESC").Limit(1).Pluck("id", &ids).Error; err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	return s.db.Writer(ctx).Exec("UPDATE addresses SET default_for = ?, updated_at = ? WHERE id = ? AND customer_id = ?",
		customerID, now, ids[0], customerID).Error
}

func (s *Store) get(ctx context.Context, customerID, id int64) (Address, bool, error) {
	var rows []addressRow
	if err := s.db.Reader(ctx).Where("id = ? AND customer_id = ?", id, customerID).Limit(1).Find(&rows).Error; err != nil {
		return Address{}, false, err
	}
	if len(rows) == 0 {
		return Address{}, false, nil
	}
	return rows[0].address(), true, nil
}

// list returns the default first, then the newest first.
func (s *Store) list(ctx context.Context, customerID int64) ([]Address, error) {
	var rows []addressRow
	if err := s.db.Reader(ctx).Where("customer_id = ?", customerID).
		Order("CASE WHEN default_for IS NULL THEN 1 ELSE 0 END, id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Address, len(rows))
	for i, r := range rows {
		out[i] = r.address()
	}
	return out, nil
}
