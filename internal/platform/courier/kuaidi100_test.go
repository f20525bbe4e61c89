package courier_test

import (
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/platform/courier"
)

func TestSign(t *testing.T) {
	// MD5("abc") from RFC 1321, upper-case as kuaidi100 wants it.
	if got, want := courier.Sign("a", "b", "c"), "900150983CD24FB0D6963F7D28E17F72"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestVerifyAndParsePush(t *testing.T) {
	c, err := courier.New(courier.Config{Key: "k", Customer: "c", Salt: "salt"})
	if err != nil {
		t.Fatal(err)
	}
	param := `{"status":"polling","billstatus":"got","message":"","lastResult":{"message":"ok","status":"200",` +
		`"state":"3","ischeck":"1","com":"shunfeng","nu":"SF1","data":[{"time":"2026-01-02 10:00:00",` +
		`"ftime":"2026-01-02 10:00:00","context":"已签收","areaName":"浙江省杭州市","status":"签收","statusCode":"301"}]}}`
	tests := []struct {
		name string
		sign string
		want bool
	}{
		{"right", courier.Sign(param, "salt"), true},
		{"lower case", strings.ToLower(courier.Sign(param, "salt")), true},
		{"other salt", courier.Sign(param, "pepper"), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		if got := c.VerifyPush(param, tt.sign); got != tt.want {
			t.Errorf("%s: VerifyPush = %v, want %v", tt.name, got, tt.want)
		}
	}
	p, err := courier.ParsePush(param)
	if err != nil {
		t.Fatal(err)
	}
	e := p.Track.Events[0]
	want := time.Date(2026, 1, 2, 2, 0, 0, 0, time.UTC) // 10:00 Beijing
	if p.Track.State != "3" || !p.Track.Checked || !e.Time.Equal(want) || e.Location != "浙江省杭州市" || e.StatusCode != "301" {
		t.Errorf("push = %+v", p)
	}
}
