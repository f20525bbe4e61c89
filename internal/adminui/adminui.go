// Package adminui serves the merchant console, the single-page app built from
// web/admin, at /admin/. The bundle is written by `npm run build` into dist/
// and committed, so the Go build embeds it without Node.js on the machine.
//
// Rules:
//   - Hashed files under assets/ never change content under the same name:
//     they are cached for a year (immutable). Everything else, index.html
//     first, is revalidated on every load (no-cache), so a new binary's
//     console is picked up at once.
//   - A path that names no file and has no extension is a route of the app
//     (a deep link such as /admin/orders/42): it is answered with index.html.
//     A missing file with an extension answers 404, so a stale asset
//     reference fails visibly instead of loading HTML as a script.
//   - Every answer carries a Content-Security-Policy: scripts, styles, fonts
//     and API calls from this origin only (the console calls the API on the
//     same origin, so it needs no CORS); images also from the media store's
//     origin and https; no frames, no plugins.
package adminui

import (
	"embed"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
)

//go:embed all:dist
var bundle embed.FS

// Handlers serve the embedded console.
type Handlers struct {
	files fs.FS
	index []byte
	csp   string
}

// NewHandlers serves the embedded bundle. imageOrigins are the URLs (or
// origins) images may come from besides this origin, e.g. the media store's
// public base URL.
func NewHandlers(imageOrigins ...string) (*Handlers, error) {
	files, err := fs.Sub(bundle, "dist")
	if err != nil {
		return nil, err
	}
	return newHandlers(files, imageOrigins)
}

func newHandlers(files fs.FS, imageOrigins []string) (*Handlers, error) {
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		return nil, errors.New("adminui: the console bundle has no index.html (run npm run build in web/admin)")
	}
	return &Handlers{files: files, index: index, csp: policy(imageOrigins)}, nil
}

// policy is the Content-Security-Policy of every console answer. Element Plus
// positions popups with inline style attributes, hence 'unsafe-inline' for
// styles only; scripts stay same-origin with no inline code.
func policy(imageOrigins []string) string {
	img := []string{"'self'", "data:", "blob:", "https:"}
	for _, o := range imageOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" {
			continue
		}
		origin := u.Scheme + "://" + u.Host
		if !strings.Contains(strings.Join(img, " "), origin) {
			img = append(img, origin)
		}
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"connect-src 'self'",
		"style-src 'self' 'unsafe-inline'",
		"img-src " + strings.Join(img, " "),
		"font-src 'self' data:",
		"object-src 'none'",
		"base-uri 'self'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

// Mount registers the console under /admin on r, for GET and for HEAD (a
// load balancer's or monitor's probe of the console gets what GET would,
// without the body).
func (h *Handlers) Mount(r gin.IRoutes) {
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r.Handle(m, "/admin", h.Redirect)
		r.Handle(m, "/admin/*filepath", h.Serve)
	}
}

// Redirect serves GET /admin: the app lives under /admin/.
func (h *Handlers) Redirect(c *gin.Context) {
	c.Redirect(http.StatusMovedPermanently, "/admin/")
}

// Serve serves GET /admin/*filepath.
func (h *Handlers) Serve(c *gin.Context) {
	c.Header("Content-Security-Policy", h.csp)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("X-Frame-Options", "DENY")
	c.Header("Referrer-Policy", "same-origin")
	name := strings.TrimPrefix(path.Clean("/"+c.Param("filepath")), "/")
	if name == "" || name == "index.html" {
		h.serveIndex(c)
		return
	}
	b, err := fs.ReadFile(h.files, name)
	if err != nil {
		if path.Ext(name) == "" {
			h.serveIndex(c)
			return
		}
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("not found\n"))
		return
	}
	if strings.HasPrefix(name, "assets/") {
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Header("Cache-Control", "no-cache")
	}
	c.Data(http.StatusOK, contentType(name), b)
}

func (h *Handlers) serveIndex(c *gin.Context) {
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "text/html; charset=utf-8", h.index)
}

// contentType does not depend on the machine's mime tables for the types the
// bundle holds.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".woff2":
		return "font/woff2"
	case ".woff":
		return "font/woff"
	case ".ttf":
		return "font/ttf"
	case ".json":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
