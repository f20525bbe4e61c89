package payment

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

// Deps are the Service's collaborators. Channels are the configured
// payment platforms (none, one or several, each once); every other one is
// required.
type Deps struct {
	DB         *db.DB
	Store      *Store
	Orders     Orders
	Identities Identities
	Channels   []Gateway
	Clock      clock.Clock
	Log        *slog.Logger
	// PublicBaseURL is how the platforms reach us (MINIMALL_PUBLIC_BASE_URL).
	PublicBaseURL string
	// MaxNotifyBody bounds a notification body (MINIMALL_HTTP_MAX_BODY).
	MaxNotifyBody int64
	// ReconcileAfter is how long after prepay a pending attempt is first
	// queried at its platform (MINIMALL_PAYMENT_RECONCILE_AFTER; 60 s when
	// zero).
	ReconcileAfter time.Duration
}

// Service holds the payment rules.
type Service struct {
	db         *db.DB
	store      *Store
	orders     Orders
	identities Identities
	channels   map[Channel]Gateway
	clock      clock.Clock
	log        *slog.Logger
	baseURL    string
	maxBody    int64
	reconcile  time.Duration
}

// NewService returns the payment service; it refuses a missing dependency.
func NewService(d Deps) (*Service, error) {
	if d.DB == nil || d.Store == nil || d.Orders == nil || d.Identities == nil ||
		d.Clock == nil || d.Log == nil {
		return nil, errors.New("payment: nil dependency")
	}
	if !strings.HasPrefix(d.PublicBaseURL, "http://") && !strings.HasPrefix(d.PublicBaseURL, "https://") {
		return nil, fmt.Errorf("payment: public base URL %q is not an http(s) URL", d.PublicBaseURL)
	}
	if d.MaxNotifyBody <= 0 {
		return nil, errors.New("payment: the notification body limit must be positive")
	}
	if d.ReconcileAfter < 0 {
		return nil, errors.New("payment: the reconciliation delay must not be negative")
	}
	if d.ReconcileAfter == 0 {
		d.ReconcileAfter = time.Minute
	}
	channels := make(map[Channel]Gateway, len(d.Channels))
	for _, g := range d.Channels {
		if g == nil {
			return nil, errors.New("payment: nil channel")
		}
		ch := g.Info().Channel
		if _, dup := channels[ch]; dup || ch == "" {
			return nil, fmt.Errorf("payment: channel %q configured twice or unnamed", ch)
		}
		channels[ch] = g
	}
	return &Service{
		db: d.DB, store: d.Store, orders: d.Orders, identities: d.Identities, channels: channels,
		clock: d.Clock, log: d.Log, baseURL: strings.TrimRight(d.PublicBaseURL, "/"),
		maxBody: d.MaxNotifyBody, reconcile: d.ReconcileAfter,
	}, nil
}

// MaxNotifyBody is the largest notification body the handlers read.
func (s *Service) MaxNotifyBody() int64 { return s.maxBody }

// gateway returns the channel's Gateway, or channel_unavailable for a
// channel the API knows that is not configured.
func (s *Service) gateway(ch Channel) (Gateway, error) {
	if g, ok := s.channels[ch]; ok {
		return g, nil
	}
	return nil, apperr.New(apperr.CodeChannelUnavailable, "%s is not configured", channelNames[ch])
}

// PayResult is what the mini-program needs to pay: the attempt's
// out_trade_no and the channel's own fields (wx.requestPayment's parameters
// as request_payment for WeChat, the trade_no for Alipay's my.tradePay).
type PayResult struct {
	Channel    Channel
	OutTradeNo string
	Fields     map[string]any
}

