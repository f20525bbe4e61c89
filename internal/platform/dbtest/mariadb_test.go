package dbtest_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/platform/dbtest"
)

// TestPrivateMariaDBSurvivesKillAndRestart starts a private server, writes
// a committed row, kills the server, starts it again and finds the row.
func TestPrivateMariaDBSurvivesKillAndRestart(t *testing.T) {
	m := dbtest.StartMariaDB(t)
	dsn := m.CreateDatabase("probe")
	c, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec("CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	m.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = c.PingContext(ctx)
	cancel()
	if err == nil {
		t.Fatal("a paused server answered a ping")
	}
	m.Resume()
	m.Kill()
	if err := c.Ping(); err == nil {
		t.Fatal("a killed server answered a ping")
	}
	m.Start()
	var n int
	if err := c.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after a kill and restart: %d rows, %v", n, err)
	}
	t.Logf("restart took %v", m.StartTook())
}
