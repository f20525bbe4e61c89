package audit

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve GET /api/v1/admin/audit.
type Handlers struct {
	log *Log
	loc *time.Location
}

// NewHandlers returns the handlers reading l; dates in filters are days of
// the shop's time zone loc.
func NewHandlers(l *Log, loc *time.Location) (*Handlers, error) {
	if l == nil || loc == nil {
		return nil, errors.New("audit: nil dependency")
	}
	return &Handlers{log: l, loc: loc}, nil
}

type entryJSON struct {
	ID         int64     `json:"id"`
	StaffID    int64     `json:"staff_id"`
	Action     string    `json:"action"`
	TargetType string    `json:"target_type"`
	TargetID   string    `json:"target_id"`
	Detail     string    `json:"detail"`
	RequestID  string    `json:"request_id"`
	CreatedAt  time.Time `json:"created_at"`
}

// parseBound reads an RFC 3339 time or a date (YYYY-MM-DD) of the shop's
// calendar. A date as the upper bound means all of that day; an RFC 3339
// upper bound is inclusive.
func (h *Handlers) parseBound(s, name string, upper bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if upper {
			t = t.Add(time.Millisecond)
		}
		return t.UTC(), nil
	}
	d, err := time.ParseInLocation("2006-01-02", s, h.loc)
	if err != nil {
		return time.Time{}, apperr.Invalid(name+" must be an RFC 3339 time or a date (YYYY-MM-DD)", name)
	}
	if upper {
		d = d.AddDate(0, 0, 1)
	}
	return d.UTC(), nil
}

// List serves GET /api/v1/admin/audit with the filters staff_id, action,
// from and to, newest first, paged.
func (h *Handlers) List(c *gin.Context) {
	p, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var f Filter
	if s := c.Query("staff_id"); s != "" {
		if f.StaffID, err = strconv.ParseInt(s, 10, 64); err != nil || f.StaffID <= 0 {
			httpx.Error(c, apperr.Invalid("staff_id must be a positive integer", "staff_id"))
			return
		}
	}
	if f.Action = strings.TrimSpace(c.Query("action")); len(f.Action) > 64 {
		httpx.Error(c, apperr.Invalid("action is at most 64 characters", "action"))
		return
	}
	if s := c.Query("from"); s != "" {
		if f.From, err = h.parseBound(s, "from", false); err != nil {
			httpx.Error(c, err)
			return
		}
	}
	if s := c.Query("to"); s != "" {
		if f.Before, err = h.parseBound(s, "to", true); err != nil {
			httpx.Error(c, err)
			return
		}
	}
	if !f.From.IsZero() && !f.Before.IsZero() && !f.From.Before(f.Before) {
		httpx.Error(c, apperr.Invalid("from must be before to", "from", "to"))
		return
	}
	entries, total, err := h.log.List(c.Request.Context(), f, p.Offset(), p.PageSize)
	if err != nil {
		httpx.Error(c, apperr.From(err))
		return
	}
	items := make([]entryJSON, len(entries))
	for i, e := range entries {
		items[i] = entryJSON{ID: e.ID, StaffID: e.StaffID, Action: e.Action, TargetType: e.TargetType,
			TargetID: e.TargetID, Detail: e.Detail, RequestID: e.RequestID, CreatedAt: e.CreatedAt}
	}
	c.JSON(http.StatusOK, httpx.NewList(items, total, p))
}
