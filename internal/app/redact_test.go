package app_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// TestLogsCarryNoPhoneOrAddress walks the address book at debug level with
// a recognisable phone number and address, including a path that carries
// the phone (logged in the access line) and refused and failing requests,
// and checks that no log line carries either: the app masks phone numbers
// in every line, and no line logs an address.
func TestLogsCarryNoPhoneOrAddress(t *testing.T) {
	var buf bytes.Buffer
	cfg, err := config.Load("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now())
	a, err := app.New(cfg, dbtest.SQLite(t), slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), clk)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(cfg.JWT.Secret, clk)
	if err != nil {
		t.Fatal(err)
	}
	customer, _, err := tokens.IssueCustomer(7, "wechat")
	if err != nil {
		t.Fatal(err)
	}
	const phone, street = "13912345678", "幸福路88号七号楼"
	send := func(method, path, body string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+customer)
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, req)
		return w.Code
	}
	addr := `{"name":"张三","phone":"` + phone + `","province":"浙江省","city":"杭州市","district":"西湖区","detail":"` + street + `"}`
	if code := send(http.MethodPost, "/api/v1/addresses", addr); code != http.StatusCreated {
		t.Fatalf("create address: %d", code)
	}
	send(http.MethodGet, "/api/v1/addresses", "")
	send(http.MethodPut, "/api/v1/addresses/999", addr)
	send(http.MethodPost, "/api/v1/addresses", `{"name":"张三","phone":"`+phone+`x","province":"浙江省","city":"杭州市","district":"西湖区","detail":"`+street+"\x1b"+`"}`)
	send(http.MethodGet, "/api/v1/orders/"+phone, "")
	send(http.MethodPost, "/api/v1/orders", `{"address_id":1,"items":[{"sku_id":99999,"quantity":1}]}`)
	out := buf.String()
	if !strings.Contains(out, "139****5678") {
		t.Fatalf("the access line of /api/v1/orders/%s is not in the log, or not masked:\n%s", phone, out)
	}
	for _, secret := range []string{phone, street, "幸福路"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log carries %q:\n%s", secret, out)
		}
	}
}
