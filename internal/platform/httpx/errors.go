// Package httpx is minimall's HTTP platform: the gin engine with its
// middleware, the error envelope, JSON decoding and the graceful server.
package httpx

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
)

// Status maps an error code to its HTTP status. It is the only place that does.
func Status(code apperr.Code) int {
	switch code {
	case apperr.CodeInvalid:
		return http.StatusBadRequest
	case apperr.CodeUnauthenticated, apperr.CodeInvalidCode, apperr.CodeRefreshReused, apperr.CodeTOTPRequired:
		return http.StatusUnauthorized
	case apperr.CodeLoginBlocked, apperr.CodeForbidden:
		return http.StatusForbidden
	case apperr.CodeNotFound:
		return http.StatusNotFound
	case apperr.CodeConflict, apperr.CodeIdempotencyMismatch, apperr.CodeOutOfStock,
		apperr.CodeUnavailableItem, apperr.CodeInvalidState, apperr.CodeLimitExceeded,
		apperr.CodeChannelUnavailable, apperr.CodeWindowClosed:
		return http.StatusConflict
	case apperr.CodeContentRejected:
		return http.StatusUnprocessableEntity
	case apperr.CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.CodeRateLimited:
		return http.StatusTooManyRequests
	case apperr.CodeUpstreamError:
		return http.StatusBadGateway
	case apperr.CodeUpstreamUnavailable, apperr.CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// ErrorBody is the one error envelope of the API.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of the envelope.
type ErrorDetail struct {
	Code    apperr.Code    `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
	// RequestID repeats the X-Request-Id header so a front end that logs
	// only bodies can still quote it to support.
	RequestID string `json:"request_id,omitempty"`
}

// Error writes err as the error envelope and aborts the chain. Errors that are
// not *apperr.Error, and internal ones, are logged with the request id and
// shown only as "internal error".
func Error(c *gin.Context, err error) {
	if ClientGone(c, err) {
		// The client closed the connection, so the request was cancelled:
		// not a server failure. Nobody reads the answer; the access line
		// records it once, at info, with StatusClientClosed.
		_ = c.Error(err)
		c.AbortWithStatus(StatusClientClosed)
		return
	}
	var e *apperr.Error
	if !errors.As(err, &e) {
		e = apperr.Internal(err)
	}
	status := Status(e.Code)
	body := ErrorBody{Error: ErrorDetail{Code: e.Code, Message: e.Message, Details: e.Details, RequestID: c.GetString(ctxRequestID)}}
	if status >= http.StatusInternalServerError {
		Logger(c).ErrorContext(c.Request.Context(), "request failed", "err", err, "code", e.Code)
		if e.Code == apperr.CodeInternal {
			body.Error.Message = "internal error"
			body.Error.Details = nil
		}
	} else if e.Cause != nil {
		Logger(c).WarnContext(c.Request.Context(), "request refused", "err", err, "code", e.Code)
	}
	if secs, ok := e.Details["retry_after_seconds"].(int64); ok && status == http.StatusTooManyRequests {
		c.Header("Retry-After", strconv.FormatInt(secs, 10))
	}
	_ = c.Error(err)
	c.AbortWithStatusJSON(status, body)
}

// StatusClientClosed is the status recorded (in the access log and metrics)
// for a request whose client went away before the answer: nginx's 499, so
// it is never counted as a 5xx.
const StatusClientClosed = 499

// ClientGone reports whether err comes from the request's own context being
// cancelled, i.e. the client closed the connection. A deadline that expired
// is not the client's doing and stays an error.
func ClientGone(c *gin.Context, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(c.Request.Context().Err(), context.Canceled)
}

// Logger returns the request's logger (the engine's logger with the
// request id), built on first use, or slog's default outside the engine.
func Logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		if lg, ok := l.(*slog.Logger); ok {
			return lg
		}
	}
	if l, ok := c.Get(ctxBaseLogger); ok {
		if base, ok := l.(*slog.Logger); ok {
			lg := base.With("request_id", c.GetString(ctxRequestID))
			c.Set(ctxLogger, lg)
			return lg
		}
	}
	return slog.Default()
}
