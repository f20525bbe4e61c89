package logistics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/courier"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/wechat"
)

// Config holds the module's settings.
type Config struct {
	// CallbackURL is where the courier pushes (MINIMALL_PUBLIC_BASE_URL +
	// /api/v1/notify/courier).
	CallbackURL string
	// QueryEvery is the least time between two real-time queries of one
	// waybill (kuaidi100 locks waybills queried more often): 30 minutes.
	QueryEvery time.Duration
	// DeliverNowTimeout bounds the delivery attempted right after a commit;
	// what does not finish is left to the job.
	DeliverNowTimeout time.Duration
	// WeChatPayMchID is the WeChat Pay merchant id, which names a trade by
	// out_trade_no in the shipping-info upload and the receipt reminder.
	WeChatPayMchID string
}

// DefaultQueryEvery is kuaidi100's limit: one query per waybill per 30 min.
const DefaultQueryEvery = 30 * time.Minute

// Deps are the Service's collaborators; every one is required.
type Deps struct {
	DB       *db.DB
	Store    *Store
	Orders   *order.Service
	Payments *payment.Service
	WeChat   WeChat
	Courier  Courier
	Audit    *audit.Log
	Clock    clock.Clock
	Log      *slog.Logger
}

// Service holds the logistics rules.
type Service struct {
	db       *db.DB
	store    *Store
	orders   *order.Service
	payments *payment.Service
	wechat   WeChat
	courier  Courier
	audit    *audit.Log
	clock    clock.Clock
	log      *slog.Logger
	cfg      Config
}

