package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
)

const (
	ctxRequestID  = "minimall.request_id"
	ctxLogger     = "minimall.logger"
	ctxBaseLogger = "minimall.base_logger"
	ctxActor      = "minimall.actor"
	// HeaderRequestID carries the request id in and out.
	HeaderRequestID = "X-Request-Id"
)

// SetActor records who makes the request ("customer:12", "staff:3") for the
// access line and the security events; the route guards call it once the
// token is verified.
func SetActor(c *gin.Context, kind string, id int64) {
	c.Set(ctxActor, kind+":"+strconv.FormatInt(id, 10))
}

// Actor returns the request's actor as SetActor recorded it, or "".
func Actor(c *gin.Context) string { return c.GetString(ctxActor) }

// SecurityEvent logs a security-relevant refusal (a permission denial, a
// locked login, a reused refresh token) at WARN with the request id, the
// actor (when known), the client address and the route, so that such events
// can be found and alerted on by their message.
func SecurityEvent(c *gin.Context, event string, attrs ...any) {
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	args := append([]any{"event", event, "actor", Actor(c), "client_ip", c.ClientIP(),
		"method", logMethod(c.Request.Method), "route", route}, attrs...)
	Logger(c).WarnContext(c.Request.Context(), "security event", args...)
}

// RequestID returns the id of the current request.
func RequestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

type requestIDKey struct{}

// RequestIDFromContext returns the request id carried by ctx, or "" outside a
// request (jobs, commands).
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDs makes request ids that are unique across instances and
// restarts without a system call per request: a random prefix drawn once per
// engine, then a counter, e.g. "3f9a0c1b7d2e4a65-1k2". The access log and
// error logs carry the id, so it only needs to be unique, not secret.
type requestIDs struct {
	prefix []byte
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := make([]byte, 0, 17)
	prefix = hex.AppendEncode(prefix, b[:])
	return &requestIDs{prefix: append(prefix, '-')}
}

func (g *requestIDs) next() string {
	var buf [40]byte
	b := append(buf[:0], g.prefix...)
	return string(strconv.AppendUint(b, g.n.Add(1), 36))
}

// requestID accepts a sane incoming X-Request-Id or makes one, echoes it, and
// puts it in the request's context. The request's logger (Logger) is built
// only when something logs through it, since most requests log only their
// access line, which adds the id itself.
func requestID(base *slog.Logger) gin.HandlerFunc {
	ids := newRequestIDs()
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !validRequestID(id) {
			id = ids.next()
		}
		c.Set(ctxRequestID, id)
		c.Set(ctxBaseLogger, base)
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey{}, id))
		h := c.Writer.Header()
		h[HeaderRequestID] = []string{id}
		// Every answer is JSON or plain text meant as such; browsers must
		// not sniff it into something executable.
		h["X-Content-Type-Options"] = []string{"nosniff"}
		c.Next()
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// recoverer turns a panic into a logged 500 envelope; the process goes on.
func recoverer() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				Logger(c).ErrorContext(c.Request.Context(), "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if c.Writer.Written() {
					c.Abort()
					return
				}
				Error(c, apperr.Internal(fmt.Errorf("panic: %v", v)))
			}
		}()
		c.Next()
	}
}

// accessLog writes one structured line per request through the engine's
// logger, with the request id as one of its attributes (no per-request
// logger is built for it).
func accessLog(base *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		ctx := c.Request.Context()
		if !base.Enabled(ctx, slog.LevelInfo) {
			return
		}
		base.LogAttrs(ctx, slog.LevelInfo, "http",
			slog.String("request_id", c.GetString(ctxRequestID)),
			slog.String("method", logMethod(c.Request.Method)),
			slog.String("route", route),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", c.Writer.Status()),
			slog.Int("bytes", c.Writer.Size()),
			slog.Duration("elapsed", time.Since(start)),
			slog.String("client_ip", c.ClientIP()),
			slog.String("actor", c.GetString(ctxActor)),
		)
	}
}

// logMethod bounds a client-chosen method in the access log.
func logMethod(m string) string {
	if len(m) > 16 {
		return m[:16] + "…"
	}
	return m
}

// NoStore marks an answer that carries credentials (tokens) as never to be
// stored by a browser or a proxy cache.
func NoStore() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.Header("Pragma", "no-cache")
		c.Next()
	}
}

// bodyLimit refuses declared bodies over limit at once and caps the rest, so
// a decoder sees *http.MaxBytesError when the limit is crossed. Routes listed
// in perRoute (by their gin path) have their own limit; routes in tooLarge
// answer in their own format instead of the envelope: the platforms'
// callbacks, whose senders read only their own.
func bodyLimit(def int64, perRoute map[string]int64, tooLarge map[string]gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := def
		if l, ok := perRoute[c.FullPath()]; ok {
			limit = l
		}
		if c.Request.ContentLength > limit {
			if reply, ok := tooLarge[c.FullPath()]; ok {
				reply(c)
				c.Abort()
				return
			}
			Error(c, apperr.New(apperr.CodePayloadTooLarge, "request body is larger than %d bytes", limit))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		c.Next()
	}
}

// cors allows browsers from the configured origins (the admin console) to
// call the API; other origins get no CORS headers and the browser refuses.
func cors(origins []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin == "" || !slices.Contains(origins, origin) {
			if c.Request.Method == http.MethodOptions && origin != "" {
				c.AbortWithStatus(http.StatusForbidden)
				return
			}
			c.Next()
			return
		}
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", HeaderRequestID)
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, X-Request-Id")
			h.Set("Access-Control-Max-Age", strconv.Itoa(600))
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}
