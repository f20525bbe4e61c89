package logistics

import (
	"context"
	"encoding/xml"
	"strings"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/courier"
	"github.com/minimall/minimall/internal/platform/wechat/push"
)

// queryTimeout bounds a real-time courier query made while a customer
// waits.
const queryTimeout = 5 * time.Second

// TrackedParcel is a parcel with its events, newest first.
type TrackedParcel struct {
	Parcel
	CarrierName string
	Events      []Event
}

// Tracking is what a customer sees of an order's parcels. Stale is true
// when the stored events are older than the query interval and the courier
// could not be asked.
type Tracking struct {
	Parcels []TrackedParcel
	Stale   bool
}

// final reports whether a parcel will not move any more.
func final(state string) bool { return state == StateSigned || state == StateReturned }

// Tracking returns the parcels of one of the customer's orders with their
// events. Parcels whose stored events are older than QueryEvery are asked
// for at the courier first, at most once per QueryEvery per waybill across
// instances; a courier that fails leaves the stored events, marked stale.
func (s *Service) Tracking(ctx context.Context, customerID, orderID int64) (Tracking, error) {
	o, err := s.orders.Get(ctx, customerID, orderID)
	if err != nil {
		return Tracking{}, err
	}
	return s.orderTracking(ctx, o)
}

// TrackingForStaff returns the parcels of any order with their events, for
// the merchant console. It follows Tracking's rules, so a staff read asks
// the courier no more often than a customer's: at most once per QueryEvery
// per waybill, shared with every other reader.
func (s *Service) TrackingForStaff(ctx context.Context, orderID int64) (Tracking, error) {
	o, err := s.orders.ByID(ctx, orderID)
	if err != nil {
		return Tracking{}, err
	}
	return s.orderTracking(ctx, o)
}

// orderTracking is the body of Tracking and TrackingForStaff once the
// reader may see o: an order without parcels has not shipped.
func (s *Service) orderTracking(ctx context.Context, o order.Order) (Tracking, error) {
	parcels, err := s.store.ParcelsOf(ctx, KindOrder, []int64{o.ID})
	if err != nil {
		return Tracking{}, apperr.Internal(err)
	}
	if len(parcels) == 0 {
		return Tracking{}, apperr.InvalidState(string(o.Status), "the order has not shipped")
	}
	return s.track(ctx, parcels)
}

// Track returns given parcels (e.g. from ParcelsOf) with their events,
// refreshed like Tracking.
func (s *Service) Track(ctx context.Context, parcels []Parcel) (Tracking, error) {
	return s.track(ctx, parcels)
}

func (s *Service) track(ctx context.Context, parcels []Parcel) (Tracking, error) {
	var out Tracking
	for _, p := range parcels {
		if final(p.State) {
			continue
		}
		now := s.now()
		if p.QueriedAt != nil && now.Sub(*p.QueriedAt) < s.cfg.QueryEvery {
			continue
		}
		claimed, err := s.store.ClaimQuery(ctx, p.ID, now, now.Add(-s.cfg.QueryEvery))
		if err != nil {
			return Tracking{}, apperr.Internal(err)
		}
		if !claimed {
			continue // another request or instance is asking right now
		}
		if err := s.query(ctx, p); err != nil {
			out.Stale = true
			s.log.WarnContext(ctx, "courier query failed; answering stored events", "parcel_id", p.ID, "err", err)
		}
	}
	for _, p := range parcels {
		fresh, err := s.store.ParcelByID(ctx, p.ID)
		if err != nil {
			return Tracking{}, apperr.Internal(err)
		}
		events, err := s.store.Events(ctx, p.ID)
		if err != nil {
			return Tracking{}, apperr.Internal(err)
		}
		name := fresh.Carrier
		if c, ok := s.orders.Carriers().Lookup(fresh.Carrier); ok {
			name = c.Name
		}
		out.Parcels = append(out.Parcels, TrackedParcel{Parcel: fresh, CarrierName: name, Events: events})
	}
	return out, nil
}

func (s *Service) query(ctx context.Context, p Parcel) error {
	com, ok := Kuaidi100Code(p.Carrier)
	if !ok {
		return permanent{code: -3, msg: "no courier code for carrier " + p.Carrier}
	}
	phone := ""
	if needsPhone(p.Carrier) {
		phone = p.Phone
	}
	qctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	t, err := s.courier.Query(qctx, com, p.TrackingNo, phone)
	if err != nil {
		return err
	}
	queued, err := s.record(ctx, []Parcel{p}, t)
	if err != nil {
		return err
	}
	s.deliverNow(ctx, queued)
	return nil
}

