package auth_test

import (
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/minimall/minimall/internal/auth"
)

func TestPasswordsHashAtTheirCost(t *testing.T) {
	t.Parallel()
	for _, cost := range []int{bcrypt.MinCost, bcrypt.MinCost + 1} {
		p, err := auth.NewPasswords(cost)
		if err != nil {
			t.Fatal(err)
		}
		h, err := p.Hash("correct-horse-battery")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := bcrypt.Cost([]byte(h)); err != nil || got != cost {
			t.Errorf("hash cost = %d, %v; want %d", got, err, cost)
		}
		if !p.Matches(h, "correct-horse-battery") {
			t.Errorf("cost %d: the right password does not match", cost)
		}
		if p.Matches(h, "wrong-horse-battery") || p.Matches("", "correct-horse-battery") {
			t.Errorf("cost %d: a wrong password or an unknown account matched", cost)
		}
		if _, err := p.Hash("short"); err == nil {
			t.Errorf("cost %d: a password breaking the rules was hashed", cost)
		}
	}
	// A hash made at another cost still verifies: the cost lives in the hash.
	low, _ := auth.NewPasswords(bcrypt.MinCost)
	h, err := low.Hash("correct-horse-battery")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := auth.NewPasswords(auth.DefaultPasswordCost)
	if err != nil {
		t.Fatal(err)
	}
	if !prod.Matches(h, "correct-horse-battery") {
		t.Error("a hash made at the minimum cost does not verify at the default cost")
	}
	for _, cost := range []int{bcrypt.MinCost - 1, bcrypt.MaxCost + 1} {
		if _, err := auth.NewPasswords(cost); err == nil {
			t.Errorf("cost %d accepted", cost)
		}
	}
}
