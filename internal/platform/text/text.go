// Package text is the one rule every free-text field of minimall follows
// before it is stored: valid UTF-8, no control characters, surrounding
// white space trimmed, and a bounded length in characters. Free text reaches
// staff tools, exports, courier labels and terminals; a NUL, an ESC sequence
// or a bidirectional override there can hide or rewrite what staff read, so
// such text is refused, never silently repaired.
//
// Line is for one-line fields (names, titles, address parts, spec keys and
// values, reasons); Block is for fields that may hold line breaks and tabs
// (order remarks, descriptions). Both answer invalid_argument naming the
// field. docs/security.md lists the fields and their limits.
package text

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/minimall/minimall/internal/apperr"
)

// Line checks and trims a one-line field. min is 0 (optional) or 1
// (required); max is the most characters (runes) allowed after trimming.
func Line(field, s string, min, max int) (string, error) {
	return clean(field, s, min, max, false)
}

// Block checks and trims a field that may hold line breaks and tabs; a CRLF
// line break is stored as LF.
func Block(field, s string, min, max int) (string, error) {
	return clean(field, s, min, max, true)
}

func clean(field, s string, min, max int, multiLine bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", apperr.Invalid(field+" must be valid UTF-8 text", field)
	}
	if multiLine {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	s = strings.TrimSpace(s)
	for _, r := range s {
		if Refused(r, multiLine) {
			return "", apperr.Invalid(fmt.Sprintf("%s must not hold control characters (found U+%04X)", field, r), field)
		}
	}
	if n := utf8.RuneCountInString(s); n < min || n > max {
		if min > 0 {
			return "", apperr.Invalid(fmt.Sprintf("%s must have %d to %d characters", field, min, max), field)
		}
		return "", apperr.Invalid(fmt.Sprintf("%s must have at most %d characters", field, max), field)
	}
	return s, nil
}

// Refused reports whether r may not appear in free text: control characters
// (C0, DEL, C1; line feed and tab are allowed in blocks), the bidirectional
// embedding, override and isolate characters, which reorder what a reader
// sees, and the Unicode line and paragraph separators in one-line fields.
func Refused(r rune, multiLine bool) bool {
	switch {
	case multiLine && (r == '\n' || r == '\t'):
		return false
	case unicode.IsControl(r):
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x2028 || r == 0x2029:
		return !multiLine
	}
	return false
}
