// Command notifybench measures WeChat Pay payment notifications handled by the
// real router on MySQL: signature check, AES-256-GCM decryption and the
// settle transaction, for distinct payments. It creates a fresh database,
// prepares N orders paid in an in-process sandbox (checkout and prepay go
// through the real API; the sandbox holds the notifications back), builds
// their signed notifications, then fires them concurrently at the shop over
// loopback and reports notifications per second and latency percentiles.
//
//	go run ./scripts/notifybench -dsn 'root@tcp(127.0.0.1:3306)/' -n 5000 -c 32
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-sql-driver/mysql"

	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/sandbox"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "notifybench:", err)
		os.Exit(1)
	}
}

type options struct {
	dsn        string
	n          int
	conc       int
	products   int
	customers  int
	keep       bool
	cpuProfile string
	pool       int
	ceiling    bool
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("notifybench", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.dsn, "dsn", envOr("MINIMALL_TEST_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/"), "MySQL DSN without a database name")
	fs.IntVar(&o.n, "n", 5000, "distinct payments to notify")
	fs.IntVar(&o.conc, "c", 32, "concurrent notifications in flight")
	fs.IntVar(&o.products, "products", 100, "products the orders are spread over")
	fs.IntVar(&o.customers, "customers", 50, "customers placing the orders")
	fs.BoolVar(&o.keep, "keep", false, "keep the database afterwards")
	fs.IntVar(&o.pool, "pool", 0, "MySQL connections (0: the default pool, db.DefaultMaxOpenConns)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the firing phase to this file")
	fs.BoolVar(&o.ceiling, "ceiling", true, "first measure the database's ceiling for the notification's writes from a plain Go client")
	if err := fs.Parse(args); err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	dsn, drop, err := createDatabase(ctx, o.dsn)
	if err != nil {
		return err
	}
	if !o.keep {
		defer drop()
	}
	d, err := db.Open(ctx, db.MySQL, dsn, db.Options{MaxOpenConns: o.pool})
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		return err
	}
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		return err
	}
	defer sb.StopDeliveries()
	sbSrv := httptest.NewServer(sb)
	defer sbSrv.Close()
	_, api, err := newShop(d, sb, sbSrv.URL)
	if err != nil {
		return err
	}
	defer api.Close()

	start := time.Now()
	notes, err := prepare(ctx, o, d, sb, api.URL)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "prepared %d paid trades and their notifications in %s\n", len(notes), time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(out, "load average before: %s\n", loadAvg())
	pool := o.pool
	if pool <= 0 {
		pool = db.DefaultMaxOpenConns()
	}
	var ceil float64
	if o.ceiling {
		n := 0
		if ceil, n, err = ceiling(ctx, dsn, pool, o.conc, 10*time.Second); err != nil {
			return fmt.Errorf("ceiling: %w", err)
		}
		fmt.Fprintf(out, "ceiling (plain Go client, %d in flight over %d connections: attempt update, notification insert, order update, event insert, commit): %.0f txn/s over %d\n",
			o.conc, pool, ceil, n)
	}

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	lat, wall, failures := fire(notes, o.conc)
	pprof.StopCPUProfile()
	var paid int64
	if err := d.Reader(ctx).Raw("SELECT COUNT(*) FROM orders WHERE status = 'paid' AND order_no NOT LIKE 'X%'").Scan(&paid).Error; err != nil {
		return err
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	fmt.Fprintf(out, "notifications: %d, concurrency %d, failures %d, orders paid %d\n", len(notes), o.conc, failures, paid)
	rate := float64(len(notes)) / wall.Seconds()
	fmt.Fprintf(out, "throughput: %.0f notifications/s (%s wall)\n", rate, wall.Round(time.Millisecond))
	if ceil > 0 {
		fmt.Fprintf(out, "ratio to the database ceiling: %.2f (%.0f / %.0f)\n", rate/ceil, rate, ceil)
	}
	fmt.Fprintf(out, "load average after: %s\n", loadAvg())
	fmt.Fprintf(out, "latency: p50 %s, p90 %s, p99 %s, max %s\n",
		pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
	if failures > 0 || paid != int64(len(notes)) {
		return fmt.Errorf("%d notifications failed and %d of %d orders are paid", failures, paid, len(notes))
	}
	return nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// createDatabase makes a fresh database on the server of base.
func createDatabase(ctx context.Context, base string) (string, func(), error) {
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		return "", nil, err
	}
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "", nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "minimall_notifybench_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		admin.Close()
		return "", nil, err
	}
	cfg.DBName = name
	return cfg.FormatDSN(), func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name)
		admin.Close()
	}, nil
}

