-- +goose Up
-- A customer is one person of the shop, whatever channel they log in through.
CREATE TABLE customers (
    id         BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    nickname   VARCHAR(64)   NOT NULL DEFAULT '',
    avatar_url VARCHAR(512)  NOT NULL DEFAULT '',
    created_at DATETIME(3)   NOT NULL,
    updated_at DATETIME(3)   NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per platform account: a WeChat openid or an Alipay user_id/open_id,
-- unique within its channel and app. WeChat unionids link a second identity of
-- the same person (another mini-program of the same open platform account).
-- subject_kind tells an Alipay user_id from an open_id (payments need it).
-- Platform ids are case-sensitive, hence the binary collation.
CREATE TABLE customer_identities (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_id   BIGINT       NOT NULL,
    channel       VARCHAR(16)  NOT NULL,
    app_id        VARCHAR(64)  NOT NULL,
    subject_kind  VARCHAR(16)  NOT NULL,
    subject       VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    union_id      VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    created_at    DATETIME(3)  NOT NULL,
    last_login_at DATETIME(3)  NOT NULL,
    UNIQUE KEY uk_customer_identities_subject (channel, app_id, subject),
    KEY idx_customer_identities_union (channel, union_id),
    KEY idx_customer_identities_customer (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Refresh tokens are stored as SHA-256 hashes. Each login starts a family;
-- each refresh marks its token used and issues the next one in the family.
CREATE TABLE refresh_tokens (
    id          BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    token_hash  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    family_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    customer_id BIGINT      NOT NULL,
    channel     VARCHAR(16) NOT NULL,
    expires_at  DATETIME(3) NOT NULL,
    used_at     DATETIME(3) NULL,
    revoked_at  DATETIME(3) NULL,
    created_at  DATETIME(3) NOT NULL,
    UNIQUE KEY uk_refresh_tokens_hash (token_hash),
    KEY idx_refresh_tokens_family (family_id),
    KEY idx_refresh_tokens_customer (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Merchant staff accounts. Failed logins count up to a temporary lock.
CREATE TABLE staff (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username      VARCHAR(64)  NOT NULL,
    password_hash VARCHAR(100) NOT NULL,
    role          VARCHAR(32)  NOT NULL,
    disabled      TINYINT(1)   NOT NULL DEFAULT 0,
    failed_logins BIGINT       NOT NULL DEFAULT 0,
    locked_until  DATETIME(3)  NULL,
    last_login_at DATETIME(3)  NULL,
    created_at    DATETIME(3)  NOT NULL,
    updated_at    DATETIME(3)  NOT NULL,
    UNIQUE KEY uk_staff_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE staff;
DROP TABLE refresh_tokens;
DROP TABLE customer_identities;
DROP TABLE customers;
