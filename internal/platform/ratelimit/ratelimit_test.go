package ratelimit_test

import (
	"testing"
	"time"

	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/ratelimit"
)

func TestAllowPerKey(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	l, err := ratelimit.New(120, 60, clk)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		advance time.Duration
		key     string
		n       int
		allowed int
	}{
		{name: "burst", key: "a", n: 61, allowed: 60},
		{name: "other key has its own bucket", key: "b", n: 1, allowed: 1},
		{name: "half a second refills one", advance: 500 * time.Millisecond, key: "a", n: 2, allowed: 1},
		{name: "a minute refills the burst", advance: time.Minute, key: "a", n: 61, allowed: 60},
		{name: "idle buckets are dropped and start full", advance: time.Hour, key: "a", n: 60, allowed: 60},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		got := 0
		for i := 0; i < s.n; i++ {
			if l.Allow(s.key) {
				got++
			}
		}
		if got != s.allowed {
			t.Errorf("%s: allowed %d of %d, want %d", s.name, got, s.n, s.allowed)
		}
	}
}

func TestNewRefusesBadArguments(t *testing.T) {
	if _, err := ratelimit.New(0, 1, clock.System{}); err == nil {
		t.Error("zero rate accepted")
	}
	if _, err := ratelimit.New(1, 1, nil); err == nil {
		t.Error("nil clock accepted")
	}
}
