package db

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A busy database makes every background load slow at once: they are logged
// above a higher threshold and at most once a minute, while a slow statement
// in a request is logged each time.
func TestSlowBackgroundSQLIsNotLoggedEachTime(t *testing.T) {
	var buf bytes.Buffer
	g := newGormLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	stmt := func() (string, int64) { return "SELECT 1", 1 }
	bg := Background(context.Background())
	lines := func() int { return strings.Count(buf.String(), "\n") }

	g.Trace(bg, time.Now().Add(-400*time.Millisecond), stmt, nil)
	if n := lines(); n != 0 {
		t.Fatalf("a 400 ms background load was logged: %s", buf.String())
	}
	for i := 0; i < 20; i++ {
		g.Trace(bg, time.Now().Add(-2*time.Second), stmt, nil)
	}
	if n := lines(); n != 1 || !strings.Contains(buf.String(), "slow background sql") {
		t.Fatalf("20 slow background loads logged %d lines, want 1:\n%s", n, buf.String())
	}
	buf.Reset()
	for i := 0; i < 3; i++ {
		g.Trace(context.Background(), time.Now().Add(-400*time.Millisecond), stmt, nil)
	}
	if n := lines(); n != 3 {
		t.Errorf("3 slow request statements logged %d lines, want 3", n)
	}
}

// Logged SQL carries placeholders, never the values (phone numbers,
// addresses).
func TestLoggedSQLHasNoValues(t *testing.T) {
	var buf bytes.Buffer
	d, err := Open(context.Background(), "sqlite", t.TempDir()+"/t.db", Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// A failing statement is logged with its SQL.
	_ = d.Writer(context.Background()).Exec("INSERT INTO no_such_table (phone, detail) VALUES (?, ?)", "13800138000", "文三路 1 号").Error
	out := buf.String()
	if !strings.Contains(out, "no_such_table") {
		t.Fatalf("the failing statement was not logged: %s", out)
	}
	if strings.Contains(out, "13800138000") || strings.Contains(out, "文三路") {
		t.Errorf("values reached the log: %s", out)
	}
}