// Pay prepares the payment of one of the customer's orders on a channel.
// While the order's open attempt on that channel is valid it is reused
// (WeChat: freshly signed parameters; Alipay: the same trade_no); otherwise a
// new attempt (a new out_trade_no) is made and created at the platform with
// the order's total and its payment deadline as time_expire.
func (s *Service) Pay(ctx context.Context, customerID, orderID int64, ch Channel) (PayResult, error) {
	if _, known := channelNames[ch]; !known {
		return PayResult{}, apperr.Invalid("channel must be wechat or alipay", "channel")
	}
	gw, err := s.gateway(ch)
	if err != nil {
		return PayResult{}, err
	}
	o, err := s.orders.Get(ctx, customerID, orderID)
	if err != nil {
		return PayResult{}, err
	}
	if o.Status != order.StatusPendingPayment {
		return PayResult{}, apperr.InvalidState(string(o.Status), "an order that is %s cannot be paid", o.Status)
	}
	now := s.clock.Now()
	if !now.Before(o.PayDeadline) {
		return PayResult{}, apperr.InvalidState(string(o.Status), "the payment deadline of this order has passed")
	}
	p, err := s.payer(ctx, customerID, gw.Info())
	if err != nil {
		return PayResult{}, err
	}
	a, err := s.openAttempt(ctx, o, gw.Info(), p.Subject)
	if err != nil {
		return PayResult{}, err
	}
	if a.PrepayID == "" {
		prepayID, err := gw.Prepay(ctx, a, p)
		if err != nil {
			return PayResult{}, err
		}
		recorded, err := s.store.SetPrepayID(ctx, a.ID, prepayID, s.clock.Now())
		if errors.Is(err, ErrAttemptNotPending) {
			// A cancel closed the attempt while its trade was being opened:
			// close the trade too (a payment found there is settled as a late
			// payment and refunded).
			a.PrepayID = prepayID
			if _, err := s.closeAttempt(ctx, a); err != nil {
				s.log.WarnContext(ctx, "closing the trade of a closed attempt failed", "out_trade_no", a.OutTradeNo, "err", err)
			}
			return PayResult{}, s.replacedAnswer(ctx, o.ID)
		}
		if err != nil {
			return PayResult{}, apperr.Internal(err)
		}
		a.PrepayID = recorded
		// A cancel may have run its payment gate before this attempt existed:
		// an order that stopped waiting for payment meanwhile must not keep a
		// payable trade.
		if cur, err := s.orders.ByID(ctx, o.ID); err != nil {
			return PayResult{}, apperr.Internal(err)
		} else if cur.Status != order.StatusPendingPayment {
			if _, err := s.closeAttempt(ctx, a); err != nil {
				s.log.WarnContext(ctx, "closing the trade of an order no longer pending failed", "out_trade_no", a.OutTradeNo, "err", err)
			}
			return PayResult{}, apperr.InvalidState(string(cur.Status), "an order that is %s cannot be paid", cur.Status)
		}
	}
	fields, err := gw.Checkout(ctx, a)
	if err != nil {
		return PayResult{}, err
	}
	return PayResult{Channel: ch, OutTradeNo: a.OutTradeNo, Fields: fields}, nil
}

// payer returns the customer's account in the paying app of a channel:
// the WeChat openid in the mini-program, or the Alipay user_id / open_id
// (its kind tells trade.create whether it is buyer_id or buyer_open_id).
func (s *Service) payer(ctx context.Context, customerID int64, info ChannelInfo) (Payer, error) {
	ids, err := s.identities.Identities(ctx, customerID, string(info.Channel))
	if err != nil {
		return Payer{}, apperr.Internal(err)
	}
	for _, id := range ids {
		if id.AppID == info.AppID && id.Subject != "" {
			return Payer{Subject: id.Subject, Kind: id.SubjectKind}, nil
		}
	}
	return Payer{}, apperr.New(apperr.CodeChannelUnavailable, "log in with %s to pay with %s", info.Login, info.Name)
}

