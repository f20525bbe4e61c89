// Package dbtest gives store and service tests real databases: a fresh SQLite
// file per test and, when MINIMALL_TEST_MYSQL_DSN is set, a MySQL database per
// test package that is created in TestMain and dropped afterwards.
//
// A package that uses Each declares
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/minimall/minimall/internal/platform/db"
)

// EnvMySQLDSN names a go-sql-driver DSN without a database name.
const EnvMySQLDSN = "MINIMALL_TEST_MYSQL_DSN"

// The package's MySQL database, set by Main. Test helpers may keep state that
// product code may not.
var (
	mysqlDB     *db.DB
	mysqlDSN    string
	mysqlTables []string
	mainCalled  bool
	// mysqlInUse gives the package's one MySQL database to one test at a
	// time: tests that call t.Parallel run their SQLite variants side by
	// side, each on its own file, and queue here for MySQL.
	mysqlInUse sync.Mutex
)

// Main creates the package's MySQL database when the DSN is set, runs the
// tests and drops it.
func Main(m *testing.M) int {
	mainCalled = true
	base := os.Getenv(EnvMySQLDSN)
	if base == "" {
		if os.Getenv("CI") != "true" {
			fmt.Fprintf(os.Stderr, "dbtest: %s is unset: MySQL variants of store tests are skipped\n", EnvMySQLDSN)
		}
		return m.Run()
	}
	ctx := context.Background()
	name, cleanup, err := createMySQL(ctx, base)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dbtest: %v\n", err)
		return 1
	}
	defer cleanup()
	mysqlDSN = name
	d, err := db.Open(ctx, db.MySQL, name, db.Options{MaxOpenConns: 64})
	if err != nil {
		fmt.Fprintf(os.Stderr, "dbtest: %v\n", err)
		return 1
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "dbtest: %v\n", err)
		return 1
	}
	if err := d.Writer(ctx).Raw("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> 'goose_db_version'").Scan(&mysqlTables).Error; err != nil {
		fmt.Fprintf(os.Stderr, "dbtest: list tables: %v\n", err)
		return 1
	}
	mysqlDB = d
	return m.Run()
}

func createMySQL(ctx context.Context, base string) (string, func(), error) {
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", EnvMySQLDSN, err)
	}
	if cfg.DBName != "" {
		return "", nil, fmt.Errorf("%s must not name a database (got %q)", EnvMySQLDSN, cfg.DBName)
	}
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "minimall_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create test database: %w", err)
	}
	cfg.DBName = name
	cleanup := func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name)
		admin.Close()
	}
	return cfg.FormatDSN(), cleanup, nil
}

// Each runs fn on a fresh SQLite database and, when configured, on the
// package's MySQL database emptied for this test. Without a DSN the MySQL
// variant skips with a message, and fails under CI=true. A test that calls
// t.Parallel before Each runs its SQLite variant alongside other tests and
// waits for its turn on MySQL.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("mysql", func(t *testing.T) { fn(t, MySQL(t)) })
}

// SQLite returns a migrated SQLite database in a temporary directory.
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, db.SQLite, filepath.Join(t.TempDir(), "test.db"), db.Options{})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return d
}

// MySQL returns the package's MySQL database with every table emptied. The
// test holds the database until it ends, so parallel tests take turns.
func MySQL(t testing.TB) *db.DB {
	t.Helper()
	if mysqlDB == nil {
		switch {
		case os.Getenv(EnvMySQLDSN) != "" && !mainCalled:
			t.Fatalf("dbtest: %s is set but this package has no TestMain calling dbtest.Main", EnvMySQLDSN)
		case os.Getenv("CI") == "true":
			t.Fatalf("dbtest: %s must be set under CI", EnvMySQLDSN)
		default:
			t.Skipf("MySQL skipped: set %s (e.g. root@tcp(127.0.0.1:3306)/) to run it", EnvMySQLDSN)
		}
	}
	mysqlInUse.Lock()
	t.Cleanup(mysqlInUse.Unlock)
	// TRUNCATE is DDL (a new table file each time): emptying every table
	// for every test is most of a package's MySQL time on a busy machine.
	// Only the tables the previous test touched are emptied: those with
	// rows, or whose AUTO_INCREMENT moved (an insert that rolled back moves
	// it too), so ids start at 1 as on a fresh database.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := mysqlDB.Writer(ctx)
	var touched []string
	if err := w.Raw("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "+
		"AND table_name IN ? AND (auto_increment > 1 OR table_rows > 0)", mysqlTables).Scan(&touched).Error; err != nil {
		t.Fatalf("list tables to empty: %v", err)
	}
	for _, table := range mysqlTables {
		if !slices.Contains(touched, table) {
			// table_rows is an estimate; a table without AUTO_INCREMENT
			// may hold rows it does not count yet.
			var one []int
			if err := w.Raw("SELECT 1 FROM `" + table + "` LIMIT 1").Scan(&one).Error; err != nil {
				t.Fatalf("read %s: %v", table, err)
			}
			if len(one) == 0 {
				continue
			}
		}
		if err := w.Exec("TRUNCATE TABLE `" + table + "`").Error; err != nil {
			t.Fatalf("truncate %s: %v", table, err)
		}
	}
	return mysqlDB
}

// MySQLDSN returns the DSN of the package's MySQL database, or "" when the
// MySQL variant does not run.
func MySQLDSN() string { return mysqlDSN }
