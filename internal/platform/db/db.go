// Package db opens the system of record (SQLite or MySQL) through gorm, carries
// transactions in the context and applies the embedded migrations.
//
// Stores never hold a *gorm.DB of their own choosing: they ask the DB for a
// writer or a reader for the current context, so they join the transaction
// their service opened.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/ncruces/go-sqlite3/gormlite"
	gormmysql "gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialects.
const (
	SQLite = "sqlite"
	MySQL  = "mysql"
)

// DB is the pair of connection pools minimall works through. On MySQL both
// fields are the same pool; on SQLite writes go through a pool that begins
// IMMEDIATE transactions and reads through a separate read-only pool, so reads
// never queue behind a writer.
type DB struct {
	dialect string
	write   *gorm.DB
	read    *gorm.DB
	gcfg    *gorm.Config
	timeout time.Duration
	// isolationVar is the session variable that set READ COMMITTED on the
	// MySQL connections (transaction_isolation or tx_isolation).
	isolationVar string

	// replicas, when configured, serve the reads marked with MayReadReplica
	// (replica.go).
	replicas *replicaSet
}

// Options tune Open.
type Options struct {
	// MaxOpenConns bounds the MySQL pool (default DefaultMaxOpenConns).
	MaxOpenConns int
	// Logger receives slow queries; nil disables gorm logging.
	Logger *slog.Logger
	// Timeout bounds each unit of database work: a statement outside a
	// transaction, or a whole transaction, including the wait for a pooled
	// connection (MINIMALL_DB_TIMEOUT for the server; see unavailable.go).
	// Zero leaves them unbounded (commands such as migrate and check).
	Timeout time.Duration
}

// DefaultMaxOpenConns sizes the MySQL pool for the machine: four
// connections per core this process may use, at least 8. Catalog reads are
// mostly served from the read cache, and each statement is short, so a few
// connections per core keep the database busy; more would only queue
// requests as database threads competing for the same cores (measured in
// docs/benchmarks.md) instead of as goroutines waiting for a connection.
func DefaultMaxOpenConns() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// Open connects to driver ("sqlite" or "mysql") at dsn. For SQLite dsn is a
// file path whose directory is created; for MySQL it is a go-sql-driver DSN to
// which parseTime, clientFoundRows and UTC are added.
func Open(ctx context.Context, driver, dsn string, opts Options) (*DB, error) {
	gcfg := &gorm.Config{
		Logger:                                   logger.Discard,
		NowFunc:                                  func() time.Time { return time.Now().UTC() },
		SkipDefaultTransaction:                   true,
		DisableForeignKeyConstraintWhenMigrating: true,
		TranslateError:                           true,
	}
	if opts.Logger != nil {
		gcfg.Logger = newGormLogger(opts.Logger)
	}
	var d *DB
	var err error
	switch driver {
	case SQLite:
		d, err = openSQLite(ctx, dsn, gcfg)
	case MySQL:
		d, err = openMySQL(ctx, dsn, gcfg, opts)
		if err == nil {
			d.gcfg = gcfg
		}
	default:
		return nil, fmt.Errorf("db: unknown driver %q", driver)
	}
	if err != nil {
		return nil, err
	}
	d.timeout = opts.Timeout
	// The SQLite pools were opened with one gorm.Config and so share one
	// set of callbacks: install the deadlines once per set.
	if err := bound(d.write, opts.Timeout); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("db: install statement deadlines: %w", err)
	}
	if d.read.Callback() != d.write.Callback() {
		if err := bound(d.read, opts.Timeout); err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("db: install statement deadlines: %w", err)
		}
	}
	return d, nil
}

// sqliteURI builds the ncruces driver URI. busy_timeout comes first: passing
// any _pragma drops the driver's default timeout. Times are stored in UTC in a
// fixed-width layout so that text comparison orders them.
func sqliteURI(path string, readOnly bool) string {
	q := "_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)&_pragma=synchronous(normal)" +
		"&_pragma=foreign_keys(on)&_timefmt=" + strings.ReplaceAll("2006-01-02 15:04:05.000", " ", "%20")
	if readOnly {
		q += "&_pragma=query_only(1)"
	} else {
		q += "&_txlock=immediate"
	}
	return "file:" + filepath.ToSlash(path) + "?" + q
}

