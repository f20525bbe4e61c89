package aftersale

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/minimall/minimall/internal/platform/db"
)

// Store reads and writes requests, their lines and their history. Writes
// join the transaction carried by the context; every status change is a
// conditional UPDATE.
type Store struct {
	db *db.DB
}

// NewStore returns a store on d.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("aftersale: nil database")
	}
	return &Store{db: d}, nil
}

type requestRow struct {
	ID                    int64
	OrderID               int64
	CustomerID            int64
	Type                  string
	Status                string
	Initiator             string
	Reason                string
	Description           string
	Images                string
	BeforeShipping        bool
	ComputedFen           int64
	RefundFen             int64
	FreightFen            int64
	DecisionReason        string
	ReturnCarrier         string
	ReturnTrackingNo      string
	ReturnShippedAt       *time.Time
	ReplacementCarrier    string
	ReplacementTrackingNo string
	OutRefundNo           *string
	RefundStatus          string
	RefundDetail          string
	RefundTries           int
	NextRefundCheckAt     *time.Time
	RemindedAt            *time.Time
	ApprovedAt            *time.Time
	ReturnedAt            *time.Time
	RefundedAt            *time.Time
	EndedAt               *time.Time
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

func (requestRow) TableName() string { return "aftersales" }

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r requestRow) domain() Request {
	var images []string
	if err := json.Unmarshal([]byte(r.Images), &images); err != nil || images == nil {
		images = []string{}
	}
	out := Request{
		ID: r.ID, OrderID: r.OrderID, CustomerID: r.CustomerID, Type: Type(r.Type), Status: Status(r.Status),
		Initiator: r.Initiator, Reason: r.Reason, Description: r.Description, Images: images,
		BeforeShipping: r.BeforeShipping, ComputedFen: r.ComputedFen, RefundFen: r.RefundFen, FreightFen: r.FreightFen,
		DecisionReason: r.DecisionReason, ReturnCarrier: r.ReturnCarrier, ReturnTrackingNo: r.ReturnTrackingNo,
		ReturnShippedAt: utc(r.ReturnShippedAt), ReplacementCarrier: r.ReplacementCarrier,
		ReplacementTrackingNo: r.ReplacementTrackingNo, RefundStatus: r.RefundStatus, RefundDetail: r.RefundDetail,
		RefundTries: r.RefundTries, NextRefundCheckAt: utc(r.NextRefundCheckAt), RemindedAt: utc(r.RemindedAt),
		ApprovedAt: utc(r.ApprovedAt), ReturnedAt: utc(r.ReturnedAt), RefundedAt: utc(r.RefundedAt),
		EndedAt: utc(r.EndedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.OutRefundNo != nil {
		out.OutRefundNo = *r.OutRefundNo
	}
	return out
}

type itemRow struct {
	ID            int64
	AftersaleID   int64
	OrderID       int64
	OrderItemID   int64
	SKUID         int64 `gorm:"column:sku_id"`
	Quantity      int64
	ShareFen      int64
	ExchangeSKUID int64 `gorm:"column:exchange_sku_id"`
	OpenItemID    *int64
}

func (itemRow) TableName() string { return "aftersale_items" }

type eventRow struct {
	ID          int64
	AftersaleID int64
	FromStatus  string
	ToStatus    string
	ActorType   string
	ActorID     int64
	Reason      string
	CreatedAt   time.Time
}

func (eventRow) TableName() string { return "aftersale_events" }

// Insert writes a new request with its lines, each holding its order line
// open (the unique index refuses a second open request of a line:
// db.IsDuplicate), and sets the ids.
func (s *Store) Insert(ctx context.Context, r *Request) error {
	images, err := json.Marshal(r.Images)
	if err != nil {
		return err
	}
	row := requestRow{
		OrderID: r.OrderID, CustomerID: r.CustomerID, Type: string(r.Type), Status: string(r.Status),
		Initiator: r.Initiator, Reason: r.Reason, Description: r.Description, Images: string(images),
		BeforeShipping: r.BeforeShipping, ComputedFen: r.ComputedFen, RefundFen: r.RefundFen, FreightFen: r.FreightFen,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	w := s.db.Writer(ctx)
	if err := w.Create(&row).Error; err != nil {
		return err
	}
	r.ID = row.ID
	for i := range r.Items {
		it := &r.Items[i]
		open := it.OrderItemID
		ir := itemRow{AftersaleID: row.ID, OrderID: r.OrderID, OrderItemID: it.OrderItemID, SKUID: it.SKUID,
			Quantity: it.Quantity, ShareFen: it.ShareFen, ExchangeSKUID: it.ExchangeSKUID, OpenItemID: &open}
		if err := w.Create(&ir).Error; err != nil {
			return err
		}
		it.ID = ir.ID
	}
	return nil
}

// ByID reads a request with its lines; db.IsNotFound reports an unknown id.
func (s *Store) ByID(ctx context.Context, id int64) (Request, error) {
	var row requestRow
	if err := s.db.Reader(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Request{}, err
	}
	r := row.domain()
	if err := s.attachItems(ctx, []*Request{&r}); err != nil {
		return Request{}, err
	}
	return r, nil
}

func (s *Store) attachItems(ctx context.Context, rs []*Request) error {
	if len(rs) == 0 {
		return nil
	}
	ids := make([]int64, len(rs))
	by := make(map[int64]*Request, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
		by[r.ID] = r
		r.Items = []Item{}
	}
	var rows []itemRow
	if err := s.db.Reader(ctx).Where("aftersale_id IN ?", ids).Order("aftersale_id, id").Find(&rows).Error; err != nil {
		return err
	}
	for _, x := range rows {
		r := by[x.AftersaleID]
		r.Items = append(r.Items, Item{ID: x.ID, OrderItemID: x.OrderItemID, SKUID: x.SKUID, Quantity: x.Quantity,
			ShareFen: x.ShareFen, ExchangeSKUID: x.ExchangeSKUID})
	}
	return nil
}

// Move changes a request's status from one of from to to by a conditional
// update, with the other columns of set, and reports whether it matched.
func (s *Store) Move(ctx context.Context, id int64, from []Status, to Status, set map[string]any, now time.Time) (bool, error) {
	cols := map[string]any{"status": string(to), "updated_at": now}
	for k, v := range set {
		cols[k] = v
	}
	st := make([]string, len(from))
	for i, f := range from {
		st[i] = string(f)
	}
	res := s.db.Writer(ctx).Model(&requestRow{}).Where("id = ? AND status IN ?", id, st).Updates(cols)
	return res.RowsAffected == 1, res.Error
}

// Release ends a request's hold on its order lines, so that new requests
// of them can be made.
func (s *Store) Release(ctx context.Context, id int64) error {
	return s.db.Writer(ctx).Model(&itemRow{}).Where("aftersale_id = ?", id).Update("open_item_id", nil).Error
}

// AddEvent appends an entry to a request's history.
func (s *Store) AddEvent(ctx context.Context, id int64, e Event) error {
	return s.db.Writer(ctx).Create(&eventRow{AftersaleID: id, FromStatus: string(e.From), ToStatus: string(e.To),
		ActorType: e.ActorType, ActorID: e.ActorID, Reason: e.Reason, CreatedAt: e.CreatedAt}).Error
}

// Events returns a request's history, oldest first.
func (s *Store) Events(ctx context.Context, id int64) ([]Event, error) {
	var rows []eventRow
	if err := s.db.Reader(ctx).Where("aftersale_id = ?", id).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{ID: r.ID, From: Status(r.FromStatus), To: Status(r.ToStatus), ActorType: r.ActorType,
			ActorID: r.ActorID, Reason: r.Reason, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// Filter selects requests for a list; zero fields do not filter.
type Filter struct {
	CustomerID    int64
	OrderID       int64
	Status        Status
	Type          Type
	CreatedFrom   time.Time // inclusive
	CreatedBefore time.Time // exclusive
}

// List returns a page of requests, newest first, with their lines, and how
// many match.
func (s *Store) List(ctx context.Context, f Filter, offset, limit int) ([]Request, int64, error) {
	q := s.db.Reader(ctx).Model(&requestRow{})
	if f.CustomerID != 0 {
		q = q.Where("customer_id = ?", f.CustomerID)
	}
	if f.OrderID != 0 {
		q = q.Where("order_id = ?", f.OrderID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.Type != "" {
		q = q.Where("type = ?", string(f.Type))
	}
	if !f.CreatedFrom.IsZero() {
		q = q.Where("created_at >= ?", f.CreatedFrom)
	}
	if !f.CreatedBefore.IsZero() {
		q = q.Where("created_at < ?", f.CreatedBefore)
	}
	rows, total, err := db.Page[requestRow](q, "id DESC", offset, limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Request, len(rows))
	ptrs := make([]*Request, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
		ptrs[i] = &out[i]
	}
	if err := s.attachItems(ctx, ptrs); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

func (s *Store) ids(ctx context.Context, limit int, where string, args ...any) ([]int64, error) {
	var ids []int64
	err := s.db.Reader(ctx).Model(&requestRow{}).Where(where, args...).Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// Requested returns up to limit requests still requested that were made at
// or before cutoff and not yet reminded to staff, oldest first.
func (s *Store) Requested(ctx context.Context, cutoff time.Time, limit int) ([]int64, error) {
	return s.ids(ctx, limit, "status = ? AND created_at <= ? AND reminded_at IS NULL", string(StatusRequested), cutoff)
}

// ReturnsOverdue returns up to limit requests awaiting a return parcel
// that was never posted, approved at or before cutoff.
func (s *Store) ReturnsOverdue(ctx context.Context, cutoff time.Time, limit int) ([]int64, error) {
	return s.ids(ctx, limit, "status = ? AND return_tracking_no = '' AND approved_at <= ?", string(StatusAwaitingReturn), cutoff)
}

// RefundsDue returns up to limit refunding requests whose refund check is
// due at now.
func (s *Store) RefundsDue(ctx context.Context, now time.Time, limit int) ([]Request, error) {
	var rows []requestRow
	err := s.db.Reader(ctx).Where("status = ? AND next_refund_check_at <= ?", string(StatusRefunding), now).
		Order("next_refund_check_at, id").Limit(limit).Find(&rows).Error
	out := make([]Request, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, err
}

// ClaimRefundCheck takes a due refund check for this instance: it counts
// the try and moves the next check to next, if nobody did since tries was
// seen, and reports whether it did.
func (s *Store) ClaimRefundCheck(ctx context.Context, id int64, seen int, next time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE aftersales SET refund_tries = refund_tries + 1, next_refund_check_at = ?
		WHERE id = ? AND status = ? AND refund_tries = ?`, next, id, string(StatusRefunding), seen)
	return res.RowsAffected == 1, res.Error
}

// NoteRefund records the payment refund's status and the platform's last
// word on a request still refunding.
func (s *Store) NoteRefund(ctx context.Context, id int64, status, detail string, now time.Time) error {
	return s.db.Writer(ctx).Model(&requestRow{}).Where("id = ? AND status = ?", id, string(StatusRefunding)).
		Updates(map[string]any{"refund_status": status, "refund_detail": truncate(detail, 500), "updated_at": now}).Error
}

// MarkReminded notes that staff were reminded of a request waiting for a
// decision and reports whether this call did.
func (s *Store) MarkReminded(ctx context.Context, id int64, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Model(&requestRow{}).Where("id = ? AND status = ? AND reminded_at IS NULL", id, string(StatusRequested)).
		Update("reminded_at", now)
	return res.RowsAffected == 1, res.Error
}

// SetReturnParcel records the customer's return parcel on a request
// awaiting its return and reports whether it still was.
func (s *Store) SetReturnParcel(ctx context.Context, id int64, carrier, trackingNo string, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Model(&requestRow{}).Where("id = ? AND status = ?", id, string(StatusAwaitingReturn)).
		Updates(map[string]any{"return_carrier": carrier, "return_tracking_no": trackingNo, "return_shipped_at": now, "updated_at": now})
	return res.RowsAffected == 1, res.Error
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
