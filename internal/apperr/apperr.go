// Package apperr defines the small set of error kinds that every module returns
// to its callers. Each kind carries a stable, machine-readable code that front
// ends switch on; the HTTP layer maps kinds to statuses in one place.
package apperr

import (
	"errors"
	"fmt"
)

// Code is a stable snake_case error code, shown to clients as error.code.
type Code string

// The codes of the API contract. New codes are added here and in the HTTP
// status table, never invented inline.
const (
	CodeInvalid         Code = "invalid_argument"
	CodeUnauthenticated Code = "unauthenticated"
	CodeInvalidCode     Code = "invalid_code"
	CodeRefreshReused   Code = "refresh_reused"
	// CodeTOTPRequired: the staff password was right and the account has a
	// second factor; send the login again with totp_code or recovery_code.
	CodeTOTPRequired        Code = "totp_required"
	CodeLoginBlocked        Code = "login_blocked"
	CodeForbidden           Code = "forbidden"
	CodeNotFound            Code = "not_found"
	CodeConflict            Code = "conflict"
	CodeIdempotencyMismatch Code = "idempotency_mismatch"
	CodeOutOfStock          Code = "out_of_stock"
	CodeUnavailableItem     Code = "unavailable_item"
	CodeInvalidState        Code = "invalid_state"
	CodeLimitExceeded       Code = "limit_exceeded"
	CodeWindowClosed        Code = "window_closed"
	CodeContentRejected     Code = "content_rejected"
	CodeChannelUnavailable  Code = "channel_unavailable"
	CodeRateLimited         Code = "rate_limited"
	CodeUpstreamError       Code = "upstream_error"
	CodeUpstreamUnavailable Code = "upstream_unavailable"
	CodePayloadTooLarge     Code = "payload_too_large"
	CodeUnavailable         Code = "unavailable"
	CodeInternal            Code = "internal"
)

// Codes lists every code, so tests can prove each one has an HTTP status.
var Codes = []Code{
	CodeInvalid, CodeUnauthenticated, CodeInvalidCode, CodeRefreshReused, CodeLoginBlocked,
	CodeForbidden, CodeNotFound, CodeConflict, CodeIdempotencyMismatch, CodeOutOfStock,
	CodeUnavailableItem, CodeInvalidState, CodeLimitExceeded, CodeChannelUnavailable,
	CodeRateLimited, CodeUpstreamError, CodeUpstreamUnavailable, CodePayloadTooLarge, CodeInternal,
	CodeWindowClosed, CodeContentRejected, CodeTOTPRequired, CodeUnavailable,
}

// Error is a domain error: a code, a message safe to show to a user, optional
// machine-readable details and an optional cause that is logged but never shown.
type Error struct {
	Code    Code
	Message string
	Details map[string]any
	Cause   error
}

// Error returns the code and message, plus the cause for logs.
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Cause }

// WithDetail returns a copy of e with one more detail set.
func (e *Error) WithDetail(key string, value any) *Error {
	c := *e
	c.Details = make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		c.Details[k] = v
	}
	c.Details[key] = value
	return &c
}

// WithCause returns a copy of e that wraps cause for the logs.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// New makes an error of the given code with a user-facing message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input; fields names the offending request fields.
func Invalid(message string, fields ...string) *Error {
	e := &Error{Code: CodeInvalid, Message: message}
	if len(fields) > 0 {
		e.Details = map[string]any{"fields": fields}
	}
	return e
}

// NotFound reports an unknown object, or one that belongs to someone else.
func NotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

// Conflict reports a taken unique value or a failed compare-and-set.
func Conflict(format string, args ...any) *Error {
	return New(CodeConflict, format, args...)
}

// Unauthenticated reports a missing, expired or forged credential.
func Unauthenticated(message string) *Error {
	return &Error{Code: CodeUnauthenticated, Message: message}
}

// Forbidden reports a credential that lacks the permission.
func Forbidden(message string) *Error {
	return &Error{Code: CodeForbidden, Message: message}
}

// InvalidState reports a transition not allowed from status.
func InvalidState(status string, format string, args ...any) *Error {
	return New(CodeInvalidState, format, args...).WithDetail("status", status)
}

// Internal wraps an unexpected failure; only "internal error" is shown. A
// failure caused by the database being unreachable or too slow (an
// Unavailable error anywhere in cause's chain) stays unavailable, so that
// callers may wrap every store error as internal and still answer 503.
func Internal(cause error) *Error {
	var e *Error
	if errors.As(cause, &e) && e.Code == CodeUnavailable {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error", Cause: cause}
}

// Unavailable reports that the database could not be reached or did not
// answer in time; the client may retry later. The cause is logged only.
func Unavailable(cause error) *Error {
	return &Error{Code: CodeUnavailable, Message: "the service is temporarily unavailable; retry later", Cause: cause}
}

// CodeOf returns the code of err, or CodeInternal when err is not an *Error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Is reports whether err is an *Error with the given code.
func Is(err error, code Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// From passes an *Error (anywhere in err's chain) through unchanged and wraps
// anything else as internal, so a service returns only kinds of this package.
// A nil err stays nil.
func From(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}
