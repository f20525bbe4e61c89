package review

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/wechat"
)

// Channels a review can come from (the customer's login channel).
const (
	ChannelWeChat = "wechat"
	ChannelAlipay = "alipay"
)

// Defaults of Config.
const (
	DefaultWindow = 720 * time.Hour
	// DefaultCheckRetry is the first pause before asking the platform again
	// about text it could not judge; it doubles per attempt up to
	// maxCheckRetry.
	DefaultCheckRetry = 30 * time.Second
	// DefaultVerdictTimeout is how long an image waits for its verdict
	// before it is submitted again.
	DefaultVerdictTimeout = time.Hour
	maxCheckRetry         = time.Hour
	// maxCheckAttempts is how many times text is asked about before the
	// review is held for staff instead.
	maxCheckAttempts = 12
	// JobBatch is how many reviews or images one job step handles.
	JobBatch = 50
	// submitTimeout bounds the image submissions made right after a review
	// is stored; what does not finish in time is left to the job.
	submitTimeout = 5 * time.Second
)

// Config holds the review rules merchants tune.
type Config struct {
	// Window is how long after an order completes its lines may be reviewed
	// and followed up (MINIMALL_REVIEW_WINDOW).
	Window time.Duration
	// AutoPublishAlipay publishes Alipay customers' reviews without staff
	// (MINIMALL_REVIEW_AUTO_PUBLISH_ALIPAY).
	AutoPublishAlipay bool
	// CheckRetry is the first back-off of text re-checks.
	CheckRetry time.Duration
	// VerdictTimeout is how long an image waits for its verdict before it is
	// submitted again.
	VerdictTimeout time.Duration
	// WeChatAppID is the mini-program whose content-check verdicts are
	// accepted.
	WeChatAppID string
}

// Deps are the Service's collaborators. Checker may be nil (WeChat not
// configured: WeChat reviews are then held for staff); the others are
// required.
type Deps struct {
	DB        *db.DB
	Store     *Store
	Orders    Orders
	Customers Customers
	Media     Media
	Ratings   Ratings
	Catalog   catalog.Invalidator
	Checker   ContentChecker
	Audit     *audit.Log
	Clock     clock.Clock
	Log       *slog.Logger
}

// Service holds the review rules.
type Service struct {
	d   Deps
	cfg Config
}

