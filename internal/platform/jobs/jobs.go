// Package jobs runs minimall's background work: timeout cancels,
// reconciliation, refunds, auto-confirm, uploads to the platforms. Every job
// has the same shape: a step that claims at most a batch of due work from the
// database by conditional updates and reports how much it handled, run on an
// interval by one Runner.
//
// The rules every job keeps, whatever it does:
//   - Work is read from the database at every step, so nothing is lost on a
//     restart, and claimed by a conditional update, so several instances
//     running the same job never handle one item twice.
//   - A step that handled a full batch runs again at once, so a backlog
//     drains at database speed instead of one batch per interval.
//   - A failing step backs off (doubling up to MaxBackoff) and is logged once
//     when it starts failing and once when it recovers, not at every tick: a
//     database outage yields two log lines per job, not thousands.
//   - Each job has its metrics: runs, items, errors and the time of its last
//     success, labelled by job name.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Step handles at most limit items of due work and reports how many it
// handled. It is called with the runner's context; it must return when that
// context ends.
type Step func(ctx context.Context, limit int) (int, error)

// Job is one piece of background work.
type Job struct {
	// Name labels the job in logs and metrics, e.g. "order-payment-deadline".
	Name string
	// Every is the pause between steps when there is no backlog.
	Every time.Duration
	// Batch is the limit handed to Step (DefaultBatch when zero).
	Batch int
	// Step does the work.
	Step Step
}

// DefaultBatch is the batch size of a job that does not set one.
const DefaultBatch = 200

// MaxBackoff bounds the pause after repeated failures.
const MaxBackoff = time.Minute

// Runner runs jobs until its context ends.
type Runner struct {
	log  *slog.Logger
	jobs []Job

	runs        *prometheus.CounterVec
	items       *prometheus.CounterVec
	errors      *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
}

// New makes a runner whose metrics are registered on reg.
func New(log *slog.Logger, reg prometheus.Registerer) (*Runner, error) {
	if log == nil || reg == nil {
		return nil, errors.New("jobs: nil dependency")
	}
	r := &Runner{
		log: log,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minimall_job_runs_total", Help: "Steps run per background job.",
		}, []string{"job"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minimall_job_items_total", Help: "Items handled per background job.",
		}, []string{"job"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minimall_job_errors_total", Help: "Failed steps per background job.",
		}, []string{"job"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "minimall_job_last_success_timestamp_seconds", Help: "Unix time of the last successful step per background job.",
		}, []string{"job"}),
	}
	for _, c := range []prometheus.Collector{r.runs, r.items, r.errors, r.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("jobs: register metrics: %w", err)
		}
	}
	return r, nil
}

// Add registers a job. Names are unique; Every and Step are required.
func (r *Runner) Add(j Job) error {
	if j.Name == "" || j.Every <= 0 || j.Step == nil {
		return fmt.Errorf("jobs: job %q needs a name, an interval and a step", j.Name)
	}
	for _, have := range r.jobs {
		if have.Name == j.Name {
			return fmt.Errorf("jobs: job %q added twice", j.Name)
		}
	}
	if j.Batch <= 0 {
		j.Batch = DefaultBatch
	}
	r.jobs = append(r.jobs, j)
	return nil
}

// Names lists the registered jobs in the order they were added.
func (r *Runner) Names() []string {
	out := make([]string, len(r.jobs))
	for i, j := range r.jobs {
		out[i] = j.Name
	}
	return out
}

// Run runs every job until ctx ends and returns when all have stopped.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, j := range r.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, j)
		}()
	}
	wg.Wait()
}

// RunOnce runs one step of the named job now, with its metrics and logging,
// and reports what the step reported. Commands and tests use it.
func (r *Runner) RunOnce(ctx context.Context, name string) (int, error) {
	for _, j := range r.jobs {
		if j.Name == name {
			return r.step(ctx, j)
		}
	}
	return 0, fmt.Errorf("jobs: no job %q", name)
}

func (r *Runner) step(ctx context.Context, j Job) (int, error) {
	n, err := j.Step(ctx, j.Batch)
	// What a step did counts even when shutdown began while it ran; an
	// error then is the shutdown's, not the job's.
	r.runs.WithLabelValues(j.Name).Inc()
	r.items.WithLabelValues(j.Name).Add(float64(max(n, 0)))
	if ctx.Err() != nil {
		return n, err
	}
	if err != nil {
		r.errors.WithLabelValues(j.Name).Inc()
		return n, err
	}
	r.lastSuccess.WithLabelValues(j.Name).Set(float64(time.Now().Unix()))
	return n, nil
}

func (r *Runner) loop(ctx context.Context, j Job) {
	r.log.Info("job started", "job", j.Name, "every", j.Every.String())
	defer r.log.Info("job stopped", "job", j.Name)
	// Start after a random part of the interval, so instances started
	// together do not step in lockstep.
	wait := jitter(j.Every)
	failures := 0
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		n, err := r.step(ctx, j)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			failures++
			if failures == 1 {
				r.log.Error("job failing; backing off and logging again when it recovers", "job", j.Name, "err", err)
			}
			wait = backoff(j.Every, failures)
			continue
		case failures > 0:
			r.log.Info("job recovered", "job", j.Name, "failed_steps", failures)
			failures = 0
		}
		if n > 0 {
			r.log.Info("job step", "job", j.Name, "items", n)
		}
		if n >= j.Batch {
			wait = 0 // a full batch: there may be more due now
			continue
		}
		wait = j.Every + jitter(j.Every/10)
	}
}

// jitter returns a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)))
}

// backoff doubles the interval per consecutive failure, up to MaxBackoff.
func backoff(every time.Duration, failures int) time.Duration {
	d := every
	for i := 1; i < failures && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}
