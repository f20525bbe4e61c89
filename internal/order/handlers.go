package order

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve the customer's and the staff's order routes.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the order handlers.
func NewHandlers(svc *Service) (*Handlers, error) {
	if svc == nil {
		return nil, errors.New("order: nil service")
	}
	return &Handlers{svc: svc}, nil
}

// ItemJSON is an order line as the API shows it.
type ItemJSON struct {
	// ID is left out of a preview, whose lines are not stored yet.
	ID          int64  `json:"id,omitempty"`
	SKUID       int64  `json:"sku_id"`
	ProductID   int64  `json:"product_id"`
	Title       string `json:"title"`
	SpecText    string `json:"spec_text"`
	Image       string `json:"image"`
	PriceFen    int64  `json:"price_fen"`
	Quantity    int64  `json:"quantity"`
	SubtotalFen int64  `json:"subtotal_fen"`
}

// AddressJSON is the address snapshot of an order.
type AddressJSON struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Province string `json:"province"`
	City     string `json:"city"`
	District string `json:"district"`
	Detail   string `json:"detail"`
}

// JSON is an order as the customer API shows it (API.md's order shape).
type JSON struct {
	ID          int64        `json:"id"`
	OrderNo     string       `json:"order_no"`
	Status      Status       `json:"status"`
	Items       []ItemJSON   `json:"items"`
	GoodsFen    int64        `json:"goods_fen"`
	FreightFen  int64        `json:"freight_fen"`
	TotalFen    int64        `json:"total_fen"`
	PaidFen     int64        `json:"paid_fen"`
	Address     AddressJSON  `json:"address"`
	Remark      string       `json:"remark"`
	Parcels     []ParcelJSON `json:"parcels"`
	PayDeadline time.Time    `json:"pay_deadline"`
	PaidAt      *time.Time   `json:"paid_at"`
	ShippedAt   *time.Time   `json:"shipped_at"`
	DeliveredAt *time.Time   `json:"delivered_at"`
	CompletedAt *time.Time   `json:"completed_at"`
	CancelledAt *time.Time   `json:"cancelled_at"`
	CreatedAt   time.Time    `json:"created_at"`
}

// ParcelJSON is an outbound parcel of an order; State is its tracking
// state ("" until the courier reports).
type ParcelJSON struct {
	ID          int64   `json:"id"`
	Carrier     string  `json:"carrier"`
	CarrierName string  `json:"carrier_name"`
	TrackingNo  string  `json:"tracking_no"`
	ItemIDs     []int64 `json:"item_ids"`
	State       string  `json:"state"`
}

func parcelsJSON(list []Parcel) []ParcelJSON {
	out := make([]ParcelJSON, len(list))
	for i, p := range list {
		ids := p.ItemIDs
		if ids == nil {
			ids = []int64{}
		}
		out[i] = ParcelJSON{ID: p.ID, Carrier: p.Carrier, CarrierName: p.CarrierName, TrackingNo: p.TrackingNo,
			ItemIDs: ids, State: p.State}
	}
	return out
}

func itemsJSON(items []Item) []ItemJSON {
	out := make([]ItemJSON, len(items))
	for i, it := range items {
		out[i] = ItemJSON{ID: it.ID, SKUID: it.SKUID, ProductID: it.ProductID, Title: it.Title,
			SpecText: it.SpecText, Image: it.Image, PriceFen: it.PriceFen, Quantity: it.Quantity,
			SubtotalFen: it.SubtotalFen}
	}
	return out
}

func toJSON(o Order) JSON {
	a := o.Address
	return JSON{
		ID: o.ID, OrderNo: o.OrderNo, Status: o.Status, Items: itemsJSON(o.Items),
		GoodsFen: o.GoodsFen, FreightFen: o.FreightFen, TotalFen: o.TotalFen, PaidFen: o.PaidFen,
		Address: AddressJSON{Name: a.Name, Phone: a.Phone, Province: a.Province, City: a.City,
			District: a.District, Detail: a.Detail},
		Remark: o.Remark, Parcels: parcelsJSON(o.Parcels), PayDeadline: o.PayDeadline, PaidAt: o.PaidAt,
		ShippedAt: o.ShippedAt, DeliveredAt: o.DeliveredAt, CompletedAt: o.CompletedAt, CancelledAt: o.CancelledAt, CreatedAt: o.CreatedAt,
	}
}

