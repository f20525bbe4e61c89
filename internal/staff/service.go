package staff

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"gorm.io/gorm"

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
	db        *db.DB
	store     *Store
	passwords *auth.Passwords
	tokens    *auth.Tokens
	audit     *audit.Log
	clock     clock.Clock
	// sealer seals and opens second-factor secrets (seal.go).
	sealer *Sealer

	// checks caches what CurrentRole read, for at most CheckCacheTTL.
	mu     sync.Mutex
	checks map[int64]check
}

// check is what a staff token check needs of an account.
type check struct {
	role     auth.Role
	version  int64
	disabled bool
	read     time.Time
}

var _ auth.StaffChecker = (*Service)(nil)

// NewService returns the staff service; passwords holds the bcrypt cost of
// new hashes, sealer the key of second-factor secrets (TOTPSealer).
func NewService(d *db.DB, store *Store, passwords *auth.Passwords, tokens *auth.Tokens, log *audit.Log, clk clock.Clock,
	sealer *Sealer) (*Service, error) {
	if d == nil || store == nil || passwords == nil || tokens == nil || log == nil || clk == nil || sealer == nil {
		return nil, errNilDependency
	}
	return &Service{db: d, store: store, passwords: passwords, tokens: tokens, audit: log, clock: clk, sealer: sealer,
		checks: map[int64]check{}}, nil
}

// Session is the answer to a successful staff login.
type Session struct {
	AccessToken string
	ExpiresIn   time.Duration
	Account     Account
	// EnrolOnly: the shop requires a second factor and the account has
	// none; AccessToken only admits the enrolment routes.
	EnrolOnly bool
	// RecoveryCodesLeft is set when a recovery code was used to log in.
	RecoveryCodesLeft *int64
}

// CurrentRole returns the role of an enabled account for a token of the
// given version. Unknown and disabled accounts, and tokens older than the
// account's token version (issued before a password change or before the
// account was disabled), are unauthenticated. What it reads is reused for at
// most CheckCacheTTL; a change made through this service clears it at once.
func (s *Service) CurrentRole(ctx context.Context, staffID, tokenVersion int64) (auth.Role, error) {
	now := s.clock.Now()
	s.mu.Lock()
	c, ok := s.checks[staffID]
	s.mu.Unlock()
	if !ok || now.Sub(c.read) >= CheckCacheTTL || now.Before(c.read) {
		st, err := s.store.ByID(ctx, staffID)
		if db.IsNotFound(err) {
			return "", apperr.Unauthenticated("staff account not found")
		}
		if err != nil {
			return "", apperr.Internal(err)
		}
		c = check{role: st.Role, version: st.TokenVersion, disabled: st.Disabled, read: now}
		s.mu.Lock()
		if len(s.checks) > 10_000 {
			clear(s.checks)
		}
		s.checks[staffID] = c
		s.mu.Unlock()
	}
	switch {
	case c.disabled:
		return "", apperr.Unauthenticated("staff account is disabled")
	case tokenVersion != c.version:
		return "", apperr.Unauthenticated("this token was revoked: log in again")
	}
	return c.role, nil
}

// forget drops the cached check of an account this service just changed.
func (s *Service) forget(staffID int64) {
	s.mu.Lock()
	delete(s.checks, staffID)
	s.mu.Unlock()
}

// LoginInput is a staff login attempt and the client address it came from
// (gin's ClientIP, which believes X-Forwarded-For only from trusted proxies).
type LoginInput struct {
	Username string
	Password string
	ClientIP string
	// TOTPCode or RecoveryCode is the second factor, for accounts that
	// have one.
	TOTPCode     string
	RecoveryCode string
}

