package staff_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/staff"
)

func (f staffFixture) code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f staffFixture) loginWith(ctx context.Context, username, password, code, recovery string) (staff.Session, error) {
	return f.svc.Login(ctx, staff.LoginInput{Username: username, Password: password, ClientIP: testIP,
		TOTPCode: code, RecoveryCode: recovery})
}

// enrol turns a second factor on for id and returns its secret and
// recovery codes.
func (f staffFixture) enrol(t *testing.T, id int64) (string, []string) {
	t.Helper()
	ctx := context.Background()
	e, err := f.svc.StartTOTP(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.svc.ActivateTOTP(ctx, id, f.code(t, e.Secret, f.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	// The activation code's step is used up: move to the next one.
	f.clock.Advance(staff.TOTPPeriod * time.Second)
	return e.Secret, codes
}

func TestTOTPEnrolmentAndLogin(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		op, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "ops", Password: "ops-password-1", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.login(ctx, "ops", "ops-password-1"); err != nil {
			t.Fatalf("login without a second factor: %v", err)
		}
		e, err := f.svc.StartTOTP(ctx, op.ID)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(e.ProvisioningURI)
		if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/minimall:ops" ||
			u.Query().Get("secret") != e.Secret || u.Query().Get("issuer") != "minimall" || len(e.Secret) < 32 {
			t.Fatalf("provisioning URI %q (secret %q)", e.ProvisioningURI, e.Secret)
		}
		// Not on until a code is verified: the password alone still works.
		if _, err := f.login(ctx, "ops", "ops-password-1"); err != nil {
			t.Fatalf("login during enrolment: %v", err)
		}
		wrong := f.code(t, e.Secret, f.clock.Now().Add(-10*time.Minute))
		if _, err := f.svc.ActivateTOTP(ctx, op.ID, wrong); !apperr.Is(err, apperr.CodeInvalid) {
			t.Fatalf("activate with a stale code = %v, want invalid_argument", err)
		}
		activation := f.code(t, e.Secret, f.clock.Now())
		codes, err := f.svc.ActivateTOTP(ctx, op.ID, activation)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if len(c) != 11 || c[5] != '-' || seen[c] {
				t.Errorf("recovery code %q: want 10 distinct xxxxx-xxxxx", c)
			}
			seen[c] = true
		}
		if len(codes) != staff.RecoveryCodes {
			t.Errorf("%d recovery codes, want %d", len(codes), staff.RecoveryCodes)
		}
		// Only hashes are stored.
		var hashes []string
		if err := d.Reader(ctx).Raw("SELECT code_hash FROM staff_recovery_codes WHERE staff_id = ?", op.ID).Scan(&hashes).Error; err != nil {
			t.Fatal(err)
		}
		for _, h := range hashes {
			if len(h) != 64 || seen[h] || strings.Contains(h, codes[0]) {
				t.Errorf("stored recovery code %q is not a SHA-256 hash", h)
			}
		}
		if _, err := f.svc.StartTOTP(ctx, op.ID); !apperr.Is(err, apperr.CodeInvalidState) {
			t.Errorf("enrol again while on = %v, want invalid_state", err)
		}
		if st, _ := f.svc.TOTPStatus(ctx, op.ID); !st.Enabled || st.RecoveryCodesLeft != 10 || st.Pending {
			t.Errorf("status = %+v", st)
		}

		// The password alone is no longer enough.
		if _, err := f.login(ctx, "ops", "ops-password-1"); !apperr.Is(err, apperr.CodeTOTPRequired) {
			t.Fatalf("login without the code = %v, want totp_required", err)
		}
		// The code that activated the factor cannot log in (same step).
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", activation, ""); !apperr.Is(err, apperr.CodeUnauthenticated) {
			t.Errorf("login with the activation code = %v, want unauthenticated (replay)", err)
		}
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", "000000", ""); !apperr.Is(err, apperr.CodeUnauthenticated) {
			t.Errorf("login with a wrong code = %v, want unauthenticated", err)
		}
		if _, err := f.loginWith(ctx, "wrong-user", "ops-password-1", "000000", ""); !apperr.Is(err, apperr.CodeUnauthenticated) {
			t.Errorf("unknown user = %v", err)
		}
		f.clock.Advance(staff.TOTPPeriod * time.Second)
		code := f.code(t, e.Secret, f.clock.Now())
		s, err := f.loginWith(ctx, "ops", "ops-password-1", " "+code[:3]+" "+code[3:], "")
		if err != nil || s.AccessToken == "" || s.EnrolOnly {
			t.Fatalf("login with a fresh code = %+v, %v", s, err)
		}
		// The same code again, within its window: refused.
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", code, ""); !apperr.Is(err, apperr.CodeUnauthenticated) {
			t.Errorf("replayed code = %v, want unauthenticated", err)
		}
		// The previous step's code is inside the skew but older than the
		// last one accepted: refused too.
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", f.code(t, e.Secret, f.clock.Now().Add(-30*time.Second)), ""); !apperr.Is(err, apperr.CodeUnauthenticated) {
			t.Errorf("older step's code = %v, want unauthenticated", err)
		}
		// A clock one step ahead on the phone is accepted.
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", f.code(t, e.Secret, f.clock.Now().Add(30*time.Second)), ""); err != nil {
			t.Errorf("next step's code: %v", err)
		}
	})
}

