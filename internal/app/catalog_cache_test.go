package app_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// The read cache's counters are on /metrics, and a public product read
// moves them.
func TestCatalogCacheMetrics(t *testing.T) {
	a := newTestApp(t)
	get := func(path string) string {
		t.Helper()
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Body.String()
	}
	get("/api/v1/products/1")
	get("/api/v1/products/1")
	m := get("/metrics")
	for _, want := range []string{
		"minimall_catalog_cache_hits_total 1", "minimall_catalog_cache_misses_total 1",
		"minimall_catalog_cache_entries 1", "minimall_catalog_cache_bytes",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
