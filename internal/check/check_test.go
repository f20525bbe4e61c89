package check_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/check"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// seed writes, by direct SQL, a small shop whose money and stock are
// consistent: one SKU with 10 units of initial stock and
//   - order 1, paid 20.00 by attempt 1, 2 units;
//   - order 2, cancelled, 1 unit (back in stock), paid late by attempt 2,
//     refunded by refund 2 for its late_payment anomaly 1;
//   - order 3, closed: paid 10.00 by attempt 3, its one unit refunded
//     before shipping by after-sale 1 (back in stock) through refund 3;
//   - order 4, pending with an open attempt 4, 1 unit;
//   - order 5, shipped, paid 10.00 by attempt 5 and paid again by attempt 6
//     (a double payment), refunded in full by refund 4; 1 unit.
//
// Stock: 10 − (2 + 1 + 1 + 1) + 1 = 6.
func seed(t *testing.T, ctx context.Context, d *db.DB) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	w := d.Writer(ctx)
	ins := func(table string, row map[string]any) {
		t.Helper()
		if err := w.Table(table).Create(row).Error; err != nil {
			t.Fatalf("insert into %s: %v", table, err)
		}
	}
	ins("skus", map[string]any{"id": 1, "product_id": 1, "sku_code": "A", "specs": "{}", "price_fen": 1000, "stock": 6,
		"created_at": now, "updated_at": now})
	ins("stock_adjustments", map[string]any{"id": 1, "sku_id": 1, "staff_id": 1, "kind": "initial", "delta": 10,
		"stock_after": 10, "reason": "initial stock", "created_at": now})
	order := func(id int64, status string, units, paid, refunded int64) {
		t.Helper()
		total := units * 1000
		ins("orders", map[string]any{"id": id, "order_no": "M" + string(rune('0'+id)), "customer_id": 1, "status": status,
			"goods_fen": total, "freight_fen": 0, "total_fen": total, "paid_fen": paid, "refunded_fen": refunded,
			"address_id": 1, "ship_name": "n", "ship_phone": "13800000000", "ship_province": "p", "ship_city": "c",
			"ship_district": "d", "ship_detail": "x", "pay_deadline": now, "created_at": now, "updated_at": now})
		ins("order_items", map[string]any{"id": id, "order_id": id, "sku_id": 1, "product_id": 1, "title": "t",
			"price_fen": 1000, "quantity": units, "subtotal_fen": total, "created_at": now})
	}
	attempt := func(id, orderID int64, status string, amount, refunded int64) {
		t.Helper()
		ins("payment_attempts", map[string]any{"id": id, "order_id": orderID, "customer_id": 1, "channel": "wechat",
			"out_trade_no": "P" + string(rune('0'+id)), "amount_fen": amount, "status": status, "description": "d",
			"payer_id": "o", "notify_url": "u", "expires_at": now, "refunded_fen": refunded, "created_at": now, "updated_at": now})
	}
	refund := func(id, attemptID, orderID, amount, anomalyID int64, outRefundNo string) {
		t.Helper()
		ins("payment_refunds", map[string]any{"id": id, "attempt_id": attemptID, "order_id": orderID, "channel": "wechat",
			"out_refund_no": outRefundNo, "amount_fen": amount, "status": "succeeded", "anomaly_id": anomalyID,
			"created_at": now, "updated_at": now})
	}
	anomaly := func(id, orderID, attemptID int64, kind string) {
		t.Helper()
		ins("payment_anomalies", map[string]any{"id": id, "channel": "wechat", "kind": kind, "order_id": orderID,
			"attempt_id": attemptID, "detail": "d", "status": "open", "created_at": now})
	}
	order(1, "paid", 2, 2000, 0)
	attempt(1, 1, "succeeded", 2000, 0)

	order(2, "cancelled", 1, 0, 0)
	attempt(2, 2, "succeeded", 1000, 1000)
	anomaly(1, 2, 2, "late_payment")
	refund(2, 2, 2, 1000, 1, "RP2A")

	order(3, "closed", 1, 1000, 1000)
	if err := w.Exec("UPDATE order_items SET aftersale_quantity = 1, aftersale_fen = 1000, refunded_quantity = 1, withheld_quantity = 1 WHERE id = 3").Error; err != nil {
		t.Fatal(err)
	}
	attempt(3, 3, "succeeded", 1000, 1000)
	ins("aftersales", map[string]any{"id": 1, "order_id": 3, "customer_id": 1, "type": "refund_only", "status": "refunded",
		"initiator": "customer", "reason": "other", "images": "[]", "before_shipping": 1, "computed_fen": 1000, "refund_fen": 1000,
		"out_refund_no": "AS1", "approved_at": now, "refunded_at": now, "created_at": now, "updated_at": now})
	ins("aftersale_items", map[string]any{"id": 1, "aftersale_id": 1, "order_id": 3, "order_item_id": 3, "sku_id": 1,
		"quantity": 1, "share_fen": 1000})
	refund(3, 3, 3, 1000, 0, "AS1")

	order(4, "pending_payment", 1, 0, 0)
	attempt(4, 4, "pending", 1000, 0)

	order(5, "shipped", 1, 1000, 0)
	attempt(5, 5, "succeeded", 1000, 0)
	attempt(6, 5, "succeeded", 1000, 1000)
	anomaly(2, 5, 6, "double_payment")
	refund(4, 6, 5, 1000, 2, "RP6A")
}

