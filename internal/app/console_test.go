package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The console shares the router with the API: its pages and deep links come
// from the embedded bundle with the Content-Security-Policy, while unknown
// API routes still answer the JSON error envelope, never the console's HTML.
func TestConsoleBesideTheAPI(t *testing.T) {
	h := newTestApp(t).Engine()
	get := func(target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		return w
	}
	for _, target := range []string{"/admin/", "/admin/orders/42", "/admin/login"} {
		w := get(target)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `id="app"`) {
			t.Errorf("%s: %d, want the console's index.html", target, w.Code)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("%s: CSP %q", target, csp)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s: Cache-Control %q", target, got)
		}
	}
	if w := get("/admin"); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/admin/" {
		t.Errorf("/admin: %d %q", w.Code, w.Header().Get("Location"))
	}
	for _, target := range []string{"/api/v1/admin/nothing-here", "/adminx", "/nothing"} {
		w := get(target)
		var env struct {
			Error struct{ Code string } `json:"error"`
		}
		if w.Code != 404 || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Error.Code != "not_found" {
			t.Errorf("%s: %d %q, want the not_found envelope", target, w.Code, w.Body.String())
		}
	}
}
