// Package redact keeps customers' phone numbers and addresses out of logs.
//
// Two tools: Phone and Address mask a value a caller knows to be one (for a
// log line that must say which address, e.g. "13812345678" → "138****5678",
// "浙江省杭州市西湖区文三路 1 号" → "浙江***"); Handler wraps the process's slog
// handler and masks every mainland mobile number (1[3-9] and nine digits,
// with or without +86 and separators) in every message and string or error
// attribute, so a phone number that reaches a log line by another road (a
// driver's duplicate-key message, a platform's error text, a request body
// quoted in an error) is masked there too. Addresses cannot be recognised in
// free text; no log line carries one, and a test walks the order flow with a
// recognisable address and checks the logs (internal/app TestLogsCarryNoPhoneOrAddress).
package redact

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Phone masks a phone number, keeping the first three and the last four
// digits (what WeChat's shipping API shows); shorter values are masked
// whole.
func Phone(p string) string {
	digits := 0
	for _, r := range p {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits < 8 {
		return strings.Repeat("*", utf8.RuneCountInString(p))
	}
	var b strings.Builder
	seen := 0
	for _, r := range p {
		if r >= '0' && r <= '9' {
			seen++
			if seen > 3 && seen <= digits-4 {
				r = '*'
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Address keeps the first two characters of an address (a province or a
// city, not where someone lives) and masks the rest.
func Address(a string) string {
	if utf8.RuneCountInString(a) <= 2 {
		return "***"
	}
	r := []rune(a)
	return string(r[:2]) + "***"
}

// Text masks every mainland mobile number in s: eleven digits 1[3-9]xxxxxxxxx
// not inside a longer run of digits, optionally written with +86 or 86 and
// with spaces or dashes between the groups (138 1234 5678, 138-1234-5678).
func Text(s string) string {
	if !hasMobile(s) {
		return s
	}
	b := []byte(s)
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if end, digits, ok := mobileAt(b, i); ok {
			// Keep the first three and the last four digits, mask the
			// four in between, keep separators.
			n := 0
			for j := i; j < end; j++ {
				c := b[j]
				if c >= '0' && c <= '9' {
					n++
					if n > digits-8 && n <= digits-4 {
						c = '*'
					}
				}
				out = append(out, c)
			}
			i = end
			continue
		}
		out = append(out, b[i])
		i++
	}
	return string(out)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// hasMobile is a quick test before Text allocates: eleven digits in a row
// or with separators somewhere.
func hasMobile(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			run++
			if run >= 11 {
				return true
			}
		case c == ' ' || c == '-':
		default:
			run = 0
		}
	}
	return false
}

// mobileAt reports whether a mobile number starts at i, where it ends, and
// how many digits it has (11, or 13 with a country code).
func mobileAt(b []byte, i int) (end, digits int, ok bool) {
	if i > 0 && isDigit(b[i-1]) {
		return 0, 0, false
	}
	j := i
	if j < len(b) && b[j] == '+' {
		j++
	}
	// Optional country code 86 followed by a separator or directly by 1.
	start := j
	if j+1 < len(b) && b[j] == '8' && b[j+1] == '6' {
		k := j + 2
		for k < len(b) && (b[k] == ' ' || b[k] == '-') {
			k++
		}
		if e, ok := mobile11(b, k); ok {
			return e, 13, true
		}
	}
	if b[i] == '+' {
		return 0, 0, false
	}
	if e, ok := mobile11(b, start); ok {
		return e, 11, true
	}
	return 0, 0, false
}

// mobile11 matches 1[3-9] and nine more digits at k, not followed by another
// digit; a space or dash is allowed only where people put one, between the
// 3-4-4 groups.
func mobile11(b []byte, k int) (int, bool) {
	if k+1 >= len(b) || b[k] != '1' || b[k+1] < '3' || b[k+1] > '9' {
		return 0, false
	}
	n := 0
	j := k
	for j < len(b) && n < 11 {
		switch {
		case isDigit(b[j]):
			n++
			j++
		case (b[j] == ' ' || b[j] == '-') && (n == 3 || n == 7) && j+1 < len(b) && isDigit(b[j+1]):
			j++
		default:
			return 0, false
		}
	}
	if n != 11 || j < len(b) && isDigit(b[j]) {
		return 0, false
	}
	return j, true
}

// Handler masks mobile numbers in every record passed to the handler it
// wraps: the message, string attributes, errors and Stringers (as their
// masked text), inside groups too.
type Handler struct {
	next slog.Handler
}

// NewHandler wraps next.
func NewHandler(next slog.Handler) *Handler { return &Handler{next: next} }

// Enabled reports what the wrapped handler reports.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle masks the record and passes it on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Text(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs masks attributes added to a derived logger.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(as))
	for i, a := range as {
		masked[i] = attr(a)
	}
	return &Handler{next: h.next.WithAttrs(masked)}
}

// WithGroup passes the group on.
func (h *Handler) WithGroup(name string) slog.Handler { return &Handler{next: h.next.WithGroup(name)} }

func attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Text(v.String()))
	case slog.KindGroup:
		g := v.Group()
		masked := make([]any, len(g))
		for i, x := range g {
			masked[i] = attr(x)
		}
		return slog.Group(a.Key, masked...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Text(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, Text(x.String()))
		case []byte:
			return slog.String(a.Key, Text(string(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
