package text_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/text"
)

func TestLine(t *testing.T) {
	tests := []struct {
		name string
		in   string
		min  int
		want string
		ok   bool
	}{
		{name: "trimmed", in: "  红色 T恤 ", min: 1, want: "红色 T恤", ok: true},
		{name: "optional empty", in: "   ", min: 0, want: "", ok: true},
		{name: "required empty", in: " \t ", min: 1},
		{name: "exactly max characters", in: strings.Repeat("货", 10), min: 1, want: strings.Repeat("货", 10), ok: true},
		{name: "over max characters", in: strings.Repeat("货", 11), min: 1},
		{name: "NUL", in: "a\x00b", min: 1},
		{name: "ESC clear screen", in: "\u001b[2J", min: 1},
		{name: "BEL", in: "ding\a", min: 1},
		{name: "DEL", in: "a\x7f", min: 1},
		{name: "C1 control", in: "a\u0085b", min: 1},
		{name: "line feed inside one line", in: "a\nb", min: 1},
		{name: "tab inside one line", in: "a\tb", min: 1},
		{name: "right-to-left override", in: "abc\u202Etxt.exe", min: 1},
		{name: "isolate", in: "a\u2066b", min: 1},
		{name: "line separator", in: "a\u2028b", min: 1},
		{name: "invalid UTF-8", in: "a\xffb", min: 1},
		{name: "emoji and CJK kept", in: "😀 杭州", min: 1, want: "😀 杭州", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := text.Line("title", tt.in, tt.min, 10)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Errorf("Line(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			var ae *apperr.Error
			if err == nil || !apperr.Is(err, apperr.CodeInvalid) {
				t.Fatalf("Line(%q) = %q, %v; want invalid_argument", tt.in, got, err)
			}
			if ok := asErr(err, &ae); !ok || ae.Details["fields"].([]string)[0] != "title" {
				t.Errorf("error does not name the field: %v", err)
			}
		})
	}
}

func TestBlock(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		ok   bool
	}{
		{name: "line breaks and tabs kept", in: " 第一行\n\t第二行 ", want: "第一行\n\t第二行", ok: true},
		{name: "CRLF stored as LF", in: "a\r\nb", want: "a\nb", ok: true},
		{name: "lone CR refused", in: "a\rb"},
		{name: "ESC refused", in: "a\u001b[31mred"},
		{name: "NUL refused", in: "a\x00"},
		{name: "override refused", in: "a\u202Db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := text.Block("remark", tt.in, 0, 20)
			if tt.ok != (err == nil) || tt.ok && got != tt.want {
				t.Errorf("Block(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

// FuzzLine checks the rule's promises on any input: what it accepts is
// valid UTF-8, trimmed, within the bounds and free of refused characters.
func FuzzLine(f *testing.F) {
	for _, s := range []string{"", " a ", "红色", "a\x00b", "\u001b[2J", "a\u202Eb", "a\xff", "a\r\nb", strings.Repeat("x", 40)} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, multi bool) {
		clean := text.Line
		if multi {
			clean = text.Block
		}
		got, err := clean("f", s, 1, 32)
		if err != nil {
			if !apperr.Is(err, apperr.CodeInvalid) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if !utf8.ValidString(got) || strings.TrimSpace(got) != got {
			t.Fatalf("accepted %q as %q: not valid and trimmed", s, got)
		}
		if n := utf8.RuneCountInString(got); n < 1 || n > 32 {
			t.Fatalf("accepted %q with %d characters", got, n)
		}
		for _, r := range got {
			if text.Refused(r, multi) {
				t.Fatalf("accepted %q holding U+%04X", got, r)
			}
		}
		if again, err := clean("f", got, 1, 32); err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q, %v", got, again, err)
		}
	})
}

func asErr(err error, target **apperr.Error) bool {
	e, ok := err.(*apperr.Error)
	if ok {
		*target = e
	}
	return ok
}
