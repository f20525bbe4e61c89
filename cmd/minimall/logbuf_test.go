package main

import (
	"strings"
	"testing"
	"time"
)

// Lines wait in the buffer until the periodic flush, which comes within the
// interval, and Close writes whatever is left.
func TestLogBufferFlushesWithinItsIntervalAndOnClose(t *testing.T) {
	var out syncBuffer
	b := newLogBuffer(&out, 500*time.Millisecond)
	if _, err := b.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "" {
		t.Fatalf("written through at once: %q", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for out.String() != "one\n" {
		if time.Now().After(deadline) {
			t.Fatalf("not flushed within 2s: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	b2 := newLogBuffer(&out, time.Hour)
	if _, err := b2.Write([]byte("two\n")); err != nil {
		t.Fatal(err)
	}
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasSuffix(got, "two\n") {
		t.Fatalf("after Close: %q", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
