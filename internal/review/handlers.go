package review

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve the review routes of customers, the public and staff.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the review handlers.
func NewHandlers(svc *Service) (*Handlers, error) {
	if svc == nil {
		return nil, errors.New("review: nil service")
	}
	return &Handlers{svc: svc}, nil
}

// FollowUpJSON is a follow-up as shown to the public.
type FollowUpJSON struct {
	Content   string    `json:"content"`
	Images    []string  `json:"images"`
	CreatedAt time.Time `json:"created_at"`
	// State is shown to the author and staff only.
	State State `json:"state,omitempty"`
}

// ReplyJSON is the merchant's reply.
type ReplyJSON struct {
	Content   string    `json:"content"`
	RepliedAt time.Time `json:"replied_at"`
}

// PublicJSON is a published review as anyone may read it.
type PublicJSON struct {
	ID        int64         `json:"id"`
	Rating    int           `json:"rating"`
	Content   string        `json:"content"`
	Images    []string      `json:"images"`
	Nickname  string        `json:"nickname"`
	Anonymous bool          `json:"anonymous"`
	SpecText  string        `json:"spec_text"`
	CreatedAt time.Time     `json:"created_at"`
	FollowUp  *FollowUpJSON `json:"follow_up"`
	Reply     *ReplyJSON    `json:"reply"`
}

// urls lists the images that pass keep.
func urls(imgs []Image, keep func(Image) bool) []string {
	out := []string{}
	for _, i := range imgs {
		if keep(i) {
			out = append(out, i.URL)
		}
	}
	return out
}

func visible(i Image) bool { return i.Visible() }

// ownerSees is what the author sees of their images: all but withdrawn ones.
func ownerSees(i Image) bool { return i.Verdict != CheckRisky }

func publicJSON(r Review) PublicJSON {
	out := PublicJSON{ID: r.ID, Rating: r.Rating, Content: r.Content, Images: urls(r.Images, visible),
		Nickname: r.AuthorName, Anonymous: r.Anonymous, SpecText: r.SpecText, CreatedAt: r.CreatedAt}
	if f := r.FollowUp; f != nil && f.State == StatePublished {
		out.FollowUp = &FollowUpJSON{Content: f.Content, Images: urls(f.Images, visible), CreatedAt: f.CreatedAt}
	}
	if r.Reply != nil {
		out.Reply = &ReplyJSON{Content: r.Reply.Content, RepliedAt: r.Reply.RepliedAt}
	}
	return out
}

// MineJSON is a review as its author sees it, with its moderation state.
type MineJSON struct {
	PublicJSON
	OrderID     int64 `json:"order_id"`
	OrderItemID int64 `json:"order_item_id"`
	ProductID   int64 `json:"product_id"`
	State       State `json:"state"`
}

func mineJSON(r Review) MineJSON {
	out := MineJSON{PublicJSON: publicJSON(r), OrderID: r.OrderID, OrderItemID: r.OrderItemID, ProductID: r.ProductID, State: r.State}
	out.Images = urls(r.Images, ownerSees)
	if f := r.FollowUp; f != nil && f.State != StateHidden {
		out.FollowUp = &FollowUpJSON{Content: f.Content, Images: urls(f.Images, ownerSees), CreatedAt: f.CreatedAt, State: f.State}
	}
	return out
}

// AdminImageJSON is an image with its check, for staff.
type AdminImageJSON struct {
	URL     string `json:"url"`
	Verdict string `json:"verdict"`
}

// AdminFollowUpJSON is a follow-up for staff.
type AdminFollowUpJSON struct {
	Content   string           `json:"content"`
	Check     string           `json:"text_check"`
	State     State            `json:"state"`
	Images    []AdminImageJSON `json:"images"`
	CreatedAt time.Time        `json:"created_at"`
}

// AdminReplyJSON is the reply with who wrote it.
type AdminReplyJSON struct {
	Content   string    `json:"content"`
	StaffID   int64     `json:"staff_id"`
	RepliedAt time.Time `json:"replied_at"`
}

