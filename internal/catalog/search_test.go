package catalog_test

import (
	"slices"
	"testing"

	"github.com/minimall/minimall/internal/catalog"
)

func TestTokens(t *testing.T) {
	if got, want := catalog.TitleTokens("红T恤，Ａb"), []string{"ab", "a", "b", "t", "t恤", "恤", "红", "红t"}; !slices.Equal(got, sorted(want)) {
		t.Fatalf("TitleTokens = %q, want %q", got, sorted(want))
	}
	cases := []struct {
		q    string
		want []string
		ok   bool
	}{
		{"龙井", []string{"龙井"}, true},
		{"西湖龙井", []string{"湖龙", "西湖", "龙井"}, true},
		{"茶", []string{"茶"}, true},
		{"ｉＰｈｏｎｅ 15", []string{"15", "ho", "ip", "ne", "on", "ph"}, true},
		{"红 茶", []string{"红", "茶"}, true},
		{"  ！！ ", nil, false},
	}
	for _, tc := range cases {
		got, err := catalog.QueryTokens(tc.q)
		if (err == nil) != tc.ok || !slices.Equal(got, sorted(tc.want)) {
			t.Errorf("QueryTokens(%q) = %q, %v; want %q", tc.q, got, err, sorted(tc.want))
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestItemImage(t *testing.T) {
	for _, tc := range []struct{ sku, images, want string }{
		{"https://img/s.jpg", `["https://img/p.jpg"]`, "https://img/s.jpg"},
		{"", `["https://img/p.jpg","https://img/q.jpg"]`, "https://img/p.jpg"},
		{"", `[]`, ""},
		{"", ``, ""},
		{"", `["https://img/a\u0026b.jpg"]`, "https://img/a&b.jpg"},
		{"", `["https://img/a\"b.jpg"]`, `https://img/a"b.jpg`},
		{"", ` ["https://img/p.jpg"]`, "https://img/p.jpg"},
	} {
		if got := catalog.ItemImage(tc.sku, tc.images); got != tc.want {
			t.Errorf("ItemImage(%q, %q) = %q, want %q", tc.sku, tc.images, got, tc.want)
		}
	}
}
