// Package review owns product reviews: one per order line of a completed
// order, a single follow-up (追评), the merchant's reply, moderation by staff,
// the platforms' content checks, and each product's rating summary.
//
// The rules:
//   - A customer reviews lines of their own completed orders, each line once
//     (a unique key on order_item_id decides races), within Config.Window of
//     completion; another customer's order is not found, a second review is
//     a conflict, a cancelled or closed (refunded) order is invalid_state.
//   - A review is pending, published or hidden. Only published reviews are
//     shown to the public and counted in the product's rating summary
//     (count, total and count per star on the product row). Every move
//     between states is a conditional UPDATE ... WHERE state = ? whose
//     rows-affected decides whether the summary moves, in the same
//     transaction, so the summary equals a recount whatever runs
//     concurrently.
//   - WeChat customers' text goes through msgSecCheck before anything is
//     stored: risky is refused (content_rejected) and stored nowhere; review
//     holds the review for staff; pass lets it through. Images go through
//     mediaCheckAsync after commit; their verdicts arrive later
//     (ApplyImageVerdict, from the wxa_media_check message push) and apply
//     once (a guarded update on the image's pending verdict): pass publishes
//     the review when everything else passed, review holds it, risky
//     withdraws the image and holds the review (unpublishing it if staff had
//     published it).
//   - A platform outage never loses a review: the text is stored pending and
//     a job asks again with back-off; images are submitted by a job until
//     WeChat takes them and re-submitted when no verdict came.
//   - Alipay customers' reviews are held for staff unless
//     Config.AutoPublishAlipay.
//   - Staff reply (once, editable), hide and publish; every staff action is
//     audited in its transaction.
package review

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/minimall/minimall/internal/apperr"
)

// Limits of a review.
const (
	MaxContent = 500
	MaxImages  = 9
	MaxRating  = 5
)

// State is where a review stands in moderation.
type State string

// The states of a review. Only published reviews are public.
const (
	StatePending   State = "pending"
	StatePublished State = "published"
	StateHidden    State = "hidden"
)

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	return s == StatePending || s == StatePublished || s == StateHidden
}

// Verdicts of the content checks of texts and images.
const (
	CheckPending  = "pending"  // not yet judged
	CheckPass     = "pass"     // the platform passed it
	CheckReview   = "review"   // the platform wants a human to look
	CheckRisky    = "risky"    // refused: never shown
	CheckApproved = "approved" // staff published what the platform held
	CheckSkipped  = "skipped"  // the channel has no content check
)

// Why a pending review waits for staff (HoldReason).
const (
	HoldTextReview  = "text_review"        // msgSecCheck said review
	HoldImageReview = "image_review"       // an image's verdict was review
	HoldImageRisky  = "image_risky"        // an image was withdrawn as risky
	HoldChannel     = "channel_moderation" // the channel has no content check (Alipay)
	HoldCheckFailed = "check_failed"       // the platform kept refusing to judge
	HoldTextRisky   = "text_risky"         // a re-check found the text risky: hidden for good
)

// Image parts: an image of the review or of its follow-up.
const (
	PartReview   = "review"
	PartFollowUp = "followup"
)

// Image is an image of a review or follow-up with its check.
type Image struct {
	ID       int64
	ReviewID int64
	Part     string
	Position int
	URL      string
	Verdict  string
	TraceID  string
}

// Visible reports whether the public may see the image.
func (i Image) Visible() bool {
	return i.Verdict == CheckPass || i.Verdict == CheckApproved || i.Verdict == CheckSkipped
}

// FollowUp is the one follow-up of a review.
type FollowUp struct {
	Content   string
	Check     string
	State     State // pending, published or hidden
	Images    []Image
	CreatedAt time.Time
}

// Reply is the merchant's reply.
type Reply struct {
	Content   string
	StaffID   int64
	RepliedAt time.Time
}