// statusTexts maps kuaidi100's status texts, for events without a code.
var statusTexts = map[string]string{
	"揽收": StateCollected, "在途": StateInTransit, "派件": StateOutForDelivery, "签收": StateSigned,
	"疑难": StateProblem, "退回": StateReturning, "退签": StateReturned, "转投": StateInTransit,
	"清关": StateInTransit, "待清关": StateInTransit, "拒签": StateProblem,
}

func eventsOf(t courier.Track) []Event {
	out := make([]Event, 0, len(t.Events))
	for i, e := range t.Events {
		state := NormaliseState(e.StatusCode)
		if state == "" {
			state = statusTexts[e.Status]
		}
		if state == "" && i == 0 {
			state = NormaliseState(t.State)
		}
		if state == "" {
			state = StateInTransit
		}
		out = append(out, Event{Time: e.Time, Description: e.Context, Location: e.Location, State: state,
			RawCode: e.StatusCode, RawStatus: e.Status})
	}
	return out
}

// record stores what the courier said of a waybill for each of its parcels,
// in one transaction: new events, the parcel's state (only from a newer
// event), and, when every parcel of an order is now signed, the order's
// delivered_at with a queued WeChat confirm-receipt reminder. It returns the
// outbox rows to deliver after commit.
func (s *Service) record(ctx context.Context, parcels []Parcel, t courier.Track) ([]int64, error) {
	events := eventsOf(t)
	state := NormaliseState(t.State)
	var newest time.Time
	var newestState string
	var signedAt *time.Time
	for _, e := range events {
		if e.Time.After(newest) {
			newest, newestState = e.Time, e.State
		}
		if e.State == StateSigned && (signedAt == nil || e.Time.Before(*signedAt)) {
			at := e.Time
			signedAt = &at
		}
	}
	if state == "" {
		state = newestState
	}
	if state == StateSigned && signedAt == nil {
		signedAt = &newest
	}
	if state != StateSigned {
		signedAt = nil
	}
	var queued []int64
	err := s.db.TxRetry(ctx, func(ctx context.Context) error {
		queued = queued[:0]
		now := s.now()
		for _, p := range parcels {
			if _, err := s.store.AddEvents(ctx, p.ID, events, now); err != nil {
				return err
			}
			if len(events) == 0 {
				if err := s.store.Touch(ctx, p.ID, now); err != nil {
					return err
				}
				continue
			}
			moved, err := s.store.Follow(ctx, p.ID, state, t.State, newest.Truncate(time.Millisecond), signedAt, now)
			if err != nil {
				return err
			}
			if !moved || state != StateSigned || p.Kind != KindOrder {
				continue
			}
			id, err := s.delivered(ctx, p.RefID, now)
			if err != nil {
				return err
			}
			if id != 0 {
				queued = append(queued, id)
			}
		}
		return nil
	})
	return queued, apperr.From(err)
}

// delivered records delivered_at when every parcel of the order is signed
// and queues the WeChat reminder for WeChat-paid orders; it returns that
// outbox row's id (0 when nothing is queued).
func (s *Service) delivered(ctx context.Context, orderID int64, now time.Time) (int64, error) {
	all, err := s.store.ParcelsOf(ctx, KindOrder, []int64{orderID})
	if err != nil {
		return 0, err
	}
	var at time.Time
	for _, p := range all {
		if p.State != StateSigned || p.SignedAt == nil {
			return 0, nil
		}
		if p.SignedAt.After(at) {
			at = *p.SignedAt
		}
	}
	ok, err := s.orders.MarkDelivered(ctx, orderID, at)
	if err != nil || !ok {
		return 0, err
	}
	pay, paid, err := s.paid(ctx, orderID)
	if err != nil || !paid || !pay.wechat {
		return 0, err
	}
	return s.store.Enqueue(ctx, OutboxConfirmNotify, orderID, OutboxPending, now)
}