// NewService returns the logistics service; it refuses a missing
// dependency, a callback URL that is not http(s), and a carrier of the
// order module without codes here.
func NewService(d Deps, cfg Config) (*Service, error) {
	if d.DB == nil || d.Store == nil || d.Orders == nil || d.Payments == nil || d.WeChat == nil ||
		d.Courier == nil || d.Audit == nil || d.Clock == nil || d.Log == nil {
		return nil, errors.New("logistics: nil dependency")
	}
	if !strings.HasPrefix(cfg.CallbackURL, "http://") && !strings.HasPrefix(cfg.CallbackURL, "https://") {
		return nil, fmt.Errorf("logistics: callback URL %q is not http(s)", cfg.CallbackURL)
	}
	if cfg.QueryEvery <= 0 {
		cfg.QueryEvery = DefaultQueryEvery
	}
	if cfg.DeliverNowTimeout <= 0 {
		cfg.DeliverNowTimeout = 5 * time.Second
	}
	for _, code := range d.Orders.Carriers().Codes() {
		if _, ok := carrierTable[code]; !ok {
			return nil, fmt.Errorf("logistics: carrier %s has no courier or WeChat code", code)
		}
	}
	return &Service{db: d.DB, store: d.Store, orders: d.Orders, payments: d.Payments, wechat: d.WeChat,
		courier: d.Courier, audit: d.Audit, clock: d.Clock, log: d.Log, cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.clock.Now().Truncate(time.Millisecond) }

// paidBy is how an order was paid, as the shipping-info upload and the
// WeChat events need it.
type paidBy struct {
	wechat        bool // paid through WeChat Pay
	outTradeNo    string
	transactionID string // the platform's transaction id
	payerID       string // the payer's openid (WeChat)
	mchID         string // the WeChat Pay merchant id
}

// paid returns the payment that paid the order, as the payment module
// decides it (payment.Service.PayingAttempt: late and double payments never
// count); ok is false when the order has none (e.g. made paid by staff
// tooling).
func (s *Service) paid(ctx context.Context, orderID int64) (p paidBy, ok bool, err error) {
	at, found, err := s.payments.PayingAttempt(ctx, orderID)
	if err != nil || !found {
		return paidBy{}, false, err
	}
	p = paidBy{wechat: at.Channel == payment.ChannelWeChat, outTradeNo: at.OutTradeNo,
		transactionID: at.ProviderTxnID, payerID: at.PayerID}
	if p.wechat {
		p.mchID = s.cfg.WeChatPayMchID
	}
	return p, true, nil
}

func isNotFound(err error) bool { return errors.Is(err, gorm.ErrRecordNotFound) }

// ---- shipping ----

// ParcelInput is one parcel staff hand to a carrier. ItemIDs may be empty
// when the order ships in one parcel (every line).
type ParcelInput struct {
	Carrier    string
	TrackingNo string
	ItemIDs    []int64
}

// MaxParcels bounds the parcels of one order (WeChat's split delivery takes
// at most 10 waybills).
const MaxParcels = 10

func (s *Service) checkCarrier(code string) (string, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if _, ok := s.orders.Carriers().Lookup(code); !ok {
		return "", apperr.Invalid("carrier must be one of "+strings.Join(s.orders.Carriers().Codes(), ", "), "carrier")
	}
	return code, nil
}

// plan validates the parcels against the order: every line that has units
// to ship (not refunded in full before shipping) in exactly one parcel, no
// waybill twice.
func (s *Service) plan(o order.Order, in []ParcelInput) ([]ParcelInput, error) {
	if len(in) == 0 {
		return nil, apperr.Invalid("at least one parcel is required", "parcels")
	}
	if len(in) > MaxParcels {
		return nil, apperr.Invalid(fmt.Sprintf("at most %d parcels", MaxParcels), "parcels")
	}
	// Lines refunded in full before shipping (after-sales) are withheld:
	// they ship in no parcel; the others ship what is left of them.
	lines := make(map[int64]bool, len(o.Items))
	withheld := map[int64]bool{}
	for _, it := range o.Items {
		if it.ToShip() <= 0 {
			withheld[it.ID] = true
			continue
		}
		lines[it.ID] = false
	}
	out := make([]ParcelInput, len(in))
	seen := map[string]bool{}
	for i, p := range in {
		var err error
		if p.Carrier, err = s.checkCarrier(p.Carrier); err != nil {
			return nil, err
		}
		if p.TrackingNo, err = normaliseTrackingNo(p.TrackingNo); err != nil {
			return nil, err
		}
		if seen[p.Carrier+"/"+p.TrackingNo] {
			return nil, apperr.Invalid("a waybill appears twice", "parcels")
		}
		seen[p.Carrier+"/"+p.TrackingNo] = true
		if len(in) == 1 && len(p.ItemIDs) == 0 {
			for _, it := range o.Items {
				if !withheld[it.ID] {
					p.ItemIDs = append(p.ItemIDs, it.ID)
				}
			}
		}
		if len(p.ItemIDs) == 0 {
			return nil, apperr.Invalid("every parcel of a split shipment lists its item_ids", "item_ids")
		}
		ids := slices.Clone(p.ItemIDs)
		slices.Sort(ids)
		for _, id := range ids {
			taken, ok := lines[id]
			if withheld[id] {
				return nil, apperr.Invalid(fmt.Sprintf("item %d was refunded before shipping and does not ship", id), "item_ids")
			}
			if !ok {
				return nil, apperr.Invalid(fmt.Sprintf("item %d is not a line of this order", id), "item_ids")
			}
			if taken {
				return nil, apperr.Invalid(fmt.Sprintf("item %d is in two parcels", id), "item_ids")
			}
			lines[id] = true
		}
		p.ItemIDs = ids
		out[i] = p
	}
	for id, taken := range lines {
		if !taken {
			return nil, apperr.Invalid(fmt.Sprintf("item %d is in no parcel", id), "item_ids")
		}
	}
	return out, nil
}

// uploadState is the initial shipping-info upload state of an order: only
// WeChat-paid orders owe WeChat their shipping information.
func (s *Service) uploadState(ctx context.Context, orderID int64) (string, error) {
	p, ok, err := s.paid(ctx, orderID)
	if err != nil {
		return "", err
	}
	if ok && p.wechat {
		return OutboxPending, nil
	}
	return OutboxNotRequired, nil
}

// Ship hands a paid order to carriers on behalf of staffID: in one
// transaction the order moves to shipped, the parcels and their lines are
// written with a courier subscription each, the WeChat upload is queued (or
// recorded as not required), and the audit entry is written. After commit
// the platform calls are tried at once; what fails is retried by the job
// and never undoes the shipment. It answers the staff order detail.
func (s *Service) Ship(ctx context.Context, staffID, orderID int64, in []ParcelInput) (order.Detail, error) {
	o, err := s.orders.ByID(ctx, orderID)
	if err != nil {
		return order.Detail{}, err
	}
	if err := o.CanShip(); err != nil {
		return order.Detail{}, err
	}
	plan, err := s.plan(o, in)
	if err != nil {
		return order.Detail{}, err
	}
	upload, err := s.uploadState(ctx, orderID)
	if err != nil {
		return order.Detail{}, apperr.From(err)
	}
	var queued []int64
	err = s.db.TxRetry(ctx, func(ctx context.Context) error {
		queued = queued[:0]
		waybills := make([]string, len(plan))
		for i, p := range plan {
			waybills[i] = p.Carrier + " " + p.TrackingNo
		}
		at, err := s.orders.MarkShipped(ctx, orderID, order.Staff(staffID), "shipped with "+strings.Join(waybills, ", "))
		if err != nil {
			return err
		}
		// The plan above was made from a read before the transaction; a
		// refund approved since then withholds a line it may list. The
		// guarded move serialises this transaction with every after-sale
		// change of the order, so a read now is the truth the parcels
		// must match: plan again from it.
		current, err := s.orders.ByID(ctx, orderID)
		if err != nil {
			return err
		}
		planned, err := s.plan(current, in)
		if err != nil {
			return err
		}
		for _, p := range planned {
			parcel := Parcel{Kind: KindOrder, RefID: orderID, Carrier: p.Carrier, TrackingNo: p.TrackingNo,
				Phone: o.Address.Phone, StaffID: staffID, ItemIDs: p.ItemIDs, CreatedAt: at}
			if err := s.store.InsertParcel(ctx, &parcel); err != nil {
				return err
			}
			id, err := s.store.Enqueue(ctx, OutboxSubscribe, parcel.ID, OutboxPending, at)
			if err != nil {
				return err
			}
			queued = append(queued, id)
		}
		id, err := s.store.Enqueue(ctx, OutboxUpload, orderID, upload, at)
		if err != nil {
			return err
		}
		if upload == OutboxPending {
			queued = append(queued, id)
		}
		detail, err := json.Marshal(map[string]any{"parcels": waybills})
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{StaffID: staffID, Action: "order.ship", TargetType: "order",
			TargetID: strconv.FormatInt(orderID, 10), Detail: string(detail)})
	})
	if err != nil {
		return order.Detail{}, apperr.From(err)
	}
	s.deliverNow(ctx, queued)
	return s.orders.AdminGet(ctx, orderID)
}