// AdminJSON is a review as staff see it.
type AdminJSON struct {
	ID          int64              `json:"id"`
	OrderID     int64              `json:"order_id"`
	OrderItemID int64              `json:"order_item_id"`
	ProductID   int64              `json:"product_id"`
	SKUID       int64              `json:"sku_id"`
	SpecText    string             `json:"spec_text"`
	CustomerID  int64              `json:"customer_id"`
	Channel     string             `json:"channel"`
	Nickname    string             `json:"nickname"`
	Anonymous   bool               `json:"anonymous"`
	Rating      int                `json:"rating"`
	Content     string             `json:"content"`
	Images      []AdminImageJSON   `json:"images"`
	State       State              `json:"state"`
	TextCheck   string             `json:"text_check"`
	HoldReason  string             `json:"hold_reason"`
	FollowUp    *AdminFollowUpJSON `json:"follow_up"`
	Reply       *AdminReplyJSON    `json:"reply"`
	PublishedAt *time.Time         `json:"published_at"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
}

func adminImages(imgs []Image) []AdminImageJSON {
	out := make([]AdminImageJSON, len(imgs))
	for i, img := range imgs {
		out[i] = AdminImageJSON{URL: img.URL, Verdict: img.Verdict}
	}
	return out
}

func adminJSON(r Review) AdminJSON {
	out := AdminJSON{ID: r.ID, OrderID: r.OrderID, OrderItemID: r.OrderItemID, ProductID: r.ProductID, SKUID: r.SKUID,
		SpecText: r.SpecText, CustomerID: r.CustomerID, Channel: r.Channel, Nickname: r.AuthorName, Anonymous: r.Anonymous,
		Rating: r.Rating, Content: r.Content, Images: adminImages(r.Images), State: r.State, TextCheck: r.TextCheck,
		HoldReason: r.HoldReason, PublishedAt: r.PublishedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if f := r.FollowUp; f != nil {
		out.FollowUp = &AdminFollowUpJSON{Content: f.Content, Check: f.Check, State: f.State, Images: adminImages(f.Images), CreatedAt: f.CreatedAt}
	}
	if r.Reply != nil {
		out.Reply = &AdminReplyJSON{Content: r.Reply.Content, StaffID: r.Reply.StaffID, RepliedAt: r.Reply.RepliedAt}
	}
	return out
}

type itemRequest struct {
	OrderItemID int64    `json:"order_item_id"`
	Rating      int      `json:"rating"`
	Content     string   `json:"content"`
	Images      []string `json:"images"`
	Anonymous   bool     `json:"anonymous"`
}

type createRequest struct {
	Items []itemRequest `json:"items"`
}

// Create serves POST /api/v1/orders/:id/reviews.
func (h *Handlers) Create(c *gin.Context) {
	orderID, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req createRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	in := make([]Input, len(req.Items))
	for i, it := range req.Items {
		in[i] = Input{OrderItemID: it.OrderItemID, Rating: it.Rating, Content: it.Content, Images: it.Images, Anonymous: it.Anonymous}
	}
	rs, err := h.svc.Create(c.Request.Context(), auth.CustomerID(c), auth.Channel(c), orderID, in)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]MineJSON, len(rs))
	for i, r := range rs {
		out[i] = mineJSON(r)
	}
	c.JSON(http.StatusCreated, gin.H{"items": out})
}

type followUpRequest struct {
	Content string   `json:"content"`
	Images  []string `json:"images"`
}

// FollowUp serves POST /api/v1/reviews/:id/follow-up.
func (h *Handlers) FollowUp(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req followUpRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	r, err := h.svc.FollowUp(c.Request.Context(), auth.CustomerID(c), id, FollowUpInput{Content: req.Content, Images: req.Images})
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, mineJSON(r))
}

// Mine serves GET /api/v1/reviews/mine.
func (h *Handlers) Mine(c *gin.Context) {
	p, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	rs, total, err := h.svc.Mine(c.Request.Context(), auth.CustomerID(c), p.Offset(), p.PageSize)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]MineJSON, len(rs))
	for i, r := range rs {
		out[i] = mineJSON(r)
	}
	c.JSON(http.StatusOK, httpx.NewList(out, total, p))
}

// Product serves GET /api/v1/products/:id/reviews (public).
func (h *Handlers) Product(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	p, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	rs, total, err := h.svc.Published(c.Request.Context(), id, c.Query("filter"), p.Offset(), p.PageSize)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]PublicJSON, len(rs))
	for i, r := range rs {
		out[i] = publicJSON(r)
	}
	c.JSON(http.StatusOK, httpx.NewList(out, total, p))
}

// AdminList serves GET /api/v1/admin/reviews.
func (h *Handlers) AdminList(c *gin.Context) {
	p, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var f AdminFilter
	if v := c.Query("product_id"); v != "" {
		if f.ProductID, err = strconv.ParseInt(v, 10, 64); err != nil || f.ProductID <= 0 {
			httpx.Error(c, apperr.Invalid("product_id must be a positive integer", "product_id"))
			return
		}
	}
	if v := c.Query("rating"); v != "" {
		if f.Rating, err = strconv.Atoi(v); err != nil || f.Rating < 1 {
			httpx.Error(c, apperr.Invalid("rating must be 1 to 5", "rating"))
			return
		}
	}
	if v := c.Query("has_images"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			httpx.Error(c, apperr.Invalid("has_images must be true or false", "has_images"))
			return
		}
		f.HasImages = &b
	}
	f.State = State(c.Query("state"))
	f.FollowUpState = State(c.Query("followup_state"))
	rs, total, err := h.svc.AdminList(c.Request.Context(), f, p.Offset(), p.PageSize)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make([]AdminJSON, len(rs))
	for i, r := range rs {
		out[i] = adminJSON(r)
	}
	c.JSON(http.StatusOK, httpx.NewList(out, total, p))
}

// AdminGet serves GET /api/v1/admin/reviews/:id.
func (h *Handlers) AdminGet(c *gin.Context) {
	h.staffAct(c, func(ctx context.Context, _, id int64) (Review, error) { return h.svc.AdminGet(ctx, id) })
}

// Hide serves POST /api/v1/admin/reviews/:id/hide.
func (h *Handlers) Hide(c *gin.Context) { h.staffAct(c, h.svc.Hide) }

// Publish serves POST /api/v1/admin/reviews/:id/publish.
func (h *Handlers) Publish(c *gin.Context) { h.staffAct(c, h.svc.Publish) }

type replyRequest struct {
	Content string `json:"content"`
}

// Reply serves POST /api/v1/admin/reviews/:id/reply.
func (h *Handlers) Reply(c *gin.Context) {
	var req replyRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	h.staffAct(c, func(ctx context.Context, staffID, id int64) (Review, error) {
		return h.svc.Reply(ctx, staffID, id, req.Content)
	})
}

func (h *Handlers) staffAct(c *gin.Context, act func(ctx context.Context, staffID, id int64) (Review, error)) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	r, err := act(c.Request.Context(), auth.StaffID(c), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, adminJSON(r))
}
