-- +goose Up
-- One row per customer that checkout updates first in its transaction. The
-- update serialises one customer's checkouts, so the count of unpaid orders
-- that follows it is exact and the unpaid-order cap cannot be raced past.
CREATE TABLE order_checkout_guards (
    customer_id BIGINT      NOT NULL PRIMARY KEY,
    checkouts   BIGINT      NOT NULL DEFAULT 0,
    updated_at  DATETIME(3) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- token_version is copied into every staff token and compared at
-- verification: a password change or a disabled account bumps it, which
-- revokes every token issued before. The totp columns hold the second factor:
-- the confirmed secret, an enrolment not yet confirmed, and when it was
-- confirmed.
ALTER TABLE staff
    ADD COLUMN token_version       BIGINT      NOT NULL DEFAULT 0,
    ADD COLUMN totp_secret         VARCHAR(64) NULL,
    ADD COLUMN totp_pending_secret VARCHAR(64) NULL,
    ADD COLUMN totp_enabled_at     DATETIME(3) NULL;

-- Failed staff logins per username and client address. A guesser from one
-- address locks only that address out of that username, so anonymous guesses
-- cannot lock the owner out from everywhere.
CREATE TABLE staff_login_failures (
    username     VARCHAR(64) NOT NULL,
    client_ip    VARCHAR(64) NOT NULL,
    failures     BIGINT      NOT NULL DEFAULT 0,
    locked_until DATETIME(3) NULL,
    updated_at   DATETIME(3) NOT NULL,
    PRIMARY KEY (username, client_ip),
    KEY idx_staff_login_failures_updated (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Recovery codes for the second factor, stored as SHA-256 hashes; each works
-- once.
CREATE TABLE staff_recovery_codes (
    id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    staff_id   BIGINT      NOT NULL,
    code_hash  VARCHAR(64) NOT NULL,
    used_at    DATETIME(3) NULL,
    created_at DATETIME(3) NOT NULL,
    UNIQUE KEY uk_staff_recovery_codes_hash (staff_id, code_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Shop-wide staff security settings: one row (id 1).
CREATE TABLE staff_settings (
    id           BIGINT      NOT NULL PRIMARY KEY,
    require_totp TINYINT(1)  NOT NULL DEFAULT 0,
    updated_at   DATETIME(3) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE staff_settings;
DROP TABLE staff_recovery_codes;
DROP TABLE staff_login_failures;
ALTER TABLE staff
    DROP COLUMN totp_enabled_at,
    DROP COLUMN totp_pending_secret,
    DROP COLUMN totp_secret,
    DROP COLUMN token_version;
DROP TABLE order_checkout_guards;