// openAttempt returns the order's open attempt when it is on ch and can
// still be paid as it is, or makes a new one. The database holds an order to
// one open attempt across every channel (open_key, unique): an open attempt
// on another channel, or one that can no longer be paid as it is (another
// amount or payer, or past its expiry), is closed at its platform first, and
// a trade found paid there pays the order instead. When two requests race to
// open the order's attempt, the insert of one of them fails on the unique
// key: a loser on the same channel shares the winner's attempt, a loser on
// another channel answers conflict naming the channel the order is being
// paid with (it never closes the winner's fresh trade).
func (s *Service) openAttempt(ctx context.Context, o order.Order, info ChannelInfo, payerID string) (Attempt, error) {
	ch := info.Channel
	for range 3 {
		cur, ok, err := s.store.OpenAttempt(ctx, o.ID)
		if err != nil {
			return Attempt{}, apperr.Internal(err)
		}
		now := s.clock.Now()
		if ok {
			if cur.Channel == ch && cur.AmountFen == o.TotalFen && cur.PayerID == payerID && now.Before(cur.ExpiresAt) {
				return cur, nil
			}
			paid, err := s.closeAttempt(ctx, cur)
			if err != nil {
				return Attempt{}, err
			}
			if paid {
				return Attempt{}, apperr.InvalidState(string(order.StatusPaid), "the order has been paid")
			}
			continue
		}
		no, err := newOutTradeNo(info.TradePrefix, now)
		if err != nil {
			return Attempt{}, apperr.Internal(err)
		}
		check := now.Add(s.reconcile)
		a := Attempt{
			OrderID: o.ID, CustomerID: o.CustomerID, Channel: ch, OutTradeNo: no, AmountFen: o.TotalFen,
			Description: description(o), PayerID: payerID, NotifyURL: s.baseURL + info.NotifyPath, ExpiresAt: o.PayDeadline,
			NextCheckAt: &check, CreatedAt: now,
		}
		err = s.db.Tx(ctx, func(ctx context.Context) error { return s.store.InsertAttempt(ctx, &a) })
		if err == nil {
			return a, nil
		}
		if !db.IsDuplicate(err) {
			return Attempt{}, apperr.Internal(err)
		}
		winner, ok, err := s.store.OpenAttempt(ctx, o.ID)
		if err != nil {
			return Attempt{}, apperr.Internal(err)
		}
		if ok && winner.Channel != ch {
			return Attempt{}, apperr.Conflict("this order is being paid with %s; pay there or try again", winner.Channel).
				WithDetail("channel", string(winner.Channel))
		}
		// The same channel won (its attempt is shared next round), or the
		// winner closed meanwhile: look again.
	}
	return Attempt{}, apperr.Conflict("the order's payment is being prepared by another request, try again")
}

// replacedAnswer is the answer of a pay request whose attempt was closed
// while its trade was being opened: by a cancel (the order's status says
// so) or by another pay request that took the order's payable slot, in
// which case the order is still pending and the customer is told to try
// again, never that the order is cancelled.
func (s *Service) replacedAnswer(ctx context.Context, orderID int64) error {
	cur, err := s.orders.ByID(ctx, orderID)
	if err != nil {
		return apperr.From(err)
	}
	if cur.Status != order.StatusPendingPayment {
		return apperr.InvalidState(string(cur.Status), "an order that is %s cannot be paid", cur.Status)
	}
	return apperr.Conflict("the payment of this order changed meanwhile (another request replaced it), try again")
}

// description is the goods description shown in the platform's payment
// sheet (WeChat's description, Alipay's subject).
func description(o order.Order) string {
	d := "订单 " + o.OrderNo
	if len(o.Items) > 0 {
		d = o.Items[0].Title
		if len(o.Items) > 1 {
			d += fmt.Sprintf(" 等%d件", len(o.Items))
		}
	}
	if r := []rune(d); len(r) > 120 {
		d = string(r[:120])
	}
	return d
}

// newOutTradeNo makes an out_trade_no: the channel's prefix ("WX" for
// WeChat, "AL" for Alipay), the UTC time to the second and 14 random digits
// (30 characters; WeChat allows 32, Alipay 64).
func newOutTradeNo(prefix string, now time.Time) (string, error) {
	b := make([]byte, 14)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return prefix + now.UTC().Format("20060102150405") + string(b), nil
}

