package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/platform/db"
)

// Second-factor rules (docs/identity.md):
//   - A staff member enrols a TOTP authenticator for their own account: the
//     secret is shown once as an otpauth:// provisioning URI, and the second
//     factor is on only after a code from the app is verified.
//   - Codes are RFC 6238: six digits, 30-second steps, SHA-1 (what Google
//     Authenticator, Microsoft Authenticator and 1Password expect), one step
//     of clock skew either side.
//   - A code is accepted only for a time step later than the last accepted
//     one (staff.totp_last_step, a conditional update), so a code seen once,
//     over a shoulder or in a log, cannot be used again within its window.
//   - Activation hands out RecoveryCodes single-use recovery codes once;
//     only their SHA-256 hashes are kept.
//   - A wrong code or recovery code at login counts as a failed login for
//     the username and address, like a wrong password (lockout).
//   - The owner may require a second factor of every staff account. An
//     account without one then logs in to a token that can only enrol
//     (auth.ScopeTOTPEnrol); requiring it revokes the tokens of accounts
//     without one. The owner may reset another account's second factor,
//     which also revokes its tokens; both are audited.
//   - A staff member may turn their own second factor off with the password
//     and a fresh code, unless the shop requires one (DisableTOTP).
//   - Secrets are stored sealed (seal.go).
const (
	TOTPIssuer    = "minimall"
	TOTPPeriod    = 30
	TOTPSkew      = 1
	RecoveryCodes = 10
)

// Enrolment is a second factor being set up: the secret, in base32 and as a
// provisioning URI for an authenticator app (or a QR code of it).
type Enrolment struct {
	Secret          string
	ProvisioningURI string
}

// TOTPStatus is a staff member's second factor as they may see it.
type TOTPStatus struct {
	Enabled           bool
	EnabledAt         *time.Time
	Pending           bool
	RecoveryCodesLeft int64
	// Required is the shop's setting.
	Required bool
}

// SecuritySettings are the shop-wide staff security settings.
type SecuritySettings struct {
	RequireTOTP bool
	UpdatedAt   *time.Time
}

type totpRow struct {
	ID                int64
	Username          string
	TOTPSecret        *string    `gorm:"column:totp_secret"`
	TOTPPendingSecret *string    `gorm:"column:totp_pending_secret"`
	TOTPEnabledAt     *time.Time `gorm:"column:totp_enabled_at"`
	TOTPLastStep      int64      `gorm:"column:totp_last_step"`
}

func (totpRow) TableName() string { return "staff" }

type recoveryRow struct {
	ID        int64
	StaffID   int64
	CodeHash  string
	UsedAt    *time.Time
	CreatedAt time.Time
}

func (recoveryRow) TableName() string { return "staff_recovery_codes" }

type settingsRow struct {
	ID          int64
	RequireTOTP bool `gorm:"column:require_totp"`
	UpdatedAt   time.Time
}

func (settingsRow) TableName() string { return "staff_settings" }

// replaceSecret stores sealed as the account's second-factor secret if the
// stored one is still exactly old; false when it is not.
func (s *Store) replaceSecret(ctx context.Context, staffID int64, old, sealed string) (bool, error) {
	res := s.db.Writer(ctx).Exec("UPDATE staff SET totp_secret = ? WHERE id = ? AND totp_secret = ?", sealed, staffID, old)
	return res.RowsAffected == 1, res.Error
}

// replacePending is replaceSecret for the pending secret of an enrolment.
func (s *Store) replacePending(ctx context.Context, staffID int64, old, sealed string) (bool, error) {
	res := s.db.Writer(ctx).Exec("UPDATE staff SET totp_pending_secret = ? WHERE id = ? AND totp_pending_secret = ?", sealed, staffID, old)
	return res.RowsAffected == 1, res.Error
}

// clearSecrets returns up to limit accounts with a second-factor secret,
// active or pending, stored in clear (without the sealed prefix).
func (s *Store) clearSecrets(ctx context.Context, limit int) ([]totpRow, error) {
	var rows []totpRow
	err := s.db.Writer(ctx).
		Where("(totp_secret IS NOT NULL AND totp_secret NOT LIKE ?) OR (totp_pending_secret IS NOT NULL AND totp_pending_secret NOT LIKE ?)",
			sealPrefix+"%", sealPrefix+"%").
		Order("id").Limit(limit).Find(&rows).Error
	return rows, err
}

