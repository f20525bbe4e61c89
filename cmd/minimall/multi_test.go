//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/platform/redistest"
	"github.com/minimall/minimall/internal/sandbox"
)

// Sizes of the multi-instance test.
const (
	instances      = 3
	expiringOrders = 300
	customersN     = 10
	lostNotifies   = 20
	skuStock       = 1000
)

// TestThreeInstancesShareOneShop starts three `minimall serve` processes on
// one fresh MySQL database and one Redis, behind a round-robin balancer that
// the platforms (the sandbox) call back through, and proves with load spread
// over all three that nothing is done once per instance:
//   - 300 orders expire: each is cancelled once, its stock returned once;
//   - a late payment delivered to all three at once is refunded once;
//   - payments whose notifications were lost are each paid once by the
//     reconciliation the three instances run;
//   - the notification of one payment delivered to all three at once pays it
//     once;
//   - nine tracking reads spread over the three ask the courier once (the
//     30-minute query guard);
//   - a staff catalog write shows on every instance within the stock lag (2 s;
//     without shared invalidation an instance would show the old page for the
//     5-minute safety TTL);
//   - the login limit (120 a minute per client IP, bursts of 60) is one
//     bucket: attempts from one IP spread over the three instances are
//     refused after the burst whichever instance they hit, where per-instance
//     buckets would let all 121 through.
//
// Expiry is made fast with the configuration, not with test-only code: the
// payment deadline is set to its minimum (MINIMALL_ORDER_PAY_TIMEOUT=1m)
// and reconciliation to MINIMALL_PAYMENT_RECONCILE_AFTER=1s; the other checks
// run while the orders wait for their deadline.
func TestThreeInstancesShareOneShop(t *testing.T) {
	d := dbtest.MySQL(t) // skips without MINIMALL_TEST_MYSQL_DSN; fails under CI
	redisAddr := redistest.Shared(t)
	start := time.Now()
	ctx := context.Background()

	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	t.Cleanup(sb.StopDeliveries)
	dir := t.TempDir()
	priv, pub, err := sb.WriteFiles(filepath.Join(dir, "sandbox"), sbSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	wxpay, err := sb.WeChatPayFiles(filepath.Join(dir, "sandbox"), sbSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	const ownerPassword = "multi-owner-password"
	pwFile := filepath.Join(dir, "owner_password")
	if err := os.WriteFile(pwFile, []byte(ownerPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The balancer: round robin over the instances, as the platforms and
	// the public reach the shop.
	lb := &balancer{}
	lbSrv := httptest.NewServer(lb)
	t.Cleanup(lbSrv.Close)

	s := sb.Settings()
	ep := sandbox.EndpointsAt(sbSrv.URL)
	env := map[string]string{
		"MINIMALL_DB_DRIVER": "mysql", "MINIMALL_DB_DSN": dbtest.MySQLDSN(),
		"MINIMALL_PUBLIC_BASE_URL": lbSrv.URL, "MINIMALL_TRUSTED_PROXIES": "127.0.0.1",
		"MINIMALL_REDIS_ADDR": redisAddr, "MINIMALL_REDIS_PREFIX": redistest.Prefix(t),
		"MINIMALL_ORDER_PAY_TIMEOUT": "1m", "MINIMALL_PAYMENT_RECONCILE_AFTER": "1s",
		"MINIMALL_ORDER_MAX_UNPAID": "1000", "MINIMALL_ORDER_CHECKOUT_PER_MINUTE": "1000",
		"MINIMALL_ORDER_PAY_PER_MINUTE": "1000", "MINIMALL_API_DOCS": "false",
		"MINIMALL_BOOTSTRAP_OWNER": "owner", "MINIMALL_BOOTSTRAP_OWNER_PASSWORD_FILE": pwFile,
		"MINIMALL_MEDIA_DIR": filepath.Join(dir, "media"), "MINIMALL_MEDIA_ALLOWED_HOSTS": "img.example.com",
		"MINIMALL_WECHAT_APPID": s.WeChatAppID, "MINIMALL_WECHAT_SECRET": s.WeChatSecret, "MINIMALL_WECHAT_API_BASE": ep.WeChatAPIBase,
		"MINIMALL_ALIPAY_APPID": s.AlipayAppID, "MINIMALL_ALIPAY_PRIVATE_KEY_FILE": priv, "MINIMALL_ALIPAY_PUBLIC_KEY_FILE": pub,
		"MINIMALL_ALIPAY_GATEWAY": ep.AlipayGateway, "MINIMALL_ALIPAY_SELLER_ID": s.AlipaySellerID,
		"MINIMALL_COURIER_API_BASE": sbSrv.URL, "MINIMALL_COURIER_KEY": s.CourierKey,
		"MINIMALL_COURIER_CUSTOMER": s.CourierCustomer, "MINIMALL_COURIER_SALT": s.CourierSalt,
	}
	for k, v := range wxpay {
		env[k] = v
	}
	// The first instance creates the owner on the empty database; the
	// others start together once it is there.
	var insts [instances]*child
	insts[0] = startChild(t, 0, env, dir)
	var wg sync.WaitGroup
	for i := 1; i < instances; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); insts[i] = startChild(t, i, env, dir) }()
	}
	wg.Wait()
	for _, c := range insts {
		if c == nil {
			t.FailNow()
		}
	}
	lb.set(insts[:])
	t.Logf("three instances up after %v", time.Since(start).Round(time.Millisecond))

	cl := &client{insts: insts[:]}
	owner := str(cl.must(t, 0, "POST", "/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": ownerPassword}, 200), "access_token")
	cat := cl.must(t, 1, "POST", "/api/v1/admin/categories", owner, map[string]any{"name": "多实例"}, 201)
	newProduct := func(i int, title string, skus, stock int) (int64, []int64) {
		var list []map[string]any
		for k := range skus {
			list = append(list, map[string]any{"sku_code": fmt.Sprintf("%s-%d", title, k), "specs": map[string]string{"款": strconv.Itoa(k)},
				"price_fen": 1000 + k, "stock": stock})
		}
		p := cl.must(t, i, "POST", "/api/v1/admin/products", owner, map[string]any{"category_id": num(cat, "id"), "title": title,
			"images": []string{"https://img.example.com/a.jpg"}, "skus": list, "on_shelf": true}, 201)
		var ids []int64
		for _, s := range p["skus"].([]any) {
			ids = append(ids, num(s.(map[string]any), "id"))
		}
		return num(p, "id"), ids
	}
	_, expSKUs := newProduct(0, "expiring", 3, skuStock)
	shelfProduct, _ := newProduct(1, "shelf", 1, 10)
	_, paySKUs := newProduct(2, "paid", 1, 100)

	type cust struct{ token, addr string }
	customers := make([]cust, customersN+1)
	for i := range customers {
		tok := str(cl.must(t, i, "POST", "/api/v1/auth/wechat/login", "", map[string]string{"code": fmt.Sprintf("test-multi-%d", i)}, 200), "access_token")
		a := cl.must(t, i+1, "POST", "/api/v1/addresses", tok, map[string]any{"name": "张三", "phone": "13800138000",
			"province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "文三路 1 号"}, 201)
		customers[i] = cust{token: tok, addr: strconv.FormatInt(num(a, "id"), 10)}
	}
	payer := customers[customersN]
	checkout := func(t testing.TB, i int, c cust, sku int64) map[string]any {
		addr, _ := strconv.ParseInt(c.addr, 10, 64)
		return cl.must(t, i, "POST", "/api/v1/orders", c.token, map[string]any{"address_id": addr,
			"items": []map[string]any{{"sku_id": sku, "quantity": 1}}}, 201)
	}
	pay := func(t testing.TB, i int, c cust, orderID int64) (outTradeNo, prepayID string) {
		r := cl.must(t, i, "POST", fmt.Sprintf("/api/v1/orders/%d/pay", orderID), c.token, map[string]string{"channel": "wechat"}, 200)
		pkg := str(r["request_payment"].(map[string]any), "package")
		return str(r, "out_trade_no"), strings.TrimPrefix(pkg, "prepay_id=")
	}

	// 300 orders that will expire, placed on all three instances; every
	// tenth asked to pay, so its cancel must close a trade at the platform.
	var expiring [expiringOrders]int64
	var placed atomic.Int64
	var orderWG sync.WaitGroup
	for c := range customersN {
		orderWG.Add(1)
		go func() {
			defer orderWG.Done()
			gt := goT{t}
			for k := range expiringOrders / customersN {
				n := c*(expiringOrders/customersN) + k
				o := checkout(gt, n, customers[c], expSKUs[n%len(expSKUs)])
				expiring[n] = num(o, "id")
				if n%10 == 0 {
					pay(gt, n+1, customers[c], expiring[n])
				}
				placed.Add(1)
			}
		}()
	}
	orderWG.Wait()
	if t.Failed() {
		t.FailNow()
	}
	placedAt := time.Now()
	t.Logf("%d orders placed over three instances after %v", placed.Load(), time.Since(start).Round(time.Millisecond))

	t.Run("login limit is one bucket for all instances", func(t *testing.T) {
		// A client behind the balancer: its address comes from
		// X-Forwarded-For, believed from the trusted proxy.
		const ip = "198.51.100.7"
		began := time.Now()
		allowed, refusedOn := 0, map[int]bool{}
		var last int
		for n := range app.LoginPerMinute + 1 {
			last = cl.status(t, n, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": "not-a-token"}, "X-Forwarded-For", ip)
			if last == http.StatusTooManyRequests {
				refusedOn[n%instances] = true
			} else {
				allowed++
			}
		}
		// The bucket holds LoginBurst and refills LoginPerMinute a minute.
		refill := int(time.Since(began).Seconds() * app.LoginPerMinute / 60)
		if most := app.LoginBurst + refill + 1; allowed > most {
			t.Errorf("%d of %d login attempts from one IP spread over three instances were let through in %v, want at most %d (bursts of %d, %d a minute): the limit is per instance",
				allowed, app.LoginPerMinute+1, time.Since(began).Round(time.Millisecond), most, app.LoginBurst, app.LoginPerMinute)
		}
		if last != http.StatusTooManyRequests {
			t.Errorf("attempt %d answered %d, want 429", app.LoginPerMinute+1, last)
		}
		if len(refusedOn) != instances {
			t.Errorf("attempts were refused on instances %v only, want all three", refusedOn)
		}
		for i := range instances {
			if st := cl.status(t, i, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": "not-a-token"}, "X-Forwarded-For", "198.51.100.8"); st == http.StatusTooManyRequests {
				t.Errorf("another client IP is refused on instance %d", i)
			}
		}
	})

	t.Run("staff catalog write shows on every instance within the stock lag", func(t *testing.T) {
		path := fmt.Sprintf("/api/v1/products/%d", shelfProduct)
		for i := range instances {
			cl.must(t, i, "GET", path, "", nil, 200) // cached on every instance
			if v := cl.metric(t, i, "minimall_catalog_cache_unsure"); v != 0 {
				t.Logf("instance %d is not subscribed yet (unsure=%v)", i, v)
			}
		}
		cl.must(t, 0, "POST", fmt.Sprintf("/api/v1/admin/products/%d/off-shelf", shelfProduct), owner, nil, 200)
		wrote := time.Now()
		const bound = 2 * time.Second // MINIMALL_CATALOG_STOCK_LAG
		for i := range instances {
			for cl.status(t, i, "GET", path, "", nil) != http.StatusNotFound {
				if time.Since(wrote) > bound {
					t.Errorf("instance %d still shows the off-shelf product %v after the write, want within %v", i, time.Since(wrote).Round(time.Millisecond), bound)
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		t.Logf("off shelf shown on all three instances %v after the write", time.Since(wrote).Round(time.Millisecond))
	})

	t.Run("a cart write on one instance shows at once on the others", func(t *testing.T) {
		buyer := customers[1].token
		lines := func(i int) string {
			c := cl.must(t, i, "GET", "/api/v1/cart", buyer, nil, 200)
			out := ""
			for _, it := range c["items"].([]any) {
				out += fmt.Sprintf("%d×%d ", num(it.(map[string]any), "sku_id"), num(it.(map[string]any), "quantity"))
			}
			return out
		}
		for i := range instances {
			lines(i)
			lines(i) // from memory
			if v := cl.metric(t, i, "minimall_cart_cache_hits_total"); v < 1 {
				t.Fatalf("instance %d served no cart from memory (hits %v): the test proves nothing", i, v)
			}
		}
		added := cl.must(t, 0, "POST", "/api/v1/cart/items", buyer, map[string]any{"sku_id": paySKUs[0], "quantity": 2}, 201)
		line := num(added, "id")
		steps := []struct {
			name string
			on   int
			do   func(i int)
			want string
		}{
			{"add", 0, func(int) {}, fmt.Sprintf("%d×2 ", paySKUs[0])},
			{"update", 1, func(i int) {
				cl.must(t, i, "PATCH", fmt.Sprintf("/api/v1/cart/items/%d", line), buyer, map[string]any{"quantity": 3}, 200)
			}, fmt.Sprintf("%d×3 ", paySKUs[0])},
			{"remove", 2, func(i int) {
				cl.must(t, i, "DELETE", fmt.Sprintf("/api/v1/cart/items/%d", line), buyer, nil, 204)
			}, ""},
		}
		for _, st := range steps {
			st.do(st.on)
			wrote := time.Now()
			for k := 1; k <= instances; k++ {
				i := (st.on + k) % instances
				if got := lines(i); got != st.want {
					t.Errorf("after the %s on instance %d, instance %d shows %q (%v later), want %q at once",
						st.name, st.on, i, got, time.Since(wrote).Round(time.Millisecond), st.want)
				}
			}
			// Read again on each, so the next write meets carts in memory.
			for i := range instances {
				lines(i)
			}
		}
	})

	var paidOrder int64
	t.Run("one payment's notification delivered to all three at once pays once", func(t *testing.T) {
		o := checkout(t, 0, payer, paySKUs[0])
		tradeNo, prepay := pay(t, 1, payer, num(o, "id"))
		if _, err := sb.PayWeChat(prepay, sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		statuses := deliverToAll(t, sb, insts[:], tradeNo, 3)
		for _, st := range statuses {
			if st/100 != 2 {
				t.Fatalf("notification answers %v, want 2xx from every instance", statuses)
			}
		}
		got := cl.must(t, 2, "GET", fmt.Sprintf("/api/v1/orders/%d", num(o, "id")), payer.token, nil, 200)
		if str(got, "status") != "paid" || num(got, "paid_fen") != num(got, "total_fen") {
			t.Fatalf("order after nine concurrent deliveries: %s paid %d of %d", str(got, "status"), num(got, "paid_fen"), num(got, "total_fen"))
		}
		if n := count(t, d, "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND to_status = 'paid'", num(o, "id")); n != 1 {
			t.Fatalf("the order moved to paid %d times", n)
		}
		if rs := sb.WeChatRefundsOfTrade(tradeNo); len(rs) != 0 {
			t.Fatalf("one payment delivered nine times was refunded: %+v", rs)
		}
		paidOrder = num(o, "id")
	})

	t.Run("the courier is asked once per waybill whichever instance serves tracking", func(t *testing.T) {
		if paidOrder == 0 {
			t.Skip("no paid order to ship")
		}
		const waybill = "YT7000000042"
		cl.must(t, 0, "POST", fmt.Sprintf("/api/v1/admin/orders/%d/ship", paidOrder), owner,
			map[string]string{"carrier": "YTO", "tracking_no": waybill}, 200)
		var wg sync.WaitGroup
		for n := range instances * 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl.must(goT{t}, n, "GET", fmt.Sprintf("/api/v1/orders/%d/tracking", paidOrder), payer.token, nil, 200)
			}()
		}
		wg.Wait()
		// The 30-minute guard is a conditional update of the parcel row
		// (docs/scaling.md), shared without Redis.
		if got := sb.CourierQueries(waybill); got != 1 {
			t.Errorf("nine tracking reads on three instances asked the courier %d times, want 1", got)
		}
	})

	var lateTrade string
	var lateOrder, lateTotal int64
	t.Run("a late payment delivered to all three at once is refunded once", func(t *testing.T) {
		o := checkout(t, 1, payer, paySKUs[0])
		lateOrder, lateTotal = num(o, "id"), num(o, "total_fen")
		var prepay string
		lateTrade, prepay = pay(t, 2, payer, lateOrder)
		if _, err := sb.PayWeChat(prepay, sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
			t.Fatal(err)
		}
		// The payer paid while the order was being cancelled: the cancel
		// found no open attempt to close (as if it had been recorded
		// closed a moment before), and the payment arrives late.
		if err := d.Writer(ctx).Exec("UPDATE payment_attempts SET status = 'closed', open_key = NULL WHERE out_trade_no = ?", lateTrade).Error; err != nil {
			t.Fatal(err)
		}
		cl.must(t, 0, "POST", fmt.Sprintf("/api/v1/orders/%d/cancel", lateOrder), payer.token, nil, 200)
		for _, st := range deliverToAll(t, sb, insts[:], lateTrade, 3) {
			if st/100 != 2 {
				t.Fatalf("late payment answered %d", st)
			}
		}
		eventually(t, 20*time.Second, "the late payment is refunded", func() bool { return len(sb.WeChatRefundsOfTrade(lateTrade)) > 0 })
	})

	var lost []int64
	var lostTrades []string
	t.Run("reconciliation pays each lost notification once", func(t *testing.T) {
		for n := range lostNotifies {
			o := checkout(t, n, payer, paySKUs[0])
			trade, prepay := pay(t, n+1, payer, num(o, "id"))
			if _, err := sb.PayWeChat(prepay, sandbox.WeChatPayPayOptions{Hold: true}); err != nil {
				t.Fatal(err)
			}
			lost, lostTrades = append(lost, num(o, "id")), append(lostTrades, trade)
		}
		eventually(t, 30*time.Second, "reconciliation pays every order whose notification was lost", func() bool {
			return count(t, d, "SELECT COUNT(*) FROM orders WHERE id IN ? AND status = 'paid'", lost) == lostNotifies
		})
	})

	// The orders placed first expire a minute after checkout; the deadline
	// job of every instance competes for them.
	// The bound leaves room for a loaded CI machine; alone the last order
	// is cancelled within seconds of its deadline.
	eventually(t, time.Until(placedAt.Add(2*time.Minute+30*time.Second)), "every expired order is cancelled", func() bool {
		return count(t, d, "SELECT COUNT(*) FROM orders WHERE id IN ? AND status = 'cancelled'", expiring[:]) == expiringOrders
	})
	t.Logf("%d orders cancelled after %v", expiringOrders, time.Since(start).Round(time.Millisecond))

	t.Run("each expired order is cancelled once and its stock returned once", func(t *testing.T) {
		if n := count(t, d, "SELECT COUNT(*) FROM (SELECT order_id FROM order_events WHERE order_id IN ? AND to_status = 'cancelled' GROUP BY order_id HAVING COUNT(*) <> 1) x", expiring[:]); n != 0 {
			t.Errorf("%d expired orders were cancelled more than once", n)
		}
		for _, sku := range expSKUs {
			if got := count(t, d, "SELECT stock FROM skus WHERE id = ?", sku); got != skuStock {
				t.Errorf("SKU %d has stock %d after every order expired, want %d (returned once per order)", sku, got, skuStock)
			}
		}
		if n := count(t, d, "SELECT COUNT(*) FROM payment_attempts WHERE order_id IN ? AND status <> 'closed'", expiring[:]); n != 0 {
			t.Errorf("%d payment attempts of expired orders are not closed", n)
		}
		// A job counts its items when its step returns; a step may still be
		// walking the rest of its page (orders the others cancelled) when the
		// last order is cancelled, so the sum is awaited, then held to.
		var perInstance []float64
		var sum float64
		read := func() bool {
			perInstance, sum = nil, 0
			for i := range instances {
				v := cl.metric(t, i, `minimall_job_items_total{job="order-payment-deadline"}`)
				perInstance, sum = append(perInstance, v), sum+v
			}
			return sum >= expiringOrders
		}
		deadline := time.Now().Add(15 * time.Second)
		for !read() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("expired orders cancelled by each instance's deadline job: %v", perInstance)
		if sum != expiringOrders {
			t.Errorf("the deadline jobs of the three instances cancelled %v orders, want %d", sum, expiringOrders)
		}
	})

	t.Run("late payment refunded once, lost notifications paid once", func(t *testing.T) {
		rs := sb.WeChatRefundsOfTrade(lateTrade)
		if len(rs) != 1 || rs[0].RefundFen != lateTotal {
			t.Errorf("refunds of the late payment at WeChat Pay: %+v, want one of %d", rs, lateTotal)
		}
		if n := count(t, d, "SELECT COUNT(*) FROM payment_refunds WHERE order_id = ?", lateOrder); n != 1 {
			t.Errorf("%d refunds recorded for the late payment, want 1", n)
		}
		got := cl.must(t, 1, "GET", fmt.Sprintf("/api/v1/orders/%d", lateOrder), payer.token, nil, 200)
		if str(got, "status") != "cancelled" || num(got, "paid_fen") != 0 {
			t.Errorf("late-paid order is %s with %d paid, want cancelled and unpaid", str(got, "status"), num(got, "paid_fen"))
		}
		if len(lost) == 0 {
			t.Skip("no lost notifications were set up")
		}
		if n := count(t, d, "SELECT COUNT(*) FROM (SELECT order_id FROM order_events WHERE order_id IN ? AND to_status = 'paid' GROUP BY order_id HAVING COUNT(*) <> 1) x", lost); n != 0 {
			t.Errorf("%d reconciled orders moved to paid more than once", n)
		}
		if n := count(t, d, "SELECT COUNT(*) FROM payment_refunds WHERE order_id IN ?", lost); n != 0 {
			t.Errorf("%d refunds of reconciled payments: a payment was counted twice", n)
		}
		for _, trade := range lostTrades {
			if rs := sb.WeChatRefundsOfTrade(trade); len(rs) != 0 {
				t.Errorf("trade %s refunded at WeChat Pay: %+v", trade, rs)
			}
		}
	})

	t.Run("Redis answered throughout", func(t *testing.T) {
		for i := range instances {
			for _, use := range []string{"ratelimit", "catalog_invalidation", "wechat_token", "cart_version"} {
				if v := cl.metric(t, i, `minimall_redis_fallback_total{use="`+use+`"}`); v != 0 {
					t.Errorf("instance %d served %v %s operations without Redis", i, v, use)
				}
			}
		}
	})
	t.Logf("wall time %v", time.Since(start).Round(time.Millisecond))
}

// child is one `minimall serve` process.
type child struct {
	url string
	log string
	cmd *exec.Cmd
}

// startChild runs the test binary as `minimall serve` (TestMain) with env
// and a free port, waits until it answers /healthz and stops it with
// SIGTERM when the test ends.
func startChild(t *testing.T, n int, env map[string]string, dir string) *child {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Error(err)
		return nil
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &child{url: "http://" + addr, log: filepath.Join(dir, fmt.Sprintf("instance-%d.log", n))}
	out, err := os.Create(c.log)
	if err != nil {
		t.Error(err)
		return nil
	}
	var vars []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIMALL_") {
			vars = append(vars, kv)
		}
	}
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	vars = append(vars, childEnv+"=serve", "MINIMALL_HTTP_ADDR="+addr)
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env, c.cmd.Stdout, c.cmd.Stderr = vars, out, out
	// The instance dies with the test process, whatever ends it.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		t.Error(err)
		return nil
	}
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(25 * time.Second):
			_ = c.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("instance %d log (last lines):\n%s", n, tail(c.log, 40))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(c.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Errorf("instance %d exited before it answered: %v\n%s", n, err, tail(c.log, 40))
			return nil
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Errorf("instance %d does not answer /healthz\n%s", n, tail(c.log, 40))
			return nil
		}
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// balancer sends each request to the next instance, as a load balancer in
// front of the shop does; it is the notify URL the platforms call.
type balancer struct {
	mu      sync.RWMutex
	proxies []*httputil.ReverseProxy
	next    atomic.Uint64
}

func (b *balancer) set(cs []*child) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range cs {
		u, _ := url.Parse(c.url)
		b.proxies = append(b.proxies, httputil.NewSingleHostReverseProxy(u))
	}
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.RLock()
	ps := b.proxies
	b.mu.RUnlock()
	if len(ps) == 0 {
		http.Error(w, "no instance yet", http.StatusServiceUnavailable)
		return
	}
	ps[b.next.Add(1)%uint64(len(ps))].ServeHTTP(w, r)
}

// client calls the instances, request n going to instance n mod 3.
type client struct {
	insts []*child
}

// goT reports a failure in a goroutine the test started: it marks the test
// failed and ends the goroutine (FailNow belongs to the test's goroutine).
type goT struct{ testing.TB }

func (g goT) Fatalf(format string, args ...any) {
	g.Helper()
	g.Errorf(format, args...)
	runtime.Goexit()
}

var httpc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

func (c *client) do(t testing.TB, n int, method, path, token string, body any, header ...string) (int, map[string]any, string) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.insts[n%len(c.insts)].url+path, rd)
	if err != nil {
		t.Error(err)
		return 0, nil, ""
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := httpc.Do(req)
	if err != nil {
		t.Errorf("%s %s on instance %d: %v", method, path, n%len(c.insts), err)
		return 0, nil, ""
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, string(raw)
}

// must makes the call and fails the test unless it answers want.
func (c *client) must(t testing.TB, n int, method, path, token string, body any, want int) map[string]any {
	t.Helper()
	st, out, raw := c.do(t, n, method, path, token, body)
	if st != want {
		t.Fatalf("%s %s on instance %d: %d %s, want %d", method, path, n%len(c.insts), st, raw, want)
	}
	return out
}

func (c *client) status(t testing.TB, n int, method, path, token string, body any, header ...string) int {
	st, _, _ := c.do(t, n, method, path, token, body, header...)
	return st
}

// metric reads one sample from instance n's /metrics.
func (c *client) metric(t testing.TB, n int, series string) float64 {
	t.Helper()
	resp, err := httpc.Get(c.insts[n%len(c.insts)].url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			return v
		}
	}
	return 0
}

// deliverToAll posts copies of a paid trade's signed notification to every
// instance at once and returns the answers.
func deliverToAll(t *testing.T, sb *sandbox.Server, insts []*child, outTradeNo string, copies int) []int {
	t.Helper()
	notifyURL, body, header, err := sb.WeChatPayNotification(outTradeNo)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(notifyURL)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out []int
	var wg sync.WaitGroup
	release := make(chan struct{})
	for _, c := range insts {
		for range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, c.url+u.Path, bytes.NewReader(body))
				req.Header = header.Clone()
				<-release
				resp, err := httpc.Do(req)
				st := 0
				if err == nil {
					st = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				out = append(out, st)
				mu.Unlock()
			}()
		}
	}
	close(release)
	wg.Wait()
	return out
}

func count(t *testing.T, d *db.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := d.Writer(context.Background()).Raw(q, args...).Scan(&n).Error; err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func num(m map[string]any, k string) int64 {
	v, _ := m[k].(float64)
	return int64(v)
}
