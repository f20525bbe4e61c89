package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// With a read replica that has stopped applying changes (but is still
// within its allowed lag, so it keeps serving), the staff product list
// shows what the replica has, while a customer's own addresses, cart and
// orders, the staff product detail and the public product page (reloaded
// from the primary after the announced change) show what was just written.
func TestReplicaReadsAndReadYourWrites(t *testing.T) {
	d, replica := dbtest.Replicated(t, db.ReplicaOptions{MaxLag: time.Minute, Every: 100 * time.Millisecond})
	ctx := context.Background()
	e := newIdentityEnv(t, d, nil)
	owner := e.ownerToken()
	alice := str(e.login("wechat", "test-alice").Body, "access_token")

	cat := e.do(http.MethodPost, "/api/v1/admin/categories", owner, map[string]any{"name": "服装"})
	product := func(title string) map[string]any {
		return map[string]any{"category_id": id(t, cat), "title": title, "images": []string{"https://img.example.com/a.jpg"},
			"skus": []map[string]any{{"sku_code": "A-1", "specs": map[string]string{"颜色": "红"}, "price_fen": 100, "stock": 50}}}
	}
	first := product("第一版")
	first["on_shelf"] = true
	created := e.do(http.MethodPost, "/api/v1/admin/products", owner, first)
	if created.Status != http.StatusCreated {
		t.Fatalf("product: %d %s", created.Status, created.Raw)
	}
	pid := id(t, created)
	skuID := int64(created.Body["skus"].([]any)[0].(map[string]any)["id"].(float64))
	if r := e.do(http.MethodGet, fmt.Sprintf("/api/v1/products/%d", pid), "", nil); !strings.Contains(r.Raw, "第一版") {
		t.Fatalf("public page before the change: %d %s", r.Status, r.Raw)
	}
	waitReplica(t, replica, "SELECT COUNT(*) FROM products WHERE id = ? AND title = '第一版'", pid)

	// Stall the replica: its SQL thread waits for this row lock, so nothing
	// written from here on reaches it.
	hold, err := replica.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	if _, err := hold.ExecContext(ctx, "SELECT id FROM products WHERE id = ? FOR UPDATE", pid); err != nil {
		t.Fatal(err)
	}
	if r := e.do(http.MethodPut, fmt.Sprintf("/api/v1/admin/products/%d", pid), owner, product("第二版")); r.Status != http.StatusOK {
		t.Fatalf("update: %d %s", r.Status, r.Raw)
	}
	addr := e.do(http.MethodPost, "/api/v1/addresses", alice, map[string]any{"name": "张三", "phone": "13800138000",
		"province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "文三路 1 号"})
	if addr.Status != http.StatusCreated {
		t.Fatalf("address: %d %s", addr.Status, addr.Raw)
	}
	if r := e.do(http.MethodPost, "/api/v1/cart/items", alice, map[string]any{"sku_id": skuID, "quantity": 2}); r.Status >= 300 {
		t.Fatalf("cart add: %d %s", r.Status, r.Raw)
	}
	order := e.do(http.MethodPost, "/api/v1/orders", alice, map[string]any{"address_id": id(t, addr),
		"items": []map[string]any{{"sku_id": skuID, "quantity": 1}}})
	if order.Status != http.StatusCreated {
		t.Fatalf("checkout: %d %s", order.Status, order.Raw)
	}
	// The replica has none of it.
	var n int
	if err := replica.QueryRowContext(ctx, "SELECT COUNT(*) FROM addresses").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the stalled replica has %d addresses (%v); the test proves nothing", n, err)
	}

	checks := []struct {
		name, path, token, want string
	}{
		{"staff list from the replica", "/api/v1/admin/products", owner, "第一版"},
		{"staff detail from the primary", fmt.Sprintf("/api/v1/admin/products/%d", pid), owner, "第二版"},
		{"public page reloaded from the primary after the announced change", fmt.Sprintf("/api/v1/products/%d", pid), "", "第二版"},
		{"own addresses", "/api/v1/addresses", alice, "文三路 1 号"},
		{"own cart", "/api/v1/cart", alice, fmt.Sprintf(`"sku_id":%d`, skuID)},
		{"own orders", "/api/v1/orders", alice, str(order.Body, "order_no")},
		{"own order", fmt.Sprintf("/api/v1/orders/%d", id(t, order)), alice, str(order.Body, "order_no")},
	}
	for _, c := range checks {
		r := e.do(http.MethodGet, c.path, c.token, nil)
		if r.Status != http.StatusOK || !strings.Contains(r.Raw, c.want) {
			t.Errorf("%s: GET %s = %d %s, want it to contain %s", c.name, c.path, r.Status, r.Raw, c.want)
		}
	}
	if st := d.Replicas(); !st[0].Serving {
		t.Fatalf("the replica stopped serving during the checks (%+v): the reads above did not have to choose", st[0])
	}
}

func waitReplica(t *testing.T, replica *sql.DB, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var n int
		if err := replica.QueryRow(query, args...).Scan(&n); err == nil && n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica never answered %q", query)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