func (s *Store) totp(ctx context.Context, id int64) (totpRow, error) {
	var r totpRow
	err := s.db.Writer(ctx).Where("id = ?", id).Take(&r).Error
	return r, err
}

// settings reads the shop's staff security settings (none stored: defaults).
func (s *Store) settings(ctx context.Context) (SecuritySettings, error) {
	var rows []settingsRow
	if err := s.db.Reader(ctx).Where("id = 1").Limit(1).Find(&rows).Error; err != nil || len(rows) == 0 {
		return SecuritySettings{}, err
	}
	t := rows[0].UpdatedAt.UTC()
	return SecuritySettings{RequireTOTP: rows[0].RequireTOTP, UpdatedAt: &t}, nil
}

// recoveryLeft counts the unused recovery codes of an account.
func (s *Store) recoveryLeft(ctx context.Context, staffID int64) (int64, error) {
	var n int64
	err := s.db.Reader(ctx).Model(&recoveryRow{}).Where("staff_id = ? AND used_at IS NULL", staffID).Count(&n).Error
	return n, err
}

// acceptStep records step as the account's last accepted TOTP step unless
// a code of that step or a later one was accepted already.
func (s *Store) acceptStep(ctx context.Context, staffID, step int64) (bool, error) {
	res := s.db.Writer(ctx).Exec("UPDATE staff SET totp_last_step = ? WHERE id = ? AND totp_last_step < ? AND totp_secret IS NOT NULL",
		step, staffID, step)
	return res.RowsAffected == 1, res.Error
}

// useRecoveryCode marks an unused recovery code used; false when there is
// none with that hash.
func (s *Store) useRecoveryCode(ctx context.Context, staffID int64, hash string, now time.Time) (bool, error) {
	res := s.db.Writer(ctx).Exec("UPDATE staff_recovery_codes SET used_at = ? WHERE staff_id = ? AND code_hash = ? AND used_at IS NULL",
		now, staffID, hash)
	return res.RowsAffected == 1, res.Error
}

var totpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// matchStep returns the time step within the skew of now whose code is code,
// or false.
func matchStep(secret, code string, now time.Time) (int64, bool) {
	if len(code) != 6 {
		return 0, false
	}
	cur := now.Unix() / TOTPPeriod
	for _, step := range []int64{cur, cur - 1, cur + 1} {
		if ok, err := hotp.ValidateCustom(code, uint64(step), secret, totpOpts); err == nil && ok {
			return step, true
		}
	}
	return 0, false
}

// normalizeCode drops the spaces people type into codes; recovery codes are
// also lower-cased and lose their dash.
func normalizeCode(s string) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(s)))
}

func hashRecovery(code string) string {
	sum := sha256.Sum256([]byte(normalizeCode(code)))
	return hex.EncodeToString(sum[:])
}

// recoveryAlphabet leaves out letters and digits that read alike (0/o, 1/l/i).
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// newRecoveryCodes returns n random codes of ten characters, shown as
// xxxxx-xxxxx (about 49 bits each).
func newRecoveryCodes(n int) ([]string, error) {
	out := make([]string, n)
	buf := make([]byte, 10)
	for i := range out {
		if _, err := rand.Read(buf); err != nil {
			return nil, err
		}
		b := make([]byte, 0, 11)
		for j, x := range buf {
			if j == 5 {
				b = append(b, '-')
			}
			// 256 % 31 leaves a bias of under 1 in 8 on a few letters;
			// rejection would remove it, but 49 bits are plenty here.
			b = append(b, recoveryAlphabet[int(x)%len(recoveryAlphabet)])
		}
		out[i] = string(b)
	}
	return out, nil
}

// StartTOTP begins (or begins again) the enrolment of the account's second
// factor and returns its secret. An account whose second factor is on
// answers invalid_state: it is turned off (DisableTOTP) or reset first.
func (s *Service) StartTOTP(ctx context.Context, staffID int64) (Enrolment, error) {
	r, err := s.store.totp(ctx, staffID)
	if db.IsNotFound(err) {
		return Enrolment{}, apperr.NotFound("staff account")
	}
	if err != nil {
		return Enrolment{}, apperr.Internal(err)
	}
	if r.TOTPSecret != nil {
		return Enrolment{}, apperr.InvalidState("enabled", "two-factor login is already on for this account: turn it off first, or an owner can reset it")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: r.Username, Period: TOTPPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrolment{}, apperr.Internal(err)
	}
	sealed, err := s.sealer.seal(staffID, key.Secret())
	if err != nil {
		return Enrolment{}, apperr.Internal(err)
	}
	res := s.db.Writer(ctx).Exec("UPDATE staff SET totp_pending_secret = ?, updated_at = ? WHERE id = ? AND totp_secret IS NULL",
		sealed, s.clock.Now(), staffID)
	if res.Error != nil {
		return Enrolment{}, apperr.Internal(res.Error)
	}
	if res.RowsAffected != 1 {
		return Enrolment{}, apperr.InvalidState("enabled", "two-factor login is already on for this account")
	}
	return Enrolment{Secret: key.Secret(), ProvisioningURI: key.URL()}, nil
}

