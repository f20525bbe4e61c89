package dbtest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB binaries a private server is made with.
const (
	mariadbd         = "/usr/sbin/mariadbd"
	mariadbInstallDB = "mariadb-install-db"
)

// MariaDB is a MariaDB server of a test's own: its own data directory,
// port and socket, so a test may hang it, kill it and start it again
// without touching the shared server other tests use. Fault tests (a
// database that hangs or goes down) start one with StartMariaDB.
type MariaDB struct {
	t       testing.TB
	dir     string
	port    int
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	paused  bool
	started time.Duration // how long the last start took
}

// StartMariaDB initialises a data directory and starts a private mariadbd
// on a free port; the server is killed and its files removed when the test
// ends. Like the MySQL variants of store tests it runs only when
// MINIMALL_TEST_MYSQL_DSN is set (CI sets it), skips visibly otherwise, and
// fails under CI=true when it cannot run.
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	if os.Getenv(EnvMySQLDSN) == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("dbtest: %s must be set under CI", EnvMySQLDSN)
		}
		t.Skipf("private MariaDB skipped: set %s to run database fault tests", EnvMySQLDSN)
	}
	if _, err := os.Stat(mariadbd); err != nil {
		t.Fatalf("dbtest: %s is needed for database fault tests: %v", mariadbd, err)
	}
	// A short path: the socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "mmdb")
	if err != nil {
		t.Fatal(err)
	}
	m := &MariaDB{t: t, dir: dir}
	t.Cleanup(func() {
		m.Kill()
		_ = os.RemoveAll(dir)
	})
	args := []string{"--no-defaults", "--datadir=" + m.dataDir(), "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	install := exec.Command(mariadbInstallDB, args...)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("dbtest: %s: %v\n%s", mariadbInstallDB, err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.port = ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	m.Start()
	return m
}

func (m *MariaDB) dataDir() string { return filepath.Join(m.dir, "data") }

// DSN is a go-sql-driver DSN without a database name, in the form of
// MINIMALL_TEST_MYSQL_DSN. Grants are skipped: root needs no password.
func (m *MariaDB) DSN() string {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "tcp"
	c.Addr = "127.0.0.1:" + strconv.Itoa(m.port)
	return c.FormatDSN()
}

// CreateDatabase creates a database and returns its DSN.
func (m *MariaDB) CreateDatabase(name string) string {
	m.t.Helper()
	admin, err := sql.Open("mysql", m.DSN())
	if err != nil {
		m.t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		m.t.Fatalf("create database %s: %v", name, err)
	}
	c, _ := mysql.ParseDSN(m.DSN())
	c.DBName = name
	return c.FormatDSN()
}

// Start starts the server on its data directory and port and waits until
// it answers (a restart after Stop or Kill recovers the data as after a
// crash). It fails the test after 60 s.
func (m *MariaDB) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		m.t.Fatal("dbtest: mariadbd is already running")
	}
	args := []string{"--no-defaults", "--datadir=" + m.dataDir(), "--port=" + strconv.Itoa(m.port),
		"--bind-address=127.0.0.1", "--socket=" + filepath.Join(m.dir, "sock"), "--pid-file=" + filepath.Join(m.dir, "pid"),
		"--log-error=" + filepath.Join(m.dir, "error.log"), "--skip-grant-tables", "--skip-name-resolve",
		"--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M", "--max-connections=300",
		// A killed mariadbd keeps what it handed to the operating system:
		// committed transactions survive a process kill without an fsync
		// per commit (an operating system crash is not what these tests
		// simulate).
		"--innodb-flush-log-at-trx-commit=2", "--skip-innodb-doublewrite", "--skip-log-bin",
		"--performance-schema=OFF"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	cmd := exec.Command(mariadbd, args...)
	// Its own process group: a signal meant for the test never reaches it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("dbtest: start mariadbd: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	m.cmd, m.exited, m.paused = cmd, exited, false
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := m.ping(); err == nil {
			break
		} else if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(m.dir, "error.log"))
			m.t.Fatalf("dbtest: mariadbd did not answer within 60 s: %v\n%s", err, log)
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(m.dir, "error.log"))
			m.cmd = nil
			m.t.Fatalf("dbtest: mariadbd exited at start\n%s", log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	m.started = time.Since(start)
}

// StartTook is how long the last Start waited for the server to answer.
func (m *MariaDB) StartTook() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.started
}

func (m *MariaDB) ping() error {
	c, err := sql.Open("mysql", m.DSN()+"?timeout=1s")
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.PingContext(ctx)
}

// Pause stops the server with SIGSTOP: it keeps its connections and
// accepts new ones at the kernel, but answers nothing, as a hung or
// overloaded database does. It returns once every thread of the server has
// stopped (a signal is delivered asynchronously, and a running thread could
// still answer a statement or two).
func (m *MariaDB) Pause() {
	m.t.Helper()
	m.signal(syscall.SIGSTOP, true)
	m.mu.Lock()
	pid := m.cmd.Process.Pid
	m.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for !allStopped(pid) {
		if time.Now().After(deadline) {
			m.t.Fatalf("dbtest: mariadbd (pid %d) did not stop within 10 s of SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// allStopped reports whether every thread of process pid is in the stopped
// state ("T" in /proc/<pid>/task/<tid>/stat).
func allStopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			return false
		}
		// The state follows the command name in parentheses, which may
		// itself hold spaces or parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' && b[i+2] != 't' {
			return false
		}
	}
	return true
}

// Resume continues a paused server (SIGCONT).
func (m *MariaDB) Resume() { m.signal(syscall.SIGCONT, false) }

func (m *MariaDB) signal(sig syscall.Signal, paused bool) {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		m.t.Fatal("dbtest: mariadbd is not running")
	}
	if err := m.cmd.Process.Signal(sig); err != nil {
		m.t.Fatalf("dbtest: signal mariadbd: %v", err)
	}
	m.paused = paused
}

// Stop shuts the server down with SIGTERM (a clean shutdown) and waits
// until it has exited.
func (m *MariaDB) Stop() { m.end(syscall.SIGTERM, 60*time.Second) }

// Kill kills the server with SIGKILL (a crash) and waits until it has
// exited. It does nothing when the server is not running.
func (m *MariaDB) Kill() { m.end(syscall.SIGKILL, 10*time.Second) }

func (m *MariaDB) end(sig syscall.Signal, wait time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(sig)
	if m.paused {
		// A stopped process handles SIGTERM only once it runs again.
		_ = m.cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-m.exited:
	case <-time.After(wait):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd, m.paused = nil, false
}

// String names the server for messages.
func (m *MariaDB) String() string { return fmt.Sprintf("mariadbd on 127.0.0.1:%d (%s)", m.port, m.dir) }
