package jobs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRunner(t *testing.T) (*Runner, *syncBuf, *prometheus.Registry) {
	t.Helper()
	buf := &syncBuf{}
	reg := prometheus.NewRegistry()
	r, err := New(slog.New(slog.NewTextHandler(buf, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	return r, buf, reg
}

func TestAddRefusesBadJobs(t *testing.T) {
	r, _, _ := newRunner(t)
	step := func(context.Context, int) (int, error) { return 0, nil }
	for name, j := range map[string]Job{
		"no name":     {Every: time.Second, Step: step},
		"no interval": {Name: "a", Step: step},
		"no step":     {Name: "a", Every: time.Second},
	} {
		if err := r.Add(j); err == nil {
			t.Errorf("%s: Add accepted %+v", name, j)
		}
	}
	if err := r.Add(Job{Name: "a", Every: time.Second, Step: step}); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(Job{Name: "a", Every: time.Second, Step: step}); err == nil {
		t.Error("a second job with the same name was accepted")
	}
}

// A full batch runs again at once; a short one waits for the interval.
func TestBacklogDrainsWithoutWaiting(t *testing.T) {
	r, _, reg := newRunner(t)
	var calls atomic.Int32
	done := make(chan struct{})
	backlog := 25
	if err := r.Add(Job{Name: "drain", Every: time.Hour, Batch: 10, Step: func(_ context.Context, limit int) (int, error) {
		calls.Add(1)
		n := min(limit, backlog)
		backlog -= n
		if n < limit {
			close(done)
		}
		return n, nil
	}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// The first step waits a random part of the interval; an hour is too long
	// for a test, so run the loop with a short interval copy.
	r.jobs[0].Every = 20 * time.Millisecond
	stopped := make(chan struct{})
	go func() { r.Run(ctx); close(stopped) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("backlog not drained")
	}
	cancel()
	<-stopped
	if got := calls.Load(); got != 3 {
		t.Errorf("steps = %d, want 3 (10 + 10 + 5)", got)
	}
	if got := testutil.ToFloat64(r.items.WithLabelValues("drain")); got != 25 {
		t.Errorf("items metric = %v, want 25", got)
	}
	if n, err := testutil.GatherAndCount(reg, "minimall_job_runs_total"); err != nil || n != 1 {
		t.Errorf("runs metric series = %d, %v", n, err)
	}
}

// A failing job logs once when it starts failing and once when it
// recovers, however many steps fail in between.
func TestFailuresAreLoggedOncePerOutage(t *testing.T) {
	r, logs, _ := newRunner(t)
	var calls atomic.Int32
	recovered := make(chan struct{})
	if err := r.Add(Job{Name: "flaky", Every: time.Millisecond, Step: func(context.Context, int) (int, error) {
		// The step after the first success signals the recovery: by then
		// the runner has logged it (a signal from the first success itself
		// could cancel the runner before it logs).
		switch n := calls.Add(1); {
		case n <= 4:
			return 0, errors.New("database down")
		case n == 6:
			close(recovered)
		}
		return 0, nil
	}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { r.Run(ctx); close(stopped) }()
	select {
	case <-recovered:
	case <-time.After(5 * time.Second):
		t.Fatal("job did not recover")
	}
	cancel()
	<-stopped
	out := logs.String()
	if got := strings.Count(out, "job failing"); got != 1 {
		t.Errorf("failure logged %d times, want once:\n%s", got, out)
	}
	if got := strings.Count(out, "job recovered"); got != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", got, out)
	}
	if got := testutil.ToFloat64(r.errors.WithLabelValues("flaky")); got != 4 {
		t.Errorf("errors metric = %v, want 4", got)
	}
}

func TestBackoffDoublesUpToTheBound(t *testing.T) {
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{{1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second}, {5, MaxBackoff}, {50, MaxBackoff}} {
		if got := backoff(5*time.Second, tc.failures); got != tc.want {
			t.Errorf("backoff(5s, %d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

func TestRunOnce(t *testing.T) {
	r, _, _ := newRunner(t)
	if err := r.Add(Job{Name: "one", Every: time.Hour, Batch: 7, Step: func(_ context.Context, limit int) (int, error) {
		return limit, nil
	}}); err != nil {
		t.Fatal(err)
	}
	n, err := r.RunOnce(context.Background(), "one")
	if err != nil || n != 7 {
		t.Errorf("RunOnce = %d, %v; want 7, nil", n, err)
	}
	if _, err := r.RunOnce(context.Background(), "missing"); err == nil {
		t.Error("RunOnce of an unknown job succeeded")
	}
}