// ActivateTOTP turns the pending second factor on when code is a current
// code of it, and returns the recovery codes, which are never shown again.
func (s *Service) ActivateTOTP(ctx context.Context, staffID int64, code string) ([]string, error) {
	code = normalizeCode(code)
	if code == "" {
		return nil, apperr.Invalid("code is required", "code")
	}
	codes, err := newRecoveryCodes(RecoveryCodes)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	now := s.clock.Now()
	err = s.db.Tx(ctx, func(ctx context.Context) error {
		r, err := s.store.totp(ctx, staffID)
		if db.IsNotFound(err) {
			return apperr.NotFound("staff account")
		}
		if err != nil {
			return err
		}
		if r.TOTPSecret != nil {
			return apperr.InvalidState("enabled", "two-factor login is already on for this account")
		}
		if r.TOTPPendingSecret == nil {
			return apperr.InvalidState("not_started", "start the enrolment first")
		}
		secret, reseal, err := s.sealer.open(staffID, *r.TOTPPendingSecret)
		if err != nil {
			return err
		}
		step, ok := matchStep(secret, code, now)
		if !ok {
			return apperr.Invalid("the code does not match: check the app and the device's clock", "code")
		}
		// The pending value becomes the secret as stored, unless it was
		// stored in clear (or under an older key): then it is sealed now.
		active := *r.TOTPPendingSecret
		if reseal {
			if active, err = s.sealer.seal(staffID, secret); err != nil {
				return err
			}
		}
		// The pending value compared is the exact string read above, so an
		// enrolment started again meanwhile is not turned on by this code.
		res := s.db.Writer(ctx).Exec(`UPDATE staff SET totp_secret = ?, totp_pending_secret = NULL,
			totp_enabled_at = ?, totp_last_step = ?, updated_at = ?
			WHERE id = ? AND totp_secret IS NULL AND totp_pending_secret = ?`, active, now, step, now, staffID, *r.TOTPPendingSecret)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return apperr.Conflict("the enrolment changed meanwhile: start again")
		}
		if err := s.db.Writer(ctx).Where("staff_id = ?", staffID).Delete(&recoveryRow{}).Error; err != nil {
			return err
		}
		rows := make([]recoveryRow, len(codes))
		for i, c := range codes {
			rows[i] = recoveryRow{StaffID: staffID, CodeHash: hashRecovery(c), CreatedAt: now}
		}
		if err := s.db.Writer(ctx).Create(&rows).Error; err != nil {
			return err
		}
		return s.record(ctx, staffID, "staff.totp_enable", staffID, map[string]any{"recovery_codes": len(codes)})
	})
	if err != nil {
		return nil, apperr.From(err)
	}
	return codes, nil
}

// TOTPStatus returns the account's second-factor state.
func (s *Service) TOTPStatus(ctx context.Context, staffID int64) (TOTPStatus, error) {
	r, err := s.store.totp(ctx, staffID)
	if db.IsNotFound(err) {
		return TOTPStatus{}, apperr.NotFound("staff account")
	}
	if err != nil {
		return TOTPStatus{}, apperr.Internal(err)
	}
	set, err := s.store.settings(ctx)
	if err != nil {
		return TOTPStatus{}, apperr.Internal(err)
	}
	st := TOTPStatus{Enabled: r.TOTPSecret != nil, EnabledAt: utcPtr(r.TOTPEnabledAt), Pending: r.TOTPPendingSecret != nil,
		Required: set.RequireTOTP}
	if st.Enabled {
		if st.RecoveryCodesLeft, err = s.store.recoveryLeft(ctx, staffID); err != nil {
			return TOTPStatus{}, apperr.Internal(err)
		}
	}
	return st, nil
}

