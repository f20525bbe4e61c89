package order

import (
	"context"
	"fmt"

	"github.com/minimall/minimall/internal/apperr"
)

// The after-sales module changes orders only through the methods of this
// file, each inside the caller's transaction. The order module stays the
// owner of the order's status and of the per-line counters that bound what
// after-sales may take: units claimed (never more than the line's quantity),
// units refunded (never more than claimed), units withheld from shipping
// (refunded before shipping) and the refunds granted on the order (never
// more than it paid). Every counter moves by a guarded UPDATE whose
// rows-affected is checked, never by a read-modify-write.

// Claim is one line of an after-sale request as the order counts it: units
// of an order line with the share of the paid amount computed for them.
type Claim struct {
	ItemID   int64
	Quantity int64
	ShareFen int64
}

// LockForAfterSale starts an after-sale change of an order inside the
// caller's transaction: one guarded update of the order row that matches
// only while the order is in one of statuses, so that every after-sale
// change of one order, and shipping it, happen one after another on both
// databases (on MySQL the row stays locked until commit; SQLite has one
// writer). It returns the order as it is now, read inside the transaction.
// Another status answers invalid_state with it.
func (s *Service) LockForAfterSale(ctx context.Context, orderID int64, statuses ...Status) (Order, error) {
	st := make([]string, len(statuses))
	for i, x := range statuses {
		st[i] = string(x)
	}
	res := s.db.Writer(ctx).Model(&orderRow{}).Where("id = ? AND status IN ?", orderID, st).
		Update("updated_at", s.now())
	if res.Error != nil {
		return Order{}, res.Error
	}
	o, err := s.store.ByID(ctx, orderID)
	if isNotFound(err) {
		return Order{}, apperr.NotFound("order")
	}
	if err != nil {
		return Order{}, err
	}
	if res.RowsAffected != 1 {
		return Order{}, apperr.InvalidState(string(o.Status), "the order is %s", o.Status)
	}
	return o, nil
}

// OpenClaims takes the units of a new after-sale request off its lines: per
// line, a guarded update that matches only while no request of the line is
// open and the claimed units stay within the line's quantity; then the
// order counts one more open request. A line that is already fully claimed,
// or has an open request, answers limit_exceeded.
func (s *Service) OpenClaims(ctx context.Context, orderID int64, claims []Claim) error {
	w := s.db.Writer(ctx)
	for _, c := range claims {
		res := w.Exec(`UPDATE order_items SET aftersale_quantity = aftersale_quantity + ?, aftersale_fen = aftersale_fen + ?,
			aftersale_open = 1 WHERE id = ? AND order_id = ? AND aftersale_open = 0 AND aftersale_quantity + ? <= quantity`,
			c.Quantity, c.ShareFen, c.ItemID, orderID, c.Quantity)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return apperr.New(apperr.CodeLimitExceeded,
				"order line %d has an open after-sale or fewer units left than asked for", c.ItemID).
				WithDetail("order_item_id", c.ItemID)
		}
	}
	return s.countOpen(ctx, orderID, +1)
}

func (s *Service) countOpen(ctx context.Context, orderID int64, delta int) error {
	res := s.db.Writer(ctx).Exec(`UPDATE orders SET aftersale_open = aftersale_open + ?
		WHERE id = ? AND aftersale_open + ? >= 0`, delta, orderID, delta)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("order %d: open after-sales would go below zero", orderID)
	}
	return nil
}

// EndClaims ends an open request: its lines are open to new requests again
// and the order counts one open request less. With release (a rejected or
// cancelled request) its units and shares go back to the lines; otherwise
// (refunded, exchanged) they stay taken.
func (s *Service) EndClaims(ctx context.Context, orderID int64, claims []Claim, release bool) error {
	w := s.db.Writer(ctx)
	for _, c := range claims {
		q, f := int64(0), int64(0)
		if release {
			q, f = c.Quantity, c.ShareFen
		}
		res := w.Exec(`UPDATE order_items SET aftersale_quantity = aftersale_quantity - ?, aftersale_fen = aftersale_fen - ?,
			aftersale_open = 0 WHERE id = ? AND order_id = ? AND aftersale_open = 1
			AND aftersale_quantity - ? >= refunded_quantity`, q, f, c.ItemID, orderID, q)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("order %d: line %d has no open after-sale to end", orderID, c.ItemID)
		}
	}
	return s.countOpen(ctx, orderID, -1)
}

// GrantRefund records a refund granted for claimed units, in the caller's
// transaction, after LockForAfterSale: per line the refunded units grow
// within the claimed ones (and, before shipping, the withheld ones with
// them), and the order's refunded amount grows within what it paid. When
// every line is then refunded in full the order moves to closed, with its
// event; closed reports it.
func (s *Service) GrantRefund(ctx context.Context, orderID int64, claims []Claim, refundFen int64,
	beforeShipping bool, actor Actor, reason string) (closed bool, err error) {
	w := s.db.Writer(ctx)
	withheld := 0
	if beforeShipping {
		withheld = 1
	}
	for _, c := range claims {
		res := w.Exec(`UPDATE order_items SET refunded_quantity = refunded_quantity + ?, withheld_quantity = withheld_quantity + ? * ?
			WHERE id = ? AND order_id = ? AND refunded_quantity + ? <= aftersale_quantity`,
			c.Quantity, c.Quantity, withheld, c.ItemID, orderID, c.Quantity)
		if res.Error != nil {
			return false, res.Error
		}
		if res.RowsAffected != 1 {
			return false, apperr.Conflict("order line %d would be refunded for more units than were claimed", c.ItemID)
		}
	}
	res := w.Exec(`UPDATE orders SET refunded_fen = refunded_fen + ? WHERE id = ? AND refunded_fen + ? <= paid_fen`,
		refundFen, orderID, refundFen)
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected != 1 {
		return false, apperr.Conflict("the refunds of order %d would exceed what it paid", orderID)
	}
	o, err := s.store.ByID(ctx, orderID)
	if err != nil {
		return false, err
	}
	for _, it := range o.Items {
		if it.RefundedQuantity < it.Quantity {
			return false, nil
		}
	}
	if !CanMove(o.Status, StatusClosed) {
		return false, apperr.InvalidState(string(o.Status), "an order that is %s cannot be closed", o.Status)
	}
	now := s.now()
	err = s.move(ctx, orderID, Change{From: o.Status, To: StatusClosed, At: now}, actor, reason)
	return err == nil, err
}
