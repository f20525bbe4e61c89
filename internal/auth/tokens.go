// Package auth issues and checks access tokens and guards routes: customer
// routes need a customer token, staff routes a staff token whose role holds
// the route's permission.
package auth

import (
	"crypto/sha256"
	"errors"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/maypok86/otter/v2"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
)

// TokenType tells customer tokens from staff tokens.
type TokenType string

// Token types.
const (
	TypeCustomer TokenType = "customer"
	TypeStaff    TokenType = "staff"
)

const (
	issuer           = "minimall"
	audienceCustomer = "minimall-miniprogram"
	audienceStaff    = "minimall-admin"
	// CustomerTTL is the lifetime of a customer access token.
	CustomerTTL = 2 * time.Hour
	// StaffTTL is the lifetime of a staff token; staff have no refresh token.
	StaffTTL = 8 * time.Hour
	leeway   = 30 * time.Second
)

func audienceFor(t TokenType) string {
	if t == TypeStaff {
		return audienceStaff
	}
	return audienceCustomer
}

// Claims are the claims of a minimall access token.
type Claims struct {
	jwt.RegisteredClaims
	Type    TokenType `json:"typ"`
	Channel string    `json:"chn,omitempty"`
	Role    Role      `json:"role,omitempty"`
	// Version is the staff account's token version when the token was
	// issued; a password change or a disabled account raises the account's
	// version, and older tokens stop working (StaffChecker).
	Version int64 `json:"ver,omitempty"`
	// Scope narrows a staff token: empty is a full token; ScopeTOTPEnrol
	// only sets up a second factor (the shop requires one and the account
	// has none yet).
	Scope string `json:"scp,omitempty"`
}

// ScopeTOTPEnrol is the scope of a staff token that may only enrol a second
// factor.
const ScopeTOTPEnrol = "totp_enrol"

// EnrolTTL is the lifetime of a token that may only enrol a second factor.
const EnrolTTL = 15 * time.Minute

// SubjectID returns the numeric subject (customer or staff id).
func (c *Claims) SubjectID() int64 {
	id, _ := strconv.ParseInt(c.Subject, 10, 64)
	return id
}

// VerifiedCacheSize bounds how many verified tokens Tokens remembers.
const VerifiedCacheSize = 100_000

// Tokens signs and verifies HS256 access tokens.
//
// A token that verified is remembered, keyed by its SHA-256, until it
// expires (with the same leeway Verify allows), so a client that sends the
// same token on every request pays its signature check and JSON decoding
// once. Only what Verify decides is remembered: the token's own signature,
// claims and expiry, which cannot change. Revocation is not Verify's: a
// staff token's account version and role are checked on every request by
// the middleware's StaffChecker, so a password change or a disabled account
// refuses an older token as soon as it did before; a customer access token
// is not revocable before it expires (2 h; logging out revokes the refresh
// tokens). At most VerifiedCacheSize tokens are kept (W-TinyLFU, otter);
// tokens that fail are never kept.
type Tokens struct {
	secret   []byte
	clock    clock.Clock
	verified *otter.Cache[[sha256.Size]byte, *verifiedToken]
}

// verifiedToken is a token that passed Verify, served until until.
type verifiedToken struct {
	claims Claims
	until  time.Time
}

// NewTokens returns a token service; the secret must be at least 32 bytes.
func NewTokens(secret string, clk clock.Clock) (*Tokens, error) {
	if len(secret) < 32 {
		return nil, errors.New("auth: jwt secret shorter than 32 bytes")
	}
	if clk == nil {
		return nil, errors.New("auth: nil clock")
	}
	t := &Tokens{secret: []byte(secret), clock: clk}
	cache, err := otter.New(&otter.Options[[sha256.Size]byte, *verifiedToken]{
		MaximumSize: VerifiedCacheSize,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[[sha256.Size]byte, *verifiedToken]) time.Duration {
			return max(e.Value.until.Sub(t.clock.Now()), time.Nanosecond)
		}),
	})
	if err != nil {
		return nil, err
	}
	t.verified = cache
	return t, nil
}

// IssueCustomer signs a customer access token for the login channel.
func (t *Tokens) IssueCustomer(customerID int64, channel string) (string, time.Duration, error) {
	return t.issue(Claims{Type: TypeCustomer, Channel: channel}, customerID, CustomerTTL)
}

// IssueStaff signs a staff access token carrying the account's current
// token version.
func (t *Tokens) IssueStaff(staffID int64, role Role, version int64) (string, time.Duration, error) {
	return t.issue(Claims{Type: TypeStaff, Role: role, Version: version}, staffID, StaffTTL)
}

// IssueStaffEnrolment signs a short staff token that only admits the
// second-factor enrolment routes (Middleware.StaffEnrolment).
func (t *Tokens) IssueStaffEnrolment(staffID int64, role Role, version int64) (string, time.Duration, error) {
	return t.issue(Claims{Type: TypeStaff, Role: role, Version: version, Scope: ScopeTOTPEnrol}, staffID, EnrolTTL)
}

func (t *Tokens) issue(c Claims, subject int64, ttl time.Duration) (string, time.Duration, error) {
	now := t.clock.Now()
	c.RegisteredClaims = jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   strconv.FormatInt(subject, 10),
		Audience:  jwt.ClaimStrings{audienceFor(c.Type)},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-leeway)),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	return s, ttl, err
}

// Verify checks a token's algorithm, signature, issuer, expiry and that its
// audience matches its type, and returns its claims. Which type a route needs
// is the middleware's business, so that a wrong type can answer 403. A token
// verified before is answered from memory until it expires (see Tokens).
func (t *Tokens) Verify(token string) (*Claims, error) {
	key := sha256.Sum256([]byte(token))
	if v, ok := t.verified.GetIfPresent(key); ok {
		if t.clock.Now().Before(v.until) {
			c := v.claims
			return &c, nil
		}
		t.verified.Invalidate(key)
		return nil, apperr.Unauthenticated("access token expired")
	}
	c, err := t.verify(token)
	if err != nil {
		return nil, err
	}
	// jwt accepts a token while now < exp + leeway; so does the cache.
	if until := c.ExpiresAt.Add(leeway); t.clock.Now().Before(until) {
		t.verified.Set(key, &verifiedToken{claims: *c, until: until})
	}
	return c, nil
}

func (t *Tokens) verify(token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(issuer),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(t.clock.Now),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, apperr.Unauthenticated("access token expired")
		}
		return nil, apperr.Unauthenticated("invalid access token")
	}
	if c.Type != TypeCustomer && c.Type != TypeStaff {
		return nil, apperr.Unauthenticated("invalid access token")
	}
	if c.Scope != "" && (c.Type != TypeStaff || c.Scope != ScopeTOTPEnrol) {
		return nil, apperr.Unauthenticated("invalid access token")
	}
	if len(c.Audience) != 1 || c.Audience[0] != audienceFor(c.Type) || c.SubjectID() <= 0 {
		return nil, apperr.Unauthenticated("invalid access token")
	}
	return &c, nil
}
