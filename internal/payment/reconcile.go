package payment

import (
	"context"
	"errors"
	"time"

	"github.com/minimall/minimall/internal/order"
)

// reconcileMaxBackoff is the longest wait between two queries of a pending
// attempt; the last query comes this long after its payment deadline.
const (
	reconcileMaxBackoff = 5 * time.Minute
	reconcileAfterClose = 30 * time.Second
)

// ReconcilePending queries at their platform up to limit pending attempts
// whose check is due, so that a lost notification never leaves a paid order
// unpaid. The first check comes ReconcileAfter after prepay, then with
// doubling waits (at most 5 min) until the attempt's payment deadline, and
// once more just after it:
//   - a paid answer pays the order through settle, exactly as a
//     notification would (a cancelled order gets a late payment, refunded);
//   - after the deadline the attempt is closed at the platform (close, then
//     query if refused), so that it ends closed, or paid;
//   - an unknown answer keeps it pending, checked again later.
//
// Each check is claimed with a conditional update of the attempt's
// next_check_at, so several instances never check one attempt at once. It
// returns how many attempts it checked.
func (s *Service) ReconcilePending(ctx context.Context, limit int) (int, error) {
	now := s.clock.Now()
	due, err := s.store.DueAttempts(ctx, now, limit)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, a := range due {
		// An attempt past its deadline, or of an order that is no longer
		// waiting for payment (paid through another attempt, or cancelled),
		// is closed at its platform rather than only queried.
		final := !now.Before(a.ExpiresAt) || !s.awaitsPayment(ctx, a.OrderID)
		next := now.Add(min(s.reconcile<<min(a.Checks, 10), reconcileMaxBackoff))
		if !final && next.After(a.ExpiresAt) {
			next = a.ExpiresAt.Add(reconcileAfterClose)
		}
		ok, err := s.store.ClaimAttemptCheck(ctx, a.ID, a.Checks, next)
		if err != nil {
			return done, err
		}
		if !ok {
			continue
		}
		done++
		s.reconcileOne(ctx, a, final)
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
	}
	return done, nil
}

// reconcileOne checks one claimed attempt; failures are logged and the
// attempt stays due at its next check.
func (s *Service) reconcileOne(ctx context.Context, a Attempt, final bool) {
	if final {
		if _, err := s.closeAttempt(ctx, a); err != nil {
			s.log.WarnContext(ctx, "reconciliation could not close an expired attempt", "out_trade_no", a.OutTradeNo, "err", err)
		}
		return
	}
	gw, ok := s.channels[a.Channel]
	if !ok {
		return
	}
	t, err := gw.Query(ctx, a)
	if err != nil {
		if !errors.Is(err, ErrTradeNotFound) {
			s.log.WarnContext(ctx, "reconciliation query failed", "out_trade_no", a.OutTradeNo, "err", err)
		}
		return
	}
	switch t.State {
	case TradePaid:
		if err := s.settle(ctx, t.Paid, nil); err != nil {
			s.log.WarnContext(ctx, "reconciliation found a payment it could not apply", "out_trade_no", a.OutTradeNo, "err", err)
		}
	case TradeClosed:
		_, _ = s.markClosed(ctx, a)
	}
}

// awaitsPayment reports whether an order is still pending payment; an
// order that cannot be read counts as pending (the check only queries).
func (s *Service) awaitsPayment(ctx context.Context, orderID int64) bool {
	o, err := s.orders.ByID(ctx, orderID)
	return err != nil || o.Status == order.StatusPendingPayment
}

// JobBatch is how many items one run of a payment job handles at most.
const JobBatch = 200