// errDuplicateNotification rolls back the handling of a notification whose
// platform id is already stored.
var errDuplicateNotification = errors.New("payment: notification already stored")

// refused is the answer to a signed notification that failed a business
// check: invalid_argument, so the platform delivers it again.
func refused(kind string) *apperr.Error {
	return apperr.Invalid("notification refused: " + kind)
}

// HandleNotification verifies a delivery of a channel's notification and
// applies it: a payment through settle, a refund outcome through
// applyRefund, anything else recorded without moving anything. It returns
// nil when the notification is accepted, recorded, or a duplicate of an
// accepted one (the platform is acknowledged), and an *apperr.Error
// otherwise: not_found for a channel that is not configured, the Gateway's
// refusal for one that does not verify, invalid_argument for one refused by
// a business check, internal for our failures (the platform retries).
func (s *Service) HandleNotification(ctx context.Context, ch Channel, d Delivery) error {
	gw, ok := s.channels[ch]
	if !ok {
		return apperr.New(apperr.CodeNotFound, "%s is not configured", ch)
	}
	ev, err := gw.ParseNotification(ctx, d)
	if err != nil {
		if apperr.CodeOf(err) == apperr.CodeInternal {
			s.log.ErrorContext(ctx, "payment notification could not be read with our keys", "channel", ch, "err", err)
		} else {
			s.log.WarnContext(ctx, "payment notification refused", "channel", ch, "err", err)
		}
		return apperr.From(err)
	}
	src := ev.Notification
	switch {
	case ev.Paid != nil:
		err = s.settle(ctx, *ev.Paid, &src)
	case ev.Refund != nil:
		err = s.refundNotified(ctx, *ev.Refund, &src)
	case ev.Foreign:
		err = s.recordRefused(ctx, &src)
	default:
		err = s.ignore(ctx, &src)
	}
	return apperr.From(err)
}

// recordRefused stores a verified notification that is refused without an
// anomaly (it names another merchant, and no money moved through it) and
// answers it with a refusal, again on every retry that still fails.
func (s *Service) recordRefused(ctx context.Context, src *Notification) error {
	src.Outcome, src.ReceivedAt = OutcomeRefused, s.clock.Now()
	err := s.db.Tx(ctx, func(ctx context.Context) error { return s.store.InsertNotification(ctx, src) })
	if err != nil && !db.IsDuplicate(err) {
		return err
	}
	return refused(AnomalyMerchantMismatch)
}

// ignore records a verified notification that is not a payment and
// acknowledges it.
func (s *Service) ignore(ctx context.Context, src *Notification) error {
	src.Outcome, src.ReceivedAt = OutcomeIgnored, s.clock.Now()
	err := s.db.Tx(ctx, func(ctx context.Context) error { return s.store.InsertNotification(ctx, src) })
	if !db.IsDuplicate(err) {
		return err
	}
	// A retry of one refused before (its merchant was not ours under the
	// configuration of the time) that passes now is acknowledged: the stored
	// row says so.
	prev, ok, err := s.store.NotificationByNotifyID(ctx, src.Channel, src.NotifyID)
	if err != nil || !ok || prev.Outcome != OutcomeRefused {
		return err
	}
	_, err = s.store.Reconsider(ctx, prev.ID, prev.AttemptID, OutcomeIgnored)
	return err
}

// check is the outcome of a notification's business checks.
type check struct {
	kind        string // anomaly kind; "" when the checks passed
	detail      string
	expectedFen int64
}

// attemptOf reads the attempt a payment names, inside the settling
// transaction, and checks the payment against it (checkPaid).
func (s *Service) attemptOf(ctx context.Context, p Paid) (Attempt, check, error) {
	a, found, err := s.store.AttemptByOutTradeNo(ctx, p.OutTradeNo)
	if err != nil {
		return Attempt{}, check{}, err
	}
	return a, s.checkPaid(p, a, found), nil
}

