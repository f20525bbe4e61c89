package auth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func newRefresh(t *testing.T, d *db.DB) (*auth.RefreshTokens, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC))
	r, err := auth.NewRefreshTokens(d, clk)
	if err != nil {
		t.Fatal(err)
	}
	return r, clk
}

func revokedCount(t *testing.T, d *db.DB, customerID int64) (revoked, total int64) {
	t.Helper()
	ctx := context.Background()
	if err := d.Reader(ctx).Table("refresh_tokens").Where("customer_id = ?", customerID).Count(&total).Error; err != nil {
		t.Fatal(err)
	}
	if err := d.Reader(ctx).Table("refresh_tokens").Where("customer_id = ? AND revoked_at IS NOT NULL", customerID).Count(&revoked).Error; err != nil {
		t.Fatal(err)
	}
	return revoked, total
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		r, _ := newRefresh(t, d)
		ctx := context.Background()
		first, err := r.Issue(ctx, 7, "wechat")
		if err != nil {
			t.Fatal(err)
		}
		other, err := r.Issue(ctx, 7, "wechat") // a second login: another family
		if err != nil {
			t.Fatal(err)
		}
		second, err := r.Rotate(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		if second.CustomerID != 7 || second.Channel != "wechat" || second.Token == "" || second.Token == first {
			t.Fatalf("rotated = %+v", second)
		}
		third, err := r.Rotate(ctx, second.Token)
		if err != nil {
			t.Fatal(err)
		}
		// The first token again: reuse, and the whole family is revoked.
		if _, err := r.Rotate(ctx, first); apperr.CodeOf(err) != apperr.CodeRefreshReused {
			t.Fatalf("reused token: got %v, want refresh_reused", err)
		}
		if _, err := r.Rotate(ctx, third.Token); apperr.CodeOf(err) != apperr.CodeUnauthenticated {
			t.Fatalf("newest token of a revoked family: got %v, want unauthenticated", err)
		}
		revoked, total := revokedCount(t, d, 7)
		if total != 4 || revoked != 3 {
			t.Errorf("revoked %d of %d tokens, want 3 of 4 (the other login's family stays)", revoked, total)
		}
		if _, err := r.Rotate(ctx, other); err != nil {
			t.Errorf("the other login's token must still work: %v", err)
		}
	})
}

func TestRefreshRefusals(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		r, clk := newRefresh(t, d)
		ctx := context.Background()
		tok, err := r.Issue(ctx, 8, "alipay")
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			token string
			want  apperr.Code
		}{
			{"empty", "", apperr.CodeUnauthenticated},
			{"unknown", "not-a-token", apperr.CodeUnauthenticated},
			{"tampered", tok[:len(tok)-1] + "x", apperr.CodeUnauthenticated},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := r.Rotate(ctx, tt.token); apperr.CodeOf(err) != tt.want {
					t.Errorf("got %v, want %s", err, tt.want)
				}
			})
		}
		clk.Advance(auth.RefreshTTL + time.Second)
		if _, err := r.Rotate(ctx, tok); apperr.CodeOf(err) != apperr.CodeUnauthenticated {
			t.Errorf("expired token: got %v, want unauthenticated", err)
		}
		// Inside a transaction Rotate refuses, since its revocation must commit.
		err = d.Tx(ctx, func(ctx context.Context) error {
			_, err := r.Rotate(ctx, tok)
			return err
		})
		if apperr.CodeOf(err) != apperr.CodeInternal {
			t.Errorf("Rotate inside a transaction: got %v", err)
		}
	})
}

// TestConcurrentRefresh races two rotations of one token: exactly one wins,
// the first loser is treated as reuse and revokes the family, later ones
// find it revoked.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		r, _ := newRefresh(t, d)
		ctx := context.Background()
		tok, err := r.Issue(ctx, 9, "wechat")
		if err != nil {
			t.Fatal(err)
		}
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = r.Rotate(ctx, tok)
			}()
		}
		wg.Wait()
		ok, reused := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case apperr.CodeOf(err) == apperr.CodeRefreshReused:
				reused++
			case apperr.CodeOf(err) == apperr.CodeUnauthenticated:
				// Arrived after the family was revoked.
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || reused < 1 {
			t.Errorf("%d rotations won and %d were reuse, want exactly 1 and at least 1", ok, reused)
		}
		if revoked, total := revokedCount(t, d, 9); revoked != total {
			t.Errorf("revoked %d of %d tokens, want the whole family", revoked, total)
		}
	})
}