func TestTOTPRecoveryCodesAreSingleUse(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		op, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "ops", Password: "ops-password-1", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		_, codes := f.enrol(t, op.ID)
		s, err := f.loginWith(ctx, "ops", "ops-password-1", "", codes[0])
		if err != nil || s.RecoveryCodesLeft == nil || *s.RecoveryCodesLeft != 9 {
			t.Fatalf("login with a recovery code = %+v, %v; want 9 left", s, err)
		}
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", "", codes[0]); !apperr.Is(err, apperr.CodeUnauthenticated) {
			t.Errorf("recovery code used twice = %v, want unauthenticated", err)
		}
		// Typed in capitals without the dash: the same code.
		typed := strings.ToUpper(strings.ReplaceAll(codes[1], "-", ""))
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", "", typed); err != nil {
			t.Errorf("recovery code typed as %q: %v", typed, err)
		}
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", "", "aaaaa-aaaaa"); !apperr.Is(err, apperr.CodeUnauthenticated) {
			t.Errorf("made-up recovery code = %v, want unauthenticated", err)
		}
		// Another account's recovery code does not work here.
		other, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "ops2", Password: "ops-password-2", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		_, otherCodes := f.enrol(t, other.ID)
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", "", otherCodes[0]); !apperr.Is(err, apperr.CodeUnauthenticated) {
			t.Errorf("another account's recovery code = %v, want unauthenticated", err)
		}
	})
}

// TestTOTPWrongCodesLockOut: wrong codes count like wrong passwords, so six
// digits cannot be guessed at leisure once the password is known.
func TestTOTPWrongCodesLockOut(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		op, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "ops", Password: "ops-password-1", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		secret, _ := f.enrol(t, op.ID)
		for i := 0; i < staff.MaxFailedLogins; i++ {
			_, err = f.loginWith(ctx, "ops", "ops-password-1", "123456", "")
		}
		var ae *apperr.Error
		if !apperr.Is(err, apperr.CodeUnauthenticated) || !asErr(err, &ae) || ae.Details["retry_after_seconds"] == nil {
			t.Fatalf("fifth wrong code = %v, want a lock", err)
		}
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", f.code(t, secret, f.clock.Now()), ""); err == nil {
			t.Fatal("the right code logged in during the lock")
		}
	})
}

