package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestIsRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{&mysql.MySQLError{Number: 1213}, true},
		{fmt.Errorf("wrapped: %w", &mysql.MySQLError{Number: 1205}), true},
		{&mysql.MySQLError{Number: 1062}, false},
		{db.ErrRace, true},
		{db.LostRace(&mysql.MySQLError{Number: 1062}), true},
		{db.LostRace(errors.New("boom")), false},
	} {
		if got := db.IsRetryable(tc.err); got != tc.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestTxRetry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		calls := 0
		err := d.TxRetry(ctx, func(ctx context.Context) error {
			calls++
			if calls < 3 {
				return &mysql.MySQLError{Number: 1213, Message: "deadlock"}
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Fatalf("TxRetry = %v after %d calls; want nil after 3", err, calls)
		}

		calls = 0
		err = d.TxRetry(ctx, func(ctx context.Context) error {
			calls++
			return &mysql.MySQLError{Number: 1213, Message: "deadlock"}
		})
		if !db.IsRetryable(err) || calls != db.DefaultTxAttempts {
			t.Fatalf("TxRetry = %v after %d calls; want the deadlock after %d", err, calls, db.DefaultTxAttempts)
		}

		// Inside an outer transaction the whole outer transaction is lost:
		// TxRetry must not run fn again.
		calls = 0
		_ = d.Tx(ctx, func(ctx context.Context) error {
			err = d.TxRetry(ctx, func(ctx context.Context) error {
				calls++
				return &mysql.MySQLError{Number: 1213, Message: "deadlock"}
			})
			return err
		})
		if calls != 1 {
			t.Fatalf("TxRetry inside a transaction ran fn %d times, want 1", calls)
		}
	})
}
