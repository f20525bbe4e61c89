package db_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// slowSQL takes seconds on either database.
func slowSQL(d *db.DB) string {
	if d.Dialect() == db.MySQL {
		return "SELECT SLEEP(3)"
	}
	return "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) SELECT COUNT(*) FROM c"
}

// TestDatabaseWorkIsBounded opens each database with a 300 ms timeout: a
// slow statement outside a transaction, and a transaction that outlives the
// timeout, both fail within about the timeout with the unavailable kind
// (503), while quick work still succeeds.
func TestDatabaseWorkIsBounded(t *testing.T) {
	const timeout = 300 * time.Millisecond
	open := map[string]func(t *testing.T) *db.DB{
		"sqlite": func(t *testing.T) *db.DB {
			d, err := db.Open(context.Background(), db.SQLite, filepath.Join(t.TempDir(), "t.db"), db.Options{Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		"mysql": func(t *testing.T) *db.DB {
			dbtest.MySQL(t) // skips, or fails under CI, without MySQL
			d, err := db.Open(context.Background(), db.MySQL, dbtest.MySQLDSN(), db.Options{Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	}
	for _, name := range []string{"sqlite", "mysql"} {
		t.Run(name, func(t *testing.T) {
			d := open[name](t)
			defer d.Close()
			ctx := context.Background()

			var one int
			if err := d.Reader(ctx).Raw("SELECT 1").Find(&one).Error; err != nil || one != 1 {
				t.Fatalf("quick statement: %d, %v", one, err)
			}

			// A chained query runs its statements one after another on one
			// statement object: the first one's deadline must not end the next.
			if _, err := d.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			q := d.Reader(ctx).Table("goose_db_version").Where("version_id > ?", 0)
			var count int64
			var versions []struct{ VersionID int64 }
			if err := q.Count(&count).Error; err != nil {
				t.Fatal(err)
			}
			if err := q.Find(&versions).Error; err != nil || int64(len(versions)) != count {
				t.Fatalf("second statement of a chain: %d rows of %d, %v", len(versions), count, err)
			}

			start := time.Now()
			var n int64
			err := d.Reader(ctx).Raw(slowSQL(d)).Find(&n).Error
			took := time.Since(start)
			if !apperr.Is(err, apperr.CodeUnavailable) {
				t.Fatalf("slow statement: %v (after %v), want unavailable", err, took)
			}
			if took > timeout+700*time.Millisecond {
				t.Errorf("slow statement cut after %v, want about %v", took, timeout)
			}

			start = time.Now()
			err = d.Tx(ctx, func(ctx context.Context) error {
				var x int
				if err := d.Writer(ctx).Raw("SELECT 1").Find(&x).Error; err != nil {
					return err
				}
				time.Sleep(timeout + 100*time.Millisecond)
				return d.Writer(ctx).Raw("SELECT 2").Find(&x).Error
			})
			took = time.Since(start)
			if !apperr.Is(err, apperr.CodeUnavailable) || !errors.Is(err, context.DeadlineExceeded) && !db.IsUnavailable(err) {
				t.Fatalf("transaction past the timeout: %v, want unavailable", err)
			}
			if took > timeout+900*time.Millisecond {
				t.Errorf("transaction cut after %v, want about %v", took, timeout)
			}

			if err := d.Tx(ctx, func(ctx context.Context) error {
				return d.Writer(ctx).Exec("SELECT 1").Error
			}); err != nil {
				t.Fatalf("quick transaction after the cut ones: %v", err)
			}
		})
	}
}

// TestUnavailableSurvivesInternalWrapping: a service that wraps a store
// error as internal still answers unavailable, and a client that went away
// is not unavailability.
func TestUnavailableSurvivesInternalWrapping(t *testing.T) {
	err := apperr.Unavailable(context.DeadlineExceeded)
	if got := apperr.Internal(err); got.Code != apperr.CodeUnavailable {
		t.Errorf("Internal(unavailable) = %s", got.Code)
	}
	if db.IsUnavailable(context.Canceled) {
		t.Error("a cancelled context counts as the database being unavailable")
	}
	if !db.IsUnavailable(context.DeadlineExceeded) {
		t.Error("a deadline is not unavailability")
	}
}
