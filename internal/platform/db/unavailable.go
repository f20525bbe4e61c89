package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/ncruces/go-sqlite3"
	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/apperr"
)

// DefaultTimeout bounds one unit of database work of the server: a
// statement outside a transaction, or a whole transaction
// (MINIMALL_DB_TIMEOUT).
const DefaultTimeout = 5 * time.Second

// Why a deadline per unit of work and not per request: a request may call a
// payment platform between two database units (a pay request reads the
// order, asks WeChat Pay for up to MINIMALL_PAYMENT_PLATFORM_TIMEOUT, then
// writes), so a deadline on the whole request would cut platform calls that
// have their own bound. A deadline per unit bounds every wait that belongs
// to the database, including the wait for a pooled connection, which a
// driver read timeout would not: while the database hangs, the first unit
// of a request fails within the timeout and the request answers 503 at
// once. Driver timeouts in the DSN would also bound each read or write
// only, not a statement waiting for a connection behind others.

// IsUnavailable reports whether err means the database could not be
// reached or did not answer in time, as opposed to refusing the statement:
// a deadline that expired, a connection refused, reset or broken, a MySQL
// server shutting down or out of connections, SQLite busy or interrupted
// past its timeouts. The client's own cancellation (context.Canceled) is not
// unavailability.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		// 1040 too many connections, 1053 server shutdown in progress,
		// 1927 connection killed (MariaDB), 1317 query interrupted.
		return me.Number == 1040 || me.Number == 1053 || me.Number == 1927 || me.Number == 1317
	}
	return errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED) || errors.Is(err, sqlite3.INTERRUPT)
}

// unavailable turns an unavailability error into apperr's unavailable kind
// (keeping it in the chain, so errors.Is and errors.As still see the
// driver's error) and returns every other error unchanged.
func unavailable(err error) error {
	var ae *apperr.Error
	if err == nil || errors.As(err, &ae) || !IsUnavailable(err) {
		return err
	}
	return apperr.Unavailable(err)
}

type cancelKey struct{}

// deadline is what a statement's before-callback leaves for its
// after-callback: the context to restore (a chained *gorm.DB such as
// q.Count(&n) then q.Find(&rows) runs both on one statement, which must not
// keep the first one's ended context) and the cancel of the deadline.
type deadline struct {
	parent context.Context
	cancel context.CancelFunc
}

// bound installs gorm callbacks that give every statement a deadline of
// timeout (cancelled when the statement is done) and mark its failure as
// unavailable when the database was unreachable or slow, so that every
// store's error says so without each store knowing the drivers.
func bound(g *gorm.DB, timeout time.Duration) error {
	const key = "minimall:deadline"
	before := func(tx *gorm.DB) {
		if timeout <= 0 || tx.Statement.Context == nil {
			return
		}
		parent := tx.Statement.Context
		ctx, cancel := context.WithTimeout(parent, timeout)
		tx.Statement.Context = ctx
		tx.Statement.Settings.Store(cancelKey{}, deadline{parent: parent, cancel: cancel})
	}
	after := func(tx *gorm.DB) {
		if v, ok := tx.Statement.Settings.LoadAndDelete(cancelKey{}); ok {
			dl := v.(deadline)
			dl.cancel()
			tx.Statement.Context = dl.parent
		}
		if tx.Error != nil {
			tx.Error = unavailable(tx.Error)
		}
	}
	// Row statements (Rows, Row, Raw(...).Scan) are read by the caller after
	// the callbacks ran, so their deadline cannot be cancelled here: it
	// runs out by itself, at the latest timeout later (or when the
	// request's context ends), and is not cancelled early.
	rowAfter := func(tx *gorm.DB) {
		if v, ok := tx.Statement.Settings.LoadAndDelete(cancelKey{}); ok {
			tx.Statement.Context = v.(deadline).parent
		}
		if tx.Error != nil {
			tx.Error = unavailable(tx.Error)
		}
	}
	cb := g.Callback()
	return errors.Join(
		cb.Create().Before("*").Register(key+"_before", before),
		cb.Create().After("*").Register(key+"_after", after),
		cb.Query().Before("*").Register(key+"_before", before),
		cb.Query().After("*").Register(key+"_after", after),
		cb.Update().Before("*").Register(key+"_before", before),
		cb.Update().After("*").Register(key+"_after", after),
		cb.Delete().Before("*").Register(key+"_before", before),
		cb.Delete().After("*").Register(key+"_after", after),
		cb.Raw().Before("*").Register(key+"_before", before),
		cb.Raw().After("*").Register(key+"_after", after),
		cb.Row().Before("*").Register(key+"_before", before),
		cb.Row().After("*").Register(key+"_after", rowAfter),
	)
}