// EventJSON is one entry of an order's history.
type EventJSON struct {
	ID        int64     `json:"id"`
	From      Status    `json:"from"`
	To        Status    `json:"to"`
	ActorType string    `json:"actor_type"`
	ActorID   int64     `json:"actor_id"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
}

// ShippingUploadJSON is where the order's WeChat shipping-info upload
// stands: pending, uploaded, failed (with WeChat's errcode and errmsg) or
// not_required; "" before the order ships.
type ShippingUploadJSON struct {
	State    string     `json:"state"`
	ErrCode  int64      `json:"errcode,omitempty"`
	ErrMsg   string     `json:"errmsg,omitempty"`
	Attempts int        `json:"attempts"`
	At       *time.Time `json:"at"`
}

// AdminJSON is an order as staff see it in lists: the customer shape plus
// the customer, the cancel reason and the last change.
type AdminJSON struct {
	JSON
	CustomerID   int64      `json:"customer_id"`
	CancelReason string     `json:"cancel_reason"`
	ClosedAt     *time.Time `json:"closed_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// AdminDetailJSON is an order with its history and parcels.
type AdminDetailJSON struct {
	AdminJSON
	Events          []EventJSON          `json:"events"`
	ShippingUpload  ShippingUploadJSON   `json:"shipping_upload"`
	PaymentAttempts []PaymentAttemptJSON `json:"payment_attempts"`
}

// PaymentAttemptJSON is a payment attempt in the staff order detail.
type PaymentAttemptJSON struct {
	ID            int64      `json:"id"`
	Channel       string     `json:"channel"`
	OutTradeNo    string     `json:"out_trade_no"`
	Status        string     `json:"status"`
	AmountFen     int64      `json:"amount_fen"`
	RefundedFen   int64      `json:"refunded_fen"`
	ProviderTxnID string     `json:"provider_txn_id"`
	CreatedAt     time.Time  `json:"created_at"`
	PaidAt        *time.Time `json:"paid_at"`
	ClosedAt      *time.Time `json:"closed_at"`
}

func toAdminJSON(o Order) AdminJSON {
	return AdminJSON{JSON: toJSON(o), CustomerID: o.CustomerID, CancelReason: o.CancelReason,
		ClosedAt: o.ClosedAt, UpdatedAt: o.UpdatedAt}
}

// NewAdminDetailJSON is the staff order detail of d, for the handlers of
// other modules that answer with it (the ship route).
func NewAdminDetailJSON(d Detail) AdminDetailJSON { return toAdminDetailJSON(d) }

func toAdminDetailJSON(d Detail) AdminDetailJSON {
	u := d.Upload
	out := AdminDetailJSON{AdminJSON: toAdminJSON(d.Order), Events: make([]EventJSON, len(d.Events)),
		ShippingUpload: ShippingUploadJSON{State: u.State, ErrCode: u.ErrCode, ErrMsg: u.ErrMsg, Attempts: u.Attempts, At: u.At}}
	for i, e := range d.Events {
		out.Events[i] = EventJSON{ID: e.ID, From: e.From, To: e.To, ActorType: e.ActorType, ActorID: e.ActorID,
			Reason: e.Reason, CreatedAt: e.CreatedAt}
	}
	out.PaymentAttempts = make([]PaymentAttemptJSON, len(d.Payments))
	for i, p := range d.Payments {
		out.PaymentAttempts[i] = PaymentAttemptJSON{ID: p.ID, Channel: p.Channel, OutTradeNo: p.OutTradeNo,
			Status: p.Status, AmountFen: p.AmountFen, RefundedFen: p.RefundedFen, ProviderTxnID: p.ProviderTxnID,
			CreatedAt: p.CreatedAt, PaidAt: p.PaidAt, ClosedAt: p.ClosedAt}
	}
	return out
}

type lineRequest struct {
	SKUID    int64 `json:"sku_id"`
	Quantity int64 `json:"quantity"`
}

type checkoutRequest struct {
	AddressID int64         `json:"address_id"`
	Items     []lineRequest `json:"items"`
	FromCart  bool          `json:"from_cart"`
	Remark    string        `json:"remark"`
}

func (r checkoutRequest) input(customerID int64) CheckoutInput {
	in := CheckoutInput{CustomerID: customerID, AddressID: r.AddressID, FromCart: r.FromCart, Remark: r.Remark}
	for _, l := range r.Items {
		in.Items = append(in.Items, LineInput{SKUID: l.SKUID, Quantity: l.Quantity})
	}
	return in
}

// PreviewJSON is a priced checkout that changed nothing.
type PreviewJSON struct {
	Items             []ItemJSON `json:"items"`
	GoodsFen          int64      `json:"goods_fen"`
	FreightFen        int64      `json:"freight_fen"`
	TotalFen          int64      `json:"total_fen"`
	UnavailableSKUIDs []int64    `json:"unavailable_sku_ids"`
}

// Preview serves POST /api/v1/orders/preview.
func (h *Handlers) Preview(c *gin.Context) {
	var req checkoutRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	q, err := h.svc.Preview(c.Request.Context(), req.input(auth.CustomerID(c)))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := PreviewJSON{Items: itemsJSON(q.Items), GoodsFen: q.GoodsFen, FreightFen: q.FreightFen,
		TotalFen: q.TotalFen, UnavailableSKUIDs: q.UnavailableSKUIDs}
	if out.UnavailableSKUIDs == nil {
		out.UnavailableSKUIDs = []int64{}
	}
	c.JSON(http.StatusOK, out)
}

// Create serves POST /api/v1/orders: 201 with a new order, 200 with the
// first order on an idempotent replay.
func (h *Handlers) Create(c *gin.Context) {
	var req checkoutRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	in := req.input(auth.CustomerID(c))
	in.IdempotencyKey = c.GetHeader("Idempotency-Key")
	o, created, err := h.svc.Checkout(c.Request.Context(), in)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, toJSON(o))
}

