package db_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// whoAnswers reads the marker row that only the replica holds: "replica"
// when the read went there, "" when it went to the primary.
func whoAnswers(t *testing.T, ctx context.Context, d *db.DB) string {
	t.Helper()
	var src []string
	if err := d.Reader(ctx).Raw("SELECT src FROM replica_probe WHERE id = 1").Scan(&src).Error; err != nil {
		t.Fatal(err)
	}
	if len(src) == 0 {
		return ""
	}
	return src[0]
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Reads marked MayReadReplica go to a serving replica; unmarked reads and
// everything inside a transaction go to the primary; a replica that lags
// more than the allowed delay is skipped until it catches up, and one that
// is down never serves.
func TestReplicaRouting(t *testing.T) {
	// Checks are driven by the test (CheckReplicas); the background ones
	// run every 100 ms as well.
	d, replica := dbtest.Replicated(t, db.ReplicaOptions{MaxLag: time.Second, Every: 100 * time.Millisecond})
	ctx := context.Background()
	w := d.Writer(ctx)
	if err := w.Exec("CREATE TABLE replica_probe (id INT PRIMARY KEY, src VARCHAR(16) NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
	if err := w.Exec("CREATE TABLE replica_rows (id INT PRIMARY KEY, v INT NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
	if err := w.Exec("INSERT INTO replica_rows (id, v) VALUES (1, 1)").Error; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica_rows replicated", 10*time.Second, func() bool {
		var v int
		return replica.QueryRowContext(ctx, "SELECT v FROM replica_rows WHERE id = 1").Scan(&v) == nil && v == 1
	})
	// A row written to the replica alone (the primary never writes this
	// table, so replication is not disturbed) tells who answered.
	if _, err := replica.ExecContext(ctx, "INSERT INTO replica_probe (id, src) VALUES (1, 'replica')"); err != nil {
		t.Fatal(err)
	}

	marked := db.MayReadReplica(ctx)
	if got := whoAnswers(t, marked, d); got != "replica" {
		t.Fatalf("marked read answered by %q, want the replica", got)
	}
	if got := whoAnswers(t, ctx, d); got != "" {
		t.Fatalf("unmarked read answered by %q, want the primary", got)
	}
	if got := whoAnswers(t, db.ReadPrimary(marked), d); got != "" {
		t.Fatalf("ReadPrimary read answered by %q, want the primary", got)
	}
	if err := d.Tx(marked, func(ctx context.Context) error {
		if got := whoAnswers(t, ctx, d); got != "" {
			t.Errorf("read in a transaction answered by %q, want the primary", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Hold the replica up: a transaction on the replica locks the row the
	// next replicated update needs, so the replica's SQL thread waits and
	// its reported delay grows past the 1 s allowed.
	hold, err := replica.BeginTx(ctx, &sql.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	if _, err := hold.ExecContext(ctx, "SELECT v FROM replica_rows WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	if err := w.Exec("UPDATE replica_rows SET v = 2 WHERE id = 1").Error; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lagging replica skipped", 15*time.Second, func() bool {
		d.CheckReplicas(ctx)
		return !d.Replicas()[0].Serving
	})
	st := d.Replicas()[0]
	if st.Lag <= time.Second || st.Reason == "" {
		t.Fatalf("skipped replica status %+v, want a lag above 1s and a reason", st)
	}
	if got := whoAnswers(t, marked, d); got != "" {
		t.Fatalf("with the replica %s behind, a marked read answered by %q, want the primary", st.Lag, got)
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica serving again after catching up", 15*time.Second, func() bool {
		d.CheckReplicas(ctx)
		return d.Replicas()[0].Serving
	})
	if got := whoAnswers(t, marked, d); got != "replica" {
		t.Fatalf("after catching up, a marked read answered by %q, want the replica", got)
	}
}

// A replica that cannot be reached is skipped from the start, without
// failing the start, and the marked reads go to the others or the primary.
func TestReplicaDownIsSkipped(t *testing.T) {
	d := dbtest.MySQL(t)
	ctx := context.Background()
	// Port 1 on the loopback refuses connections at once.
	if err := d.AddReplicas(ctx, []string{"minimall_test:x@tcp(127.0.0.1:1)/nothing"}, db.ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	st := d.Replicas()
	if len(st) != 1 || st[0].Serving || st[0].Reason == "" || st[0].Name != "127.0.0.1:1" {
		t.Fatalf("status of a replica that is down: %+v", st)
	}
	var one int
	if err := d.Reader(db.MayReadReplica(ctx)).Raw("SELECT 1").Scan(&one).Error; err != nil || one != 1 {
		t.Fatalf("marked read with the only replica down: %d, %v", one, err)
	}
}

// Every MySQL connection runs at READ COMMITTED from the start, so no
// transaction has to set it.
func TestMySQLConnectionsAreReadCommitted(t *testing.T) {
	d := dbtest.MySQL(t)
	ctx := context.Background()
	var level string
	if err := d.Tx(ctx, func(ctx context.Context) error {
		return d.Writer(ctx).Raw("SELECT @@SESSION.tx_isolation").Scan(&level).Error
	}); err != nil {
		if err := d.Tx(ctx, func(ctx context.Context) error {
			return d.Writer(ctx).Raw("SELECT @@SESSION.transaction_isolation").Scan(&level).Error
		}); err != nil {
			t.Fatal(err)
		}
	}
	if level != "READ-COMMITTED" {
		t.Fatalf("isolation in a transaction: %q, want READ-COMMITTED", level)
	}
}
