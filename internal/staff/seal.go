package staff

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// TOTP secrets at rest (docs/identity.md): staff.totp_secret and
// staff.totp_pending_secret hold "v1:" + base64(nonce ‖ AES-256-GCM
// ciphertext) of the base32 secret, sealed with a random 12-byte nonce and
// the account id as associated data, so a sealed value copied into another
// account's row does not open there. The key is MINIMALL_STAFF_TOTP_KEY, or,
// when that is unset, one derived from MINIMALL_JWT_SECRET with HKDF-SHA256
// (TOTPKeyInfo), so an existing installation seals without a new setting.
//
// A value without the prefix is a secret stored in clear before sealing
// existed: it still verifies and is sealed again at its next successful use
// or by the staff-totp-seal job. ':' is not a base32 character, so a clear
// secret can never be taken for a sealed one.
const (
	sealPrefix = "v1:"
	// TOTPKeyInfo is the HKDF info of the key derived from the JWT secret;
	// it keeps that key apart from anything else derived from the secret.
	TOTPKeyInfo = "minimall staff totp secret sealing v1"
)

// ErrTOTPKey means a stored second-factor secret does not open under any
// configured key: the key changed (or MINIMALL_JWT_SECRET changed while no
// MINIMALL_STAFF_TOTP_KEY is set), or the value was copied from another
// account. Logins that need it fail with an internal error.
var ErrTOTPKey = errors.New("staff: a sealed TOTP secret does not open with the configured key (MINIMALL_STAFF_TOTP_KEY, or MINIMALL_JWT_SECRET when unset, changed?)")

// Sealer seals second-factor secrets with one key and opens them with it or
// with older keys, whose values are sealed again with the current key.
type Sealer struct {
	keys []cipher.AEAD // keys[0] seals
}

// NewSealer returns a sealer that seals with key and also opens values
// sealed with any of older; every key is 32 bytes.
func NewSealer(key []byte, older ...[]byte) (*Sealer, error) {
	s := &Sealer{}
	for _, k := range append([][]byte{key}, older...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("staff: a TOTP sealing key must be 32 bytes, got %d", len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, aead)
	}
	return s, nil
}

// DeriveTOTPKey derives the sealing key used when no key is configured from
// the JWT secret (HKDF-SHA256, no salt, info TOTPKeyInfo).
func DeriveTOTPKey(jwtSecret string) ([]byte, error) {
	return hkdf.Key(sha256.New, []byte(jwtSecret), nil, TOTPKeyInfo, 32)
}

// TOTPSealer is the sealer of a configuration: the configured key when set
// (values sealed under the key derived from jwtSecret still open, and are
// sealed again under the configured one), else the derived key.
func TOTPSealer(configured []byte, jwtSecret string) (*Sealer, error) {
	derived, err := DeriveTOTPKey(jwtSecret)
	if err != nil {
		return nil, err
	}
	if configured == nil {
		return NewSealer(derived)
	}
	return NewSealer(configured, derived)
}

func sealAD(staffID int64) []byte { return []byte("staff:" + strconv.FormatInt(staffID, 10)) }

// seal returns the stored form of the secret of an account.
func (s *Sealer) seal(staffID int64, secret string) (string, error) {
	aead := s.keys[0]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, []byte(secret), sealAD(staffID))
	return sealPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// open returns the secret of a stored value, and whether the value should be
// sealed again: it is a clear legacy secret, or sealed under an older key.
// A sealed value that opens under no key is ErrTOTPKey.
func (s *Sealer) open(staffID int64, stored string) (secret string, reseal bool, err error) {
	rest, sealed := strings.CutPrefix(stored, sealPrefix)
	if !sealed {
		return stored, true, nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < s.keys[0].NonceSize()+s.keys[0].Overhead() {
		return "", false, fmt.Errorf("%w (account %d: malformed value)", ErrTOTPKey, staffID)
	}
	for i, aead := range s.keys {
		n := aead.NonceSize()
		plain, err := aead.Open(nil, raw[:n], raw[n:], sealAD(staffID))
		if err == nil {
			return string(plain), i > 0, nil
		}
	}
	return "", false, fmt.Errorf("%w (account %d)", ErrTOTPKey, staffID)
}
