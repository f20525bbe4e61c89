package httpx

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
)

// Options configure the engine.
type Options struct {
	Logger         *slog.Logger
	Metrics        *Metrics
	MaxBody        int64
	TrustedProxies []string
	CORSOrigins    []string
	// BodyLimits raises MaxBody for the routes named by their gin path
	// (e.g. "/api/v1/uploads": image uploads are larger than JSON bodies).
	BodyLimits map[string]int64
	// TooLarge answers a body over MaxBody on the given route paths in the
	// route's own format (the platforms' callbacks) instead of the envelope.
	TooLarge map[string]gin.HandlerFunc
}

// NewEngine returns a gin engine in release mode with minimall's middleware in
// order: request id, access log, metrics, panic recovery, CORS, body limit.
// Unknown routes answer the 404 envelope.
func NewEngine(o Options) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	installJSON()
	e := gin.New()
	e.ContextWithFallback = true
	e.HandleMethodNotAllowed = false
	if err := e.SetTrustedProxies(o.TrustedProxies); err != nil {
		return nil, err
	}
	if len(o.TrustedProxies) == 0 {
		e.ForwardedByClientIP = false
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	e.Use(requestID(logger), accessLog(logger))
	if o.Metrics != nil {
		e.Use(o.Metrics.middleware())
	}
	e.Use(recoverer(), cors(o.CORSOrigins), bodyLimit(o.MaxBody, o.BodyLimits, o.TooLarge))
	e.NoRoute(func(c *gin.Context) {
		Error(c, apperr.NotFound("route "+c.Request.Method+" "+c.Request.URL.Path))
	})
	return e, nil
}

// Serve serves h on ln until ctx ends, then stops taking connections and waits
// up to grace for in-flight requests to finish.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down http server", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
