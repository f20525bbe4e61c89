package redact_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/minimall/minimall/internal/platform/redact"
)

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"13812345678", "138****5678"},
		{"call 13812345678 now", "call 138****5678 now"},
		{"Duplicate entry '19912345678' for key 'uk'", "Duplicate entry '199****5678' for key 'uk'"},
		{"138 1234 5678", "138 **** 5678"},
		{"138-1234-5678", "138-****-5678"},
		{"+8613812345678", "+86138****5678"},
		{"+86 138 1234 5678", "+86 138 **** 5678"},
		{"tel:15900001111,", "tel:159****1111,"},
		{`{"phone":"17712345678"}`, `{"phone":"177****5678"}`},
		// Not mobile numbers: other prefixes, longer digit runs (trade
		// numbers, millisecond times), shorter ones, odd grouping.
		{"12812345678", "12812345678"},
		{"4200001234567890123", "4200001234567890123"},
		{"1733212345678", "1733212345678"},
		{"out_trade_no 113812345678", "out_trade_no 113812345678"},
		{"1381234567", "1381234567"},
		{"15 10 20 30 40 50", "15 10 20 30 40 50"},
		{"2026-12-03 13:45:12.123", "2026-12-03 13:45:12.123"},
		{"", ""},
		{"两个号码 13812345678、13987654321", "两个号码 138****5678、139****4321"},
	}
	for _, tc := range tests {
		if got := redact.Text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPhoneAndAddress(t *testing.T) {
	for in, want := range map[string]string{"13812345678": "138****5678", "+86 138 1234 5678": "+86 1** **** 5678", "12345": "*****"} {
		if got := redact.Phone(in); got != want {
			t.Errorf("Phone(%q) = %q, want %q", in, got, want)
		}
	}
	if got := redact.Address("浙江省杭州市西湖区文三路 1 号"); got != "浙江***" {
		t.Errorf("Address = %q", got)
	}
	if got := redact.Address("北京"); got != "***" {
		t.Errorf("short Address = %q", got)
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

// TestHandlerMasksEveryField: the message, string attributes, errors,
// Stringers, byte slices, groups and attributes bound with With.
func TestHandlerMasksEveryField(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(&buf, nil)))
	log = log.With("bound", "18800001111")
	log.WithGroup("g").Info("sent to 13812345678",
		"s", "13900001111",
		"err", errors.New("duplicate 15500001111"),
		"str", stringer{"17700001111"},
		"raw", []byte("16600001111"),
		slog.Group("inner", "x", "19900001111"),
		"n", 13812345678,
	)
	out := buf.String()
	for _, phone := range []string{"18800001111", "13812345678\"", "13900001111", "15500001111", "17700001111", "16600001111", "19900001111"} {
		if strings.Contains(out, phone) {
			t.Errorf("log line carries %s: %s", phone, out)
		}
	}
	for _, masked := range []string{"188****1111", "138****5678", "139****1111", "155****1111", "177****1111", "166****1111", "199****1111"} {
		if !strings.Contains(out, masked) {
			t.Errorf("log line lacks %s: %s", masked, out)
		}
	}
	if !redact.NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})).Enabled(context.Background(), slog.LevelWarn) {
		t.Error("Enabled not passed through")
	}
}
