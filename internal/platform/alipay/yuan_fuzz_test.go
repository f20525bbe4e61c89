package alipay_test

import (
	"testing"

	"github.com/minimall/minimall/internal/platform/alipay"
)

// FuzzParseYuan: any string either is refused or reads as a non-negative
// amount of fen that FormatYuan writes back and ParseYuan reads again to
// the same amount; nothing panics.
func FuzzParseYuan(f *testing.F) {
	for _, s := range []string{"19.90", "0.01", "19.9", "19", "1000000.00", "", "-1", "1e3", "01.00", "1.001", " 1.00", "１.00", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fen, err := alipay.ParseYuan(s)
		if err != nil {
			return
		}
		if fen < 0 {
			t.Fatalf("ParseYuan(%q) = %d, a negative amount", s, fen)
		}
		again, err := alipay.FormatYuan(fen)
		if err != nil {
			t.Fatalf("FormatYuan(%d) of ParseYuan(%q): %v", fen, s, err)
		}
		if back, err := alipay.ParseYuan(again); err != nil || back != fen {
			t.Fatalf("ParseYuan(%q) = %d, FormatYuan = %q, which reads back as %d, %v", s, fen, again, back, err)
		}
	})
}
