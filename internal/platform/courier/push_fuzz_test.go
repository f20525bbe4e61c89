package courier_test

import (
	"strings"
	"testing"

	"github.com/minimall/minimall/internal/platform/courier"
)

// FuzzParsePush feeds arbitrary push parameters to the parser and to the
// signature check: nothing panics, a parsed push has well-formed event
// times, and a signature the fuzzer made verifies only when it is the salt's
// signature of the parameter.
func FuzzParsePush(f *testing.F) {
	c, err := courier.New(courier.Config{Key: "key", Customer: "customer", Salt: "salt"})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`,
		`{"status":"polling","billstatus":"check","lastResult":{"message":"ok","state":"0","status":"200","ischeck":"0","com":"shunfeng","nu":"SF1","data":[{"time":"2026-12-01 10:00:00","ftime":"2026-12-01 10:00:00","context":"已揽收","areaName":"杭州","status":"揽收","statusCode":"1"}]}}`,
		`{"status":"shutdown","lastResult":{"com":"zhongtong","nu":"ZT1","ischeck":"1","state":"3","data":[{"time":"2026-13-01 10:00:00"}]}}`,
		`{"lastResult":{"data":[{"ftime":"","time":""}]}}`,
		`{"lastResult":{"data":null}}`,
		`{"lastResult":"x"}`,
		`{"status":1}`,
	} {
		f.Add(s, "")
		f.Add(s, courier.Sign(s, "salt"))
	}
	f.Fuzz(func(t *testing.T, param, sign string) {
		if c.VerifyPush(param, sign) && !strings.EqualFold(sign, courier.Sign(param, "salt")) {
			t.Fatalf("sign %q verified for %q", sign, param)
		}
		p, err := courier.ParsePush(param)
		if err != nil {
			return
		}
		for _, e := range p.Track.Events {
			if e.Time.IsZero() || e.Time.Location().String() != "UTC" {
				t.Fatalf("event time %v of %q", e.Time, param)
			}
		}
	})
}