// List serves GET /api/v1/orders.
func (h *Handlers) List(c *gin.Context) {
	p, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	items, total, err := h.svc.List(c.Request.Context(), auth.CustomerID(c), Status(c.Query("status")), p.Offset(), p.PageSize)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]JSON, len(items))
	for i, o := range items {
		out[i] = toJSON(o)
	}
	c.JSON(http.StatusOK, httpx.NewList(out, total, p))
}

// Get serves GET /api/v1/orders/{id}.
func (h *Handlers) Get(c *gin.Context) {
	h.customerAction(c, h.svc.Get)
}

// Cancel serves POST /api/v1/orders/{id}/cancel.
func (h *Handlers) Cancel(c *gin.Context) {
	h.customerAction(c, h.svc.Cancel)
}

// Confirm serves POST /api/v1/orders/{id}/confirm.
func (h *Handlers) Confirm(c *gin.Context) {
	h.customerAction(c, h.svc.Confirm)
}

func (h *Handlers) customerAction(c *gin.Context, fn func(ctx context.Context, customerID, id int64) (Order, error)) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	o, err := fn(c.Request.Context(), auth.CustomerID(c), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(o))
}

// parseTimeParam reads an RFC 3339 time or a date (YYYY-MM-DD, Beijing
// time, the shop's calendar). endOfDay moves a date to the next midnight,
// so that created_to=2026-11-01 includes that whole day.
func parseTimeParam(s, name string, endOfDay bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseInLocation("2006-01-02", s, beijing)
	if err != nil {
		return time.Time{}, apperr.Invalid(name+" must be an RFC 3339 time or a date (YYYY-MM-DD)", name)
	}
	if endOfDay {
		d = d.AddDate(0, 0, 1)
	}
	return d.UTC(), nil
}

// AdminList serves GET /api/v1/admin/orders with the filters status,
// order_no, customer_id, created_from and created_to.
func (h *Handlers) AdminList(c *gin.Context) {
	p, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	f := Filter{Status: Status(c.Query("status")), OrderNo: strings.TrimSpace(c.Query("order_no")),
		ShippingUpload: c.Query("shipping_upload")}
	if s := c.Query("customer_id"); s != "" {
		if f.CustomerID, err = strconv.ParseInt(s, 10, 64); err != nil || f.CustomerID <= 0 {
			httpx.Error(c, apperr.Invalid("customer_id must be a positive integer", "customer_id"))
			return
		}
	}
	if s := c.Query("created_from"); s != "" {
		if f.CreatedFrom, err = parseTimeParam(s, "created_from", false); err != nil {
			httpx.Error(c, err)
			return
		}
	}
	if s := c.Query("created_to"); s != "" {
		if f.CreatedBefore, err = parseTimeParam(s, "created_to", true); err != nil {
			httpx.Error(c, err)
			return
		}
		if len(s) != len("2006-01-02") {
			// An RFC 3339 bound is inclusive.
			f.CreatedBefore = f.CreatedBefore.Add(time.Millisecond)
		}
	}
	items, total, err := h.svc.AdminList(c.Request.Context(), f, p.Offset(), p.PageSize)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]AdminJSON, len(items))
	for i, o := range items {
		out[i] = toAdminJSON(o)
	}
	c.JSON(http.StatusOK, httpx.NewList(out, total, p))
}

// AdminGet serves GET /api/v1/admin/orders/{id}.
func (h *Handlers) AdminGet(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	d, err := h.svc.AdminGet(c.Request.Context(), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, toAdminDetailJSON(d))
}
