package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/clock"
)

// A verified token is remembered only until it expires, with the same
// leeway as the first check, and remembering one token admits no other.
func TestVerifiedTokensExpireFromMemoryAsTheyWould(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	toks, err := auth.NewTokens(strings.Repeat("k", 32), clk)
	if err != nil {
		t.Fatal(err)
	}
	tok, ttl, err := toks.IssueCustomer(42, "wechat")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the first verifies, the others come from memory
		c, err := toks.Verify(tok)
		if err != nil || c.SubjectID() != 42 || c.Channel != "wechat" || c.Type != auth.TypeCustomer {
			t.Fatalf("Verify = %+v, %v", c, err)
		}
		c.Channel = "changed by a caller" // must not reach the next answer
	}
	// A token that differs in one character of its signature is refused,
	// however often its neighbour was verified.
	b := []byte(tok)
	i := strings.LastIndexByte(tok, '.') + 5
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	forged := string(b)
	if _, err := toks.Verify(forged); !apperr.Is(err, apperr.CodeUnauthenticated) {
		t.Fatalf("forged token: %v, want unauthenticated", err)
	}
	// A token signed with another secret is refused too.
	other, _ := auth.NewTokens(strings.Repeat("o", 32), clk)
	otherTok, _, _ := other.IssueCustomer(42, "wechat")
	if _, err := toks.Verify(otherTok); !apperr.Is(err, apperr.CodeUnauthenticated) {
		t.Fatalf("token of another secret: %v, want unauthenticated", err)
	}

	// jwt allows 30 s of leeway past the expiry: so does the memory.
	clk.Advance(ttl + 29*time.Second)
	if c, err := toks.Verify(tok); err != nil || c.Channel != "wechat" {
		t.Fatalf("within the leeway: %+v, %v", c, err)
	}
	clk.Advance(time.Second)
	if _, err := toks.Verify(tok); !apperr.Is(err, apperr.CodeUnauthenticated) {
		t.Fatalf("at expiry + leeway: %v, want unauthenticated", err)
	}
	if _, err := toks.Verify(tok); !apperr.Is(err, apperr.CodeUnauthenticated) {
		t.Fatalf("again after expiry: %v, want unauthenticated", err)
	}
}
