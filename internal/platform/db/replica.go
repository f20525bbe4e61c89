package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	gormmysql "gorm.io/driver/mysql"
	"gorm.io/gorm"
)

// Read replicas.
//
// The rule: a read goes to a replica only when its caller marked the context
// with MayReadReplica, and never inside a transaction (Reader returns the
// transaction first). The callers that mark are the reads that may be a
// little late by design: the catalog cache's loads, the public product and
// review pages, and the staff lists and reports. Every read of a customer's
// own orders, cart and addresses, every read that decides a write, and
// everything in a transaction stays on the primary, so a customer always
// reads what they just wrote.
//
// A replica serves only while its last check passed: the replication
// threads run and SHOW REPLICA STATUS reports Seconds_Behind_Master (or
// Seconds_Behind_Source) no more than the allowed lag. Checks run on a
// ticker, never per query; a replica that fails one is skipped until one
// passes again, and with none healthy the marked reads go to the primary.

// DefaultReplicaMaxLag is how far behind a replica may be and still serve.
const DefaultReplicaMaxLag = 2 * time.Second

// ReplicaOptions configure AddReplicas.
type ReplicaOptions struct {
	// MaxLag is the largest replication delay a serving replica may report
	// (whole seconds, as the server reports it); default DefaultReplicaMaxLag.
	MaxLag time.Duration
	// Every is the interval between checks; default a quarter of MaxLag,
	// at least 100 ms and at most one second.
	Every time.Duration
	// MaxOpenConns bounds each replica's pool (default DefaultMaxOpenConns).
	MaxOpenConns int
	// Logger receives a line whenever a replica starts or stops serving.
	Logger *slog.Logger
}

type replicaKey struct{}

// MayReadReplica marks ctx for reads that may come from a replica up to the
// configured lag behind the primary. Inside a transaction the mark has no
// effect.
func MayReadReplica(ctx context.Context) context.Context {
	return context.WithValue(ctx, replicaKey{}, true)
}

// ReadPrimary takes back a MayReadReplica mark: the reads of ctx go to the
// primary. The catalog cache uses it for products changed so recently that a
// serving replica may not have the change yet.
func ReadPrimary(ctx context.Context) context.Context {
	return context.WithValue(ctx, replicaKey{}, false)
}

func mayReadReplica(ctx context.Context) bool {
	b, _ := ctx.Value(replicaKey{}).(bool)
	return b
}

// ReplicaStatus is what the last check of one replica found.
type ReplicaStatus struct {
	Name    string        // host:port from the DSN, never the password
	Serving bool          // the last check passed
	Lag     time.Duration // reported delay; -1 when unknown (threads stopped, unreachable)
	Reason  string        // why it does not serve; empty when it does
	Checked time.Time
}

type replica struct {
	name    string
	g       *gorm.DB
	serving atomic.Bool

	mu     sync.Mutex
	status ReplicaStatus
}

type replicaSet struct {
	list   []*replica
	next   atomic.Uint64
	maxLag time.Duration
	every  time.Duration
	log    *slog.Logger
	stop   context.CancelFunc
	done   chan struct{}
}

// AddReplicas opens a pool per replica DSN (MySQL only), checks each once,
// and keeps checking them in the background until Close. A replica that
// cannot be reached at start is not an error: it is skipped until a check
// passes.
func (d *DB) AddReplicas(ctx context.Context, dsns []string, opts ReplicaOptions) error {
	if len(dsns) == 0 {
		return nil
	}
	if d.dialect != MySQL {
		return errors.New("db: read replicas need the mysql driver")
	}
	if d.replicas != nil {
		return errors.New("db: replicas already added")
	}
	if opts.MaxLag <= 0 {
		opts.MaxLag = DefaultReplicaMaxLag
	}
	if opts.Every <= 0 {
		opts.Every = min(max(opts.MaxLag/4, 100*time.Millisecond), time.Second)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	set := &replicaSet{maxLag: opts.MaxLag, every: opts.Every, log: log, done: make(chan struct{})}
	for _, dsn := range dsns {
		dsn = strings.TrimSpace(dsn)
		if dsn == "" {
			continue
		}
		norm, err := MySQLDSN(dsn)
		if err != nil {
			set.closePools()
			return fmt.Errorf("db: replica: %w", err)
		}
		name := replicaName(norm)
		norm = withIsolationOf(norm, d)
		g, err := openReplicaPool(norm, d.gcfg, opts.MaxOpenConns)
		if err == nil {
			// Replica reads get the primary's statement deadlines.
			err = bound(g, d.timeout)
		}
		if err != nil {
			set.closePools()
			return fmt.Errorf("db: replica %s: %w", name, err)
		}
		set.list = append(set.list, &replica{name: name, g: g})
	}
	set.checkAll(ctx)
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	set.stop = stop
	go set.run(runCtx)
	d.replicas = set
	return nil
}

func replicaName(norm string) string {
	i := strings.Index(norm, "@")
	j := strings.LastIndex(norm, "/")
	if i >= 0 && j > i {
		return strings.TrimSuffix(strings.TrimPrefix(norm[i+1:j], "tcp("), ")")
	}
	return "replica"
}

// withIsolationOf sets on a replica's DSN the isolation variable that the
// primary's connections use. It is not probed on the replica, which may be
// down at start: a replica runs the primary's server software.
func withIsolationOf(norm string, d *DB) string {
	if d.isolationVar == "" {
		return norm
	}
	c, err := mysql.ParseDSN(norm)
	if err != nil {
		return norm
	}
	if _, ok := c.Params[d.isolationVar]; !ok {
		c.Params[d.isolationVar] = "'READ-COMMITTED'"
	}
	return c.FormatDSN()
}

// openReplicaPool opens a pool without connecting: a replica that is down
// at start is checked again later instead of failing the start.
func openReplicaPool(norm string, gcfg *gorm.Config, maxOpen int) (*gorm.DB, error) {
	cfg := *gcfg
	cfg.DisableAutomaticPing = true
	g, err := gorm.Open(gormmysql.New(gormmysql.Config{DSN: norm, SkipInitializeWithVersion: true}), &cfg)
	if err != nil {
		return nil, err
	}
	s, _ := g.DB()
	n := maxOpen
	if n <= 0 {
		n = DefaultMaxOpenConns()
	}
	s.SetMaxOpenConns(n)
	s.SetMaxIdleConns(n)
	s.SetConnMaxLifetime(30 * time.Minute)
	s.SetConnMaxIdleTime(5 * time.Minute)
	return g, nil
}

func (s *replicaSet) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.checkAll(ctx)
		}
	}
}