// CorrectParcel changes a parcel's carrier and/or tracking number while the
// order is shipped; the new waybill is subscribed again and the order's
// shipping information uploaded again.
func (s *Service) CorrectParcel(ctx context.Context, staffID, orderID, parcelID int64, carrier, trackingNo string) (order.Detail, error) {
	o, err := s.orders.ByID(ctx, orderID)
	if err != nil {
		return order.Detail{}, err
	}
	p, err := s.store.ParcelByID(ctx, parcelID)
	if isNotFound(err) || err == nil && (p.Kind != KindOrder || p.RefID != orderID) {
		return order.Detail{}, apperr.NotFound("parcel")
	}
	if err != nil {
		return order.Detail{}, apperr.Internal(err)
	}
	if o.Status != order.StatusShipped {
		return order.Detail{}, apperr.InvalidState(string(o.Status), "parcels can be corrected only while the order is shipped")
	}
	if carrier == "" {
		carrier = p.Carrier
	}
	if trackingNo == "" {
		trackingNo = p.TrackingNo
	}
	if carrier, err = s.checkCarrier(carrier); err != nil {
		return order.Detail{}, err
	}
	if trackingNo, err = normaliseTrackingNo(trackingNo); err != nil {
		return order.Detail{}, err
	}
	var queued []int64
	err = s.db.TxRetry(ctx, func(ctx context.Context) error {
		queued = queued[:0]
		now := s.now()
		if err := s.store.Correct(ctx, parcelID, carrier, trackingNo, now); err != nil {
			return err
		}
		id, err := s.store.Enqueue(ctx, OutboxSubscribe, parcelID, OutboxPending, now)
		if err != nil {
			return err
		}
		queued = append(queued, id)
		if ok, err := s.store.Requeue(ctx, OutboxUpload, orderID, []string{OutboxPending, OutboxDone, OutboxFailed}, now); err != nil {
			return err
		} else if ok {
			up, _, err := s.store.OutboxOf(ctx, OutboxUpload, orderID)
			if err != nil {
				return err
			}
			queued = append(queued, up.ID)
		}
		detail, err := json.Marshal(map[string]string{"parcel_id": strconv.FormatInt(parcelID, 10),
			"from": p.Carrier + " " + p.TrackingNo, "to": carrier + " " + trackingNo})
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{StaffID: staffID, Action: "order.parcel.correct", TargetType: "order",
			TargetID: strconv.FormatInt(orderID, 10), Detail: string(detail)})
	})
	if db.IsDuplicate(err) {
		return order.Detail{}, apperr.Conflict("the order already has a parcel with this waybill")
	}
	if err != nil {
		return order.Detail{}, apperr.From(err)
	}
	s.deliverNow(ctx, queued)
	return s.orders.AdminGet(ctx, orderID)
}