func TestTOTPRequiredAndReset(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		owner, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "boss", Password: "owner-password", Role: auth.RoleOwner})
		if err != nil {
			t.Fatal(err)
		}
		op, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "ops", Password: "ops-password-1", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		before, err := f.login(ctx, "ops", "ops-password-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.UpdateSettings(ctx, owner.ID, true); !apperr.Is(err, apperr.CodeInvalidState) {
			t.Fatalf("require without the owner's own second factor = %v, want invalid_state", err)
		}
		ownerSecret, _ := f.enrol(t, owner.ID)
		set, err := f.svc.UpdateSettings(ctx, owner.ID, true)
		if err != nil || !set.RequireTOTP {
			t.Fatalf("require: %+v %v", set, err)
		}
		if got, _ := f.svc.Settings(ctx); !got.RequireTOTP {
			t.Error("setting not stored")
		}
		// The operator's earlier token is revoked.
		if _, err := f.svc.CurrentRole(ctx, op.ID, before.Account.TokenVersion); !apperr.Is(err, apperr.CodeUnauthenticated) {
			t.Errorf("token from before the requirement = %v, want revoked", err)
		}
		// The owner's own tokens are not.
		if _, err := f.svc.CurrentRole(ctx, owner.ID, 0); err != nil {
			t.Errorf("owner's token: %v", err)
		}
		// The operator logs in to a token that can only enrol.
		s, err := f.login(ctx, "ops", "ops-password-1")
		if err != nil || !s.EnrolOnly {
			t.Fatalf("login without a second factor under the requirement = %+v, %v; want enrol-only", s, err)
		}
		tokens, _ := auth.NewTokens(testSecret, f.clock)
		cl, err := tokens.Verify(s.AccessToken)
		if err != nil || cl.Scope != auth.ScopeTOTPEnrol || cl.ExpiresAt.Sub(f.clock.Now()) > auth.EnrolTTL {
			t.Fatalf("enrol-only token claims %+v, %v", cl, err)
		}
		opSecret, _ := f.enrol(t, op.ID)
		full, err := f.loginWith(ctx, "ops", "ops-password-1", f.code(t, opSecret, f.clock.Now()), "")
		if err != nil || full.EnrolOnly {
			t.Fatalf("login after enrolment = %+v, %v", full, err)
		}

		// The owner resets the operator's second factor: off, codes gone,
		// tokens revoked, audited.
		if _, err := f.svc.ResetTOTP(ctx, owner.ID, owner.ID); !apperr.Is(err, apperr.CodeInvalidState) {
			t.Errorf("owner resetting their own = %v, want invalid_state", err)
		}
		if _, err := f.svc.ResetTOTP(ctx, owner.ID, 99999); !apperr.Is(err, apperr.CodeNotFound) {
			t.Errorf("reset of an unknown account = %v, want not_found", err)
		}
		acc, err := f.svc.ResetTOTP(ctx, owner.ID, op.ID)
		if err != nil || acc.TOTPEnabled {
			t.Fatalf("reset: %+v %v", acc, err)
		}
		if _, err := f.svc.CurrentRole(ctx, op.ID, full.Account.TokenVersion); !apperr.Is(err, apperr.CodeUnauthenticated) {
			t.Errorf("token from before the reset = %v, want revoked", err)
		}
		var left int64
		if err := d.Reader(ctx).Raw("SELECT COUNT(*) FROM staff_recovery_codes WHERE staff_id = ?", op.ID).Scan(&left).Error; err != nil || left != 0 {
			t.Errorf("%d recovery codes left after reset (%v)", left, err)
		}
		if s, err := f.login(ctx, "ops", "ops-password-1"); err != nil || !s.EnrolOnly {
			t.Errorf("login after reset under the requirement = %+v, %v; want enrol-only", s, err)
		}
		entries, err := f.audit.ListByTarget(ctx, "staff", strconvI(op.ID))
		if err != nil {
			t.Fatal(err)
		}
		if !hasAction(entries, "staff.totp_reset", owner.ID) || !hasAction(entries, "staff.totp_enable", op.ID) {
			t.Errorf("audit of the operator: %+v", entries)
		}
		settings, err := f.audit.ListByTarget(ctx, "staff_settings", "1")
		if err != nil || !hasAction(settings, "staff.security_update", owner.ID) {
			t.Errorf("audit of the setting: %+v %v", settings, err)
		}
		// The owner still logs in with a code.
		if _, err := f.loginWith(ctx, "boss", "owner-password", f.code(t, ownerSecret, f.clock.Now()), ""); err != nil {
			t.Errorf("owner login: %v", err)
		}
	})
}

func hasAction(entries []audit.Recorded, action string, actor int64) bool {
	for _, e := range entries {
		if e.Action == action && e.StaffID == actor {
			return true
		}
	}
	return false
}

func asErr(err error, target **apperr.Error) bool { return errors.As(err, target) }