// checkPaid compares a platform's payment with our attempt.
func (s *Service) checkPaid(p Paid, a Attempt, found bool) check {
	switch {
	case !found || a.Channel != p.Channel:
		return check{kind: AnomalyUnknownTrade, detail: fmt.Sprintf("out_trade_no %s is not a %s attempt of ours", p.OutTradeNo, p.Channel)}
	case s.channels[p.Channel] == nil || !s.channels[p.Channel].Owns(p):
		return check{kind: AnomalyMerchantMismatch, detail: fmt.Sprintf("app %q merchant %q are not ours", p.AppID, p.MerchantID)}
	case p.TotalFen != a.AmountFen || (p.Currency != "" && p.Currency != "CNY"):
		return check{kind: AnomalyAmountMismatch, expectedFen: a.AmountFen, detail: amountMismatch(p, a)}
	case p.ProviderTxnID == "":
		return check{kind: AnomalyUnknownTrade, detail: "a paid trade without the platform's transaction id"}
	case a.Status == StatusSucceeded && a.ProviderTxnID != p.ProviderTxnID:
		return check{kind: AnomalyTransactionMismatch, expectedFen: a.AmountFen,
			detail: fmt.Sprintf("transaction %s for an attempt paid by %s", p.ProviderTxnID, a.ProviderTxnID)}
	}
	return check{}
}

// amountMismatch says what the platform reported against what the attempt
// asked for, both in fen (the smallest unit of CNY), naming any other
// currency as the platform sent it.
func amountMismatch(p Paid, a Attempt) string {
	if p.Currency != "" && p.Currency != "CNY" {
		return fmt.Sprintf("the notification's amount is %d in the smallest unit of %s, the payment attempt's is %d fen (CNY)",
			p.TotalFen, p.Currency, a.AmountFen)
	}
	return fmt.Sprintf("the notification's amount is %d fen, the payment attempt's is %d fen", p.TotalFen, a.AmountFen)
}

// settle applies a payment the platform reported, from a notification (src)
// or from a query (src nil), in one transaction: the business checks, the
// raw notification, the attempt to succeeded and the order to paid by
// conditional updates (the order flagged for the sales job). Duplicates
// change nothing; a notification refused before is checked again (see
// reconsider). It is the same for every channel. Once the transaction has
// committed, a late or double payment is refunded and, when the payment
// paid the order, the order's other open trades are closed at their
// platforms.
func (s *Service) settle(ctx context.Context, p Paid, src *Notification) error {
	var out settled
	err := s.db.TxRetry(ctx, func(ctx context.Context) error {
		out = settled{}
		now := s.clock.Now()
		a, c, err := s.attemptOf(ctx, p)
		if err != nil {
			return err
		}
		if src != nil {
			src.AttemptID, src.ReceivedAt, src.Outcome, src.Reason = a.ID, now, OutcomeAccepted, ""
			if c.kind != "" {
				src.Outcome, src.Reason = OutcomeRefused, c.kind+": "+c.detail
			}
			if err := s.store.InsertNotification(ctx, src); err != nil {
				if db.IsDuplicate(err) {
					return errDuplicateNotification
				}
				return err
			}
		}
		if c.kind != "" {
			out.refusal = refused(c.kind)
			_, err := s.anomaly(ctx, a, p, src, c.kind, c.detail, c.expectedFen, now)
			return err
		}
		out, err = s.apply(ctx, a, p, src, now)
		return err
	})
	if errors.Is(err, errDuplicateNotification) {
		return s.duplicate(ctx, p, src)
	}
	if err != nil {
		return err
	}
	return s.afterSettle(ctx, p, out)
}

// settled is what a committed settle leaves to do.
type settled struct {
	refusal *apperr.Error // the payment was refused (an anomaly is recorded)
	refund  *Anomaly      // a late or double payment, to refund
	paid    *Attempt      // the attempt that paid its order: close the order's other trades
}