// NewService returns the review service.
func NewService(d Deps, cfg Config) (*Service, error) {
	if d.DB == nil || d.Store == nil || d.Orders == nil || d.Customers == nil || d.Media == nil ||
		d.Ratings == nil || d.Catalog == nil || d.Audit == nil || d.Clock == nil || d.Log == nil {
		return nil, errors.New("review: nil dependency")
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.CheckRetry == 0 {
		cfg.CheckRetry = DefaultCheckRetry
	}
	if cfg.VerdictTimeout == 0 {
		cfg.VerdictTimeout = DefaultVerdictTimeout
	}
	if cfg.Window < 0 || cfg.CheckRetry < 0 || cfg.VerdictTimeout < 0 {
		return nil, errors.New("review: negative duration")
	}
	return &Service{d: d, cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.d.Clock.Now().Truncate(time.Millisecond) }

// author reads who writes a review: the nickname and, on WeChat, the openid
// in the configured mini-program.
func (s *Service) author(ctx context.Context, customerID int64, channel string) (Author, error) {
	p, err := s.d.Customers.Profile(ctx, customerID)
	if err != nil {
		return Author{}, err
	}
	a := Author{Nickname: p.Nickname}
	if channel == ChannelWeChat {
		if a.OpenID, err = s.d.Customers.WeChatOpenID(ctx, customerID); err != nil {
			return Author{}, err
		}
	}
	return a, nil
}

// ---- customers ----

// textVerdict asks WeChat about text written by openID. An empty text passes;
// risky is refused with content_rejected (naming field); an outage or a
// refusal to judge answers pending, for the job to ask again.
func (s *Service) textVerdict(ctx context.Context, openID, content, field string) (string, error) {
	if content == "" {
		return CheckPass, nil
	}
	if s.d.Checker == nil || openID == "" {
		return CheckReview, nil
	}
	v, err := s.d.Checker.CheckText(ctx, openID, content)
	if err != nil {
		s.d.Log.WarnContext(ctx, "content check unavailable; review kept pending for a retry", "err", err)
		return CheckPending, nil
	}
	if v.Suggest == wechat.SuggestRisky {
		return "", apperr.New(apperr.CodeContentRejected, "the content was judged risky and cannot be published").
			WithDetail("fields", []string{field})
	}
	return v.Suggest, nil
}

// start decides the state a new review (or follow-up) begins in from its
// channel and its text verdict.
func (s *Service) start(channel, textCheck string, images int) (State, string, string) {
	if channel != ChannelWeChat {
		if s.cfg.AutoPublishAlipay {
			return StatePublished, "", CheckSkipped
		}
		return StatePending, HoldChannel, CheckSkipped
	}
	switch {
	case textCheck == CheckReview:
		return StatePending, HoldTextReview, CheckPending
	case textCheck == CheckPass && images == 0:
		return StatePublished, "", CheckPending
	}
	return StatePending, "", CheckPending
}

// Create reviews lines of one of the customer's orders.
func (s *Service) Create(ctx context.Context, customerID int64, channel string, orderID int64, in []Input) ([]Review, error) {
	if len(in) == 0 {
		return nil, apperr.Invalid("items must hold at least one line", "items")
	}
	seen := map[int64]bool{}
	for i := range in {
		if err := in[i].validate(i); err != nil {
			return nil, err
		}
		if seen[in[i].OrderItemID] {
			return nil, apperr.Invalid("an order line may be reviewed once", fmt.Sprintf("items[%d].order_item_id", i))
		}
		seen[in[i].OrderItemID] = true
	}
	o, err := s.d.Orders.Get(ctx, customerID, orderID)
	if err != nil {
		return nil, apperr.From(err)
	}
	now := s.now()
	if err := s.reviewable(o, now); err != nil {
		return nil, err
	}
	items := make(map[int64]order.Item, len(o.Items))
	for _, it := range o.Items {
		items[it.ID] = it
	}
	ids := make([]int64, len(in))
	for i, x := range in {
		it, ok := items[x.OrderItemID]
		if !ok {
			return nil, apperr.NotFound("order line")
		}
		if it.Quantity > 0 && it.RefundedQuantity >= it.Quantity {
			return nil, apperr.InvalidState("refunded", "a refunded order line cannot be reviewed").
				WithDetail("order_item_ids", []int64{it.ID})
		}
		ids[i] = x.OrderItemID
		if err := s.d.Media.CheckCustomerImages(ctx, customerID, fmt.Sprintf("items[%d].images", i), x.Images); err != nil {
			return nil, apperr.From(err)
		}
	}
	done, err := s.d.Store.reviewedItems(ctx, ids)
	if err != nil {
		return nil, apperr.From(err)
	}
	if len(done) > 0 {
		return nil, apperr.Conflict("an order line was already reviewed").WithDetail("order_item_ids", keys(done))
	}
	author, err := s.author(ctx, customerID, channel)
	if err != nil {
		return nil, apperr.From(err)
	}
	// The platform is asked before the transaction (never inside one), and
	// about every line before any is stored: one risky line refuses all.
	checks := make([]string, len(in))
	if channel == ChannelWeChat {
		for i, x := range in {
			if checks[i], err = s.textVerdict(ctx, author.OpenID, x.Content, fmt.Sprintf("items[%d].content", i)); err != nil {
				return nil, err
			}
		}
	}
	out := make([]Review, len(in))
	err = s.d.DB.TxRetry(ctx, func(ctx context.Context) error {
		for i, x := range in {
			it := items[x.OrderItemID]
			state, hold, imgCheck := s.start(channel, checks[i], len(x.Images))
			textCheck := checks[i]
			if channel != ChannelWeChat {
				textCheck = CheckSkipped
			}
			r := Review{OrderID: o.ID, OrderItemID: it.ID, ProductID: it.ProductID, SKUID: it.SKUID, SpecText: it.SpecText,
				CustomerID: customerID, Channel: channel, OpenID: author.OpenID,
				AuthorName: AuthorName(author.Nickname, channel, x.Anonymous), Anonymous: x.Anonymous,
				Rating: x.Rating, Content: x.Content, State: state, TextCheck: textCheck, HoldReason: hold,
				HasImages: len(x.Images) > 0 && imgCheck == CheckSkipped, CreatedAt: now, UpdatedAt: now}
			if state == StatePublished {
				r.PublishedAt = &now
			}
			var due *time.Time
			if textCheck == CheckPending {
				due = &now
			}
			if err := s.d.Store.insert(ctx, &r, imageRows(x.Images, PartReview, imgCheck, now), due); err != nil {
				if db.IsDuplicate(err) {
					return apperr.Conflict("an order line was already reviewed").WithDetail("order_item_ids", []int64{it.ID})
				}
				return err
			}
			if state == StatePublished {
				if err := s.d.Ratings.AddRating(ctx, r.ProductID, r.Rating, 1); err != nil {
					return err
				}
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, apperr.From(err)
	}
	s.announce(ctx, out...)
	reviewIDs := make([]int64, len(out))
	for i, r := range out {
		reviewIDs[i] = r.ID
	}
	s.submitSoon(ctx, reviewIDs)
	return s.reload(ctx, reviewIDs)
}

// reviewable refuses orders whose lines cannot be reviewed now.
func (s *Service) reviewable(o order.Order, now time.Time) error {
	switch {
	case o.Status == order.StatusCancelled || o.Status == order.StatusClosed:
		return apperr.InvalidState(string(o.Status), "a %s order cannot be reviewed", o.Status)
	case o.Status != order.StatusCompleted || o.CompletedAt == nil:
		return apperr.InvalidState(string(o.Status), "an order can be reviewed once it is completed")
	case now.After(o.CompletedAt.Add(s.cfg.Window)):
		return apperr.New(apperr.CodeWindowClosed, "reviews are accepted for %s after completion", s.cfg.Window)
	}
	return nil
}

func imageRows(urls []string, part, verdict string, now time.Time) []imageRow {
	rows := make([]imageRow, len(urls))
	for i, u := range urls {
		rows[i] = imageRow{Part: part, Position: i, URL: u, Verdict: verdict, CreatedAt: now}
		if verdict == CheckPending {
			rows[i].CheckDueAt = &now
		}
	}
	return rows
}

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (s *Service) reload(ctx context.Context, ids []int64) ([]Review, error) {
	out := make([]Review, 0, len(ids))
	for _, id := range ids {
		r, err := s.d.Store.get(ctx, id)
		if err != nil {
			return nil, apperr.From(err)
		}
		out = append(out, r)
	}
	return out, nil
}

// announce tells the catalog's read cache that the rating summaries of the
// reviews' products may have moved.
func (s *Service) announce(ctx context.Context, rs ...Review) {
	ids := make([]int64, 0, len(rs))
	seen := map[int64]bool{}
	for _, r := range rs {
		if !seen[r.ProductID] {
			seen[r.ProductID] = true
			ids = append(ids, r.ProductID)
		}
	}
	if len(ids) > 0 {
		s.d.Catalog.CatalogChanged(ctx, catalog.Change{ProductIDs: ids})
	}
}

// FollowUp adds the one follow-up of one of the customer's reviews.
func (s *Service) FollowUp(ctx context.Context, customerID, reviewID int64, in FollowUpInput) (Review, error) {
	if err := in.validate(); err != nil {
		return Review{}, err
	}
	r, err := s.d.Store.get(ctx, reviewID)
	if db.IsNotFound(err) || err == nil && r.CustomerID != customerID {
		return Review{}, apperr.NotFound("review")
	}
	if err != nil {
		return Review{}, apperr.From(err)
	}
	if r.FollowUp != nil {
		return Review{}, apperr.Conflict("a review has one follow-up")
	}
	o, err := s.d.Orders.Get(ctx, customerID, r.OrderID)
	if err != nil {
		return Review{}, apperr.From(err)
	}
	now := s.now()
	if o.CompletedAt == nil || now.After(o.CompletedAt.Add(s.cfg.Window)) {
		return Review{}, apperr.New(apperr.CodeWindowClosed, "follow-ups are accepted for %s after completion", s.cfg.Window)
	}
	if err := s.d.Media.CheckCustomerImages(ctx, customerID, "images", in.Images); err != nil {
		return Review{}, apperr.From(err)
	}
	check := CheckSkipped
	if r.Channel == ChannelWeChat {
		if check, err = s.textVerdict(ctx, r.OpenID, in.Content, "content"); err != nil {
			return Review{}, err
		}
	}
	state, _, imgCheck := s.start(r.Channel, check, len(in.Images))
	var due *time.Time
	if check == CheckPending {
		due = &now
	}
	err = s.d.DB.TxRetry(ctx, func(ctx context.Context) error {
		ok, err := s.d.Store.addFollowUp(ctx, r.ID, customerID, in.Content, check, state, due, now)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.Conflict("a review has one follow-up")
		}
		return s.d.Store.insertImages(ctx, r.ID, imageRows(in.Images, PartFollowUp, imgCheck, now))
	})
	if err != nil {
		return Review{}, apperr.From(err)
	}
	s.submitSoon(ctx, []int64{r.ID})
	return s.get(ctx, r.ID)
}

func (s *Service) get(ctx context.Context, id int64) (Review, error) {
	r, err := s.d.Store.get(ctx, id)
	if db.IsNotFound(err) {
		return Review{}, apperr.NotFound("review")
	}
	return r, apperr.From(err)
}

// Mine returns a page of the customer's reviews, newest first.
func (s *Service) Mine(ctx context.Context, customerID int64, offset, limit int) ([]Review, int64, error) {
	out, total, err := s.d.Store.mine(ctx, customerID, offset, limit)
	return out, total, apperr.From(err)
}

// Published returns a page of a product's published reviews, newest first.
func (s *Service) Published(ctx context.Context, productID int64, filter string, offset, limit int) ([]Review, int64, error) {
	switch filter {
	case "":
		filter = FilterAll
	case FilterAll, FilterWithImages, FilterGood, FilterBad:
	default:
		return nil, 0, apperr.Invalid("filter must be all, with_images, good or bad", "filter")
	}
	out, total, err := s.d.Store.published(ctx, productID, filter, offset, limit)
	return out, total, apperr.From(err)
}

// ---- staff ----

// AdminList returns a page of reviews for staff.
func (s *Service) AdminList(ctx context.Context, f AdminFilter, offset, limit int) ([]Review, int64, error) {
	if f.State != "" && !f.State.Valid() {
		return nil, 0, apperr.Invalid("state must be pending, published or hidden", "state")
	}
	if f.FollowUpState != "" && !f.FollowUpState.Valid() {
		return nil, 0, apperr.Invalid("followup_state must be pending, published or hidden", "followup_state")
	}
	if f.Rating < 0 || f.Rating > MaxRating {
		return nil, 0, apperr.Invalid("rating must be 1 to 5", "rating")
	}
	out, total, err := s.d.Store.admin(ctx, f, offset, limit)
	return out, total, apperr.From(err)
}

// AdminGet returns any review.
func (s *Service) AdminGet(ctx context.Context, id int64) (Review, error) { return s.get(ctx, id) }

// transition moves review id to state to from whatever visible or pending
// state it is in, moving the rating summary when it enters or leaves
// published. It runs inside the caller's transaction and reports the state
// it moved from ("" when it already was in to).
func (s *Service) transition(ctx context.Context, id int64, to State, hold string, now time.Time) (Review, State, error) {
	for attempt := 0; attempt < 3; attempt++ {
		r, err := s.d.Store.get(ctx, id)
		if db.IsNotFound(err) {
			return Review{}, "", apperr.NotFound("review")
		}
		if err != nil {
			return Review{}, "", err
		}
		if r.State == to {
			return r, "", nil
		}
		ok, err := s.d.Store.move(ctx, id, r.State, to, hold, now)
		if err != nil {
			return Review{}, "", err
		}
		if !ok {
			continue // the state moved meanwhile: decide again on the new one
		}
		var delta int64
		switch {
		case to == StatePublished:
			delta = 1
		case r.State == StatePublished:
			delta = -1
		}
		if delta != 0 {
			if err := s.d.Ratings.AddRating(ctx, r.ProductID, r.Rating, delta); err != nil {
				return Review{}, "", err
			}
		}
		return r, r.State, nil
	}
	return Review{}, "", apperr.Conflict("the review changed meanwhile; try again")
}

// Hide takes a review out of public view (and out of the rating summary).
func (s *Service) Hide(ctx context.Context, staffID, id int64) (Review, error) {
	var r Review
	err := s.d.DB.TxRetry(ctx, func(ctx context.Context) error {
		var from State
		var err error
		if r, from, err = s.transition(ctx, id, StateHidden, "", s.now()); err != nil || from == "" {
			return err
		}
		return s.d.Audit.Record(ctx, audit.Entry{StaffID: staffID, Action: "review.hide", TargetType: "review",
			TargetID: strconv.FormatInt(id, 10), Detail: "from " + string(from)})
	})
	if err != nil {
		return Review{}, apperr.From(err)
	}
	s.announce(ctx, r)
	return s.get(ctx, id)
}

// Publish shows a review (and its follow-up) that checks or moderation held
// or staff hid: what the platform held (review) is approved by this act. A
// review whose text the platform found risky cannot be published.
func (s *Service) Publish(ctx context.Context, staffID, id int64) (Review, error) {
	var r Review
	err := s.d.DB.TxRetry(ctx, func(ctx context.Context) error {
		now := s.now()
		cur, err := s.d.Store.get(ctx, id)
		if db.IsNotFound(err) {
			return apperr.NotFound("review")
		}
		if err != nil {
			return err
		}
		if cur.TextCheck == CheckRisky {
			return apperr.InvalidState(string(cur.State), "the platform judged this review's text risky; it cannot be published")
		}
		var from State
		if r, from, err = s.transition(ctx, id, StatePublished, "", now); err != nil {
			return err
		}
		if err := s.d.Store.approveHeldImages(ctx, id, now); err != nil {
			return err
		}
		if err := s.d.Store.refreshHasImages(ctx, id); err != nil {
			return err
		}
		fu := cur.FollowUp != nil && cur.FollowUp.State == StatePending && cur.FollowUp.Check != CheckRisky
		if fu {
			if _, err := s.d.Store.moveFollowUp(ctx, id, StatePending, StatePublished, now); err != nil {
				return err
			}
		}
		if from == "" && !fu {
			return nil
		}
		return s.d.Audit.Record(ctx, audit.Entry{StaffID: staffID, Action: "review.publish", TargetType: "review",
			TargetID: strconv.FormatInt(id, 10), Detail: "from " + string(cur.State)})
	})
	if err != nil {
		return Review{}, apperr.From(err)
	}
	s.announce(ctx, r)
	return s.get(ctx, id)
}

// Reply sets or edits the merchant's one reply.
func (s *Service) Reply(ctx context.Context, staffID, id int64, content string) (Review, error) {
	if content == "" || len([]rune(content)) > MaxContent {
		return Review{}, apperr.Invalid(fmt.Sprintf("content must have 1 to %d characters", MaxContent), "content")
	}
	err := s.d.DB.TxRetry(ctx, func(ctx context.Context) error {
		ok, err := s.d.Store.reply(ctx, id, staffID, content, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return apperr.NotFound("review")
		}
		return s.d.Audit.Record(ctx, audit.Entry{StaffID: staffID, Action: "review.reply", TargetType: "review",
			TargetID: strconv.FormatInt(id, 10), Detail: content})
	})
	if err != nil {
		return Review{}, apperr.From(err)
	}
	return s.get(ctx, id)
}

// ---- platform verdicts ----

// ErrUnknownTrace reports a verdict for a trace id no image carries (yet):
// the message push answers an error so that WeChat delivers it again.
var ErrUnknownTrace = errors.New("review: no image with this trace id")

// ApplyImageVerdict records WeChat's verdict on an image (the
// wxa_media_check event) and settles its review. It is idempotent: a
// verdict for an image already judged changes nothing.
func (s *Service) ApplyImageVerdict(ctx context.Context, traceID, suggest string) error {
	switch suggest {
	case wechat.SuggestPass, wechat.SuggestReview, wechat.SuggestRisky:
	default:
		return apperr.Invalid("unknown verdict "+suggest, "suggest")
	}
	var settled Review
	err := s.d.DB.TxRetry(ctx, func(ctx context.Context) error {
		now := s.now()
		img, err := s.d.Store.imageByTrace(ctx, traceID)
		if db.IsNotFound(err) {
			return ErrUnknownTrace
		}
		if err != nil {
			return err
		}
		ok, err := s.d.Store.setImageVerdict(ctx, img.ID, traceID, suggest, now)
		if err != nil || !ok {
			return err
		}
		if err := s.d.Store.refreshHasImages(ctx, img.ReviewID); err != nil {
			return err
		}
		settled, err = s.settle(ctx, img.ReviewID, img.Part, suggest, now)
		return err
	})
	if errors.Is(err, ErrUnknownTrace) {
		return err
	}
	if err != nil {
		return apperr.From(err)
	}
	if settled.ID != 0 {
		s.announce(ctx, settled)
	}
	return nil
}

// settle applies the consequence of a verdict on part (review text or
// images, or the follow-up's) to the review: publish what passed
// everything, hold what needs staff, withdraw what is risky.
func (s *Service) settle(ctx context.Context, id int64, part, verdict string, now time.Time) (Review, error) {
	r, err := s.d.Store.get(ctx, id)
	if err != nil {
		return Review{}, err
	}
	if part == PartFollowUp {
		if r.FollowUp == nil {
			return Review{}, nil
		}
		switch {
		case verdict == CheckRisky && r.FollowUp.State == StatePublished:
			_, err = s.d.Store.moveFollowUp(ctx, id, StatePublished, StatePending, now)
		case r.followUpReady():
			_, err = s.d.Store.moveFollowUp(ctx, id, StatePending, StatePublished, now)
		}
		return Review{}, err
	}
	switch verdict {
	case CheckPass:
		if r.readyToPublish() {
			_, _, err = s.transition(ctx, id, StatePublished, "", now)
			return r, err
		}
	case CheckReview:
		_, err = s.d.Store.hold(ctx, id, HoldImageReview, now)
	case CheckRisky:
		if r.State == StatePublished {
			ok, err := s.d.Store.move(ctx, id, StatePublished, StatePending, HoldImageRisky, now)
			if err != nil || !ok {
				return Review{}, err
			}
			return r, s.d.Ratings.AddRating(ctx, r.ProductID, r.Rating, -1)
		}
		if r.State == StatePending {
			err = s.d.Store.setHold(ctx, id, HoldImageRisky, now)
		}
	}
	return Review{}, err
}

func isInvalid(err error) bool { return apperr.Is(err, apperr.CodeInvalid) }

// ---- jobs ----

// submitSoon submits the pending images of just-stored reviews at once,
// bounded in time; whatever fails is left to SubmitImages.
func (s *Service) submitSoon(ctx context.Context, reviewIDs []int64) {
	if s.d.Checker == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), submitTimeout)
	defer cancel()
	if _, err := s.submit(ctx, reviewIDs, MaxImages*len(reviewIDs)); err != nil {
		s.d.Log.WarnContext(ctx, "image checks not submitted; the job will retry", "err", err)
	}
}

// SubmitImages is a job step: it submits pending images whose submission
// is due to mediaCheckAsync (again, when no verdict came in time).
func (s *Service) SubmitImages(ctx context.Context, limit int) (int, error) {
	if s.d.Checker == nil {
		return 0, nil
	}
	return s.submit(ctx, nil, limit)
}

func (s *Service) submit(ctx context.Context, reviewIDs []int64, limit int) (int, error) {
	now := s.now()
	due, err := s.d.Store.dueImages(ctx, now, reviewIDs, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, img := range due {
		ok, err := s.d.Store.claimImage(ctx, img.ID, img.CheckDueAt, now.Add(s.backoff(img.Attempts)))
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		trace, err := s.d.Checker.CheckImageAsync(ctx, img.OpenID, img.URL)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.d.Store.submitted(ctx, img.ID, trace, now.Add(s.cfg.VerdictTimeout)); err != nil {
			return n, err
		}
		n++
	}
	if len(errs) > 0 && n == 0 {
		return n, errors.Join(errs...)
	}
	return n, nil
}

func (s *Service) backoff(attempts int) time.Duration {
	d := s.cfg.CheckRetry
	for i := 0; i < attempts && d < maxCheckRetry; i++ {
		d *= 2
	}
	return min(d, maxCheckRetry)
}

// RecheckTexts is a job step: it asks WeChat again about texts it could not
// judge when they were written, with back-off; after maxCheckAttempts the
// review is held for staff instead.
func (s *Service) RecheckTexts(ctx context.Context, limit int) (int, error) {
	now := s.now()
	due, err := s.d.Store.dueTexts(ctx, now, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, row := range due {
		ok, err := s.d.Store.claimText(ctx, row.ID, *row.CheckDueAt, now.Add(s.backoff(row.CheckAttempts)))
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		if err := s.recheck(ctx, row, now); err != nil {
			s.d.Log.WarnContext(ctx, "content re-check failed", "review_id", row.ID, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

func (s *Service) recheck(ctx context.Context, row reviewRow, now time.Time) error {
	type job struct {
		followUp bool
		content  string
	}
	var jobs []job
	if row.TextCheck == CheckPending {
		jobs = append(jobs, job{false, row.Content})
	}
	if row.FollowupCheck == CheckPending {
		jobs = append(jobs, job{true, row.FollowupContent})
	}
	var verdicts []string
	for _, j := range jobs {
		v := CheckReview
		if s.d.Checker != nil && row.OpenID != "" {
			res, err := s.d.Checker.CheckText(ctx, row.OpenID, j.content)
			if err != nil {
				if row.CheckAttempts+1 < maxCheckAttempts {
					return err
				}
				v = CheckReview // the platform never judged it: staff will
			} else {
				v = res.Suggest
			}
		}
		verdicts = append(verdicts, v)
	}
	var settled Review
	err := s.d.DB.TxRetry(ctx, func(ctx context.Context) error {
		settled = Review{}
		for i, j := range jobs {
			v := verdicts[i]
			ok, err := s.d.Store.setTextCheck(ctx, row.ID, j.followUp, v, now)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := s.textSettled(ctx, row.ID, j.followUp, v, now); err != nil {
				return err
			}
			if !j.followUp && v == CheckPass {
				if settled, err = s.settle(ctx, row.ID, PartReview, CheckPass, now); err != nil {
					return err
				}
			}
			if j.followUp && v == CheckPass {
				if _, err := s.settle(ctx, row.ID, PartFollowUp, CheckPass, now); err != nil {
					return err
				}
			}
		}
		return s.d.Store.clearTextDue(ctx, row.ID)
	})
	if err == nil && settled.ID != 0 {
		s.announce(ctx, settled)
	}
	return err
}

// textSettled holds or hides a review (or follow-up) whose text a re-check
// judged review or risky.
func (s *Service) textSettled(ctx context.Context, id int64, followUp bool, verdict string, now time.Time) error {
	switch {
	case followUp && verdict == CheckRisky:
		_, err := s.d.Store.moveFollowUp(ctx, id, StatePending, StateHidden, now)
		return err
	case !followUp && verdict == CheckRisky:
		// Hidden for good (Publish refuses risky text), leaving the rating
		// summary if staff had published it meanwhile.
		_, _, err := s.transition(ctx, id, StateHidden, HoldTextRisky, now)
		return err
	case !followUp && verdict == CheckReview:
		_, err := s.d.Store.hold(ctx, id, HoldTextReview, now)
		return err
	}
	return nil
}
