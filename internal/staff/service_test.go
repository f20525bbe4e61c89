package staff_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/staff"
)

const testSecret = "test-secret-test-secret-test-secret-0123"

type staffFixture struct {
	d     *db.DB
	clock *clock.Fake
	store *staff.Store
	svc   *staff.Service
	audit *audit.Log
}

func newStaffFixture(t *testing.T, d *db.DB) staffFixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC))
	tokens, err := auth.NewTokens(testSecret, clk)
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.New(d, clk)
	if err != nil {
		t.Fatal(err)
	}
	store, err := staff.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	passwords, err := auth.NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := staff.TOTPSealer(nil, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := staff.NewService(d, store, passwords, tokens, log, clk, sealer)
	if err != nil {
		t.Fatal(err)
	}
	return staffFixture{d: d, clock: clk, store: store, svc: svc, audit: log}
}

// testIP is the client address of the fixture's logins.
const testIP = "192.0.2.1"

func (f staffFixture) login(ctx context.Context, username, password string) (staff.Session, error) {
	return f.svc.Login(ctx, staff.LoginInput{Username: username, Password: password, ClientIP: testIP})
}

func (f staffFixture) loginFrom(ctx context.Context, ip, username, password string) (staff.Session, error) {
	return f.svc.Login(ctx, staff.LoginInput{Username: username, Password: password, ClientIP: ip})
}

func TestStaffLockout(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		st, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "Ops.Lead", Password: "right-password-1", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		if st.Username != "ops.lead" {
			t.Errorf("username = %q, want it lower-cased", st.Username)
		}
		// Four failures, then the right password: the count starts again.
		for i := 0; i < staff.MaxFailedLogins-1; i++ {
			if _, err := f.login(ctx, "ops.lead", "wrong-password"); apperr.CodeOf(err) != apperr.CodeUnauthenticated {
				t.Fatalf("failure %d: got %v, want unauthenticated", i+1, err)
			}
		}
		if _, err := f.login(ctx, "OPS.LEAD", "right-password-1"); err != nil {
			t.Fatalf("right password after 4 failures: %v", err)
		}
		// Five failures in a row lock this address out, even for the right password.
		for i := 0; i < staff.MaxFailedLogins; i++ {
			_, err := f.login(ctx, "ops.lead", "wrong-password")
			if apperr.CodeOf(err) != apperr.CodeUnauthenticated {
				t.Fatalf("failure %d: got %v", i+1, err)
			}
		}
		_, err = f.login(ctx, "ops.lead", "right-password-1")
		if apperr.CodeOf(err) != apperr.CodeUnauthenticated {
			t.Fatalf("locked address with the right password: got %v, want unauthenticated", err)
		}
		var ae *apperr.Error
		if !asApp(err, &ae) || ae.Details["retry_after_seconds"] != int64(staff.FirstLock/time.Second) {
			t.Errorf("locked refusal should say when to retry (%v): %v", staff.FirstLock, err)
		}
		got, err := f.svc.Get(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LockedUntil == nil || !got.LockedUntil.Equal(f.clock.Now().Add(staff.FirstLock)) {
			t.Errorf("locked_until = %v, want now + %v", got.LockedUntil, staff.FirstLock)
		}
		// Another address is not locked out: anonymous guesses cannot lock
		// the account for everyone.
		if _, err := f.loginFrom(ctx, "198.51.100.7", "ops.lead", "right-password-1"); err != nil {
			t.Fatalf("another address: %v", err)
		}
		// The delay grows with each failure after the lock, up to LockDuration.
		wantLocks := []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, staff.LockDuration, staff.LockDuration}
		for i, want := range wantLocks {
			f.clock.Advance(staff.LockDuration)
			_, err := f.login(ctx, "ops.lead", "wrong-password")
			if !asApp(err, &ae) || ae.Details["retry_after_seconds"] != int64(want/time.Second) {
				t.Fatalf("failure %d after the lock: %v, want a lock of %v", staff.MaxFailedLogins+1+i, err, want)
			}
		}
		f.clock.Advance(staff.LockDuration - time.Second)
		if _, err := f.login(ctx, "ops.lead", "right-password-1"); err == nil {
			t.Fatal("logged in a second before the lock ends")
		}
		f.clock.Advance(time.Second)
		s, err := f.login(ctx, "ops.lead", "right-password-1")
		if err != nil {
			t.Fatalf("after the lock: %v", err)
		}
		if s.AccessToken == "" || s.Account.Role != auth.RoleOperator || s.ExpiresIn != auth.StaffTTL {
			t.Errorf("session = %+v", s)
		}
		// The success forgot the count: one more failure does not lock.
		if _, err := f.login(ctx, "ops.lead", "wrong-password"); !asApp(err, &ae) || ae.Details["retry_after_seconds"] != nil {
			t.Errorf("first failure after a success: %v", err)
		}
	})
}