// RetryUpload queues a failed WeChat shipping-info upload again.
func (s *Service) RetryUpload(ctx context.Context, staffID, orderID int64) (order.Detail, error) {
	if _, err := s.orders.ByID(ctx, orderID); err != nil {
		return order.Detail{}, err
	}
	var id int64
	err := s.db.Tx(ctx, func(ctx context.Context) error {
		ok, err := s.store.Requeue(ctx, OutboxUpload, orderID, []string{OutboxFailed}, s.now())
		if err != nil {
			return err
		}
		up, found, err := s.store.OutboxOf(ctx, OutboxUpload, orderID)
		if err != nil {
			return err
		}
		if !ok {
			state := ""
			if found {
				state = uploadStateName(up.State)
			}
			return apperr.New(apperr.CodeInvalidState, "only a failed shipping-info upload can be retried").
				WithDetail("shipping_upload", state)
		}
		id = up.ID
		return s.audit.Record(ctx, audit.Entry{StaffID: staffID, Action: "order.shipping_upload.retry",
			TargetType: "order", TargetID: strconv.FormatInt(orderID, 10)})
	})
	if err != nil {
		return order.Detail{}, apperr.From(err)
	}
	s.deliverNow(ctx, []int64{id})
	return s.orders.AdminGet(ctx, orderID)
}

// TrackParcel registers a parcel that is not an order's outbound shipment
// (kind KindReturn or KindReplacement, refID the caller's own id, e.g. an
// after-sale) and subscribes it at the courier; it is then tracked like any
// parcel (pushes, queries, GET tracking through ParcelsOf). Registering the
// same waybill for the same ref again returns the parcel already there.
// Called with a context that carries a transaction, it joins it and the
// subscription is left to the job (it runs within seconds); otherwise it is
// tried at once after commit.
func (s *Service) TrackParcel(ctx context.Context, kind string, refID int64, carrier, trackingNo, phone string) (Parcel, error) {
	if kind != KindReturn && kind != KindReplacement {
		return Parcel{}, apperr.Invalid("kind must be return or replacement", "kind")
	}
	carrier, err := s.checkCarrier(carrier)
	if err != nil {
		return Parcel{}, err
	}
	if trackingNo, err = normaliseTrackingNo(trackingNo); err != nil {
		return Parcel{}, err
	}
	if p, ok, err := s.store.FindParcel(ctx, kind, refID, carrier, trackingNo); err != nil || ok {
		return p, apperr.From(err)
	}
	joined := db.InTx(ctx)
	p := Parcel{Kind: kind, RefID: refID, Carrier: carrier, TrackingNo: trackingNo, Phone: phone, CreatedAt: s.now()}
	var queued int64
	err = s.db.Tx(ctx, func(ctx context.Context) error {
		if err := s.store.InsertParcel(ctx, &p); err != nil {
			return err
		}
		queued, err = s.store.Enqueue(ctx, OutboxSubscribe, p.ID, OutboxPending, p.CreatedAt)
		return err
	})
	if db.IsDuplicate(err) && !joined {
		if found, ok, ferr := s.store.FindParcel(ctx, kind, refID, carrier, trackingNo); ferr == nil && ok {
			return found, nil
		}
	}
	if err != nil {
		return Parcel{}, apperr.From(err)
	}
	if !joined {
		s.deliverNow(ctx, []int64{queued})
	}
	return p, nil
}

