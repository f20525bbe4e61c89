package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// cpuMeter reads the CPU time spent so far by the database server (its
// process, found through @@pid_file, when it runs on this machine), by the
// shop's server (process_cpu_seconds_total on its /metrics) and by this
// client. A phase's deltas divided by its transactions show where each
// transaction's CPU goes on a machine the three share.
type cpuMeter struct {
	dbPID  int
	client *http.Client
	url    string
}

// cpuTimes is seconds of CPU; a negative field was not readable.
type cpuTimes struct{ db, server, self float64 }

func newCPUMeter(ctx context.Context, conn *sql.DB, client *http.Client, url string) cpuMeter {
	m := cpuMeter{client: client, url: url}
	var pidFile string
	if err := conn.QueryRowContext(ctx, "SELECT @@pid_file").Scan(&pidFile); err == nil {
		if b, err := os.ReadFile(pidFile); err == nil {
			m.dbPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	return m
}

func (m cpuMeter) read(ctx context.Context) cpuTimes {
	t := cpuTimes{db: -1, server: -1, self: -1}
	if m.dbPID > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.dbPID)); err == nil {
			// Fields after the command's closing parenthesis; utime and
			// stime are the 14th and 15th fields of the whole line.
			s := string(b)
			if i := strings.LastIndexByte(s, ')'); i > 0 {
				f := strings.Fields(s[i+1:])
				if len(f) > 12 {
					u, _ := strconv.ParseFloat(f[11], 64)
					k, _ := strconv.ParseFloat(f[12], 64)
					t.db = (u + k) / 100 // USER_HZ is 100 on Linux
				}
			}
		}
	}
	if m.client != nil {
		if v, err := metric(ctx, m.client, m.url, "process_cpu_seconds_total"); err == nil {
			t.server = v
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		t.self = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	return t
}

// perTxn formats the CPU each part spent per transaction between a and b.
func perTxn(a, b cpuTimes, txns int64) string {
	if txns <= 0 {
		return "cpu per transaction: -"
	}
	f := func(x, y float64) string {
		if x < 0 || y < 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f ms", (y-x)*1000/float64(txns))
	}
	return fmt.Sprintf("cpu per transaction: database %s, server %s, load client %s",
		f(a.db, b.db), f(a.server, b.server), f(a.self, b.self))
}