var errRollback = errors.New("roll back the fixture")

// within seeds the fixture in a transaction, applies breakage, checks
// through the same transaction and rolls everything back, so each case
// starts from the consistent fixture.
func within(t *testing.T, d *db.DB, breakage string) check.Report {
	t.Helper()
	ctx := context.Background()
	var rep check.Report
	err := d.Tx(ctx, func(ctx context.Context) error {
		seed(t, ctx, d)
		for _, stmt := range strings.Split(breakage, ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if err := d.Writer(ctx).Exec(stmt).Error; err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		var err error
		rep, err = check.Run(ctx, d, time.Now())
		if err != nil {
			t.Fatalf("check: %v", err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("fixture transaction: %v", err)
	}
	return rep
}

func TestConsistentShopPasses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rep := within(t, d, "")
		if !rep.OK() || len(rep.Pending) > 0 {
			var b strings.Builder
			_ = rep.WriteText(&b)
			t.Fatalf("the consistent fixture reports findings:\n%s", b.String())
		}
		if got := rep.Checked["orders"]; got != 5 {
			t.Errorf("checked %d orders, want 5", got)
		}
	})
}

func TestEachBrokenInvariantIsReported(t *testing.T) {
	cases := []struct {
		name     string
		breakage string
		rule     check.Rule
		subject  string
		pending  bool
	}{
		{"paid order without a payment", "UPDATE payment_attempts SET status = 'closed' WHERE id = 1",
			check.RulePaidOnce, "order 1 ", false},
		{"double payment not recorded as one", "DELETE FROM payment_anomalies WHERE id = 2; DELETE FROM payment_refunds WHERE id = 4; UPDATE payment_attempts SET refunded_fen = 0 WHERE id = 6",
			check.RulePaidOnce, "order 5 ", false},
		{"pending order with a succeeded payment", "UPDATE payment_attempts SET status = 'succeeded' WHERE id = 4",
			check.RulePaidOnce, "order 4 ", false},
		{"cancelled order paid without a late payment record", "DELETE FROM payment_anomalies WHERE id = 1; UPDATE payment_refunds SET anomaly_id = 0 WHERE id = 2",
			check.RulePaidOnce, "order 2 ", false},
		{"order paid_fen not its total", "UPDATE orders SET paid_fen = 1999 WHERE id = 1",
			check.RulePaidAmount, "order 1 ", false},
		{"order paid by an attempt of another amount", "UPDATE payment_attempts SET amount_fen = 1500 WHERE id = 1",
			check.RulePaidAmount, "order 1 ", false},
		{"late payment refund failed", "UPDATE payment_refunds SET status = 'failed' WHERE id = 2; UPDATE payment_attempts SET refunded_fen = 0 WHERE id = 2",
			check.RuleAutoRefund, "attempt 2 ", false},
		{"double payment refund not asked for yet", "DELETE FROM payment_refunds WHERE id = 4; UPDATE payment_attempts SET refunded_fen = 0 WHERE id = 6",
			check.RuleAutoRefund, "attempt 6 ", true},
		{"refund above its attempt", "UPDATE payment_refunds SET amount_fen = 1001 WHERE id = 4; UPDATE payment_attempts SET refunded_fen = 1001 WHERE id = 6",
			check.RuleRefundWithinAttempt, "attempt 6 ", false},
		{"refund of an attempt that did not succeed", "UPDATE payment_attempts SET status = 'closed' WHERE id = 6",
			check.RuleRefundWithinAttempt, "attempt 6 ", false},
		{"attempt refunded_fen not its refunds", "UPDATE payment_attempts SET refunded_fen = 900 WHERE id = 3",
			check.RuleAttemptRefunded, "attempt 3 ", false},
		{"processing refunds count", "UPDATE payment_refunds SET status = 'processing' WHERE id = 3; UPDATE payment_attempts SET refunded_fen = 0 WHERE id = 3",
			check.RuleAttemptRefunded, "attempt 3 ", false},
		{"order refunded_fen not its refunds", "UPDATE orders SET refunded_fen = 999 WHERE id = 3",
			check.RuleOrderRefunded, "order 3 ", false},
		{"order refunded above what it paid", "UPDATE orders SET refunded_fen = 1500, paid_fen = 1000 WHERE id = 3; UPDATE aftersales SET refund_fen = 1500 WHERE id = 1",
			check.RuleOrderRefunded, "order 3 ", false},
		{"refund no after-sale asked for", "INSERT INTO payment_refunds (id, attempt_id, order_id, channel, out_refund_no, amount_fen, status, anomaly_id, created_at, updated_at) VALUES (9, 1, 1, 'wechat', 'X9', 100, 'processing', 0, '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000'); UPDATE payment_attempts SET refunded_fen = 100 WHERE id = 1",
			check.RuleRefundHasAfterSale, "refund 9 ", false},
		{"refunded after-sale whose refund failed", "UPDATE payment_refunds SET status = 'failed' WHERE id = 3; UPDATE payment_attempts SET refunded_fen = 0 WHERE id = 3",
			check.RuleRefundHasAfterSale, "after-sale 1 ", false},
		{"after-sale refund not asked for yet", "UPDATE aftersales SET status = 'refunding' WHERE id = 1; DELETE FROM payment_refunds WHERE id = 3; UPDATE payment_attempts SET refunded_fen = 0 WHERE id = 3",
			check.RuleRefundHasAfterSale, "after-sale 1 ", true},
		{"closed order with a line not refunded", "UPDATE order_items SET refunded_quantity = 0 WHERE id = 3",
			check.RuleClosedRefunded, "order 3 ", false},
		{"stock that appeared from nowhere", "UPDATE skus SET stock = stock + 1 WHERE id = 1",
			check.RuleStockConserved, "sku 1 ", false},
		{"exchange replacement taken without a record", "UPDATE skus SET stock = 5 WHERE id = 1",
			check.RuleStockConserved, "sku 1 ", false},
		{"cancel that kept the stock", "UPDATE orders SET status = 'cancelled', paid_fen = 0 WHERE id = 4",
			check.RuleStockConserved, "sku 1 ", false},
		{"refund after shipping that put the units back", "UPDATE aftersales SET before_shipping = 0 WHERE id = 1",
			check.RuleStockConserved, "sku 1 ", false},
		{"negative stock", "UPDATE skus SET stock = -1 WHERE id = 1",
			check.RuleStockConserved, "sku 1 ", false},
		{"checkout guard bound below the unpaid orders", "INSERT INTO order_checkout_guards (customer_id, checkouts, updated_at, unpaid_seen) SELECT customer_id, 1, '2026-01-01 00:00:00.000', 0 FROM orders WHERE id = 4",
			check.RuleUnpaidBound, "customer ", false},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				rep := within(t, d, tc.breakage)
				var b strings.Builder
				_ = rep.WriteText(&b)
				if tc.pending {
					if !rep.HasPending(tc.rule, tc.subject) {
						t.Fatalf("no pending %s finding for %q:\n%s", tc.rule, tc.subject, b.String())
					}
					if !rep.OK() {
						t.Fatalf("pending work reported as broken:\n%s", b.String())
					}
					return
				}
				if !rep.Has(tc.rule, tc.subject) {
					t.Fatalf("no %s finding for %q:\n%s", tc.rule, tc.subject, b.String())
				}
				if rep.OK() {
					t.Fatal("OK with a broken invariant")
				}
			})
		}
	})
}
