package main

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minimall/minimall/internal/platform/db"
)

// ceiling measures what the database itself sustains for a payment
// notification's writes, in this run, from a plain Go client with the
// shop's DSN settings, conc workers over pool connections: in one
// transaction the attempt's conditional move to succeeded, the stored
// notification (a body of the size WeChat Pay sends), the order's
// conditional move to paid and its order event, committed. It runs on
// copies of the run's pending orders and attempts (unique columns
// prefixed with X), made before the clock starts, so the rows, indexes and
// sizes are the ones the shop works on.
// It stops after limit, so that the run's signed notifications stay within
// the platform's freshness window.
func ceiling(ctx context.Context, dsn string, pool, conc int, limit time.Duration) (float64, int, error) {
	conn, err := db.MySQLConnDSN(ctx, dsn)
	if err != nil {
		return 0, 0, err
	}
	c, err := sql.Open("mysql", conn)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	c.SetMaxOpenConns(pool)
	c.SetMaxIdleConns(pool)
	if err := cloneOpenOrders(ctx, c); err != nil {
		return 0, 0, fmt.Errorf("copy the pending orders: %w", err)
	}
	type work struct{ attempt, order, total int64 }
	rows, err := c.QueryContext(ctx, `SELECT a.id, a.order_id, a.amount_fen FROM payment_attempts a
		WHERE a.status = 'pending' AND a.out_trade_no LIKE 'X%' ORDER BY a.id`)
	if err != nil {
		return 0, 0, err
	}
	var jobs []work
	for rows.Next() {
		var w work
		if err := rows.Scan(&w.attempt, &w.order, &w.total); err != nil {
			rows.Close()
			return 0, 0, err
		}
		jobs = append(jobs, w)
	}
	rows.Close()
	body := strings.Repeat("x", 1100)
	var next, done, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(limit)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) || time.Now().After(deadline) {
					return
				}
				w := jobs[i]
				if err := ceilingTx(ctx, c, w.attempt, w.order, w.total, body); err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if f := failed.Load(); f > 0 {
		return 0, 0, fmt.Errorf("%d of %d ceiling transactions failed", f, done.Load()+f)
	}
	return float64(done.Load()) / wall.Seconds(), int(done.Load()), nil
}

func ceilingTx(ctx context.Context, c *sql.DB, attempt, order, total int64, body string) error {
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	txn := "CEIL" + strconv.FormatInt(attempt, 10)
	one := func(res sql.Result, err error) error {
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("attempt %d: a conditional update matched %d rows", attempt, n)
		}
		return nil
	}
	if err := one(tx.ExecContext(ctx, `UPDATE payment_attempts SET status = 'succeeded', open_key = NULL, provider_txn_id = ?,
		payer_total_fen = ?, paid_at = ?, updated_at = ? WHERE id = ? AND status IN ('pending', 'closed', 'failed')`,
		txn, total, now, now, attempt)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO payment_notifications (channel, notify_id, event_type, out_trade_no,
		provider_txn_id, attempt_id, outcome, reason, body, received_at) VALUES ('wechat', ?, 'TRANSACTION.SUCCESS', ?, ?, ?, 'accepted', '', ?, ?)`,
		txn, txn, txn, attempt, body, now); err != nil {
		return err
	}
	if err := one(tx.ExecContext(ctx, `UPDATE orders SET status = 'paid', paid_at = ?, paid_fen = ?, sales_pending = 1, updated_at = ?
		WHERE id = ? AND status = 'pending_payment' AND total_fen = ?`, now, total, now, order, total)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_events (order_id, from_status, to_status, actor_type, actor_id, reason, created_at)
		VALUES (?, 'pending_payment', 'paid', 'payment', ?, 'payment received', ?)`, order, attempt, now); err != nil {
		return err
	}
	return tx.Commit()
}

// cloneOpenOrders copies every pending order and its pending attempt, the
// copies' unique columns prefixed with X (NULLs stay NULL).
func cloneOpenOrders(ctx context.Context, c *sql.DB) error {
	cols := func(table string) ([]string, error) {
		rows, err := c.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = DATABASE() AND table_name = ? AND column_name <> 'id' ORDER BY ordinal_position`, table)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, rows.Err()
	}
	oc, err := cols("orders")
	if err != nil {
		return err
	}
	sel := make([]string, len(oc))
	for i, col := range oc {
		switch col {
		case "order_no":
			sel[i] = "CONCAT('X', order_no)"
		case "idempotency_key":
			sel[i] = "NULL"
		default:
			sel[i] = col
		}
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO orders ("+strings.Join(oc, ", ")+") SELECT "+strings.Join(sel, ", ")+
		" FROM orders WHERE status = 'pending_payment'"); err != nil {
		return err
	}
	ac, err := cols("payment_attempts")
	if err != nil {
		return err
	}
	sel = make([]string, len(ac))
	for i, col := range ac {
		switch col {
		case "order_id":
			sel[i] = "o2.id"
		case "open_key":
			sel[i] = "CAST(o2.id AS CHAR)"
		case "out_trade_no", "provider_txn_id", "prepay_id":
			sel[i] = "CONCAT('X', a." + col + ")"
		default:
			sel[i] = "a." + col
		}
	}
	_, err = c.ExecContext(ctx, "INSERT INTO payment_attempts ("+strings.Join(ac, ", ")+") SELECT "+strings.Join(sel, ", ")+
		` FROM payment_attempts a JOIN orders o ON o.id = a.order_id JOIN orders o2 ON o2.order_no = CONCAT('X', o.order_no)
		WHERE a.status = 'pending'`)
	return err
}