// apply moves a checked attempt to succeeded and its order to paid, inside
// settle's transaction.
func (s *Service) apply(ctx context.Context, a Attempt, p Paid, src *Notification, now time.Time) (settled, error) {
	if a.Status == StatusSucceeded {
		return settled{}, nil // the same transaction again
	}
	paidAt := now
	if p.PaidAt != nil {
		paidAt = *p.PaidAt
	}
	moved, err := s.store.MarkSucceeded(ctx, a.ID, p.ProviderTxnID, p.PayerTotalFen, paidAt, now)
	if err != nil {
		return settled{}, err
	}
	if !moved {
		cur, err := s.store.AttemptByID(ctx, a.ID)
		if err != nil {
			return settled{}, err
		}
		if cur.Status == StatusSucceeded && cur.ProviderTxnID == p.ProviderTxnID {
			return settled{}, nil // a concurrent delivery won
		}
		return settled{}, fmt.Errorf("payment: attempt %d moved to %s meanwhile", a.ID, cur.Status)
	}
	refund, err := s.payOrder(ctx, a, p, src, paidAt, now)
	if err != nil || refund != nil {
		return settled{refund: refund}, err
	}
	// The order is paid: its other open trades must not stay payable. They
	// are closed right after commit; making them due for reconciliation now
	// is the safety net should that close fail.
	if err := s.store.CheckOthersNow(ctx, a.OrderID, a.ID, now); err != nil {
		return settled{}, err
	}
	return settled{paid: &a}, nil
}

// afterSettle does what a committed settle leaves to do, outside any
// transaction, and returns the refusal to answer, if any.
func (s *Service) afterSettle(ctx context.Context, p Paid, out settled) error {
	ctx = context.WithoutCancel(ctx)
	s.refundLate(ctx, out.refund)
	if out.paid != nil {
		s.closeOthers(ctx, *out.paid)
	}
	if out.refusal != nil {
		s.log.WarnContext(ctx, "payment refused and recorded as an anomaly", "channel", p.Channel, "out_trade_no", p.OutTradeNo, "reason", out.refusal.Message)
		return out.refusal
	}
	return nil
}

// closeOthers closes at their platforms the open attempts of the order that
// paid has just paid. A trade found paid there is settled as a double
// payment and refunded; a failure is logged and left to reconciliation,
// for which the payment made them due.
func (s *Service) closeOthers(ctx context.Context, paid Attempt) {
	attempts, err := s.store.AttemptsOfOrder(ctx, paid.OrderID)
	if err != nil {
		s.log.WarnContext(ctx, "listing the other attempts of a paid order failed", "order_id", paid.OrderID, "err", err)
		return
	}
	for _, a := range attempts {
		if a.ID == paid.ID || a.Status != StatusPending {
			continue
		}
		if _, err := s.closeAttempt(ctx, a); err != nil {
			s.log.WarnContext(ctx, "closing another trade of a paid order failed; reconciliation will retry", "out_trade_no", a.OutTradeNo, "err", err)
		}
	}
}

// payOrder moves the order to paid (the order module's sales job then adds
// its units to the products' sales, off this transaction); an order
// that is no longer pending keeps its status and the payment is recorded as
// a late or double payment, which it returns so that the caller refunds it
// once the transaction has committed.
func (s *Service) payOrder(ctx context.Context, a Attempt, p Paid, src *Notification, paidAt, now time.Time) (*Anomaly, error) {
	err := s.orders.MarkPaid(ctx, a.OrderID, a.AmountFen, paidAt, order.Payment(a.ID))
	if apperr.Is(err, apperr.CodeInvalidState) {
		o, rerr := s.orders.ByID(ctx, a.OrderID)
		if rerr != nil {
			return nil, rerr
		}
		kind := AnomalyLatePayment
		if o.Status != order.StatusCancelled {
			kind = AnomalyDoublePayment
		}
		an, err := s.anomaly(ctx, a, p, src, kind, fmt.Sprintf("paid while the order is %s", o.Status), a.AmountFen, now)
		if err != nil {
			return nil, err
		}
		return &an, nil
	}
	if err != nil {
		return nil, err
	}
	return nil, nil
}

