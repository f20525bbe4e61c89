package adminui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gin-gonic/gin"
)

func testEngine(t *testing.T, h *Handlers) *gin.Engine {
	t.Helper()
	gin.SetMode(gin.TestMode)
	e := gin.New()
	h.Mount(e)
	return e
}

func get(e http.Handler, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	return w
}

func TestServing(t *testing.T) {
	files := fstest.MapFS{
		"index.html":              {Data: []byte(`<!doctype html><script type="module" src="/admin/assets/index-abc123.js"></script>`)},
		"assets/index-abc123.js":  {Data: []byte(`console.log(1)`)},
		"assets/index-abc123.css": {Data: []byte(`body{}`)},
		"favicon.svg":             {Data: []byte(`<svg/>`)},
	}
	h, err := newHandlers(files, []string{"https://cdn.example.com/media", "not a url"})
	if err != nil {
		t.Fatal(err)
	}
	e := testEngine(t, h)

	for _, target := range []string{"/admin/", "/admin/index.html", "/admin/orders/42", "/admin/catalog/products/new"} {
		w := get(e, target)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "index-abc123.js") {
			t.Errorf("%s: %d %q, want index.html", target, w.Code, w.Body.String())
		}
		if got := w.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s: Cache-Control %q, want no-cache", target, got)
		}
		if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
			t.Errorf("%s: Content-Type %q", target, got)
		}
	}

	w := get(e, "/admin/assets/index-abc123.js")
	if w.Code != 200 || w.Body.String() != "console.log(1)" {
		t.Fatalf("asset: %d %q", w.Code, w.Body.String())
	}
	if got := w.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("asset Cache-Control %q", got)
	}
	if got := w.Header().Get("Content-Type"); got != "text/javascript; charset=utf-8" {
		t.Errorf("asset Content-Type %q", got)
	}
	if got := get(e, "/admin/assets/index-abc123.css").Header().Get("Content-Type"); got != "text/css; charset=utf-8" {
		t.Errorf("css Content-Type %q", got)
	}
	if got := get(e, "/admin/favicon.svg").Header().Get("Cache-Control"); got != "no-cache" {
		t.Errorf("unhashed file Cache-Control %q, want no-cache", got)
	}

	// A missing file is a 404, never index.html served as a script.
	for _, target := range []string{"/admin/assets/index-old.js", "/admin/missing.css"} {
		if w := get(e, target); w.Code != 404 || strings.Contains(w.Body.String(), "<script") {
			t.Errorf("%s: %d, want 404", target, w.Code)
		}
	}
	// Paths cannot climb out of the bundle.
	if w := get(e, "/admin/../adminui.go"); w.Code == 200 && strings.Contains(w.Body.String(), "package adminui") {
		t.Errorf("path traversal served a source file")
	}

	if w := get(e, "/admin"); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/admin/" {
		t.Errorf("/admin: %d %q", w.Code, w.Header().Get("Location"))
	}

	csp := get(e, "/admin/orders").Header().Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "connect-src 'self'", "default-src 'self'", "frame-ancestors 'none'", "https://cdn.example.com"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"unsafe-eval", "script-src 'self' 'unsafe-inline'", "not a url"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP %q contains %q", csp, bad)
		}
	}
}

// The committed bundle is embedded and loads: index.html points at hashed
// assets that exist in the embedded tree.
func TestEmbeddedBundle(t *testing.T) {
	h, err := NewHandlers()
	if err != nil {
		t.Fatal(err)
	}
	e := testEngine(t, h)
	w := get(e, "/admin/")
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `id="app"`) {
		t.Fatalf("/admin/: %d %q", w.Code, body)
	}
	refs := 0
	for _, part := range strings.Split(body, `"`) {
		if strings.HasPrefix(part, "/admin/assets/") {
			refs++
			if a := get(e, part); a.Code != 200 || a.Body.Len() == 0 {
				t.Errorf("%s: %d", part, a.Code)
			}
		}
	}
	if refs == 0 {
		t.Errorf("index.html references no hashed asset: %q", body)
	}
	if strings.Contains(body, "<script>") {
		t.Errorf("index.html has an inline script, which the CSP refuses")
	}
}

func TestHeadAnswersAsGet(t *testing.T) {
	files := fstest.MapFS{
		"index.html":             {Data: []byte(`<!doctype html><p>console</p>`)},
		"assets/index-abc123.js": {Data: []byte(`console.log(1)`)},
	}
	h, err := newHandlers(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(testEngine(t, h))
	defer srv.Close()
	for _, target := range []string{"/admin/", "/admin/orders/5", "/admin/assets/index-abc123.js"} {
		get, err := http.Get(srv.URL + target)
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		head, err := http.Head(srv.URL + target)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(head.Body)
		head.Body.Close()
		if head.StatusCode != get.StatusCode || head.StatusCode != http.StatusOK || len(body) != 0 ||
			head.Header.Get("Content-Type") != get.Header.Get("Content-Type") ||
			head.Header.Get("Cache-Control") != get.Header.Get("Cache-Control") ||
			head.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("HEAD %s: %d %v, body %d bytes; GET: %d %v", target, head.StatusCode, head.Header, len(body), get.StatusCode, get.Header)
		}
	}
}
