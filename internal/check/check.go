// Package check reads the system of record and reports every broken money
// or stock invariant: what `minimall check` prints after an incident, and
// what the fault and crash tests assert on.
//
// It only reads, through plain SQL that runs on SQLite and MySQL alike, and
// it knows the tables of several modules (orders, payments, after-sales,
// catalog) on purpose: an invariant that spans modules cannot be checked by
// any one of them. The rules, with the exact formula of each, are listed in
// Rules and in docs/operations.md.
//
// A finding is either broken (money or stock is wrong, or work that no job
// will finish is missing) or pending (work in flight that a background job
// finishes by itself, such as a refund not asked for yet because the
// instance stopped right after committing). Only broken findings make
// `minimall check` exit non-zero.
package check

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/minimall/minimall/internal/platform/db"
)

// Rule names one invariant.
type Rule string

// The invariants. docs/operations.md repeats them for operators.
const (
	// Every order in paid, shipped, completed or closed has exactly one
	// paying attempt: a succeeded attempt that is not recorded as a late or
	// double payment. A pending or cancelled order has none.
	RulePaidOnce Rule = "order_paid_once"
	// A paid (or later) order's paid_fen and its paying attempt's amount
	// equal its total_fen; a pending or cancelled order's paid_fen is 0.
	RulePaidAmount Rule = "order_paid_amount"
	// Every late or double payment (a succeeded attempt with a late_payment
	// or double_payment anomaly) is refunded in full by a refund that has
	// not failed, unless staff resolved the anomaly (they dealt with the
	// money). No refund yet while the anomaly is open is pending (the
	// payment anomaly job asks for it).
	RuleAutoRefund Rule = "double_payment_refunded"
	// The refunds of an attempt that have not failed add up to at most its
	// amount, and only a succeeded attempt has such refunds.
	RuleRefundWithinAttempt Rule = "refund_within_attempt"
	// An attempt's refunded_fen equals the sum of its refunds in
	// processing, succeeded or abnormal (abnormal: WeChat Pay could not
	// credit the payer; the money left the merchant and stays counted).
	RuleAttemptRefunded Rule = "attempt_refunded_fen"
	// An order's refunded_fen equals the sum of the refund_fen of its
	// after-sales that were granted (refunding or refunded), is at most its
	// paid_fen, and equals the sum of its refunds in processing, succeeded
	// or abnormal that are not late or double payment refunds, plus the
	// refund_fen of refunding after-sales whose refund is not asked for
	// yet or failed and waits to be re-submitted (those are pending).
	RuleOrderRefunded Rule = "order_refunded_fen"
	// Every refund that is not a late or double payment refund belongs to
	// a granted after-sale of its order (same out_refund_no, same amount);
	// a refunded after-sale's refund succeeded.
	RuleRefundHasAfterSale Rule = "refund_matches_aftersale"
	// A closed order has every unit of every line refunded.
	RuleClosedRefunded Rule = "closed_order_refunded"
	// Per SKU: stock = Σ stock_adjustments.delta (initial stock and staff
	// changes) − Σ units of order lines of orders not cancelled + Σ units
	// of approved refund-only after-sales made before shipping (the goods
	// never left) + Σ units of after-sales whose return was received −
	// Σ replacement units of exchanges approved and not ended (rejected or
	// cancelled); and stock ≥ 0.
	RuleStockConserved Rule = "stock_conserved"
	// A customer's checkout guard row holds an upper bound of their unpaid
	// orders (unpaid_seen): it is never below the orders pending payment.
	// Checkout trusts it to keep the unpaid-order cap without counting.
	RuleUnpaidBound Rule = "checkout_unpaid_bound"
)

