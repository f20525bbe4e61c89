package staff_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/staff"
)

// storedSecrets reads an account's second-factor columns as stored.
func storedSecrets(t *testing.T, d *db.DB, id int64) (secret, pending *string) {
	t.Helper()
	var row struct {
		TOTPSecret        *string `gorm:"column:totp_secret"`
		TOTPPendingSecret *string `gorm:"column:totp_pending_secret"`
	}
	if err := d.Reader(context.Background()).Raw("SELECT totp_secret, totp_pending_secret FROM staff WHERE id = ?", id).
		Scan(&row).Error; err != nil {
		t.Fatal(err)
	}
	return row.TOTPSecret, row.TOTPPendingSecret
}

// checkSealed fails unless v is a sealed value that does not hold clear.
func checkSealed(t *testing.T, what string, v *string, clear string) {
	t.Helper()
	if v == nil || !strings.HasPrefix(*v, "v1:") || strings.Contains(*v, clear) || len(*v) > 255 {
		t.Errorf("%s stored as %v, want it sealed (v1:..., without the secret %s)", what, deref(v), clear)
	}
}

func deref(v *string) string {
	if v == nil {
		return "NULL"
	}
	return *v
}

// withSealer returns a service on the fixture's database and clock whose
// second-factor secrets use sealer: another instance with another key.
func (f staffFixture) withSealer(t *testing.T, sealer *staff.Sealer) *staff.Service {
	t.Helper()
	tokens, err := auth.NewTokens(testSecret, f.clock)
	if err != nil {
		t.Fatal(err)
	}
	passwords, err := auth.NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := staff.NewService(f.d, f.store, passwords, tokens, f.audit, f.clock, sealer)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealerKeys(t *testing.T) {
	if _, err := staff.NewSealer(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was accepted")
	}
	a, err := staff.DeriveTOTPKey(testSecret)
	if err != nil || len(a) != 32 {
		t.Fatalf("derived key %x, %v", a, err)
	}
	b, _ := staff.DeriveTOTPKey(testSecret + "x")
	if string(a) == string(b) || strings.Contains(testSecret, string(a)) {
		t.Error("the derived key does not depend on the JWT secret")
	}
}

// TestTOTPSecretsSealedAtRest: neither the pending nor the active secret is
// ever stored in clear, and a login with a right code still works.
func TestTOTPSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		op, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "ops", Password: "ops-password-1", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		e, err := f.svc.StartTOTP(ctx, op.ID)
		if err != nil {
			t.Fatal(err)
		}
		secret, pending := storedSecrets(t, d, op.ID)
		checkSealed(t, "pending secret", pending, e.Secret)
		if secret != nil {
			t.Errorf("secret %s before activation", *secret)
		}
		if _, err := f.svc.ActivateTOTP(ctx, op.ID, f.code(t, e.Secret, f.clock.Now())); err != nil {
			t.Fatal(err)
		}
		secret, pending = storedSecrets(t, d, op.ID)
		checkSealed(t, "secret", secret, e.Secret)
		if pending != nil {
			t.Errorf("pending secret %s after activation", *pending)
		}
		f.clock.Advance(staff.TOTPPeriod * time.Second)
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", f.code(t, e.Secret, f.clock.Now()), ""); err != nil {
			t.Fatalf("login with a right code: %v", err)
		}
		if again, _ := storedSecrets(t, d, op.ID); deref(again) != deref(secret) {
			t.Errorf("a login sealed the secret again: %s, was %s", deref(again), deref(secret))
		}
	})
}