func (s *replicaSet) checkAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range s.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.check(ctx, r)
		}()
	}
	wg.Wait()
}

// check asks one replica how far behind it is and updates whether it serves.
func (s *replicaSet) check(ctx context.Context, r *replica) {
	ctx, cancel := context.WithTimeout(ctx, max(s.every, time.Second))
	defer cancel()
	st := ReplicaStatus{Name: r.name, Lag: -1, Checked: time.Now()}
	lag, err := replicationLag(ctx, r.g)
	switch {
	case err != nil:
		st.Reason = err.Error()
	case lag > s.maxLag:
		st.Lag, st.Reason = lag, fmt.Sprintf("%s behind the primary, more than %s", lag, s.maxLag)
	default:
		st.Lag, st.Serving = lag, true
	}
	was := r.serving.Swap(st.Serving)
	r.mu.Lock()
	r.status = st
	r.mu.Unlock()
	switch {
	case was && !st.Serving:
		s.log.Warn("read replica skipped", "replica", r.name, "reason", st.Reason)
	case !was && st.Serving:
		s.log.Info("read replica serving", "replica", r.name, "lag", st.Lag)
	}
}

// replicationLag reads SHOW REPLICA STATUS (MariaDB 10.5.1+, MySQL 8.0.22+):
// both threads must run and the reported delay must be known.
func replicationLag(ctx context.Context, g *gorm.DB) (time.Duration, error) {
	s, err := g.DB()
	if err != nil {
		return 0, err
	}
	rows, err := s.QueryContext(ctx, "SHOW REPLICA STATUS")
	if err != nil {
		return 0, fmt.Errorf("replication status: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, err
		}
		return 0, errors.New("not a replica (SHOW REPLICA STATUS is empty)")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return 0, err
	}
	field := func(names ...string) sql.NullString {
		for i, c := range cols {
			for _, n := range names {
				if strings.EqualFold(c, n) {
					return vals[i]
				}
			}
		}
		return sql.NullString{}
	}
	if io := field("Slave_IO_Running", "Replica_IO_Running"); io.String != "Yes" {
		return 0, fmt.Errorf("replication I/O thread is %q", io.String)
	}
	if sq := field("Slave_SQL_Running", "Replica_SQL_Running"); sq.String != "Yes" {
		return 0, fmt.Errorf("replication SQL thread is %q", sq.String)
	}
	behind := field("Seconds_Behind_Master", "Seconds_Behind_Source")
	if !behind.Valid {
		return 0, errors.New("replication delay unknown")
	}
	secs, err := strconv.ParseInt(behind.String, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("replication delay %q: %w", behind.String, err)
	}
	return time.Duration(secs) * time.Second, nil
}

// pick returns a serving replica's pool, in turn, or nil when none serves.
func (s *replicaSet) pick() *gorm.DB {
	if s == nil {
		return nil
	}
	n := uint64(len(s.list))
	start := s.next.Add(1)
	for i := range n {
		r := s.list[(start+i)%n]
		if r.serving.Load() {
			return r.g
		}
	}
	return nil
}

func (s *replicaSet) close() {
	if s == nil {
		return
	}
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	s.closePools()
}

func (s *replicaSet) closePools() {
	for _, r := range s.list {
		if sq, err := r.g.DB(); err == nil {
			_ = sq.Close()
		}
	}
}

// Replicas reports the last check of every configured replica.
func (d *DB) Replicas() []ReplicaStatus {
	if d.replicas == nil {
		return nil
	}
	out := make([]ReplicaStatus, len(d.replicas.list))
	for i, r := range d.replicas.list {
		r.mu.Lock()
		out[i] = r.status
		r.mu.Unlock()
	}
	return out
}

// ReplicaWindow is how long after a commit a serving replica may still lack
// it: the allowed lag, plus the second the servers round it down by, plus
// one interval between checks. Zero without replicas.
func (d *DB) ReplicaWindow() time.Duration {
	if d.replicas == nil {
		return 0
	}
	return d.replicas.maxLag + time.Second + d.replicas.every
}

// CheckReplicas checks every replica now, as the background checks do on
// their schedule.
func (d *DB) CheckReplicas(ctx context.Context) {
	if d.replicas != nil {
		d.replicas.checkAll(ctx)
	}
}