// ResetTOTP turns another account's second factor off on behalf of an
// owner (actorID), drops its recovery codes and revokes its tokens; the
// account enrols again at its next login if the shop requires it.
func (s *Service) ResetTOTP(ctx context.Context, actorID, staffID int64) (Account, error) {
	if actorID == staffID {
		return Account{}, apperr.InvalidState("self", "you cannot reset your own second factor: turn it off with your password and a code, use a recovery code, or ask another owner")
	}
	var st Account
	err := s.db.Tx(ctx, func(ctx context.Context) error {
		cur, err := s.store.totp(ctx, staffID)
		if db.IsNotFound(err) {
			return apperr.NotFound("staff account")
		}
		if err != nil {
			return err
		}
		res := s.db.Writer(ctx).Exec(`UPDATE staff SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL,
			totp_last_step = 0, token_version = token_version + 1, updated_at = ? WHERE id = ?`, s.clock.Now(), staffID)
		if res.Error != nil {
			return res.Error
		}
		if err := s.db.Writer(ctx).Where("staff_id = ?", staffID).Delete(&recoveryRow{}).Error; err != nil {
			return err
		}
		if err := s.record(ctx, actorID, "staff.totp_reset", staffID, map[string]any{
			"was_enabled": cur.TOTPSecret != nil, "tokens": "revoked",
		}); err != nil {
			return err
		}
		st, err = s.store.ByID(ctx, staffID)
		return err
	})
	s.forget(staffID)
	if err != nil {
		return Account{}, apperr.From(err)
	}
	return st, nil
}

// DisableInput is a staff member's request to turn their own second factor
// off, and the client address it came from.
type DisableInput struct {
	Password string
	Code     string
	ClientIP string
}

// reauthLocked is the lock of the login's lockout met by a signed-in staff
// member proving their factors again (DisableTOTP): 429 rate_limited with
// Retry-After rather than the login's 401, which to a client means its
// session ended.
func reauthLocked(until, now time.Time) error {
	return apperr.New(apperr.CodeRateLimited, "too many failed attempts: try again later").
		WithDetail("retry_after_seconds", retryAfterSeconds(until, now)).WithCause(errDisableRefused)
}

// errStaleCode: the code's step was used already, or the factor changed
// between the check and the update.
var errStaleCode = errors.New("staff: second-factor code already used")

// errDisableRefused is the cause of DisableTOTP's answer to a wrong
// password or code, so the handler can log the failure as a security event.
var errDisableRefused = errors.New("staff: wrong password or code turning a second factor off")

