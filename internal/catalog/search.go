package catalog

import (
	"slices"
	"unicode"

	"github.com/minimall/minimall/internal/apperr"
)

// Keyword search works the same on every database minimall supports (MySQL,
// MariaDB, TiDB and SQLite have no common full-text feature for Chinese): a
// title is normalised, cut into runs of letters and digits, and every single
// character and every pair of adjacent characters of a run is stored as a
// token. A query is cut the same way into its bigrams (or the single
// character of a one-character run); a product matches when its title holds
// every token of the query.

// normalizeRune folds full-width ASCII forms to their half-width twins and
// letters to lower case, so "ＡＢＣ", "ABC" and "abc" search alike.
func normalizeRune(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		r -= 0xFEE0
	case r == 0x3000:
		r = ' '
	}
	return unicode.ToLower(r)
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// runs cuts s into normalised runs of letters and digits.
func runs(s string) [][]rune {
	var out [][]rune
	var cur []rune
	for _, r := range s {
		r = normalizeRune(r)
		if isWordRune(r) {
			cur = append(cur, r)
			continue
		}
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// TitleTokens returns the distinct search tokens of a title: each character
// and each bigram of its runs, sorted.
func TitleTokens(title string) []string {
	set := map[string]struct{}{}
	for _, run := range runs(title) {
		for i := range run {
			set[string(run[i])] = struct{}{}
			if i+1 < len(run) {
				set[string(run[i:i+2])] = struct{}{}
			}
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// QueryTokens returns the distinct tokens a title must hold to match q: the
// bigrams of each run of two or more characters, and the character of each
// one-character run. A query without letters or digits is refused.
func QueryTokens(q string) ([]string, error) {
	set := map[string]struct{}{}
	for _, run := range runs(q) {
		if len(run) == 1 {
			set[string(run)] = struct{}{}
			continue
		}
		for i := 0; i+1 < len(run); i++ {
			set[string(run[i:i+2])] = struct{}{}
		}
	}
	if len(set) == 0 {
		return nil, apperr.Invalid("q must contain a letter or a digit", "q")
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	slices.Sort(out)
	return out, nil
}
