package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/httpx"
)

func newEngine(t *testing.T) *gin.Engine {
	t.Helper()
	e, err := httpx.NewEngine(httpx.Options{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:     httpx.NewMetrics(),
		MaxBody:     1024,
		CORSOrigins: []string{"https://admin.example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func do(e http.Handler, method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	return w
}

func envelope(t *testing.T, w *httptest.ResponseRecorder) httpx.ErrorDetail {
	t.Helper()
	var b httpx.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %q is not the error envelope: %v", w.Body.String(), err)
	}
	return b.Error
}

func TestEveryCodeMapsToItsStatus(t *testing.T) {
	want := map[apperr.Code]int{
		apperr.CodeInvalid: 400, apperr.CodeUnauthenticated: 401, apperr.CodeInvalidCode: 401,
		apperr.CodeRefreshReused: 401, apperr.CodeLoginBlocked: 403, apperr.CodeForbidden: 403,
		apperr.CodeNotFound: 404, apperr.CodeConflict: 409, apperr.CodeIdempotencyMismatch: 409,
		apperr.CodeOutOfStock: 409, apperr.CodeUnavailableItem: 409, apperr.CodeInvalidState: 409,
		apperr.CodeLimitExceeded: 409, apperr.CodeChannelUnavailable: 409, apperr.CodeRateLimited: 429,
		apperr.CodeUpstreamError: 502, apperr.CodeUpstreamUnavailable: 503, apperr.CodePayloadTooLarge: 413,
		apperr.CodeInternal: 500, apperr.CodeWindowClosed: 409, apperr.CodeContentRejected: 422,
		apperr.CodeUnavailable:  503,
		apperr.CodeTOTPRequired: 401,
	}
	if len(want) != len(apperr.Codes) {
		t.Fatalf("table covers %d codes, apperr has %d", len(want), len(apperr.Codes))
	}
	for _, code := range apperr.Codes {
		t.Run(string(code), func(t *testing.T) {
			e := newEngine(t)
			e.GET("/x", func(c *gin.Context) {
				httpx.Error(c, apperr.New(code, "something about %s", "x").WithDetail("k", "v"))
			})
			w := do(e, "GET", "/x", "", nil)
			if w.Code != want[code] {
				t.Fatalf("status = %d, want %d", w.Code, want[code])
			}
			got := envelope(t, w)
			if got.Code != code {
				t.Fatalf("code = %q, want %q", got.Code, code)
			}
			if code == apperr.CodeInternal && (got.Message != "internal error" || got.Details != nil) {
				t.Fatalf("internal error leaked %q %v", got.Message, got.Details)
			}
		})
	}
}

func TestUnknownErrorsAreInternalAndHidden(t *testing.T) {
	e := newEngine(t)
	e.GET("/x", func(c *gin.Context) { httpx.Error(c, errors.New("dial tcp 10.0.0.5:3306: secret detail")) })
	w := do(e, "GET", "/x", "", nil)
	got := envelope(t, w)
	if w.Code != 500 || got.Code != apperr.CodeInternal || strings.Contains(w.Body.String(), "secret") {
		t.Fatalf("got %d %s", w.Code, w.Body.String())
	}
	if w.Header().Get(httpx.HeaderRequestID) == "" {
		t.Fatal("no request id header")
	}
}

func TestPanicIsRecovered(t *testing.T) {
	e := newEngine(t)
	e.GET("/boom", func(*gin.Context) { panic("kaboom") })
	e.GET("/ok", func(c *gin.Context) { c.String(200, "fine") })
	w := do(e, "GET", "/boom", "", nil)
	if w.Code != 500 || envelope(t, w).Code != apperr.CodeInternal || strings.Contains(w.Body.String(), "kaboom") {
		t.Fatalf("panic answered %d %s", w.Code, w.Body.String())
	}
	if w := do(e, "GET", "/ok", "", nil); w.Code != 200 {
		t.Fatalf("engine unusable after a panic: %d", w.Code)
	}
}

func TestUnknownRouteIsNotFoundEnvelope(t *testing.T) {
	e := newEngine(t)
	e.GET("/known", func(c *gin.Context) { c.String(200, "") })
	for _, tc := range []struct{ method, path string }{{"GET", "/nope"}, {"DELETE", "/known"}} {
		w := do(e, tc.method, tc.path, "", nil)
		if w.Code != 404 || envelope(t, w).Code != apperr.CodeNotFound {
			t.Errorf("%s %s = %d %s", tc.method, tc.path, w.Code, w.Body.String())
		}
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEngine(t)
	e.POST("/echo", func(c *gin.Context) {
		var v map[string]any
		if err := httpx.DecodeJSON(c, &v); err != nil {
			httpx.Error(c, err)
			return
		}
		c.JSON(200, v)
	})
	big := `{"a":"` + strings.Repeat("x", 2000) + `"}`
	w := do(e, "POST", "/echo", big, nil)
	if w.Code != 413 || envelope(t, w).Code != apperr.CodePayloadTooLarge {
		t.Fatalf("declared big body = %d %s", w.Code, w.Body.String())
	}
	// A body without Content-Length is cut by the reader instead.
	req := httptest.NewRequest("POST", "/echo", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != 413 {
		t.Fatalf("streamed big body = %d %s", rec.Code, rec.Body.String())
	}
	if w := do(e, "POST", "/echo", `{"a":"small"}`, nil); w.Code != 200 {
		t.Fatalf("small body = %d", w.Code)
	}
}

func TestDecodeJSONNamesTheField(t *testing.T) {
	type req struct {
		Quantity int    `json:"quantity"`
		Name     string `json:"name"`
	}
	for _, tc := range []struct {
		name, body, field string
	}{
		{"unknown field", `{"quantity":1,"colour":"red"}`, "colour"},
		{"wrong type", `{"quantity":"two"}`, "quantity"},
		{"fraction", `{"quantity":1.5}`, "quantity"},
		{"malformed", `{"quantity":`, ""},
		{"empty", ``, ""},
		{"two values", `{"quantity":1}{}`, ""},
		{"not an object", `[1,2]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			e.POST("/x", func(c *gin.Context) {
				var r req
				if err := httpx.DecodeJSON(c, &r); err != nil {
					httpx.Error(c, err)
					return
				}
				c.Status(204)
			})
			w := do(e, "POST", "/x", tc.body, nil)
			got := envelope(t, w)
			if w.Code != 400 || got.Code != apperr.CodeInvalid {
				t.Fatalf("got %d %s", w.Code, w.Body.String())
			}
			if tc.field != "" {
				fields, _ := got.Details["fields"].([]any)
				if len(fields) != 1 || fields[0] != tc.field {
					t.Fatalf("details.fields = %v, want [%s]", got.Details["fields"], tc.field)
				}
			}
		})
	}
}

func TestCORSAllowList(t *testing.T) {
	e := newEngine(t)
	e.GET("/api", func(c *gin.Context) { c.String(200, "") })
	pre := map[string]string{"Origin": "https://admin.example.com", "Access-Control-Request-Method": "PUT"}
	w := do(e, "OPTIONS", "/api", "", pre)
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "https://admin.example.com" {
		t.Fatalf("allowed preflight = %d %v", w.Code, w.Header())
	}
	w = do(e, "GET", "/api", "", map[string]string{"Origin": "https://evil.example.com"})
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("a foreign origin got CORS headers")
	}
	w = do(e, "OPTIONS", "/api", "", map[string]string{"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"})
	if w.Code != 403 {
		t.Fatalf("foreign preflight = %d, want 403", w.Code)
	}
}

func TestRequestIDIsKeptOrMade(t *testing.T) {
	e := newEngine(t)
	var seen string
	e.GET("/x", func(c *gin.Context) { seen = httpx.RequestIDFromContext(c.Request.Context()); c.Status(204) })
	w := do(e, "GET", "/x", "", map[string]string{httpx.HeaderRequestID: "abc-123"})
	if w.Header().Get(httpx.HeaderRequestID) != "abc-123" || seen != "abc-123" {
		t.Fatalf("request id = %q / %q, want abc-123", w.Header().Get(httpx.HeaderRequestID), seen)
	}
	w = do(e, "GET", "/x", "", map[string]string{httpx.HeaderRequestID: "bad id\nwith newline"})
	if id := w.Header().Get(httpx.HeaderRequestID); id == "" || strings.Contains(id, " ") {
		t.Fatalf("unsafe request id kept: %q", id)
	}
}

func TestParsePage(t *testing.T) {
	for _, tc := range []struct {
		query   string
		ok      bool
		page    int
		perPage int
	}{
		{"", true, 1, 20}, {"page=3&page_size=100", true, 3, 100},
		{"page_size=101", false, 0, 0}, {"page=0", false, 0, 0}, {"page=-1", false, 0, 0}, {"page=x", false, 0, 0},
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/?"+tc.query, nil)
		p, err := httpx.ParsePage(c)
		if (err == nil) != tc.ok || (tc.ok && (p.Page != tc.page || p.PageSize != tc.perPage)) {
			t.Errorf("ParsePage(%q) = %+v, %v", tc.query, p, err)
		}
	}
}

// TestGracefulShutdown starts a slow request, ends the server's context and
// checks that the request still completes and new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- httpx.Serve(ctx, ln, h, 10*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-started
	cancel()
	// Shutdown closes the listener first; wait until dialing fails.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepts after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-served:
		t.Fatal("Serve returned while a request was in flight")
	default:
	}
	close(release)
	r := <-got
	if r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request = %q, %v", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v", err)
	}
}

// Made request ids are distinct, safe to echo and differ between engines
// (instances), and every log line of a request carries its id: the access
// line and an error logged through the request's logger.
func TestRequestIDsAreUniqueAndLogged(t *testing.T) {
	var logs strings.Builder
	newLogged := func() *gin.Engine {
		e, err := httpx.NewEngine(httpx.Options{
			Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: httpx.NewMetrics(), MaxBody: 1024,
		})
		if err != nil {
			t.Fatal(err)
		}
		e.GET("/ok", func(c *gin.Context) { c.Status(204) })
		e.GET("/fail", func(c *gin.Context) { httpx.Error(c, errors.New("disk on fire")) })
		return e
	}
	a, b := newLogged(), newLogged()
	seen := map[string]bool{}
	for i := range 200 {
		e := a
		if i%2 == 1 {
			e = b
		}
		id := do(e, "GET", "/ok", "", nil).Header().Get(httpx.HeaderRequestID)
		if id == "" || len(id) > 64 || strings.ContainsAny(id, " \n\"") || seen[id] {
			t.Fatalf("request %d: id %q is empty, unsafe or repeated", i, id)
		}
		seen[id] = true
	}
	logs.Reset()
	id := do(a, "GET", "/fail", "", nil).Header().Get(httpx.HeaderRequestID)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log lines = %q, want the error and the access line", lines)
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["request_id"] != id {
			t.Fatalf("log line %s lacks request_id %q", l, id)
		}
	}
	if !strings.Contains(lines[1], `"msg":"http"`) || !strings.Contains(lines[1], `"status":500`) || !strings.Contains(lines[1], `"route":"/fail"`) {
		t.Fatalf("access line = %s", lines[1])
	}
}

// BenchmarkPlatform shows what the middleware (request id, access log,
// metrics, recovery, CORS, body limit) costs per request against a bare gin
// engine serving the same handler; run it with
// `go test -bench Platform -benchmem ./internal/platform/httpx/`.
func BenchmarkPlatform(b *testing.B) {
	body := []byte(`{"ok":true}`)
	handler := func(c *gin.Context) { c.Data(200, "application/json; charset=utf-8", body) }
	gin.SetMode(gin.ReleaseMode)
	bare := gin.New()
	bare.GET("/x", handler)
	full, err := httpx.NewEngine(httpx.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: httpx.NewMetrics(), MaxBody: 1 << 20,
	})
	if err != nil {
		b.Fatal(err)
	}
	full.GET("/x", handler)
	for _, tc := range []struct {
		name string
		e    *gin.Engine
	}{{"bare", bare}, {"platform", full}} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/x", nil)
			req.RemoteAddr = "127.0.0.1:40000"
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				tc.e.ServeHTTP(w, req)
			}
		})
	}
}
