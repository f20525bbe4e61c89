package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/staff"
)

// TestDashboardAndAuditHTTP drives both staff reads through the real router:
// the dashboard's days parameter and time zone, the audit log's filters and
// its link to the access log, and who may read each.
func TestDashboardAndAuditHTTP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newIdentityEnv(t, d, map[string]string{"MINIMALL_DASHBOARD_LOW_STOCK": "3"})
		owner := e.ownerToken()

		r := e.do(http.MethodGet, "/api/v1/admin/dashboard", owner, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("dashboard: %d %s", r.Status, r.Raw)
		}
		series, _ := r.Body["series"].([]any)
		if len(series) != 30 || r.Body["days"] != float64(30) || str(r.Body, "time_zone") != "Asia/Shanghai" {
			t.Errorf("default dashboard: %d days in series, days %v, zone %v", len(series), r.Body["days"], r.Body["time_zone"])
		}
		low, _ := r.Body["low_stock"].(map[string]any)
		if low["threshold"] != float64(3) {
			t.Errorf("low_stock = %v, want threshold 3 from the configuration", low)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/dashboard?days=7", owner, nil); r.Status != 200 || len(r.Body["series"].([]any)) != 7 {
			t.Errorf("days=7: %d %s", r.Status, r.Raw)
		}
		for _, q := range []string{"0", "91", "abc", "-3", "1.5", ""} {
			r := e.do(http.MethodGet, "/api/v1/admin/dashboard?days="+q, owner, nil)
			if r.Status != http.StatusBadRequest || r.code() != "invalid_argument" {
				t.Errorf("days=%q: %d %s, want 400 invalid_argument", q, r.Status, r.Raw)
			}
		}

		// Two audited writes; the audit log names them with the request id
		// the access log carries.
		cat := e.do(http.MethodPost, "/api/v1/admin/categories", owner, map[string]any{"name": "Tea"})
		if cat.Status != http.StatusCreated {
			t.Fatalf("create category: %d %s", cat.Status, cat.Raw)
		}
		wh, err := e.staff.Create(context.Background(), staff.SystemActor, staff.NewAccount{Username: "warehouse", Password: "warehouse-pass", Role: auth.RoleWarehouse})
		if err != nil {
			t.Fatal(err)
		}
		r = e.do(http.MethodGet, "/api/v1/admin/audit?action=category.create", owner, nil)
		items, _ := r.Body["items"].([]any)
		if r.Status != http.StatusOK || len(items) != 1 || r.Body["total"] != float64(1) {
			t.Fatalf("audit by action: %d %s", r.Status, r.Raw)
		}
		entry := items[0].(map[string]any)
		if str(entry, "request_id") != cat.Header.Get("X-Request-Id") || str(entry, "target_type") != "category" || str(entry, "created_at") == "" {
			t.Errorf("audit entry %v, want the category's creation under request %s", entry, cat.Header.Get("X-Request-Id"))
		}
		r = e.do(http.MethodGet, fmt.Sprintf("/api/v1/admin/audit?staff_id=%v&page_size=1", entry["staff_id"]), owner, nil)
		if r.Status != 200 || r.Body["page_size"] != float64(1) {
			t.Errorf("audit by staff: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/audit?from=2000-01-01&to=2000-01-31", owner, nil); r.Status != 200 || r.Body["total"] != float64(0) {
			t.Errorf("audit in 2000: %d %s, want none", r.Status, r.Raw)
		}
		for _, q := range []string{"staff_id=x", "from=yesterday", "to=2026-13-01", "from=2026-12-02&to=2026-12-01", "page_size=101"} {
			if r := e.do(http.MethodGet, "/api/v1/admin/audit?"+q, owner, nil); r.Status != 400 || r.code() != "invalid_argument" {
				t.Errorf("audit?%s: %d %s, want 400 invalid_argument", q, r.Status, r.Raw)
			}
		}

		// Every role sees the dashboard; only the owner reads the audit log.
		whToken, _, err := e.tokens.IssueStaff(wh.ID, auth.RoleWarehouse, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/dashboard", whToken, nil); r.Status != 200 {
			t.Errorf("warehouse dashboard: %d %s", r.Status, r.Raw)
		}
		if r := e.do(http.MethodGet, "/api/v1/admin/audit", whToken, nil); r.Status != 403 || r.code() != "forbidden" {
			t.Errorf("warehouse audit: %d %s, want 403", r.Status, r.Raw)
		}
	})
}
