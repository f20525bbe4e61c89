package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/check"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/httpx"
	"github.com/minimall/minimall/internal/platform/redact"
)

const usage = `usage: minimall <command> [flags]

commands:
  serve [--demo]   serve the API (--demo: migrate, seed an empty database, run the sandbox)
  migrate          apply pending database migrations
  seed-demo        migrate and seed demo data into an empty database
  sandbox          run the platform sandbox on its own
  healthcheck      exit 0 when the local server answers /healthz (container health checks)
  check [--json]   read the database and report every broken money or stock invariant;
                   exit status 1 when one is broken (run it after an incident)

every command takes --config FILE (or MINIMALL_CONFIG); MINIMALL_* variables override it.
`

// shutdownGrace bounds how long in-flight requests may take after SIGTERM.
const shutdownGrace = 20 * time.Second

// run is the whole program: main only calls it, and end-to-end tests call it
// with their own arguments, environment and context.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("MINIMALL_CONFIG"), "YAML configuration file")
	demo, asJSON := false, false
	switch cmd {
	case "serve":
		fs.BoolVar(&demo, "demo", false, "migrate, seed demo data and run the sandbox")
	case "check":
		fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	}
	switch cmd {
	case "serve", "migrate", "seed-demo", "sandbox", "healthcheck", "check":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			// --help asked for: the flags went to stderr; that is success.
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %v", cmd, fs.Args())
	}
	cfg, err := config.Load(*configPath, getenv)
	if err != nil {
		return err
	}
	// Log lines, the access log above all, are written in batches (at least
	// every 100 ms, and on every return from here).
	logs := newLogBuffer(stderr, logFlushEvery)
	defer logs.Close()
	log := newLogger(cfg, logs)
	switch cmd {
	case "serve":
		return serve(ctx, cfg, demo, log, stdout)
	case "migrate":
		return migrate(ctx, cfg, log, stdout)
	case "seed-demo":
		return seedDemo(ctx, cfg, log, stdout)
	case "healthcheck":
		return healthcheck(ctx, cfg)
	case "check":
		return runCheck(ctx, cfg, log, asJSON, stdout)
	default:
		return runSandbox(ctx, cfg, log, stdout)
	}
}

// newLogger writes JSON lines in production and text otherwise; every line
// goes through redact.Handler, which masks phone numbers wherever they
// appear (docs/security.md).
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	if cfg.Env == config.EnvProduction {
		return slog.New(redact.NewHandler(slog.NewJSONHandler(w, nil)))
	}
	return slog.New(redact.NewHandler(slog.NewTextHandler(w, nil)))
}

func openDB(ctx context.Context, cfg *config.Config, log *slog.Logger) (*db.DB, error) {
	return db.Open(ctx, cfg.DB.Driver, cfg.DB.DSN, db.Options{Logger: log})
}

// addReplicas attaches the configured read replicas; a replica that is down
// at start is skipped until its checks pass, not an error.
func addReplicas(ctx context.Context, cfg *config.Config, d *db.DB, log *slog.Logger) error {
	if len(cfg.DB.ReplicaDSNs) == 0 {
		return nil
	}
	if err := d.AddReplicas(ctx, cfg.DB.ReplicaDSNs, db.ReplicaOptions{MaxLag: cfg.DB.ReplicaMaxLag, Logger: log}); err != nil {
		return err
	}
	for _, r := range d.Replicas() {
		log.Info("read replica", "replica", r.Name, "serving", r.Serving, "lag", r.Lag, "reason", r.Reason)
	}
	return nil
}

func migrate(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer) error {
	d, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	v, err := d.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database schema at version %d\n", v)
	return nil
}

func serve(ctx context.Context, cfg *config.Config, demo bool, log *slog.Logger, stdout io.Writer) error {
	if demo && cfg.Env == config.EnvProduction {
		return errors.New("serve --demo is refused in production (MINIMALL_ENV=production)")
	}
	// The server bounds each unit of database work by MINIMALL_DB_TIMEOUT;
	// the other commands (migrate, check) may run long statements.
	d, err := db.Open(ctx, cfg.DB.Driver, cfg.DB.DSN, db.Options{Logger: log, Timeout: cfg.DB.Timeout})
	if err != nil {
		return err
	}
	defer d.Close()
	var demoSandbox *runningSandbox
	if demo {
		cfg.Media.AllowedHosts = append(cfg.Media.AllowedHosts, catalog.DemoImageHost)
		if _, err := d.Migrate(ctx); err != nil {
			return err
		}
		if err := seedDemoData(ctx, cfg, d, clock.System{}, stdout); err != nil {
			return err
		}
		sb, err := startSandbox(cfg, log)
		if err != nil {
			return err
		}
		defer sb.close()
		sb.pointAt(cfg)
		demoSandbox = sb
		fmt.Fprintf(stdout, "sandbox listening on %s (login codes: test-<name>, bad-code, busy, risky, slow-down)\n", sb.base)
	} else if err := d.CheckSchema(ctx); err != nil {
		return err
	}
	if err := addReplicas(ctx, cfg, d, log); err != nil {
		return err
	}
	if err := bootstrapOwner(ctx, cfg, d, clock.System{}, log); err != nil {
		return err
	}
	a, err := app.New(cfg, d, log, clock.System{})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (MINIMALL_HTTP_ADDR): %w", cfg.HTTP.Addr, err)
	}
	fmt.Fprintf(stdout, "minimall listening on http://%s\n", ln.Addr())
	if demoSandbox != nil {
		// The sandbox pushes content-check verdicts to this listener.
		demoSandbox.sb.SetWeChatPushURL("http://"+ln.Addr().String()+pushPath, false)
	}

	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var jobs sync.WaitGroup
	jobs.Add(1)
	go func() {
		defer jobs.Done()
		a.RunJobs(jobsCtx)
	}()
	err = httpx.Serve(ctx, ln, a.Handler(), shutdownGrace, log)
	stopJobs()
	jobs.Wait()
	log.Info("stopped")
	return err
}

func seedDemo(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer) error {
	if cfg.Env == config.EnvProduction {
		return errors.New("seed-demo is refused in production (MINIMALL_ENV=production)")
	}
	d, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		return err
	}
	return seedDemoData(ctx, cfg, d, clock.System{}, stdout)
}

func runSandbox(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer) error {
	if cfg.Env == config.EnvProduction {
		return errors.New("the sandbox is refused in production (MINIMALL_ENV=production)")
	}
	return runSandboxServer(ctx, cfg, log, stdout)
}

// runCheck prints the invariant report of the configured database and
// fails when an invariant is broken, so scripts and CI can gate on it.
func runCheck(ctx context.Context, cfg *config.Config, log *slog.Logger, asJSON bool, stdout io.Writer) error {
	d, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	rep, err := check.Run(ctx, d, time.Now())
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("check: %d invariant violations", len(rep.Broken))
	}
	return nil
}

// healthcheck asks the server on MINIMALL_HTTP_ADDR for /healthz; distroless
// images have no curl, so the container health check runs the binary itself.
func healthcheck(ctx context.Context, cfg *config.Config) error {
	host, port, err := net.SplitHostPort(cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", resp.StatusCode)
	}
	return nil
}
