package auth

import (
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/minimall/minimall/internal/apperr"
)

// MinPasswordLength is the shortest staff password accepted, in characters.
const MinPasswordLength = 10

// maxPasswordBytes is bcrypt's input limit; longer passwords would be
// silently truncated, so they are refused instead.
const maxPasswordBytes = 72

// passwordCost is the bcrypt work factor of new hashes.
const passwordCost = 12

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

// HashPassword returns the bcrypt hash of a password that passed
// CheckPasswordRules.
func HashPassword(password string) (string, error) {
	if err := CheckPasswordRules(password); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), passwordCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// dummyHash is compared against when the account does not exist, so that an
// unknown username costs as much time as a wrong password.
const dummyHash = "$2a$12$x4ctfkZ95VG/WUChvdrvzutD2QjHkH0fclqZHqxRhiyCGk5p30rMe"

// PasswordMatches reports whether password matches hash. An empty hash (an
// unknown account) still spends one bcrypt comparison and reports false.
func PasswordMatches(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
