package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimall/minimall/internal/check"
	"github.com/minimall/minimall/internal/platform/db"
)

// TestCheckCommand runs `minimall check` on a freshly seeded demo database
// (every invariant holds: exit 0), then on the same database after a SKU's
// stock was changed behind the catalog's back (exit non-zero, the SKU named
// in the text and the JSON report).
func TestCheckCommand(t *testing.T) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "check.db")
	getenv := func(k string) string { return map[string]string{"MINIMALL_DB_DSN": dsn}[k] }
	if err := run(ctx, []string{"seed-demo"}, getenv, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"check"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("check on the seeded demo: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "every invariant holds") || !strings.Contains(out.String(), "stock_conserved") {
		t.Errorf("check output:\n%s", out.String())
	}

	d, err := db.Open(ctx, db.SQLite, dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var skuID int64
	if err := d.Writer(ctx).Raw("SELECT MIN(id) FROM skus").Scan(&skuID).Error; err != nil {
		t.Fatal(err)
	}
	if err := d.Writer(ctx).Exec("UPDATE skus SET stock = stock + 3 WHERE id = ?", skuID).Error; err != nil {
		t.Fatal(err)
	}
	d.Close()

	out.Reset()
	err = run(ctx, []string{"check"}, getenv, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "1 invariant violations") {
		t.Fatalf("check after a stock change: err %v, want 1 invariant violation\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "stock_conserved") || !strings.Contains(out.String(), "(+3 units)") {
		t.Errorf("text report does not name the stock change:\n%s", out.String())
	}

	out.Reset()
	if err := run(ctx, []string{"check", "--json"}, getenv, &out, io.Discard); err == nil {
		t.Fatal("check --json exits 0 with a broken invariant")
	}
	var rep check.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("check --json: %v\n%s", err, out.String())
	}
	if len(rep.Broken) != 1 || rep.Broken[0].Rule != check.RuleStockConserved || rep.OK() {
		t.Errorf("JSON report: %+v", rep)
	}
}