// ParcelsOf returns the parcels of refs of one kind with their lines.
func (s *Service) ParcelsOf(ctx context.Context, kind string, refIDs []int64) ([]Parcel, error) {
	out, err := s.store.ParcelsOf(ctx, kind, refIDs)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return out, nil
}

// ---- the order module's view (order.Shipping) ----

// Parcels returns the outbound parcels of orders, for the order reads.
func (s *Service) Parcels(ctx context.Context, orderIDs []int64) (map[int64][]order.Parcel, error) {
	list, err := s.store.ParcelsOf(ctx, KindOrder, orderIDs)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	out := make(map[int64][]order.Parcel, len(orderIDs))
	for _, p := range list {
		name := p.Carrier
		if c, ok := s.orders.Carriers().Lookup(p.Carrier); ok {
			name = c.Name
		}
		out[p.RefID] = append(out[p.RefID], order.Parcel{ID: p.ID, Carrier: p.Carrier, CarrierName: name,
			TrackingNo: p.TrackingNo, ItemIDs: p.ItemIDs, State: p.State})
	}
	return out, nil
}

func uploadStateName(outbox string) string {
	switch outbox {
	case OutboxDone:
		return order.UploadUploaded
	case OutboxFailed:
		return order.UploadFailed
	case OutboxNotRequired:
		return order.UploadNotRequired
	}
	return order.UploadPending
}

// uploadOutboxState is the outbox state behind each shipping-upload state
// of the order module (the inverse of uploadStateName).
var uploadOutboxState = map[string]string{
	order.UploadPending: OutboxPending, order.UploadUploaded: OutboxDone,
	order.UploadFailed: OutboxFailed, order.UploadNotRequired: OutboxNotRequired,
}

// OrdersByUpload returns a subquery of the ids of orders whose
// shipping-info upload is in state (order.UploadPending, ...), for the staff
// order list to filter on in the same statement as its page.
func (s *Service) OrdersByUpload(ctx context.Context, state string) (*gorm.DB, error) {
	st, ok := uploadOutboxState[state]
	if !ok {
		return nil, apperr.Invalid("shipping_upload must be one of pending, uploaded, failed, not_required", "shipping_upload")
	}
	return s.store.RefsInState(ctx, OutboxUpload, st), nil
}

// Upload returns where an order's shipping-info upload stands.
func (s *Service) Upload(ctx context.Context, orderID int64) (order.ShippingUpload, error) {
	o, ok, err := s.store.OutboxOf(ctx, OutboxUpload, orderID)
	if err != nil {
		return order.ShippingUpload{}, apperr.Internal(err)
	}
	if !ok {
		return order.ShippingUpload{}, nil
	}
	u := order.ShippingUpload{State: uploadStateName(o.State), Attempts: o.Attempts, ErrCode: o.ErrCode, ErrMsg: o.ErrMsg}
	if o.DoneAt != nil {
		u.At = o.DoneAt
	}
	if o.State == OutboxDone {
		u.ErrCode, u.ErrMsg = 0, ""
	}
	return u, nil
}

// ---- the outbox ----

// leaseFor bounds one delivery; a lease that runs out lets another instance
// take the row.
const leaseFor = time.Minute

// maxAttempts is when a row that keeps failing transiently is given up as
// failed (staff can retry it).
const maxAttempts = 12

