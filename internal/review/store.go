package review

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/platform/db"
)

// Store keeps reviews and their images.
type Store struct {
	db *db.DB
}

// NewStore returns the review store.
func NewStore(d *db.DB) (*Store, error) {
	if d == nil {
		return nil, errors.New("review: nil database")
	}
	return &Store{db: d}, nil
}

type reviewRow struct {
	ID              int64
	OrderID         int64
	OrderItemID     int64
	ProductID       int64
	SKUID           int64 `gorm:"column:sku_id"`
	SpecText        string
	CustomerID      int64
	Channel         string
	OpenID          string `gorm:"column:openid"`
	AuthorName      string
	Anonymous       bool
	Rating          int
	Content         string
	HasImages       bool
	State           string
	TextCheck       string
	HoldReason      string
	FollowupContent string
	FollowupCheck   string
	FollowupState   string
	FollowupAt      *time.Time
	ReplyContent    string
	ReplyStaffID    int64
	RepliedAt       *time.Time
	CheckDueAt      *time.Time
	CheckAttempts   int
	PublishedAt     *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (reviewRow) TableName() string { return "reviews" }

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r reviewRow) domain() Review {
	v := Review{ID: r.ID, OrderID: r.OrderID, OrderItemID: r.OrderItemID, ProductID: r.ProductID, SKUID: r.SKUID,
		SpecText: r.SpecText, CustomerID: r.CustomerID, Channel: r.Channel, OpenID: r.OpenID, AuthorName: r.AuthorName,
		Anonymous: r.Anonymous, Rating: r.Rating, Content: r.Content, HasImages: r.HasImages, State: State(r.State),
		TextCheck: r.TextCheck, HoldReason: r.HoldReason, PublishedAt: utc(r.PublishedAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.FollowupAt != nil {
		v.FollowUp = &FollowUp{Content: r.FollowupContent, Check: r.FollowupCheck, State: State(r.FollowupState),
			CreatedAt: r.FollowupAt.UTC()}
	}
	if r.RepliedAt != nil {
		v.Reply = &Reply{Content: r.ReplyContent, StaffID: r.ReplyStaffID, RepliedAt: r.RepliedAt.UTC()}
	}
	return v
}

type imageRow struct {
	ID         int64
	ReviewID   int64
	Part       string
	Position   int
	URL        string `gorm:"column:url"`
	Verdict    string
	TraceID    *string
	CheckDueAt *time.Time
	Attempts   int
	VerdictAt  *time.Time
	CreatedAt  time.Time
}

func (imageRow) TableName() string { return "review_images" }

func (r imageRow) domain() Image {
	img := Image{ID: r.ID, ReviewID: r.ReviewID, Part: r.Part, Position: r.Position, URL: r.URL, Verdict: r.Verdict}
	if r.TraceID != nil {
		img.TraceID = *r.TraceID
	}
	return img
}

// insert stores a new review with its images; db.IsDuplicate reports a
// second review of the line.
func (s *Store) insert(ctx context.Context, r *Review, images []imageRow, checkDue *time.Time) error {
	row := reviewRow{OrderID: r.OrderID, OrderItemID: r.OrderItemID, ProductID: r.ProductID, SKUID: r.SKUID,
		SpecText: r.SpecText, CustomerID: r.CustomerID, Channel: r.Channel, OpenID: r.OpenID, AuthorName: r.AuthorName,
		Anonymous: r.Anonymous, Rating: r.Rating, Content: r.Content, HasImages: r.HasImages, State: string(r.State),
		TextCheck: r.TextCheck, HoldReason: r.HoldReason, CheckDueAt: checkDue, PublishedAt: r.PublishedAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if err := s.db.Writer(ctx).Create(&row).Error; err != nil {
		return err
	}
	r.ID = row.ID
	return s.insertImages(ctx, r.ID, images)
}

func (s *Store) insertImages(ctx context.Context, reviewID int64, images []imageRow) error {
	if len(images) == 0 {
		return nil
	}
	for i := range images {
		images[i].ReviewID = reviewID
	}
	return s.db.Writer(ctx).Create(&images).Error
}

// get returns one review with its images; db.IsNotFound reports none.
func (s *Store) get(ctx context.Context, id int64) (Review, error) {
	var row reviewRow
	if err := s.db.Reader(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Review{}, err
	}
	out := []Review{row.domain()}
	if err := s.attachImages(ctx, out); err != nil {
		return Review{}, err
	}
	return out[0], nil
}

// byItems returns the ids of the order lines among ids that have a review.
func (s *Store) reviewedItems(ctx context.Context, itemIDs []int64) (map[int64]bool, error) {
	var ids []int64
	if err := s.db.Reader(ctx).Model(&reviewRow{}).Where("order_item_id IN ?", itemIDs).
		Pluck("order_item_id", &ids).Error; err != nil {
		return nil, err
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

func (s *Store) attachImages(ctx context.Context, reviews []Review) error {
	if len(reviews) == 0 {
		return nil
	}
	ids := make([]int64, len(reviews))
	at := make(map[int64]*Review, len(reviews))
	for i := range reviews {
		ids[i] = reviews[i].ID
		at[reviews[i].ID] = &reviews[i]
	}
	var rows []imageRow
	if err := s.db.Reader(ctx).Where("review_id IN ?", ids).Order("review_id, part DESC, position").
		Find(&rows).Error; err != nil {
		return err
	}
	for _, row := range rows {
		r := at[row.ReviewID]
		switch {
		case row.Part == PartFollowUp && r.FollowUp != nil:
			r.FollowUp.Images = append(r.FollowUp.Images, row.domain())
		case row.Part == PartReview:
			r.Images = append(r.Images, row.domain())
		}
	}
	return nil
}

// page runs q for one page, newest first, with images.
func (s *Store) page(ctx context.Context, q *gorm.DB, offset, limit int) ([]Review, int64, error) {
	rows, total, err := db.Page[reviewRow](q, "id DESC", offset, limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Review, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, total, s.attachImages(ctx, out)
}

// published returns a page of a product's published reviews.
func (s *Store) published(ctx context.Context, productID int64, filter string, offset, limit int) ([]Review, int64, error) {
	q := s.db.Reader(ctx).Model(&reviewRow{}).Where("product_id = ? AND state = ?", productID, StatePublished)
	switch filter {
	case FilterWithImages:
		q = q.Where("has_images = ?", true)
	case FilterGood:
		q = q.Where("rating >= 4")
	case FilterBad:
		q = q.Where("rating <= 2")
	}
	return s.page(ctx, q, offset, limit)
}

// mine returns a page of a customer's reviews.
func (s *Store) mine(ctx context.Context, customerID int64, offset, limit int) ([]Review, int64, error) {
	return s.page(ctx, s.db.Reader(ctx).Model(&reviewRow{}).Where("customer_id = ?", customerID), offset, limit)
}

// admin returns a page of reviews for staff.
func (s *Store) admin(ctx context.Context, f AdminFilter, offset, limit int) ([]Review, int64, error) {
	q := s.db.Reader(ctx).Model(&reviewRow{})
	if f.ProductID > 0 {
		q = q.Where("product_id = ?", f.ProductID)
	}
	if f.Rating > 0 {
		q = q.Where("rating = ?", f.Rating)
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.FollowUpState != "" {
		q = q.Where("followup_state = ?", f.FollowUpState)
	}
	if f.HasImages != nil {
		sub := s.db.Reader(ctx).Model(&imageRow{}).Select("1").Where("review_images.review_id = reviews.id")
		if *f.HasImages {
			q = q.Where("EXISTS (?)", sub)
		} else {
			q = q.Where("NOT EXISTS (?)", sub)
		}
	}
	return s.page(ctx, q, offset, limit)
}

// move changes the state of a review from one state to another, guarded by
// the state it must still have, and reports whether it did.
func (s *Store) move(ctx context.Context, id int64, from, to State, hold string, now time.Time) (bool, error) {
	set := map[string]any{"state": to, "hold_reason": hold, "updated_at": now}
	if to == StatePublished {
		set["published_at"] = now
	}
	res := s.db.Writer(ctx).Model(&reviewRow{}).Where("id = ? AND state = ?", id, from).Updates(set)
	return res.RowsAffected == 1, res.Error
}

// hold sets the hold reason of a pending review that has none.
func (s *Store) hold(ctx context.Context, id int64, reason string, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE reviews SET hold_reason = ?, updated_at = ?
		WHERE id = ? AND state = ? AND hold_reason = ''`, reason, now, id, StatePending)
	return res.RowsAffected == 1, res.Error
}

// setHold sets the hold reason of a pending review, whatever it was.
func (s *Store) setHold(ctx context.Context, id int64, reason string, now time.Time) error {
	return s.db.Writer(ctx).Exec(`UPDATE reviews SET hold_reason = ?, updated_at = ? WHERE id = ? AND state = ?`,
		reason, now, id, StatePending).Error
}

// setTextCheck records the verdict of pending text (the review's or, with
// followUp, the follow-up's) and reports whether it was still pending.
func (s *Store) setTextCheck(ctx context.Context, id int64, followUp bool, verdict string, now time.Time) (bool, error) {
	col := "text_check"
	if followUp {
		col = "followup_check"
	}
	res := s.db.Writer(ctx).Exec(`UPDATE reviews SET `+col+` = ?, updated_at = ? WHERE id = ? AND `+col+` = ?`,
		verdict, now, id, CheckPending)
	return res.RowsAffected == 1, res.Error
}

// moveFollowUp changes the follow-up's state, guarded by its current one.
func (s *Store) moveFollowUp(ctx context.Context, id int64, from, to State, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE reviews SET followup_state = ?, updated_at = ? WHERE id = ? AND followup_state = ?`,
		to, now, id, from)
	return res.RowsAffected == 1, res.Error
}

// addFollowUp stores the follow-up unless the review has one, and reports
// whether it did.
func (s *Store) addFollowUp(ctx context.Context, id, customerID int64, content, check string, state State, due *time.Time, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE reviews SET followup_content = ?, followup_check = ?, followup_state = ?,
		followup_at = ?, check_due_at = COALESCE(?, check_due_at), updated_at = ?
		WHERE id = ? AND customer_id = ? AND followup_at IS NULL`, content, check, state, now, due, now, id, customerID)
	return res.RowsAffected == 1, res.Error
}

// reply sets or replaces the merchant's reply.
func (s *Store) reply(ctx context.Context, id, staffID int64, content string, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE reviews SET reply_content = ?, reply_staff_id = ?, replied_at = ?, updated_at = ? WHERE id = ?`,
		content, staffID, now, now, id)
	return res.RowsAffected == 1, res.Error
}

// refreshHasImages recomputes whether the review shows images.
func (s *Store) refreshHasImages(ctx context.Context, id int64) error {
	return s.db.Writer(ctx).Exec(`UPDATE reviews SET has_images = CASE WHEN EXISTS (
		SELECT 1 FROM review_images WHERE review_id = ? AND part = ? AND verdict IN (?, ?, ?)) THEN 1 ELSE 0 END WHERE id = ?`,
		id, PartReview, CheckPass, CheckApproved, CheckSkipped, id).Error
}

// imageByTrace returns the image whose check has trace id trace.
func (s *Store) imageByTrace(ctx context.Context, trace string) (imageRow, error) {
	var r imageRow
	err := s.db.Writer(ctx).Where("trace_id = ?", trace).Take(&r).Error
	return r, err
}

// setImageVerdict records the verdict of a pending image check carrying
// trace, and reports whether it was still pending: a verdict delivered
// twice changes nothing the second time.
func (s *Store) setImageVerdict(ctx context.Context, id int64, trace, verdict string, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE review_images SET verdict = ?, verdict_at = ?, check_due_at = NULL
		WHERE id = ? AND trace_id = ? AND verdict = ?`, verdict, now, id, trace, CheckPending)
	return res.RowsAffected == 1, res.Error
}

// approveHeldImages marks the images the platform held (review) as approved
// by staff.
func (s *Store) approveHeldImages(ctx context.Context, reviewID int64, now time.Time) error {
	return s.db.Writer(ctx).Exec(`UPDATE review_images SET verdict = ?, verdict_at = ? WHERE review_id = ? AND verdict = ?`,
		CheckApproved, now, reviewID, CheckReview).Error
}

// dueTexts returns reviews whose pending text check is due.
func (s *Store) dueTexts(ctx context.Context, now time.Time, limit int) ([]reviewRow, error) {
	var rows []reviewRow
	err := s.db.Reader(ctx).Where("check_due_at <= ? AND (text_check = ? OR followup_check = ?)", now, CheckPending, CheckPending).
		Order("check_due_at, id").Limit(limit).Find(&rows).Error
	return rows, err
}

// claimText pushes the due time of a review's text check from was to next,
// counting an attempt, and reports whether this caller won the claim.
func (s *Store) claimText(ctx context.Context, id int64, was, next time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE reviews SET check_due_at = ?, check_attempts = check_attempts + 1
		WHERE id = ? AND check_due_at = ?`, next, id, was)
	return res.RowsAffected == 1, res.Error
}

// clearTextDue ends the retries of a review whose texts are judged.
func (s *Store) clearTextDue(ctx context.Context, id int64) error {
	return s.db.Writer(ctx).Exec(`UPDATE reviews SET check_due_at = NULL WHERE id = ? AND text_check <> ? AND followup_check <> ?`,
		id, CheckPending, CheckPending).Error
}

// dueImage is an image to submit with the openid it is checked under.
type dueImage struct {
	ID         int64
	ReviewID   int64
	URL        string `gorm:"column:url"`
	CheckDueAt time.Time
	Attempts   int
	OpenID     string `gorm:"column:openid"`
}

// dueImages returns pending images whose submission is due.
func (s *Store) dueImages(ctx context.Context, now time.Time, reviewIDs []int64, limit int) ([]dueImage, error) {
	q := s.db.Reader(ctx).Table("review_images").
		Select("review_images.id, review_images.review_id, review_images.url, review_images.check_due_at, review_images.attempts, reviews.openid").
		Joins("JOIN reviews ON reviews.id = review_images.review_id").
		Where("review_images.verdict = ? AND review_images.check_due_at <= ?", CheckPending, now)
	if reviewIDs != nil {
		q = q.Where("review_images.review_id IN ?", reviewIDs)
	}
	var rows []dueImage
	err := q.Order("review_images.check_due_at, review_images.id").Limit(limit).Scan(&rows).Error
	return rows, err
}

// claimImage pushes the due time of an image's submission from was to next
// and reports whether this caller won the claim.
func (s *Store) claimImage(ctx context.Context, id int64, was, next time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec(`UPDATE review_images SET check_due_at = ?, attempts = attempts + 1
		WHERE id = ? AND verdict = ? AND check_due_at = ?`, next, id, CheckPending, was)
	return res.RowsAffected == 1, res.Error
}

// submitted records the trace id of a submitted image and when to submit it
// again if no verdict arrives.
func (s *Store) submitted(ctx context.Context, id int64, trace string, resubmitAt time.Time) error {
	return s.db.Writer(ctx).Exec(`UPDATE review_images SET trace_id = ?, check_due_at = ? WHERE id = ? AND verdict = ?`,
		trace, resubmitAt, id, CheckPending).Error
}

// Summary is a rating summary as counted from the reviews themselves.
type Summary struct {
	Count int64
	Total int64
	Stars [MaxRating + 1]int64 // Stars[k] counts k-star reviews; Stars[0] is unused
}

// Recount counts a product's published reviews from scratch: what the
// rating summary on the product row must always equal.
func (s *Store) Recount(ctx context.Context, productID int64) (Summary, error) {
	var rows []struct {
		Rating int
		N      int64
	}
	if err := s.db.Reader(ctx).Model(&reviewRow{}).Select("rating, COUNT(*) AS n").
		Where("product_id = ? AND state = ?", productID, StatePublished).Group("rating").Scan(&rows).Error; err != nil {
		return Summary{}, err
	}
	var out Summary
	for _, r := range rows {
		out.Count += r.N
		out.Total += r.N * int64(r.Rating)
		if r.Rating >= 1 && r.Rating <= MaxRating {
			out.Stars[r.Rating] += r.N
		}
	}
	return out, nil
}
