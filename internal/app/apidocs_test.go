package app_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/docs"
	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// TestAPIDocs serves the reference page, its assets and the embedded
// document by default in development, and nothing with api_docs false.
func TestAPIDocs(t *testing.T) {
	get := func(h http.Handler, path string) (int, string, []byte) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		b, _ := io.ReadAll(w.Body)
		return w.Code, w.Header().Get("Content-Type"), b
	}
	on := newTestApp(t).Engine()
	code, ct, body := get(on, "/docs")
	if code != 200 || !strings.HasPrefix(ct, "text/html") || !bytes.Contains(body, []byte("/docs/openapi.yaml")) ||
		bytes.Contains(body, []byte("https://")) {
		t.Errorf("GET /docs = %d %s %.200s, want the page loading only local files", code, ct, body)
	}
	if code, _, body := get(on, "/docs/openapi.yaml"); code != 200 || !bytes.Equal(body, docs.OpenAPI) {
		t.Errorf("GET /docs/openapi.yaml = %d, %d bytes, want the embedded document", code, len(body))
	}
	for _, p := range []string{"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/docs/assets/LICENSE"} {
		if code, _, body := get(on, p); code != 200 || len(body) == 0 {
			t.Errorf("GET %s = %d, %d bytes", p, code, len(body))
		}
	}
	if code, _, _ := get(on, "/docs/assets/apidocs.go"); code != 404 {
		t.Errorf("GET /docs/assets/apidocs.go = %d, want 404", code)
	}

	cfg, err := config.Load("", func(k string) string {
		if k == "MINIMALL_API_DOCS" {
			return "false"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, dbtest.SQLite(t), slog.New(slog.NewTextHandler(io.Discard, nil)),
		clock.NewFake(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/docs", "/docs/openapi.yaml", "/docs/assets/swagger-ui.css"} {
		if code, _, _ := get(a.Engine(), p); code != 404 {
			t.Errorf("api_docs false: GET %s = %d, want 404", p, code)
		}
	}
}
