package app

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

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
