package order

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/platform/db"
)

// Store reads and writes orders, their items and events. Writes
// join the transaction carried by the context; every status change is a
// conditional UPDATE.
type Store struct {
	db *db.DB
	// guarded remembers customers whose checkout guard row exists (rows
	// are never deleted), so that EnsureGuard reads nothing for them.
	guarded guardSet
}

// guardSet is a bounded set of customer ids; when full it starts again
// empty, which costs each customer one more read.
type guardSet struct {
	mu  sync.Mutex
	ids map[int64]struct{}
}

// maxGuarded bounds guardSet: about 40 MB of map at most.
const maxGuarded = 1 << 20

func (g *guardSet) has(id int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.ids[id]
	return ok
}

func (g *guardSet) remove(id int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.ids, id)
}

func (g *guardSet) add(id int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ids == nil || len(g.ids) >= maxGuarded {
		g.ids = make(map[int64]struct{})
	}
	g.ids[id] = struct{}{}
}

// NewStore returns a store on d.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("order: nil database")
	}
	return &Store{db: d}, nil
}

type orderRow struct {
	ID             int64      `gorm:"column:id;primaryKey"`
	OrderNo        string     `gorm:"column:order_no"`
	CustomerID     int64      `gorm:"column:customer_id"`
	Status         string     `gorm:"column:status"`
	GoodsFen       int64      `gorm:"column:goods_fen"`
	FreightFen     int64      `gorm:"column:freight_fen"`
	TotalFen       int64      `gorm:"column:total_fen"`
	PaidFen        int64      `gorm:"column:paid_fen"`
	RefundedFen    int64      `gorm:"column:refunded_fen"`
	AfterSaleOpen  int64      `gorm:"column:aftersale_open"`
	AddressID      int64      `gorm:"column:address_id"`
	ShipName       string     `gorm:"column:ship_name"`
	ShipPhone      string     `gorm:"column:ship_phone"`
	ShipProvince   string     `gorm:"column:ship_province"`
	ShipCity       string     `gorm:"column:ship_city"`
	ShipDistrict   string     `gorm:"column:ship_district"`
	ShipDetail     string     `gorm:"column:ship_detail"`
	Remark         string     `gorm:"column:remark"`
	IdempotencyKey *string    `gorm:"column:idempotency_key"`
	RequestHash    string     `gorm:"column:request_hash"`
	CancelReason   string     `gorm:"column:cancel_reason"`
	PayDeadline    time.Time  `gorm:"column:pay_deadline"`
	PaidAt         *time.Time `gorm:"column:paid_at"`
	ShippedAt      *time.Time `gorm:"column:shipped_at"`
	DeliveredAt    *time.Time `gorm:"column:delivered_at"`
	CompletedAt    *time.Time `gorm:"column:completed_at"`
	CancelledAt    *time.Time `gorm:"column:cancelled_at"`
	ClosedAt       *time.Time `gorm:"column:closed_at"`
	SalesPending   bool       `gorm:"column:sales_pending"`
	CreatedAt      time.Time  `gorm:"column:created_at"`
	UpdatedAt      time.Time  `gorm:"column:updated_at"`
}