// An unknown username and a locked one get exactly the same answers, so
// the login does not tell which usernames exist.
func TestStaffLoginDoesNotRevealUsernames(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		if _, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "owner", Password: "right-password-1", Role: auth.RoleOwner}); err != nil {
			t.Fatal(err)
		}
		answers := func(username string) []string {
			var out []string
			for i := 0; i < staff.MaxFailedLogins+2; i++ {
				_, err := f.login(ctx, username, "wrong-password")
				out = append(out, fmt.Sprint(err))
			}
			return out
		}
		known, unknown := answers("owner"), answers("nobody")
		if !slices.Equal(known, unknown) {
			t.Errorf("answers differ:\nknown   %q\nunknown %q", known, unknown)
		}
	})
}

// A password change or disabling an account revokes the tokens issued
// before it; a role change does not need to (the role is read live).
func TestStaffTokensRevoked(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		owner, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "owner", Password: "owner-password", Role: auth.RoleOwner})
		if err != nil {
			t.Fatal(err)
		}
		op, err := f.svc.Create(ctx, owner.ID, staff.NewAccount{Username: "oper", Password: "op-password-1", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := auth.NewTokens(testSecret, f.clock)
		if err != nil {
			t.Fatal(err)
		}
		check := func(token string) error {
			c, err := tokens.Verify(token)
			if err != nil {
				return err
			}
			_, err = f.svc.CurrentRole(ctx, c.SubjectID(), c.Version)
			return err
		}
		before, err := f.login(ctx, "oper", "op-password-1")
		if err != nil {
			t.Fatal(err)
		}
		if err := check(before.AccessToken); err != nil {
			t.Fatalf("fresh token: %v", err)
		}
		newPass := "op-password-2"
		if _, err := f.svc.Update(ctx, owner.ID, op.ID, staff.Change{Password: &newPass}); err != nil {
			t.Fatal(err)
		}
		if err := check(before.AccessToken); apperr.CodeOf(err) != apperr.CodeUnauthenticated {
			t.Errorf("token from before the password change: %v, want unauthenticated", err)
		}
		after, err := f.login(ctx, "oper", newPass)
		if err != nil {
			t.Fatal(err)
		}
		if err := check(after.AccessToken); err != nil {
			t.Errorf("token after the change: %v", err)
		}
		yes, no := true, false
		if _, err := f.svc.Update(ctx, owner.ID, op.ID, staff.Change{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Update(ctx, owner.ID, op.ID, staff.Change{Disabled: &no}); err != nil {
			t.Fatal(err)
		}
		if err := check(after.AccessToken); apperr.CodeOf(err) != apperr.CodeUnauthenticated {
			t.Errorf("token from before the account was disabled, used after it was enabled again: %v", err)
		}
	})
}

// Another instance's change reaches a cached check within CheckCacheTTL.
func TestStaffCheckCacheIsShort(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		owner, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "owner", Password: "owner-password", Role: auth.RoleOwner})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.CurrentRole(ctx, owner.ID, 0); err != nil {
			t.Fatal(err)
		}
		// Another instance (a second service on the same database) changes
		// the password.
		other := newStaffFixture(t, d)
		pass := "owner-password-2"
		if _, err := other.svc.Update(ctx, owner.ID, owner.ID, staff.Change{Password: &pass}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(staff.CheckCacheTTL)
		if _, err := f.svc.CurrentRole(ctx, owner.ID, 0); apperr.CodeOf(err) != apperr.CodeUnauthenticated {
			t.Errorf("after CheckCacheTTL the old token still works: %v", err)
		}
	})
}

func asApp(err error, target **apperr.Error) bool {
	e, ok := err.(*apperr.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestStaffLoginRefusals(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		if _, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "gone", Password: "right-password-1", Role: auth.RoleWarehouse, Disabled: true}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, username, password string
			want                     apperr.Code
		}{
			{"unknown user", "nobody", "right-password-1", apperr.CodeUnauthenticated},
			{"disabled", "gone", "right-password-1", apperr.CodeUnauthenticated},
			{"empty password", "gone", "", apperr.CodeInvalid},
			{"empty username", "", "x", apperr.CodeInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := f.login(ctx, tt.username, tt.password); apperr.CodeOf(err) != tt.want {
					t.Errorf("got %v, want %s", err, tt.want)
				}
			})
		}
		if _, err := f.svc.CurrentRole(ctx, 999, 0); apperr.CodeOf(err) != apperr.CodeUnauthenticated {
			t.Errorf("unknown staff role check: %v", err)
		}
	})
}

