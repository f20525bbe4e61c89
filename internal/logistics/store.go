package logistics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/platform/db"
)

// Store reads and writes parcels, their items and events, and the logistics
// outbox. Writes join the transaction carried by the context; every state
// change is a conditional UPDATE.
type Store struct {
	db *db.DB
}

// NewStore returns a store on d.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("logistics: nil database")
	}
	return &Store{db: d}, nil
}

type parcelRow struct {
	ID         int64      `gorm:"column:id;primaryKey"`
	Kind       string     `gorm:"column:kind"`
	RefID      int64      `gorm:"column:ref_id"`
	Carrier    string     `gorm:"column:carrier"`
	TrackingNo string     `gorm:"column:tracking_no"`
	Phone      string     `gorm:"column:phone"`
	State      string     `gorm:"column:state"`
	StateCode  string     `gorm:"column:state_code"`
	StaffID    int64      `gorm:"column:staff_id"`
	SignedAt   *time.Time `gorm:"column:signed_at"`
	EventAt    *time.Time `gorm:"column:event_at"`
	QueriedAt  *time.Time `gorm:"column:queried_at"`
	CreatedAt  time.Time  `gorm:"column:created_at"`
	UpdatedAt  time.Time  `gorm:"column:updated_at"`
}

func (parcelRow) TableName() string { return "parcels" }

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r parcelRow) domain() Parcel {
	return Parcel{ID: r.ID, Kind: r.Kind, RefID: r.RefID, Carrier: r.Carrier, TrackingNo: r.TrackingNo,
		Phone: r.Phone, State: r.State, StateCode: r.StateCode, StaffID: r.StaffID, SignedAt: utc(r.SignedAt),
		EventAt: utc(r.EventAt), QueriedAt: utc(r.QueriedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type parcelItemRow struct {
	ID          int64 `gorm:"column:id;primaryKey"`
	ParcelID    int64 `gorm:"column:parcel_id"`
	OrderItemID int64 `gorm:"column:order_item_id"`
}

func (parcelItemRow) TableName() string { return "parcel_items" }

type eventRow struct {
	ID          int64     `gorm:"column:id;primaryKey"`
	ParcelID    int64     `gorm:"column:parcel_id"`
	EventTime   time.Time `gorm:"column:event_time"`
	Description string    `gorm:"column:description"`
	Location    string    `gorm:"column:location"`
	State       string    `gorm:"column:state"`
	RawCode     string    `gorm:"column:raw_code"`
	RawStatus   string    `gorm:"column:raw_status"`
	Fingerprint string    `gorm:"column:fingerprint"`
	CreatedAt   time.Time `gorm:"column:created_at"`
}

func (eventRow) TableName() string { return "tracking_events" }

type outboxRow struct {
	ID         int64      `gorm:"column:id;primaryKey"`
	Kind       string     `gorm:"column:kind"`
	RefID      int64      `gorm:"column:ref_id"`
	State      string     `gorm:"column:state"`
	Attempts   int        `gorm:"column:attempts"`
	NextAt     time.Time  `gorm:"column:next_at"`
	LeaseToken string     `gorm:"column:lease_token"`
	LeaseUntil *time.Time `gorm:"column:lease_until"`
	ErrCode    int64      `gorm:"column:errcode"`
	ErrMsg     string     `gorm:"column:errmsg"`
	DoneAt     *time.Time `gorm:"column:done_at"`
	CreatedAt  time.Time  `gorm:"column:created_at"`
	UpdatedAt  time.Time  `gorm:"column:updated_at"`
}

func (outboxRow) TableName() string { return "logistics_outbox" }

// InsertParcel writes a parcel and its order lines and sets its id. A
// parcel registered twice (same kind, ref, carrier and number) or an order
// line already in a parcel is reported by db.IsDuplicate.
func (s *Store) InsertParcel(ctx context.Context, p *Parcel) error {
	r := parcelRow{Kind: p.Kind, RefID: p.RefID, Carrier: p.Carrier, TrackingNo: p.TrackingNo, Phone: p.Phone,
		StaffID: p.StaffID, CreatedAt: p.CreatedAt, UpdatedAt: p.CreatedAt}
	w := s.db.Writer(ctx)
	if err := w.Create(&r).Error; err != nil {
		return err
	}
	p.ID = r.ID
	if len(p.ItemIDs) == 0 {
		return nil
	}
	items := make([]parcelItemRow, len(p.ItemIDs))
	for i, id := range p.ItemIDs {
		items[i] = parcelItemRow{ParcelID: r.ID, OrderItemID: id}
	}
	return w.Create(&items).Error
}

// ParcelByID reads a parcel with its order lines; gorm.ErrRecordNotFound
// when unknown.
func (s *Store) ParcelByID(ctx context.Context, id int64) (Parcel, error) {
	var r parcelRow
	if err := s.db.Reader(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Parcel{}, err
	}
	out := []Parcel{r.domain()}
	if err := s.attachItems(ctx, out); err != nil {
		return Parcel{}, err
	}
	return out[0], nil
}

// FindParcel returns the parcel of (kind, ref, carrier, number), if any.
func (s *Store) FindParcel(ctx context.Context, kind string, refID int64, carrier, trackingNo string) (Parcel, bool, error) {
	var rows []parcelRow
	err := s.db.Reader(ctx).Where("kind = ? AND ref_id = ? AND carrier = ? AND tracking_no = ?",
		kind, refID, carrier, trackingNo).Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return Parcel{}, false, err
	}
	return rows[0].domain(), true, nil
}

// ParcelsOf returns the parcels of refs of one kind, oldest first, with
// their order lines.
func (s *Store) ParcelsOf(ctx context.Context, kind string, refIDs []int64) ([]Parcel, error) {
	if len(refIDs) == 0 {
		return nil, nil
	}
	var rows []parcelRow
	if err := s.db.Reader(ctx).Where("kind = ? AND ref_id IN ?", kind, refIDs).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Parcel, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, s.attachItems(ctx, out)
}

// ParcelsByWaybill returns every parcel of a carrier's tracking number.
func (s *Store) ParcelsByWaybill(ctx context.Context, carrier, trackingNo string) ([]Parcel, error) {
	var rows []parcelRow
	if err := s.db.Reader(ctx).Where("tracking_no = ? AND carrier = ?", trackingNo, carrier).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Parcel, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

func (s *Store) attachItems(ctx context.Context, parcels []Parcel) error {
	if len(parcels) == 0 {
		return nil
	}
	ids := make([]int64, len(parcels))
	at := make(map[int64]int, len(parcels))
	for i, p := range parcels {
		ids[i] = p.ID
		at[p.ID] = i
	}
	var rows []parcelItemRow
	if err := s.db.Reader(ctx).Where("parcel_id IN ?", ids).Order("parcel_id, order_item_id").Find(&rows).Error; err != nil {
		return err
	}
	for _, r := range rows {
		p := &parcels[at[r.ParcelID]]
		p.ItemIDs = append(p.ItemIDs, r.OrderItemID)
	}
	return nil
}

// Correct changes a parcel's carrier and number and forgets its tracking
// (state, events, query guard), so the new waybill is followed from the
// start.
func (s *Store) Correct(ctx context.Context, id int64, carrier, trackingNo string, now time.Time) error {
	w := s.db.Writer(ctx)
	err := w.Model(&parcelRow{}).Where("id = ?", id).Updates(map[string]any{
		"carrier": carrier, "tracking_no": trackingNo, "state": "", "state_code": "", "signed_at": nil,
		"event_at": nil, "queried_at": nil, "updated_at": now}).Error
	if err != nil {
		return err
	}
	return w.Where("parcel_id = ?", id).Delete(&eventRow{}).Error
}

// ClaimQuery takes the right to query a waybill now: it sets queried_at
// when it is unset or at or before notAfter, and reports whether this call
// did. One conditional update, so instances never query one waybill twice
// within the guard.
func (s *Store) ClaimQuery(ctx context.Context, id int64, now, notAfter time.Time) (bool, error) {
	res := s.db.Writer(ctx).Model(&parcelRow{}).
		Where("id = ? AND (queried_at IS NULL OR queried_at <= ?)", id, notAfter).
		Updates(map[string]any{"queried_at": now})
	return res.RowsAffected == 1, res.Error
}

// fingerprint identifies an event within its parcel.
func fingerprint(e Event) string {
	h := sha256.Sum256([]byte(e.Time.UTC().Format(time.RFC3339Nano) + "\x00" + e.Description + "\x00" + e.RawCode))
	return hex.EncodeToString(h[:])
}

// AddEvents stores the events a parcel does not have yet and returns how
// many were new.
func (s *Store) AddEvents(ctx context.Context, parcelID int64, events []Event, now time.Time) (int, error) {
	added := 0
	for _, e := range events {
		r := eventRow{ParcelID: parcelID, EventTime: e.Time.UTC().Truncate(time.Millisecond), Description: truncate(e.Description, 1000),
			Location: truncate(e.Location, 250), State: e.State, RawCode: truncate(e.RawCode, 8),
			RawStatus: truncate(e.RawStatus, 32), Fingerprint: fingerprint(e), CreatedAt: now}
		// A plain insert whose duplicate-key error is expected: ON CONFLICT
		// DO NOTHING would report one row on MySQL with clientFoundRows.
		err := s.db.Writer(ctx).Create(&r).Error
		if db.IsDuplicate(err) {
			continue
		}
		if err != nil {
			return added, err
		}
		added++
	}
	return added, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// Follow records what the courier says of a parcel: the state of its newest
// event, but only when that event is not older than the one already
// recorded (pushes may arrive out of order). signedAt is set the first time
// the parcel is signed. It also stamps queried_at: the courier just spoke.
func (s *Store) Follow(ctx context.Context, id int64, state, code string, eventAt time.Time, signedAt *time.Time, now time.Time) (bool, error) {
	set := map[string]any{"state": state, "state_code": code, "event_at": eventAt, "queried_at": now, "updated_at": now}
	if signedAt != nil {
		set["signed_at"] = gorm.Expr("COALESCE(signed_at, ?)", *signedAt)
	} else {
		set["signed_at"] = nil
	}
	res := s.db.Writer(ctx).Model(&parcelRow{}).Where("id = ? AND (event_at IS NULL OR event_at <= ?)", id, eventAt).
		Updates(set)
	return res.RowsAffected == 1, res.Error
}

// Touch stamps queried_at without any new event.
func (s *Store) Touch(ctx context.Context, id int64, now time.Time) error {
	return s.db.Writer(ctx).Model(&parcelRow{}).Where("id = ?", id).Update("queried_at", now).Error
}

// Events returns a parcel's events, newest first.
func (s *Store) Events(ctx context.Context, parcelID int64) ([]Event, error) {
	var rows []eventRow
	if err := s.db.Reader(ctx).Where("parcel_id = ?", parcelID).Order("event_time DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{ID: r.ID, ParcelID: r.ParcelID, Time: r.EventTime.UTC(), Description: r.Description,
			Location: r.Location, State: r.State, RawCode: r.RawCode, RawStatus: r.RawStatus}
	}
	return out, nil
}

// ---- outbox ----

// Outbox kinds.
const (
	OutboxUpload        = "wechat_upload"
	OutboxConfirmNotify = "wechat_confirm_notify"
	OutboxSubscribe     = "courier_subscribe"
)

// Outbox states.
const (
	OutboxPending     = "pending"
	OutboxDone        = "done"
	OutboxFailed      = "failed"
	OutboxNotRequired = "not_required"
)

// Outbox is one platform call owed after a committed change.
type Outbox struct {
	ID         int64
	Kind       string
	RefID      int64
	State      string
	Attempts   int
	NextAt     time.Time
	LeaseToken string
	ErrCode    int64
	ErrMsg     string
	DoneAt     *time.Time
	UpdatedAt  time.Time
}

func (r outboxRow) domain() Outbox {
	return Outbox{ID: r.ID, Kind: r.Kind, RefID: r.RefID, State: r.State, Attempts: r.Attempts,
		NextAt: r.NextAt.UTC(), LeaseToken: r.LeaseToken, ErrCode: r.ErrCode, ErrMsg: r.ErrMsg,
		DoneAt: utc(r.DoneAt), UpdatedAt: r.UpdatedAt.UTC()}
}

// Enqueue writes an outbox row in state (pending or not_required), due now.
// A row of the same kind and ref already there is put back to pending
// instead (a correction re-sends), unless it is not_required.
func (s *Store) Enqueue(ctx context.Context, kind string, refID int64, state string, now time.Time) (int64, error) {
	r := outboxRow{Kind: kind, RefID: refID, State: state, NextAt: now, CreatedAt: now, UpdatedAt: now}
	if state == OutboxDone {
		r.DoneAt = &now
	}
	err := s.db.Writer(ctx).Create(&r).Error
	if err == nil {
		return r.ID, nil
	}
	if !db.IsDuplicate(err) {
		return 0, err
	}
	if _, err := s.Requeue(ctx, kind, refID, []string{OutboxPending, OutboxDone, OutboxFailed}, now); err != nil {
		return 0, err
	}
	o, ok, err := s.OutboxOf(ctx, kind, refID)
	if err != nil || !ok {
		return 0, err
	}
	return o.ID, nil
}

// Requeue puts a row in one of the from states back to pending, due now,
// with its attempts and error cleared and any lease broken (a delivery in
// flight then cannot settle it), and reports whether it did.
func (s *Store) Requeue(ctx context.Context, kind string, refID int64, from []string, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Model(&outboxRow{}).Where("kind = ? AND ref_id = ? AND state IN ?", kind, refID, from).
		Updates(map[string]any{"state": OutboxPending, "attempts": 0, "next_at": now, "lease_token": "",
			"lease_until": nil, "errcode": 0, "errmsg": "", "done_at": nil, "updated_at": now})
	return res.RowsAffected == 1, res.Error
}

// OutboxOf returns the row of (kind, ref), if any.
func (s *Store) OutboxOf(ctx context.Context, kind string, refID int64) (Outbox, bool, error) {
	var rows []outboxRow
	err := s.db.Reader(ctx).Where("kind = ? AND ref_id = ?", kind, refID).Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return Outbox{}, false, err
	}
	return rows[0].domain(), true, nil
}

// RefsInState returns a subquery of the ref ids of the outbox rows of one
// kind in one state, for another query to select by.
func (s *Store) RefsInState(ctx context.Context, kind, state string) *gorm.DB {
	return s.db.Reader(ctx).Model(&outboxRow{}).Select("ref_id").Where("kind = ? AND state = ?", kind, state)
}

// OutboxByID reads a row.
func (s *Store) OutboxByID(ctx context.Context, id int64) (Outbox, error) {
	var r outboxRow
	if err := s.db.Reader(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Outbox{}, err
	}
	return r.domain(), nil
}

// DueOutbox returns up to limit ids of pending rows due at now whose lease
// (if any) has run out, oldest due first.
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	var ids []int64
	err := s.db.Reader(ctx).Model(&outboxRow{}).
		Where("state = ? AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?)", OutboxPending, now, now).
		Order("next_at, id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// Claim leases a due pending row to token until leaseUntil and counts the
// attempt; it reports whether this call got the lease. Two instances that
// race for one row: exactly one gets it.
func (s *Store) Claim(ctx context.Context, id int64, token string, now, leaseUntil time.Time) (bool, error) {
	res := s.db.Writer(ctx).Model(&outboxRow{}).
		Where("id = ? AND state = ? AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?)", id, OutboxPending, now, now).
		Updates(map[string]any{"lease_token": token, "lease_until": leaseUntil,
			"attempts": gorm.Expr("attempts + 1"), "updated_at": now})
	return res.RowsAffected == 1, res.Error
}

// Settle ends a delivery while the lease of token still holds: state done
// or failed, or pending again at next (a retry), with the platform's error.
// It reports whether the lease still held.
func (s *Store) Settle(ctx context.Context, id int64, token, state string, next time.Time, errCode int64, errMsg string, now time.Time) (bool, error) {
	set := map[string]any{"state": state, "lease_token": "", "lease_until": nil, "errcode": errCode,
		"errmsg": truncate(errMsg, 500), "next_at": next, "updated_at": now}
	if state == OutboxDone {
		set["done_at"] = now
	}
	res := s.db.Writer(ctx).Model(&outboxRow{}).Where("id = ? AND lease_token = ?", id, token).Updates(set)
	return res.RowsAffected == 1, res.Error
}
