package db_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// columns lists "table.column" for every table but goose's own.
func columns(t *testing.T, d *db.DB) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	switch d.Dialect() {
	case db.SQLite:
		var tables []string
		if err := d.Reader(ctx).Raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version'").Scan(&tables).Error; err != nil {
			t.Fatal(err)
		}
		for _, table := range tables {
			var cols []struct{ Name string }
			if err := d.Reader(ctx).Raw("SELECT name FROM pragma_table_info(?)", table).Scan(&cols).Error; err != nil {
				t.Fatal(err)
			}
			for _, c := range cols {
				out = append(out, table+"."+c.Name)
			}
		}
	case db.MySQL:
		var rows []struct{ TableName, ColumnName string }
		if err := d.Reader(ctx).Raw("SELECT table_name AS table_name, column_name AS column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name <> 'goose_db_version'").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out = append(out, r.TableName+"."+r.ColumnName)
		}
	}
	slices.Sort(out)
	return out
}

// TestMigrationsAgree proves that both dialects' migrations end with the same
// tables and columns.
func TestMigrationsAgree(t *testing.T) {
	lite := columns(t, dbtest.SQLite(t))
	if len(lite) == 0 {
		t.Fatal("sqlite migrations created no tables")
	}
	my := columns(t, dbtest.MySQL(t))
	for _, c := range lite {
		if !slices.Contains(my, c) {
			t.Errorf("%s exists on sqlite but not on mysql", c)
		}
	}
	for _, c := range my {
		if !slices.Contains(lite, c) {
			t.Errorf("%s exists on mysql but not on sqlite", c)
		}
	}
}

func TestSchemaCheck(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, db.SQLite, t.TempDir()+"/s.db", db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.CheckSchema(ctx); err == nil {
		t.Fatal("CheckSchema accepted an unmigrated database")
	}
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after migrate: %v", err)
	}
	current, latest, err := d.SchemaStatus(ctx)
	if err != nil || current != latest || latest < 1 {
		t.Fatalf("SchemaStatus = %d, %d, %v", current, latest, err)
	}
}

func count(t *testing.T, d *db.DB) int64 {
	var n int64
	if err := d.Reader(context.Background()).Table("audit_logs").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func insert(ctx context.Context, d *db.DB, action string) error {
	return d.Writer(ctx).Exec("INSERT INTO audit_logs (staff_id, action, detail, created_at) VALUES (1, ?, '', CURRENT_TIMESTAMP)", action).Error
}

func TestTxCommitRollbackAndNesting(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := d.Tx(ctx, func(ctx context.Context) error {
			if err := insert(ctx, d, "outer"); err != nil {
				return err
			}
			// A nested Tx joins the outer one: its write rolls back with it.
			return d.Tx(ctx, func(ctx context.Context) error {
				if !db.InTx(ctx) {
					t.Error("nested call is not in a transaction")
				}
				if err := insert(ctx, d, "inner"); err != nil {
					return err
				}
				return boom
			})
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Tx = %v, want boom", err)
		}
		if got := count(t, d); got != 0 {
			t.Fatalf("after rollback %d rows, want 0", got)
		}
		if err := d.Tx(ctx, func(ctx context.Context) error { return insert(ctx, d, "kept") }); err != nil {
			t.Fatal(err)
		}
		if got := count(t, d); got != 1 {
			t.Fatalf("after commit %d rows, want 1", got)
		}
	})
}

// Hooks registered with AfterCommit run after the outermost commit, see the
// committed rows, run once for the attempt that committed, and never for a
// transaction that rolled back.
func TestAfterCommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var ran []string
		seen := func(name string) func(context.Context) {
			return func(ctx context.Context) {
				if db.InTx(ctx) {
					t.Errorf("hook %s got a context with the committed transaction", name)
				}
				ran = append(ran, fmt.Sprintf("%s:%d", name, count(t, d)))
			}
		}
		err := d.Tx(ctx, func(ctx context.Context) error {
			db.AfterCommit(ctx, seen("outer"))
			if err := insert(ctx, d, "a"); err != nil {
				return err
			}
			return d.Tx(ctx, func(ctx context.Context) error {
				db.AfterCommit(ctx, seen("inner"))
				if len(ran) != 0 {
					t.Errorf("hooks ran inside the transaction: %v", ran)
				}
				return insert(ctx, d, "b")
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"outer:2", "inner:2"}; !slices.Equal(ran, want) {
			t.Fatalf("after commit ran %v, want %v", ran, want)
		}

		ran = nil
		boom := errors.New("boom")
		if err := d.Tx(ctx, func(ctx context.Context) error {
			db.AfterCommit(ctx, seen("rolled back"))
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("Tx = %v, want boom", err)
		}
		if len(ran) != 0 {
			t.Fatalf("a rolled-back transaction ran %v", ran)
		}

		// A retried transaction runs the hooks of the attempt that committed.
		attempts := 0
		if err := d.TxRetry(ctx, func(ctx context.Context) error {
			attempts++
			db.AfterCommit(ctx, seen(fmt.Sprintf("attempt%d", attempts)))
			if attempts == 1 {
				return db.ErrRace
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"attempt2:2"}; attempts != 2 || !slices.Equal(ran, want) {
			t.Fatalf("retried: %d attempts ran %v, want 2 and %v", attempts, ran, want)
		}

		// Outside a transaction the write is already committed: at once.
		ran = nil
		db.AfterCommit(ctx, seen("no tx"))
		if want := []string{"no tx:2"}; !slices.Equal(ran, want) {
			t.Fatalf("outside a transaction ran %v, want %v", ran, want)
		}
	})
}

// TestConditionalUpdateCountsMatchedRows proves rows-affected means rows
// matched on both databases (clientFoundRows on MySQL), so an update that
// sets a value to itself still reports the row it found.
func TestConditionalUpdateCountsMatchedRows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := insert(ctx, d, "same"); err != nil {
			t.Fatal(err)
		}
		res := d.Writer(ctx).Exec("UPDATE audit_logs SET action = 'same' WHERE action = 'same'")
		if res.Error != nil || res.RowsAffected != 1 {
			t.Fatalf("update to the same value: rows=%d err=%v, want 1 row", res.RowsAffected, res.Error)
		}
		res = d.Writer(ctx).Exec("UPDATE audit_logs SET action = 'x' WHERE action = 'missing'")
		if res.Error != nil || res.RowsAffected != 0 {
			t.Fatalf("update matching nothing: rows=%d err=%v", res.RowsAffected, res.Error)
		}
	})
}

// TestConcurrentTransactions runs writers in parallel; on SQLite they queue on
// the IMMEDIATE write pool instead of failing with SQLITE_BUSY.
func TestConcurrentTransactions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- d.Tx(ctx, func(ctx context.Context) error { return insert(ctx, d, "c") })
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := count(t, d); got != 40 {
			t.Fatalf("%d rows, want 40", got)
		}
	})
}