func TestStaffWritesAreAudited(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		owner, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "owner", Password: "owner-password", Role: auth.RoleOwner})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := f.svc.Create(ctx, owner.ID, staff.NewAccount{Username: "cs1", Password: "cs1-password", Role: auth.RoleCustomerService})
		if err != nil {
			t.Fatal(err)
		}
		role := auth.RoleWarehouse
		pw := "new-password-123"
		disabled := true
		if _, err := f.svc.Update(ctx, owner.ID, cs.ID, staff.Change{Role: &role, Password: &pw, Disabled: &disabled}); err != nil {
			t.Fatal(err)
		}
		got, err := f.audit.ListByTarget(ctx, "staff", strconv.FormatInt(cs.ID, 10))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("audit rows = %d, want 2 (create, update)", len(got))
		}
		if got[0].Action != "staff.create" || got[0].StaffID != owner.ID || got[1].Action != "staff.update" || got[1].StaffID != owner.ID {
			t.Errorf("audit rows = %+v", got)
		}
		var detail map[string]any
		if err := json.Unmarshal([]byte(got[1].Detail), &detail); err != nil {
			t.Fatal(err)
		}
		if detail["role"] != "warehouse" || detail["disabled"] != true || detail["password"] != "changed" {
			t.Errorf("update detail = %v", detail)
		}
		if string(got[1].Detail) == "" || containsString(got[1].Detail, pw) {
			t.Errorf("audit detail must never hold the password: %s", got[1].Detail)
		}
		// A refused write leaves no audit row.
		if _, err := f.svc.Create(ctx, owner.ID, staff.NewAccount{Username: "CS1", Password: "another-password", Role: auth.RoleOperator}); apperr.CodeOf(err) != apperr.CodeConflict {
			t.Fatalf("duplicate username: got %v, want conflict", err)
		}
		var n int64
		if err := d.Reader(ctx).Table("audit_logs").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Errorf("audit rows after a refused create = %d, want 3", n)
		}
	})
}

func containsString(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestStaffUpdateRules(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		owner, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "owner", Password: "owner-password", Role: auth.RoleOwner})
		if err != nil {
			t.Fatal(err)
		}
		op, err := f.svc.Create(ctx, owner.ID, staff.NewAccount{Username: "ops", Password: "op-password-1", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		ptr := func(r auth.Role) *auth.Role { return &r }
		yes := true
		short := "short"
		taken := "ops"
		tests := []struct {
			name   string
			actor  int64
			target int64
			change staff.Change
			want   apperr.Code
		}{
			{"demote self", owner.ID, owner.ID, staff.Change{Role: ptr(auth.RoleOperator)}, apperr.CodeInvalidState},
			{"disable self", owner.ID, owner.ID, staff.Change{Disabled: &yes}, apperr.CodeInvalidState},
			{"last owner by another", op.ID, owner.ID, staff.Change{Disabled: &yes}, apperr.CodeInvalidState},
			{"short password", owner.ID, op.ID, staff.Change{Password: &short}, apperr.CodeInvalid},
			{"bad role", owner.ID, op.ID, staff.Change{Role: ptr("boss")}, apperr.CodeInvalid},
			{"nothing", owner.ID, op.ID, staff.Change{}, apperr.CodeInvalid},
			{"unknown id", owner.ID, 9999, staff.Change{Disabled: &yes}, apperr.CodeNotFound},
			{"username taken", owner.ID, owner.ID, staff.Change{Username: &taken}, apperr.CodeConflict},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := f.svc.Update(ctx, tt.actor, tt.target, tt.change); apperr.CodeOf(err) != tt.want {
					t.Errorf("got %v, want %s", err, tt.want)
				}
			})
		}
		// With a second owner, the first may be demoted by the second.
		owner2, err := f.svc.Create(ctx, owner.ID, staff.NewAccount{Username: "owner2", Password: "owner2-password", Role: auth.RoleOwner})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Update(ctx, owner2.ID, owner.ID, staff.Change{Role: ptr(auth.RoleOperator)}); err != nil {
			t.Fatalf("second owner demotes the first: %v", err)
		}
		if r, err := f.svc.CurrentRole(ctx, owner.ID, 0); err != nil || r != auth.RoleOperator {
			t.Errorf("role after demotion = %q, %v", r, err)
		}
		// Disabling takes effect on the role check at once.
		if _, err := f.svc.Update(ctx, owner2.ID, op.ID, staff.Change{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.CurrentRole(ctx, op.ID, 0); apperr.CodeOf(err) != apperr.CodeUnauthenticated {
			t.Errorf("disabled account role check: %v, want unauthenticated", err)
		}
	})
}