// DisableTOTP turns the caller's own second factor off. It needs the
// account's password and a current code of the factor (a recovery code is
// not enough: it proves the codes were kept, not that the authenticator is
// at hand). A wrong password or code answers invalid_argument naming the
// field (password or code), like a wrong code at activation: not
// unauthenticated, which would tell the client its session ended. It still
// counts as a failed login of the username and address, so a stolen session
// cannot guess them at leisure; the failure that reaches the limit, and any
// attempt during the lock, answer the login's lock (unauthenticated with
// retry_after_seconds). A code is used up like at login: a replayed one is
// answered like a wrong one. When the shop requires a second
// factor the answer is 409 invalid_state (status required): only an owner
// can lift the requirement or reset an account. The factor, its pending
// enrolment and its recovery codes go in one transaction, audited as
// staff.totp_disable; the account's tokens stay valid (its holder just
// proved both factors).
func (s *Service) DisableTOTP(ctx context.Context, staffID int64, in DisableInput) (Account, error) {
	code := normalizeCode(in.Code)
	if in.Password == "" || code == "" {
		var fields []string
		if in.Password == "" {
			fields = append(fields, "password")
		}
		if code == "" {
			fields = append(fields, "code")
		}
		return Account{}, apperr.Invalid("password and code are required", fields...)
	}
	row, err := s.store.row(ctx, staffID)
	if db.IsNotFound(err) {
		return Account{}, apperr.NotFound("staff account")
	}
	if err != nil {
		return Account{}, apperr.Internal(err)
	}
	r, err := s.store.totp(ctx, staffID)
	if err != nil {
		return Account{}, apperr.Internal(err)
	}
	if r.TOTPSecret == nil {
		return Account{}, apperr.InvalidState("not_enabled", "two-factor login is not on for this account")
	}
	set, err := s.store.settings(ctx)
	if err != nil {
		return Account{}, apperr.Internal(err)
	}
	if set.RequireTOTP {
		return Account{}, apperr.InvalidState("required",
			"the shop requires two-factor login of every staff account: an owner can lift the requirement or reset your second factor")
	}
	now := s.clock.Now()
	until, err := s.store.lockedUntil(ctx, row.Username, in.ClientIP)
	if err != nil {
		return Account{}, apperr.Internal(err)
	}
	if until.After(now) {
		return Account{}, reauthLocked(until, now)
	}
	fail := func(field, msg string) (Account, error) {
		until, err := s.store.recordFailure(ctx, row.Username, in.ClientIP, now)
		if err != nil {
			return Account{}, apperr.Internal(err)
		}
		if until.After(now) {
			return Account{}, reauthLocked(until, now)
		}
		return Account{}, apperr.Invalid(msg, field).WithCause(errDisableRefused)
	}
	const wrongCode = "the code does not match or was used already: check the app and the device's clock, or wait for the next code"
	if !s.passwords.Matches(row.PasswordHash, in.Password) {
		return fail("password", "the password is wrong")
	}
	secret, _, err := s.sealer.open(staffID, *r.TOTPSecret)
	if err != nil {
		return Account{}, apperr.Internal(err)
	}
	step, ok := matchStep(secret, code, now)
	if !ok {
		return fail("code", wrongCode)
	}
	var st Account
	err = s.db.Tx(ctx, func(ctx context.Context) error {
		// One conditional update: the secret is still the one the code
		// matched, and the code's step is later than the last one accepted
		// (a replayed code changes nothing).
		res := s.db.Writer(ctx).Exec(`UPDATE staff SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL,
			totp_last_step = 0, updated_at = ? WHERE id = ? AND totp_secret = ? AND totp_last_step < ?`,
			now, staffID, *r.TOTPSecret, step)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errStaleCode
		}
		if err := s.db.Writer(ctx).Where("staff_id = ?", staffID).Delete(&recoveryRow{}).Error; err != nil {
			return err
		}
		if err := s.record(ctx, staffID, "staff.totp_disable", staffID, map[string]any{"tokens": "kept"}); err != nil {
			return err
		}
		st, err = s.store.ByID(ctx, staffID)
		return err
	})
	if errors.Is(err, errStaleCode) {
		return fail("code", wrongCode)
	}
	if err != nil {
		return Account{}, apperr.From(err)
	}
	if err := s.store.clearFailures(ctx, row.Username, in.ClientIP); err != nil {
		return Account{}, apperr.Internal(err)
	}
	return st, nil
}

// Settings returns the shop's staff security settings.
func (s *Service) Settings(ctx context.Context) (SecuritySettings, error) {
	set, err := s.store.settings(ctx)
	if err != nil {
		return SecuritySettings{}, apperr.Internal(err)
	}
	return set, nil
}

// UpdateSettings changes the shop's staff security settings on behalf of
// an owner. Requiring a second factor needs the owner's own to be on (so the
// owner cannot shut everyone out, themselves included), and revokes the
// tokens of every account without one: they log in again and enrol.
func (s *Service) UpdateSettings(ctx context.Context, actorID int64, requireTOTP bool) (SecuritySettings, error) {
	now := s.clock.Now()
	err := s.db.TxRetry(ctx, func(ctx context.Context) error {
		if requireTOTP {
			me, err := s.store.totp(ctx, actorID)
			if err != nil {
				return err
			}
			if me.TOTPSecret == nil {
				return apperr.InvalidState("owner_not_enrolled", "turn on two-factor login for your own account first")
			}
		}
		cur, err := s.store.settings(ctx)
		if err != nil {
			return err
		}
		w := s.db.Writer(ctx)
		res := w.Exec("UPDATE staff_settings SET require_totp = ?, updated_at = ? WHERE id = 1", requireTOTP, now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			if err := w.Create(&settingsRow{ID: 1, RequireTOTP: requireTOTP, UpdatedAt: now}).Error; err != nil {
				if db.IsDuplicate(err) {
					return db.LostRace(err)
				}
				return err
			}
		}
		var revoked int64
		if requireTOTP && !cur.RequireTOTP {
			res := w.Model(&staffRow{}).Where("totp_secret IS NULL").
				Updates(map[string]any{"token_version": gorm.Expr("token_version + 1"), "updated_at": now})
			if res.Error != nil {
				return res.Error
			}
			revoked = res.RowsAffected
		}
		detail, err := json.Marshal(map[string]any{"require_totp": requireTOTP, "tokens_revoked": revoked})
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{StaffID: actorID, Action: "staff.security_update",
			TargetType: "staff_settings", TargetID: "1", Detail: string(detail)})
	})
	s.mu.Lock()
	clear(s.checks)
	s.mu.Unlock()
	if err != nil {
		return SecuritySettings{}, apperr.From(err)
	}
	return SecuritySettings{RequireTOTP: requireTOTP, UpdatedAt: &now}, nil
}

