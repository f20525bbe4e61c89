package payment

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/minimall/minimall/internal/platform/db"
)

// Store reads and writes payment attempts, notifications and anomalies. It
// joins the transaction carried by the context.
type Store struct {
	db *db.DB
}

// NewStore returns a store on d.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("payment: nil database")
	}
	return &Store{db: d}, nil
}

type attemptRow struct {
	ID            int64
	OrderID       int64
	CustomerID    int64
	Channel       string
	OutTradeNo    string
	AmountFen     int64
	Status        string
	OpenKey       *string
	Description   string
	PayerID       string
	NotifyURL     string
	PrepayID      *string
	ExpiresAt     time.Time
	ProviderTxnID *string
	PayerTotalFen int64
	PaidAt        *time.Time
	ClosedAt      *time.Time
	RefundedFen   int64
	NextCheckAt   *time.Time
	Checks        int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (attemptRow) TableName() string { return "payment_attempts" }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r attemptRow) attempt() Attempt {
	return Attempt{
		ID: r.ID, OrderID: r.OrderID, CustomerID: r.CustomerID, Channel: Channel(r.Channel), OutTradeNo: r.OutTradeNo,
		AmountFen: r.AmountFen, Status: Status(r.Status), Description: r.Description, PayerID: r.PayerID,
		NotifyURL: r.NotifyURL, PrepayID: deref(r.PrepayID), ExpiresAt: r.ExpiresAt.UTC(),
		ProviderTxnID: deref(r.ProviderTxnID), PayerTotalFen: r.PayerTotalFen, PaidAt: utcPtr(r.PaidAt),
		ClosedAt: utcPtr(r.ClosedAt), RefundedFen: r.RefundedFen, NextCheckAt: utcPtr(r.NextCheckAt), Checks: r.Checks,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// openKey is the value of open_key while an attempt is pending: the
// order's id, under a unique index, so that the database holds an order to
// one payable trade across every channel.
func openKey(orderID int64) string { return strconv.FormatInt(orderID, 10) }

// InsertAttempt stores a new pending attempt, the order's one open attempt
// across every channel, first checked by reconciliation at a.NextCheckAt.
// db.IsDuplicate on the error reports that the order already has an open
// attempt (another request opened one first) or, rarely, an out_trade_no
// collision.
func (s *Store) InsertAttempt(ctx context.Context, a *Attempt) error {
	key := openKey(a.OrderID)
	r := attemptRow{
		OrderID: a.OrderID, CustomerID: a.CustomerID, Channel: string(a.Channel), OutTradeNo: a.OutTradeNo,
		AmountFen: a.AmountFen, Status: string(StatusPending), OpenKey: &key, Description: a.Description,
		PayerID: a.PayerID, NotifyURL: a.NotifyURL, ExpiresAt: a.ExpiresAt.UTC(), NextCheckAt: utcPtr(a.NextCheckAt),
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.CreatedAt.UTC(),
	}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return err
	}
	*a = r.attempt()
	return nil
}

// OpenAttempt returns the order's open attempt (the one holding its
// payable slot), on whichever channel, if any.
func (s *Store) OpenAttempt(ctx context.Context, orderID int64) (Attempt, bool, error) {
	var rows []attemptRow
	if err := s.db.Reader(ctx).Where("open_key = ?", openKey(orderID)).Limit(1).Find(&rows).Error; err != nil {
		return Attempt{}, false, err
	}
	if len(rows) == 0 {
		return Attempt{}, false, nil
	}
	return rows[0].attempt(), true, nil
}

// AttemptByID returns one attempt; db.IsNotFound reports an unknown id.
func (s *Store) AttemptByID(ctx context.Context, id int64) (Attempt, error) {
	var r attemptRow
	err := s.db.Reader(ctx).Where("id = ?", id).Take(&r).Error
	return r.attempt(), err
}

// AttemptByOutTradeNo returns the attempt of an out_trade_no, if any.
func (s *Store) AttemptByOutTradeNo(ctx context.Context, outTradeNo string) (Attempt, bool, error) {
	var rows []attemptRow
	if err := s.db.Reader(ctx).Where("out_trade_no = ?", outTradeNo).Limit(1).Find(&rows).Error; err != nil {
		return Attempt{}, false, err
	}
	if len(rows) == 0 {
		return Attempt{}, false, nil
	}
	return rows[0].attempt(), true, nil
}

// AttemptsOfOrder returns an order's attempts, oldest first.
func (s *Store) AttemptsOfOrder(ctx context.Context, orderID int64) ([]Attempt, error) {
	var rows []attemptRow
	if err := s.db.Reader(ctx).Where("order_id = ?", orderID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Attempt, len(rows))
	for i, r := range rows {
		out[i] = r.attempt()
	}
	return out, nil
}

// ErrAttemptNotPending is SetPrepayID's answer for an attempt that stopped
// being pending (a cancel closed it) while its trade was being opened.
var ErrAttemptNotPending = errors.New("payment: the attempt is no longer pending")

// SetPrepayID records the platform's prepay id on a pending attempt that has
// none and returns the attempt's prepay id afterwards (a concurrent request
// may have recorded the same one first). An attempt closed meanwhile answers
// ErrAttemptNotPending: the trade just opened must be closed again, since no
// job looks at closed attempts.
func (s *Store) SetPrepayID(ctx context.Context, id int64, prepayID string, now time.Time) (string, error) {
	res := s.db.Writer(ctx).Exec("UPDATE payment_attempts SET prepay_id = ?, updated_at = ? WHERE id = ? AND prepay_id IS NULL AND status = ?",
		prepayID, now.UTC(), id, string(StatusPending))
	if res.Error != nil {
		return "", res.Error
	}
	if res.RowsAffected == 1 {
		return prepayID, nil
	}
	a, err := s.AttemptByID(ctx, id)
	if err != nil {
		return "", err
	}
	if a.Status != StatusPending && a.PrepayID == "" {
		return "", ErrAttemptNotPending
	}
	return a.PrepayID, nil
}

// MarkSucceeded moves an attempt that is not yet succeeded to succeeded with
// the platform's transaction id, and reports whether it did.
func (s *Store) MarkSucceeded(ctx context.Context, id int64, txnID string, payerTotalFen int64, paidAt, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE payment_attempts SET status = ?, open_key = NULL, provider_txn_id = ?,
		payer_total_fen = ?, paid_at = ?, updated_at = ? WHERE id = ? AND status IN (?, ?, ?)`,
		string(StatusSucceeded), txnID, payerTotalFen, paidAt.UTC(), now.UTC(), id,
		string(StatusPending), string(StatusClosed), string(StatusFailed))
	return res.RowsAffected == 1, res.Error
}

// CheckOthersNow makes the order's pending attempts other than exceptID due
// for reconciliation at now: once an order is paid, they are closed at their
// platform right away, and the job is the safety net of that close.
func (s *Store) CheckOthersNow(ctx context.Context, orderID, exceptID int64, now time.Time) error {
	return s.db.Writer(ctx).Exec(`UPDATE payment_attempts SET next_check_at = ?, updated_at = ?
		WHERE order_id = ? AND id <> ? AND status = ?`, now.UTC(), now.UTC(), orderID, exceptID, string(StatusPending)).Error
}

// MarkClosed moves a pending attempt to closed, provided its prepay id is
// still prepayID ("": none recorded), and reports whether it did.
func (s *Store) MarkClosed(ctx context.Context, id int64, prepayID string, now time.Time) (bool, error) {
	var p *string
	if prepayID != "" {
		p = &prepayID
	}
	res := s.db.Writer(ctx).Exec(`UPDATE payment_attempts SET status = ?, open_key = NULL, closed_at = ?, updated_at = ?
		WHERE id = ? AND status = ? AND (prepay_id = ? OR (prepay_id IS NULL AND ? IS NULL))`,
		string(StatusClosed), now.UTC(), now.UTC(), id, string(StatusPending), p, p)
	return res.RowsAffected == 1, res.Error
}

type notificationRow struct {
	ID            int64
	Channel       string
	NotifyID      string
	EventType     string
	OutTradeNo    string
	ProviderTxnID string
	AttemptID     int64
	Outcome       string
	Reason        string
	Body          string
	ReceivedAt    time.Time
}

func (notificationRow) TableName() string { return "payment_notifications" }

func (r notificationRow) notification() Notification {
	return Notification{
		ID: r.ID, Channel: Channel(r.Channel), NotifyID: r.NotifyID, EventType: r.EventType, OutTradeNo: r.OutTradeNo,
		ProviderTxnID: r.ProviderTxnID, AttemptID: r.AttemptID, Outcome: r.Outcome, Reason: r.Reason, Body: r.Body,
		ReceivedAt: r.ReceivedAt.UTC(),
	}
}

// InsertNotification stores a verified notification; db.IsDuplicate on the
// error reports that the same platform notification was stored before.
func (s *Store) InsertNotification(ctx context.Context, n *Notification) error {
	r := notificationRow{
		Channel: string(n.Channel), NotifyID: n.NotifyID, EventType: n.EventType, OutTradeNo: n.OutTradeNo,
		ProviderTxnID: n.ProviderTxnID, AttemptID: n.AttemptID, Outcome: n.Outcome, Reason: n.Reason, Body: n.Body,
		ReceivedAt: n.ReceivedAt.UTC(),
	}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return err
	}
	n.ID = r.ID
	return nil
}

// NotificationByNotifyID returns a stored notification, if any.
func (s *Store) NotificationByNotifyID(ctx context.Context, ch Channel, notifyID string) (Notification, bool, error) {
	var rows []notificationRow
	if err := s.db.Reader(ctx).Where("channel = ? AND notify_id = ?", string(ch), notifyID).Limit(1).Find(&rows).Error; err != nil {
		return Notification{}, false, err
	}
	if len(rows) == 0 {
		return Notification{}, false, nil
	}
	return rows[0].notification(), true, nil
}

// Notifications returns the stored notifications of an out_trade_no, oldest
// first.
func (s *Store) Notifications(ctx context.Context, outTradeNo string) ([]Notification, error) {
	var rows []notificationRow
	if err := s.db.Reader(ctx).Where("out_trade_no = ?", outTradeNo).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Notification, len(rows))
	for i, r := range rows {
		out[i] = r.notification()
	}
	return out, nil
}

type anomalyRow struct {
	ID             int64
	Channel        string
	Kind           string
	OrderID        int64
	AttemptID      int64
	NotificationID int64
	OutTradeNo     string
	ProviderTxnID  string
	ExpectedFen    int64
	ActualFen      int64
	Detail         string
	Status         string
	ResolvedAt     *time.Time
	ResolutionNote string
	ResolvedBy     int64
	CreatedAt      time.Time
}

func (anomalyRow) TableName() string { return "payment_anomalies" }

// InsertAnomaly records an anomaly, open.
func (s *Store) InsertAnomaly(ctx context.Context, a *Anomaly) error {
	r := anomalyRow{
		Channel: string(a.Channel), Kind: a.Kind, OrderID: a.OrderID, AttemptID: a.AttemptID,
		NotificationID: a.NotificationID, OutTradeNo: a.OutTradeNo, ProviderTxnID: a.ProviderTxnID,
		ExpectedFen: a.ExpectedFen, ActualFen: a.ActualFen, Detail: a.Detail, Status: AnomalyOpen,
		CreatedAt: a.CreatedAt.UTC(),
	}
	if err := s.db.Writer(ctx).Create(&r).Error; err != nil {
		return err
	}
	a.ID, a.Status = r.ID, r.Status
	return nil
}

// OpenAnomaly returns an open anomaly of kind on an attempt, if any.
func (s *Store) OpenAnomaly(ctx context.Context, attemptID int64, kind string) (Anomaly, bool, error) {
	var rows []anomalyRow
	err := s.db.Reader(ctx).Where("attempt_id = ? AND kind = ? AND status = ?", attemptID, kind, AnomalyOpen).
		Order("id").Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return Anomaly{}, false, err
	}
	return anomalies(rows)[0], true, nil
}

// Anomalies returns the anomalies of a status ("" for all), oldest first.
func (s *Store) Anomalies(ctx context.Context, status string) ([]Anomaly, error) {
	q := s.db.Reader(ctx).Order("id")
	if status != "" {
		q = q.Where("status = ?", status)
	}
	var rows []anomalyRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	return anomalies(rows), nil
}

func anomalies(rows []anomalyRow) []Anomaly {
	out := make([]Anomaly, len(rows))
	for i, r := range rows {
		out[i] = Anomaly{
			ID: r.ID, Channel: Channel(r.Channel), Kind: r.Kind, OrderID: r.OrderID, AttemptID: r.AttemptID,
			NotificationID: r.NotificationID, OutTradeNo: r.OutTradeNo, ProviderTxnID: r.ProviderTxnID,
			ExpectedFen: r.ExpectedFen, ActualFen: r.ActualFen, Detail: r.Detail, Status: r.Status,
			ResolvedAt: utcPtr(r.ResolvedAt), ResolutionNote: r.ResolutionNote, ResolvedBy: r.ResolvedBy,
			CreatedAt: r.CreatedAt.UTC(),
		}
	}
	return out
}

// Reconsider turns a stored refused notification into outcome for attempt
// attemptID, by a conditional update, and reports whether it did (false: a
// concurrent retry did first).
func (s *Store) Reconsider(ctx context.Context, id, attemptID int64, outcome string) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE payment_notifications SET outcome = ?, reason = '', attempt_id = ?
		WHERE id = ? AND outcome = ?`, outcome, attemptID, id, OutcomeRefused)
	return res.RowsAffected == 1, res.Error
}
