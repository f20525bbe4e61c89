-- +goose Up
-- A customer is one person of the shop, whatever channel they log in through.
CREATE TABLE customers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    nickname   TEXT     NOT NULL DEFAULT '',
    avatar_url TEXT     NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);

-- One row per platform account: a WeChat openid or an Alipay user_id/open_id,
-- unique within its channel and app. WeChat unionids link a second identity of
-- the same person (another mini-program of the same open platform account).
-- subject_kind tells an Alipay user_id from an open_id (payments need it).
CREATE TABLE customer_identities (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER  NOT NULL,
    channel     TEXT     NOT NULL,
    app_id      TEXT     NOT NULL,
    subject_kind TEXT    NOT NULL,
    subject     TEXT     NOT NULL,
    union_id    TEXT     NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    last_login_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_customer_identities_subject ON customer_identities (channel, app_id, subject);
CREATE INDEX idx_customer_identities_union ON customer_identities (channel, union_id);
CREATE INDEX idx_customer_identities_customer ON customer_identities (customer_id);

-- Refresh tokens are stored as SHA-256 hashes. Each login starts a family;
-- each refresh marks its token used and issues the next one in the family.
CREATE TABLE refresh_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash  TEXT     NOT NULL,
    family_id   TEXT     NOT NULL,
    customer_id INTEGER  NOT NULL,
    channel     TEXT     NOT NULL,
    expires_at  DATETIME NOT NULL,
    used_at     DATETIME NULL,
    revoked_at  DATETIME NULL,
    created_at  DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_refresh_tokens_hash ON refresh_tokens (token_hash);
CREATE INDEX idx_refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX idx_refresh_tokens_customer ON refresh_tokens (customer_id);

-- Merchant staff accounts. Failed logins count up to a temporary lock.
CREATE TABLE staff (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT     NOT NULL,
    password_hash TEXT     NOT NULL,
    role          TEXT     NOT NULL,
    disabled      INTEGER  NOT NULL DEFAULT 0,
    failed_logins INTEGER  NOT NULL DEFAULT 0,
    locked_until  DATETIME NULL,
    last_login_at DATETIME NULL,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_staff_username ON staff (username);

-- +goose Down
DROP TABLE staff;
DROP TABLE refresh_tokens;
DROP TABLE customer_identities;
DROP TABLE customers;
