// Package staff owns the merchant's staff accounts: their roles, password
// login with lockout, and account management by owners.
package staff

import (
	"strings"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
)

// Login throttling rules. Failures are counted per username and client
// address together: from the MaxFailedLogins-th wrong password in a row, that
// address is locked out of that username for FirstLock, doubling with each
// further failure up to LockDuration. Other addresses are not affected, so
// anonymous guessing cannot lock the owner out of the shop; unknown usernames
// are counted and answered exactly like existing ones, so the answers do not
// tell which usernames exist. A count is forgotten after FailureMemory
// without failures, and on a successful login.
const (
	MaxFailedLogins = 5
	FirstLock       = time.Minute
	LockDuration    = 15 * time.Minute
	FailureMemory   = 24 * time.Hour
)

// LockFor returns how long an address is locked out of a username after its
// n-th wrong password in a row.
func LockFor(n int64) time.Duration {
	if n < MaxFailedLogins {
		return 0
	}
	d := FirstLock << min(n-MaxFailedLogins, 10)
	return min(d, LockDuration)
}

// CheckCacheTTL bounds how long a staff token check may use an account's
// role, status and token version read earlier: a password change, a disabled
// account or a role change on another instance takes effect within it (at
// once on the instance that made the change).
const CheckCacheTTL = 2 * time.Second

// Account is a merchant staff account. The password hash never leaves the
// package.
type Account struct {
	ID           int64
	Username     string
	Role         auth.Role
	Disabled     bool
	TokenVersion int64
	FailedLogins int
	LockedUntil  *time.Time
	LastLoginAt  *time.Time
	// TOTPEnabled: the account logs in with a second factor.
	TOTPEnabled bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// LockedAt reports whether the account refuses logins at now.
func (s Account) LockedAt(now time.Time) bool {
	return s.LockedUntil != nil && s.LockedUntil.After(now)
}

// NewAccount is what creating a staff account needs.
type NewAccount struct {
	Username string
	Password string
	Role     auth.Role
	Disabled bool
}

// Change is a partial update of a staff account; nil fields stay as
// they are.
type Change struct {
	Username *string
	Password *string
	Role     *auth.Role
	Disabled *bool
}

// NormalizeUsername trims and lower-cases a username, so that "Owner" and
// "owner" are one account on every database collation.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// checkUsername enforces 3-32 characters of [a-z0-9._-], starting with a
// letter or digit.
func checkUsername(u string) error {
	if len(u) < 3 || len(u) > 32 {
		return apperr.Invalid("username must be 3 to 32 characters", "username")
	}
	for i, r := range u {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && (r == '.' || r == '_' || r == '-')
		if !ok {
			return apperr.Invalid("username may hold only a-z, 0-9, '.', '_' and '-', and must start with a letter or digit", "username")
		}
	}
	return nil
}

func checkRole(r auth.Role) error {
	if !r.Valid() {
		return apperr.Invalid("role must be one of owner, operator, customer_service, warehouse", "role")
	}
	return nil
}

// Validate checks a new account and normalises its username.
func (n *NewAccount) Validate() error {
	n.Username = NormalizeUsername(n.Username)
	if err := checkUsername(n.Username); err != nil {
		return err
	}
	if err := auth.CheckPasswordRules(n.Password); err != nil {
		return err
	}
	return checkRole(n.Role)
}

// Validate checks a change and normalises its username.
func (c *Change) Validate() error {
	if c.Username == nil && c.Password == nil && c.Role == nil && c.Disabled == nil {
		return apperr.Invalid("nothing to change: send username, password, role or disabled")
	}
	if c.Username != nil {
		u := NormalizeUsername(*c.Username)
		c.Username = &u
		if err := checkUsername(u); err != nil {
			return err
		}
	}
	if c.Password != nil {
		if err := auth.CheckPasswordRules(*c.Password); err != nil {
			return err
		}
	}
	if c.Role != nil {
		if err := checkRole(*c.Role); err != nil {
			return err
		}
	}
	return nil
}
