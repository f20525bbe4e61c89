package payment

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/minimall/minimall/internal/platform/alipay"
	"github.com/minimall/minimall/internal/platform/db"
)

// AlipayAck is the exact body that tells Alipay a notification was received;
// any other answer makes it retry.
const AlipayAck = "success"

// HandleAlipayNotification verifies and applies an Alipay asynchronous
// notification (the form Alipay posted). It returns nil when the
// notification is verified and recorded (answer AlipayAck), and a *Refusal
// when Alipay should deliver it again.
//
//   - The signature is verified first (RSA2, smartwalle's DecodeNotification);
//     an unverified form is refused without writing anything.
//   - Only TRADE_SUCCESS and TRADE_FINISHED without refund fields pay an
//     order, through the same settle path as WeChat Pay: app_id and
//     seller_id must be ours and total_amount must equal the attempt
//     (never buyer_pay_amount or receipt_amount). A failed check is recorded
//     as an anomaly and refused, so Alipay keeps retrying while staff look.
//   - Every other verified notification (WAIT_BUYER_PAY, TRADE_CLOSED, a
//     refund's TRADE_SUCCESS, a TRADE_FINISHED after the payment) of our app
//     is recorded and acknowledged without moving anything.
//   - A notify_id seen before is answered as it was answered then.
func (s *Service) HandleAlipayNotification(ctx context.Context, form url.Values) error {
	if s.alipay == nil {
		return &Refusal{Status: http.StatusNotFound, Message: "Alipay is not configured"}
	}
	n, err := s.alipay.ParseNotification(ctx, form)
	if err != nil {
		var ne *alipay.NotifyError
		reason := "malformed"
		if errors.As(err, &ne) {
			reason = ne.Reason
		}
		s.log.WarnContext(ctx, "alipay notification refused", "reason", reason, "err", err)
		return &Refusal{Status: http.StatusBadRequest, Message: "notification refused: " + reason, Err: err}
	}
	event := n.TradeStatus
	if n.Refund {
		event += "+refund"
	}
	src := &Notification{
		Channel: ChannelAlipay, NotifyID: n.NotifyID, EventType: event, OutTradeNo: n.OutTradeNo,
		ProviderTxnID: n.TradeNo, Body: n.Raw,
	}
	p := Paid{
		Channel: ChannelAlipay, OutTradeNo: n.OutTradeNo, ProviderTxnID: n.TradeNo, AppID: n.AppID, MerchantID: n.SellerID,
		TotalFen: n.TotalFen, PayerTotalFen: n.BuyerPayFen, PaidAt: n.PaidAt, Raw: n.Raw,
	}
	isPayment := (n.TradeStatus == alipay.TradeSuccess || n.TradeStatus == alipay.TradeFinished) && !n.Refund
	if isPayment {
		return s.settle(ctx, p, src)
	}
	if !s.merchantMatches(p) {
		// Not a payment, so no money moved through it; but it is not ours.
		return s.recordRefused(ctx, src, AnomalyMerchantMismatch+": app_id "+n.AppID+" seller_id "+n.SellerID)
	}
	return s.ignore(ctx, src)
}

// recordRefused stores a verified notification that is refused without an
// anomaly and answers it with a refusal (again on every retry).
func (s *Service) recordRefused(ctx context.Context, src *Notification, reason string) error {
	src.Outcome, src.Reason, src.ReceivedAt = OutcomeRefused, reason, s.clock.Now()
	err := s.db.Tx(ctx, func(ctx context.Context) error { return s.store.InsertNotification(ctx, src) })
	if err != nil && !db.IsDuplicate(err) {
		return err
	}
	return &Refusal{Status: http.StatusBadRequest, Message: "notification refused: " + AnomalyMerchantMismatch}
}
