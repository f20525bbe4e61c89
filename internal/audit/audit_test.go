package audit_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// TestList records entries at known times and reads them back through each
// filter, newest first, paged.
func TestList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		clk := clock.NewFake(start)
		l, err := audit.New(d, clk)
		if err != nil {
			t.Fatal(err)
		}
		entries := []audit.Entry{
			{StaffID: 1, Action: "product.update", TargetType: "product", TargetID: "7"},
			{StaffID: 2, Action: "stock.adjust", TargetType: "sku", TargetID: "3"},
			{StaffID: 1, Action: "stock.adjust", TargetType: "sku", TargetID: "4"},
			{StaffID: 2, Action: "product.update", TargetType: "product", TargetID: "8"},
			{StaffID: 1, Action: "staff.totp_reset", TargetType: "staff", TargetID: "2"},
		}
		for _, e := range entries {
			if err := l.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Hour)
		}
		targets := func(rs []audit.Recorded) []string {
			out := make([]string, len(rs))
			for i, r := range rs {
				out[i] = r.TargetID
			}
			return out
		}
		tests := []struct {
			name  string
			f     audit.Filter
			want  []string
			total int64
		}{
			{"all", audit.Filter{}, []string{"2", "8", "4", "3", "7"}, 5},
			{"staff", audit.Filter{StaffID: 1}, []string{"2", "4", "7"}, 3},
			{"action", audit.Filter{Action: "stock.adjust"}, []string{"4", "3"}, 2},
			{"staff and action", audit.Filter{StaffID: 2, Action: "product.update"}, []string{"8"}, 1},
			{"from inclusive", audit.Filter{From: start.Add(3 * time.Hour)}, []string{"2", "8"}, 2},
			{"before exclusive", audit.Filter{Before: start.Add(2 * time.Hour)}, []string{"3", "7"}, 2},
			{"range", audit.Filter{From: start.Add(time.Hour), Before: start.Add(3 * time.Hour)}, []string{"4", "3"}, 2},
			{"none", audit.Filter{Action: "nothing"}, []string{}, 0},
		}
		for _, tc := range tests {
			got, total, err := l.List(ctx, tc.f, 0, 20)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(targets(got), tc.want) || total != tc.total {
				t.Errorf("%s: got %v (total %d), want %v (total %d)", tc.name, targets(got), total, tc.want, tc.total)
			}
		}
		page, total, err := l.List(ctx, audit.Filter{}, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(targets(page), []string{"4", "3"}) || total != 5 {
			t.Errorf("second page = %v (total %d), want [4 3] (total 5)", targets(page), total)
		}
		if page[0].ID == 0 || !page[0].CreatedAt.Equal(start.Add(2*time.Hour)) || page[0].StaffID != 1 || page[0].Action != "stock.adjust" {
			t.Errorf("entry read back as %+v", page[0])
		}
	})
}
