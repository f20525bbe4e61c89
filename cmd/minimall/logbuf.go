package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logFlushEvery bounds how long a log line waits in the buffer.
const logFlushEvery = 100 * time.Millisecond

// logBuffer collects log lines (the access log above all: one line per
// request) in memory and writes them in batches: when 64 KiB are waiting,
// at least every logFlushEvery, and on Close. Without it every request costs
// one write(2) to the log; with it, a busy instance writes about ten times a
// second. What a crash loses is at most the last 100 ms of lines; run closes
// the buffer on every return, so a normal shutdown loses nothing.
type logBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLogBuffer(w io.Writer, every time.Duration) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushEvery(every)
	return b
}

// Write buffers p; a slog handler writes one whole line per call.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *logBuffer) flushEvery(every time.Duration) {
	defer close(b.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.flush()
		}
	}
}

func (b *logBuffer) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}

// Close stops the periodic flush and writes what is waiting.
func (b *logBuffer) Close() error {
	close(b.stop)
	<-b.done
	return b.flush()
}
