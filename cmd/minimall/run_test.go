package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer that tests may read while run writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a minimall started through run for an end-to-end test.
type server struct {
	URL    string
	Stdout *syncBuffer
	Stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Stop ends run as SIGTERM would and returns its error.
func (s *server) Stop(t *testing.T) error {
	t.Helper()
	s.once.Do(func() {
		s.cancel()
		select {
		case s.err = <-s.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("run did not return after its context ended\nstderr:\n%s", s.Stderr.String())
		}
	})
	return s.err
}

var listening = regexp.MustCompile(`minimall listening on (http://\S+)`)

// startServer calls run with args and env (on top of a temporary SQLite file
// and port 0), waits until /healthz answers and stops it when the test ends.
func startServer(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	vars := map[string]string{
		"MINIMALL_HTTP_ADDR":    "127.0.0.1:0",
		"MINIMALL_SANDBOX_ADDR": "127.0.0.1:0",
		"MINIMALL_DB_DSN":       filepath.Join(t.TempDir(), "e2e.db"),
	}
	for k, v := range env {
		vars[k] = v
	}
	getenv := func(k string) string { return vars[k] }
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, args, getenv, s.Stdout, s.Stderr) }()
	deadline := time.Now().Add(60 * time.Second)
	for s.URL == "" {
		if m := listening.FindStringSubmatch(s.Stdout.String()); m != nil {
			s.URL = m[1]
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("run returned before listening: %v\nstderr:\n%s", err, s.Stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server did not start\nstderr:\n%s", s.Stderr.String())
		}
	}
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never answered 200: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { _ = s.Stop(t) })
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeDemoAnswersOperationsRoutes(t *testing.T) {
	s := startServer(t, nil, "serve", "--demo")
	for _, tc := range []struct {
		path, want string
	}{
		{"/healthz", `"status":"ok"`},
		{"/readyz", `"database":"ok"`},
		{"/metrics", "minimall_http_requests_total"},
	} {
		code, body := get(t, s.URL+tc.path)
		if code != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d %q, want 200 containing %q", tc.path, code, body, tc.want)
		}
	}
	code, body := get(t, s.URL+"/api/v1/no-such-route")
	if code != http.StatusNotFound || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("unknown route = %d %s, want 404 not_found", code, body)
	}
	hostPort := strings.TrimPrefix(s.URL, "http://")
	var out, errb syncBuffer
	check := func(k string) string {
		if k == "MINIMALL_HTTP_ADDR" {
			return hostPort
		}
		return ""
	}
	if err := run(context.Background(), []string{"healthcheck"}, check, &out, &errb); err != nil {
		t.Errorf("healthcheck against a live server: %v", err)
	}
	if err := s.Stop(t); err != nil {
		t.Fatalf("run after SIGTERM-equivalent: %v", err)
	}
	if err := run(context.Background(), []string{"healthcheck"}, check, &out, &errb); err == nil {
		t.Error("healthcheck succeeded against a stopped server")
	}
}

func TestServeRefusesUnmigratedDatabase(t *testing.T) {
	vars := map[string]string{
		"MINIMALL_HTTP_ADDR": "127.0.0.1:0",
		"MINIMALL_DB_DSN":    filepath.Join(t.TempDir(), "fresh.db"),
	}
	var out, errb syncBuffer
	err := run(context.Background(), []string{"serve"}, func(k string) string { return vars[k] }, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "minimall migrate") {
		t.Fatalf("serve on an unmigrated database = %v, want a refusal naming `minimall migrate`", err)
	}
	if err := run(context.Background(), []string{"migrate"}, func(k string) string { return vars[k] }, &out, &errb); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(out.String(), "database schema at version") {
		t.Fatalf("migrate printed %q", out.String())
	}
}

func TestRunRejectsBadInvocations(t *testing.T) {
	none := func(string) string { return "" }
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no command", nil, nil, "no command"},
		{"unknown command", []string{"frobnicate"}, nil, "unknown command"},
		{"stray argument", []string{"migrate", "extra"}, nil, "unexpected arguments"},
		{"bad config", []string{"migrate"}, map[string]string{"MINIMALL_HTTP_ADDR": "nope"}, "MINIMALL_HTTP_ADDR"},
		{"demo in production", []string{"serve", "--demo"}, map[string]string{
			"MINIMALL_ENV": "production", "MINIMALL_JWT_SECRET": strings.Repeat("s", 40),
		}, "production"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := none
			if tc.env != nil {
				getenv = func(k string) string { return tc.env[k] }
			}
			var out, errb syncBuffer
			err := run(context.Background(), tc.args, getenv, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%v) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

// TestHelpExitsZero: --help on a command prints its flags and is not an error.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"serve", "--help"}, {"migrate", "-h"}, {"help"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
		if err != nil {
			t.Errorf("run %v = %v, want nil", args, err)
		}
		if out.Len()+errOut.Len() == 0 {
			t.Errorf("run %v printed nothing", args)
		}
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--nope"}, func(string) string { return "" }, &out, &errOut); err == nil {
		t.Error("an unknown flag must still fail")
	}
}
