package payment

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/db"
)

// RefundStatus is where a refund stands.
type RefundStatus string

// Refund statuses: processing until the platform's outcome is known;
// succeeded; failed (refused or closed by the platform: its amount can be
// refunded again); abnormal (WeChat Pay could not return the money to the
// payer's account: staff settle it with the platform, and its amount stays
// counted).
const (
	RefundProcessing RefundStatus = "processing"
	RefundSucceeded  RefundStatus = "succeeded"
	RefundFailed     RefundStatus = "failed"
	RefundAbnormal   RefundStatus = "abnormal"
)

// AnomalyUnknownRefund is a signed refund notification for a refund we
// never asked for.
const AnomalyUnknownRefund = "unknown_refund"

// Refund is one refund request at a platform for one paid attempt.
type Refund struct {
	ID               int64
	AttemptID        int64
	OrderID          int64
	Channel          Channel
	OutRefundNo      string // WeChat's out_refund_no, Alipay's out_request_no
	AmountFen        int64
	Reason           string
	Status           RefundStatus
	ProviderRefundID string // WeChat's refund_id; Alipay has none (its trade_no)
	AnomalyID        int64  // the late or double payment this refund returns; 0 otherwise
	Detail           string // the platform's last word on a refund that did not succeed
	NextCheckAt      *time.Time
	Checks           int
	SucceededAt      *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// RefundRequest asks for a refund of a paid attempt.
type RefundRequest struct {
	AttemptID int64
	AmountFen int64
	Reason    string
	// OutRefundNo is the caller's key for this refund: a request again with
	// the same key answers the same refund and refunds nothing more. ""
	// makes a new one.
	OutRefundNo string
	anomalyID   int64
}

// Refund timing: the first platform check of a refund whose outcome is not
// known, and the longest wait between checks.
const (
	refundFirstCheck = 30 * time.Second
	refundMaxBackoff = 10 * time.Minute
)

// Refund refunds part or all of a succeeded attempt through its channel.
// In one transaction the refund is stored (processing) and its amount is
// counted against the attempt with a guarded update, so that the refunds
// that have not failed never add up to more than the attempt's paid amount,
// whatever runs concurrently; only then is the platform asked, outside the
// transaction. A definitive refusal fails the refund and frees its amount;
// an unknown outcome (timeout, busy, PROCESSING) leaves it processing for
// SettleRefunds. The answer is the refund as stored afterwards.
func (s *Service) Refund(ctx context.Context, req RefundRequest) (Refund, error) {
	if req.AmountFen <= 0 {
		return Refund{}, apperr.Invalid("the refund amount must be positive", "amount_fen")
	}
	if len([]rune(req.Reason)) > 80 {
		return Refund{}, apperr.Invalid("the refund reason is at most 80 characters", "reason")
	}
	if req.OutRefundNo == "" {
		no, err := newOutRefundNo(s.clock.Now())
		if err != nil {
			return Refund{}, apperr.Internal(err)
		}
		req.OutRefundNo = no
	} else if !outRefundNoPattern(req.OutRefundNo) {
		return Refund{}, apperr.Invalid("out_refund_no is 1 to 64 letters, digits, _ or -", "out_refund_no")
	}
	if prev, ok, err := s.sameRefund(ctx, req); ok || err != nil {
		return prev, err
	}
	a, err := s.store.AttemptByID(ctx, req.AttemptID)
	if db.IsNotFound(err) {
		return Refund{}, apperr.NotFound("payment attempt")
	}
	if err != nil {
		return Refund{}, apperr.Internal(err)
	}
	if a.Status != StatusSucceeded {
		return Refund{}, apperr.InvalidState(string(a.Status), "only a paid attempt can be refunded")
	}
	if _, ok := s.channels[a.Channel]; !ok {
		return Refund{}, apperr.New(apperr.CodeChannelUnavailable, "%s is not configured", a.Channel)
	}
	now := s.clock.Now()
	next := now.Add(refundFirstCheck)
	r := Refund{
		AttemptID: a.ID, OrderID: a.OrderID, Channel: a.Channel, OutRefundNo: req.OutRefundNo, AmountFen: req.AmountFen,
		Reason: req.Reason, AnomalyID: req.anomalyID, NextCheckAt: &next, CreatedAt: now,
	}
	err = s.db.TxRetry(ctx, func(ctx context.Context) error { return s.store.ReserveRefund(ctx, &r) })
	if err != nil {
		// A concurrent request with the same key may have won.
		if prev, ok, perr := s.sameRefund(ctx, req); ok || perr != nil {
			return prev, perr
		}
		if errors.Is(err, errRefundExceeds) {
			return Refund{}, apperr.Conflict("the refund would take the refunds of this payment over its paid amount").
				WithDetail("refundable_fen", max(a.AmountFen-a.RefundedFen, 0))
		}
		return Refund{}, apperr.Internal(err)
	}
	s.submitRefund(ctx, a, r)
	out, err := s.store.RefundByID(ctx, r.ID)
	if err != nil {
		return Refund{}, apperr.Internal(err)
	}
	return out, nil
}

// sameRefund finds a refund made before with the request's key: the same
// refund answers it; another refund under that key is a conflict.
func (s *Service) sameRefund(ctx context.Context, req RefundRequest) (Refund, bool, error) {
	prev, ok, err := s.store.RefundByOutRefundNo(ctx, req.OutRefundNo)
	if err != nil {
		return Refund{}, false, apperr.Internal(err)
	}
	if !ok {
		return Refund{}, false, nil
	}
	if prev.AttemptID != req.AttemptID || prev.AmountFen != req.AmountFen {
		return Refund{}, true, apperr.New(apperr.CodeIdempotencyMismatch, "out_refund_no %s is another refund", req.OutRefundNo)
	}
	return prev, true, nil
}

func outRefundNoPattern(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// newOutRefundNo makes an out_refund_no: "RF", the UTC time to the second
// and 14 random digits.
func newOutRefundNo(now time.Time) (string, error) {
	b := make([]byte, 14)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return "RF" + now.UTC().Format("20060102150405") + string(b), nil
}

// submitRefund asks the refund's platform, outside any transaction, and
// applies a known outcome. It never fails: an unknown outcome is left to
// SettleRefunds.
func (s *Service) submitRefund(ctx context.Context, a Attempt, r Refund) {
	out := RefundOutcome{Status: RefundProcessing, Detail: "the channel is not configured"}
	if gw, ok := s.channels[r.Channel]; ok {
		notifyURL := ""
		if p := gw.Info().RefundNotifyPath; p != "" {
			notifyURL = s.baseURL + p
		}
		res, err := gw.Refund(ctx, a, r, notifyURL)
		if err != nil {
			res = s.refundError(ctx, r, err)
		}
		out = res
	}
	if err := s.applyRefund(ctx, r, out, nil); err != nil {
		s.log.ErrorContext(ctx, "recording a refund's outcome failed", "out_refund_no", r.OutRefundNo, "err", err)
	}
}

// refundError maps a platform error: a refusal the platform documents as
// passing leaves the refund processing, to be asked again; any other
// business refusal fails the refund; anything else leaves its outcome
// unknown.
func (s *Service) refundError(ctx context.Context, r Refund, err error) RefundOutcome {
	if transientRefusal(err) {
		s.log.WarnContext(ctx, "the platform refused a refund for now; it will be asked again", "out_refund_no", r.OutRefundNo, "err", err)
		return RefundOutcome{Status: RefundProcessing, Detail: "refused for now, retried: " + err.Error()}
	}
	if apperr.Is(err, apperr.CodeUpstreamError) || apperr.Is(err, apperr.CodeInvalid) {
		s.log.WarnContext(ctx, "the platform refused a refund", "out_refund_no", r.OutRefundNo, "err", err)
		return RefundOutcome{Status: RefundFailed, Detail: err.Error()}
	}
	s.log.WarnContext(ctx, "a refund's outcome is unknown", "out_refund_no", r.OutRefundNo, "err", err)
	return RefundOutcome{Status: RefundProcessing, Detail: "outcome unknown: " + err.Error()}
}

// applyRefund records an outcome in one transaction (with src, a refund
// notification to store, when given): a conditional move of the refund
// from processing (or abnormal, which the platform may still settle), and
// for a failure the release of its amount. Outcomes that arrive again
// change nothing.
func (s *Service) applyRefund(ctx context.Context, r Refund, out RefundOutcome, src *Notification) error {
	err := s.db.TxRetry(ctx, func(ctx context.Context) error {
		now := s.clock.Now()
		if src != nil {
			src.ReceivedAt = now
			if err := s.store.InsertNotification(ctx, src); err != nil {
				if db.IsDuplicate(err) {
					return errDuplicateNotification
				}
				return err
			}
		}
		switch out.Status {
		case RefundProcessing:
			return s.store.NoteRefund(ctx, r.ID, out.ProviderID, out.Detail, now)
		case RefundSucceeded:
			at := now
			if out.At != nil {
				at = *out.At
			}
			_, err := s.store.MoveRefund(ctx, r.ID, []RefundStatus{RefundProcessing, RefundAbnormal},
				RefundChange{To: RefundSucceeded, ProviderRefundID: out.ProviderID, SucceededAt: &at}, now)
			return err
		case RefundAbnormal:
			_, err := s.store.MoveRefund(ctx, r.ID, []RefundStatus{RefundProcessing},
				RefundChange{To: RefundAbnormal, ProviderRefundID: out.ProviderID, Detail: out.Detail}, now)
			return err
		case RefundFailed:
			moved, err := s.store.MoveRefund(ctx, r.ID, []RefundStatus{RefundProcessing, RefundAbnormal},
				RefundChange{To: RefundFailed, ProviderRefundID: out.ProviderID, Detail: out.Detail}, now)
			if err != nil || !moved {
				return err
			}
			return s.store.ReleaseRefund(ctx, r.AttemptID, r.AmountFen, now)
		}
		return fmt.Errorf("payment: unknown refund outcome %q", out.Status)
	})
	if errors.Is(err, errDuplicateNotification) {
		return nil
	}
	return err
}

// SettleRefunds asks the platforms about up to limit refunds still
// processing whose check is due, with backoff between checks, until each
// settles. A refund the platform never received (WeChat
// RESOURCE_NOT_EXISTS, Alipay without refund_status) is asked for again
// under the same out_refund_no, which cannot refund twice. Each check is
// claimed by a conditional update, so instances never check one refund at
// once. It returns how many refunds it checked.
func (s *Service) SettleRefunds(ctx context.Context, limit int) (int, error) {
	now := s.clock.Now()
	due, err := s.store.DueRefunds(ctx, now, limit)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, r := range due {
		wait := min(refundFirstCheck<<min(r.Checks, 10), refundMaxBackoff)
		ok, err := s.store.ClaimRefundCheck(ctx, r.ID, r.Checks, now.Add(wait))
		if err != nil {
			return done, err
		}
		if !ok {
			continue
		}
		done++
		a, err := s.store.AttemptByID(ctx, r.AttemptID)
		if err != nil {
			return done, err
		}
		out, err := s.checkRefund(ctx, a, r)
		if errors.Is(err, ErrRefundNotFound) {
			s.submitRefund(ctx, a, r)
			continue
		}
		if err := s.applyRefund(ctx, r, out, nil); err != nil {
			return done, err
		}
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
	}
	return done, nil
}

// checkRefund queries a refund's platform; ErrRefundNotFound reports a
// refund the platform does not have. A failed query leaves it processing.
func (s *Service) checkRefund(ctx context.Context, a Attempt, r Refund) (RefundOutcome, error) {
	gw, ok := s.channels[r.Channel]
	if !ok {
		return RefundOutcome{Status: RefundProcessing, Detail: "the channel is not configured"}, nil
	}
	out, err := gw.QueryRefund(ctx, a, r)
	if errors.Is(err, ErrRefundNotFound) {
		return RefundOutcome{}, err
	}
	if err != nil {
		return RefundOutcome{Status: RefundProcessing, Detail: "query failed: " + err.Error()}, nil
	}
	return out, nil
}

// autoRefundKinds are the anomalies whose money is refunded automatically:
// the payment matches a trade of ours but the order did not need it.
var autoRefundKinds = []string{AnomalyLatePayment, AnomalyDoublePayment}

// refundAnomaly refunds a late or double payment in full through its
// channel. Its out_refund_no is derived from the attempt's out_trade_no,
// so the refund requested right after the notification and the one the
// job would request are the same refund, made once.
func (s *Service) refundAnomaly(ctx context.Context, an Anomaly) (Refund, error) {
	a, err := s.store.AttemptByID(ctx, an.AttemptID)
	if err != nil {
		return Refund{}, err
	}
	reason := "订单已取消，退回款项"
	if an.Kind == AnomalyDoublePayment {
		reason = "订单已支付，退回重复付款"
	}
	return s.Refund(ctx, RefundRequest{
		AttemptID: a.ID, AmountFen: a.AmountFen, Reason: reason, OutRefundNo: "R" + a.OutTradeNo + "A", anomalyID: an.ID,
	})
}

// RefundAnomalies is the safety net of the automatic refunds: it refunds
// up to limit late or double payments that have no refund yet (the
// instance that recorded them stopped before asking) and returns how many.
func (s *Service) RefundAnomalies(ctx context.Context, limit int) (int, error) {
	ans, err := s.store.UnrefundedAnomalies(ctx, autoRefundKinds, limit)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, an := range ans {
		if _, err := s.refundAnomaly(ctx, an); err != nil {
			s.log.ErrorContext(ctx, "automatic refund failed", "anomaly_id", an.ID, "err", err)
			continue
		}
		done++
	}
	return done, nil
}

// refundLate requests the automatic refund of a late or double payment
// recorded by a committed settle.
func (s *Service) refundLate(ctx context.Context, an *Anomaly) {
	if an == nil {
		return
	}
	if _, err := s.refundAnomaly(context.WithoutCancel(ctx), *an); err != nil {
		s.log.ErrorContext(ctx, "automatic refund failed; the refund job will retry", "anomaly_id", an.ID, "err", err)
	}
}

// RefundsOfAttempt returns an attempt's refunds, oldest first.
func (s *Service) RefundsOfAttempt(ctx context.Context, attemptID int64) ([]Refund, error) {
	return s.store.RefundsOfAttempt(ctx, attemptID)
}

// refundNotified applies a refund outcome a platform notified
// (REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED for WeChat Pay) with the
// notification stored in the same transaction. Duplicates change nothing; a
// refund we never asked for (or of another amount) is recorded as an
// unknown_refund anomaly and acknowledged, since retries cannot make it ours.
func (s *Service) refundNotified(ctx context.Context, rep RefundReport, src *Notification) error {
	src.Outcome = OutcomeAccepted
	ref, ok, err := s.store.RefundByOutRefundNo(ctx, rep.OutRefundNo)
	if err != nil {
		return err
	}
	a := Attempt{}
	if ok {
		if a, err = s.store.AttemptByID(ctx, ref.AttemptID); err != nil {
			return err
		}
	}
	if !ok || a.OutTradeNo != rep.OutTradeNo || rep.AmountFen != ref.AmountFen {
		src.Outcome, src.Reason = OutcomeRefused, AnomalyUnknownRefund+": out_refund_no "+rep.OutRefundNo
		err := s.db.Tx(ctx, func(ctx context.Context) error {
			src.ReceivedAt = s.clock.Now()
			if err := s.store.InsertNotification(ctx, src); err != nil {
				return err
			}
			return s.store.InsertAnomaly(ctx, &Anomaly{
				Channel: src.Channel, Kind: AnomalyUnknownRefund, OrderID: ref.OrderID, AttemptID: ref.AttemptID,
				NotificationID: src.ID, OutTradeNo: rep.OutTradeNo, ProviderTxnID: src.ProviderTxnID,
				ExpectedFen: ref.AmountFen, ActualFen: rep.AmountFen, CreatedAt: src.ReceivedAt,
				Detail: fmt.Sprintf("refund %s of %d fen for %s does not match a refund of ours", rep.OutRefundNo, rep.AmountFen, rep.OutTradeNo),
			})
		})
		if err != nil && !db.IsDuplicate(err) {
			return err
		}
		return nil // retries cannot make it ours; staff see the anomaly
	}
	if rep.Outcome.Status == RefundProcessing {
		src.Outcome = OutcomeIgnored
	}
	return s.applyRefund(ctx, ref, rep.Outcome, src)
}

// PayingAttempt returns the attempt that paid an order: its succeeded
// attempt that is not a late or double payment (those are refunded on their
// own and never count). found is false while the order has none. Refunds by
// order and the WeChat shipping upload both name the trade through it, so
// they always agree on which trade paid.
func (s *Service) PayingAttempt(ctx context.Context, orderID int64) (Attempt, bool, error) {
	attempts, err := s.store.AttemptsOfOrder(ctx, orderID)
	if err != nil {
		return Attempt{}, false, apperr.Internal(err)
	}
	auto, err := s.store.AutoRefundedAttempts(ctx, orderID)
	if err != nil {
		return Attempt{}, false, apperr.Internal(err)
	}
	for _, a := range attempts {
		if a.Status == StatusSucceeded && !auto[a.ID] {
			return a, true, nil
		}
	}
	return Attempt{}, false, nil
}

// OrderOfWeChatTrade returns the order of the WeChat Pay trade outTradeNo
// whose platform transaction id is transactionID; found is false when
// there is none (another merchant's trade, a forged pair), so the WeChat
// settlement events the logistics module receives act only on our trades.
func (s *Service) OrderOfWeChatTrade(ctx context.Context, outTradeNo, transactionID string) (orderID int64, found bool, err error) {
	if outTradeNo == "" || transactionID == "" {
		return 0, false, nil
	}
	a, ok, err := s.store.AttemptByOutTradeNo(ctx, outTradeNo)
	if err != nil {
		return 0, false, apperr.Internal(err)
	}
	if !ok || a.Channel != ChannelWeChat || a.ProviderTxnID != transactionID {
		return 0, false, nil
	}
	return a.OrderID, true, nil
}

// RefundOrder refunds part or all of what paid an order, through the
// attempt that paid it (PayingAttempt). It is Refund for callers that know
// orders, such as after-sales; outRefundNo is their key for the refund.
func (s *Service) RefundOrder(ctx context.Context, orderID, amountFen int64, reason, outRefundNo string) (Refund, error) {
	a, found, err := s.PayingAttempt(ctx, orderID)
	if err != nil {
		return Refund{}, err
	}
	if !found {
		return Refund{}, apperr.InvalidState("unpaid", "the order has no payment to refund")
	}
	return s.Refund(ctx, RefundRequest{AttemptID: a.ID, AmountFen: amountFen, Reason: reason, OutRefundNo: outRefundNo})
}
