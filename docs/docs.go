// Package docs embeds the API description so the binary can serve it (GET
// /docs and GET /docs/openapi.yaml) and tests can validate the very bytes
// that ship.
package docs

import _ "embed"

// OpenAPI is docs/openapi.yaml as built into the binary.
//
//go:embed openapi.yaml
var OpenAPI []byte
