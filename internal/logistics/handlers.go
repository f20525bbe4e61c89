package logistics

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/courier"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve the shipping, tracking and courier-push routes.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the logistics handlers.
func NewHandlers(svc *Service) (*Handlers, error) {
	if svc == nil {
		return nil, errors.New("logistics: nil service")
	}
	return &Handlers{svc: svc}, nil
}

type parcelRequest struct {
	Carrier    string  `json:"carrier"`
	TrackingNo string  `json:"tracking_no"`
	ItemIDs    []int64 `json:"item_ids"`
}

// shipRequest is one parcel (carrier, tracking_no) or several (parcels).
type shipRequest struct {
	Carrier    string          `json:"carrier"`
	TrackingNo string          `json:"tracking_no"`
	Parcels    []parcelRequest `json:"parcels"`
}

// Ship serves POST /api/v1/admin/orders/{id}/ship and answers the staff
// order detail.
func (h *Handlers) Ship(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req shipRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	var in []ParcelInput
	switch {
	case len(req.Parcels) > 0 && (req.Carrier != "" || req.TrackingNo != ""):
		httpx.Error(c, apperr.Invalid("send either carrier and tracking_no, or parcels", "parcels"))
		return
	case len(req.Parcels) > 0:
		for _, p := range req.Parcels {
			in = append(in, ParcelInput{Carrier: p.Carrier, TrackingNo: p.TrackingNo, ItemIDs: p.ItemIDs})
		}
	default:
		in = []ParcelInput{{Carrier: req.Carrier, TrackingNo: req.TrackingNo}}
	}
	d, err := h.svc.Ship(c.Request.Context(), auth.StaffID(c), id, in)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, order.NewAdminDetailJSON(d))
}

type correctRequest struct {
	Carrier    string `json:"carrier"`
	TrackingNo string `json:"tracking_no"`
}

// CorrectParcel serves PUT /api/v1/admin/orders/{id}/parcels/{parcel_id}.
func (h *Handlers) CorrectParcel(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	parcelID, err := httpx.ParamID(c, "parcel_id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req correctRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	if req.Carrier == "" && req.TrackingNo == "" {
		httpx.Error(c, apperr.Invalid("carrier or tracking_no is required", "carrier", "tracking_no"))
		return
	}
	d, err := h.svc.CorrectParcel(c.Request.Context(), auth.StaffID(c), id, parcelID, req.Carrier, req.TrackingNo)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, order.NewAdminDetailJSON(d))
}

// RetryUpload serves POST /api/v1/admin/orders/{id}/shipping-upload/retry.
func (h *Handlers) RetryUpload(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	d, err := h.svc.RetryUpload(c.Request.Context(), auth.StaffID(c), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, order.NewAdminDetailJSON(d))
}

// EventJSON is a tracking event.
type EventJSON struct {
	Time        time.Time `json:"time"`
	Description string    `json:"description"`
	Location    string    `json:"location"`
	State       string    `json:"state"`
}

// TrackedParcelJSON is a parcel with its events, newest first.
type TrackedParcelJSON struct {
	ID          int64       `json:"id"`
	Carrier     string      `json:"carrier"`
	CarrierName string      `json:"carrier_name"`
	TrackingNo  string      `json:"tracking_no"`
	State       string      `json:"state"`
	Events      []EventJSON `json:"events"`
}

// TrackingJSON answers GET /api/v1/orders/{id}/tracking.
type TrackingJSON struct {
	Parcels []TrackedParcelJSON `json:"parcels"`
	Stale   bool                `json:"stale"`
}

// NewTrackingJSON is the API shape of t, for other modules' routes that
// show parcels (after-sales).
func NewTrackingJSON(t Tracking) TrackingJSON {
	out := TrackingJSON{Parcels: make([]TrackedParcelJSON, len(t.Parcels)), Stale: t.Stale}
	for i, p := range t.Parcels {
		ev := make([]EventJSON, len(p.Events))
		for j, e := range p.Events {
			ev[j] = EventJSON{Time: e.Time, Description: e.Description, Location: e.Location, State: e.State}
		}
		out.Parcels[i] = TrackedParcelJSON{ID: p.ID, Carrier: p.Carrier, CarrierName: p.CarrierName,
			TrackingNo: p.TrackingNo, State: p.State, Events: ev}
	}
	return out
}

// Tracking serves GET /api/v1/orders/{id}/tracking.
func (h *Handlers) Tracking(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	t, err := h.svc.Tracking(c.Request.Context(), auth.CustomerID(c), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, NewTrackingJSON(t))
}

// AdminTracking serves GET /api/v1/admin/orders/{id}/tracking: the same
// answer as Tracking, for any order.
func (h *Handlers) AdminTracking(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	t, err := h.svc.TrackingForStaff(c.Request.Context(), id)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, NewTrackingJSON(t))
}

// CourierPush serves POST /api/v1/notify/courier: kuaidi100's form post
// with param and sign. It answers kuaidi100's success JSON only after the
// events are stored; a bad signature answers 400 and stores nothing.
func (h *Handlers) CourierPush(c *gin.Context) {
	if err := c.Request.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			CourierTooLarge(c)
			return
		}
	}
	if err := h.svc.HandleCourierPush(c.Request.Context(), c.PostForm("param"), c.PostForm("sign")); err != nil {
		httpx.Error(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", []byte(courier.PushReply))
}

// CourierTooLarge answers a courier push whose body is over the request
// limit in kuaidi100's JSON reply format, never the API's envelope: the
// router calls it for a declared length over the limit, CourierPush for a
// body that crosses the limit while it is read.
func CourierTooLarge(c *gin.Context) {
	c.Data(http.StatusRequestEntityTooLarge, "application/json; charset=utf-8", []byte(courier.PushTooLarge))
	c.Abort()
}
