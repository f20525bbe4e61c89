package staff

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm/clause"

	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/db"
)

// Store reads and writes staff accounts. It joins the transaction carried by the context.
type Store struct {
	db *db.DB
}

// NewStore returns a store on d.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("staff: nil database")
	}
	return &Store{db: d}, nil
}

type staffRow struct {
	ID           int64
	Username     string
	PasswordHash string
	Role         string
	Disabled     bool
	FailedLogins int
	LockedUntil  *time.Time
	LastLoginAt  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (staffRow) TableName() string { return "staff" }

func (r staffRow) account() Account {
	return Account{
		ID: r.ID, Username: r.Username, Role: auth.Role(r.Role), Disabled: r.Disabled,
		FailedLogins: r.FailedLogins, LockedUntil: utcPtr(r.LockedUntil), LastLoginAt: utcPtr(r.LastLoginAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Insert inserts an account with an already hashed password and returns
// it; a taken username is reported by db.IsDuplicate on the error.
func (s *Store) Insert(ctx context.Context, username, passwordHash string, role auth.Role, disabled bool, now time.Time) (Account, error) {
	r := staffRow{
		Username: username, PasswordHash: passwordHash, Role: string(role), Disabled: disabled,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return Account{}, err
	}
	return r.account(), nil
}

// ByID returns one account; db.IsNotFound reports an unknown id.
func (s *Store) ByID(ctx context.Context, id int64) (Account, error) {
	var r staffRow
	if err := s.db.Reader(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Account{}, err
	}
	return r.account(), nil
}

// byUsername returns an account with its password hash.
func (s *Store) byUsername(ctx context.Context, username string) (staffRow, error) {
	var r staffRow
	err := s.db.Reader(ctx).Where("username = ?", username).Take(&r).Error
	return r, err
}

// List returns a page of accounts ordered by id, and the total.
func (s *Store) List(ctx context.Context, offset, limit int) ([]Account, int64, error) {
	var total int64
	q := s.db.Reader(ctx).Model(&staffRow{})
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var rows []staffRow
	if err := s.db.Reader(ctx).Order("id").Offset(offset).Limit(limit).Find(&rows).Error; err != nil {
		return nil, 0, err
	}
	out := make([]Account, len(rows))
	for i, r := range rows {
		out[i] = r.account()
	}
	return out, total, nil
}

// Count returns the number of accounts.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.Reader(ctx).Model(&staffRow{}).Count(&n).Error
	return n, err
}

// countActiveOwners returns the enabled owners other than exceptID.
//
// It locks the enabled owners' rows on MySQL (SELECT ... FOR UPDATE), so two
// owners demoting each other at the same moment cannot both see the other
// still enabled; SQLite needs no lock, since its IMMEDIATE transactions
// already run one writer at a time.
func (s *Store) countActiveOwners(ctx context.Context, exceptID int64) (int64, error) {
	q := s.db.Writer(ctx).Model(&staffRow{}).Where("role = ? AND disabled = ?", string(auth.RoleOwner), false)
	if s.db.Dialect() == db.MySQL {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var ids []int64
	if err := q.Order("id").Pluck("id", &ids).Error; err != nil {
		return 0, err
	}
	var n int64
	for _, id := range ids {
		if id != exceptID {
			n++
		}
	}
	return n, nil
}

// update applies set to one account and reports whether it exists.
func (s *Store) update(ctx context.Context, id int64, set map[string]any) (bool, error) {
	res := s.db.Writer(ctx).Model(&staffRow{}).Where("id = ?", id).Updates(set)
	return res.RowsAffected == 1, res.Error
}

// recordFailedLogin counts one wrong password on an account that is not
// locked at now, and locks it once the count reaches MaxFailedLogins (the
// count then starts again for the next lock). Both assignments read only the
// old failed_logins, so MySQL's left-to-right SET and SQLite's agree.
func (s *Store) recordFailedLogin(ctx context.Context, id int64, now time.Time) (locked bool, err error) {
	res := s.db.Writer(ctx).Exec(`UPDATE staff SET
		locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END,
		failed_logins = CASE WHEN failed_logins + 1 >= ? THEN 0 ELSE failed_logins + 1 END,
		updated_at = ?
		WHERE id = ? AND (locked_until IS NULL OR locked_until <= ?)`,
		MaxFailedLogins, now.Add(LockDuration), MaxFailedLogins, now, id, now)
	if res.Error != nil {
		return false, res.Error
	}
	var r staffRow
	if err := s.db.Writer(ctx).Select("locked_until").Where("id = ?", id).Take(&r).Error; err != nil {
		return false, err
	}
	return r.LockedUntil != nil && r.LockedUntil.After(now), nil
}

// recordLogin clears the failure count of an enabled, unlocked account whose
// password matched; false means it was disabled or locked meanwhile.
func (s *Store) recordLogin(ctx context.Context, id int64, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE staff SET failed_logins = 0, locked_until = NULL, last_login_at = ?
		WHERE id = ? AND disabled = ? AND (locked_until IS NULL OR locked_until <= ?)`, now, id, false, now)
	return res.RowsAffected == 1, res.Error
}

var errNilDependency = errors.New("staff: nil dependency")