// HandleCourierPush verifies and stores a courier push (the form fields
// param and sign). A bad signature is invalid_argument and stores nothing;
// a push for a waybill the shop does not follow is acknowledged and
// ignored. The caller answers courier.PushReply only when this returns nil.
func (s *Service) HandleCourierPush(ctx context.Context, param, sign string) error {
	if param == "" || !s.courier.VerifyPush(param, sign) {
		return apperr.Invalid("the push signature does not verify", "sign")
	}
	p, err := courier.ParsePush(param)
	if err != nil {
		return apperr.Invalid("the push is malformed", "param")
	}
	carrier, ok := carrierOfKuaidi100(p.Track.Company)
	if !ok {
		s.log.InfoContext(ctx, "courier push for an unknown company ignored", "company", p.Track.Company)
		return nil
	}
	parcels, err := s.store.ParcelsByWaybill(ctx, carrier, strings.ToUpper(p.Track.Number))
	if err != nil {
		return apperr.Internal(err)
	}
	if len(parcels) == 0 {
		s.log.InfoContext(ctx, "courier push for an unknown waybill ignored", "carrier", carrier, "tracking_no", p.Track.Number)
		return nil
	}
	if p.Status == "abort" || p.Status == "shutdown" {
		s.log.InfoContext(ctx, "courier subscription ended", "carrier", carrier, "tracking_no", p.Track.Number,
			"status", p.Status)
	}
	queued, err := s.record(ctx, parcels, p.Track)
	if err != nil {
		return err
	}
	s.deliverNow(ctx, queued)
	return nil
}

// settlement is the trade_manage_order_settlement event's body.
type settlement struct {
	XMLName              xml.Name `json:"-" xml:"xml"`
	TransactionID        string   `json:"transaction_id" xml:"transaction_id"`
	MerchantID           string   `json:"merchant_id" xml:"merchant_id"`
	MerchantTradeNo      string   `json:"merchant_trade_no" xml:"merchant_trade_no"`
	ConfirmReceiveMethod int      `json:"confirm_receive_method" xml:"confirm_receive_method"`
	ConfirmReceiveTime   int64    `json:"confirm_receive_time" xml:"confirm_receive_time"`
	SettlementTime       int64    `json:"settlement_time" xml:"settlement_time"`
}

// WeChat push events this module handles.
const (
	EventOrderSettlement = "trade_manage_order_settlement"
	EventRemindShipping  = "trade_manage_remind_shipping"
	EventRemindAccessAPI = "trade_manage_remind_access_api"
)

// OnSettlement handles WeChat's trade_manage_order_settlement event. Sent
// at shipping it only announces the settlement date; sent with
// confirm_receive_method (1 automatic, 2 the buyer in WeChat) it reports the
// buyer's confirmation, and the order completes with actor platform. An
// unknown trade, another merchant's trade, or an order already completed is
// acknowledged and changes nothing.
func (s *Service) OnSettlement(ctx context.Context, e push.Event) error {
	var ev settlement
	if err := e.Decode(&ev); err != nil {
		return apperr.Invalid("the settlement event is malformed")
	}
	if ev.ConfirmReceiveMethod == 0 && ev.ConfirmReceiveTime == 0 {
		s.log.InfoContext(ctx, "wechat settlement notice", "transaction_id", ev.TransactionID)
		return nil
	}
	orderID, ok, err := s.payments.OrderOfWeChatTrade(ctx, ev.MerchantTradeNo, ev.TransactionID)
	if err != nil {
		return err
	}
	if !ok {
		s.log.WarnContext(ctx, "wechat settlement event for an unknown trade ignored", "transaction_id", ev.TransactionID)
		return nil
	}
	if pay, paid, err := s.paid(ctx, orderID); err != nil {
		return err
	} else if paid && pay.mchID != "" && ev.MerchantID != "" && pay.mchID != ev.MerchantID {
		s.log.WarnContext(ctx, "wechat settlement event for another merchant ignored", "order_id", orderID)
		return nil
	}
	reason := "receipt confirmed by the buyer in WeChat"
	if ev.ConfirmReceiveMethod == 1 {
		reason = "receipt confirmed automatically by WeChat"
	}
	err = s.orders.CompleteByPlatform(ctx, orderID, reason)
	if apperr.Is(err, apperr.CodeInvalidState) {
		s.log.InfoContext(ctx, "wechat settlement event changed nothing", "order_id", orderID, "err", err)
		return nil
	}
	return err
}

// OnReminder logs WeChat's reminders (ship the order, connect the
// shipping API) for operators.
func (s *Service) OnReminder(ctx context.Context, e push.Event) error {
	var ev struct {
		TransactionID   string `json:"transaction_id" xml:"transaction_id"`
		MerchantTradeNo string `json:"merchant_trade_no" xml:"merchant_trade_no"`
		Msg             string `json:"msg" xml:"msg"`
	}
	_ = e.Decode(&ev)
	s.log.WarnContext(ctx, "wechat shipping reminder", "event", e.Name, "transaction_id", ev.TransactionID,
		"out_trade_no", ev.MerchantTradeNo, "msg", ev.Msg)
	return nil
}

// check that the service is the order module's Shipping.
var _ order.Shipping = (*Service)(nil)
