package review_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/customer"
	"github.com/minimall/minimall/internal/media"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/platform/wechat"
	"github.com/minimall/minimall/internal/platform/wechat/push"
	"github.com/minimall/minimall/internal/review"
	"github.com/minimall/minimall/internal/sandbox"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// sandboxKeys are generated once for the package's tests and passed in
// sandbox.Options.Keys: RSA key generation is most of what sandbox.New costs.
var sandboxKeys = sync.OnceValues(sandbox.NewKeys)

var start = time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)

const staffID = int64(1)

// fakeOrders plays the order module: completed orders built by the test.
type fakeOrders struct {
	mu     sync.Mutex
	orders map[int64]order.Order
}

func (f *fakeOrders) Get(_ context.Context, customerID, orderID int64) (order.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[orderID]
	if !ok || o.CustomerID != customerID {
		return order.Order{}, apperr.NotFound("order")
	}
	return o, nil
}

// fakeAuthors gives every customer a nickname and a WeChat openid derived
// from the sandbox's own scheme.
type fakeAuthors struct{ sb *sandbox.Server }

func (f fakeAuthors) Profile(_ context.Context, customerID int64) (customer.Profile, error) {
	return customer.Profile{ID: customerID, Nickname: "小明同学"}, nil
}

func (f fakeAuthors) WeChatOpenID(_ context.Context, customerID int64) (string, error) {
	return f.sb.WeChatOpenID(string(rune('a' + customerID%26))), nil
}

// fixture is the review service on a real database, wired to the real
// catalog store and media service, to WeChat's content checks in the
// sandbox over HTTP, and to the real message-push dispatcher that the
// sandbox pushes image verdicts to.
type fixture struct {
	t       *testing.T
	d       *db.DB
	clk     *clock.Fake
	sb      *sandbox.Server
	svc     *review.Service
	store   *review.Store
	media   *media.Service
	catalog *catalog.Service
	orders  *fakeOrders
	audit   *audit.Log
	product int64
	sku     int64
	seq     atomic.Int64
}

func newFixture(t *testing.T, d *db.DB, cfg review.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, d: d, clk: clock.NewFake(start), orders: &fakeOrders{orders: map[int64]order.Order{}}}
	keys, err := sandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	if f.sb, err = sandbox.New(sandbox.Options{Keys: keys, WeChatMediaCheckDelay: -1}); err != nil {
		t.Fatal(err)
	}
	sbSrv := httptest.NewServer(f.sb)
	t.Cleanup(sbSrv.Close)
	st := f.sb.Settings()
	wc, err := wechat.New(wechat.Config{AppID: st.WeChatAppID, Secret: st.WeChatSecret, APIBase: sbSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if f.audit, err = audit.New(d, f.clk); err != nil {
		t.Fatal(err)
	}
	cst, err := catalog.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	if f.catalog, err = catalog.NewService(d, cst, f.audit, f.clk, catalog.NopInvalidator{}); err != nil {
		t.Fatal(err)
	}
	cat, err := f.catalog.CreateCategory(ctx, staffID, catalog.CategoryInput{Name: ptr("Tea")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.catalog.CreateProduct(ctx, staffID, catalog.ProductInput{CategoryID: cat.ID, Title: "Longjing",
		SKUs: []catalog.SKUInput{{Code: "LJ-1", PriceFen: 100, Stock: 10}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	f.product, f.sku = p.ID, p.SKUs[0].ID
	dir, err := media.NewDir(filepath.Join(t.TempDir(), "media"))
	if err != nil {
		t.Fatal(err)
	}
	mst, err := media.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	if f.media, err = media.NewService(d, mst, dir, f.clk, media.Config{PublicBaseURL: "https://shop.example/media"}); err != nil {
		t.Fatal(err)
	}
	if f.store, err = review.NewStore(d); err != nil {
		t.Fatal(err)
	}
	cfg.WeChatAppID = st.WeChatAppID
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if f.svc, err = review.NewService(review.Deps{DB: d, Store: f.store, Orders: f.orders, Customers: fakeAuthors{f.sb},
		Media: f.media, Ratings: f.catalog, Catalog: catalog.NopInvalidator{}, Checker: wc, Audit: f.audit, Clock: f.clk, Log: log}, cfg); err != nil {
		t.Fatal(err)
	}
	disp, err := push.New(push.Config{Token: st.WeChatPushToken, AESKey: st.WeChatPushAESKey, AppID: st.WeChatAppID}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := disp.Handle(review.EventMediaCheck, f.svc.OnMediaCheck); err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.POST("/api/v1/notify/wechat", disp.Receive)
	pushSrv := httptest.NewServer(e)
	t.Cleanup(pushSrv.Close)
	f.sb.SetWeChatPushURL(pushSrv.URL+"/api/v1/notify/wechat", false)
	return f
}

func ptr[T any](v T) *T { return &v }

// completedOrder records a completed order of the customer with n lines of
// the fixture's product and returns it.
func (f *fixture) completedOrder(customerID int64, n int) order.Order {
	id := f.seq.Add(1)
	done := f.clk.Now()
	o := order.Order{ID: id, CustomerID: customerID, Status: order.StatusCompleted, CompletedAt: &done}
	for i := 0; i < n; i++ {
		o.Items = append(o.Items, order.Item{ID: id*100 + int64(i), SKUID: f.sku, ProductID: f.product, SpecText: "250g", Quantity: 1})
	}
	f.orders.mu.Lock()
	f.orders.orders[id] = o
	f.orders.mu.Unlock()
	return o
}

// upload stores a distinct small PNG as the customer and returns its URL.
func (f *fixture) upload(customerID int64) string {
	f.t.Helper()
	n := f.seq.Add(1)
	img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.NRGBA{uint8(n), uint8(n >> 8), 7, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		f.t.Fatal(err)
	}
	up, err := f.media.Upload(context.Background(), media.Uploader{Kind: media.UploaderCustomer, ID: customerID}, &b)
	if err != nil {
		f.t.Fatal(err)
	}
	return up.URL
}

// rating reads the product's summary as the catalog shows it.
func (f *fixture) rating() catalog.Rating {
	f.t.Helper()
	p, err := f.catalog.Product(context.Background(), f.product)
	if err != nil {
		f.t.Fatal(err)
	}
	return p.Rating
}

// checkSummary fails unless the product's summary equals a full recount.
func (f *fixture) checkSummary() review.Summary {
	f.t.Helper()
	got := f.rating()
	want, err := f.store.Recount(context.Background(), f.product)
	if err != nil {
		f.t.Fatal(err)
	}
	if got.Count != want.Count || got.Total != want.Total || got.Stars != [5]int64(want.Stars[1:]) {
		f.t.Errorf("summary = %+v, recount = %+v", got, want)
	}
	return want
}

func (f *fixture) deliver() int {
	f.t.Helper()
	n, err := f.sb.DeliverMediaChecks(context.Background())
	if err != nil {
		f.t.Fatalf("deliver media checks: %v", err)
	}
	return n
}

func (f *fixture) get(id int64) review.Review {
	f.t.Helper()
	r, err := f.svc.AdminGet(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func codeOf(err error) apperr.Code {
	if err == nil {
		return ""
	}
	return apperr.CodeOf(err)
}

func asApp(err error, target **apperr.Error) bool { return errors.As(err, target) }

// doSandbox posts body to a control route of the sandbox and returns the
// status.
func doSandbox(sb *sandbox.Server, path, body string) int {
	w := httptest.NewRecorder()
	sb.ServeHTTP(w, httptest.NewRequest("POST", path, strings.NewReader(body)))
	return w.Code
}
