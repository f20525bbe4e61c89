-- +goose Up
-- Second-factor secrets are stored sealed (internal/staff seal.go): "v1:" and
-- the base64 of nonce, AES-256-GCM ciphertext and tag, 83 characters for a
-- 32-character base32 secret. Clear secrets stored before stay readable and
-- are sealed by the server (it holds the key; a migration cannot).
ALTER TABLE staff
    MODIFY COLUMN totp_secret         VARCHAR(255) NULL,
    MODIFY COLUMN totp_pending_secret VARCHAR(255) NULL;

-- +goose Down
-- Refused (data too long) while sealed secrets are stored: reset them first.
ALTER TABLE staff
    MODIFY COLUMN totp_secret         VARCHAR(64) NULL,
    MODIFY COLUMN totp_pending_secret VARCHAR(64) NULL;