// Rules lists every rule in report order with a one-line meaning.
var Rules = []struct {
	Rule    Rule
	Meaning string
}{
	{RulePaidOnce, "a paid (or later) order has exactly one succeeded attempt that paid it; a pending or cancelled order none"},
	{RulePaidAmount, "an order was paid its total: paid_fen and the paying attempt's amount equal total_fen"},
	{RuleAutoRefund, "every late or double payment is refunded in full (or resolved by staff)"},
	{RuleRefundWithinAttempt, "no attempt is refunded above its amount; only succeeded attempts are refunded"},
	{RuleAttemptRefunded, "an attempt's refunded_fen equals the sum of its processing, succeeded and abnormal refunds"},
	{RuleOrderRefunded, "an order's refunded_fen equals its granted after-sales and the sum of its processing, succeeded and abnormal refunds; at most paid_fen"},
	{RuleRefundHasAfterSale, "every order refund belongs to one granted after-sale of the same amount"},
	{RuleClosedRefunded, "a closed order has every line refunded in full"},
	{RuleStockConserved, "per SKU: stock = adjustments − units ordered (not cancelled) + units back (refunded before shipping, returns received) − exchange replacements; never negative"},
	{RuleUnpaidBound, "a customer's checkout guard row bounds their unpaid orders from above (unpaid_seen ≥ orders pending payment)"},
}

// Finding is one broken or pending invariant.
type Finding struct {
	Rule    Rule   `json:"rule"`
	Subject string `json:"subject"` // "order 12 (M2026...)", "sku 7", "attempt 3 (P...)"
	Detail  string `json:"detail"`
}

// Report is the outcome of Run.
type Report struct {
	CheckedAt time.Time        `json:"checked_at"`
	Dialect   string           `json:"dialect"`
	Checked   map[string]int64 `json:"checked"` // rows read per table
	Broken    []Finding        `json:"broken"`
	Pending   []Finding        `json:"pending"`
}

// OK reports whether no invariant is broken (pending work is allowed).
func (r Report) OK() bool { return len(r.Broken) == 0 }

// Has reports whether the report holds a broken finding of rule whose
// subject starts with subject ("" matches any).
func (r Report) Has(rule Rule, subject string) bool {
	for _, f := range r.Broken {
		if f.Rule == rule && strings.HasPrefix(f.Subject, subject) {
			return true
		}
	}
	return false
}

// HasPending is Has for pending findings.
func (r Report) HasPending(rule Rule, subject string) bool {
	for _, f := range r.Pending {
		if f.Rule == rule && strings.HasPrefix(f.Subject, subject) {
			return true
		}
	}
	return false
}