func (s *Service) anomaly(ctx context.Context, a Attempt, p Paid, src *Notification, kind, detail string, expected int64, now time.Time) (Anomaly, error) {
	an := Anomaly{
		Channel: p.Channel, Kind: kind, OrderID: a.OrderID, AttemptID: a.ID, OutTradeNo: p.OutTradeNo,
		ProviderTxnID: p.ProviderTxnID, ExpectedFen: expected, ActualFen: p.TotalFen, Detail: detail, CreatedAt: now,
	}
	if src != nil {
		an.NotificationID = src.ID
	} else {
		// A query is asked again and again (reconciliation, every cancel):
		// the same finding on the same attempt is recorded once while open.
		if open, found, err := s.store.OpenAnomaly(ctx, a.ID, kind); err != nil || found {
			return open, err
		}
		if p.Raw != "" {
			an.Detail += "; the platform answered: " + p.Raw
		}
	}
	err := s.store.InsertAnomaly(ctx, &an)
	return an, err
}

// duplicate answers a notification stored before: as it was answered then
// when it was accepted or ignored, and a refusal is reconsidered.
func (s *Service) duplicate(ctx context.Context, p Paid, src *Notification) error {
	prev, ok, err := s.store.NotificationByNotifyID(ctx, src.Channel, src.NotifyID)
	if err != nil {
		return err
	}
	if !ok || prev.Outcome != OutcomeRefused {
		return nil
	}
	return s.reconsider(ctx, p, prev)
}

// reconsider checks again a payment notification refused before. A refusal
// may depend on our configuration (a wrong MINIMALL_ALIPAY_SELLER_ID,
// appid or mchid) that has been fixed since, so it is never final: a retry
// that now passes every check turns the stored notification accepted (by a
// conditional update, so that concurrent retries apply it once) and is
// settled like a first delivery. A retry still refused writes nothing: its
// anomaly was recorded the first time.
func (s *Service) reconsider(ctx context.Context, p Paid, prev Notification) error {
	var out settled
	err := s.db.TxRetry(ctx, func(ctx context.Context) error {
		out = settled{}
		a, c, err := s.attemptOf(ctx, p)
		switch {
		case err != nil:
			return err
		case c.kind != "":
			out.refusal = refused(c.kind)
			return nil
		}
		now := s.clock.Now()
		ok, err := s.store.Reconsider(ctx, prev.ID, a.ID, OutcomeAccepted)
		if err != nil || !ok {
			return err // !ok: a concurrent retry accepted it
		}
		prev.AttemptID, prev.Outcome, prev.Reason = a.ID, OutcomeAccepted, ""
		out, err = s.apply(ctx, a, p, &prev, now)
		return err
	})
	if err != nil {
		return err
	}
	if out.refusal != nil {
		return out.refusal // logged the first time
	}
	return s.afterSettle(ctx, p, out)
}

// Attempts lists an order's payment attempts for the staff order detail.
func (s *Service) Attempts(ctx context.Context, orderID int64) ([]order.PaymentAttempt, error) {
	as, err := s.store.AttemptsOfOrder(ctx, orderID)
	if err != nil {
		return nil, err
	}
	out := make([]order.PaymentAttempt, len(as))
	for i, a := range as {
		out[i] = order.PaymentAttempt{ID: a.ID, Channel: string(a.Channel), OutTradeNo: a.OutTradeNo,
			Status: string(a.Status), AmountFen: a.AmountFen, RefundedFen: a.RefundedFen,
			ProviderTxnID: a.ProviderTxnID, CreatedAt: a.CreatedAt, PaidAt: a.PaidAt, ClosedAt: a.ClosedAt}
	}
	return out, nil
}