// TestTOTPSealedSecretBoundToAccount: a sealed secret copied into another
// account's row does not open there, so it does not log that account in.
func TestTOTPSealedSecretBoundToAccount(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		a, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "alice", Password: "alice-password", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "bob", Password: "bob-password", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		aliceSecret, _ := f.enrol(t, a.ID)
		f.enrol(t, b.ID)
		sealed, _ := storedSecrets(t, d, a.ID)
		if err := d.Writer(ctx).Exec("UPDATE staff SET totp_secret = ? WHERE id = ?", *sealed, b.ID).Error; err != nil {
			t.Fatal(err)
		}
		_, err = f.loginWith(ctx, "bob", "bob-password", f.code(t, aliceSecret, f.clock.Now()), "")
		if err == nil {
			t.Fatal("alice's sealed secret copied to bob logged bob in with alice's code")
		}
		if !apperr.Is(err, apperr.CodeInternal) || !errors.Is(err, staff.ErrTOTPKey) {
			t.Errorf("login with a copied secret = %v, want internal (%v)", err, staff.ErrTOTPKey)
		}
		// Alice's own login is unaffected.
		if _, err := f.loginWith(ctx, "alice", "alice-password", f.code(t, aliceSecret, f.clock.Now()), ""); err != nil {
			t.Errorf("alice: %v", err)
		}
	})
}

// TestTOTPLegacyClearSecrets: secrets stored in clear before sealing keep
// working and are sealed: the active one at its next right code, the pending
// one at activation, and both by the SealClearTOTP job.
func TestTOTPLegacyClearSecrets(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		var ids []int64
		for _, u := range []string{"ops", "packer", "idle", "starter"} {
			st, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: u, Password: u + "-password", Role: auth.RoleOperator})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, st.ID)
		}
		secrets := map[int64]string{}
		for _, id := range ids {
			k, err := totp.Generate(totp.GenerateOpts{Issuer: "minimall", AccountName: "x"})
			if err != nil {
				t.Fatal(err)
			}
			secrets[id] = k.Secret()
		}
		w := d.Writer(ctx)
		for _, id := range ids[:3] {
			if err := w.Exec("UPDATE staff SET totp_secret = ?, totp_enabled_at = ?, totp_last_step = 0 WHERE id = ?",
				secrets[id], f.clock.Now(), id).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Exec("UPDATE staff SET totp_pending_secret = ? WHERE id = ?", secrets[ids[3]], ids[3]).Error; err != nil {
			t.Fatal(err)
		}

		// A clear secret verifies, and is sealed by that login.
		if _, err := f.loginWith(ctx, "ops", "ops-password", f.code(t, secrets[ids[0]], f.clock.Now()), ""); err != nil {
			t.Fatalf("login with a clear stored secret: %v", err)
		}
		stored, _ := storedSecrets(t, d, ids[0])
		checkSealed(t, "secret after the login", stored, secrets[ids[0]])
		f.clock.Advance(staff.TOTPPeriod * time.Second)
		if _, err := f.loginWith(ctx, "ops", "ops-password", f.code(t, secrets[ids[0]], f.clock.Now()), ""); err != nil {
			t.Fatalf("login after sealing: %v", err)
		}
		// A wrong code does not seal it.
		if _, err := f.loginWith(ctx, "packer", "packer-password", "000000", ""); !apperr.Is(err, apperr.CodeUnauthenticated) {
			t.Fatalf("wrong code = %v", err)
		}
		if s, _ := storedSecrets(t, d, ids[1]); deref(s) != secrets[ids[1]] {
			t.Errorf("a wrong code changed the stored secret to %s", deref(s))
		}
		// A clear pending secret activates, sealed.
		if _, err := f.svc.ActivateTOTP(ctx, ids[3], f.code(t, secrets[ids[3]], f.clock.Now())); err != nil {
			t.Fatalf("activate a clear pending secret: %v", err)
		}
		stored, _ = storedSecrets(t, d, ids[3])
		checkSealed(t, "secret activated from a clear pending one", stored, secrets[ids[3]])

		// The job seals the rest (packer's and idle's) and then finds none.
		n, err := f.svc.SealClearTOTP(ctx, 100)
		if err != nil || n != 2 {
			t.Fatalf("SealClearTOTP = %d, %v; want 2", n, err)
		}
		for _, id := range ids {
			s, _ := storedSecrets(t, d, id)
			checkSealed(t, "secret after the job", s, secrets[id])
		}
		if n, err := f.svc.SealClearTOTP(ctx, 100); err != nil || n != 0 {
			t.Errorf("second run = %d, %v; want 0", n, err)
		}
		f.clock.Advance(staff.TOTPPeriod * time.Second)
		if _, err := f.loginWith(ctx, "idle", "idle-password", f.code(t, secrets[ids[2]], f.clock.Now()), ""); err != nil {
			t.Errorf("login after the job sealed the secret: %v", err)
		}
	})
}