// Login checks a username and password. Wrong passwords are counted per
// username and client address; from the fifth in a row that address is
// locked out of that username for a while (LockFor), even with the right
// password, while other addresses are not. Unknown usernames are counted and
// answered exactly like existing ones. Every refusal is unauthenticated.
func (s *Service) Login(ctx context.Context, in LoginInput) (Session, error) {
	username, password := NormalizeUsername(in.Username), in.Password
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
	if len(username) > 64 {
		// Longer than any username can be; not worth a failure row.
		s.passwords.Matches("", password)
		return Session{}, apperr.Unauthenticated("wrong username or password")
	}
	now := s.clock.Now()
	until, err := s.store.lockedUntil(ctx, username, in.ClientIP)
	if err != nil {
		return Session{}, apperr.Internal(err)
	}
	if until.After(now) {
		return Session{}, lockedError(until, now)
	}
	row, err := s.store.byUsername(ctx, username)
	found := err == nil
	if err != nil && !db.IsNotFound(err) {
		return Session{}, apperr.Internal(err)
	}
	// An unknown username costs the same bcrypt comparison as a known one.
	hash := ""
	if found {
		hash = row.PasswordHash
	}
	fail := func(msg string) (Session, error) {
		until, err := s.store.recordFailure(ctx, username, in.ClientIP, now)
		if err != nil {
			return Session{}, apperr.Internal(err)
		}
		if until.After(now) {
			return Session{}, lockedError(until, now)
		}
		return Session{}, apperr.Unauthenticated(msg)
	}
	if !s.passwords.Matches(hash, password) || !found {
		return fail("wrong username or password")
	}
	st := row.account()
	if st.Disabled {
		return Session{}, apperr.Unauthenticated("this staff account is disabled")
	}
	second, err := s.secondFactor(ctx, st.ID, in, now)
	if err != nil {
		return Session{}, apperr.Internal(err)
	}
	switch second.verdict {
	case factorMissing:
		return Session{}, apperr.New(apperr.CodeTOTPRequired,
			"two-factor login is on for this account: send totp_code (or a recovery_code) with the password")
	case factorWrong:
		return fail("wrong two-factor code")
	}
	if err := s.store.clearFailures(ctx, username, in.ClientIP); err != nil {
		return Session{}, apperr.Internal(err)
	}
	ok, err := s.store.recordLogin(ctx, st.ID, now)
	if err != nil {
		return Session{}, apperr.Internal(err)
	}
	if !ok {
		return Session{}, apperr.Unauthenticated("this staff account is disabled")
	}
	issue := s.tokens.IssueStaff
	if second.verdict == factorToEnrol {
		issue = s.tokens.IssueStaffEnrolment
	}
	token, ttl, err := issue(st.ID, st.Role, st.TokenVersion)
	if err != nil {
		return Session{}, apperr.Internal(err)
	}
	st.LastLoginAt = &now
	return Session{AccessToken: token, ExpiresIn: ttl, Account: st, EnrolOnly: second.verdict == factorToEnrol,
		RecoveryCodesLeft: second.recoveryLeft}, nil
}

func lockedError(until, now time.Time) error {
	return apperr.Unauthenticated("too many failed logins: try again later").
		WithDetail("retry_after_seconds", retryAfterSeconds(until, now))
}

// retryAfterSeconds is how long a lock ending at until still holds, in whole
// seconds, at least 1.
func retryAfterSeconds(until, now time.Time) int64 {
	return max(1, int64(until.Sub(now).Round(time.Second)/time.Second))
}

// List returns a page of staff accounts.
func (s *Service) List(ctx context.Context, offset, limit int) ([]Account, int64, error) {
	items, total, err := s.store.List(ctx, offset, limit)
	if err != nil {
		return nil, 0, apperr.Internal(err)
	}
	if err := s.withLocks(ctx, items); err != nil {
		return nil, 0, apperr.Internal(err)
	}
	return items, total, nil
}

// withLocks sets each account's LockedUntil: the latest lock of its
// username from any address that is still running.
func (s *Service) withLocks(ctx context.Context, items []Account) error {
	names := make([]string, len(items))
	for i, a := range items {
		names[i] = a.Username
	}
	locks, err := s.store.locks(ctx, names, s.clock.Now())
	if err != nil {
		return err
	}
	for i := range items {
		items[i].LockedUntil = nil
		if t, ok := locks[items[i].Username]; ok {
			items[i].LockedUntil = &t
		}
	}
	return nil
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
	one := []Account{st}
	if err := s.withLocks(ctx, one); err != nil {
		return Account{}, apperr.Internal(err)
	}
	return one[0], nil
}

// Create makes a staff account on behalf of actorID (SystemActor for
// bootstrap and demo data) and records it in the audit log, in one
// transaction. A taken username is a conflict.
func (s *Service) Create(ctx context.Context, actorID int64, n NewAccount) (Account, error) {
	if err := n.Validate(); err != nil {
		return Account{}, err
	}
	hash, err := s.passwords.Hash(n.Password)
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
		if hash, err = s.passwords.Hash(*c.Password); err != nil {
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
			detail["password"] = "changed"
			if err := s.store.clearUsernameFailures(ctx, cur.Username); err != nil {
				return err
			}
		}
		// A new password or a disabled account revokes every token issued
		// before: the token version goes up.
		if c.Password != nil || c.Disabled != nil && *c.Disabled && !cur.Disabled {
			set["token_version"] = gorm.Expr("token_version + 1")
			detail["tokens"] = "revoked"
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
	s.forget(id)
	switch {
	case db.IsDuplicate(err):
		return Account{}, apperr.Conflict("username %q is taken", *c.Username).WithDetail("fields", []string{"username"})
	case err != nil:
		return Account{}, apperr.From(err)
	}
	return st, nil
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

// PruneLoginFailures is a job step: it deletes up to limit failure counts
// that are older than FailureMemory and no longer lock anyone out.
func (s *Service) PruneLoginFailures(ctx context.Context, limit int) (int, error) {
	return s.store.PruneFailures(ctx, s.clock.Now(), limit)
}