// invalidField: err is invalid_argument naming exactly field.
func invalidField(err error, field string) bool {
	var ae *apperr.Error
	if !apperr.Is(err, apperr.CodeInvalid) || !asErr(err, &ae) {
		return false
	}
	fields, _ := ae.Details["fields"].([]string)
	return len(fields) == 1 && fields[0] == field
}

func strconvI(id int64) string { return strconv.FormatInt(id, 10) }

func (f staffFixture) disable(ctx context.Context, id int64, password, code string) (staff.Account, error) {
	return f.svc.DisableTOTP(ctx, id, staff.DisableInput{Password: password, Code: code, ClientIP: testIP})
}

// TestTOTPDisableOwn: a staff member turns their own second factor off with
// the password and a fresh code; a wrong password, a wrong code or a replayed
// code changes nothing, and another account's factor is untouched.
func TestTOTPDisableOwn(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		op, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "ops", Password: "ops-password-1", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		other, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "ops2", Password: "ops-password-2", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.disable(ctx, op.ID, "ops-password-1", "123456"); !apperr.Is(err, apperr.CodeInvalidState) {
			t.Errorf("disable without a second factor = %v, want invalid_state", err)
		}
		otherSecret, _ := f.enrol(t, other.ID)
		secret, _ := f.enrol(t, op.ID)
		otherBefore, _ := storedSecrets(t, d, other.ID)
		stillOn := func(what string) {
			t.Helper()
			if st, err := f.svc.TOTPStatus(ctx, op.ID); err != nil || !st.Enabled || st.RecoveryCodesLeft != staff.RecoveryCodes {
				t.Errorf("after %s: status %+v, %v; want the factor still on", what, st, err)
			}
		}

		if _, err := f.disable(ctx, op.ID, "", " "); !apperr.Is(err, apperr.CodeInvalid) {
			t.Errorf("empty password and code = %v, want invalid_argument", err)
		}
		if _, err := f.disable(ctx, op.ID, "wrong-password", f.code(t, secret, f.clock.Now())); !invalidField(err, "password") {
			t.Errorf("wrong password = %v, want invalid_argument (password)", err)
		}
		stillOn("a wrong password")
		// A wrong password here is no reason to end the session.
		if _, err := f.svc.CurrentRole(ctx, op.ID, op.TokenVersion); err != nil {
			t.Errorf("token after a wrong password: %v", err)
		}
		if _, err := f.disable(ctx, op.ID, "ops-password-1", "000000"); !invalidField(err, "code") {
			t.Errorf("wrong code = %v, want invalid_argument (code)", err)
		}
		stillOn("a wrong code")
		// The other account's current code is no code of this one.
		if _, err := f.disable(ctx, op.ID, "ops-password-1", f.code(t, otherSecret, f.clock.Now())); !invalidField(err, "code") {
			t.Errorf("another account's code = %v, want invalid_argument (code)", err)
		}
		// A code used to log in cannot be used again to turn the factor off.
		code := f.code(t, secret, f.clock.Now())
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", code, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.disable(ctx, op.ID, "ops-password-1", code); !invalidField(err, "code") {
			t.Errorf("replayed code = %v, want invalid_argument (code)", err)
		}
		stillOn("a replayed code")

		f.clock.Advance(staff.TOTPPeriod * time.Second)
		acc, err := f.disable(ctx, op.ID, "ops-password-1", f.code(t, secret, f.clock.Now()))
		if err != nil || acc.TOTPEnabled {
			t.Fatalf("disable = %+v, %v", acc, err)
		}
		if s, p := storedSecrets(t, d, op.ID); s != nil || p != nil {
			t.Errorf("stored after disable: %s, %s", deref(s), deref(p))
		}
		var left int64
		if err := d.Reader(ctx).Raw("SELECT COUNT(*) FROM staff_recovery_codes WHERE staff_id = ?", op.ID).Scan(&left).Error; err != nil || left != 0 {
			t.Errorf("%d recovery codes left (%v)", left, err)
		}
		if _, err := f.login(ctx, "ops", "ops-password-1"); err != nil {
			t.Errorf("password login after disable: %v", err)
		}
		// Its tokens stay valid: the holder proved both factors.
		if _, err := f.svc.CurrentRole(ctx, op.ID, acc.TokenVersion); err != nil || acc.TokenVersion != op.TokenVersion {
			t.Errorf("token after disable: %v (version %d, was %d)", err, acc.TokenVersion, op.TokenVersion)
		}
		entries, err := f.audit.ListByTarget(ctx, "staff", strconvI(op.ID))
		if err != nil || !hasAction(entries, "staff.totp_disable", op.ID) {
			t.Errorf("audit: %+v %v", entries, err)
		}

		// The other account's factor is untouched.
		if after, _ := storedSecrets(t, d, other.ID); deref(after) != deref(otherBefore) {
			t.Errorf("the other account's secret changed: %s, was %s", deref(after), deref(otherBefore))
		}
		if st, _ := f.svc.TOTPStatus(ctx, other.ID); !st.Enabled || st.RecoveryCodesLeft != staff.RecoveryCodes {
			t.Errorf("other account's status %+v", st)
		}
		if _, err := f.login(ctx, "ops2", "ops-password-2"); !apperr.Is(err, apperr.CodeTOTPRequired) {
			t.Errorf("other account without a code = %v, want totp_required", err)
		}
		if _, err := f.loginWith(ctx, "ops2", "ops-password-2", f.code(t, otherSecret, f.clock.Now()), ""); err != nil {
			t.Errorf("other account with its code: %v", err)
		}
	})
}

