package staff

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

// SystemActor is the audit actor of writes no staff member made (the
// bootstrap owner, demo data).
const SystemActor int64 = 0

// Service holds the rules of staff accounts: creation and changes by the
// owner, password login with lockout, and the role check behind every staff
// route. It implements auth.StaffChecker.
type Service struct {
	db     *db.DB
	store  *Store
	tokens *auth.Tokens
	audit  *audit.Log
	clock  clock.Clock
}

var _ auth.StaffChecker = (*Service)(nil)

// NewService returns the staff service.
func NewService(d *db.DB, store *Store, tokens *auth.Tokens, log *audit.Log, clk clock.Clock) (*Service, error) {
	if d == nil || store == nil || tokens == nil || log == nil || clk == nil {
		return nil, errNilDependency
	}
	return &Service{db: d, store: store, tokens: tokens, audit: log, clock: clk}, nil
}

// Session is the answer to a successful staff login.
type Session struct {
	AccessToken string
	ExpiresIn   time.Duration
	Account     Account
}

// CurrentRole returns the role of an enabled account; unknown and disabled
// accounts are unauthenticated, so a disabled account's token stops working
// at once.
func (s *Service) CurrentRole(ctx context.Context, staffID int64) (auth.Role, error) {
	st, err := s.store.ByID(ctx, staffID)
	if db.IsNotFound(err) {
		return "", apperr.Unauthenticated("staff account not found")
	}
	if err != nil {
		return "", apperr.Internal(err)
	}
	if st.Disabled {
		return "", apperr.Unauthenticated("staff account is disabled")
	}
	return st.Role, nil
}

// Login checks a username and password. Five wrong passwords in a row lock
// the account for 15 minutes; a locked or disabled account is refused even
// with the right password. Every refusal is unauthenticated.
func (s *Service) Login(ctx context.Context, username, password string) (Session, error) {
	username = NormalizeUsername(username)
	if username == "" || password == "" {
		var fields []string
		if username == "" {
			fields = append(fields, "username")
		}
		if password == "" {
			fields = append(fields, "password")
		}
		return Session{}, apperr.Invalid("username and password are required", fields...)
	}
	bad := apperr.Unauthenticated("wrong username or password")
	row, err := s.store.byUsername(ctx, username)
	if db.IsNotFound(err) {
		auth.PasswordMatches("", password)
		return Session{}, bad
	}
	if err != nil {
		return Session{}, apperr.Internal(err)
	}
	now := s.clock.Now()
	st := row.account()
	if st.LockedAt(now) {
		return Session{}, lockedError(*st.LockedUntil, now)
	}
	if !auth.PasswordMatches(row.PasswordHash, password) {
		locked, err := s.store.recordFailedLogin(ctx, st.ID, now)
		if err != nil {
			return Session{}, apperr.Internal(err)
		}
		if locked {
			return Session{}, lockedError(now.Add(LockDuration), now)
		}
		return Session{}, bad
	}
	if st.Disabled {
		return Session{}, apperr.Unauthenticated("this staff account is disabled")
	}
	ok, err := s.store.recordLogin(ctx, st.ID, now)
	if err != nil {
		return Session{}, apperr.Internal(err)
	}
	if !ok {
		return Session{}, bad
	}
	token, ttl, err := s.tokens.IssueStaff(st.ID, st.Role)
	if err != nil {
		return Session{}, apperr.Internal(err)
	}
	st.FailedLogins, st.LockedUntil, st.LastLoginAt = 0, nil, &now
	return Session{AccessToken: token, ExpiresIn: ttl, Account: st}, nil
}

