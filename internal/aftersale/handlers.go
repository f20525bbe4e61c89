package aftersale

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve the customer's and the staff's after-sales routes.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the after-sales handlers.
func NewHandlers(svc *Service) (*Handlers, error) {
	if svc == nil {
		return nil, errors.New("aftersale: nil service")
	}
	return &Handlers{svc: svc}, nil
}

// ItemJSON is a line of a request.
type ItemJSON struct {
	ID            int64 `json:"id"`
	OrderItemID   int64 `json:"order_item_id"`
	SKUID         int64 `json:"sku_id"`
	Quantity      int64 `json:"quantity"`
	ShareFen      int64 `json:"share_fen"`
	ExchangeSKUID int64 `json:"exchange_sku_id,omitempty"`
}

// EventJSON is one entry of a request's history.
type EventJSON struct {
	From      Status    `json:"from"`
	To        Status    `json:"to"`
	ActorType string    `json:"actor_type"`
	ActorID   int64     `json:"actor_id"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
}

// ParcelJSON is a carrier and tracking number.
type ParcelJSON struct {
	Carrier    string     `json:"carrier"`
	TrackingNo string     `json:"tracking_no"`
	ShippedAt  *time.Time `json:"shipped_at,omitempty"`
	// State is the courier's tracking state ("" until it reports).
	State string `json:"state"`
}

// JSON is a request as the API shows it.
type JSON struct {
	ID                int64       `json:"id"`
	OrderID           int64       `json:"order_id"`
	Type              Type        `json:"type"`
	Status            Status      `json:"status"`
	Initiator         string      `json:"initiator"`
	Reason            string      `json:"reason"`
	Description       string      `json:"description"`
	Images            []string    `json:"images"`
	Items             []ItemJSON  `json:"items"`
	BeforeShipping    bool        `json:"before_shipping"`
	ComputedFen       int64       `json:"computed_fen"`
	RefundFen         int64       `json:"refund_fen"`
	FreightFen        int64       `json:"freight_fen"`
	DecisionReason    string      `json:"decision_reason"`
	ReturnParcel      *ParcelJSON `json:"return_parcel"`
	ReplacementParcel *ParcelJSON `json:"replacement_parcel"`
	OutRefundNo       string      `json:"out_refund_no,omitempty"`
	RefundStatus      string      `json:"refund_status,omitempty"`
	RefundDetail      string      `json:"refund_detail,omitempty"`
	History           []EventJSON `json:"history,omitempty"`
	ApprovedAt        *time.Time  `json:"approved_at"`
	ReturnedAt        *time.Time  `json:"returned_at"`
	RefundedAt        *time.Time  `json:"refunded_at"`
	EndedAt           *time.Time  `json:"ended_at"`
	CreatedAt         time.Time   `json:"created_at"`
	UpdatedAt         time.Time   `json:"updated_at"`
}

func toJSON(r Request, events []Event) JSON {
	out := JSON{
		ID: r.ID, OrderID: r.OrderID, Type: r.Type, Status: r.Status, Initiator: r.Initiator, Reason: r.Reason,
		Description: r.Description, Images: r.Images, Items: make([]ItemJSON, len(r.Items)),
		BeforeShipping: r.BeforeShipping, ComputedFen: r.ComputedFen, RefundFen: r.RefundFen, FreightFen: r.FreightFen,
		DecisionReason: r.DecisionReason, OutRefundNo: r.OutRefundNo, RefundStatus: r.RefundStatus,
		RefundDetail: r.RefundDetail, ApprovedAt: r.ApprovedAt, ReturnedAt: r.ReturnedAt, RefundedAt: r.RefundedAt,
		EndedAt: r.EndedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	for i, it := range r.Items {
		out.Items[i] = ItemJSON{ID: it.ID, OrderItemID: it.OrderItemID, SKUID: it.SKUID, Quantity: it.Quantity,
			ShareFen: it.ShareFen, ExchangeSKUID: it.ExchangeSKUID}
	}
	if r.ReturnTrackingNo != "" {
		out.ReturnParcel = &ParcelJSON{Carrier: r.ReturnCarrier, TrackingNo: r.ReturnTrackingNo, ShippedAt: r.ReturnShippedAt}
	}
	if r.ReplacementTrackingNo != "" {
		out.ReplacementParcel = &ParcelJSON{Carrier: r.ReplacementCarrier, TrackingNo: r.ReplacementTrackingNo, ShippedAt: r.EndedAt}
	}
	for _, e := range events {
		out.History = append(out.History, EventJSON{From: e.From, To: e.To, ActorType: e.ActorType, ActorID: e.ActorID,
			Reason: e.Reason, CreatedAt: e.CreatedAt})
	}
	return out
}

// RefundJSON is a payment refund as staff see it.
type RefundJSON struct {
	OutRefundNo      string     `json:"out_refund_no"`
	Channel          string     `json:"channel"`
	AmountFen        int64      `json:"amount_fen"`
	Status           string     `json:"status"`
	ProviderRefundID string     `json:"provider_refund_id"`
	Detail           string     `json:"detail"`
	SucceededAt      *time.Time `json:"succeeded_at"`
	CreatedAt        time.Time  `json:"created_at"`
}

func refundJSON(r payment.Refund) RefundJSON {
	return RefundJSON{OutRefundNo: r.OutRefundNo, Channel: string(r.Channel), AmountFen: r.AmountFen, Status: string(r.Status),
		ProviderRefundID: r.ProviderRefundID, Detail: r.Detail, SucceededAt: r.SucceededAt, CreatedAt: r.CreatedAt}
}

// AdminJSON is a request with its customer, order and refunds for staff.
type AdminJSON struct {
	JSON
	CustomerID int64        `json:"customer_id"`
	Order      *OrderJSON   `json:"order,omitempty"`
	Refunds    []RefundJSON `json:"refunds"`
}

// OrderJSON is the order of a request as staff see it on its detail.
type OrderJSON struct {
	ID          int64           `json:"id"`
	OrderNo     string          `json:"order_no"`
	Status      string          `json:"status"`
	PaidFen     int64           `json:"paid_fen"`
	FreightFen  int64           `json:"freight_fen"`
	RefundedFen int64           `json:"refunded_fen"`
	Items       []OrderLineJSON `json:"items"`
}

// OrderLineJSON is an order line with its after-sales counters.
type OrderLineJSON struct {
	ID               int64  `json:"id"`
	SKUID            int64  `json:"sku_id"`
	Title            string `json:"title"`
	SpecText         string `json:"spec_text"`
	PriceFen         int64  `json:"price_fen"`
	Quantity         int64  `json:"quantity"`
	SubtotalFen      int64  `json:"subtotal_fen"`
	RefundedQuantity int64  `json:"refunded_quantity"`
	AfterSaleOpen    bool   `json:"aftersale_open"`
}

type lineRequest struct {
	OrderItemID   int64 `json:"order_item_id"`
	Quantity      int64 `json:"quantity"`
	ExchangeSKUID int64 `json:"exchange_sku_id"`
}

func lines(in []lineRequest) []LineInput {
	out := make([]LineInput, len(in))
	for i, l := range in {
		out[i] = LineInput{OrderItemID: l.OrderItemID, Quantity: l.Quantity, ExchangeSKUID: l.ExchangeSKUID}
	}
	return out
}

type createRequest struct {
	OrderID     int64         `json:"order_id"`
	Type        Type          `json:"type"`
	Items       []lineRequest `json:"items"`
	Reason      string        `json:"reason"`
	Description string        `json:"description"`
	Images      []string      `json:"images"`
}

// Create serves POST /api/v1/aftersales.
func (h *Handlers) Create(c *gin.Context) {
	var req createRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	r, err := h.svc.Create(c.Request.Context(), auth.CustomerID(c), CreateInput{OrderID: req.OrderID, Type: req.Type,
		Items: lines(req.Items), Reason: req.Reason, Description: req.Description, Images: req.Images})
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, toJSON(r, nil))
}

// List serves GET /api/v1/aftersales: the customer's requests, newest first.
func (h *Handlers) List(c *gin.Context) {
	p, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	items, total, err := h.svc.List(c.Request.Context(), Filter{CustomerID: auth.CustomerID(c), Status: Status(c.Query("status"))},
		p.Offset(), p.PageSize)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]JSON, len(items))
	for i, r := range items {
		out[i] = toJSON(r, nil)
	}
	c.JSON(http.StatusOK, httpx.NewList(out, total, p))
}

// Get serves GET /api/v1/aftersales/{id} with the request's history.
func (h *Handlers) Get(c *gin.Context) {
	h.customer(c, func(ctx context.Context, customerID, id int64) (Request, error) {
		return h.svc.Get(ctx, customerID, id)
	})
}

// Cancel serves POST /api/v1/aftersales/{id}/cancel.
func (h *Handlers) Cancel(c *gin.Context) { h.customer(c, h.svc.Cancel) }

// ReturnShipment serves POST /api/v1/aftersales/{id}/return-shipment.
func (h *Handlers) ReturnShipment(c *gin.Context) {
	var req struct {
		Carrier    string `json:"carrier"`
		TrackingNo string `json:"tracking_no"`
	}
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	h.customer(c, func(ctx context.Context, customerID, id int64) (Request, error) {
		return h.svc.ReturnShipment(ctx, customerID, id, ParcelInput{Carrier: req.Carrier, TrackingNo: req.TrackingNo})
	})
}

func (h *Handlers) customer(c *gin.Context, fn func(ctx context.Context, customerID, id int64) (Request, error)) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	r, err := fn(c.Request.Context(), auth.CustomerID(c), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	ev, err := h.svc.Events(c.Request.Context(), r.ID)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := toJSON(r, ev)
	if err := h.states(c.Request.Context(), r, &out); err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// states fills in the tracking states of the request's parcels.
func (h *Handlers) states(ctx context.Context, r Request, out *JSON) error {
	ret, repl, err := h.svc.ParcelStates(ctx, r)
	if err != nil {
		return err
	}
	if out.ReturnParcel != nil {
		out.ReturnParcel.State = ret
	}
	if out.ReplacementParcel != nil {
		out.ReplacementParcel.State = repl
	}
	return nil
}

// ---- staff ----

func parseTime(s, name string, endOfDay bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseInLocation("2006-01-02", s, time.FixedZone("CST", 8*3600))
	if err != nil {
		return time.Time{}, apperr.Invalid(name+" must be an RFC 3339 time or a date (YYYY-MM-DD)", name)
	}
	if endOfDay {
		d = d.AddDate(0, 0, 1)
	}
	return d.UTC(), nil
}

// AdminList serves GET /api/v1/admin/aftersales with the filters status,
// type, order_no, created_from and created_to (dates in Beijing time).
func (h *Handlers) AdminList(c *gin.Context) {
	p, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	f := Filter{Status: Status(c.Query("status")), Type: Type(c.Query("type"))}
	if s := c.Query("created_from"); s != "" {
		if f.CreatedFrom, err = parseTime(s, "created_from", false); err != nil {
			httpx.Error(c, err)
			return
		}
	}
	if s := c.Query("created_to"); s != "" {
		if f.CreatedBefore, err = parseTime(s, "created_to", true); err != nil {
			httpx.Error(c, err)
			return
		}
	}
	if no := c.Query("order_no"); no != "" {
		id, ok, err := h.svc.OrderIDByNo(c.Request.Context(), no)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if !ok {
			c.JSON(http.StatusOK, httpx.NewList([]AdminJSON{}, 0, p))
			return
		}
		f.OrderID = id
	}
	items, total, err := h.svc.List(c.Request.Context(), f, p.Offset(), p.PageSize)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]AdminJSON, len(items))
	for i, r := range items {
		out[i] = AdminJSON{JSON: toJSON(r, nil), CustomerID: r.CustomerID, Refunds: []RefundJSON{}}
	}
	c.JSON(http.StatusOK, httpx.NewList(out, total, p))
}

// AdminGet serves GET /api/v1/admin/aftersales/{id}: the request with its
// order, lines, refund and history.
func (h *Handlers) AdminGet(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	h.adminDetail(c, id)
}

func (h *Handlers) adminDetail(c *gin.Context, id int64) {
	d, err := h.svc.AdminGet(c.Request.Context(), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := AdminJSON{JSON: toJSON(d.Request, d.Events), CustomerID: d.CustomerID, Refunds: []RefundJSON{}}
	if err := h.states(c.Request.Context(), d.Request, &out.JSON); err != nil {
		httpx.Error(c, err)
		return
	}
	o := d.Order
	out.Order = &OrderJSON{ID: o.ID, OrderNo: o.OrderNo, Status: string(o.Status), PaidFen: o.PaidFen,
		FreightFen: o.FreightFen, RefundedFen: o.RefundedFen, Items: make([]OrderLineJSON, len(o.Items))}
	for i, it := range o.Items {
		out.Order.Items[i] = OrderLineJSON{ID: it.ID, SKUID: it.SKUID, Title: it.Title, SpecText: it.SpecText,
			PriceFen: it.PriceFen, Quantity: it.Quantity, SubtotalFen: it.SubtotalFen,
			RefundedQuantity: it.RefundedQuantity, AfterSaleOpen: it.AfterSaleOpen}
	}
	if d.Refund != nil {
		out.Refunds = append(out.Refunds, refundJSON(*d.Refund))
	}
	c.JSON(http.StatusOK, out)
}

func (h *Handlers) staff(c *gin.Context, body any, fn func(ctx context.Context, staffID, id int64) (Request, error)) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	if body != nil {
		if err := httpx.DecodeJSON(c, body); err != nil {
			httpx.Error(c, err)
			return
		}
	}
	r, err := fn(c.Request.Context(), auth.StaffID(c), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	h.adminDetail(c, r.ID)
}

// Approve serves POST /api/v1/admin/aftersales/{id}/approve.
func (h *Handlers) Approve(c *gin.Context) {
	var req struct {
		RefundFen *int64 `json:"refund_fen"`
		Reason    string `json:"reason"`
	}
	var body any = &req
	if c.Request.ContentLength == 0 {
		body = nil // every field is optional
	}
	h.staff(c, body, func(ctx context.Context, staffID, id int64) (Request, error) {
		return h.svc.Approve(ctx, staffID, id, ApproveInput{RefundFen: req.RefundFen, Reason: req.Reason})
	})
}

// Reject serves POST /api/v1/admin/aftersales/{id}/reject.
func (h *Handlers) Reject(c *gin.Context) {
	var req struct {
		Reason string `json:"reason"`
	}
	h.staff(c, &req, func(ctx context.Context, staffID, id int64) (Request, error) {
		return h.svc.Reject(ctx, staffID, id, req.Reason)
	})
}

// ReceiveReturn serves POST /api/v1/admin/aftersales/{id}/receive-return.
func (h *Handlers) ReceiveReturn(c *gin.Context) {
	var req struct {
		Accept *bool  `json:"accept"`
		Reason string `json:"reason"`
	}
	h.staff(c, &req, func(ctx context.Context, staffID, id int64) (Request, error) {
		if req.Accept == nil {
			return Request{}, apperr.Invalid("accept is required", "accept")
		}
		return h.svc.ReceiveReturn(ctx, staffID, id, *req.Accept, req.Reason)
	})
}

// ShipReplacement serves POST /api/v1/admin/aftersales/{id}/ship-replacement.
func (h *Handlers) ShipReplacement(c *gin.Context) {
	var req struct {
		Carrier    string `json:"carrier"`
		TrackingNo string `json:"tracking_no"`
	}
	h.staff(c, &req, func(ctx context.Context, staffID, id int64) (Request, error) {
		return h.svc.ShipReplacement(ctx, staffID, id, ParcelInput{Carrier: req.Carrier, TrackingNo: req.TrackingNo})
	})
}

// MerchantRefund serves POST /api/v1/admin/orders/{id}/refunds: 201 with
// the approved refund-only request.
func (h *Handlers) MerchantRefund(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req struct {
		Items       []lineRequest `json:"items"`
		WholeOrder  bool          `json:"whole_order"`
		Reason      string        `json:"reason"`
		Description string        `json:"description"`
	}
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	r, err := h.svc.MerchantRefund(c.Request.Context(), auth.StaffID(c), id, MerchantRefundInput{
		Items: lines(req.Items), WholeOrder: req.WholeOrder, Reason: req.Reason, Description: req.Description})
	if err != nil {
		httpx.Error(c, err)
		return
	}
	d, err := h.svc.AdminGet(c.Request.Context(), r.ID)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := AdminJSON{JSON: toJSON(d.Request, d.Events), CustomerID: d.CustomerID, Refunds: []RefundJSON{}}
	if d.Refund != nil {
		out.Refunds = append(out.Refunds, refundJSON(*d.Refund))
	}
	c.JSON(http.StatusCreated, out)
}

// RefundAnomaly serves POST /api/v1/admin/payment-anomalies/{id}/refund:
// the re-submitted refund of a late or double payment.
func (h *Handlers) RefundAnomaly(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	ref, err := h.svc.RefundAnomaly(c.Request.Context(), auth.StaffID(c), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, refundJSON(ref))
}
