package review_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/review"
	"github.com/minimall/minimall/internal/sandbox"
)

const (
	alice = int64(1)
	bob   = int64(2)
)

func TestWeChatReviewWithImagesPublishedWhenChecksPass(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, review.Config{})
		ctx := context.Background()
		o := f.completedOrder(alice, 1)
		img := f.upload(alice)
		rs, err := f.svc.Create(ctx, alice, review.ChannelWeChat, o.ID, []review.Input{
			{OrderItemID: o.Items[0].ID, Rating: 5, Content: "香气很好", Images: []string{img}}})
		if err != nil {
			t.Fatal(err)
		}
		r := rs[0]
		if r.State != review.StatePending || r.TextCheck != review.CheckPass || r.Images[0].TraceID == "" {
			t.Fatalf("new review: state %s, text %s, image %+v; want pending, pass, submitted", r.State, r.TextCheck, r.Images[0])
		}
		if got := f.rating(); got.Count != 0 {
			t.Errorf("pending review counted: %+v", got)
		}
		list, _, err := f.svc.Published(ctx, f.product, review.FilterAll, 0, 20)
		if err != nil || len(list) != 0 {
			t.Fatalf("public list before the verdict: %d reviews, %v", len(list), err)
		}
		if n := f.deliver(); n != 1 {
			t.Fatalf("delivered %d verdicts, want 1", n)
		}
		r = f.get(r.ID)
		if r.State != review.StatePublished || r.Images[0].Verdict != review.CheckPass || !r.HasImages {
			t.Fatalf("after pass: state %s, image %+v, has images %v", r.State, r.Images[0], r.HasImages)
		}
		if got := f.checkSummary(); got.Count != 1 || got.Stars[5] != 1 {
			t.Errorf("summary = %+v", got)
		}
		list, total, err := f.svc.Published(ctx, f.product, review.FilterWithImages, 0, 20)
		if err != nil || total != 1 || len(list) != 1 || list[0].ID != r.ID {
			t.Errorf("with_images list = %d items (total %d), %v", len(list), total, err)
		}
	})
}

func TestRiskyTextRefusedAndStoredNowhere(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, review.Config{})
		ctx := context.Background()
		o := f.completedOrder(alice, 2)
		_, err := f.svc.Create(ctx, alice, review.ChannelWeChat, o.ID, []review.Input{
			{OrderItemID: o.Items[0].ID, Rating: 5, Content: "fine"},
			{OrderItemID: o.Items[1].ID, Rating: 1, Content: "buy at " + sandbox.KeywordRisky}})
		var ae *apperr.Error
		if !asApp(err, &ae) || ae.Code != apperr.CodeContentRejected {
			t.Fatalf("risky text: %v, want content_rejected", err)
		}
		if fields, _ := ae.Details["fields"].([]string); len(fields) != 1 || fields[0] != "items[1].content" {
			t.Errorf("details.fields = %v", ae.Details["fields"])
		}
		var n int64
		if err := d.Reader(ctx).Table("reviews").Count(&n).Error; err != nil || n != 0 {
			t.Errorf("reviews stored: %d (%v)", n, err)
		}
		var found int64
		d.Reader(ctx).Table("reviews").Where("content LIKE ?", "%"+sandbox.KeywordRisky+"%").Count(&found)
		if found != 0 {
			t.Errorf("risky text stored in %d rows", found)
		}
		// The line can still be reviewed with acceptable words.
		if _, err := f.svc.Create(ctx, alice, review.ChannelWeChat, o.ID, []review.Input{
			{OrderItemID: o.Items[1].ID, Rating: 2, Content: "too bitter"}}); err != nil {
			t.Errorf("second attempt: %v", err)
		}
	})
}

func TestReviewVerdictHeldUntilStaffPublish(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, review.Config{})
		ctx := context.Background()
		o := f.completedOrder(alice, 1)
		rs, err := f.svc.Create(ctx, alice, review.ChannelWeChat, o.ID, []review.Input{
			{OrderItemID: o.Items[0].ID, Rating: 4, Content: "maybe " + sandbox.KeywordReview}})
		if err != nil {
			t.Fatal(err)
		}
		id := rs[0].ID
		if r := f.get(id); r.State != review.StatePending || r.HoldReason != review.HoldTextReview {
			t.Fatalf("state %s hold %q, want pending text_review", r.State, r.HoldReason)
		}
		// Jobs do not publish it.
		f.clk.Advance(time.Hour)
		if _, err := f.svc.RecheckTexts(ctx, 50); err != nil {
			t.Fatal(err)
		}
		if r := f.get(id); r.State != review.StatePending {
			t.Fatalf("a job moved a held review to %s", r.State)
		}
		r, err := f.svc.Publish(ctx, staffID, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != review.StatePublished || r.HoldReason != "" {
			t.Errorf("after publish: %s %q", r.State, r.HoldReason)
		}
		if got := f.checkSummary(); got.Count != 1 || got.Total != 4 {
			t.Errorf("summary = %+v", got)
		}
		// Publishing again changes nothing; hiding takes it out of the summary.
		if _, err := f.svc.Publish(ctx, staffID, id); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Hide(ctx, staffID, id); err != nil {
			t.Fatal(err)
		}
		if got := f.checkSummary(); got.Count != 0 {
			t.Errorf("summary after hide = %+v", got)
		}
		entries, err := f.audit.ListByTarget(ctx, "review", fmt.Sprint(id))
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		if strings.Join(actions, ",") != "review.publish,review.hide" {
			t.Errorf("audit = %v, want publish then hide", actions)
		}
	})
}