// Review is one review of an order line.
type Review struct {
	ID          int64
	OrderID     int64
	OrderItemID int64
	ProductID   int64
	SKUID       int64
	SpecText    string
	CustomerID  int64
	Channel     string
	OpenID      string
	AuthorName  string
	Anonymous   bool
	Rating      int
	Content     string
	Images      []Image
	HasImages   bool
	State       State
	TextCheck   string
	HoldReason  string
	FollowUp    *FollowUp
	Reply       *Reply
	PublishedAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// imagesPassed reports whether every image of part has passed its check.
func (r *Review) imagesPassed(part string) bool {
	for _, img := range r.allImages() {
		if img.Part == part && !img.Visible() {
			return false
		}
	}
	return true
}

func (r *Review) allImages() []Image {
	out := append([]Image(nil), r.Images...)
	if r.FollowUp != nil {
		out = append(out, r.FollowUp.Images...)
	}
	return out
}

// readyToPublish reports whether a pending review may be published without
// staff: nothing holds it and every check passed.
func (r *Review) readyToPublish() bool {
	return r.State == StatePending && r.HoldReason == "" && r.TextCheck == CheckPass && r.imagesPassed(PartReview)
}

// followUpReady reports whether a pending follow-up may be published
// without staff.
func (r *Review) followUpReady() bool {
	f := r.FollowUp
	return f != nil && f.State == StatePending && f.Check == CheckPass && r.imagesPassed(PartFollowUp)
}

// Input is one line of a customer's review request.
type Input struct {
	OrderItemID int64
	Rating      int
	Content     string
	Images      []string
	Anonymous   bool
}

// validate trims and checks one input; field names carry the index of the
// line (items[2].rating).
func (in *Input) validate(i int) error {
	f := func(name string) string { return fmt.Sprintf("items[%d].%s", i, name) }
	in.Content = strings.TrimSpace(in.Content)
	switch {
	case in.OrderItemID <= 0:
		return apperr.Invalid("order_item_id must be a positive integer", f("order_item_id"))
	case in.Rating < 1 || in.Rating > MaxRating:
		return apperr.Invalid("rating must be 1 to 5", f("rating"))
	}
	return checkText(in.Content, in.Images, f("content"), f("images"))
}

func checkText(content string, images []string, contentField, imagesField string) error {
	if utf8.RuneCountInString(content) > MaxContent {
		return apperr.Invalid(fmt.Sprintf("content must have at most %d characters", MaxContent), contentField)
	}
	if len(images) > MaxImages {
		return apperr.Invalid(fmt.Sprintf("at most %d images", MaxImages), imagesField)
	}
	seen := map[string]bool{}
	for _, u := range images {
		if seen[u] {
			return apperr.Invalid("images must not repeat", imagesField)
		}
		seen[u] = true
	}
	return nil
}

// FollowUpInput is a customer's follow-up.
type FollowUpInput struct {
	Content string
	Images  []string
}

func (in *FollowUpInput) validate() error {
	in.Content = strings.TrimSpace(in.Content)
	if in.Content == "" && len(in.Images) == 0 {
		return apperr.Invalid("a follow-up needs content or images", "content")
	}
	return checkText(in.Content, in.Images, "content", "images")
}

// AuthorName is the name a review shows: the nickname, masked for an
// anonymous review to its first and last characters ("小***明"), or a
// neutral name when the customer has none.
func AuthorName(nickname, channel string, anonymous bool) string {
	r := []rune(strings.TrimSpace(nickname))
	if anonymous {
		switch len(r) {
		case 0:
			return "匿名用户"
		case 1:
			return string(r) + "***"
		default:
			return string(r[0]) + "***" + string(r[len(r)-1])
		}
	}
	if len(r) == 0 {
		if channel == "alipay" {
			return "支付宝用户"
		}
		return "微信用户"
	}
	if len(r) > 32 {
		r = r[:32]
	}
	return string(r)
}

// Filter of the public list.
const (
	FilterAll        = "all"
	FilterWithImages = "with_images"
	FilterGood       = "good" // 4 and 5 stars
	FilterBad        = "bad"  // 1 and 2 stars
)

// AdminFilter selects reviews for staff.
type AdminFilter struct {
	ProductID     int64
	Rating        int
	State         State
	HasImages     *bool
	FollowUpState State
}
