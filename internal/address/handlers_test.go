package address_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestAddressHTTP(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg, err := config.Load("", func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
		a, err := app.New(cfg, d, slog.New(slog.NewTextHandler(io.Discard, nil)), clk)
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := auth.NewTokens(cfg.JWT.Secret, clk)
		if err != nil {
			t.Fatal(err)
		}
		tok := map[string]string{}
		tok["alice"], _, _ = tokens.IssueCustomer(11, "wechat")
		tok["bob"], _, _ = tokens.IssueCustomer(12, "wechat")
		type answer struct {
			status int
			body   map[string]any
			list   []map[string]any
			raw    string
		}
		do := func(method, path, who, body string) answer {
			t.Helper()
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok[who])
			rec := httptest.NewRecorder()
			a.Handler().ServeHTTP(rec, req)
			out := answer{status: rec.Code, raw: rec.Body.String()}
			if strings.HasPrefix(out.raw, "[") {
				_ = json.Unmarshal(rec.Body.Bytes(), &out.list)
			} else {
				_ = json.Unmarshal(rec.Body.Bytes(), &out.body)
			}
			return out
		}
		full := `{"name":"张三","phone":"13800138000","province":"浙江省","city":"杭州市","district":"西湖区","detail":"文三路 1 号"}`
		first := do("POST", "/api/v1/addresses", "alice", full)
		if first.status != 201 || first.body["is_default"] != true {
			t.Fatalf("create = %d %s", first.status, first.raw)
		}
		id := strconv.FormatInt(int64(first.body["id"].(float64)), 10)
		cases := []struct {
			name, method, path, who, body string
			status                        int
			fields                        string
		}{
			{"missing fields", "POST", "/api/v1/addresses", "alice", `{"name":"张三","phone":"13800138000"}`, 400, `["province","city","district","detail"]`},
			{"bad phone", "POST", "/api/v1/addresses", "alice", strings.Replace(full, "13800138000", "10086", 1), 400, `["phone"]`},
			{"unknown field", "POST", "/api/v1/addresses", "alice", strings.Replace(full, `"name"`, `"zip":"310000","name"`, 1), 400, `["zip"]`},
			{"second as default", "POST", "/api/v1/addresses", "alice", strings.Replace(full, `{"name"`, `{"is_default":true,"name"`, 1), 201, ""},
			{"put", "PUT", "/api/v1/addresses/" + id, "alice", strings.Replace(full, "张三", "李四", 1), 200, ""},
			{"put another customer's", "PUT", "/api/v1/addresses/" + id, "bob", full, 404, ""},
			{"delete another customer's", "DELETE", "/api/v1/addresses/" + id, "bob", "", 404, ""},
			{"malformed id", "DELETE", "/api/v1/addresses/0", "alice", "", 400, `["id"]`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := do(tc.method, tc.path, tc.who, tc.body)
				if r.status != tc.status {
					t.Fatalf("got %d, want %d: %s", r.status, tc.status, r.raw)
				}
				if tc.fields != "" {
					e := r.body["error"].(map[string]any)
					got, _ := json.Marshal(e["details"].(map[string]any)["fields"])
					if string(got) != tc.fields {
						t.Fatalf("fields %s, want %s", got, tc.fields)
					}
				}
			})
		}
		list := do("GET", "/api/v1/addresses", "alice", "")
		if list.status != 200 || len(list.list) != 2 || list.list[1]["name"] != "李四" || list.list[1]["is_default"] != false || list.list[0]["is_default"] != true {
			t.Fatalf("list = %s", list.raw)
		}
		if r := do("DELETE", "/api/v1/addresses/"+id, "alice", ""); r.status != 204 {
			t.Fatalf("delete = %d %s", r.status, r.raw)
		}
		if r := do("GET", "/api/v1/addresses", "bob", ""); r.raw != "[]" {
			t.Fatalf("bob's list = %s", r.raw)
		}
	})
}