func TestImageVerdicts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, review.Config{})
		ctx := context.Background()
		o := f.completedOrder(alice, 2)
		good, bad := f.upload(alice), f.upload(alice)
		if _, _, err := f.sb.PushMediaCheck(ctx, "unknown-trace", "pass"); err != nil {
			t.Fatal(err)
		}
		setVerdict(t, f, bad, "risky")
		rs, err := f.svc.Create(ctx, alice, review.ChannelWeChat, o.ID, []review.Input{
			{OrderItemID: o.Items[0].ID, Rating: 5, Content: "good", Images: []string{good}},
			{OrderItemID: o.Items[1].ID, Rating: 3, Content: "ok", Images: []string{good, bad}}})
		if err != nil {
			t.Fatal(err)
		}
		if n := f.deliver(); n != 3 {
			t.Fatalf("delivered %d verdicts, want 3", n)
		}
		first, second := f.get(rs[0].ID), f.get(rs[1].ID)
		if first.State != review.StatePublished {
			t.Errorf("clean review: %s", first.State)
		}
		if second.State != review.StatePending || second.HoldReason != review.HoldImageRisky ||
			second.Images[1].Verdict != review.CheckRisky {
			t.Errorf("risky image: state %s hold %q images %+v", second.State, second.HoldReason, second.Images)
		}
		// The same verdict delivered again, or a different one for the same
		// trace, changes nothing more.
		before := f.checkSummary()
		for _, suggest := range []string{"pass", "risky", "review"} {
			status, body, err := f.sb.PushMediaCheck(ctx, first.Images[0].TraceID, suggest)
			if err != nil || status != 200 || body != "success" {
				t.Fatalf("push again: %d %q %v", status, body, err)
			}
		}
		if r := f.get(first.ID); r.State != review.StatePublished || r.Images[0].Verdict != review.CheckPass {
			t.Errorf("after repeated verdicts: %s %+v", r.State, r.Images)
		}
		if after := f.checkSummary(); after != before {
			t.Errorf("summary moved: %+v → %+v", before, after)
		}
		// Staff publish the held review: the withdrawn image stays hidden.
		r, err := f.svc.Publish(ctx, staffID, second.ID)
		if err != nil {
			t.Fatal(err)
		}
		list, _, err := f.svc.Published(ctx, f.product, review.FilterAll, 0, 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range list {
			for _, img := range x.Images {
				if img.URL == bad && img.Visible() {
					t.Errorf("withdrawn image visible on review %d", x.ID)
				}
			}
		}
		if r.State != review.StatePublished || f.checkSummary().Count != 2 {
			t.Errorf("after publish: %s", r.State)
		}
	})
}

func setVerdict(t *testing.T, f *fixture, url, suggest string) {
	t.Helper()
	sb := f.sb
	req := fmt.Sprintf(`{"media_url":%q,"suggest":%q}`, url, suggest)
	w := doSandbox(sb, "/_sandbox/wechat/media-check", req)
	if w != 200 {
		t.Fatalf("set verdict: %d", w)
	}
}

func TestOutageKeepsReviewPendingAndJobRetries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, review.Config{CheckRetry: time.Minute})
		ctx := context.Background()
		o := f.completedOrder(alice, 1)
		f.sb.SetSecurityOutage(1)
		rs, err := f.svc.Create(ctx, alice, review.ChannelWeChat, o.ID, []review.Input{
			{OrderItemID: o.Items[0].ID, Rating: 3, Content: "arrived late"}})
		if err != nil {
			t.Fatal(err)
		}
		id := rs[0].ID
		if r := f.get(id); r.State != review.StatePending || r.TextCheck != review.CheckPending {
			t.Fatalf("during outage: %s / %s", r.State, r.TextCheck)
		}
		// Still down at the first retry: the review stays pending.
		f.sb.SetSecurityOutage(1)
		if _, err := f.svc.RecheckTexts(ctx, 50); err != nil {
			t.Fatal(err)
		}
		if r := f.get(id); r.TextCheck != review.CheckPending {
			t.Fatalf("after failed retry: %s", r.TextCheck)
		}
		// Not due again before the back-off.
		if n, _ := f.svc.RecheckTexts(ctx, 50); n != 0 {
			t.Errorf("re-checked %d before its back-off", n)
		}
		f.clk.Advance(time.Minute)
		if n, err := f.svc.RecheckTexts(ctx, 50); err != nil || n != 1 {
			t.Fatalf("retry: %d, %v", n, err)
		}
		if r := f.get(id); r.State != review.StatePublished || r.TextCheck != review.CheckPass {
			t.Errorf("after recovery: %s / %s", r.State, r.TextCheck)
		}
		f.checkSummary()
	})
}

