package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// TestPostmanCollection keeps docs/postman in step with the API: every
// request of the demo walkthrough is a documented operation, and every
// variable it uses comes from the demo environment or from an earlier
// request's script.
func TestPostmanCollection(t *testing.T) {
	doc := loadSpec(t)
	doc.Servers = openapi3.Servers{{URL: "http://api.test"}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	var col struct {
		Item []struct {
			Name    string `json:"name"`
			Request struct {
				Method string `json:"method"`
				Header []struct{ Key, Value string }
				Body   struct{ Raw string }
				URL    struct{ Raw string }
			} `json:"request"`
			Event []struct {
				Script struct{ Exec []string }
			} `json:"event"`
		} `json:"item"`
	}
	var env struct {
		Values []struct{ Key string } `json:"values"`
	}
	for path, v := range map[string]any{
		"../../docs/postman/minimall.postman_collection.json": &col,
		"../../docs/postman/demo.postman_environment.json":    &env,
	} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	known := map[string]bool{}
	for _, v := range env.Values {
		known[v.Key] = true
	}
	variable := regexp.MustCompile(`\{\{([^}]+)\}\}`)
	set := regexp.MustCompile(`collectionVariables\.set\("([^"]+)"`)
	if len(col.Item) < 10 {
		t.Fatalf("the collection has %d requests, want the whole walkthrough", len(col.Item))
	}
	for _, it := range col.Item {
		r := it.Request
		text := r.URL.Raw + r.Body.Raw
		for _, h := range r.Header {
			text += h.Value
		}
		for _, m := range variable.FindAllStringSubmatch(text, -1) {
			if !known[m[1]] && !strings.HasPrefix(m[1], "$") {
				t.Errorf("%s: {{%s}} is neither in the environment nor set by an earlier request", it.Name, m[1])
			}
		}
		for _, e := range it.Event {
			for _, line := range e.Script.Exec {
				for _, m := range set.FindAllStringSubmatch(line, -1) {
					known[m[1]] = true
				}
			}
		}
		path, ok := strings.CutPrefix(r.URL.Raw, "{{baseUrl}}")
		if !ok {
			continue // the sandbox's control routes
		}
		path, _, _ = strings.Cut(variable.ReplaceAllString(path, "1"), "?")
		req, _ := http.NewRequest(r.Method, "http://api.test"+path, nil)
		if _, _, err := router.FindRoute(req); err != nil {
			t.Errorf("%s: %s %s is not in docs/openapi.yaml: %v", it.Name, r.Method, path, err)
		}
	}
}