type factorVerdict int

const (
	factorNone    factorVerdict = iota // no second factor, none required
	factorPassed                       // a right, fresh code or an unused recovery code
	factorMissing                      // the account has one and none was sent
	factorWrong                        // wrong, replayed or used code
	factorToEnrol                      // none, but the shop requires one
)

type secondFactorResult struct {
	verdict      factorVerdict
	recoveryLeft *int64
}

// secondFactor checks the second factor of a login whose password was right.
func (s *Service) secondFactor(ctx context.Context, staffID int64, in LoginInput, now time.Time) (secondFactorResult, error) {
	r, err := s.store.totp(ctx, staffID)
	if err != nil {
		return secondFactorResult{}, err
	}
	if r.TOTPSecret == nil {
		set, err := s.store.settings(ctx)
		if err != nil {
			return secondFactorResult{}, err
		}
		if set.RequireTOTP {
			return secondFactorResult{verdict: factorToEnrol}, nil
		}
		return secondFactorResult{verdict: factorNone}, nil
	}
	code, recovery := normalizeCode(in.TOTPCode), normalizeCode(in.RecoveryCode)
	switch {
	case code != "":
		// A secret that does not open fails the login with an internal
		// error (logged with ErrTOTPKey), never a pass: the server's key
		// is wrong, not the user's code.
		secret, reseal, err := s.sealer.open(staffID, *r.TOTPSecret)
		if err != nil {
			return secondFactorResult{}, err
		}
		step, ok := matchStep(secret, code, now)
		if !ok {
			return secondFactorResult{verdict: factorWrong}, nil
		}
		fresh, err := s.store.acceptStep(ctx, staffID, step)
		if err != nil {
			return secondFactorResult{}, err
		}
		if !fresh {
			return secondFactorResult{verdict: factorWrong}, nil
		}
		if reseal {
			if err := s.resealSecret(ctx, staffID, *r.TOTPSecret, secret); err != nil {
				return secondFactorResult{}, err
			}
		}
		return secondFactorResult{verdict: factorPassed}, nil
	case recovery != "":
		ok, err := s.store.useRecoveryCode(ctx, staffID, hashRecovery(recovery), now)
		if err != nil {
			return secondFactorResult{}, err
		}
		if !ok {
			return secondFactorResult{verdict: factorWrong}, nil
		}
		left, err := s.store.recoveryLeft(ctx, staffID)
		if err != nil {
			return secondFactorResult{}, err
		}
		return secondFactorResult{verdict: factorPassed, recoveryLeft: &left}, nil
	}
	return secondFactorResult{verdict: factorMissing}, nil
}

// resealSecret replaces the account's second-factor secret stored as old (in
// clear, or sealed under an older key) by secret sealed under the current
// key. The update is conditional on the stored value still being old: when
// it is not (reset, turned off, or sealed by another instance meanwhile)
// there is nothing left to seal.
func (s *Service) resealSecret(ctx context.Context, staffID int64, old, secret string) error {
	sealed, err := s.sealer.seal(staffID, secret)
	if err != nil {
		return err
	}
	_, err = s.store.replaceSecret(ctx, staffID, old, sealed)
	return err
}

// SealClearTOTP is a job step: it seals up to limit second-factor secrets
// (active or pending) still stored in clear from before sealing existed, and
// returns how many values it sealed.
func (s *Service) SealClearTOTP(ctx context.Context, limit int) (int, error) {
	rows, err := s.store.clearSecrets(ctx, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		for _, v := range []struct {
			stored  *string
			replace func(context.Context, int64, string, string) (bool, error)
		}{{r.TOTPSecret, s.store.replaceSecret}, {r.TOTPPendingSecret, s.store.replacePending}} {
			if v.stored == nil || strings.HasPrefix(*v.stored, sealPrefix) {
				continue
			}
			sealed, err := s.sealer.seal(r.ID, *v.stored)
			if err != nil {
				return n, err
			}
			ok, err := v.replace(ctx, r.ID, *v.stored, sealed)
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
	}
	return n, nil
}
