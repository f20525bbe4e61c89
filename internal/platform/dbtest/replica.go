package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/minimall/minimall/internal/platform/db"
)

// EnvMySQLReplicaDSN names a go-sql-driver DSN without a database name of a
// server replicating from the one at EnvMySQLDSN, such as the one
// scripts/start-mysql-replica.sh starts. That replica applies only databases
// whose names start with minimall_test_repl.
const EnvMySQLReplicaDSN = "MINIMALL_TEST_MYSQL_REPLICA_DSN"

// Replicated returns a migrated MySQL database of its own on the primary,
// with the replica attached to it (db.DB.AddReplicas with opts), and a plain
// connection to the same database on the replica, for a test to look at or
// hold up the replica directly. It waits until the replica has the schema
// and serves. Without both DSNs the test skips with a message, and fails
// under CI=true.
func Replicated(t testing.TB, opts db.ReplicaOptions) (*db.DB, *sql.DB) {
	t.Helper()
	primaryBase, replicaBase := os.Getenv(EnvMySQLDSN), os.Getenv(EnvMySQLReplicaDSN)
	if primaryBase == "" || replicaBase == "" {
		msg := EnvMySQLDSN + " and " + EnvMySQLReplicaDSN + " must both be set (scripts/start-mysql.sh replica)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx := context.Background()
	pcfg, err := mysql.ParseDSN(primaryBase)
	if err != nil {
		t.Fatal(err)
	}
	rcfg, err := mysql.ParseDSN(replicaBase)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", pcfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "minimall_test_repl_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		admin.Close()
		t.Fatalf("create %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name)
		admin.Close()
	})
	pcfg.DBName, rcfg.DBName = name, name
	d, err := db.Open(ctx, db.MySQL, pcfg.FormatDSN(), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	version, err := d.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The replica's own connection, to the replicated database.
	rcfg.ParseTime = true
	replica, err := sql.Open("mysql", rcfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { replica.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		var v int64
		err := replica.QueryRowContext(ctx, "SELECT MAX(version_id) FROM goose_db_version").Scan(&v)
		if err == nil && v == version {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica has not applied the schema of %s in 30s (last: %d, %v)", name, v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := d.AddReplicas(ctx, []string{rcfg.FormatDSN()}, opts); err != nil {
		t.Fatal(err)
	}
	if st := d.Replicas(); len(st) != 1 || !st[0].Serving {
		t.Fatalf("the replica does not serve: %+v", st)
	}
	return d, replica
}
