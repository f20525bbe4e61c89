package sandbox_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/sandbox"
)

// TestNotifierRetriesUntilAcknowledged: a notification is built afresh for
// every attempt, retried on the schedule until the merchant's answer counts
// as an acknowledgement, and every attempt is recorded; copies delivered
// now are not retried, and only a genuine notification's acknowledgement
// closes Acknowledged.
func TestNotifierRetriesUntilAcknowledged(t *testing.T) {
	var calls atomic.Int32
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "fail", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("success"))
	}))
	t.Cleanup(merchant.Close)
	n := sandbox.NewNotifier([]time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}, sandbox.AckedBody("success"))
	t.Cleanup(n.Stop)
	var builds atomic.Int32
	build := func(genuine bool) func() (sandbox.Notification, error) {
		return func() (sandbox.Notification, error) {
			builds.Add(1)
			return sandbox.Notification{URL: merchant.URL, Header: http.Header{}, ID: "n1", Genuine: genuine}, nil
		}
	}
	n.Send("T1", build(true))
	select {
	case <-n.Acknowledged("T1"):
	case <-time.After(10 * time.Second):
		t.Fatalf("not acknowledged: %+v", n.Deliveries("T1"))
	}
	ds := n.Deliveries("T1")
	if len(ds) != 3 || ds[0].Status != http.StatusInternalServerError || ds[2].Body != "success" || builds.Load() != 3 {
		t.Fatalf("deliveries %+v after %d builds, want 3 attempts, the last acknowledged", ds, builds.Load())
	}
	if got := n.Now(context.Background(), "T2", 4, build(false)); len(got) != 4 {
		t.Fatalf("%d copies delivered, want 4", len(got))
	}
	select {
	case <-n.Acknowledged("T2"):
		t.Fatal("a test variant's acknowledgement counted as the genuine notification's")
	default:
	}
	if got := len(n.Deliveries("T2")); got != 4 {
		t.Fatalf("%d attempts recorded, want 4 (copies are not retried)", got)
	}
}