func lockedError(until, now time.Time) error {
	secs := int64(until.Sub(now).Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return apperr.Unauthenticated("too many failed logins: this account is locked for a while").
		WithDetail("retry_after_seconds", secs)
}

// List returns a page of staff accounts.
func (s *Service) List(ctx context.Context, offset, limit int) ([]Account, int64, error) {
	items, total, err := s.store.List(ctx, offset, limit)
	if err != nil {
		return nil, 0, apperr.Internal(err)
	}
	return items, total, nil
}

// Get returns one staff account.
func (s *Service) Get(ctx context.Context, id int64) (Account, error) {
	st, err := s.store.ByID(ctx, id)
	if db.IsNotFound(err) {
		return Account{}, apperr.NotFound("staff account")
	}
	if err != nil {
		return Account{}, apperr.Internal(err)
	}
	return st, nil
}

// Create makes a staff account on behalf of actorID (SystemActor for
// bootstrap and demo data) and records it in the audit log, in one
// transaction. A taken username is a conflict.
func (s *Service) Create(ctx context.Context, actorID int64, n NewAccount) (Account, error) {
	if err := n.Validate(); err != nil {
		return Account{}, err
	}
	hash, err := auth.HashPassword(n.Password)
	if err != nil {
		return Account{}, err
	}
	var st Account
	err = s.db.Tx(ctx, func(ctx context.Context) error {
		var err error
		st, err = s.store.Insert(ctx, n.Username, hash, n.Role, n.Disabled, s.clock.Now())
		if err != nil {
			return err
		}
		return s.record(ctx, actorID, "staff.create", st.ID, map[string]any{
			"username": st.Username, "role": st.Role, "disabled": st.Disabled,
		})
	})
	if db.IsDuplicate(err) {
		return Account{}, apperr.Conflict("username %q is taken", n.Username).WithDetail("fields", []string{"username"})
	}
	if err != nil {
		return Account{}, apperr.Internal(err)
	}
	return st, nil
}

// Update changes an account on behalf of actorID and records the change
// (never the password) in the audit log, in one transaction. Owners cannot
// demote or disable themselves, and the last enabled owner stays one, so the
// shop always has someone who can manage staff. A new password also clears a
// lockout.
func (s *Service) Update(ctx context.Context, actorID, id int64, c Change) (Account, error) {
	if err := c.Validate(); err != nil {
		return Account{}, err
	}
	var hash string
	if c.Password != nil {
		var err error
		if hash, err = auth.HashPassword(*c.Password); err != nil {
			return Account{}, err
		}
	}
	var st Account
	err := s.db.Tx(ctx, func(ctx context.Context) error {
		cur, err := s.store.ByID(ctx, id)
		if db.IsNotFound(err) {
			return apperr.NotFound("staff account")
		}
		if err != nil {
			return err
		}
		demotes := c.Role != nil && *c.Role != auth.RoleOwner || c.Disabled != nil && *c.Disabled
		if demotes && cur.Role == auth.RoleOwner && !cur.Disabled {
			if id == actorID {
				return apperr.InvalidState(string(cur.Role), "you cannot demote or disable your own owner account")
			}
			others, err := s.store.countActiveOwners(ctx, id)
			if err != nil {
				return err
			}
			if others == 0 {
				return apperr.InvalidState(string(cur.Role), "the last enabled owner cannot be demoted or disabled")
			}
		}
		now := s.clock.Now()
		set := map[string]any{"updated_at": now}
		detail := map[string]any{}
		if c.Username != nil && *c.Username != cur.Username {
			set["username"] = *c.Username
			detail["username"] = *c.Username
		}
		if c.Role != nil && *c.Role != cur.Role {
			set["role"] = string(*c.Role)
			detail["role"] = *c.Role
		}
		if c.Disabled != nil && *c.Disabled != cur.Disabled {
			set["disabled"] = *c.Disabled
			detail["disabled"] = *c.Disabled
		}
		if c.Password != nil {
			set["password_hash"] = hash
			set["failed_logins"] = 0
			set["locked_until"] = nil
			detail["password"] = "changed"
		}
		if _, err := s.store.update(ctx, id, set); err != nil {
			return err
		}
		if err := s.record(ctx, actorID, "staff.update", id, detail); err != nil {
			return err
		}
		st, err = s.store.ByID(ctx, id)
		return err
	})
	switch {
	case db.IsDuplicate(err):
		return Account{}, apperr.Conflict("username %q is taken", *c.Username).WithDetail("fields", []string{"username"})
	case err == nil:
		return st, nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return Account{}, ae
	}
	return Account{}, apperr.Internal(err)
}

// Bootstrap creates the first owner when there is no staff account at all,
// and reports whether it did. It runs at start-up from configuration and in
// demo seeding.
func (s *Service) Bootstrap(ctx context.Context, username, password string) (bool, error) {
	n, err := s.store.Count(ctx)
	if err != nil {
		return false, apperr.Internal(err)
	}
	if n > 0 {
		return false, nil
	}
	_, err = s.Create(ctx, SystemActor, NewAccount{Username: username, Password: password, Role: auth.RoleOwner})
	if apperr.Is(err, apperr.CodeConflict) {
		// Another instance bootstrapped the same owner at the same moment.
		return false, nil
	}
	return err == nil, err
}

func (s *Service) record(ctx context.Context, actorID int64, action string, staffID int64, detail map[string]any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	return s.audit.Record(ctx, audit.Entry{
		StaffID: actorID, Action: action, TargetType: "staff",
		TargetID: strconv.FormatInt(staffID, 10), Detail: string(b),
	})
}