func (orderRow) TableName() string { return "orders" }

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r orderRow) domain() Order {
	return Order{
		ID: r.ID, OrderNo: r.OrderNo, CustomerID: r.CustomerID, Status: Status(r.Status),
		GoodsFen: r.GoodsFen, FreightFen: r.FreightFen, TotalFen: r.TotalFen, PaidFen: r.PaidFen,
		RefundedFen: r.RefundedFen, AfterSaleOpen: r.AfterSaleOpen, AddressID: r.AddressID,
		Address: Address{Name: r.ShipName, Phone: r.ShipPhone, Province: r.ShipProvince, City: r.ShipCity,
			District: r.ShipDistrict, Detail: r.ShipDetail},
		Remark: r.Remark, CancelReason: r.CancelReason, PayDeadline: r.PayDeadline.UTC(),
		PaidAt: utc(r.PaidAt), ShippedAt: utc(r.ShippedAt), DeliveredAt: utc(r.DeliveredAt), CompletedAt: utc(r.CompletedAt),
		CancelledAt: utc(r.CancelledAt), ClosedAt: utc(r.ClosedAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

type itemRow struct {
	ID          int64     `gorm:"column:id;primaryKey"`
	OrderID     int64     `gorm:"column:order_id"`
	SKUID       int64     `gorm:"column:sku_id"`
	ProductID   int64     `gorm:"column:product_id"`
	Title       string    `gorm:"column:title"`
	SpecText    string    `gorm:"column:spec_text"`
	Image       string    `gorm:"column:image"`
	PriceFen    int64     `gorm:"column:price_fen"`
	Quantity    int64     `gorm:"column:quantity"`
	SubtotalFen int64     `gorm:"column:subtotal_fen"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	// After-sales counters: written only by the guarded updates of
	// aftersale.go, never by Insert (the zero values are the defaults).
	AfterSaleQuantity int64 `gorm:"column:aftersale_quantity;->"`
	AfterSaleFen      int64 `gorm:"column:aftersale_fen;->"`
	RefundedQuantity  int64 `gorm:"column:refunded_quantity;->"`
	WithheldQuantity  int64 `gorm:"column:withheld_quantity;->"`
	AfterSaleOpen     bool  `gorm:"column:aftersale_open;->"`
}

func (itemRow) TableName() string { return "order_items" }

func (r itemRow) domain() Item {
	return Item{ID: r.ID, SKUID: r.SKUID, ProductID: r.ProductID, Title: r.Title, SpecText: r.SpecText,
		Image: r.Image, PriceFen: r.PriceFen, Quantity: r.Quantity, SubtotalFen: r.SubtotalFen,
		AfterSaleQuantity: r.AfterSaleQuantity, AfterSaleFen: r.AfterSaleFen, RefundedQuantity: r.RefundedQuantity,
		WithheldQuantity: r.WithheldQuantity, AfterSaleOpen: r.AfterSaleOpen}
}

type eventRow struct {
	ID         int64     `gorm:"column:id;primaryKey"`
	OrderID    int64     `gorm:"column:order_id"`
	FromStatus string    `gorm:"column:from_status"`
	ToStatus   string    `gorm:"column:to_status"`
	ActorType  string    `gorm:"column:actor_type"`
	ActorID    int64     `gorm:"column:actor_id"`
	Reason     string    `gorm:"column:reason"`
	CreatedAt  time.Time `gorm:"column:created_at"`
}

func (eventRow) TableName() string { return "order_events" }

// NewOrder is an order about to be inserted, with its lines.
type NewOrder struct {
	Order
	IdempotencyKey string
	RequestHash    string
}

// Insert writes the order and its items and sets their ids. A taken order
// number or idempotency key is reported by db.IsDuplicate on the error.
func (s *Store) Insert(ctx context.Context, n *NewOrder) error {
	o := &n.Order
	r := orderRow{
		OrderNo: o.OrderNo, CustomerID: o.CustomerID, Status: string(o.Status),
		GoodsFen: o.GoodsFen, FreightFen: o.FreightFen, TotalFen: o.TotalFen, PaidFen: o.PaidFen,
		AddressID: o.AddressID, ShipName: o.Address.Name, ShipPhone: o.Address.Phone,
		ShipProvince: o.Address.Province, ShipCity: o.Address.City, ShipDistrict: o.Address.District,
		ShipDetail: o.Address.Detail, Remark: o.Remark, RequestHash: n.RequestHash,
		CancelReason: o.CancelReason, PayDeadline: o.PayDeadline, PaidAt: o.PaidAt, ShippedAt: o.ShippedAt,
		CompletedAt: o.CompletedAt, CancelledAt: o.CancelledAt, ClosedAt: o.ClosedAt,
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
	if n.IdempotencyKey != "" {
		k := n.IdempotencyKey
		r.IdempotencyKey = &k
	}
	// Plain statements rather than gorm's Create: checkout runs them on
	// every order, and building them from the row structs by reflection
	// cost the server about as much as sending them.
	w := s.db.Writer(ctx)
	id, err := s.insert(w, `INSERT INTO orders (order_no, customer_id, status, goods_fen, freight_fen, total_fen,
		paid_fen, refunded_fen, aftersale_open, address_id, ship_name, ship_phone, ship_province, ship_city,
		ship_district, ship_detail, remark, idempotency_key, request_hash, cancel_reason, pay_deadline,
		paid_at, shipped_at, delivered_at, completed_at, cancelled_at, closed_at, sales_pending, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.OrderNo, r.CustomerID, r.Status, r.GoodsFen, r.FreightFen, r.TotalFen,
		r.PaidFen, r.RefundedFen, r.AfterSaleOpen, r.AddressID, r.ShipName, r.ShipPhone, r.ShipProvince, r.ShipCity,
		r.ShipDistrict, r.ShipDetail, r.Remark, r.IdempotencyKey, r.RequestHash, r.CancelReason, r.PayDeadline,
		r.PaidAt, r.ShippedAt, r.DeliveredAt, r.CompletedAt, r.CancelledAt, r.ClosedAt, r.SalesPending, r.CreatedAt, r.UpdatedAt)
	if err != nil {
		return err
	}
	o.ID = id
	if len(o.Items) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO order_items (order_id, sku_id, product_id, title, spec_text, image, price_fen,
		quantity, subtotal_fen, created_at) VALUES `)
	items := make([]any, 0, 10*len(o.Items))
	for i, it := range o.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		items = append(items, id, it.SKUID, it.ProductID, it.Title, it.SpecText, it.Image, it.PriceFen,
			it.Quantity, it.SubtotalFen, o.CreatedAt)
	}
	first, err := s.insert(w, b.String(), items...)
	if err != nil {
		return err
	}
	// One multi-row INSERT takes consecutive ids: MySQL reports the first,
	// SQLite the last (docs/scaling.md, AUTO_INCREMENT).
	if s.db.Dialect() != db.MySQL {
		first -= int64(len(o.Items) - 1)
	}
	for i := range o.Items {
		o.Items[i].ID = first + int64(i)
	}
	return nil
}

// insert runs one INSERT and returns the id the database reports for it.
func (s *Store) insert(w *gorm.DB, query string, args ...any) (int64, error) {
	r := gorm.WithResult()
	if err := w.Clauses(r).Exec(query, args...).Error; err != nil {
		return 0, err
	}
	if r.Result == nil {
		return 0, errors.New("order: the database reported no insert id")
	}
	return r.Result.LastInsertId()
}

type checkoutGuardRow struct {
	CustomerID int64     `gorm:"column:customer_id;primaryKey"`
	Checkouts  int64     `gorm:"column:checkouts"`
	UpdatedAt  time.Time `gorm:"column:updated_at"`
	UnpaidSeen int64     `gorm:"column:unpaid_seen"`
}

func (checkoutGuardRow) TableName() string { return "order_checkout_guards" }

// EnsureGuard creates the customer's checkout guard row when it is missing,
// with unpaid_seen set to the customer's unpaid orders counted in the same
// statement (see GuardCheckout for why it must never be lower).
// It runs outside the checkout transaction (once per customer in practice):
// inserting new keys inside many concurrent transactions would make MySQL's
// duplicate checks lock gaps and deadlock unrelated customers.
// A customer this store has seen with a row costs nothing.
func (s *Store) EnsureGuard(ctx context.Context, customerID int64, now time.Time) error {
	if s.guarded.has(customerID) {
		return nil
	}
	// One statement, insert or nothing: a row held by a checkout of this
	// customer in flight elsewhere (another instance) is waited for briefly.
	// No checkout of this customer can commit an order while the row is
	// missing (its guard update matches nothing), so the count is complete.
	ignore := "ON DUPLICATE KEY UPDATE customer_id = customer_id"
	if s.db.Dialect() != db.MySQL {
		ignore = "ON CONFLICT (customer_id) DO NOTHING"
	}
	err := s.db.Writer(ctx).Exec(`INSERT INTO order_checkout_guards (customer_id, checkouts, updated_at, unpaid_seen)
		SELECT ?, 0, ?, COUNT(*) FROM orders WHERE customer_id = ? AND status = ? `+ignore,
		customerID, now, customerID, string(StatusPendingPayment)).Error
	if err != nil {
		return err
	}
	s.guarded.add(customerID)
	return nil
}

// GuardCheckout writes the customer's checkout guard row and returns how
// many of the customer's orders wait for payment, this transaction's
// included, or a number no larger than limit when that many cannot be
// exceeded. The row is held from the write to commit (MySQL's row lock;
// SQLite's IMMEDIATE transactions run one writer at a time), so one
// customer's checkouts pass here one after another. It answers errNoGuard
// when EnsureGuard has not created the row yet.
//
// unpaid_seen is an upper bound of the customer's unpaid orders. Only
// checkout makes an order pending payment, and every checkout passes here;
// payment, cancellation and expiry only lower the true count. So while the
// bound plus this order stays within limit, the cap holds without counting:
// the first statement raises the bound by one and is done. When it would
// pass limit, the orders are counted (once the row is held, so the count
// sees every unpaid order an earlier checkout of this customer committed)
// and the bound is set to the count. A customer who pays each order is
// counted about once every limit checkouts; EnsureGuard and migration 00018
// start every row at the true count.
func (s *Store) GuardCheckout(ctx context.Context, customerID int64, now time.Time, limit int64) (int64, error) {
	w := s.db.Writer(ctx)
	res := w.Exec(`UPDATE order_checkout_guards SET checkouts = checkouts + 1, updated_at = ?,
		unpaid_seen = unpaid_seen + 1 WHERE customer_id = ? AND unpaid_seen < ?`, now, customerID, limit)
	if res.Error != nil {
		return 0, res.Error
	}
	if res.RowsAffected == 1 {
		// The bound is now at most limit; reading it back would cost a
		// round trip, and the caller only compares the answer with limit.
		return limit, nil
	}
	return s.recountGuard(ctx, customerID, now)
}

// recountGuard is GuardCheckout's counting path: it counts the customer's
// unpaid orders with the row held and stores the count as the new bound.
// On MySQL the count travels in the update's own answer, one round trip for
// both: the correlated subquery of the SET clause runs only after the row is
// locked (at READ COMMITTED it reads a fresh snapshot, without locks), and
// LAST_INSERT_ID(expr) hands its value back in the OK packet.
func (s *Store) recountGuard(ctx context.Context, customerID int64, now time.Time) (int64, error) {
	w := s.db.Writer(ctx)
	if s.db.Dialect() == db.MySQL {
		// The count travels as count + 1, so a server that leaves the OK
		// packet's id at 0 is told apart and asked the plain way.
		r := gorm.WithResult()
		res := w.Clauses(r).Exec(`UPDATE order_checkout_guards SET checkouts = checkouts + 1, updated_at = ?,
			unpaid_seen = LAST_INSERT_ID(1 + (SELECT COUNT(*) FROM orders o
				WHERE o.customer_id = order_checkout_guards.customer_id AND o.status = ?)) - 1
			WHERE customer_id = ?`, now, string(StatusPendingPayment), customerID)
		if res.Error != nil {
			return 0, res.Error
		}
		if res.RowsAffected != 1 || r.Result == nil {
			return 0, fmt.Errorf("%w for customer %d", errNoGuard, customerID)
		}
		if n, err := r.Result.LastInsertId(); err == nil && n > 0 {
			return n - 1, nil
		}
		return s.countUnpaid(ctx, customerID)
	}
	n, err := s.countUnpaid(ctx, customerID)
	if err != nil {
		return 0, err
	}
	res := w.Model(&checkoutGuardRow{}).Where("customer_id = ?", customerID).
		Updates(map[string]any{"checkouts": gorm.Expr("checkouts + 1"), "updated_at": now, "unpaid_seen": n})
	if res.Error != nil {
		return 0, res.Error
	}
	if res.RowsAffected != 1 {
		return 0, fmt.Errorf("%w for customer %d", errNoGuard, customerID)
	}
	return n, nil
}

// countUnpaid counts the customer's orders waiting for payment.
func (s *Store) countUnpaid(ctx context.Context, customerID int64) (int64, error) {
	var n int64
	err := s.db.Writer(ctx).Model(&orderRow{}).
		Where("customer_id = ? AND status = ?", customerID, string(StatusPendingPayment)).Count(&n).Error
	return n, err
}

// errNoGuard reports a customer without a checkout guard row yet.
var errNoGuard = errors.New("order: no checkout guard row")

// ByID reads an order with its items; gorm.ErrRecordNotFound when unknown.
func (s *Store) ByID(ctx context.Context, id int64) (Order, error) {
	var r orderRow
	if err := s.db.Reader(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Order{}, err
	}
	o := r.domain()
	if err := s.attachItems(ctx, []*Order{&o}); err != nil {
		return Order{}, err
	}
	return o, nil
}

// Idempotent is an order found by its idempotency key, with the fingerprint
// of the request that created it.
type Idempotent struct {
	ID          int64
	RequestHash string
}

// ByIdempotencyKey finds the order a customer created with key; ok is false
// when there is none.
func (s *Store) ByIdempotencyKey(ctx context.Context, customerID int64, key string) (Idempotent, bool, error) {
	var rows []orderRow
	err := s.db.Reader(ctx).Select("id", "request_hash").
		Where("customer_id = ? AND idempotency_key = ?", customerID, key).Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return Idempotent{}, false, err
	}
	return Idempotent{ID: rows[0].ID, RequestHash: rows[0].RequestHash}, true, nil
}

func (s *Store) attachItems(ctx context.Context, orders []*Order) error {
	if len(orders) == 0 {
		return nil
	}
	ids := make([]int64, len(orders))
	byID := make(map[int64]*Order, len(orders))
	for i, o := range orders {
		ids[i] = o.ID
		byID[o.ID] = o
		o.Items = []Item{}
	}
	var rows []itemRow
	if err := s.db.Reader(ctx).Where("order_id IN ?", ids).Order("order_id, id").Find(&rows).Error; err != nil {
		return err
	}
	for _, r := range rows {
		o := byID[r.OrderID]
		o.Items = append(o.Items, r.domain())
	}
	return nil
}

// Filter selects orders for a list. Zero fields do not filter.
type Filter struct {
	CustomerID    int64
	Status        Status
	OrderNo       string
	CreatedFrom   time.Time // inclusive
	CreatedBefore time.Time // exclusive
	// ShippingUpload selects orders by the state of their WeChat
	// shipping-info upload (UploadPending, ...).
	ShippingUpload string

	// uploaded is the logistics module's subquery of the orders in the
	// ShippingUpload state (Shipping.OrdersByUpload); the service sets it.
	uploaded *gorm.DB
}

// uploadStates are the shipping-upload states the order list filters on.
var uploadStates = []string{UploadPending, UploadUploaded, UploadFailed, UploadNotRequired}

// List returns one page of orders, newest first, with their items, and the
// number of orders that match.
func (s *Store) List(ctx context.Context, f Filter, offset, limit int) ([]Order, int64, error) {
	q := s.db.Reader(ctx).Model(&orderRow{})
	if f.CustomerID != 0 {
		q = q.Where("customer_id = ?", f.CustomerID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.OrderNo != "" {
		q = q.Where("order_no = ?", f.OrderNo)
	}
	if f.ShippingUpload != "" {
		if f.uploaded == nil {
			q = q.Where("1 = 0")
		} else {
			q = q.Where("id IN (?)", f.uploaded)
		}
	}
	if !f.CreatedFrom.IsZero() {
		q = q.Where("created_at >= ?", f.CreatedFrom)
	}
	if !f.CreatedBefore.IsZero() {
		q = q.Where("created_at < ?", f.CreatedBefore)
	}
	rows, total, err := db.Page[orderRow](q, "id DESC", offset, limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Order, len(rows))
	ptrs := make([]*Order, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
		ptrs[i] = &out[i]
	}
	if err := s.attachItems(ctx, ptrs); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// Change is one guarded status change: the order moves from From to To only
// if it is still in From. What the move writes follows from its transition:
// At is the time of the new status (paid orders excepted) and of updated_at;
// a payment writes PaidAt and PaidFen, matches only an order whose total is
// PaidFen, and flags the order for the sales job;
// a cancel writes CancelReason. None of the values may depend on a read of
// the row.
type Change struct {
	From, To Status
	At       time.Time
	// PaidAt (when the platform says the money arrived) and PaidFen belong
	// to pending_payment → paid only.
	PaidAt  time.Time
	PaidFen int64
	// CancelReason belongs to pending_payment → cancelled only.
	CancelReason string
	// NoOpenAfterSale makes the change match only while the order has no
	// open after-sale request.
	NoOpenAfterSale bool
}

// columns returns what the change writes. It refuses a move the state
// machine does not allow, and fields that belong to another transition.
func (c Change) columns() (map[string]any, error) {
	if !CanMove(c.From, c.To) {
		return nil, fmt.Errorf("order: %s → %s is not a transition", c.From, c.To)
	}
	if c.To != StatusPaid && (!c.PaidAt.IsZero() || c.PaidFen != 0) || c.To != StatusCancelled && c.CancelReason != "" {
		return nil, fmt.Errorf("order: %s → %s carries fields of another transition", c.From, c.To)
	}
	set := map[string]any{"status": string(c.To), "updated_at": c.At}
	switch c.To {
	case StatusPaid:
		set["paid_at"], set["paid_fen"], set["sales_pending"] = c.PaidAt, c.PaidFen, true
	case StatusShipped:
		set["shipped_at"] = c.At
	case StatusCompleted:
		set["completed_at"] = c.At
	case StatusCancelled:
		set["cancelled_at"], set["cancel_reason"] = c.At, c.CancelReason
	case StatusClosed:
		set["closed_at"] = c.At
	}
	return set, nil
}

// Move applies a status change as one conditional UPDATE and reports
// whether the order was still in c.From (rows matched, on both databases).
func (s *Store) Move(ctx context.Context, id int64, c Change) (bool, error) {
	set, err := c.columns()
	if err != nil {
		return false, err
	}
	q := s.db.Writer(ctx).Model(&orderRow{}).Where("id = ? AND status = ?", id, string(c.From))
	if c.NoOpenAfterSale {
		q = q.Where("aftersale_open = 0")
	}
	if c.To == StatusPaid {
		// A payment pays the whole order: the move matches only an order of
		// that total, so the payer need not read the order first.
		q = q.Where("total_fen = ?", c.PaidFen)
	}
	res := q.Updates(set)
	if res.Error != nil {
		return false, res.Error
	}
	return res.RowsAffected == 1, nil
}

// SalesPending returns up to limit ids of paid orders whose units are not
// yet in their products' sales, oldest first.
func (s *Store) SalesPending(ctx context.Context, limit int) ([]int64, error) {
	var ids []int64
	err := s.db.Reader(ctx).Model(&orderRow{}).Where("sales_pending = ?", true).
		Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// ClaimSales clears an order's sales_pending flag by a conditional update
// and reports whether this call cleared it, so that the units are counted
// once however many instances run the job.
func (s *Store) ClaimSales(ctx context.Context, id int64) (bool, error) {
	res := s.db.Writer(ctx).Model(&orderRow{}).Where("id = ? AND sales_pending = ?", id, true).
		Update("sales_pending", false)
	return res.RowsAffected == 1, res.Error
}

// ProductUnits is how many units of one product a set of orders holds.
type ProductUnits struct {
	ProductID int64
	Units     int64
}

// UnitsByProduct adds up the units of the given orders per product, in
// ascending product id (one lock order for every writer of the counters).
func (s *Store) UnitsByProduct(ctx context.Context, orderIDs []int64) ([]ProductUnits, error) {
	var out []ProductUnits
	err := s.db.Reader(ctx).Model(&itemRow{}).Select("product_id, SUM(quantity) AS units").
		Where("order_id IN ?", orderIDs).Group("product_id").Order("product_id").Scan(&out).Error
	return out, err
}

// AddEvent appends an entry to an order's history.
func (s *Store) AddEvent(ctx context.Context, e *Event) error {
	id, err := s.insert(s.db.Writer(ctx), `INSERT INTO order_events (order_id, from_status, to_status, actor_type, actor_id,
		reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.OrderID, string(e.From), string(e.To), e.ActorType, e.ActorID, e.Reason, e.CreatedAt)
	if err != nil {
		return err
	}
	e.ID = id
	return nil
}

// Events returns an order's history, oldest first.
func (s *Store) Events(ctx context.Context, orderID int64) ([]Event, error) {
	var rows []eventRow
	if err := s.db.Reader(ctx).Where("order_id = ?", orderID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{ID: r.ID, OrderID: r.OrderID, From: Status(r.FromStatus), To: Status(r.ToStatus),
			ActorType: r.ActorType, ActorID: r.ActorID, Reason: r.Reason, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// SetDelivered records delivered_at on a shipped order that has none yet
// and reports whether it did.
func (s *Store) SetDelivered(ctx context.Context, id int64, at, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Model(&orderRow{}).
		Where("id = ? AND status = ? AND delivered_at IS NULL", id, string(StatusShipped)).
		Updates(map[string]any{"delivered_at": at, "updated_at": now})
	return res.RowsAffected == 1, res.Error
}

// Due is an order a background job should look at, with the time that made
// it due; jobs page through Due orders by (At, ID).
type Due struct {
	ID int64
	At time.Time
}

// ExpiredUnpaid returns up to limit orders still pending payment whose
// deadline is at or before now, after the cursor (At, ID), oldest deadline
// first.
func (s *Store) ExpiredUnpaid(ctx context.Context, now time.Time, after Due, limit int) ([]Due, error) {
	return s.due(ctx, "pay_deadline", StatusPendingPayment, now, after, limit)
}

// ShippedBefore returns up to limit shipped orders shipped at or before
// cutoff, after the cursor (At, ID), oldest first.
// Orders with an open after-sale are left out.
func (s *Store) ShippedBefore(ctx context.Context, cutoff time.Time, after Due, limit int) ([]Due, error) {
	return s.due(ctx, "shipped_at", StatusShipped, cutoff, after, limit, "aftersale_open = 0")
}

// DeliveredBefore returns up to limit shipped orders delivered at or before
// cutoff, after the cursor (At, ID), oldest first.
func (s *Store) DeliveredBefore(ctx context.Context, cutoff time.Time, after Due, limit int) ([]Due, error) {
	return s.due(ctx, "delivered_at", StatusShipped, cutoff, after, limit, "aftersale_open = 0")
}

func (s *Store) due(ctx context.Context, column string, st Status, upTo time.Time, after Due, limit int, extra ...string) ([]Due, error) {
	var rows []struct {
		ID int64
		At time.Time
	}
	q := s.db.Reader(ctx).Model(&orderRow{}).Select("id, "+column+" AS at").
		Where("status = ? AND "+column+" <= ?", string(st), upTo)
	for _, e := range extra {
		q = q.Where(e)
	}
	if after.ID != 0 {
		q = q.Where("("+column+" > ? OR ("+column+" = ? AND id > ?))", after.At, after.At, after.ID)
	}
	if err := q.Order(column + ", id").Limit(limit).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Due, len(rows))
	for i, r := range rows {
		out[i] = Due{ID: r.ID, At: r.At.UTC()}
	}
	return out, nil
}

// isNotFound reports gorm's record-not-found.
func isNotFound(err error) bool { return errors.Is(err, gorm.ErrRecordNotFound) }
