package aftersale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/logistics"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

// Config holds the after-sales deadlines.
type Config struct {
	// Window is how long after completion requests are accepted.
	Window time.Duration
	// AutoApprove is how long a refund-only request on an unshipped order
	// waits for staff before it is approved by itself (other requests are
	// reminded to staff then).
	AutoApprove time.Duration
	// ReturnWindow is how long an approved return waits for its parcel
	// before the request is cancelled.
	ReturnWindow time.Duration
}

func (c Config) validate() error {
	if c.Window <= 0 || c.AutoApprove <= 0 || c.ReturnWindow <= 0 {
		return errors.New("aftersale: window, auto-approve and return window must be positive")
	}
	return nil
}

// Deps are the Service's collaborators; every one is required. After-sales
// sit above the modules they use and call their services directly: orders
// (claims and refund grants), the catalog (exchange SKUs and stock, joining
// the caller's transaction), payments (refunds; platform calls, so never
// inside a transaction) and logistics (return and replacement parcels,
// tracked like outbound ones).
type Deps struct {
	DB      *db.DB
	Store   *Store
	Orders  *order.Service
	Catalog *catalog.Service
	Refunds *payment.Service
	Parcels *logistics.Service
	Audit   *audit.Log
	Clock   clock.Clock
	Log     *slog.Logger
}

// Service holds the after-sales rules.
type Service struct {
	db      *db.DB
	store   *Store
	orders  *order.Service
	catalog *catalog.Service
	refunds *payment.Service
	parcels *logistics.Service
	audit   *audit.Log
	clock   clock.Clock
	log     *slog.Logger
	cfg     Config
}

