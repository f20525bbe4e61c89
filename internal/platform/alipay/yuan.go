package alipay

import (
	"errors"
	"fmt"
	"strconv"
)

// MaxTradeFen is the largest amount of one trade: Alipay accepts
// total_amount up to 100000000 yuan.
const MaxTradeFen int64 = 100_000_000 * 100

// maxYuanDigits bounds the integer part ParseYuan accepts, so that the
// result always fits an int64 of fen.
const maxYuanDigits = 15

// FormatYuan writes an amount in fen as the yuan string Alipay expects, with
// exactly two decimals and no floating point: 1990 → "19.90", 1 → "0.01",
// 100000000 → "1000000.00". A negative amount is refused.
func FormatYuan(fen int64) (string, error) {
	if fen < 0 {
		return "", fmt.Errorf("alipay: negative amount %d fen", fen)
	}
	return strconv.FormatInt(fen/100, 10) + "." + string([]byte{byte('0' + fen%100/10), byte('0' + fen%10)}), nil
}

// errYuan is the refusal of a malformed yuan string.
var errYuan = errors.New("alipay: not a yuan amount")

// ParseYuan reads a yuan string from Alipay ("19.90", "19.9", "19") into
// fen, exactly. It refuses signs, exponents, blanks, leading zeros, more than
// two decimals, an empty integer or fraction part and anything that is not
// ASCII digits.
func ParseYuan(s string) (int64, error) {
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			if frac == "" {
				return 0, fmt.Errorf("%w: %q", errYuan, s)
			}
			break
		}
	}
	if intPart == "" || len(intPart) > maxYuanDigits || len(frac) > 2 || (len(intPart) > 1 && intPart[0] == '0') {
		return 0, fmt.Errorf("%w: %q", errYuan, s)
	}
	var yuan int64
	for i := 0; i < len(intPart); i++ {
		c := intPart[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q", errYuan, s)
		}
		yuan = yuan*10 + int64(c-'0')
	}
	var cents int64
	for i := 0; i < 2; i++ {
		cents *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("%w: %q", errYuan, s)
			}
			cents += int64(c - '0')
		}
	}
	return yuan*100 + cents, nil
}