// TestTOTPWrongKeyFailsClosed: under a key that does not open the stored
// secrets a right code logs nobody in (an internal error naming the key),
// recovery codes still work, and moving from the derived key to a
// configured one keeps old values working while sealing them again.
func TestTOTPWrongKeyFailsClosed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newStaffFixture(t, d)
		ctx := context.Background()
		op, err := f.svc.Create(ctx, staff.SystemActor, staff.NewAccount{Username: "ops", Password: "ops-password-1", Role: auth.RoleOperator})
		if err != nil {
			t.Fatal(err)
		}
		secret, codes := f.enrol(t, op.ID)
		before, _ := storedSecrets(t, d, op.ID)

		// Another JWT secret and no configured key: another derived key.
		other, err := staff.TOTPSealer(nil, testSecret+"-rotated")
		if err != nil {
			t.Fatal(err)
		}
		wrong := f.withSealer(t, other)
		s, err := wrong.Login(ctx, staff.LoginInput{Username: "ops", Password: "ops-password-1", ClientIP: testIP,
			TOTPCode: f.code(t, secret, f.clock.Now())})
		if err == nil || s.AccessToken != "" {
			t.Fatal("a right code logged in under a key that does not open the secret")
		}
		if !apperr.Is(err, apperr.CodeInternal) || !errors.Is(err, staff.ErrTOTPKey) ||
			!strings.Contains(err.Error(), "MINIMALL_STAFF_TOTP_KEY") {
			t.Errorf("login under the wrong key = %v, want internal wrapping ErrTOTPKey", err)
		}
		if after, _ := storedSecrets(t, d, op.ID); deref(after) != deref(before) {
			t.Error("the failed login changed the stored secret")
		}
		if _, err := wrong.ActivateTOTP(ctx, op.ID, "123456"); err == nil {
			t.Error("activation under the wrong key succeeded")
		}
		// Recovery codes do not depend on the key.
		if _, err := wrong.Login(ctx, staff.LoginInput{Username: "ops", Password: "ops-password-1", ClientIP: testIP,
			RecoveryCode: codes[0]}); err != nil {
			t.Errorf("recovery code under the wrong key: %v", err)
		}

		// A configured key still opens what the derived key sealed, and
		// seals it again under itself at the next right code.
		configured, err := staff.TOTPSealer(randomKey(t), testSecret)
		if err != nil {
			t.Fatal(err)
		}
		moved := f.withSealer(t, configured)
		if _, err := moved.Login(ctx, staff.LoginInput{Username: "ops", Password: "ops-password-1", ClientIP: testIP,
			TOTPCode: f.code(t, secret, f.clock.Now())}); err != nil {
			t.Fatalf("login under the configured key: %v", err)
		}
		after, _ := storedSecrets(t, d, op.ID)
		checkSealed(t, "secret sealed again", after, secret)
		if deref(after) == deref(before) {
			t.Error("the secret was not sealed again under the configured key")
		}
		f.clock.Advance(staff.TOTPPeriod * time.Second)
		if _, err := f.loginWith(ctx, "ops", "ops-password-1", f.code(t, secret, f.clock.Now()), ""); !errors.Is(err, staff.ErrTOTPKey) {
			t.Errorf("the derived key after the move = %v, want ErrTOTPKey", err)
		}
	})
}
