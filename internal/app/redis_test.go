package app_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/platform/redistest"
)

// With MINIMALL_REDIS_ADDR pointing at a Redis that is down, every customer
// and staff request still answers as without Redis: logins and checkouts are
// limited per instance, a staff write shows on this instance at once. The
// fallback metric moves and each use logs its outage once, not per request.
func TestRedisDownServesFromInstanceState(t *testing.T) {
	var log syncBuffer
	e := newIdentityEnvLog(t, dbtest.SQLite(t), map[string]string{
		"MINIMALL_REDIS_ADDR": redistest.ClosedAddr(t), "MINIMALL_REDIS_PREFIX": redistest.Prefix(t),
	}, &log)
	owner := e.ownerToken()
	var alice string
	for range 5 {
		r := e.login("wechat", "test-alice")
		if r.Status != http.StatusOK {
			t.Fatalf("login with Redis down: %d %s", r.Status, r.Raw)
		}
		alice = str(r.Body, "access_token")
	}
	cat := e.do(http.MethodPost, "/api/v1/admin/categories", owner, map[string]any{"name": "服装"})
	if cat.Status != http.StatusCreated {
		t.Fatalf("category with Redis down: %d %s", cat.Status, cat.Raw)
	}
	p := e.do(http.MethodPost, "/api/v1/admin/products", owner, map[string]any{"category_id": id(t, cat), "title": "T恤",
		"images": []string{"https://img.example.com/a.jpg"},
		"skus":   []map[string]any{{"sku_code": "A-1", "specs": map[string]string{"颜色": "红"}, "price_fen": 100, "stock": 5}}})
	if p.Status != http.StatusCreated {
		t.Fatalf("product with Redis down: %d %s", p.Status, p.Raw)
	}
	pid := strconv.FormatInt(id(t, p), 10)
	if r := e.do(http.MethodPost, "/api/v1/admin/products/"+pid+"/on-shelf", owner, nil); r.Status != http.StatusOK {
		t.Fatalf("on shelf with Redis down: %d %s", r.Status, r.Raw)
	}
	if r := e.do(http.MethodGet, "/api/v1/products/"+pid, "", nil); r.Status != http.StatusOK {
		t.Fatalf("product page with Redis down: %d %s", r.Status, r.Raw)
	}
	// The staff change drops this instance's cached page at once, Redis or not.
	if r := e.do(http.MethodPost, "/api/v1/admin/products/"+pid+"/off-shelf", owner, nil); r.Status != http.StatusOK {
		t.Fatalf("off shelf with Redis down: %d %s", r.Status, r.Raw)
	}
	if r := e.do(http.MethodGet, "/api/v1/products/"+pid, "", nil); r.Status != http.StatusNotFound {
		t.Fatalf("off-shelf product with Redis down: %d, want 404 at once on this instance", r.Status)
	}
	if r := e.do(http.MethodPost, "/api/v1/admin/products/"+pid+"/on-shelf", owner, nil); r.Status != http.StatusOK {
		t.Fatalf("on shelf: %d %s", r.Status, r.Raw)
	}
	skuID := int64(p.Body["skus"].([]any)[0].(map[string]any)["id"].(float64))
	addr := e.do(http.MethodPost, "/api/v1/addresses", alice, map[string]any{"name": "张三", "phone": "13800138000",
		"province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "文三路 1 号"})
	if addr.Status != http.StatusCreated {
		t.Fatalf("address: %d %s", addr.Status, addr.Raw)
	}
	for i := range 3 {
		o := e.do(http.MethodPost, "/api/v1/orders", alice, map[string]any{"address_id": id(t, addr),
			"items": []map[string]any{{"sku_id": skuID, "quantity": 1}}})
		if o.Status != http.StatusCreated {
			t.Fatalf("checkout %d with Redis down: %d %s", i+1, o.Status, o.Raw)
		}
		// No payment channel is configured here: the pay route answers a
		// client error after its (per-instance) limit, never a 5xx.
		if r := e.do(http.MethodPost, "/api/v1/orders/"+strconv.FormatInt(id(t, o), 10)+"/pay", alice,
			map[string]any{"channel": "wechat"}); r.Status >= 500 || r.Status == http.StatusTooManyRequests {
			t.Fatalf("pay with Redis down: %d %s", r.Status, r.Raw)
		}
	}
	// The limits still hold, per instance: the 61st login attempt at once
	// is refused.
	refused := 0
	for range 60 {
		if r := e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": "x"}); r.Status == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("with Redis down the login limit refused nothing in 66 attempts")
	}

	metrics := scrape(t, e)
	for _, use := range []string{"ratelimit", "catalog_invalidation"} {
		if v := metric(metrics, `minimall_redis_fallback_total{use="`+use+`"}`); v < 3 {
			t.Errorf("minimall_redis_fallback_total{use=%q} = %v, want it to count the requests served without Redis", use, v)
		}
		if v := metric(metrics, `minimall_redis_available{use="`+use+`"}`); v != 0 {
			t.Errorf("minimall_redis_available{use=%q} = %v during the outage, want 0", use, v)
		}
		if n := redistest.Lines(log.String(), "level=WARN", "redis unavailable", "use="+use); n != 1 {
			t.Errorf("%d outage warnings for use %s, want 1", n, use)
		}
	}
	if n := redistest.Lines(log.String(), "level=ERROR"); n != 0 {
		t.Errorf("%d error lines with Redis down:\n%s", n, log.String())
	}
}

func scrape(t *testing.T, e *identityEnv) string {
	t.Helper()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// metric reads one sample of the Prometheus text format, 0 when absent.
func metric(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
