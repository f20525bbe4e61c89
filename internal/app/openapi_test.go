package app_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/minimall/minimall/docs"
)

// loadSpec parses docs/openapi.yaml with a real OpenAPI loader and validates
// it; any error fails the test, so a YAML slip that yaml.v3 would accept
// (a duplicated key, a stray section, a bogus schema key) cannot reach main.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatalf("docs/openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// TestOpenAPIIsValid fails on any validation error, on an operation without
// an operationId or a tag, and on an operationId used twice (the SDK and the
// collection are generated from these ids).
func TestOpenAPIIsValid(t *testing.T) {
	doc := loadSpec(t)
	seen := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", where)
			} else if other, dup := seen[op.OperationID]; dup {
				t.Errorf("%s and %s share operationId %q", where, other, op.OperationID)
			} else {
				seen[op.OperationID] = where
			}
			if len(op.Tags) == 0 {
				t.Errorf("%s has no tag", where)
			}
			if op.Responses == nil || op.Responses.Len() == 0 {
				t.Errorf("%s has no responses", where)
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("docs/openapi.yaml has no operations")
	}
}

// TestOpenAPIMatchesRouter fails when a route is served but not described in
// docs/openapi.yaml, or described but not served.
func TestOpenAPIMatchesRouter(t *testing.T) {
	doc := loadSpec(t)
	param := regexp.MustCompile(`\{([^}]+)\}`)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, strings.ToUpper(method)+" "+param.ReplaceAllString(path, ":$1"))
		}
	}
	a := newTestApp(t)
	var served []string
	for _, r := range a.Engine().Routes() {
		if consoleRoute(r.Path) {
			continue
		}
		served = append(served, r.Method+" "+r.Path)
	}
	if len(served) == 0 || len(documented) == 0 {
		t.Fatalf("served %d routes, documented %d: nothing to compare", len(served), len(documented))
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is served but missing from docs/openapi.yaml", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("docs/openapi.yaml describes %s, which the router does not serve", r)
		}
	}
}

// consoleRoute tells the merchant console's static files (internal/adminui,
// served at /admin/) from the API: they are the app's pages and assets, not
// operations, so docs/openapi.yaml does not describe them.
func consoleRoute(path string) bool {
	return path == "/admin" || strings.HasPrefix(path, "/admin/")
}
