package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

// RefreshTTL is how long an unused customer refresh token stays valid. Each
// rotation starts a new period, so a customer who opens the mini-program at
// least once a month stays logged in.
const RefreshTTL = 30 * 24 * time.Hour

// RefreshTokens issues and rotates customer refresh tokens. Only their
// SHA-256 hashes are stored. Each login starts a family; each rotation marks
// the presented token used and issues the family's next token. Presenting a
// used token again means it leaked (or two refreshes raced): the whole
// family is revoked and the customer must log in again.
type RefreshTokens struct {
	db    *db.DB
	clock clock.Clock
}

// NewRefreshTokens returns the refresh token service.
func NewRefreshTokens(d *db.DB, clk clock.Clock) (*RefreshTokens, error) {
	if d == nil || clk == nil {
		return nil, errors.New("auth: nil dependency")
	}
	return &RefreshTokens{db: d, clock: clk}, nil
}

type refreshRow struct {
	ID         int64
	TokenHash  string
	FamilyID   string
	CustomerID int64
	Channel    string
	ExpiresAt  time.Time
	UsedAt     *time.Time
	RevokedAt  *time.Time
	CreatedAt  time.Time
}

func (refreshRow) TableName() string { return "refresh_tokens" }

// HashRefreshToken returns the stored form of a refresh token.
func HashRefreshToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Issue starts a new family for a customer's login and returns its first
// token. It joins the transaction in ctx, so a failed login stores nothing.
func (r *RefreshTokens) Issue(ctx context.Context, customerID int64, channel string) (string, error) {
	return r.insert(ctx, randomToken(16), customerID, channel)
}

func (r *RefreshTokens) insert(ctx context.Context, family string, customerID int64, channel string) (string, error) {
	token := randomToken(32)
	now := r.clock.Now()
	row := refreshRow{
		TokenHash: HashRefreshToken(token), FamilyID: family, CustomerID: customerID, Channel: channel,
		ExpiresAt: now.Add(RefreshTTL), CreatedAt: now,
	}
	if err := r.db.Writer(ctx).Create(&row).Error; err != nil {
		return "", err
	}
	return token, nil
}

// Rotated is the outcome of a successful rotation.
type Rotated struct {
	CustomerID int64
	Channel    string
	Token      string // the family's next refresh token
}

// Rotate exchanges a refresh token for the next one of its family. Unknown,
// expired and revoked tokens are unauthenticated; a token used before is
// refresh_reused and revokes its family. Rotate opens its own transaction
// (the revocation must commit although the call fails), so it refuses to
// run inside another one.
func (r *RefreshTokens) Rotate(ctx context.Context, token string) (Rotated, error) {
	if db.InTx(ctx) {
		return Rotated{}, apperr.Internal(errors.New("auth: Rotate must not run inside a transaction"))
	}
	if token == "" || len(token) > 256 {
		return Rotated{}, apperr.Unauthenticated("invalid refresh token")
	}
	hash := HashRefreshToken(token)
	out, reused, err := r.rotate(ctx, hash)
	if err != nil {
		return Rotated{}, apperr.From(err)
	}
	if reused {
		return Rotated{}, apperr.New(apperr.CodeRefreshReused, "this refresh token was already used; every session of this login is revoked, log in again")
	}
	return out, nil
}

// rotate runs the rotation transaction. Racing rotations of one family can
// deadlock on MySQL while revoking it; TxRetry runs the loser again, which
// then finds the family revoked.
func (r *RefreshTokens) rotate(ctx context.Context, hash string) (out Rotated, reused bool, err error) {
	err = r.db.TxRetry(ctx, func(ctx context.Context) error {
		out, reused = Rotated{}, false
		now := r.clock.Now()
		w := r.db.Writer(ctx)
		var row refreshRow
		if err := w.Where("token_hash = ?", hash).Take(&row).Error; err != nil {
			if db.IsNotFound(err) {
				return apperr.Unauthenticated("invalid refresh token")
			}
			return err
		}
		if row.RevokedAt != nil {
			return apperr.Unauthenticated("this login was revoked; log in again")
		}
		if row.UsedAt == nil && !row.ExpiresAt.After(now) {
			return apperr.Unauthenticated("refresh token expired; log in again")
		}
		if row.UsedAt == nil {
			res := w.Exec("UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL", now, row.ID)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 1 {
				next, err := r.insert(ctx, row.FamilyID, row.CustomerID, row.Channel)
				if err != nil {
					return err
				}
				out = Rotated{CustomerID: row.CustomerID, Channel: row.Channel, Token: next}
				return nil
			}
		}
		// Used before, or by a concurrent request that won the update.
		reused = true
		return w.Exec("UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL", now, row.FamilyID).Error
	})
	return out, reused, err
}

// RevokeCustomer revokes every refresh token of a customer (log out
// everywhere). It joins the transaction in ctx.
func (r *RefreshTokens) RevokeCustomer(ctx context.Context, customerID int64) error {
	return r.db.Writer(ctx).Exec("UPDATE refresh_tokens SET revoked_at = ? WHERE customer_id = ? AND revoked_at IS NULL",
		r.clock.Now(), customerID).Error
}
