package db

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/ncruces/go-sqlite3"
)

// DefaultTxAttempts is how many times TxRetry runs a use case at most.
const DefaultTxAttempts = 5

// ErrRace marks a transaction that lost a race the database caught after
// the fact: a unique index refused a row that a concurrent transaction
// committed first. Running the transaction again from the start finds the
// winner's row, so IsRetryable reports it and TxRetry runs it again.
var ErrRace = errors.New("db: lost a race with a concurrent transaction")

// LostRace turns a unique-key refusal into ErrRace (keeping the original
// error in the chain) and returns every other error unchanged. A transaction
// function returns LostRace(err) where a duplicate means "someone else
// inserted it first; look again".
func LostRace(err error) error {
	if IsDuplicate(err) && !errors.Is(err, ErrRace) {
		return fmt.Errorf("%w: %w", ErrRace, err)
	}
	return err
}

// IsRetryable reports whether the database refused a transaction in a way
// that running the whole transaction again can cure: a MySQL deadlock victim
// (1213) or lock wait timeout (1205), SQLite's busy and locked answers, or a
// lost race (ErrRace). Every other error is final.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrRace) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	return errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED)
}

// TxRetry runs fn in a transaction like Tx and runs it again, with a short
// randomised pause, when the database refused it with a retryable error
// (IsRetryable), up to DefaultTxAttempts times. fn must therefore be safe to
// run again from the start: it may not keep state across attempts or call
// other systems.
//
// Inside an outer transaction TxRetry does not retry: the database has rolled
// back the whole outer transaction, so only its owner can run it again. The
// call then joins the outer transaction as Tx does and returns its error.
func (d *DB) TxRetry(ctx context.Context, fn func(ctx context.Context) error) error {
	if InTx(ctx) {
		return d.Tx(ctx, fn)
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = d.Tx(ctx, fn)
		if !IsRetryable(err) || attempt == DefaultTxAttempts {
			return err
		}
		pause := time.Duration(attempt) * time.Duration(2+rand.IntN(8)) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}
