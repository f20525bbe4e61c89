package payment

import (
	"context"
	"errors"
	"time"

	"github.com/minimall/minimall/internal/platform/db"
)

// errRefundExceeds rolls back a refund whose amount would take the
// attempt's refunds over its paid amount.
var errRefundExceeds = errors.New("payment: refunds would exceed the paid amount")

type refundRow struct {
	ID               int64
	AttemptID        int64
	OrderID          int64
	Channel          string
	OutRefundNo      string
	AmountFen        int64
	Reason           string
	Status           string
	ProviderRefundID string
	AnomalyID        int64
	Detail           string
	NextCheckAt      *time.Time
	Checks           int
	SucceededAt      *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

func (refundRow) TableName() string { return "payment_refunds" }

func (r refundRow) refund() Refund {
	return Refund{
		ID: r.ID, AttemptID: r.AttemptID, OrderID: r.OrderID, Channel: Channel(r.Channel), OutRefundNo: r.OutRefundNo,
		AmountFen: r.AmountFen, Reason: r.Reason, Status: RefundStatus(r.Status), ProviderRefundID: r.ProviderRefundID,
		AnomalyID: r.AnomalyID, Detail: r.Detail, NextCheckAt: utcPtr(r.NextCheckAt), Checks: r.Checks,
		SucceededAt: utcPtr(r.SucceededAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// ReserveRefund stores a processing refund and counts its amount against
// its attempt, in the transaction of ctx: the attempt's refunded_fen grows
// by a guarded update (refunded_fen + amount <= amount_fen, and only while
// the attempt is succeeded). errRefundExceeds reports a guard that did not
// match; db.IsDuplicate an out_refund_no used before.
func (s *Store) ReserveRefund(ctx context.Context, r *Refund) error {
	row := refundRow{
		AttemptID: r.AttemptID, OrderID: r.OrderID, Channel: string(r.Channel), OutRefundNo: r.OutRefundNo,
		AmountFen: r.AmountFen, Reason: r.Reason, Status: string(RefundProcessing), AnomalyID: r.AnomalyID,
		NextCheckAt: utcPtr(r.NextCheckAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.CreatedAt.UTC(),
	}
	if err := s.db.Writer(ctx).Create(&row).Error; err != nil {
		return err
	}
	res := s.db.Writer(ctx).Exec(`UPDATE payment_attempts SET refunded_fen = refunded_fen + ?, updated_at = ?
		WHERE id = ? AND status = ? AND refunded_fen + ? <= amount_fen`,
		r.AmountFen, r.CreatedAt.UTC(), r.AttemptID, string(StatusSucceeded), r.AmountFen)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return errRefundExceeds
	}
	*r = row.refund()
	return nil
}

// ReleaseRefund gives a refund's amount back to its attempt's refundable
// amount, once the refund failed for good.
func (s *Store) ReleaseRefund(ctx context.Context, attemptID, amountFen int64, now time.Time) error {
	res := s.db.Writer(ctx).Exec(`UPDATE payment_attempts SET refunded_fen = refunded_fen - ?, updated_at = ?
		WHERE id = ? AND refunded_fen >= ?`, amountFen, now.UTC(), attemptID, amountFen)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return errors.New("payment: released more than the attempt's refunded amount")
	}
	return nil
}

// RefundByOutRefundNo returns the refund of an out_refund_no, if any.
func (s *Store) RefundByOutRefundNo(ctx context.Context, outRefundNo string) (Refund, bool, error) {
	var rows []refundRow
	if err := s.db.Reader(ctx).Where("out_refund_no = ?", outRefundNo).Limit(1).Find(&rows).Error; err != nil {
		return Refund{}, false, err
	}
	if len(rows) == 0 {
		return Refund{}, false, nil
	}
	return rows[0].refund(), true, nil
}

// RefundByID returns one refund; db.IsNotFound reports an unknown id.
func (s *Store) RefundByID(ctx context.Context, id int64) (Refund, error) {
	var r refundRow
	err := s.db.Reader(ctx).Where("id = ?", id).Take(&r).Error
	return r.refund(), err
}

// RefundsOfAttempt returns an attempt's refunds, oldest first.
func (s *Store) RefundsOfAttempt(ctx context.Context, attemptID int64) ([]Refund, error) {
	var rows []refundRow
	if err := s.db.Reader(ctx).Where("attempt_id = ?", attemptID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	return refunds(rows), nil
}

func refunds(rows []refundRow) []Refund {
	out := make([]Refund, len(rows))
	for i, r := range rows {
		out[i] = r.refund()
	}
	return out
}

// RefundChange is a refund's move to a new status.
type RefundChange struct {
	To               RefundStatus
	ProviderRefundID string // kept when ""
	Detail           string // kept when ""
	SucceededAt      *time.Time
}

// MoveRefund moves a refund whose status is one of from to c.To by a
// conditional update and reports whether it did.
func (s *Store) MoveRefund(ctx context.Context, id int64, from []RefundStatus, c RefundChange, now time.Time) (bool, error) {
	set := map[string]any{"status": string(c.To), "updated_at": now.UTC()}
	if c.ProviderRefundID != "" {
		set["provider_refund_id"] = c.ProviderRefundID
	}
	if c.Detail != "" {
		set["detail"] = truncate(c.Detail, 500)
	}
	if c.SucceededAt != nil {
		set["succeeded_at"] = c.SucceededAt.UTC()
	}
	st := make([]string, len(from))
	for i, f := range from {
		st[i] = string(f)
	}
	res := s.db.Writer(ctx).Model(&refundRow{}).Where("id = ? AND status IN ?", id, st).Updates(set)
	return res.RowsAffected == 1, res.Error
}

// NoteRefund records what the platform said about a refund still
// processing (its refund id, a detail) without moving it.
func (s *Store) NoteRefund(ctx context.Context, id int64, providerRefundID, detail string, now time.Time) error {
	set := map[string]any{"updated_at": now.UTC()}
	if providerRefundID != "" {
		set["provider_refund_id"] = providerRefundID
	}
	if detail != "" {
		set["detail"] = truncate(detail, 500)
	}
	return s.db.Writer(ctx).Model(&refundRow{}).Where("id = ? AND status = ?", id, string(RefundProcessing)).Updates(set).Error
}

// DueRefunds returns up to limit processing refunds whose next check is
// due at now, the most overdue first.
func (s *Store) DueRefunds(ctx context.Context, now time.Time, limit int) ([]Refund, error) {
	var rows []refundRow
	err := s.db.Reader(ctx).Where("status = ? AND next_check_at <= ?", string(RefundProcessing), now.UTC()).
		Order("next_check_at, id").Limit(limit).Find(&rows).Error
	return refunds(rows), err
}

// ClaimRefundCheck takes a due refund's check for this instance: it moves
// next_check_at to next if the refund is still processing and nobody
// claimed this check first (checks is still seen), and reports whether it
// did.
func (s *Store) ClaimRefundCheck(ctx context.Context, id int64, seen int, next time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE payment_refunds SET next_check_at = ?, checks = checks + 1
		WHERE id = ? AND status = ? AND checks = ?`, next.UTC(), id, string(RefundProcessing), seen)
	return res.RowsAffected == 1, res.Error
}

// DueAttempts returns up to limit pending attempts whose reconciliation
// check is due at now, the most overdue first.
func (s *Store) DueAttempts(ctx context.Context, now time.Time, limit int) ([]Attempt, error) {
	var rows []attemptRow
	err := s.db.Reader(ctx).Where("status = ? AND next_check_at <= ?", string(StatusPending), now.UTC()).
		Order("next_check_at, id").Limit(limit).Find(&rows).Error
	out := make([]Attempt, len(rows))
	for i, r := range rows {
		out[i] = r.attempt()
	}
	return out, err
}

// ClaimAttemptCheck takes a due attempt's reconciliation check for this
// instance, as ClaimRefundCheck does for refunds.
func (s *Store) ClaimAttemptCheck(ctx context.Context, id int64, seen int, next time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE payment_attempts SET next_check_at = ?, checks = checks + 1
		WHERE id = ? AND status = ? AND checks = ?`, next.UTC(), id, string(StatusPending), seen)
	return res.RowsAffected == 1, res.Error
}

// UnrefundedAnomalies returns up to limit open anomalies of the given
// kinds that have no refund yet, oldest first. Anomalies staff resolved
// are left alone: staff dealt with the money.
func (s *Store) UnrefundedAnomalies(ctx context.Context, kinds []string, limit int) ([]Anomaly, error) {
	var rows []anomalyRow
	err := s.db.Reader(ctx).Where("kind IN ? AND status = ? AND NOT EXISTS (SELECT 1 FROM payment_refunds r WHERE r.anomaly_id = payment_anomalies.id)", kinds, AnomalyOpen).
		Order("id").Limit(limit).Find(&rows).Error
	return anomalies(rows), err
}

// AnomalyFilter selects anomalies for staff: "" matches every kind or
// status.
type AnomalyFilter struct {
	Kind   string
	Status string
}

// ListAnomalies returns a page of anomalies, newest first, with the total,
// each with its refunds.
func (s *Store) ListAnomalies(ctx context.Context, f AnomalyFilter, offset, limit int) ([]Anomaly, int64, error) {
	q := s.db.Reader(ctx).Model(&anomalyRow{})
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	rows, total, err := db.Page[anomalyRow](q, "id DESC", offset, limit)
	if err != nil {
		return nil, 0, err
	}
	out := anomalies(rows)
	if len(out) == 0 {
		return out, total, nil
	}
	ids := make([]int64, len(out))
	for i, a := range out {
		ids[i] = a.ID
	}
	var rs []refundRow
	if err := s.db.Reader(ctx).Where("anomaly_id IN ?", ids).Order("id").Find(&rs).Error; err != nil {
		return nil, 0, err
	}
	by := map[int64][]Refund{}
	for _, r := range rs {
		by[r.AnomalyID] = append(by[r.AnomalyID], r.refund())
	}
	for i := range out {
		out[i].Refunds = by[out[i].ID]
	}
	return out, total, nil
}

// ResolveAnomaly closes an open anomaly with staff's note and reports
// whether it did.
func (s *Store) ResolveAnomaly(ctx context.Context, id, staffID int64, note string, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE payment_anomalies SET status = ?, resolved_at = ?, resolved_by = ?, resolution_note = ?
		WHERE id = ? AND status = ?`, AnomalyResolved, now.UTC(), staffID, truncate(note, 500), id, AnomalyOpen)
	return res.RowsAffected == 1, res.Error
}

// AnomalyByID returns one anomaly; db.IsNotFound reports an unknown id.
func (s *Store) AnomalyByID(ctx context.Context, id int64) (Anomaly, error) {
	var r anomalyRow
	if err := s.db.Reader(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Anomaly{}, err
	}
	return anomalies([]anomalyRow{r})[0], nil
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// AutoRefundedAttempts returns the ids of an order's attempts recorded as
// late or double payments: their money is returned automatically and never
// paid the order.
func (s *Store) AutoRefundedAttempts(ctx context.Context, orderID int64) (map[int64]bool, error) {
	var ids []int64
	if err := s.db.Reader(ctx).Model(&anomalyRow{}).Where("order_id = ? AND kind IN ?", orderID, autoRefundKinds).
		Pluck("attempt_id", &ids).Error; err != nil {
		return nil, err
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// ReopenRefund moves a failed refund back to processing and counts its
// amount against its attempt again, with the guard of ReserveRefund, in the
// transaction of ctx. It reports whether the refund was still failed;
// errRefundExceeds reports a guard that did not match.
func (s *Store) ReopenRefund(ctx context.Context, r Refund, next, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE payment_refunds SET status = ?, next_check_at = ?, updated_at = ?
		WHERE id = ? AND status = ?`, string(RefundProcessing), next.UTC(), now.UTC(), r.ID, string(RefundFailed))
	if res.Error != nil || res.RowsAffected != 1 {
		return false, res.Error
	}
	res = s.db.Writer(ctx).Exec(`UPDATE payment_attempts SET refunded_fen = refunded_fen + ?, updated_at = ?
		WHERE id = ? AND status = ? AND refunded_fen + ? <= amount_fen`,
		r.AmountFen, now.UTC(), r.AttemptID, string(StatusSucceeded), r.AmountFen)
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected != 1 {
		return false, errRefundExceeds
	}
	return true, nil
}
