package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"
)

// serverProcess is `minimall serve` in a process of its own.
type serverProcess struct {
	URL    string
	cmd    *exec.Cmd
	Stdout *syncBuffer
	Stderr *syncBuffer
	done   chan struct{}
}

// startServerProcess starts the server (this test binary again, which
// TestMain turns into `minimall serve`) with env only (plus PATH and HOME)
// and waits until it listens and /healthz answers.
func startServerProcess(t *testing.T, env map[string]string) *serverProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), childEnv + "=serve"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &serverProcess{cmd: cmd, Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.Kill)
	deadline := time.Now().Add(60 * time.Second)
	for p.URL == "" {
		if m := listening.FindStringSubmatch(p.Stdout.String()); m != nil {
			p.URL = m[1]
			break
		}
		select {
		case <-p.done:
			t.Fatalf("the server process exited at start\nstderr:\n%s", p.Stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server process did not listen within 60 s\nstderr:\n%s", p.Stderr.String())
		}
	}
	for {
		code, _ := getQuiet(p.URL + "/healthz")
		if code == 200 {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never answered 200\nstderr:\n%s", p.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (p *serverProcess) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func getQuiet(url string) (int, error) {
	c := newShopClient("")
	a := c.do("GET", url, "", nil, "GET", nil)
	return a.Status, a.Err
}

// TestCrashDuringMoneyWork kills `minimall serve` with SIGKILL, twice, while
// checkouts, payment notifications, cancels and merchant refunds are in
// flight on MySQL (a private mariadbd), starts it again each time, lets the
// jobs and the platforms' retries finish what the crash interrupted, and
// then requires: everything the shop acknowledged is there (orders, cancels,
// payments the platform made, refunds), and `minimall check` is clean —
// every paid order paid exactly once by one succeeded attempt, every refund
// counted once, refunded_fen equal to the sum of processing and succeeded
// refunds, stock conserved — with nothing left pending.
func TestCrashDuringMoneyWork(t *testing.T) {
	f := newFaultShop(t)
	p := startServerProcess(t, f.env)
	c := newShopClient(p.URL)
	skus := demoSKUs(t, c, 6)
	staff := staffToken(t, c)
	var shoppers []shopper
	for i := range 6 {
		shoppers = append(shoppers, newShopper(t, c, fmt.Sprintf("crash%d", i)))
	}
	reserved := reserveTrades(t, c, shoppers[0], skus[2], 6)
	w := newWorkload(c, f.sbURL, skus, staff)
	const rounds = 2
	for round := range rounds {
		stop := w.run(t, shoppers)
		time.Sleep(2 * time.Second)
		// Notifications in flight at the moment of the kill: trades paid
		// just before it.
		w.payNow(t, reserved[:3]...)
		reserved = reserved[3:]
		time.Sleep(time.Duration(20+rand.IntN(80)) * time.Millisecond)
		p.Kill()
		killedAt := time.Now()
		stop()
		cut := 0
		for _, a := range c.between(killedAt.Add(-5*time.Second), killedAt) {
			if a.Err != nil {
				cut++
			}
		}
		p = startServerProcess(t, f.env)
		t.Logf("round %d: killed with %d requests in flight (their connections cut); serving again %v later",
			round+1, cut, time.Since(killedAt).Round(time.Millisecond))
	}
	stop := w.run(t, shoppers)
	time.Sleep(2 * time.Second)
	stop()

	w.nothingLost(t, f, 45*time.Second)
	rep := f.checkClean(t, 45*time.Second)
	t.Logf("minimall check clean: %d orders, %d payment attempts, %d refunds, %d after-sales",
		rep.Checked["orders"], rep.Checked["payment_attempts"], rep.Checked["payment_refunds"], rep.Checked["aftersales"])
}
