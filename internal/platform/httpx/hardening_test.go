package httpx_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Made-up request methods share one metrics label, so a client cannot grow
// /metrics without bound; the standard methods keep theirs.
func TestUnknownMethodsShareOneMetricsLabel(t *testing.T) {
	m := httpx.NewMetrics()
	e, err := httpx.NewEngine(httpx.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: m, MaxBody: 1024})
	if err != nil {
		t.Fatal(err)
	}
	e.GET("/metrics", m.Handler())
	metrics := func() string { return do(e, http.MethodGet, "/metrics", "", nil).Body.String() }
	do(e, http.MethodGet, "/nothing", "", nil)
	before := len(metrics())
	for i := 0; i < 40; i++ {
		do(e, fmt.Sprintf("MADEUP%d%s", i, strings.Repeat("X", 2000)), "/nothing", "", nil)
	}
	body := metrics()
	if strings.Contains(body, "MADEUP") {
		t.Fatal("a made-up method is a metrics label")
	}
	if !strings.Contains(body, `method="other"`) || !strings.Contains(body, `method="GET"`) {
		t.Errorf("want labels other and GET in:\n%s", body)
	}
	if grown := len(body) - before; grown > 4096 {
		t.Errorf("/metrics grew by %d bytes for 40 made-up methods", grown)
	}
}

// Every answer, success or error, says nosniff.
func TestEveryAnswerIsNosniff(t *testing.T) {
	e := newEngine(t)
	e.GET("/ok", func(c *gin.Context) { c.String(200, "ok") })
	e.GET("/bad", func(c *gin.Context) { httpx.Error(c, apperr.Invalid("no")) })
	e.GET("/boom", func(c *gin.Context) { panic("boom") })
	for _, path := range []string{"/ok", "/bad", "/boom", "/unknown"} {
		w := do(e, http.MethodGet, path, "", nil)
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s (%d): X-Content-Type-Options = %q", path, w.Code, got)
		}
	}
}

// A route listed in TooLarge answers an over-limit body in its own format.
func TestBodyLimitInTheRoutesOwnFormat(t *testing.T) {
	e, err := httpx.NewEngine(httpx.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBody: 1024,
		TooLarge: map[string]gin.HandlerFunc{"/own": func(c *gin.Context) { c.String(413, "fail") }},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.POST("/own", func(c *gin.Context) { c.String(200, "read") })
	e.POST("/api", func(c *gin.Context) { c.String(200, "read") })
	big := strings.Repeat("x", 2048)
	if w := do(e, http.MethodPost, "/own", big, nil); w.Code != 413 || w.Body.String() != "fail" {
		t.Errorf("own format: %d %q", w.Code, w.Body.String())
	}
	if w := do(e, http.MethodPost, "/api", big, nil); w.Code != 413 || envelope(t, w).Code != apperr.CodePayloadTooLarge {
		t.Errorf("envelope: %d %q", w.Code, w.Body.String())
	}
}

// A request whose client went away is recorded as 499 once at info: no
// error line, and no 5xx in the metrics.
func TestClientGoneIsNotAServerError(t *testing.T) {
	var logs bytes.Buffer
	m := httpx.NewMetrics()
	e, err := httpx.NewEngine(httpx.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: m, MaxBody: 1024})
	if err != nil {
		t.Fatal(err)
	}
	e.GET("/metrics", m.Handler())
	e.GET("/slow", func(c *gin.Context) {
		<-c.Request.Context().Done()
		httpx.Error(c, apperr.Internal(fmt.Errorf("loading the cart: %w", c.Request.Context().Err())))
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodGet, "/slow", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	if w.Code != httpx.StatusClientClosed {
		t.Errorf("status %d, want %d", w.Code, httpx.StatusClientClosed)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"level":"INFO"`) || !strings.Contains(lines[0], `"status":499`) {
		t.Errorf("logs = %q, want one info access line with status 499", logs.String())
	}
	body := do(e, http.MethodGet, "/metrics", "", nil).Body.String()
	if strings.Contains(body, `route="/slow",status="5`) || !strings.Contains(body, `route="/slow",status="499"`) {
		t.Errorf("metrics do not count the request as 499:\n%s", grep(body, "/slow"))
	}

	// A deadline that expired is still a server error.
	logs.Reset()
	e.GET("/deadline", func(c *gin.Context) { httpx.Error(c, apperr.Internal(context.DeadlineExceeded)) })
	if w := do(e, http.MethodGet, "/deadline", "", nil); w.Code != 500 {
		t.Errorf("deadline: %d, want 500", w.Code)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