// newShop builds the whole shop on d with its platforms pointed at the
// sandbox, served over loopback.
func newShop(d *db.DB, sb *sandbox.Server, sandboxURL string) (*app.App, *httptest.Server, error) {
	st := sb.Settings()
	dir, err := os.MkdirTemp("", "notifybench")
	if err != nil {
		return nil, nil, err
	}
	priv, pub := filepath.Join(dir, "apiclient_key.pem"), filepath.Join(dir, "wechatpay_public_key.pem")
	if err := os.WriteFile(priv, []byte(st.WeChatPayPrivateKey), 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(pub, []byte(st.WeChatPayPublicKey), 0o600); err != nil {
		return nil, nil, err
	}
	var handler atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	vars := map[string]string{
		"MINIMALL_PUBLIC_BASE_URL": api.URL,
		// The per-customer limits would refuse most of the run's orders.
		"MINIMALL_ORDER_MAX_UNPAID":           "1000",
		"MINIMALL_ORDER_CHECKOUT_PER_MINUTE":  "1000000",
		"MINIMALL_ORDER_PAY_PER_MINUTE":       "1000000",
		"MINIMALL_WECHAT_APPID":               st.WeChatAppID,
		"MINIMALL_WECHAT_SECRET":              st.WeChatSecret,
		"MINIMALL_WECHAT_API_BASE":            sandboxURL,
		"MINIMALL_WECHATPAY_MCHID":            st.WeChatPayMchID,
		"MINIMALL_WECHATPAY_SERIAL":           st.WeChatPaySerial,
		"MINIMALL_WECHATPAY_PRIVATE_KEY_FILE": priv,
		"MINIMALL_WECHATPAY_APIV3_KEY":        st.WeChatPayAPIv3Key,
		"MINIMALL_WECHATPAY_PUBLIC_KEY_ID":    st.WeChatPayPublicKeyID,
		"MINIMALL_WECHATPAY_PUBLIC_KEY_FILE":  pub,
		"MINIMALL_WECHATPAY_API_BASE":         sandboxURL,
	}
	cfg, err := config.Load("", func(k string) string { return vars[k] })
	if err != nil {
		api.Close()
		return nil, nil, err
	}
	a, err := app.New(cfg, d, slog.New(slog.NewTextHandler(io.Discard, nil)), clock.System{})
	if err != nil {
		api.Close()
		return nil, nil, err
	}
	handler.Store(a.Handler())
	return a, api, nil
}

// notification is one prepared delivery.
type notification struct {
	url    string
	body   []byte
	header http.Header
}

// prepare places and pays n orders and builds their notifications.
func prepare(ctx context.Context, o options, d *db.DB, sb *sandbox.Server, base string) ([]notification, error) {
	clk := clock.System{}
	lg, err := audit.New(d, clk)
	if err != nil {
		return nil, err
	}
	cst, err := catalog.NewStore(d)
	if err != nil {
		return nil, err
	}
	cat, err := catalog.NewService(d, cst, lg, clk, catalog.NopInvalidator{})
	if err != nil {
		return nil, err
	}
	name := "压测"
	c, err := cat.CreateCategory(ctx, 1, catalog.CategoryInput{Name: &name})
	if err != nil {
		return nil, err
	}
	skus := make([]int64, o.products)
	for i := range skus {
		p, err := cat.CreateProduct(ctx, 1, catalog.ProductInput{
			CategoryID: c.ID, Title: fmt.Sprintf("压测商品 %d", i), Images: []string{fmt.Sprintf("https://img.example.com/b%d.jpg", i)},
			SKUs: []catalog.SKUInput{{Code: fmt.Sprintf("BENCH-%d", i), Specs: map[string]string{"规格": "标准"}, PriceFen: int64(100 + i), Stock: 1_000_000}},
		}, true)
		if err != nil {
			return nil, err
		}
		skus[i] = p.SKUs[0].ID
	}
	as, err := address.NewStore(d)
	if err != nil {
		return nil, err
	}
	addrs, err := address.NewService(d, as, clk)
	if err != nil {
		return nil, err
	}
	type buyer struct {
		token   string
		address int64
	}
	buyers := make([]buyer, o.customers)
	for i := range buyers {
		var login struct {
			AccessToken string `json:"access_token"`
			User        struct {
				ID int64 `json:"id"`
			} `json:"user"`
		}
		if err := call(base, "", http.MethodPost, "/api/v1/auth/wechat/login", map[string]string{"code": fmt.Sprintf("test-bench%d", i)}, http.StatusOK, &login); err != nil {
			return nil, err
		}
		a, err := addrs.Create(ctx, login.User.ID, address.Input{
			Name: "张三", Phone: "13800138000", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "文三路 1 号",
		})
		if err != nil {
			return nil, err
		}
		buyers[i] = buyer{token: login.AccessToken, address: a.ID}
	}
	out := make([]notification, o.n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= o.n {
					return
				}
				b := buyers[i%len(buyers)]
				var ord struct {
					ID int64 `json:"id"`
				}
				if err := call(base, b.token, http.MethodPost, "/api/v1/orders", map[string]any{
					"address_id": b.address, "items": []map[string]int64{{"sku_id": skus[i%len(skus)], "quantity": 1}},
				}, http.StatusCreated, &ord); err != nil {
					errs <- err
					return
				}
				var pay struct {
					OutTradeNo     string `json:"out_trade_no"`
					RequestPayment struct {
						Package string `json:"package"`
					} `json:"request_payment"`
				}
				if err := call(base, b.token, http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/pay", ord.ID), map[string]string{"channel": "wechat"}, http.StatusOK, &pay); err != nil {
					errs <- err
					return
				}
				if _, err := sb.PayWeChat(strings.TrimPrefix(pay.RequestPayment.Package, "prepay_id="), sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
					errs <- err
					return
				}
				url, body, header, err := sb.WeChatPayNotification(pay.OutTradeNo)
				if err != nil {
					errs <- err
					return
				}
				out[i] = notification{url: url, body: body, header: header}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, nil
}

// fire posts every notification with conc workers and returns each
// latency, the wall time and how many were not answered 204.
func fire(notes []notification, conc int) ([]time.Duration, time.Duration, int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc}, Timeout: 30 * time.Second}
	lat := make([]time.Duration, len(notes))
	var next atomic.Int64
	var failures atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(notes) {
					return
				}
				n := notes[i]
				req, err := http.NewRequest(http.MethodPost, n.url, bytes.NewReader(n.body))
				if err != nil {
					failures.Add(1)
					continue
				}
				req.Header = n.header.Clone()
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat[i] = time.Since(t0)
				if err != nil || resp.StatusCode != http.StatusNoContent {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return lat, time.Since(start), int(failures.Load())
}

func call(base, token, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}
