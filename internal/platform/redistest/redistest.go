// Package redistest gives tests a Redis: the shared one at 127.0.0.1:6379
// under a key prefix of their own, or a private redis-server a test starts
// and stops on its own port to see an outage. Without Redis a test skips
// with a message, and fails under CI=true (CI machines run Redis).
package redistest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/minimall/minimall/internal/platform/redisx"
)

// Addr is where CI and the development machines run Redis.
const Addr = "127.0.0.1:6379"

// missing skips the test, or fails it under CI.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("redistest: "+format+" (Redis is required under CI)", args...)
	}
	t.Skipf("Redis skipped: "+format, args...)
}

// Shared checks that the shared Redis answers and returns its address.
func Shared(t testing.TB) string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr, DialTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		missing(t, "%s does not answer PING (%v)", Addr, err)
	}
	return Addr
}

var seq atomic.Int64

// Prefix returns a key prefix no other test or run uses, and deletes its
// keys from the shared Redis when the test ends.
func Prefix(t testing.TB) string {
	t.Helper()
	p := fmt.Sprintf("minimall-test:%d:%d:%d:", os.Getpid(), time.Now().UnixNano(), seq.Add(1))
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: Addr})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		// redis_rate puts its own "rate:" before our keys.
		for _, pattern := range []string{p + "*", "rate:" + p + "*"} {
			iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
	})
	return p
}

// Client returns a redisx client on addr under prefix with its own metrics
// registry (returned too) and a logger writing to log (io.Discard when nil).
func Client(t testing.TB, addr, prefix string, log io.Writer) (*redisx.Client, *prometheus.Registry) {
	t.Helper()
	if log == nil {
		log = io.Discard
	}
	reg := prometheus.NewRegistry()
	c, err := redisx.New(redisx.Options{Addr: addr, Prefix: prefix, Registry: reg,
		Log: slog.New(slog.NewTextHandler(log, nil)), RetryEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, reg
}

// Server is a private redis-server on a port of its own.
type Server struct {
	Addr string
	dir  string
	cmd  *exec.Cmd
}

// Start starts a private redis-server (nothing kept on disk) and stops it
// when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "no redis-server binary (%v)", err)
	}
	s := &Server{dir: t.TempDir()}
	s.Addr = "127.0.0.1:" + strconv.Itoa(FreePort(t))
	s.start(t, bin)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

func (s *Server) start(t testing.TB, bin string) {
	t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			t.Fatalf("private redis-server on %s does not answer: %v\n%s", s.Addr, err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (as an outage would) and waits for it to exit.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	s.start(t, bin)
}

// FreePort returns a TCP port nothing listens on at the moment of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ClosedAddr returns a loopback address where nothing listens: a Redis that
// is down.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}

// Counter returns the value of the counter or gauge name{label=value} in
// reg, 0 when it has no such series.
func Counter(t testing.TB, reg prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// Lines counts the lines of log text that contain every one of parts.
func Lines(log string, parts ...string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			n++
		}
	}
	return n
}
