package auth

import (
	"crypto/rand"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/minimall/minimall/internal/apperr"
)

// MinPasswordLength is the shortest staff password accepted, in characters.
const MinPasswordLength = 10

// maxPasswordBytes is bcrypt's input limit; longer passwords would be
// silently truncated, so they are refused instead.
const maxPasswordBytes = 72

// DefaultPasswordCost is the bcrypt work factor of new hashes in
// production: about a quarter of a second per hash on a server core.
const DefaultPasswordCost = 12

// CheckPasswordRules refuses passwords that are too short or too long for
// bcrypt, naming the request field.
func CheckPasswordRules(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return apperr.Invalid("password must be at least 10 characters", "password")
	}
	if len(password) > maxPasswordBytes {
		return apperr.Invalid("password must be at most 72 bytes", "password")
	}
	return nil
}

// Passwords hashes and checks staff passwords with bcrypt at one work
// factor. Production uses DefaultPasswordCost; tests pass bcrypt.MinCost so
// that a hash costs microseconds instead of a quarter of a second. A hash
// records its own cost, so hashes made at another cost still verify.
type Passwords struct {
	cost int
	// dummy is compared against when the account does not exist, so that
	// an unknown username costs as much time as a wrong password.
	dummy []byte
}

// NewPasswords returns the password hasher for a bcrypt cost between
// bcrypt.MinCost and bcrypt.MaxCost.
func NewPasswords(cost int) (*Passwords, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("auth: bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if cost == DefaultPasswordCost {
		return &Passwords{cost: cost, dummy: []byte(defaultDummyHash)}, nil
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
	if err != nil {
		return nil, err
	}
	return &Passwords{cost: cost, dummy: dummy}, nil
}

// defaultDummyHash is a hash of a forgotten random password at
// DefaultPasswordCost, made once so that start-up does not pay for it.
const defaultDummyHash = "$2a$12$x4ctfkZ95VG/WUChvdrvzutD2QjHkH0fclqZHqxRhiyCGk5p30rMe"

// Hash returns the bcrypt hash of a password that passed CheckPasswordRules.
func (p *Passwords) Hash(password string) (string, error) {
	if err := CheckPasswordRules(password); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.cost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// Matches reports whether password matches hash. An empty hash (an unknown
// account) still spends one bcrypt comparison and reports false.
func (p *Passwords) Matches(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(p.dummy, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