func TestCreateStaffValidation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		tests := []struct {
			name  string
			n     staff.NewAccount
			field string
		}{
			{"short password", staff.NewAccount{Username: "abc", Password: "123456789", Role: auth.RoleOperator}, "password"},
			{"long password", staff.NewAccount{Username: "abc", Password: string(make([]byte, 73)), Role: auth.RoleOperator}, "password"},
			{"bad username", staff.NewAccount{Username: "a b", Password: "0123456789", Role: auth.RoleOperator}, "username"},
			{"short username", staff.NewAccount{Username: "ab", Password: "0123456789", Role: auth.RoleOperator}, "username"},
			{"no role", staff.NewAccount{Username: "abc", Password: "0123456789"}, "role"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := f.svc.Create(context.Background(), staff.SystemActor, tt.n)
				var ae *apperr.Error
				if !asApp(err, &ae) || ae.Code != apperr.CodeInvalid {
					t.Fatalf("got %v, want invalid_argument", err)
				}
				if fields, _ := ae.Details["fields"].([]string); len(fields) != 1 || fields[0] != tt.field {
					t.Errorf("fields = %v, want [%s]", ae.Details["fields"], tt.field)
				}
			})
		}
		if n, _ := f.store.Count(context.Background()); n != 0 {
			t.Errorf("%d accounts written by refused creates", n)
		}
	})
}

func TestBootstrapOnlyOnEmptyTable(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		made, err := f.svc.Bootstrap(ctx, "boss", "boss-password")
		if err != nil || !made {
			t.Fatalf("first bootstrap: %v, %v", made, err)
		}
		made, err = f.svc.Bootstrap(ctx, "other", "other-password")
		if err != nil || made {
			t.Fatalf("second bootstrap: made=%v err=%v, want nothing done", made, err)
		}
		if _, err := f.login(ctx, "boss", "boss-password"); err != nil {
			t.Errorf("bootstrap owner cannot log in: %v", err)
		}
		if n, _ := f.store.Count(ctx); n != 1 {
			t.Errorf("accounts = %d, want 1", n)
		}
	})
}

// TestOwnersDemotingEachOtherKeepOne races two owners who demote each other:
// exactly one demotion goes through and one enabled owner remains.
func TestOwnersDemotingEachOtherKeepOne(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		operator := auth.RoleOperator
		for round := range 5 {
			a, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "owner-a" + strconv.Itoa(round), Password: "owner-password-1", Role: auth.RoleOwner})
			if err != nil {
				t.Fatal(err)
			}
			b, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "owner-b" + strconv.Itoa(round), Password: "owner-password-1", Role: auth.RoleOwner})
			if err != nil {
				t.Fatal(err)
			}
			// Only these two are enabled owners in this round.
			if round > 0 {
				must := d.Writer(ctx).Exec("UPDATE staff SET disabled = ? WHERE role = ? AND id NOT IN ?", true, string(auth.RoleOwner), []int64{a.ID, b.ID})
				if must.Error != nil {
					t.Fatal(must.Error)
				}
			}
			errs := make(chan error, 2)
			start := make(chan struct{})
			for _, pair := range [][2]int64{{a.ID, b.ID}, {b.ID, a.ID}} {
				go func() {
					<-start
					_, err := f.svc.Update(ctx, pair[0], pair[1], staff.Change{Role: &operator})
					errs <- err
				}()
			}
			close(start)
			failed := 0
			for range 2 {
				if err := <-errs; err != nil {
					if !apperr.Is(err, apperr.CodeInvalidState) {
						t.Fatalf("round %d: %v", round, err)
					}
					failed++
				}
			}
			var owners int64
			if err := d.Reader(ctx).Raw("SELECT COUNT(*) FROM staff WHERE role = ? AND disabled = ?", string(auth.RoleOwner), false).Scan(&owners).Error; err != nil {
				t.Fatal(err)
			}
			if failed != 1 || owners != 1 {
				t.Fatalf("round %d: %d demotions refused, %d enabled owners; want 1 and 1", round, failed, owners)
			}
		}
	})
}