// NewService returns the after-sales service; it refuses a missing
// dependency or an invalid configuration.
func NewService(d Deps, cfg Config) (*Service, error) {
	if d.DB == nil || d.Store == nil || d.Orders == nil || d.Catalog == nil || d.Refunds == nil ||
		d.Parcels == nil || d.Audit == nil || d.Clock == nil || d.Log == nil {
		return nil, errors.New("aftersale: nil dependency")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{db: d.DB, store: d.Store, orders: d.Orders, catalog: d.Catalog, refunds: d.Refunds,
		parcels: d.Parcels, audit: d.Audit, clock: d.Clock, log: d.Log, cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

// Staff is the actor for staff member id.
func Staff(id int64) Actor { return Actor{Type: ActorStaff, ID: id} }

// Customer is the actor for customer id.
func Customer(id int64) Actor { return Actor{Type: ActorCustomer, ID: id} }

// System is the actor of the jobs.
func System() Actor { return Actor{Type: ActorSystem} }

func (a Actor) order() order.Actor { return order.Actor{Type: a.Type, ID: a.ID} }

// ---- requests ----

// LineInput is one requested line.
type LineInput struct {
	OrderItemID   int64
	Quantity      int64
	ExchangeSKUID int64
}

// CreateInput is a customer's request.
type CreateInput struct {
	OrderID     int64
	Type        Type
	Items       []LineInput
	Reason      string
	Description string
	Images      []string
}

func (in *CreateInput) validate(merchant bool) error {
	reasons, ok := Reasons[in.Type]
	if !ok {
		return apperr.Invalid("type must be refund_only, return_refund or exchange", "type")
	}
	if merchant {
		reasons = MerchantReasons
	}
	if !slices.Contains(reasons, in.Reason) {
		return apperr.Invalid("reason must be one of "+strings.Join(reasons, ", "), "reason")
	}
	in.Description = strings.TrimSpace(in.Description)
	if len([]rune(in.Description)) > MaxDescription {
		return apperr.Invalid(fmt.Sprintf("description is at most %d characters", MaxDescription), "description")
	}
	if len(in.Images) > MaxImages {
		return apperr.Invalid(fmt.Sprintf("at most %d images", MaxImages), "images")
	}
	for _, u := range in.Images {
		if len(u) == 0 || len(u) > MaxImageURL || !(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "/media/")) {
			return apperr.Invalid("images are URLs of uploaded images", "images")
		}
	}
	if len(in.Items) == 0 {
		return apperr.Invalid("items must name at least one order line", "items")
	}
	seen := map[int64]bool{}
	for _, it := range in.Items {
		switch {
		case it.OrderItemID <= 0 || seen[it.OrderItemID]:
			return apperr.Invalid("each order_item_id must be given once", "items")
		case it.Quantity <= 0:
			return apperr.Invalid("quantity must be positive", "items")
		case in.Type == TypeExchange && it.ExchangeSKUID <= 0:
			return apperr.Invalid("an exchange names the exchange_sku_id of each line", "items")
		case in.Type != TypeExchange && it.ExchangeSKUID != 0:
			return apperr.Invalid("exchange_sku_id belongs to exchanges only", "items")
		}
		seen[it.OrderItemID] = true
	}
	return nil
}

// allowedOrderStatuses are the order statuses a type may be asked on.
func allowedOrderStatuses(t Type) []order.Status {
	if t == TypeRefundOnly {
		return []order.Status{order.StatusPaid, order.StatusShipped, order.StatusCompleted}
	}
	return []order.Status{order.StatusShipped, order.StatusCompleted}
}

// anyOrderStatus are the statuses of an order that may hold after-sales.
var anyOrderStatus = []order.Status{order.StatusPaid, order.StatusShipped, order.StatusCompleted, order.StatusClosed}

// Create makes a customer's request on one of the customer's orders.
func (s *Service) Create(ctx context.Context, customerID int64, in CreateInput) (Request, error) {
	if err := in.validate(false); err != nil {
		return Request{}, err
	}
	o, err := s.orders.Get(ctx, customerID, in.OrderID)
	if err != nil {
		return Request{}, err
	}
	if err := s.checkExchange(ctx, o, in); err != nil {
		return Request{}, err
	}
	var id int64
	err = s.db.TxRetry(ctx, func(ctx context.Context) error {
		var err error
		id, err = s.create(ctx, o.ID, in, Customer(customerID), InitiatorCustomer)
		return err
	})
	if err != nil {
		return Request{}, s.mapErr(err)
	}
	return s.byID(ctx, id)
}

func (s *Service) mapErr(err error) error {
	if db.IsDuplicate(err) {
		return apperr.New(apperr.CodeLimitExceeded, "an order line already has an open after-sale")
	}
	return apperr.From(err)
}

// checkExchange checks that each replacement is a buyable SKU of the line's
// product at the line's price.
func (s *Service) checkExchange(ctx context.Context, o order.Order, in CreateInput) error {
	if in.Type != TypeExchange {
		return nil
	}
	ids := make([]int64, len(in.Items))
	for i, it := range in.Items {
		ids[i] = it.ExchangeSKUID
	}
	skus, err := s.catalog.Items(ctx, ids)
	if err != nil {
		return err
	}
	for _, it := range in.Items {
		line, ok := lineOf(o, it.OrderItemID)
		if !ok {
			return apperr.NotFound("order line")
		}
		k, ok := skus[it.ExchangeSKUID]
		if !ok || !k.Buyable() || k.ProductID != line.ProductID || k.PriceFen != line.PriceFen {
			return apperr.Invalid("exchange_sku_id must be a SKU of the same product at the same price", "items")
		}
	}
	return nil
}

func lineOf(o order.Order, itemID int64) (order.Item, bool) {
	for _, it := range o.Items {
		if it.ID == itemID {
			return it, true
		}
	}
	return order.Item{}, false
}

func amountLines(o order.Order) []AmountLine {
	out := make([]AmountLine, len(o.Items))
	for i, it := range o.Items {
		out[i] = AmountLine{ItemID: it.ID, SubtotalFen: it.SubtotalFen, Quantity: it.Quantity,
			TakenQuantity: it.AfterSaleQuantity, TakenFen: it.AfterSaleFen}
	}
	return out
}

// create runs inside the caller's transaction and returns the new id.
func (s *Service) create(ctx context.Context, orderID int64, in CreateInput, actor Actor, initiator string) (int64, error) {
	o, err := s.orders.LockForAfterSale(ctx, orderID, allowedOrderStatuses(in.Type)...)
	if err != nil {
		return 0, err
	}
	now := s.now()
	if o.Status == order.StatusCompleted && o.CompletedAt != nil && now.After(o.CompletedAt.Add(s.cfg.Window)) {
		return 0, apperr.New(apperr.CodeWindowClosed, "after-sales for this order closed on %s",
			o.CompletedAt.Add(s.cfg.Window).Format(time.RFC3339))
	}
	wants := make([]Want, len(in.Items))
	var units int64
	for i, it := range in.Items {
		line, ok := lineOf(o, it.OrderItemID)
		if !ok {
			return 0, apperr.NotFound("order line")
		}
		if line.AfterSaleOpen {
			return 0, apperr.New(apperr.CodeLimitExceeded, "order line %d already has an open after-sale", line.ID).
				WithDetail("order_item_id", line.ID)
		}
		if left := line.Quantity - line.AfterSaleQuantity; it.Quantity > left {
			return 0, apperr.New(apperr.CodeLimitExceeded, "order line %d has %d units left for after-sales", line.ID, left).
				WithDetail("order_item_id", line.ID).WithDetail("available", left)
		}
		wants[i] = Want{ItemID: it.OrderItemID, Quantity: it.Quantity}
		units += it.Quantity
	}
	shares, goods, err := Compute(o.PaidFen, o.FreightFen, amountLines(o), wants)
	if err != nil {
		return 0, err
	}
	before := o.Status == order.StatusPaid
	r := Request{
		OrderID: o.ID, CustomerID: o.CustomerID, Type: in.Type, Status: StatusRequested, Initiator: initiator,
		Reason: in.Reason, Description: in.Description, Images: in.Images, BeforeShipping: before,
		CreatedAt: now, UpdatedAt: now,
	}
	if r.Images == nil {
		r.Images = []string{}
	}
	if in.Type != TypeExchange {
		// An estimate until approval fixes it: on a paid order every
		// earlier claim is a refund before shipping.
		taken := make([]int64, len(o.Items))
		qty := make([]int64, len(o.Items))
		for i, it := range o.Items {
			taken[i], qty[i] = it.AfterSaleQuantity, it.Quantity
		}
		if before && LeavesNothingToShip(qty, taken, units) {
			r.FreightFen = o.FreightFen
		}
		r.ComputedFen = goods + r.FreightFen
		r.RefundFen = r.ComputedFen
	}
	claims := make([]order.Claim, len(shares))
	for i, sh := range shares {
		line, _ := lineOf(o, sh.ItemID)
		r.Items = append(r.Items, Item{OrderItemID: sh.ItemID, SKUID: line.SKUID, Quantity: sh.Quantity,
			ShareFen: sh.ShareFen, ExchangeSKUID: in.Items[i].ExchangeSKUID})
		claims[i] = order.Claim{ItemID: sh.ItemID, Quantity: sh.Quantity, ShareFen: sh.ShareFen}
	}
	if err := s.store.Insert(ctx, &r); err != nil {
		return 0, err
	}
	if err := s.orders.OpenClaims(ctx, o.ID, claims); err != nil {
		return 0, err
	}
	return r.ID, s.store.AddEvent(ctx, r.ID, Event{To: StatusRequested, ActorType: actor.Type, ActorID: actor.ID,
		Reason: in.Reason, CreatedAt: now})
}

func claimsOf(r Request) []order.Claim {
	out := make([]order.Claim, len(r.Items))
	for i, it := range r.Items {
		out[i] = order.Claim{ItemID: it.OrderItemID, Quantity: it.Quantity, ShareFen: it.ShareFen}
	}
	return out
}

// move applies a guarded status change with its history row; a request no
// longer in from answers invalid_state with its status.
func (s *Service) move(ctx context.Context, r *Request, from []Status, to Status, set map[string]any, actor Actor, reason string) error {
	now := s.now()
	ok, err := s.store.Move(ctx, r.ID, from, to, set, now)
	if err != nil {
		return err
	}
	if !ok {
		cur, err := s.store.ByID(ctx, r.ID)
		if err != nil {
			return err
		}
		return apperr.InvalidState(string(cur.Status), "the request is %s now", cur.Status)
	}
	prev := r.Status
	r.Status = to
	return s.store.AddEvent(ctx, r.ID, Event{From: prev, To: to, ActorType: actor.Type, ActorID: actor.ID,
		Reason: reason, CreatedAt: now})
}

// stock moves units of SKUs in ascending SKU id order (one lock order for
// every writer of the stock rows): back to stock, or taken (out_of_stock
// when short).
func (s *Service) stock(ctx context.Context, units map[int64]int64, take bool) error {
	ids := make([]int64, 0, len(units))
	for id := range units {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var short []int64
	for _, id := range ids {
		if take {
			ok, err := s.catalog.TakeStock(ctx, id, units[id])
			if err != nil {
				return err
			}
			if !ok {
				short = append(short, id)
			}
			continue
		}
		ok, err := s.catalog.ReturnStock(ctx, id, units[id])
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("aftersale: return %d units to sku %d: sku missing", units[id], id)
		}
	}
	if len(short) > 0 {
		return apperr.New(apperr.CodeOutOfStock, "the replacement is out of stock; offer a refund instead").
			WithDetail("sku_ids", short)
	}
	// Product pages show stock: once the move has committed, the catalog
	// announces it (docs/catalog.md), as checkout and cancels do.
	db.AfterCommit(ctx, func(ctx context.Context) { s.announceStock(ctx, ids) })
	return nil
}

// announceStock tells the catalog's read cache that the stock of these SKUs'
// products moved. A failure to read them only delays freshness to the
// cache's safety TTL, so it is logged, not returned.
func (s *Service) announceStock(ctx context.Context, skuIDs []int64) {
	items, err := s.catalog.Items(ctx, skuIDs)
	if err != nil {
		s.log.WarnContext(ctx, "after-sales: stock moved but its products could not be read for the catalog cache",
			"sku_ids", skuIDs, "err", err)
		return
	}
	products := make([]int64, 0, len(items))
	for _, it := range items {
		if !slices.Contains(products, it.ProductID) {
			products = append(products, it.ProductID)
		}
	}
	s.catalog.StockChanged(ctx, products...)
}

func returnedUnits(r Request) map[int64]int64 {
	m := map[int64]int64{}
	for _, it := range r.Items {
		m[it.SKUID] += it.Quantity
	}
	return m
}

func replacementUnits(r Request) map[int64]int64 {
	m := map[int64]int64{}
	for _, it := range r.Items {
		m[it.ExchangeSKUID] += it.Quantity
	}
	return m
}

func (s *Service) record(ctx context.Context, actor Actor, action string, id int64, detail map[string]any) error {
	if actor.Type != ActorStaff {
		return nil
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	return s.audit.Record(ctx, audit.Entry{StaffID: actor.ID, Action: action, TargetType: "aftersale",
		TargetID: strconv.FormatInt(id, 10), Detail: string(b)})
}

// ---- decisions ----

// ApproveInput is staff's approval: an optional lower amount, with a reason.
type ApproveInput struct {
	RefundFen *int64
	Reason    string
}

// Approve approves a requested request on behalf of staffID.
func (s *Service) Approve(ctx context.Context, staffID, id int64, in ApproveInput) (Request, error) {
	if len([]rune(in.Reason)) > MaxDecision {
		return Request{}, apperr.Invalid(fmt.Sprintf("reason is at most %d characters", MaxDecision), "reason")
	}
	return s.approve(ctx, Staff(staffID), id, in)
}

func (s *Service) approve(ctx context.Context, actor Actor, id int64, in ApproveInput) (Request, error) {
	r, err := s.get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if err := r.must("approved", StatusRequested); err != nil {
		return Request{}, err
	}
	err = s.db.TxRetry(ctx, func(ctx context.Context) error {
		r := r
		return s.approveTx(ctx, &r, actor, in)
	})
	if err != nil {
		return Request{}, apperr.From(err)
	}
	return s.afterCommit(ctx, id)
}

// afterCommit asks for the refund of a request that moved to refunding and
// returns the request as it is then.
func (s *Service) afterCommit(ctx context.Context, id int64) (Request, error) {
	r, err := s.get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if r.Status == StatusRefunding {
		s.submitRefund(context.WithoutCancel(ctx), r)
		return s.get(ctx, id)
	}
	return r, nil
}

func (s *Service) approveTx(ctx context.Context, r *Request, actor Actor, in ApproveInput) error {
	statuses := []order.Status{order.StatusShipped, order.StatusCompleted}
	if r.BeforeShipping {
		statuses = []order.Status{order.StatusPaid}
	}
	o, err := s.orders.LockForAfterSale(ctx, r.OrderID, statuses...)
	if err != nil {
		return err
	}
	now := s.now()
	var goods, units int64
	for _, it := range r.Items {
		goods += it.ShareFen
		units += it.Quantity
	}
	set := map[string]any{"approved_at": now, "decision_reason": in.Reason}
	if r.Type != TypeExchange {
		freight := int64(0)
		if r.Type == TypeRefundOnly && r.BeforeShipping {
			qty := make([]int64, len(o.Items))
			held := make([]int64, len(o.Items))
			for i, it := range o.Items {
				qty[i], held[i] = it.Quantity, it.WithheldQuantity
			}
			if LeavesNothingToShip(qty, held, units) {
				freight = o.FreightFen
			}
		}
		computed := goods + freight
		refund := computed
		if in.RefundFen != nil {
			switch {
			case *in.RefundFen > computed:
				return apperr.Invalid(fmt.Sprintf("refund_fen can be lowered, never raised above %d", computed), "refund_fen")
			case *in.RefundFen <= 0:
				return apperr.Invalid("refund_fen must be positive; reject the request instead", "refund_fen")
			case *in.RefundFen < computed && strings.TrimSpace(in.Reason) == "":
				return apperr.Invalid("a lower refund needs a reason", "reason")
			}
			refund = *in.RefundFen
		}
		set["computed_fen"], set["refund_fen"], set["freight_fen"] = computed, refund, freight
		r.ComputedFen, r.RefundFen, r.FreightFen = computed, refund, freight
	} else if in.RefundFen != nil {
		return apperr.Invalid("an exchange refunds nothing", "refund_fen")
	}
	if err := s.move(ctx, r, []Status{StatusRequested}, StatusApproved, set, actor, in.Reason); err != nil {
		return err
	}
	switch r.Type {
	case TypeRefundOnly:
		if err := s.grant(ctx, r, actor); err != nil {
			return err
		}
		if r.BeforeShipping {
			// The goods never left: they are back in stock.
			if err := s.stock(ctx, returnedUnits(*r), false); err != nil {
				return err
			}
		}
		if err := s.startRefund(ctx, r, actor); err != nil {
			return err
		}
	case TypeReturnRefund:
		if err := s.move(ctx, r, []Status{StatusApproved}, StatusAwaitingReturn, nil, actor, "waiting for the return parcel"); err != nil {
			return err
		}
	case TypeExchange:
		if err := s.stock(ctx, replacementUnits(*r), true); err != nil {
			return err
		}
		if err := s.move(ctx, r, []Status{StatusApproved}, StatusAwaitingReturn, nil, actor, "waiting for the return parcel"); err != nil {
			return err
		}
	}
	return s.record(ctx, actor, "aftersale.approve", r.ID, map[string]any{"refund_fen": r.RefundFen, "reason": in.Reason})
}

// grant records the refund on the order (counters, close when everything is
// refunded).
func (s *Service) grant(ctx context.Context, r *Request, actor Actor) error {
	_, err := s.orders.GrantRefund(ctx, r.OrderID, claimsOf(*r), r.RefundFen, r.BeforeShipping, actor.order(),
		fmt.Sprintf("refunded by after-sale %d", r.ID))
	return err
}

// OutRefundNo is the payment refund number of a request: one refund per
// request, the same number for every retry.
func OutRefundNo(id int64) string { return "AS" + strconv.FormatInt(id, 10) }

// refundFirstCheck is when the refund job first looks at a refund that was
// asked for right after commit.
const refundFirstCheck = 10 * time.Second

func (s *Service) startRefund(ctx context.Context, r *Request, actor Actor) error {
	next := s.now().Add(refundFirstCheck)
	r.OutRefundNo = OutRefundNo(r.ID)
	return s.move(ctx, r, []Status{r.Status}, StatusRefunding, map[string]any{
		"out_refund_no": r.OutRefundNo, "refund_status": string(payment.RefundProcessing), "next_refund_check_at": next,
	}, actor, fmt.Sprintf("refund of %d fen requested", r.RefundFen))
}

// Reject refuses a requested request with a reason.
func (s *Service) Reject(ctx context.Context, staffID, id int64, reason string) (Request, error) {
	reason = strings.TrimSpace(reason)
	if n := len([]rune(reason)); n == 0 || n > MaxDecision {
		return Request{}, apperr.Invalid(fmt.Sprintf("reason is 1 to %d characters", MaxDecision), "reason")
	}
	r, err := s.get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if err := r.must("rejected", StatusRequested); err != nil {
		return Request{}, err
	}
	return s.end(ctx, r, StatusRejected, Staff(staffID), reason, "aftersale.reject")
}

// end closes an open request without a refund (rejected, cancelled) in one
// transaction: its lines are given back, and an exchange's replacement,
// taken on approval, goes back to stock.
func (s *Service) end(ctx context.Context, r Request, to Status, actor Actor, reason, action string) (Request, error) {
	err := s.db.TxRetry(ctx, func(ctx context.Context) error {
		r := r
		if _, err := s.orders.LockForAfterSale(ctx, r.OrderID, anyOrderStatus...); err != nil {
			return err
		}
		from := r.Status
		set := map[string]any{"ended_at": s.now()}
		if actor.Type == ActorStaff {
			set["decision_reason"] = reason
		}
		if err := s.move(ctx, &r, []Status{from}, to, set, actor, reason); err != nil {
			return err
		}
		if err := s.store.Release(ctx, r.ID); err != nil {
			return err
		}
		if err := s.orders.EndClaims(ctx, r.OrderID, claimsOf(r), true); err != nil {
			return err
		}
		if r.Type == TypeExchange && from == StatusAwaitingReturn {
			if err := s.stock(ctx, replacementUnits(r), false); err != nil {
				return err
			}
		}
		if action == "" {
			return nil
		}
		return s.record(ctx, actor, action, r.ID, map[string]any{"reason": reason})
	})
	if err != nil {
		return Request{}, apperr.From(err)
	}
	return s.get(ctx, r.ID)
}

// Cancel withdraws one of the customer's requests while it is requested or
// awaiting its return.
func (s *Service) Cancel(ctx context.Context, customerID, id int64) (Request, error) {
	r, err := s.Get(ctx, customerID, id)
	if err != nil {
		return Request{}, err
	}
	if err := r.must("cancelled", StatusRequested, StatusAwaitingReturn); err != nil {
		return Request{}, err
	}
	return s.end(ctx, r, StatusCancelled, Customer(customerID), "cancelled by the customer", "")
}

// ParcelInput is a carrier and tracking number.
type ParcelInput struct {
	Carrier    string
	TrackingNo string
}

// track registers a parcel of a request with the logistics module (which
// validates the carrier code and the tracking number) inside the caller's
// transaction and returns it normalised.
func (s *Service) track(ctx context.Context, kind string, r Request, in ParcelInput) (logistics.Parcel, error) {
	o, err := s.orders.ByID(ctx, r.OrderID)
	if err != nil {
		return logistics.Parcel{}, err
	}
	return s.parcels.TrackParcel(ctx, kind, r.ID, in.Carrier, in.TrackingNo, o.Address.Phone)
}

// parcelState returns the tracking state of a request's newest parcel of
// one kind ("" when none, or before the courier reports).
func (s *Service) parcelState(ctx context.Context, kind string, id int64) (string, error) {
	list, err := s.parcels.ParcelsOf(ctx, kind, []int64{id})
	if err != nil {
		return "", err
	}
	if len(list) == 0 {
		return "", nil
	}
	return list[len(list)-1].State, nil
}

// ReturnShipment records the customer's return parcel.
func (s *Service) ReturnShipment(ctx context.Context, customerID, id int64, in ParcelInput) (Request, error) {
	r, err := s.Get(ctx, customerID, id)
	if err != nil {
		return Request{}, err
	}
	if err := r.must("given a return parcel", StatusAwaitingReturn); err != nil {
		return Request{}, err
	}
	err = s.db.TxRetry(ctx, func(ctx context.Context) error {
		now := s.now()
		p, err := s.track(ctx, logistics.KindReturn, r, in)
		if err != nil {
			return err
		}
		in.Carrier, in.TrackingNo = p.Carrier, p.TrackingNo
		ok, err := s.store.SetReturnParcel(ctx, id, in.Carrier, in.TrackingNo, now)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.InvalidState(string(StatusCancelled), "the request no longer awaits its return")
		}
		return s.store.AddEvent(ctx, id, Event{From: StatusAwaitingReturn, To: StatusAwaitingReturn,
			ActorType: ActorCustomer, ActorID: customerID, Reason: "return parcel " + in.Carrier + " " + in.TrackingNo, CreatedAt: now})
	})
	if err != nil {
		return Request{}, apperr.From(err)
	}
	return s.get(ctx, id)
}

// ReceiveReturn records staff's check of a return parcel: accepted, the
// goods are back in stock and a return-refund's refund is asked for;
// refused (with a reason), the request is rejected and its lines given
// back.
func (s *Service) ReceiveReturn(ctx context.Context, staffID, id int64, accept bool, reason string) (Request, error) {
	reason = strings.TrimSpace(reason)
	if len([]rune(reason)) > MaxDecision || !accept && reason == "" {
		return Request{}, apperr.Invalid(fmt.Sprintf("a refused return needs a reason of at most %d characters", MaxDecision), "reason")
	}
	r, err := s.get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if err := r.must("received", StatusAwaitingReturn); err != nil {
		return Request{}, err
	}
	actor := Staff(staffID)
	if !accept {
		return s.end(ctx, r, StatusRejected, actor, "return refused: "+reason, "aftersale.receive_return")
	}
	err = s.db.TxRetry(ctx, func(ctx context.Context) error {
		r := r
		if _, err := s.orders.LockForAfterSale(ctx, r.OrderID, order.StatusShipped, order.StatusCompleted); err != nil {
			return err
		}
		if err := s.move(ctx, &r, []Status{StatusAwaitingReturn}, StatusReturned,
			map[string]any{"returned_at": s.now()}, actor, "return received"); err != nil {
			return err
		}
		if err := s.stock(ctx, returnedUnits(r), false); err != nil {
			return err
		}
		if r.Type == TypeReturnRefund {
			if err := s.grant(ctx, &r, actor); err != nil {
				return err
			}
			if err := s.startRefund(ctx, &r, actor); err != nil {
				return err
			}
		}
		return s.record(ctx, actor, "aftersale.receive_return", r.ID, map[string]any{"accept": true, "reason": reason})
	})
	if err != nil {
		return Request{}, apperr.From(err)
	}
	return s.afterCommit(ctx, id)
}

// ShipReplacement records the replacement parcel of a returned exchange,
// which completes it.
func (s *Service) ShipReplacement(ctx context.Context, staffID, id int64, in ParcelInput) (Request, error) {
	r, err := s.get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if r.Type != TypeExchange {
		return Request{}, apperr.InvalidState(string(r.Status), "only an exchange ships a replacement")
	}
	if err := r.must("completed", StatusReturned); err != nil {
		return Request{}, err
	}
	actor := Staff(staffID)
	err = s.db.TxRetry(ctx, func(ctx context.Context) error {
		r := r
		if _, err := s.orders.LockForAfterSale(ctx, r.OrderID, anyOrderStatus...); err != nil {
			return err
		}
		p, err := s.track(ctx, logistics.KindReplacement, r, in)
		if err != nil {
			return err
		}
		in.Carrier, in.TrackingNo = p.Carrier, p.TrackingNo
		if err := s.move(ctx, &r, []Status{StatusReturned}, StatusCompleted, map[string]any{
			"replacement_carrier": in.Carrier, "replacement_tracking_no": in.TrackingNo, "ended_at": s.now(),
		}, actor, "replacement shipped with "+in.Carrier+" "+in.TrackingNo); err != nil {
			return err
		}
		if err := s.store.Release(ctx, r.ID); err != nil {
			return err
		}
		if err := s.orders.EndClaims(ctx, r.OrderID, claimsOf(r), false); err != nil {
			return err
		}
		return s.record(ctx, actor, "aftersale.ship_replacement", r.ID, map[string]any{"carrier": in.Carrier, "tracking_no": in.TrackingNo})
	})
	if err != nil {
		return Request{}, apperr.From(err)
	}
	return s.get(ctx, id)
}

// MerchantRefundInput is a refund staff make on the customer's behalf.
type MerchantRefundInput struct {
	Items       []LineInput
	WholeOrder  bool
	Reason      string
	Description string
}

// MerchantRefund creates an approved refund-only request for lines of an
// order (or all that is left of it), through the same rules and amounts as
// a customer's request, in one transaction, then asks for the refund.
func (s *Service) MerchantRefund(ctx context.Context, staffID, orderID int64, in MerchantRefundInput) (Request, error) {
	o, err := s.orders.ByID(ctx, orderID)
	if err != nil {
		return Request{}, err
	}
	ci := CreateInput{OrderID: orderID, Type: TypeRefundOnly, Items: in.Items, Reason: in.Reason, Description: in.Description, Images: []string{}}
	if in.WholeOrder {
		if len(in.Items) > 0 {
			return Request{}, apperr.Invalid("give items or whole_order, not both", "items")
		}
		for _, it := range o.Items {
			if left := it.Quantity - it.AfterSaleQuantity; left > 0 {
				ci.Items = append(ci.Items, LineInput{OrderItemID: it.ID, Quantity: left})
			}
		}
		if len(ci.Items) == 0 {
			return Request{}, apperr.New(apperr.CodeLimitExceeded, "nothing of the order is left to refund")
		}
	}
	if err := ci.validate(true); err != nil {
		return Request{}, err
	}
	actor := Staff(staffID)
	var id int64
	err = s.db.TxRetry(ctx, func(ctx context.Context) error {
		var err error
		if id, err = s.create(ctx, orderID, ci, actor, InitiatorMerchant); err != nil {
			return err
		}
		r, err := s.store.ByID(ctx, id)
		if err != nil {
			return err
		}
		if err := s.approveTx(ctx, &r, actor, ApproveInput{Reason: in.Reason}); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{StaffID: staffID, Action: "order.refund", TargetType: "order",
			TargetID: strconv.FormatInt(orderID, 10), Detail: fmt.Sprintf(`{"aftersale_id":%d,"refund_fen":%d}`, id, r.RefundFen)})
	})
	if err != nil {
		return Request{}, s.mapErr(err)
	}
	return s.afterCommit(ctx, id)
}

// RefundAnomaly re-submits, for staff, the refund of a late or double
// payment under its own out_refund_no, and records the action.
func (s *Service) RefundAnomaly(ctx context.Context, staffID, anomalyID int64) (payment.Refund, error) {
	ref, err := s.refunds.RefundAnomaly(ctx, anomalyID)
	if err != nil {
		return payment.Refund{}, err
	}
	err = s.db.Tx(ctx, func(ctx context.Context) error {
		return s.audit.Record(ctx, audit.Entry{StaffID: staffID, Action: "payment_anomaly.refund", TargetType: "payment_anomaly",
			TargetID: strconv.FormatInt(anomalyID, 10), Detail: fmt.Sprintf(`{"out_refund_no":%q,"status":%q}`, ref.OutRefundNo, ref.Status)})
	})
	if err != nil {
		return payment.Refund{}, apperr.Internal(err)
	}
	return ref, nil
}

// ---- refunds ----

// refundReason is what the payer sees on the refund.
func refundReason(r Request) string { return fmt.Sprintf("售后退款 %d", r.ID) }

// submitRefund asks the payment module for a refunding request's refund
// (the same out_refund_no every time, so it is made once) and applies what
// it knows. It never fails: the refund job follows up.
func (s *Service) submitRefund(ctx context.Context, r Request) {
	ref, err := s.refunds.RefundOrder(ctx, r.OrderID, r.RefundFen, refundReason(r), r.OutRefundNo)
	if err != nil {
		s.log.WarnContext(ctx, "after-sale refund not made yet; the refund job retries", "aftersale_id", r.ID, "err", err)
		msg := "the refund could not be asked for"
		var ae *apperr.Error
		if errors.As(err, &ae) {
			msg = ae.Message
		}
		if nerr := s.store.NoteRefund(ctx, r.ID, "error", msg, s.now()); nerr != nil {
			s.log.ErrorContext(ctx, "noting an after-sale refund failed", "aftersale_id", r.ID, "err", nerr)
		}
		return
	}
	if err := s.applyRefund(ctx, r, ref); err != nil {
		s.log.ErrorContext(ctx, "recording an after-sale refund failed", "aftersale_id", r.ID, "err", err)
	}
}

// applyRefund records a payment refund's outcome on its request: made, the
// request is refunded and lets go of its lines; otherwise the status and the
// platform's word are shown.
func (s *Service) applyRefund(ctx context.Context, r Request, ref payment.Refund) error {
	if ref.Status != payment.RefundSucceeded {
		return s.store.NoteRefund(ctx, r.ID, string(ref.Status), ref.Detail, s.now())
	}
	err := s.db.TxRetry(ctx, func(ctx context.Context) error {
		r := r
		if _, err := s.orders.LockForAfterSale(ctx, r.OrderID, anyOrderStatus...); err != nil {
			return err
		}
		now := s.now()
		if err := s.move(ctx, &r, []Status{StatusRefunding}, StatusRefunded, map[string]any{
			"refund_status": string(ref.Status), "refund_detail": "", "refunded_at": now, "ended_at": now,
		}, System(), fmt.Sprintf("refund %s of %d fen made", ref.OutRefundNo, ref.AmountFen)); err != nil {
			return err
		}
		if err := s.store.Release(ctx, r.ID); err != nil {
			return err
		}
		return s.orders.EndClaims(ctx, r.OrderID, claimsOf(r), false)
	})
	if apperr.Is(err, apperr.CodeInvalidState) {
		return nil // settled by someone else first
	}
	return err
}

// refundMaxBackoff is the longest wait between two checks of a refund.
const refundMaxBackoff = 30 * time.Minute

// SettleRefunds follows up to limit refunding requests whose check is due:
// it asks for a refund never made (the instance stopped before asking),
// re-submits a failed one under its own number, and records the outcome.
// Each check is claimed by a conditional update, so instances never check
// one request at once. It returns how many it checked.
func (s *Service) SettleRefunds(ctx context.Context, limit int) (int, error) {
	now := s.now()
	due, err := s.store.RefundsDue(ctx, now, limit)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, d := range due {
		wait := min(refundFirstCheck<<min(d.RefundTries, 10), refundMaxBackoff)
		ok, err := s.store.ClaimRefundCheck(ctx, d.ID, d.RefundTries, now.Add(wait))
		if err != nil {
			return done, err
		}
		if !ok {
			continue
		}
		done++
		r, err := s.store.ByID(ctx, d.ID)
		if err != nil {
			return done, err
		}
		ref, found, err := s.refunds.RefundByOutRefundNo(ctx, r.OutRefundNo)
		switch {
		case err != nil:
			return done, err
		case !found:
			s.submitRefund(ctx, r)
			continue
		case ref.Status == payment.RefundFailed:
			if ref, err = s.refunds.ResubmitRefund(ctx, r.OutRefundNo); err != nil {
				s.log.WarnContext(ctx, "after-sale refund re-submission failed", "aftersale_id", r.ID, "err", err)
				continue
			}
		}
		if err := s.applyRefund(ctx, r, ref); err != nil {
			return done, err
		}
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
	}
	return done, nil
}

// ---- deadlines ----

// AutoApprove approves refund-only requests on unshipped orders that staff
// left requested for the auto-approve delay, and reminds staff (once, in
// the log and on the request) of the other requests left as long. It
// returns how many it handled.
func (s *Service) AutoApprove(ctx context.Context, limit int) (int, error) {
	ids, err := s.store.Requested(ctx, s.now().Add(-s.cfg.AutoApprove), limit)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, id := range ids {
		r, err := s.store.ByID(ctx, id)
		if err != nil {
			return done, err
		}
		if r.Type == TypeRefundOnly && r.BeforeShipping {
			_, err := s.approve(ctx, System(), id, ApproveInput{Reason: "approved automatically: no decision in time"})
			switch {
			case err == nil:
				done++
			case apperr.Is(err, apperr.CodeInvalidState):
			default:
				s.log.ErrorContext(ctx, "after-sale auto-approval failed", "aftersale_id", id, "err", err)
			}
			continue
		}
		ok, err := s.store.MarkReminded(ctx, id, s.now())
		if err != nil {
			return done, err
		}
		if ok {
			done++
			s.log.WarnContext(ctx, "an after-sale request waits for a staff decision", "aftersale_id", id,
				"order_id", r.OrderID, "type", r.Type, "since", r.CreatedAt)
		}
	}
	return done, nil
}

// ExpireReturns cancels requests whose return parcel did not come within
// the return window after approval and returns how many.
func (s *Service) ExpireReturns(ctx context.Context, limit int) (int, error) {
	ids, err := s.store.ReturnsOverdue(ctx, s.now().Add(-s.cfg.ReturnWindow), limit)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, id := range ids {
		r, err := s.store.ByID(ctx, id)
		if err != nil {
			return done, err
		}
		if r.Status != StatusAwaitingReturn || r.ReturnTrackingNo != "" {
			continue
		}
		_, err = s.end(ctx, r, StatusCancelled, System(), "no return parcel within the return window", "")
		switch {
		case err == nil:
			done++
		case apperr.Is(err, apperr.CodeInvalidState):
		default:
			s.log.ErrorContext(ctx, "after-sale return expiry failed", "aftersale_id", id, "err", err)
		}
	}
	return done, nil
}

// JobBatch is how many requests a job step handles at most.
const JobBatch = 100

// ---- reads ----

func (s *Service) get(ctx context.Context, id int64) (Request, error) {
	r, err := s.store.ByID(ctx, id)
	if db.IsNotFound(err) {
		return Request{}, apperr.NotFound("after-sale")
	}
	if err != nil {
		return Request{}, apperr.Internal(err)
	}
	return r, nil
}

func (s *Service) byID(ctx context.Context, id int64) (Request, error) { return s.get(ctx, id) }

// Get returns one of the customer's requests; another customer's is not
// found.
func (s *Service) Get(ctx context.Context, customerID, id int64) (Request, error) {
	r, err := s.get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if r.CustomerID != customerID {
		return Request{}, apperr.NotFound("after-sale")
	}
	return r, nil
}

// List returns a page of requests.
func (s *Service) List(ctx context.Context, f Filter, offset, limit int) ([]Request, int64, error) {
	if f.Status != "" && !slices.Contains(Statuses, f.Status) {
		return nil, 0, apperr.Invalid("unknown status", "status")
	}
	if _, ok := Reasons[f.Type]; f.Type != "" && !ok {
		return nil, 0, apperr.Invalid("unknown type", "type")
	}
	out, total, err := s.store.List(ctx, f, offset, limit)
	if err != nil {
		return nil, 0, apperr.Internal(err)
	}
	return out, total, nil
}

// OrderIDByNo resolves an order number for the staff list filter; ok is
// false when no order has it.
func (s *Service) OrderIDByNo(ctx context.Context, orderNo string) (int64, bool, error) {
	list, _, err := s.orders.AdminList(ctx, order.Filter{OrderNo: orderNo}, 0, 1)
	if err != nil || len(list) == 0 {
		return 0, false, err
	}
	return list[0].ID, true, nil
}

// Detail is a request as staff see it: with its order, history and refund.
type Detail struct {
	Request
	Order  order.Order
	Events []Event
	Refund *payment.Refund
}

// Events returns a request's history.
func (s *Service) Events(ctx context.Context, id int64) ([]Event, error) {
	ev, err := s.store.Events(ctx, id)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return ev, nil
}

// AdminGet returns a request with its order, history and refund.
func (s *Service) AdminGet(ctx context.Context, id int64) (Detail, error) {
	r, err := s.get(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Request: r}
	if d.Order, err = s.orders.ByID(ctx, r.OrderID); err != nil {
		return Detail{}, err
	}
	if d.Events, err = s.Events(ctx, id); err != nil {
		return Detail{}, err
	}
	if r.OutRefundNo != "" {
		ref, ok, err := s.refunds.RefundByOutRefundNo(ctx, r.OutRefundNo)
		if err != nil {
			return Detail{}, err
		}
		if ok {
			d.Refund = &ref
		}
	}
	return d, nil
}

// ParcelStates returns the tracking states of a request's return and
// replacement parcels ("" when none, or before the courier reports).
func (s *Service) ParcelStates(ctx context.Context, r Request) (ret, replacement string, err error) {
	if r.ReturnTrackingNo != "" {
		if ret, err = s.parcelState(ctx, logistics.KindReturn, r.ID); err != nil {
			return "", "", apperr.From(err)
		}
	}
	if r.ReplacementTrackingNo != "" {
		if replacement, err = s.parcelState(ctx, logistics.KindReplacement, r.ID); err != nil {
			return "", "", apperr.From(err)
		}
	}
	return ret, replacement, nil
}