func TestAlipayHeldUnlessAutoPublish(t *testing.T) {
	for _, auto := range []bool{false, true} {
		t.Run(fmt.Sprintf("auto=%v", auto), func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				f := newFixture(t, d, review.Config{AutoPublishAlipay: auto})
				o := f.completedOrder(bob, 1)
				before := f.sb.MsgSecChecks()
				rs, err := f.svc.Create(context.Background(), bob, review.ChannelAlipay, o.ID, []review.Input{
					{OrderItemID: o.Items[0].ID, Rating: 2, Content: "meh", Images: []string{f.upload(bob)}}})
				if err != nil {
					t.Fatal(err)
				}
				want := review.StatePending
				if auto {
					want = review.StatePublished
				}
				if rs[0].State != want || f.sb.MsgSecChecks() != before {
					t.Errorf("state %s (want %s), WeChat asked %d times", rs[0].State, want, f.sb.MsgSecChecks()-before)
				}
				f.checkSummary()
			})
		})
	}
}

func TestCreateRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, review.Config{Window: 48 * time.Hour})
		ctx := context.Background()
		mine := f.completedOrder(alice, 2)
		theirs := f.completedOrder(bob, 1)
		cancelled := f.completedOrder(alice, 1)
		cancelled.Status, cancelled.CompletedAt = order.StatusCancelled, nil
		closed := f.completedOrder(alice, 1)
		closed.Status = order.StatusClosed
		shipped := f.completedOrder(alice, 1)
		shipped.Status, shipped.CompletedAt = order.StatusShipped, nil
		refunded := f.completedOrder(alice, 2)
		refunded.Items[0].RefundedQuantity = refunded.Items[0].Quantity
		for _, o := range []order.Order{cancelled, closed, shipped, refunded} {
			f.orders.orders[o.ID] = o
		}
		line := func(o order.Order, i int) []review.Input {
			return []review.Input{{OrderItemID: o.Items[i].ID, Rating: 4, Content: "ok"}}
		}
		if _, err := f.svc.Create(ctx, alice, review.ChannelAlipay, mine.ID, line(mine, 0)); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name  string
			order int64
			in    []review.Input
			want  apperr.Code
		}{
			{"another customer's order", theirs.ID, line(theirs, 0), apperr.CodeNotFound},
			{"a line of another order", mine.ID, line(theirs, 0), apperr.CodeNotFound},
			{"twice", mine.ID, line(mine, 0), apperr.CodeConflict},
			{"cancelled", cancelled.ID, line(cancelled, 0), apperr.CodeInvalidState},
			{"closed (refunded)", closed.ID, line(closed, 0), apperr.CodeInvalidState},
			{"not completed", shipped.ID, line(shipped, 0), apperr.CodeInvalidState},
			{"a line refunded in full in a completed order", refunded.ID, line(refunded, 0), apperr.CodeInvalidState},
			{"rating 6", mine.ID, []review.Input{{OrderItemID: mine.Items[1].ID, Rating: 6}}, apperr.CodeInvalid},
			{"501 characters", mine.ID, []review.Input{{OrderItemID: mine.Items[1].ID, Rating: 5, Content: strings.Repeat("好", 501)}}, apperr.CodeInvalid},
			{"foreign image", mine.ID, []review.Input{{OrderItemID: mine.Items[1].ID, Rating: 5, Images: []string{"https://evil.example/a.jpg"}}}, apperr.CodeInvalid},
			{"ten images", mine.ID, []review.Input{{OrderItemID: mine.Items[1].ID, Rating: 5, Images: make([]string, 10)}}, apperr.CodeInvalid},
			{"same line twice in one request", mine.ID, append(line(mine, 1), line(mine, 1)...), apperr.CodeInvalid},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.Create(ctx, alice, review.ChannelAlipay, tc.order, tc.in)
				if got := codeOf(err); got != tc.want {
					t.Errorf("code = %q (%v), want %s", got, err, tc.want)
				}
			})
		}
		f.clk.Advance(49 * time.Hour)
		_, err := f.svc.Create(ctx, alice, review.ChannelAlipay, mine.ID, line(mine, 1))
		if got := codeOf(err); got != apperr.CodeWindowClosed {
			t.Errorf("after the window: %q, want window_closed", got)
		}
	})
}

func TestFollowUpOnceAndOwnReviewsOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, review.Config{})
		ctx := context.Background()
		o := f.completedOrder(alice, 1)
		rs, err := f.svc.Create(ctx, alice, review.ChannelWeChat, o.ID, []review.Input{
			{OrderItemID: o.Items[0].ID, Rating: 5, Content: "first", Anonymous: true}})
		if err != nil {
			t.Fatal(err)
		}
		id := rs[0].ID
		if rs[0].AuthorName != "小***学" {
			t.Errorf("anonymous name = %q, want 小***学", rs[0].AuthorName)
		}
		if _, err := f.svc.FollowUp(ctx, bob, id, review.FollowUpInput{Content: "not mine"}); codeOf(err) != apperr.CodeNotFound {
			t.Errorf("another customer's follow-up: %v, want not_found", err)
		}
		if _, err := f.svc.FollowUp(ctx, alice, id, review.FollowUpInput{Content: sandbox.KeywordRisky}); codeOf(err) != apperr.CodeContentRejected {
			t.Errorf("risky follow-up: %v", err)
		}
		img := f.upload(alice)
		r, err := f.svc.FollowUp(ctx, alice, id, review.FollowUpInput{Content: "still good a week later", Images: []string{img}})
		if err != nil {
			t.Fatal(err)
		}
		if r.FollowUp == nil || r.FollowUp.State != review.StatePending {
			t.Fatalf("follow-up = %+v, want pending until its image passes", r.FollowUp)
		}
		if _, err := f.svc.FollowUp(ctx, alice, id, review.FollowUpInput{Content: "again"}); codeOf(err) != apperr.CodeConflict {
			t.Errorf("second follow-up: %v, want conflict", err)
		}
		f.deliver()
		if r := f.get(id); r.FollowUp.State != review.StatePublished || !r.FollowUp.Images[0].Visible() {
			t.Errorf("after its image passed: %+v", r.FollowUp)
		}
		// Reply, and the public view.
		if _, err := f.svc.Reply(ctx, staffID, id, "谢谢支持"); err != nil {
			t.Fatal(err)
		}
		list, _, err := f.svc.Published(ctx, f.product, review.FilterGood, 0, 20)
		if err != nil || len(list) != 1 || list[0].Reply == nil || list[0].FollowUp == nil {
			t.Fatalf("public list = %+v, %v", list, err)
		}
		if bad, _, _ := f.svc.Published(ctx, f.product, review.FilterBad, 0, 20); len(bad) != 0 {
			t.Errorf("bad filter lists %d five-star reviews", len(bad))
		}
	})
}

// TestRatingSummaryUnderConcurrency runs 200 concurrent operations (new
// reviews, hides and restores of existing ones) and proves the summary on
// the product row equals a full recount.
func TestRatingSummaryUnderConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, review.Config{AutoPublishAlipay: true})
		ctx := context.Background()
		const existing, fresh, toggles = 60, 100, 100
		var ids []int64
		for i := 0; i < existing; i++ {
			o := f.completedOrder(int64(100+i), 1)
			rs, err := f.svc.Create(ctx, o.CustomerID, review.ChannelAlipay, o.ID, []review.Input{{OrderItemID: o.Items[0].ID, Rating: 1 + i%5}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, rs[0].ID)
		}
		orders := make([]order.Order, fresh)
		for i := range orders {
			orders[i] = f.completedOrder(int64(1000+i), 1)
		}
		var wg sync.WaitGroup
		errs := make(chan error, fresh+toggles)
		for i := 0; i < fresh; i++ {
			wg.Add(1)
			go func(o order.Order, stars int) {
				defer wg.Done()
				_, err := f.svc.Create(ctx, o.CustomerID, review.ChannelAlipay, o.ID, []review.Input{{OrderItemID: o.Items[0].ID, Rating: stars}})
				errs <- err
			}(orders[i], 1+i%5)
		}
		for i := 0; i < toggles; i++ {
			wg.Add(1)
			go func(id int64, hide bool) {
				defer wg.Done()
				var err error
				if hide {
					_, err = f.svc.Hide(ctx, staffID, id)
				} else {
					_, err = f.svc.Publish(ctx, staffID, id)
				}
				errs <- err
			}(ids[rand.IntN(len(ids))], i%2 == 0)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("operation failed: %v", err)
			}
		}
		got := f.checkSummary()
		if got.Count < fresh {
			t.Errorf("recount = %+v: fewer published reviews than the %d new ones", got, fresh)
		}
	})
}