// backoff is the wait after the nth failed attempt: 10 s doubling, at most
// 30 minutes.
func backoff(n int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < n && d < 30*time.Minute; i++ {
		d *= 2
	}
	return min(d, 30*time.Minute)
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// deliverNow tries the given rows right after their commit, bounded by
// DeliverNowTimeout; the job retries whatever this does not finish.
func (s *Service) deliverNow(ctx context.Context, ids []int64) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DeliverNowTimeout)
	defer cancel()
	for _, id := range ids {
		if _, err := s.deliver(ctx, id); err != nil {
			s.log.WarnContext(ctx, "logistics outbox delivery failed", "outbox_id", id, "err", err)
		}
	}
}

// DeliverOutbox is the logistics-outbox job step: it delivers up to limit
// due rows and returns how many it claimed. Safe on several instances.
func (s *Service) DeliverOutbox(ctx context.Context, limit int) (int, error) {
	ids, err := s.store.DueOutbox(ctx, s.now(), limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		claimed, err := s.deliver(ctx, id)
		if err != nil {
			s.log.ErrorContext(ctx, "logistics outbox delivery failed", "outbox_id", id, "err", err)
		}
		if claimed {
			n++
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
	}
	return n, nil
}

// deliver claims one row and makes its platform call. It reports whether it
// got the row; a platform refusal is recorded on the row, not returned.
func (s *Service) deliver(ctx context.Context, id int64) (bool, error) {
	token := newToken()
	now := s.now()
	ok, err := s.store.Claim(ctx, id, token, now, now.Add(leaseFor))
	if err != nil || !ok {
		return false, err
	}
	row, err := s.store.OutboxByID(ctx, id)
	if err != nil {
		return true, err
	}
	var callErr error
	switch row.Kind {
	case OutboxUpload:
		callErr = s.upload(ctx, row.RefID)
	case OutboxConfirmNotify:
		callErr = s.notifyConfirm(ctx, row.RefID)
	case OutboxSubscribe:
		callErr = s.subscribe(ctx, row.RefID)
	default:
		callErr = permanent{code: -3, msg: "unknown outbox kind " + row.Kind}
	}
	state, next, code, msg := s.outcome(row, callErr)
	if callErr != nil {
		s.log.WarnContext(ctx, "platform call failed", "kind", row.Kind, "ref_id", row.RefID,
			"attempt", row.Attempts, "state", state, "errcode", code, "err", callErr)
	}
	held, err := s.store.Settle(ctx, id, token, state, next, code, msg, s.now())
	if err != nil {
		return true, err
	}
	if !held {
		s.log.InfoContext(ctx, "outbox row changed during delivery; its result is dropped", "outbox_id", id)
	}
	return true, nil
}

// permanent is a refusal that retrying cannot change.
type permanent struct {
	code int64
	msg  string
}

func (p permanent) Error() string { return fmt.Sprintf("errcode=%d %s", p.code, p.msg) }

// transientWeChat lists WeChat errcodes worth retrying: system busy and the
// frequency limits (token errors were already retried once by the client).
func transientWeChat(code int64) bool {
	return code == -1 || code == 45009 || code == 45011 || code == wechat.ErrCodeTokenInvalid ||
		code == wechat.ErrCodeTokenExpired
}

func (s *Service) outcome(row Outbox, err error) (state string, next time.Time, code int64, msg string) {
	now := s.now()
	if err == nil {
		return OutboxDone, now, 0, ""
	}
	var we *wechat.APIError
	var ce *courier.Error
	var pe permanent
	retry := true
	switch {
	case errors.As(err, &we):
		code, msg, retry = we.ErrCode, we.ErrMsg, transientWeChat(we.ErrCode)
	case errors.As(err, &ce):
		c, _ := strconv.ParseInt(ce.ReturnCode, 10, 64)
		code, msg = c, ce.Message
		// kuaidi100: 500 server error and 503 busy are worth retrying;
		// 400, 600, 601, 700 are refusals of this request.
		retry = c == 500 || c == 502 || c == 503 || c == 0
	case errors.As(err, &pe):
		code, msg, retry = pe.code, pe.msg, false
	default:
		code, msg = -1, "platform unreachable"
	}
	if !retry || row.Attempts >= maxAttempts {
		return OutboxFailed, now, code, msg
	}
	return OutboxPending, now.Add(backoff(row.Attempts)), code, msg
}

var beijing = time.FixedZone("CST", 8*3600)

// upload sends an order's shipping information to WeChat, built from the
// parcels as they are now.
func (s *Service) upload(ctx context.Context, orderID int64) error {
	o, err := s.orders.ByID(ctx, orderID)
	if err != nil {
		return err
	}
	pay, ok, err := s.paid(ctx, orderID)
	if err != nil {
		return err
	}
	if !ok || !pay.wechat {
		return permanent{code: -3, msg: "the order was not paid through WeChat Pay"}
	}
	parcels, err := s.store.ParcelsOf(ctx, KindOrder, []int64{orderID})
	if err != nil {
		return err
	}
	if len(parcels) == 0 {
		return permanent{code: -3, msg: "the order has no parcel"}
	}
	titles := make(map[int64]string, len(o.Items))
	for _, it := range o.Items {
		titles[it.ID] = fmt.Sprintf("%s*%d", it.Title, it.Quantity)
	}
	in := &wechat.ShippingInfo{LogisticsType: 1, DeliveryMode: 1, Payer: &wechat.ShippingPayer{Openid: pay.payerID}}
	if pay.transactionID != "" {
		in.OrderKey = &wechat.ShippingOrderKey{OrderNumberType: 2, TransactionID: pay.transactionID}
	} else {
		in.OrderKey = &wechat.ShippingOrderKey{OrderNumberType: 1, Mchid: pay.mchID, OutTradeNo: pay.outTradeNo}
	}
	if len(parcels) > 1 {
		in.DeliveryMode, in.IsAllDelivered = 2, true
	}
	for _, p := range parcels {
		code, _ := WeChatCode(p.Carrier)
		desc := make([]string, 0, len(p.ItemIDs))
		for _, id := range p.ItemIDs {
			desc = append(desc, titles[id])
		}
		info := &wechat.ShippingItem{TrackingNo: p.TrackingNo, ExpressCompany: code, ItemDesc: truncate(strings.Join(desc, "; "), 120)}
		if p.Carrier == "SF" {
			info.Contact.ReceiverContact = maskPhone(p.Phone)
		}
		in.ShippingList = append(in.ShippingList, info)
	}
	at := s.clock.Now().In(beijing)
	in.UploadTime = &at
	return s.wechat.UploadShippingInfo(ctx, in)
}

// notifyConfirm asks WeChat to remind the buyer to confirm receipt.
func (s *Service) notifyConfirm(ctx context.Context, orderID int64) error {
	o, err := s.orders.ByID(ctx, orderID)
	if err != nil {
		return err
	}
	pay, ok, err := s.paid(ctx, orderID)
	if err != nil {
		return err
	}
	if !ok || !pay.wechat {
		return permanent{code: -3, msg: "the order was not paid through WeChat Pay"}
	}
	received := s.clock.Now()
	if o.DeliveredAt != nil {
		received = *o.DeliveredAt
	}
	return s.wechat.NotifyConfirmReceive(ctx, &wechat.ConfirmReceiveNotice{TransactionID: pay.transactionID,
		MerchantID: pay.mchID, MerchantTradeNo: pay.outTradeNo, ReceivedTime: received.Unix()})
}

// subscribe asks the courier to push a parcel's events.
func (s *Service) subscribe(ctx context.Context, parcelID int64) error {
	p, err := s.store.ParcelByID(ctx, parcelID)
	if err != nil {
		return err
	}
	com, ok := Kuaidi100Code(p.Carrier)
	if !ok {
		return permanent{code: -3, msg: "no courier code for carrier " + p.Carrier}
	}
	sub := courier.Subscription{Company: com, Number: p.TrackingNo, CallbackURL: s.cfg.CallbackURL}
	if needsPhone(p.Carrier) {
		sub.Phone = p.Phone
	}
	return s.courier.Subscribe(ctx, sub)
}
