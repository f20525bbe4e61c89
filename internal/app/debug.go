package app

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// buildDebug registers the profiler listener as a job when
// MINIMALL_DEBUG_ADDR is set. It listens on its own loopback address (the
// configuration refuses any other), never on the public router, so that a
// profile can be taken during a load test without exposing it.
func (a *App) buildDebug() {
	addr := a.cfg.Debug.Addr
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	a.background = append(a.background, Job{Name: "profiler listener on " + addr, Run: func(ctx context.Context) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			a.log.ErrorContext(ctx, "profiler listener", "addr", addr, "err", err)
			return
		}
		if err := httpx.Serve(ctx, ln, mux, 5*time.Second, a.log); err != nil {
			a.log.ErrorContext(ctx, "profiler listener", "err", err)
		}
	}})
}

// metricsOnPublic reports whether /metrics is served on the public router:
// not when it has its own listener (MINIMALL_METRICS_ADDR), and in
// production only when MINIMALL_METRICS_PUBLIC says so, since the metrics
// tell an outsider the shop's traffic, errors and job backlog.
func (a *App) metricsOnPublic() bool {
	if a.cfg.Metrics.Addr != "" {
		return false
	}
	return a.cfg.Env != config.EnvProduction || a.cfg.Metrics.Public
}

// buildMetricsListener serves /metrics on its own address when
// MINIMALL_METRICS_ADDR is set, for a scraper on the private network.
func (a *App) buildMetricsListener() {
	addr := a.cfg.Metrics.Addr
	if addr == "" {
		if !a.metricsOnPublic() {
			a.log.Warn("metrics are not served: set MINIMALL_METRICS_ADDR (or MINIMALL_METRICS_PUBLIC=true)")
		}
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.metrics.HTTPHandler())
	a.background = append(a.background, Job{Name: "metrics listener on " + addr, Run: func(ctx context.Context) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			a.log.ErrorContext(ctx, "metrics listener", "addr", addr, "err", err)
			return
		}
		if err := httpx.Serve(ctx, ln, mux, 5*time.Second, a.log); err != nil {
			a.log.ErrorContext(ctx, "metrics listener", "err", err)
		}
	}})
}
