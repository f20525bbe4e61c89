package customer

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/platform/db"
)

// Store reads and writes customers and their identities. It joins the
// transaction carried by the context.
type Store struct {
	db *db.DB
}

// NewStore returns a store on d.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("customer: nil database")
	}
	return &Store{db: d}, nil
}

var errNilDependency = errors.New("customer: nil dependency")

type customerRow struct {
	ID        int64
	Nickname  string
	AvatarURL string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (customerRow) TableName() string { return "customers" }

type identityRow struct {
	ID          int64
	CustomerID  int64
	Channel     string
	AppID       string
	SubjectKind string
	Subject     string
	UnionID     string
	CreatedAt   time.Time
	LastLoginAt time.Time
}

func (identityRow) TableName() string { return "customer_identities" }

func (r identityRow) identity() Identity {
	return Identity{
		ID: r.ID, CustomerID: r.CustomerID, Channel: r.Channel, AppID: r.AppID, SubjectKind: r.SubjectKind,
		Subject: r.Subject, UnionID: r.UnionID, CreatedAt: r.CreatedAt.UTC(), LastLoginAt: r.LastLoginAt.UTC(),
	}
}

// ByID returns one customer; db.IsNotFound reports an unknown id.
func (s *Store) ByID(ctx context.Context, id int64) (Profile, error) {
	var r customerRow
	if err := s.db.Reader(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Profile{}, err
	}
	return Profile{ID: r.ID, Nickname: r.Nickname, AvatarURL: r.AvatarURL, CreatedAt: r.CreatedAt.UTC()}, nil
}

// Insert creates a customer and returns its id.
func (s *Store) Insert(ctx context.Context, now time.Time) (int64, error) {
	r := customerRow{CreatedAt: now, UpdatedAt: now}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return 0, err
	}
	return r.ID, nil
}

// IdentityBySubject finds the identity of a platform account in one app;
// db.IsNotFound reports none.
func (s *Store) IdentityBySubject(ctx context.Context, channel, appID, subject string) (Identity, error) {
	var r identityRow
	err := s.db.Reader(ctx).Where("channel = ? AND app_id = ? AND subject = ?", channel, appID, subject).Take(&r).Error
	return r.identity(), err
}

// Identities returns a customer's identities on a channel, newest login
// first. Payments use it to find the payer's openid or Alipay id.
func (s *Store) Identities(ctx context.Context, customerID int64, channel string) ([]Identity, error) {
	var rows []identityRow
	if err := s.db.Reader(ctx).Where("customer_id = ? AND channel = ?", customerID, channel).
		Order("last_login_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Identity, len(rows))
	for i, r := range rows {
		out[i] = r.identity()
	}
	return out, nil
}

// customerIDByUnion returns the customer that already holds an identity with
// this unionid on the channel, or 0.
func (s *Store) customerIDByUnion(ctx context.Context, channel, unionID string) (int64, error) {
	var rows []identityRow
	if err := s.db.Reader(ctx).Select("customer_id").Where("channel = ? AND union_id = ?", channel, unionID).
		Order("id").Limit(1).Find(&rows).Error; err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, nil
	}
	return rows[0].CustomerID, nil
}

// insertIdentity stores a new identity; db.IsDuplicate reports that a
// concurrent first login of the same account won.
func (s *Store) insertIdentity(ctx context.Context, id Identity) (Identity, error) {
	r := identityRow{
		CustomerID: id.CustomerID, Channel: id.Channel, AppID: id.AppID, SubjectKind: id.SubjectKind,
		Subject: id.Subject, UnionID: id.UnionID, CreatedAt: id.CreatedAt, LastLoginAt: id.LastLoginAt,
	}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return Identity{}, err
	}
	return r.identity(), nil
}

// touchIdentity records a login, and the unionid if the identity had none.
func (s *Store) touchIdentity(ctx context.Context, id int64, unionID string, now time.Time) error {
	return s.db.Writer(ctx).Exec(`UPDATE customer_identities SET last_login_at = ?,
		union_id = CASE WHEN union_id = '' THEN ? ELSE union_id END WHERE id = ?`, now, unionID, id).Error
}

// updateProfile writes the given profile columns of one customer; a
// missing customer is db's not-found error.
func (s *Store) updateProfile(ctx context.Context, id int64, cols map[string]any) error {
	res := s.db.Writer(ctx).Model(&customerRow{}).Where("id = ?", id).Updates(cols)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return gorm.ErrRecordNotFound
	}
	return nil
}
