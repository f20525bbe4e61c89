package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/sandbox"
	"github.com/minimall/minimall/internal/staff"
)

// reviewEnv is the application served over HTTP, wired to a sandbox that
// pushes content-check verdicts to its message-push endpoint.
type reviewEnv struct {
	*identityEnv
	product int64
	sku     int64
	orders  *order.Store
	seq     int
}

func newReviewEnv(t *testing.T, d *db.DB) *reviewEnv {
	t.Helper()
	keys, err := sandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Options{Keys: keys, WeChatMediaCheckDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	s := sb.Settings()
	env := map[string]string{
		"MINIMALL_WECHAT_APPID": s.WeChatAppID, "MINIMALL_WECHAT_SECRET": s.WeChatSecret, "MINIMALL_WECHAT_API_BASE": sbSrv.URL,
		"MINIMALL_WECHAT_PUSH_TOKEN": s.WeChatPushToken, "MINIMALL_WECHAT_PUSH_AES_KEY": s.WeChatPushAESKey,
		"MINIMALL_MEDIA_DIR": t.TempDir(), "MINIMALL_UPLOAD_DAILY_LIMIT": "2",
		"MINIMALL_PUBLIC_BASE_URL": "https://shop.example",
	}
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(cfg, d, log, clk)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	sb.SetWeChatPushURL(srv.URL+"/api/v1/notify/wechat", false)
	tokens, err := auth.NewTokens(cfg.JWT.Secret, clk)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := audit.New(d, clk)
	if err != nil {
		t.Fatal(err)
	}
	stStore, err := staff.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	passwords, err := auth.NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := staff.TOTPSealer(nil, cfg.JWT.Secret)
	if err != nil {
		t.Fatal(err)
	}
	st, err := staff.NewService(d, stStore, passwords, tokens, lg, clk, sealer)
	if err != nil {
		t.Fatal(err)
	}
	e := &reviewEnv{identityEnv: &identityEnv{t: t, d: d, h: a.Handler(), cfg: cfg, clock: clk, sb: sb, tokens: tokens, staff: st}}
	ctx := context.Background()
	cst, err := catalog.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.NewService(d, cst, lg, clk, catalog.NopInvalidator{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cat.CreateCategory(ctx, 1, catalog.CategoryInput{Name: ptrOf("Tea")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cat.CreateProduct(ctx, 1, catalog.ProductInput{CategoryID: c.ID, Title: "Longjing",
		SKUs: []catalog.SKUInput{{Code: "LJ-1", PriceFen: 100, Stock: 10}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	e.product, e.sku = p.ID, p.SKUs[0].ID
	if e.orders, err = order.NewStore(d); err != nil {
		t.Fatal(err)
	}
	return e
}

func ptrOf[T any](v T) *T { return &v }

// customer logs a customer in and returns its token and id.
func (e *reviewEnv) customer(name string) (string, int64) {
	e.t.Helper()
	r := e.login("wechat", "test-"+name)
	if r.Status != 200 {
		e.t.Fatalf("login %s: %d %s", name, r.Status, r.Raw)
	}
	user, _ := r.Body["user"].(map[string]any)
	id, _ := user["id"].(float64)
	return str(r.Body, "access_token"), int64(id)
}

// completedOrder stores a completed order of one line for the customer.
func (e *reviewEnv) completedOrder(customerID int64) order.Order {
	e.t.Helper()
	e.seq++
	now := e.clock.Now()
	n := &order.NewOrder{Order: order.Order{OrderNo: fmt.Sprintf("R%d%d", now.UnixNano(), e.seq), CustomerID: customerID,
		Status: order.StatusCompleted, GoodsFen: 100, TotalFen: 100, PaidFen: 100, PayDeadline: now, PaidAt: &now,
		ShippedAt: &now, CompletedAt: &now, CreatedAt: now, UpdatedAt: now,
		Items: []order.Item{{SKUID: e.sku, ProductID: e.product, Title: "Longjing", PriceFen: 100, Quantity: 1, SubtotalFen: 100}}}}
	if err := e.orders.Insert(context.Background(), n); err != nil {
		e.t.Fatal(err)
	}
	return n.Order
}

// upload posts a multipart image as wx.uploadFile does.
func (e *reviewEnv) upload(token, path, filename string, body []byte) reply {
	e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("name", "photo")
	fw, _ := mw.CreateFormFile("file", filename)
	_, _ = fw.Write(body)
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	r := reply{Status: w.Code, Raw: w.Body.String(), Header: w.Header()}
	_ = json.Unmarshal(w.Body.Bytes(), &r.Body)
	return r
}

func jpegWithGPS(t *testing.T, shade uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = shade
	}
	img.Set(0, 0, color.RGBA{1, 2, 3, 255})
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	seg := []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00GPS-HOME-31.23N")
	out := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...)
	return append(out, b.Bytes()[2:]...)
}

func TestReviewsHTTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newReviewEnv(t, d)
		ctx := context.Background()
		alice, aliceID := e.customer("alice")
		bob, bobID := e.customer("bob")

		// Uploads: stripped of EXIF, served under /media/, two a day.
		up := e.upload(alice, "/api/v1/uploads", "photo.jpg", jpegWithGPS(t, 10))
		if up.Status != 201 {
			t.Fatalf("upload: %d %s", up.Status, up.Raw)
		}
		imgURL := str(up.Body, "url")
		path := strings.TrimPrefix(imgURL, "https://shop.example")
		got := e.do(http.MethodGet, path, "", nil)
		if got.Status != 200 || got.Header.Get("Content-Type") != "image/jpeg" || strings.Contains(got.Raw, "GPS-HOME") || strings.Contains(got.Raw, "Exif") {
			t.Errorf("GET %s: %d %s, metadata kept %v", path, got.Status, got.Header.Get("Content-Type"), strings.Contains(got.Raw, "GPS-HOME"))
		}
		if r := e.upload(alice, "/api/v1/uploads", "x.png", []byte("<html>hi</html>")); r.Status != 400 || r.code() != "invalid_argument" {
			t.Errorf("html upload: %d %s", r.Status, r.Raw)
		}
		// A name that lies about the content is refused, and counts nothing
		// against the daily limit.
		var pngBody bytes.Buffer
		if err := png.Encode(&pngBody, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
			t.Fatal(err)
		}
		if r := e.upload(alice, "/api/v1/uploads", "photo.jpg", pngBody.Bytes()); r.Status != 400 || r.code() != "invalid_argument" {
			t.Errorf("png named .jpg: %d %s", r.Status, r.Raw)
		}
		if r := e.upload(alice, "/api/v1/uploads", "photo.png", jpegWithGPS(t, 11)); r.Status != 400 || r.code() != "invalid_argument" {
			t.Errorf("jpeg named .png: %d %s", r.Status, r.Raw)
		}
		if r := e.upload(alice, "/api/v1/uploads", "b.jpg", jpegWithGPS(t, 20)); r.Status != 201 {
			t.Fatalf("second upload: %d %s", r.Status, r.Raw)
		}
		r := e.upload(alice, "/api/v1/uploads", "c.jpg", jpegWithGPS(t, 30))
		if secs, _ := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != 429 || r.code() != "rate_limited" || secs < 1 {
			t.Errorf("third upload: %d %s Retry-After %q", r.Status, r.Raw, r.Header.Get("Retry-After"))
		}
		big := make([]byte, 6<<20)
		copy(big, jpegWithGPS(t, 40))
		if r := e.upload(bob, "/api/v1/uploads", "big.jpg", big); r.Status != 413 || r.code() != "payload_too_large" {
			t.Errorf("6 MiB upload: %d %s", r.Status, r.Raw)
		}

		// Another customer's order and review are not found.
		aliceOrder, bobOrder := e.completedOrder(aliceID), e.completedOrder(bobID)
		body := func(o order.Order, images ...string) map[string]any {
			return map[string]any{"items": []map[string]any{{"order_item_id": o.Items[0].ID, "rating": 5, "content": "很香", "images": images, "anonymous": true}}}
		}
		if r := e.do(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/reviews", aliceOrder.ID), bob, body(aliceOrder)); r.Status != 404 {
			t.Errorf("bob reviews alice's order: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/reviews", aliceOrder.ID), alice, body(bobOrder)); r.Status != 404 {
			t.Errorf("alice reviews bob's line through her order: %d %s", r.Status, r.Raw)
		}
		// Photos and avatars are the customer's own uploads, not a picture
		// taken from another buyer.
		if r := e.do(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/reviews", bobOrder.ID), bob, body(bobOrder, imgURL)); r.Status != 400 || r.code() != "invalid_argument" {
			t.Errorf("bob reviews with alice's photo: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodPatch, "/api/v1/me", bob, map[string]any{"avatar_url": imgURL}); r.Status != 400 || r.code() != "invalid_argument" {
			t.Errorf("bob takes alice's photo as avatar: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodPatch, "/api/v1/me", alice, map[string]any{"avatar_url": imgURL}); r.Status != 200 || str(r.Body, "avatar_url") != imgURL {
			t.Errorf("alice sets her own photo as avatar: %d %s", r.Status, r.Raw)
		}
		created := e.do(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/reviews", aliceOrder.ID), alice, body(aliceOrder, imgURL))
		if created.Status != 201 {
			t.Fatalf("review: %d %s", created.Status, created.Raw)
		}
		items, _ := created.Body["items"].([]any)
		first, _ := items[0].(map[string]any)
		id := int64(first["id"].(float64))
		if first["state"] != "pending" {
			t.Errorf("new review state = %v, want pending until the image verdict", first["state"])
		}
		if r := e.do(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/reviews", aliceOrder.ID), alice, body(aliceOrder)); r.Status != 409 {
			t.Errorf("second review: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodPost, fmt.Sprintf("/api/v1/reviews/%d/follow-up", id), bob, map[string]any{"content": "me too"}); r.Status != 404 {
			t.Errorf("bob follows up alice's review: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodGet, "/api/v1/reviews/mine", bob, nil); r.Status != 200 || r.Body["total"] != float64(0) {
			t.Errorf("bob's reviews: %d %s", r.Status, r.Raw)
		}

		// The verdict arrives signed and encrypted on the message push.
		if n, err := e.sb.DeliverMediaChecks(ctx); err != nil || n != 1 {
			t.Fatalf("deliver: %d %v", n, err)
		}
		list := e.do(http.MethodGet, fmt.Sprintf("/api/v1/products/%d/reviews?filter=with_images", e.product), "", nil)
		listed, _ := list.Body["items"].([]any)
		if list.Status != 200 || len(listed) != 1 {
			t.Fatalf("public reviews: %d %s", list.Status, list.Raw)
		}
		pub, _ := listed[0].(map[string]any)
		if pub["nickname"] == "" || pub["anonymous"] != true || fmt.Sprint(pub["images"]) != "["+imgURL+"]" {
			t.Errorf("public review = %v", pub)
		}
		product := e.do(http.MethodGet, fmt.Sprintf("/api/v1/products/%d", e.product), "", nil)
		rating, _ := product.Body["rating"].(map[string]any)
		stars, _ := rating["stars"].(map[string]any)
		if rating["count"] != float64(1) || rating["average"] != float64(5) || stars["5"] != float64(1) {
			t.Errorf("product rating = %v", rating)
		}

		// Staff hide it: it leaves the list and the summary; the customer
		// still sees it, hidden.
		st, err := e.staff.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "cs-1", Password: "cs-password-1", Role: auth.RoleCustomerService})
		if err != nil {
			t.Fatal(err)
		}
		staffTok, _, err := e.tokens.IssueStaff(st.ID, st.Role, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r := e.do(http.MethodPost, fmt.Sprintf("/api/v1/admin/reviews/%d/reply", id), staffTok, map[string]any{"content": "谢谢"}); r.Status != 200 {
			t.Errorf("reply: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodPost, fmt.Sprintf("/api/v1/admin/reviews/%d/hide", id), staffTok, nil); r.Status != 200 || r.Body["state"] != "hidden" {
			t.Errorf("hide: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodGet, fmt.Sprintf("/api/v1/products/%d/reviews", e.product), "", nil); r.Body["total"] != float64(0) {
			t.Errorf("hidden review listed: %s", r.Raw)
		}
		mine := e.do(http.MethodGet, "/api/v1/reviews/mine", alice, nil)
		mineItems, _ := mine.Body["items"].([]any)
		if len(mineItems) != 1 || mineItems[0].(map[string]any)["state"] != "hidden" {
			t.Errorf("alice's reviews: %s", mine.Raw)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/reviews?state=hidden&has_images=true", staffTok, nil); r.Body["total"] != float64(1) {
			t.Errorf("admin list: %s", r.Raw)
		}
	})
}
