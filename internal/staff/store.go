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
	TokenVersion int64
	FailedLogins int
	LockedUntil  *time.Time
	LastLoginAt  *time.Time
	// TOTPEnabledAt is set while the account's second factor is on.
	TOTPEnabledAt *time.Time `gorm:"column:totp_enabled_at"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (staffRow) TableName() string { return "staff" }

// failureRow counts wrong passwords for one username from one address.
type failureRow struct {
	Username    string     `gorm:"column:username;primaryKey"`
	ClientIP    string     `gorm:"column:client_ip;primaryKey"`
	Failures    int64      `gorm:"column:failures"`
	LockedUntil *time.Time `gorm:"column:locked_until"`
	UpdatedAt   time.Time  `gorm:"column:updated_at"`
}

func (failureRow) TableName() string { return "staff_login_failures" }

// lockedUntil returns when the address's lock on the username ends (zero
// when there is none).
func (s *Store) lockedUntil(ctx context.Context, username, ip string) (time.Time, error) {
	var rows []failureRow
	err := s.db.Reader(ctx).Where("username = ? AND client_ip = ?", username, ip).Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 || rows[0].LockedUntil == nil {
		return time.Time{}, err
	}
	return rows[0].LockedUntil.UTC(), nil
}

// recordFailure counts one wrong password for the username from the address
// (starting again after FailureMemory without failures) and sets the lock
// LockFor gives the new count. It returns when the lock ends.
func (s *Store) recordFailure(ctx context.Context, username, ip string, now time.Time) (time.Time, error) {
	var until time.Time
	err := s.db.TxRetry(ctx, func(ctx context.Context) error {
		w := s.db.Writer(ctx)
		bump := func() (int64, error) {
			res := w.Exec(`UPDATE staff_login_failures
				SET failures = CASE WHEN updated_at < ? THEN 1 ELSE failures + 1 END, updated_at = ?
				WHERE username = ? AND client_ip = ?`, now.Add(-FailureMemory), now, username, ip)
			return res.RowsAffected, res.Error
		}
		n, err := bump()
		if err != nil {
			return err
		}
		if n == 0 {
			err := w.Create(&failureRow{Username: username, ClientIP: ip, Failures: 1, UpdatedAt: now}).Error
			if db.IsDuplicate(err) {
				// A concurrent first failure inserted the row: count on it.
				_, err = bump()
			}
			if err != nil {
				return err
			}
		}
		var r failureRow
		if err := w.Where("username = ? AND client_ip = ?", username, ip).Take(&r).Error; err != nil {
			return err
		}
		until = now.Add(LockFor(r.Failures))
		var lock *time.Time
		if until.After(now) {
			lock = &until
		}
		return w.Model(&failureRow{}).Where("username = ? AND client_ip = ?", username, ip).
			Update("locked_until", lock).Error
	})
	return until, err
}

// clearFailures forgets the failures of the username from the address.
func (s *Store) clearFailures(ctx context.Context, username, ip string) error {
	return s.db.Writer(ctx).Where("username = ? AND client_ip = ?", username, ip).Delete(&failureRow{}).Error
}

// clearUsernameFailures forgets the failures of the username from every
// address (its password changed).
func (s *Store) clearUsernameFailures(ctx context.Context, username string) error {
	return s.db.Writer(ctx).Where("username = ?", username).Delete(&failureRow{}).Error
}

// PruneFailures deletes up to limit failure counts older than FailureMemory
// whose lock has ended, and returns how many it deleted.
func (s *Store) PruneFailures(ctx context.Context, now time.Time, limit int) (int, error) {
	var keys []failureRow
	if err := s.db.Reader(ctx).Select("username", "client_ip").
		Where("updated_at < ? AND (locked_until IS NULL OR locked_until < ?)", now.Add(-FailureMemory), now).
		Limit(limit).Find(&keys).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		res := s.db.Writer(ctx).Where("username = ? AND client_ip = ? AND updated_at < ?", k.Username, k.ClientIP, now.Add(-FailureMemory)).
			Delete(&failureRow{})
		if res.Error != nil {
			return n, res.Error
		}
		n += int(res.RowsAffected)
	}
	return n, nil
}

func (r staffRow) account() Account {
	return Account{
		ID: r.ID, Username: r.Username, Role: auth.Role(r.Role), Disabled: r.Disabled, TokenVersion: r.TokenVersion,
		FailedLogins: r.FailedLogins, LockedUntil: utcPtr(r.LockedUntil), LastLoginAt: utcPtr(r.LastLoginAt),
		TOTPEnabled: r.TOTPEnabledAt != nil,
		CreatedAt:   r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
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

// row returns an account with its password hash, read on the primary.
func (s *Store) row(ctx context.Context, id int64) (staffRow, error) {
	var r staffRow
	err := s.db.Writer(ctx).Where("id = ?", id).Take(&r).Error
	return r, err
}

// byUsername returns an account with its password hash.
func (s *Store) byUsername(ctx context.Context, username string) (staffRow, error) {
	var r staffRow
	err := s.db.Reader(ctx).Where("username = ?", username).Take(&r).Error
	return r, err
}

// List returns a page of accounts ordered by id, and the total.
func (s *Store) List(ctx context.Context, offset, limit int) ([]Account, int64, error) {
	rows, total, err := db.Page[staffRow](s.db.Reader(ctx).Model(&staffRow{}), "id", offset, limit)
	if err != nil {
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

// recordLogin stamps the login of an enabled account whose password
// matched; false means it was disabled meanwhile.
func (s *Store) recordLogin(ctx context.Context, id int64, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE staff SET last_login_at = ? WHERE id = ? AND disabled = ?`, now, id, false)
	return res.RowsAffected == 1, res.Error
}

// locks returns, per username, the latest lock still running at now from
// any address.
func (s *Store) locks(ctx context.Context, usernames []string, now time.Time) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(usernames) == 0 {
		return out, nil
	}
	var rows []failureRow
	if err := s.db.Reader(ctx).Select("username", "locked_until").
		Where("username IN ? AND locked_until > ?", usernames, now).Find(&rows).Error; err != nil {
		return nil, err
	}
	for _, r := range rows {
		if t := r.LockedUntil.UTC(); t.After(out[r.Username]) {
			out[r.Username] = t
		}
	}
	return out, nil
}

var errNilDependency = errors.New("staff: nil dependency")