// CloseOpen is the order module's payment gate: before an order is
// cancelled, it closes the order's open attempts, on every channel, at their
// platform. When a platform refuses to close because the trade is paid (or
// the close fails in a way that leaves the outcome unknown), it queries the
// trade; a paid answer pays the order through the same path as a
// notification, and CloseOpen reports paid so that the cancel stops. An
// attempt that already succeeded also reports paid.
func (s *Service) CloseOpen(ctx context.Context, orderID int64) (bool, error) {
	attempts, err := s.store.AttemptsOfOrder(ctx, orderID)
	if err != nil {
		return false, apperr.Internal(err)
	}
	paid := false
	for _, a := range attempts {
		switch {
		case a.Status == StatusSucceeded:
			paid = true
		case a.Status != StatusPending:
		default:
			p, err := s.closeAttempt(ctx, a)
			if err != nil {
				return false, err
			}
			paid = paid || p
		}
	}
	return paid, nil
}

// closeAttempt closes one pending attempt at its platform and reports
// whether it turned out paid. No transaction is open while the platform is
// called. The platform never having had the trade closes the attempt; any
// other refusal or failure of the close is followed by a query: a paid
// trade pays the order through settle, exactly as a notification would; a
// closed one closes the attempt; one still waiting, or no answer, leaves it
// pending (upstream_unavailable: the cancel is refused and tried again). An
// attempt whose channel is no longer configured cannot be closed: the
// cancel waits rather than leave a payable trade behind.
func (s *Service) closeAttempt(ctx context.Context, a Attempt) (bool, error) {
	gw, ok := s.channels[a.Channel]
	if !ok {
		return false, apperr.New(apperr.CodeUpstreamUnavailable, "the %s payment of this order cannot be closed now", a.Channel)
	}
	closeErr := gw.Close(ctx, a)
	if closeErr == nil || errors.Is(closeErr, ErrTradeNotFound) {
		return s.markClosed(ctx, a)
	}
	t, err := gw.Query(ctx, a)
	if err != nil {
		if errors.Is(err, ErrTradeNotFound) {
			return s.markClosed(ctx, a)
		}
		s.log.WarnContext(ctx, "closing and querying a trade failed", "channel", a.Channel, "out_trade_no", a.OutTradeNo,
			"close_err", closeErr, "query_err", err)
		return false, err
	}
	switch t.State {
	case TradePaid:
		if err := s.settle(ctx, t.Paid, nil); err != nil {
			if apperr.Is(err, apperr.CodeInvalid) {
				return false, apperr.New(apperr.CodeUpstreamError, "%s reports a payment that does not match this order; staff have been alerted", gw.Info().Name)
			}
			return false, apperr.Internal(err)
		}
		return true, nil
	case TradeClosed:
		return s.markClosed(ctx, a)
	}
	return false, apperr.New(apperr.CodeUpstreamUnavailable, "the payment is in progress at %s, try again shortly", gw.Info().Name).WithCause(closeErr)
}

// markClosed records that an attempt's trade is closed at its platform, or
// never reached it, and reports whether the attempt turned out paid. The
// update is guarded by the prepay id read before the platform was asked: a
// trade opened meanwhile by a concurrent pay request (the platform said the
// trade did not exist, then its prepay arrived and was recorded) is closed
// at the platform again instead of being left payable behind a closed
// attempt.
func (s *Service) markClosed(ctx context.Context, a Attempt) (bool, error) {
	var moved bool
	err := s.db.Tx(ctx, func(ctx context.Context) error {
		var err error
		moved, err = s.store.MarkClosed(ctx, a.ID, a.PrepayID, s.clock.Now())
		return err
	})
	if err != nil {
		return false, apperr.Internal(err)
	}
	if moved {
		return false, nil
	}
	cur, err := s.store.AttemptByID(ctx, a.ID)
	if err != nil {
		return false, apperr.Internal(err)
	}
	if cur.Status != StatusPending || cur.PrepayID == a.PrepayID {
		return false, nil
	}
	return s.closeAttempt(ctx, cur)
}