// TestTOTPDisableRules: wrong passwords and codes count towards the lockout,
// and a shop that requires a second factor refuses to turn one off.
func TestTOTPDisableRules(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		owner, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "boss", Password: "owner-password", Role: auth.RoleOwner})
		if err != nil {
			t.Fatal(err)
		}
		secret, _ := f.enrol(t, owner.ID)
		// Wrong passwords and wrong codes alternate: both count, each answers
		// invalid_argument naming its field until the limit, which locks.
		for i := 0; i < staff.MaxFailedLogins; i++ {
			password, code, field := "guess-"+strconvI(int64(i)), f.code(t, secret, f.clock.Now()), "password"
			if i%2 == 1 {
				password, code, field = "owner-password", "000000", "code"
			}
			_, err = f.disable(ctx, owner.ID, password, code)
			if i < staff.MaxFailedLogins-1 && !invalidField(err, field) {
				t.Fatalf("wrong %s %d = %v, want invalid_argument (%s)", field, i+1, err, field)
			}
		}
		var ae *apperr.Error
		if !apperr.Is(err, apperr.CodeRateLimited) || !asErr(err, &ae) || ae.Details["retry_after_seconds"] == nil {
			t.Fatalf("fifth failure = %v, want a lock (rate_limited with retry_after_seconds)", err)
		}
		if _, err := f.disable(ctx, owner.ID, "owner-password", f.code(t, secret, f.clock.Now())); !apperr.Is(err, apperr.CodeRateLimited) {
			t.Fatalf("right password and code during the lock = %v, want rate_limited", err)
		}
		// The lock is the login's: the same address cannot log in either.
		if _, err := f.loginWith(ctx, "boss", "owner-password", f.code(t, secret, f.clock.Now()), ""); err == nil {
			t.Error("login during the lock")
		}
		f.clock.Advance(staff.LockDuration)

		if _, err := f.svc.UpdateSettings(ctx, owner.ID, true); err != nil {
			t.Fatal(err)
		}
		_, err = f.disable(ctx, owner.ID, "owner-password", f.code(t, secret, f.clock.Now()))
		if !apperr.Is(err, apperr.CodeInvalidState) || !asErr(err, &ae) || ae.Details["status"] != "required" {
			t.Fatalf("disable while required = %v, want invalid_state (required)", err)
		}
		if st, _ := f.svc.TOTPStatus(ctx, owner.ID); !st.Enabled {
			t.Error("the factor went off while the shop requires it")
		}
		if _, err := f.svc.UpdateSettings(ctx, owner.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := f.disable(ctx, owner.ID, "owner-password", f.code(t, secret, f.clock.Now())); err != nil {
			t.Errorf("disable once not required: %v", err)
		}
	})
}