// WriteText writes the report for a person: a line per rule with its
// verdict, then every finding.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "minimall check at %s on %s: %d orders, %d payment attempts, %d refunds, %d after-sales, %d SKUs\n",
		r.CheckedAt.Format(time.RFC3339), r.Dialect, r.Checked["orders"], r.Checked["payment_attempts"],
		r.Checked["payment_refunds"], r.Checked["aftersales"], r.Checked["skus"])
	broken, pending := map[Rule]int{}, map[Rule]int{}
	for _, f := range r.Broken {
		broken[f.Rule]++
	}
	for _, f := range r.Pending {
		pending[f.Rule]++
	}
	for _, x := range Rules {
		verdict := "ok"
		switch {
		case broken[x.Rule] > 0:
			verdict = fmt.Sprintf("BROKEN (%d)", broken[x.Rule])
		case pending[x.Rule] > 0:
			verdict = fmt.Sprintf("ok, %d pending", pending[x.Rule])
		}
		fmt.Fprintf(&b, "  %-26s %-14s %s\n", x.Rule, verdict, x.Meaning)
	}
	if len(r.Broken) > 0 {
		fmt.Fprintf(&b, "\nbroken (%d):\n", len(r.Broken))
		for _, f := range r.Broken {
			fmt.Fprintf(&b, "  %s: %s: %s\n", f.Rule, f.Subject, f.Detail)
		}
	}
	if len(r.Pending) > 0 {
		fmt.Fprintf(&b, "\npending, finished by the background jobs (%d):\n", len(r.Pending))
		for _, f := range r.Pending {
			fmt.Fprintf(&b, "  %s: %s: %s\n", f.Rule, f.Subject, f.Detail)
		}
	}
	if r.OK() {
		b.WriteString("\nevery invariant holds\n")
	} else {
		fmt.Fprintf(&b, "\n%d invariant violations\n", len(r.Broken))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// checker accumulates findings while the queries run.
type checker struct {
	d   *db.DB
	rep *Report
}

func (c *checker) broken(rule Rule, subject, format string, args ...any) {
	c.rep.Broken = append(c.rep.Broken, Finding{Rule: rule, Subject: subject, Detail: fmt.Sprintf(format, args...)})
}

func (c *checker) pending(rule Rule, subject, format string, args ...any) {
	c.rep.Pending = append(c.rep.Pending, Finding{Rule: rule, Subject: subject, Detail: fmt.Sprintf(format, args...)})
}

func (c *checker) scan(ctx context.Context, dest any, query string, args ...any) error {
	if err := c.d.Reader(ctx).Raw(query, args...).Scan(dest).Error; err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return nil
}

// Run reads the database and checks every rule. It reads outside a
// transaction, table by table, so on a live shop a change that commits
// between two queries can show as a finding; run it again (or on a quiet
// database, as after an incident) before acting on one.
func Run(ctx context.Context, d *db.DB, now time.Time) (Report, error) {
	rep := Report{CheckedAt: now.UTC(), Dialect: d.Dialect(), Checked: map[string]int64{},
		Broken: []Finding{}, Pending: []Finding{}}
	c := &checker{d: d, rep: &rep}
	for _, t := range []string{"orders", "payment_attempts", "payment_refunds", "aftersales", "skus"} {
		var n int64
		if err := c.scan(ctx, &n, "SELECT COUNT(*) FROM "+t); err != nil {
			return rep, err
		}
		rep.Checked[t] = n
	}
	for _, step := range []func(context.Context) error{
		c.paidOnce, c.paidAmount, c.autoRefunds, c.attemptRefunds, c.orderRefunds,
		c.refundsHaveAfterSales, c.closedRefunded, c.stock, c.unpaidBound,
	} {
		if err := step(ctx); err != nil {
			return rep, err
		}
	}
	order := map[Rule]int{}
	for i, x := range Rules {
		order[x.Rule] = i
	}
	for _, fs := range [][]Finding{rep.Broken, rep.Pending} {
		sort.SliceStable(fs, func(i, j int) bool { return order[fs[i].Rule] < order[fs[j].Rule] })
	}
	return rep, nil
}

// The statuses of an order that has been paid.
const paidStatuses = "('paid','shipped','completed','closed')"

// autoRefunded is the SQL condition "attempt a is a late or double payment".
const autoRefunded = "EXISTS (SELECT 1 FROM payment_anomalies x WHERE x.attempt_id = a.id AND x.kind IN ('late_payment','double_payment'))"

// liveRefund is the SQL condition on refund r: its amount is counted.
const liveRefund = "r.status IN ('processing','succeeded','abnormal')"

func orderSubject(id int64, no string) string { return fmt.Sprintf("order %d (%s)", id, no) }

func (c *checker) paidOnce(ctx context.Context) error {
	var rows []struct {
		ID      int64
		OrderNo string
		Status  string
		Paying  int64
		Others  int64
	}
	err := c.scan(ctx, &rows, `SELECT o.id, o.order_no, o.status,
			(SELECT COUNT(*) FROM payment_attempts a WHERE a.order_id = o.id AND a.status = 'succeeded' AND NOT `+autoRefunded+`) AS paying,
			(SELECT COUNT(*) FROM payment_attempts a WHERE a.order_id = o.id AND a.status = 'succeeded' AND `+autoRefunded+`) AS others
		FROM orders o
		WHERE (o.status IN `+paidStatuses+` AND (SELECT COUNT(*) FROM payment_attempts a WHERE a.order_id = o.id AND a.status = 'succeeded' AND NOT `+autoRefunded+`) <> 1)
		   OR (o.status NOT IN `+paidStatuses+` AND EXISTS (SELECT 1 FROM payment_attempts a WHERE a.order_id = o.id AND a.status = 'succeeded' AND NOT `+autoRefunded+`))
		ORDER BY o.id`)
	if err != nil {
		return err
	}
	for _, r := range rows {
		s := orderSubject(r.ID, r.OrderNo)
		switch {
		case r.Paying == 0:
			c.broken(RulePaidOnce, s, "%s without a succeeded attempt that paid it (%d late or double payments)", r.Status, r.Others)
		case r.Status == "pending_payment" || r.Status == "cancelled":
			c.broken(RulePaidOnce, s, "%s but %d succeeded attempts are not recorded as late or double payments", r.Status, r.Paying)
		default:
			c.broken(RulePaidOnce, s, "%s and paid by %d succeeded attempts not recorded as double payments", r.Status, r.Paying)
		}
	}
	return nil
}

func (c *checker) paidAmount(ctx context.Context) error {
	var orders []struct {
		ID       int64
		OrderNo  string
		Status   string
		TotalFen int64
		PaidFen  int64
	}
	err := c.scan(ctx, &orders, `SELECT id, order_no, status, total_fen, paid_fen FROM orders
		WHERE (status IN `+paidStatuses+` AND paid_fen <> total_fen) OR (status NOT IN `+paidStatuses+` AND paid_fen <> 0)
		ORDER BY id`)
	if err != nil {
		return err
	}
	for _, o := range orders {
		c.broken(RulePaidAmount, orderSubject(o.ID, o.OrderNo), "%s with paid_fen %d and total_fen %d", o.Status, o.PaidFen, o.TotalFen)
	}
	var attempts []struct {
		OrderID    int64
		OrderNo    string
		ID         int64
		OutTradeNo string
		AmountFen  int64
		TotalFen   int64
	}
	err = c.scan(ctx, &attempts, `SELECT o.id AS order_id, o.order_no, a.id, a.out_trade_no, a.amount_fen, o.total_fen
		FROM payment_attempts a JOIN orders o ON o.id = a.order_id
		WHERE a.status = 'succeeded' AND NOT `+autoRefunded+` AND a.amount_fen <> o.total_fen
		ORDER BY o.id, a.id`)
	if err != nil {
		return err
	}
	for _, a := range attempts {
		c.broken(RulePaidAmount, orderSubject(a.OrderID, a.OrderNo), "paid %d fen by attempt %d (%s) for a total of %d fen",
			a.AmountFen, a.ID, a.OutTradeNo, a.TotalFen)
	}
	return nil
}

func (c *checker) autoRefunds(ctx context.Context) error {
	var rows []struct {
		ID            int64
		Kind          string
		Status        string
		OrderID       int64
		AttemptID     int64
		OutTradeNo    string
		AttemptStatus string
		AmountFen     int64
		Live          int64
		Refunds       int64
	}
	err := c.scan(ctx, &rows, `SELECT x.id, x.kind, x.status, x.order_id, x.attempt_id, a.out_trade_no,
			a.status AS attempt_status, a.amount_fen,
			COALESCE((SELECT SUM(r.amount_fen) FROM payment_refunds r WHERE r.anomaly_id = x.id AND `+liveRefund+`), 0) AS live,
			(SELECT COUNT(*) FROM payment_refunds r WHERE r.anomaly_id = x.id) AS refunds
		FROM payment_anomalies x JOIN payment_attempts a ON a.id = x.attempt_id
		WHERE x.kind IN ('late_payment','double_payment')
		ORDER BY x.id`)
	if err != nil {
		return err
	}
	for _, r := range rows {
		s := fmt.Sprintf("attempt %d (%s) of order %d", r.AttemptID, r.OutTradeNo, r.OrderID)
		switch {
		case r.AttemptStatus != "succeeded":
			c.broken(RuleAutoRefund, s, "%s anomaly %d on an attempt that is %s", r.Kind, r.ID, r.AttemptStatus)
		case r.Live == r.AmountFen:
		case r.Live > r.AmountFen:
			c.broken(RuleAutoRefund, s, "%s of %d fen refunded %d fen (anomaly %d)", r.Kind, r.AmountFen, r.Live, r.ID)
		case r.Status != "open":
			// Staff resolved it: they dealt with the money themselves.
		case r.Refunds == 0:
			c.pending(RuleAutoRefund, s, "%s of %d fen not refunded yet; the payment-anomaly-refund job asks for it (anomaly %d)", r.Kind, r.AmountFen, r.ID)
		default:
			c.broken(RuleAutoRefund, s, "%s of %d fen: refunds that have not failed add up to %d fen; re-submit it (POST /api/v1/admin/payment-anomalies/%d/refund)",
				r.Kind, r.AmountFen, r.Live, r.ID)
		}
	}
	return nil
}

func (c *checker) attemptRefunds(ctx context.Context) error {
	var rows []struct {
		ID          int64
		OutTradeNo  string
		OrderID     int64
		Status      string
		AmountFen   int64
		RefundedFen int64
		Live        int64
	}
	err := c.scan(ctx, &rows, `SELECT a.id, a.out_trade_no, a.order_id, a.status, a.amount_fen, a.refunded_fen,
			COALESCE(SUM(CASE WHEN `+liveRefund+` THEN r.amount_fen ELSE 0 END), 0) AS live
		FROM payment_attempts a LEFT JOIN payment_refunds r ON r.attempt_id = a.id
		GROUP BY a.id, a.out_trade_no, a.order_id, a.status, a.amount_fen, a.refunded_fen
		HAVING a.refunded_fen <> COALESCE(SUM(CASE WHEN `+liveRefund+` THEN r.amount_fen ELSE 0 END), 0)
		    OR COALESCE(SUM(CASE WHEN `+liveRefund+` THEN r.amount_fen ELSE 0 END), 0) > a.amount_fen
		    OR (a.status <> 'succeeded' AND COALESCE(SUM(CASE WHEN `+liveRefund+` THEN r.amount_fen ELSE 0 END), 0) > 0)
		ORDER BY a.id`)
	if err != nil {
		return err
	}
	for _, a := range rows {
		s := fmt.Sprintf("attempt %d (%s) of order %d", a.ID, a.OutTradeNo, a.OrderID)
		if a.RefundedFen != a.Live {
			c.broken(RuleAttemptRefunded, s, "refunded_fen %d but its processing, succeeded and abnormal refunds add up to %d", a.RefundedFen, a.Live)
		}
		if a.Live > a.AmountFen {
			c.broken(RuleRefundWithinAttempt, s, "refunds of %d fen on a payment of %d fen", a.Live, a.AmountFen)
		}
		if a.Status != "succeeded" && a.Live > 0 {
			c.broken(RuleRefundWithinAttempt, s, "refunds of %d fen on an attempt that is %s", a.Live, a.Status)
		}
	}
	return nil
}

func (c *checker) orderRefunds(ctx context.Context) error {
	var rows []struct {
		ID          int64
		OrderNo     string
		PaidFen     int64
		RefundedFen int64
		Granted     int64
		Live        int64
		Waiting     int64
	}
	// waiting: refunding after-sales whose refund is not asked for yet, or
	// failed and waits for the after-sale refund job to re-submit it.
	err := c.scan(ctx, &rows, `SELECT o.id, o.order_no, o.paid_fen, o.refunded_fen,
			COALESCE((SELECT SUM(s.refund_fen) FROM aftersales s WHERE s.order_id = o.id AND s.status IN ('refunding','refunded')), 0) AS granted,
			COALESCE((SELECT SUM(r.amount_fen) FROM payment_refunds r WHERE r.order_id = o.id AND r.anomaly_id = 0 AND `+liveRefund+`), 0) AS live,
			COALESCE((SELECT SUM(s.refund_fen) FROM aftersales s WHERE s.order_id = o.id AND s.status = 'refunding'
				AND NOT EXISTS (SELECT 1 FROM payment_refunds r WHERE r.out_refund_no = s.out_refund_no AND `+liveRefund+`)), 0) AS waiting
		FROM orders o
		WHERE o.refunded_fen <> 0
		   OR EXISTS (SELECT 1 FROM aftersales s WHERE s.order_id = o.id AND s.status IN ('refunding','refunded'))
		   OR EXISTS (SELECT 1 FROM payment_refunds r WHERE r.order_id = o.id AND r.anomaly_id = 0)
		ORDER BY o.id`)
	if err != nil {
		return err
	}
	for _, o := range rows {
		s := orderSubject(o.ID, o.OrderNo)
		if o.RefundedFen > o.PaidFen {
			c.broken(RuleOrderRefunded, s, "refunded_fen %d above paid_fen %d", o.RefundedFen, o.PaidFen)
		}
		if o.RefundedFen != o.Granted {
			c.broken(RuleOrderRefunded, s, "refunded_fen %d but its granted after-sales add up to %d", o.RefundedFen, o.Granted)
		}
		if o.RefundedFen != o.Live+o.Waiting {
			c.broken(RuleOrderRefunded, s, "refunded_fen %d but its processing, succeeded and abnormal refunds add up to %d (and %d fen wait to be asked for)",
				o.RefundedFen, o.Live, o.Waiting)
		}
	}
	return nil
}

func (c *checker) refundsHaveAfterSales(ctx context.Context) error {
	// Refunds that are not late or double payment refunds, with the
	// after-sale of the same out_refund_no if any.
	var refunds []struct {
		ID          int64
		OutRefundNo string
		OrderID     int64
		AmountFen   int64
		Status      string
		AfterSale   int64
		SaleOrder   int64
		SaleStatus  string
		RefundFen   int64
	}
	err := c.scan(ctx, &refunds, `SELECT r.id, r.out_refund_no, r.order_id, r.amount_fen, r.status,
			COALESCE(s.id, 0) AS after_sale, COALESCE(s.order_id, 0) AS sale_order, COALESCE(s.status, '') AS sale_status,
			COALESCE(s.refund_fen, 0) AS refund_fen
		FROM payment_refunds r LEFT JOIN aftersales s ON s.out_refund_no = r.out_refund_no
		WHERE r.anomaly_id = 0
		ORDER BY r.id`)
	if err != nil {
		return err
	}
	for _, r := range refunds {
		s := fmt.Sprintf("refund %d (%s) of order %d", r.ID, r.OutRefundNo, r.OrderID)
		switch {
		case r.AfterSale == 0:
			c.broken(RuleRefundHasAfterSale, s, "%s refund of %d fen that no after-sale asked for", r.Status, r.AmountFen)
		case r.SaleOrder != r.OrderID:
			c.broken(RuleRefundHasAfterSale, s, "after-sale %d asking for it belongs to order %d", r.AfterSale, r.SaleOrder)
		case r.SaleStatus != "refunding" && r.SaleStatus != "refunded":
			c.broken(RuleRefundHasAfterSale, s, "%s refund for after-sale %d, which is %s", r.Status, r.AfterSale, r.SaleStatus)
		case r.RefundFen != r.AmountFen:
			c.broken(RuleRefundHasAfterSale, s, "%d fen for after-sale %d, which granted %d fen", r.AmountFen, r.AfterSale, r.RefundFen)
		}
	}
	var sales []struct {
		ID        int64
		OrderID   int64
		Status    string
		RefundFen int64
		Refund    int64
		RStatus   string
	}
	err = c.scan(ctx, &sales, `SELECT s.id, s.order_id, s.status, s.refund_fen,
			COALESCE(r.id, 0) AS refund, COALESCE(r.status, '') AS r_status
		FROM aftersales s LEFT JOIN payment_refunds r ON r.out_refund_no = s.out_refund_no
		WHERE s.status IN ('refunding','refunded')
		ORDER BY s.id`)
	if err != nil {
		return err
	}
	for _, a := range sales {
		s := fmt.Sprintf("after-sale %d of order %d", a.ID, a.OrderID)
		switch {
		case a.Status == "refunded" && a.RStatus != "succeeded":
			c.broken(RuleRefundHasAfterSale, s, "refunded, but its refund is %q", a.RStatus)
		case a.Status == "refunding" && a.Refund == 0:
			c.pending(RuleRefundHasAfterSale, s, "refund of %d fen not asked for yet; the after-sale refund job asks for it", a.RefundFen)
		case a.Status == "refunding" && a.RStatus == "failed":
			c.pending(RuleRefundHasAfterSale, s, "refund of %d fen failed; the after-sale refund job re-submits it", a.RefundFen)
		case a.Status == "refunding" && a.RStatus == "succeeded":
			c.pending(RuleRefundHasAfterSale, s, "refund succeeded; the after-sale refund job marks it refunded")
		}
	}
	return nil
}

func (c *checker) closedRefunded(ctx context.Context) error {
	var rows []struct {
		ID       int64
		OrderNo  string
		ItemID   int64
		Quantity int64
		Refunded int64
	}
	err := c.scan(ctx, &rows, `SELECT o.id, o.order_no, i.id AS item_id, i.quantity, i.refunded_quantity AS refunded
		FROM orders o JOIN order_items i ON i.order_id = o.id
		WHERE o.status = 'closed' AND i.refunded_quantity < i.quantity
		ORDER BY o.id, i.id`)
	if err != nil {
		return err
	}
	for _, r := range rows {
		c.broken(RuleClosedRefunded, orderSubject(r.ID, r.OrderNo), "closed with line %d refunded %d of %d units", r.ItemID, r.Refunded, r.Quantity)
	}
	return nil
}

func (c *checker) stock(ctx context.Context) error {
	var rows []struct {
		ID       int64
		SKUCode  string
		Stock    int64
		Adjusted int64
		Ordered  int64
		Back     int64
		Replaced int64
	}
	err := c.scan(ctx, &rows, `SELECT k.id, k.sku_code, k.stock,
			COALESCE((SELECT SUM(s.delta) FROM stock_adjustments s WHERE s.sku_id = k.id), 0) AS adjusted,
			COALESCE((SELECT SUM(i.quantity) FROM order_items i JOIN orders o ON o.id = i.order_id
				WHERE i.sku_id = k.id AND o.status <> 'cancelled'), 0) AS ordered,
			COALESCE((SELECT SUM(t.quantity) FROM aftersale_items t JOIN aftersales a ON a.id = t.aftersale_id
				WHERE t.sku_id = k.id AND ((a.type = 'refund_only' AND a.before_shipping = 1 AND a.approved_at IS NOT NULL)
					OR a.returned_at IS NOT NULL)), 0) AS back,
			COALESCE((SELECT SUM(t.quantity) FROM aftersale_items t JOIN aftersales a ON a.id = t.aftersale_id
				WHERE t.exchange_sku_id = k.id AND a.type = 'exchange' AND a.approved_at IS NOT NULL
					AND a.status NOT IN ('rejected','cancelled')), 0) AS replaced
		FROM skus k ORDER BY k.id`)
	if err != nil {
		return err
	}
	for _, k := range rows {
		want := k.Adjusted - k.Ordered + k.Back - k.Replaced
		s := fmt.Sprintf("sku %d (%s)", k.ID, k.SKUCode)
		if k.Stock != want {
			c.broken(RuleStockConserved, s, "stock %d, expected %d = adjustments %d − ordered %d + back %d − exchange replacements %d (%+d units)",
				k.Stock, want, k.Adjusted, k.Ordered, k.Back, k.Replaced, k.Stock-want)
		}
		if k.Stock < 0 {
			c.broken(RuleStockConserved, s, "negative stock %d", k.Stock)
		}
	}
	return nil
}

func (c *checker) unpaidBound(ctx context.Context) error {
	var rows []struct {
		CustomerID int64
		Bound      int64
		Unpaid     int64
	}
	err := c.scan(ctx, &rows, `SELECT g.customer_id, g.unpaid_seen AS bound,
			(SELECT COUNT(*) FROM orders o WHERE o.customer_id = g.customer_id AND o.status = 'pending_payment') AS unpaid
		FROM order_checkout_guards g
		WHERE g.unpaid_seen < (SELECT COUNT(*) FROM orders o WHERE o.customer_id = g.customer_id AND o.status = 'pending_payment')
		ORDER BY g.customer_id`)
	if err != nil {
		return err
	}
	for _, r := range rows {
		c.broken(RuleUnpaidBound, fmt.Sprintf("customer %d", r.CustomerID),
			"checkout guard bound %d is below the customer's %d unpaid orders: the unpaid-order cap can be passed (set unpaid_seen to the count)", r.Bound, r.Unpaid)
	}
	return nil
}