func openSQLite(ctx context.Context, path string, gcfg *gorm.Config) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("db: create %s: %w", dir, err)
		}
	}
	write, err := gorm.Open(gormlite.Open(sqliteURI(path, false)), gcfg)
	if err != nil {
		return nil, fmt.Errorf("db: open sqlite %s: %w", path, err)
	}
	wsql, _ := write.DB()
	// SQLite has one writer at a time; one connection makes writers queue in Go
	// instead of spinning on the busy timeout.
	wsql.SetMaxOpenConns(1)
	wsql.SetMaxIdleConns(1)
	wsql.SetConnMaxLifetime(0)
	if err := wsql.PingContext(ctx); err != nil {
		_ = wsql.Close()
		return nil, fmt.Errorf("db: ping sqlite %s: %w", path, err)
	}
	read, err := gorm.Open(gormlite.Open(sqliteURI(path, true)), gcfg)
	if err != nil {
		_ = wsql.Close()
		return nil, fmt.Errorf("db: open sqlite %s for reading: %w", path, err)
	}
	rsql, _ := read.DB()
	rsql.SetMaxOpenConns(8)
	rsql.SetMaxIdleConns(8)
	return &DB{dialect: SQLite, write: write, read: read}, nil
}

// MySQLDSN normalises a go-sql-driver DSN: times parsed and written in UTC,
// rows-affected counting matched rows, utf8mb4, and interpolated parameters
// (one round trip per statement instead of prepare + execute + close).
func MySQLDSN(dsn string) (string, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("db: mysql dsn: %w", err)
	}
	c.ParseTime = true
	c.ClientFoundRows = true
	c.InterpolateParams = true
	c.Loc = time.UTC
	if c.Collation == "" || !strings.HasPrefix(c.Collation, "utf8mb4") {
		c.Collation = "utf8mb4_unicode_ci"
	}
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	if _, ok := c.Params["time_zone"]; !ok {
		c.Params["time_zone"] = "'+00:00'"
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	return c.FormatDSN(), nil
}

func openMySQL(ctx context.Context, dsn string, gcfg *gorm.Config, opts Options) (*DB, error) {
	norm, err := MySQLDSN(dsn)
	if err != nil {
		return nil, err
	}
	norm, isoVar, err := withReadCommitted(ctx, norm)
	if err != nil {
		return nil, err
	}
	g, err := openMySQLPool(ctx, norm, gcfg, opts.MaxOpenConns)
	if err != nil {
		return nil, err
	}
	// Every connection starts at READ COMMITTED (withReadCommitted), so a
	// transaction is START TRANSACTION alone, not SET TRANSACTION ISOLATION
	// LEVEL first: one round trip less per transaction.
	return &DB{dialect: MySQL, write: g, read: g, isolationVar: isoVar}, nil
}

func openMySQLPool(ctx context.Context, norm string, gcfg *gorm.Config, maxOpen int) (*gorm.DB, error) {
	// gorm appends RETURNING to inserts on MariaDB 10.5+, which makes every
	// insert answer a result set (column definitions and a row) instead of
	// an OK packet. With it off, MariaDB takes the new id from the OK
	// packet as MySQL and TiDB do: one code path for every server, and less
	// work for the database and the server per insert.
	g, err := gorm.Open(gormmysql.New(gormmysql.Config{DSN: norm, DisableWithReturning: true}), gcfg)
	if err != nil {
		return nil, fmt.Errorf("db: open mysql: %w", err)
	}
	s, _ := g.DB()
	n := maxOpen
	if n <= 0 {
		n = DefaultMaxOpenConns()
	}
	s.SetMaxOpenConns(n)
	s.SetMaxIdleConns(n)
	s.SetConnMaxLifetime(30 * time.Minute)
	s.SetConnMaxIdleTime(5 * time.Minute)
	if err := s.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("db: ping mysql: %w", err)
	}
	return g, nil
}

// MySQLConnDSN is the DSN the MySQL pool connects with: MySQLDSN plus the
// session variable that makes each connection READ COMMITTED. Load tests use
// it to measure the database with the shop's own connection settings.
func MySQLConnDSN(ctx context.Context, dsn string) (string, error) {
	norm, err := MySQLDSN(dsn)
	if err != nil {
		return "", err
	}
	norm, _, err = withReadCommitted(ctx, norm)
	return norm, err
}

// isolationVars are the session variables that hold the isolation level, in
// the order tried: MySQL 8 and TiDB know transaction_isolation, MariaDB
// before 11.1 only tx_isolation.
var isolationVars = []string{"transaction_isolation", "tx_isolation"}

