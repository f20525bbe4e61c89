package payment

import (
	"context"
	"errors"
	"slices"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/alipay"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/wechatpay"
)

// transientRefusals are the refund refusals the platforms document as
// passing: the merchant's balance is short (WeChat Pay NOT_ENOUGH, Alipay
// ACQ.SELLER_BALANCE_NOT_ENOUGH) or refunds of one trade came too fast or at
// once (WeChat Pay FREQUENCY_LIMITED). Such a refund stays processing with
// the platform's word as its detail; the refund job asks again (a refund the
// platform never accepted is asked for again under the same out_refund_no,
// as WeChat Pay asks) until the platform accepts or refuses for good.
var (
	transientWeChatRefusals = []string{"NOT_ENOUGH", "FREQUENCY_LIMITED"}
	transientAlipayRefusals = []string{"ACQ.SELLER_BALANCE_NOT_ENOUGH"}
)

// transientRefusal reports a platform refusal that a later retry may cure.
func transientRefusal(err error) bool {
	return slices.Contains(transientWeChatRefusals, wechatpay.PlatformCode(err)) ||
		slices.Contains(transientAlipayRefusals, alipay.SubCode(err))
}

// RefundByOutRefundNo returns the refund made under outRefundNo; ok is false
// when there is none. Modules that keep their own record of a refund (after-
// sales) read its outcome here.
func (s *Service) RefundByOutRefundNo(ctx context.Context, outRefundNo string) (Refund, bool, error) {
	r, ok, err := s.store.RefundByOutRefundNo(ctx, outRefundNo)
	if err != nil {
		return Refund{}, false, apperr.Internal(err)
	}
	return r, ok, nil
}

// ResubmitRefund asks the platform again for a refund that failed, under
// its own out_refund_no (WeChat Pay asks for a failed refund to be
// resubmitted with the same number; Alipay treats the same out_request_no
// as the same refund). In one transaction the refund moves back from failed
// to processing and its amount is counted against the attempt again by the
// guarded update of Refund, so that the refunds never exceed what was paid;
// then the platform is asked, outside the transaction. A refund that did not
// fail is answered as it is.
func (s *Service) ResubmitRefund(ctx context.Context, outRefundNo string) (Refund, error) {
	r, ok, err := s.store.RefundByOutRefundNo(ctx, outRefundNo)
	if err != nil {
		return Refund{}, apperr.Internal(err)
	}
	if !ok {
		return Refund{}, apperr.NotFound("refund")
	}
	if r.Status != RefundFailed {
		return r, nil
	}
	a, err := s.store.AttemptByID(ctx, r.AttemptID)
	if err != nil {
		return Refund{}, apperr.Internal(err)
	}
	now := s.clock.Now()
	next := now.Add(refundFirstCheck)
	var reopened bool
	err = s.db.TxRetry(ctx, func(ctx context.Context) error {
		var err error
		reopened, err = s.store.ReopenRefund(ctx, r, next, now)
		return err
	})
	if errors.Is(err, errRefundExceeds) {
		return Refund{}, apperr.Conflict("the refund would take the refunds of this payment over its paid amount").
			WithDetail("refundable_fen", max(a.AmountFen-a.RefundedFen, 0))
	}
	if err != nil {
		return Refund{}, apperr.Internal(err)
	}
	if reopened {
		s.submitRefund(ctx, a, r)
	}
	out, err := s.store.RefundByID(ctx, r.ID)
	if err != nil {
		return Refund{}, apperr.Internal(err)
	}
	return out, nil
}

// RefundAnomaly re-submits the refund of a late or double payment for
// staff: the automatic refund under its own out_refund_no when it failed,
// or the automatic refund itself when none was made. A refund processing or
// made answers invalid_state with its status.
func (s *Service) RefundAnomaly(ctx context.Context, anomalyID int64) (Refund, error) {
	an, err := s.store.AnomalyByID(ctx, anomalyID)
	if db.IsNotFound(err) {
		return Refund{}, apperr.NotFound("payment anomaly")
	}
	if err != nil {
		return Refund{}, apperr.Internal(err)
	}
	if !slices.Contains(autoRefundKinds, an.Kind) {
		return Refund{}, apperr.InvalidState(an.Kind, "only a late or double payment is refunded from here")
	}
	refunds, err := s.anomalyRefunds(ctx, an.ID)
	if err != nil {
		return Refund{}, apperr.Internal(err)
	}
	if len(refunds) == 0 {
		return s.refundAnomaly(ctx, an)
	}
	r := refunds[len(refunds)-1]
	if r.Status != RefundFailed {
		return Refund{}, apperr.InvalidState(string(r.Status), "the payment's refund is %s", r.Status)
	}
	return s.ResubmitRefund(ctx, r.OutRefundNo)
}
