-- +goose Up
-- One row per customer that checkout updates first in its transaction. The
-- update serialises one customer's checkouts, so the count of unpaid orders
-- that follows it is exact and the unpaid-order cap cannot be raced past.
CREATE TABLE order_checkout_guards (
    customer_id INTEGER  NOT NULL PRIMARY KEY,
    checkouts   INTEGER  NOT NULL DEFAULT 0,
    updated_at  DATETIME NOT NULL
);

-- token_version is copied into every staff token and compared at
-- verification: a password change or a disabled account bumps it, which
-- revokes every token issued before. The totp columns hold the second factor:
-- the confirmed secret, an enrolment not yet confirmed, and when it was
-- confirmed.
ALTER TABLE staff ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff ADD COLUMN totp_secret TEXT NULL;
ALTER TABLE staff ADD COLUMN totp_pending_secret TEXT NULL;
ALTER TABLE staff ADD COLUMN totp_enabled_at DATETIME NULL;

-- Failed staff logins per username and client address. A guesser from one
-- address locks only that address out of that username, so anonymous guesses
-- cannot lock the owner out from everywhere.
CREATE TABLE staff_login_failures (
    username     TEXT     NOT NULL,
    client_ip    TEXT     NOT NULL,
    failures     INTEGER  NOT NULL DEFAULT 0,
    locked_until DATETIME NULL,
    updated_at   DATETIME NOT NULL,
    PRIMARY KEY (username, client_ip)
);
CREATE INDEX idx_staff_login_failures_updated ON staff_login_failures (updated_at);

-- Recovery codes for the second factor, stored as SHA-256 hashes; each works
-- once.
CREATE TABLE staff_recovery_codes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id   INTEGER  NOT NULL,
    code_hash  TEXT     NOT NULL,
    used_at    DATETIME NULL,
    created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_staff_recovery_codes_hash ON staff_recovery_codes (staff_id, code_hash);

-- Shop-wide staff security settings: one row (id 1).
CREATE TABLE staff_settings (
    id           INTEGER  NOT NULL PRIMARY KEY,
    require_totp INTEGER  NOT NULL DEFAULT 0,
    updated_at   DATETIME NOT NULL
);

-- +goose Down
DROP TABLE staff_settings;
DROP TABLE staff_recovery_codes;
DROP TABLE staff_login_failures;
ALTER TABLE staff DROP COLUMN totp_enabled_at;
ALTER TABLE staff DROP COLUMN totp_pending_secret;
ALTER TABLE staff DROP COLUMN totp_secret;
ALTER TABLE staff DROP COLUMN token_version;
DROP TABLE order_checkout_guards;