// withReadCommitted adds to a normalised DSN the session variable that makes
// every new connection READ COMMITTED (go-sql-driver sends DSN parameters as
// SET statements when it connects). Which variable the server knows is asked
// once, on a connection of its own.
func withReadCommitted(ctx context.Context, norm string) (string, string, error) {
	c, err := mysql.ParseDSN(norm)
	if err != nil {
		return "", "", fmt.Errorf("db: mysql dsn: %w", err)
	}
	for _, v := range isolationVars {
		if _, ok := c.Params[v]; ok {
			return norm, v, nil // the operator chose
		}
	}
	probe, err := sql.Open("mysql", norm)
	if err != nil {
		return "", "", fmt.Errorf("db: open mysql: %w", err)
	}
	defer probe.Close()
	var lastErr error
	for _, v := range isolationVars {
		var level string
		lastErr = probe.QueryRowContext(ctx, "SELECT @@SESSION."+v).Scan(&level)
		if lastErr == nil {
			c.Params[v] = "'READ-COMMITTED'"
			return c.FormatDSN(), v, nil
		}
		var me *mysql.MySQLError
		if !errors.As(lastErr, &me) || me.Number != 1193 { // 1193: unknown system variable
			return "", "", fmt.Errorf("db: ping mysql: %w", lastErr)
		}
	}
	return "", "", fmt.Errorf("db: the server knows neither %v: %w", isolationVars, lastErr)
}

// Dialect returns "sqlite" or "mysql".
func (d *DB) Dialect() string { return d.dialect }

// SQL returns the writing pool's database/sql handle (migrations, health).
func (d *DB) SQL() *sql.DB {
	s, _ := d.write.DB()
	return s
}

// Close closes both pools and the replicas' (stopping their checks).
func (d *DB) Close() error {
	d.replicas.close()
	ws, _ := d.write.DB()
	err := ws.Close()
	if d.read != d.write {
		rs, _ := d.read.DB()
		err = errors.Join(err, rs.Close())
	}
	return err
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	rs, _ := d.read.DB()
	return rs.PingContext(ctx)
}

type txKey struct{}

// Tx runs fn in a transaction carried by the context it is given. A call made
// inside another Tx joins the outer transaction; the outermost call commits, or
// rolls back when fn returns an error or panics. With a timeout (Options), the
// outermost transaction, from the wait for its connection to its commit, must
// end within it; a database that cannot be reached or answer in time makes it
// fail with apperr's unavailable kind.
func (d *DB) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(ctx)
	}
	outer := ctx
	if d.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.timeout)
		defer cancel()
	}
	var hooks []func(context.Context)
	err := d.write.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		hooks = hooks[:0]
		return fn(context.WithValue(context.WithValue(ctx, txKey{}, tx), hooksKey{}, &hooks))
	})
	if err != nil {
		return unavailable(err)
	}
	for _, h := range hooks {
		h(outer)
	}
	return nil
}

type hooksKey struct{}

// AfterCommit runs fn once the transaction of ctx has committed, or at once
// when ctx carries none (what was written is already committed). fn gets
// the context the transaction was started with, which carries no
// transaction: its reads and writes are on their own. A
// transaction that rolls back drops its hooks, and TxRetry's next attempt
// starts with none, so fn runs once for the attempt that committed. It is
// for announcements of committed changes (cache invalidations), never for
// work that must happen with the change itself.
func AfterCommit(ctx context.Context, fn func(ctx context.Context)) {
	if hooks, ok := ctx.Value(hooksKey{}).(*[]func(context.Context)); ok && InTx(ctx) {
		*hooks = append(*hooks, fn)
		return
	}
	fn(ctx)
}

// InTx reports whether ctx carries a transaction.
func InTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*gorm.DB)
	return ok
}

// Writer returns the transaction of ctx, or the writing pool.
func (d *DB) Writer(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return d.write.WithContext(ctx)
}

// Reader returns the transaction of ctx (so a use case reads its own writes),
// or, for a context marked with MayReadReplica, a replica that passed its
// last check, or else the reading pool.
func (d *DB) Reader(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	if mayReadReplica(ctx) {
		if r := d.replicas.pick(); r != nil {
			return r.WithContext(ctx)
		}
	}
	return d.read.WithContext(ctx)
}

// IsDuplicate reports whether err is a unique-key violation on either database.
func IsDuplicate(err error) bool {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// IsNotFound reports whether err is gorm's record-not-found.
func IsNotFound(err error) bool { return errors.Is(err, gorm.ErrRecordNotFound) }
