// Package audit records every staff write: who did what to which object,
// when, and under which request id, in the same transaction as the write.
package audit

import (
	"context"
	"errors"
	"time"

	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Entry is one staff action.
type Entry struct {
	StaffID    int64
	Action     string // e.g. "product.update", "stock.adjust"
	TargetType string // e.g. "product"
	TargetID   string
	Detail     string // short human-readable or JSON detail
}

// Log writes audit entries.
type Log struct {
	db    *db.DB
	clock clock.Clock
}

// New returns an audit log writing to d.
func New(d *db.DB, clk clock.Clock) (*Log, error) {
	if d == nil || clk == nil {
		return nil, errors.New("audit: nil dependency")
	}
	return &Log{db: d, clock: clk}, nil
}

type row struct {
	ID         int64
	StaffID    int64
	Action     string
	TargetType string
	TargetID   string
	Detail     string
	RequestID  string
	CreatedAt  time.Time
}

func (row) TableName() string { return "audit_logs" }

// Record writes e; called inside the use case's transaction it commits or
// rolls back with the write it describes.
func (l *Log) Record(ctx context.Context, e Entry) error {
	r := row{
		StaffID: e.StaffID, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
		Detail: e.Detail, RequestID: httpx.RequestIDFromContext(ctx), CreatedAt: l.clock.Now(),
	}
	return l.db.Writer(ctx).Create(&r).Error
}

// Recorded is an audit entry as read back.
type Recorded struct {
	ID int64
	Entry
	RequestID string
	CreatedAt time.Time
}

func (r row) recorded() Recorded {
	return Recorded{
		ID:        r.ID,
		Entry:     Entry{StaffID: r.StaffID, Action: r.Action, TargetType: r.TargetType, TargetID: r.TargetID, Detail: r.Detail},
		RequestID: r.RequestID, CreatedAt: r.CreatedAt,
	}
}

// ListByTarget returns the entries about one object, oldest first.
func (l *Log) ListByTarget(ctx context.Context, targetType, targetID string) ([]Recorded, error) {
	var rows []row
	if err := l.db.Reader(ctx).Where("target_type = ? AND target_id = ?", targetType, targetID).
		Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Recorded, len(rows))
	for i, r := range rows {
		out[i] = r.recorded()
	}
	return out, nil
}

// Filter narrows List; zero fields do not filter.
type Filter struct {
	StaffID int64
	Action  string
	// From is inclusive, Before exclusive.
	From, Before time.Time
}

// List returns one page of the entries f keeps, newest first, and how many
// it keeps in all. Each filter is served by an index: (staff_id,
// created_at), (action, created_at) or (created_at).
func (l *Log) List(ctx context.Context, f Filter, offset, limit int) ([]Recorded, int64, error) {
	q := l.db.Reader(ctx).Model(&row{})
	if f.StaffID != 0 {
		q = q.Where("staff_id = ?", f.StaffID)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From.UTC())
	}
	if !f.Before.IsZero() {
		q = q.Where("created_at < ?", f.Before.UTC())
	}
	rows, total, err := db.Page[row](q, "created_at DESC, id DESC", offset, limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Recorded, len(rows))
	for i, r := range rows {
		out[i] = r.recorded()
	}
	return out, total, nil
}
