-- +goose Up
-- Payments: one attempt per prepay at a platform, every notification as
-- received, and the anomalies staff must look at.

-- A payment attempt is one trade at one platform (channel wechat or alipay)
-- for one order. out_trade_no is ours, unique and distinct from order_no.
-- status: pending, succeeded, closed, failed. open_key is "<order_id>:<channel>"
-- while the attempt is pending and NULL otherwise, so that an order has at
-- most one open attempt per channel (NULLs never collide). provider_txn_id is
-- the platform's transaction id, NULL until a payment is known. prepay_id is
-- NULL until the platform answered the prepay; expires_at is the order's
-- payment deadline, sent as time_expire. payer_id is the openid (or Alipay
-- id) the trade was made for. Platform ids compare exactly (binary collation).
CREATE TABLE payment_attempts (
    id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id         BIGINT       NOT NULL,
    customer_id      BIGINT       NOT NULL,
    channel          VARCHAR(16)  NOT NULL,
    out_trade_no     VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    amount_fen       BIGINT       NOT NULL,
    status           VARCHAR(16)  NOT NULL,
    open_key         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    description      VARCHAR(128) NOT NULL,
    payer_id         VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    notify_url       VARCHAR(255) NOT NULL,
    prepay_id        VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
    expires_at       DATETIME(3)  NOT NULL,
    provider_txn_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    payer_total_fen  BIGINT       NOT NULL DEFAULT 0,
    paid_at          DATETIME(3)  NULL,
    closed_at        DATETIME(3)  NULL,
    created_at       DATETIME(3)  NOT NULL,
    updated_at       DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_payment_attempts_out_trade_no (out_trade_no),
    UNIQUE KEY uq_payment_attempts_provider_txn (channel, provider_txn_id),
    UNIQUE KEY uq_payment_attempts_open (open_key),
    KEY idx_payment_attempts_order (order_id, id),
    KEY idx_payment_attempts_status_created (status, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every notification whose signature verified, as decrypted, once per
-- platform notification id. outcome: accepted (moved or confirmed a
-- payment), ignored (not a payment), refused (failed a business check; see
-- payment_anomalies). Retries of the same notification find their row.
CREATE TABLE payment_notifications (
    id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    channel         VARCHAR(16)  NOT NULL,
    notify_id       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    event_type      VARCHAR(64)  NOT NULL,
    out_trade_no    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    provider_txn_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    attempt_id      BIGINT       NOT NULL DEFAULT 0,
    outcome         VARCHAR(16)  NOT NULL,
    reason          VARCHAR(255) NOT NULL DEFAULT '',
    body            MEDIUMTEXT   NOT NULL,
    received_at     DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_payment_notifications_notify (channel, notify_id),
    KEY idx_payment_notifications_trade (out_trade_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Money that may have moved without matching an order: a signed notification
-- that failed a business check (unknown trade, wrong merchant, wrong amount),
-- or a payment for an order that was cancelled (late_payment) or already paid
-- through another attempt (double_payment). status: open until staff resolve
-- it (the refund of late and double payments comes with refunds).
CREATE TABLE payment_anomalies (
    id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    channel         VARCHAR(16)  NOT NULL,
    kind            VARCHAR(32)  NOT NULL,
    order_id        BIGINT       NOT NULL DEFAULT 0,
    attempt_id      BIGINT       NOT NULL DEFAULT 0,
    notification_id BIGINT       NOT NULL DEFAULT 0,
    out_trade_no    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    provider_txn_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    expected_fen    BIGINT       NOT NULL DEFAULT 0,
    actual_fen      BIGINT       NOT NULL DEFAULT 0,
    detail          TEXT         NOT NULL,
    status          VARCHAR(16)  NOT NULL,
    resolved_at     DATETIME(3)  NULL,
    created_at      DATETIME(3)  NOT NULL,
    KEY idx_payment_anomalies_status (status, id),
    KEY idx_payment_anomalies_order (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE payment_anomalies;
DROP TABLE payment_notifications;
DROP TABLE payment_attempts;
