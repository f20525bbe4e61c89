// Package apidocs serves the API reference: the embedded OpenAPI document
// (docs/openapi.yaml) and Swagger UI, vendored into assets/ and embedded, so
// the page works without any CDN and its "try it out" calls the server that
// serves it. Whether it is served at all is configuration (http.api_docs).
package apidocs

import (
	"embed"
	"errors"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"
)

//go:embed assets/swagger-ui-bundle.js assets/swagger-ui.css assets/LICENSE assets/NOTICE assets/swagger-ui-bundle.js.LICENSE.txt
var assets embed.FS

// Handlers serve the reference page, the document and the UI's assets.
type Handlers struct {
	spec []byte
}

// NewHandlers serves spec, the OpenAPI document as YAML.
func NewHandlers(spec []byte) (*Handlers, error) {
	if len(spec) == 0 {
		return nil, errors.New("apidocs: empty OpenAPI document")
	}
	return &Handlers{spec: spec}, nil
}

// page loads the UI from /docs/assets and the document from
// /docs/openapi.yaml, both on this server. The validator badge is off: it
// would send the document to a third party.
const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>minimall API reference</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/docs/openapi.yaml",
  dom_id: "#ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: true,
  tryItOutEnabled: true,
  displayOperationId: true
});
</script>
</body>
</html>
`

// Page serves GET /docs.
func (h *Handlers) Page(c *gin.Context) {
	c.Header("Cache-Control", "no-cache")
	c.Header("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(page))
}

// Spec serves GET /docs/openapi.yaml.
func (h *Handlers) Spec(c *gin.Context) {
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "application/yaml; charset=utf-8", h.spec)
}

// Asset serves GET /docs/assets/:name from the embedded files.
func (h *Handlers) Asset(c *gin.Context) {
	name := path.Base(c.Param("name"))
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		c.Status(http.StatusNotFound)
		return
	}
	ct := "text/plain; charset=utf-8"
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	}
	c.Header("Cache-Control", "public, max-age=86400")
	c.Data(http.StatusOK, ct, b)
}
