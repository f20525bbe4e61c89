package payment

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// anomalyKinds are the kinds staff can filter by.
var anomalyKinds = map[string]bool{
	AnomalyUnknownTrade: true, AnomalyMerchantMismatch: true, AnomalyAmountMismatch: true,
	AnomalyTransactionMismatch: true, AnomalyLatePayment: true, AnomalyDoublePayment: true, AnomalyUnknownRefund: true,
}

// Anomalies returns a page of anomalies for staff, newest first, each with
// the refunds made for it.
func (s *Service) Anomalies(ctx context.Context, f AnomalyFilter, offset, limit int) ([]Anomaly, int64, error) {
	if f.Kind != "" && !anomalyKinds[f.Kind] {
		return nil, 0, apperr.Invalid("unknown anomaly kind", "kind")
	}
	if f.Status != "" && f.Status != AnomalyOpen && f.Status != AnomalyResolved {
		return nil, 0, apperr.Invalid("status must be open or resolved", "status")
	}
	items, total, err := s.store.ListAnomalies(ctx, f, offset, limit)
	if err != nil {
		return nil, 0, apperr.Internal(err)
	}
	return items, total, nil
}

// ResolveAnomaly closes an open anomaly with a staff member's note (what
// was done about the money). An anomaly whose automatic refund is still
// processing cannot be closed yet: its outcome is not known.
func (s *Service) ResolveAnomaly(ctx context.Context, staffID, id int64, note string) (Anomaly, error) {
	if n := len([]rune(note)); n == 0 || n > 500 {
		return Anomaly{}, apperr.Invalid("note is 1 to 500 characters", "note")
	}
	an, err := s.store.AnomalyByID(ctx, id)
	if db.IsNotFound(err) {
		return Anomaly{}, apperr.NotFound("payment anomaly")
	}
	if err != nil {
		return Anomaly{}, apperr.Internal(err)
	}
	if an.Status != AnomalyOpen {
		return Anomaly{}, apperr.InvalidState(an.Status, "the anomaly is already resolved")
	}
	refunds, err := s.anomalyRefunds(ctx, id)
	if err != nil {
		return Anomaly{}, apperr.Internal(err)
	}
	for _, r := range refunds {
		if r.Status == RefundProcessing {
			return Anomaly{}, apperr.InvalidState(an.Status, "the anomaly's refund is still processing")
		}
	}
	var moved bool
	err = s.db.Tx(ctx, func(ctx context.Context) error {
		moved, err = s.store.ResolveAnomaly(ctx, id, staffID, note, s.clock.Now())
		return err
	})
	if err != nil {
		return Anomaly{}, apperr.Internal(err)
	}
	if !moved {
		return Anomaly{}, apperr.InvalidState(AnomalyResolved, "the anomaly is already resolved")
	}
	an, err = s.store.AnomalyByID(ctx, id)
	if err != nil {
		return Anomaly{}, apperr.Internal(err)
	}
	an.Refunds = refunds
	return an, nil
}

func (s *Service) anomalyRefunds(ctx context.Context, anomalyID int64) ([]Refund, error) {
	var rows []refundRow
	if err := s.db.Reader(ctx).Where("anomaly_id = ?", anomalyID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	return refunds(rows), nil
}

// refundJSON is a refund as staff see it.
type refundJSON struct {
	ID               int64      `json:"id"`
	OutRefundNo      string     `json:"out_refund_no"`
	AmountFen        int64      `json:"amount_fen"`
	Reason           string     `json:"reason"`
	Status           string     `json:"status"`
	ProviderRefundID string     `json:"provider_refund_id"`
	Detail           string     `json:"detail"`
	SucceededAt      *time.Time `json:"succeeded_at"`
	CreatedAt        time.Time  `json:"created_at"`
}

// anomalyJSON is an anomaly as staff see it.
type anomalyJSON struct {
	ID             int64        `json:"id"`
	Channel        Channel      `json:"channel"`
	Kind           string       `json:"kind"`
	OrderID        int64        `json:"order_id"`
	AttemptID      int64        `json:"attempt_id"`
	NotificationID int64        `json:"notification_id"`
	OutTradeNo     string       `json:"out_trade_no"`
	ProviderTxnID  string       `json:"provider_txn_id"`
	ExpectedFen    int64        `json:"expected_fen"`
	ActualFen      int64        `json:"actual_fen"`
	Detail         string       `json:"detail"`
	Status         string       `json:"status"`
	ResolvedAt     *time.Time   `json:"resolved_at"`
	ResolvedBy     int64        `json:"resolved_by"`
	ResolutionNote string       `json:"resolution_note"`
	CreatedAt      time.Time    `json:"created_at"`
	Refunds        []refundJSON `json:"refunds"`
}

func toAnomalyJSON(a Anomaly) anomalyJSON {
	out := anomalyJSON{
		ID: a.ID, Channel: a.Channel, Kind: a.Kind, OrderID: a.OrderID, AttemptID: a.AttemptID,
		NotificationID: a.NotificationID, OutTradeNo: a.OutTradeNo, ProviderTxnID: a.ProviderTxnID,
		ExpectedFen: a.ExpectedFen, ActualFen: a.ActualFen, Detail: a.Detail, Status: a.Status,
		ResolvedAt: a.ResolvedAt, ResolvedBy: a.ResolvedBy, ResolutionNote: a.ResolutionNote, CreatedAt: a.CreatedAt,
		Refunds: []refundJSON{},
	}
	for _, r := range a.Refunds {
		out.Refunds = append(out.Refunds, refundJSON{
			ID: r.ID, OutRefundNo: r.OutRefundNo, AmountFen: r.AmountFen, Reason: r.Reason, Status: string(r.Status),
			ProviderRefundID: r.ProviderRefundID, Detail: r.Detail, SucceededAt: r.SucceededAt, CreatedAt: r.CreatedAt,
		})
	}
	return out
}

// AdminAnomalies serves GET /api/v1/admin/payment-anomalies
// ?kind=&status=open|resolved&page=&page_size=.
func (h *Handlers) AdminAnomalies(c *gin.Context) {
	p, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	items, total, err := h.svc.Anomalies(c.Request.Context(), AnomalyFilter{Kind: c.Query("kind"), Status: c.Query("status")}, p.Offset(), p.PageSize)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]anomalyJSON, len(items))
	for i, a := range items {
		out[i] = toAnomalyJSON(a)
	}
	c.JSON(http.StatusOK, httpx.NewList(out, total, p))
}

type resolveRequest struct {
	Note string `json:"note"`
}

// ResolveAnomaly serves POST /api/v1/admin/payment-anomalies/{id}/resolve
// {"note"}.
func (h *Handlers) ResolveAnomaly(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req resolveRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	an, err := h.svc.ResolveAnomaly(c.Request.Context(), auth.StaffID(c), id, req.Note)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, toAnomalyJSON(an))
}
