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
-- id) the trade was made for.
CREATE TABLE payment_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id         INTEGER  NOT NULL,
    customer_id      INTEGER  NOT NULL,
    channel          TEXT     NOT NULL,
    out_trade_no     TEXT     NOT NULL,
    amount_fen       INTEGER  NOT NULL,
    status           TEXT     NOT NULL,
    open_key         TEXT     NULL,
    description      TEXT     NOT NULL,
    payer_id         TEXT     NOT NULL,
    notify_url       TEXT     NOT NULL,
    prepay_id        TEXT     NULL,
    expires_at       DATETIME NOT NULL,
    provider_txn_id  TEXT     NULL,
    payer_total_fen  INTEGER  NOT NULL DEFAULT 0,
    paid_at          DATETIME NULL,
    closed_at        DATETIME NULL,
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_payment_attempts_out_trade_no ON payment_attempts (out_trade_no);
CREATE UNIQUE INDEX uq_payment_attempts_provider_txn ON payment_attempts (channel, provider_txn_id);
CREATE UNIQUE INDEX uq_payment_attempts_open ON payment_attempts (open_key);
CREATE INDEX idx_payment_attempts_order ON payment_attempts (order_id, id);
CREATE INDEX idx_payment_attempts_status_created ON payment_attempts (status, created_at);

-- Every notification whose signature verified, as decrypted, once per
-- platform notification id. outcome: accepted (moved or confirmed a
-- payment), ignored (not a payment), refused (failed a business check; see
-- payment_anomalies). Retries of the same notification find their row.
CREATE TABLE payment_notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel         TEXT     NOT NULL,
    notify_id       TEXT     NOT NULL,
    event_type      TEXT     NOT NULL,
    out_trade_no    TEXT     NOT NULL DEFAULT '',
    provider_txn_id TEXT     NOT NULL DEFAULT '',
    attempt_id      INTEGER  NOT NULL DEFAULT 0,
    outcome         TEXT     NOT NULL,
    reason          TEXT     NOT NULL DEFAULT '',
    body            TEXT     NOT NULL,
    received_at     DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_payment_notifications_notify ON payment_notifications (channel, notify_id);
CREATE INDEX idx_payment_notifications_trade ON payment_notifications (out_trade_no);

-- Money that may have moved without matching an order: a signed notification
-- that failed a business check (unknown trade, wrong merchant, wrong amount),
-- or a payment for an order that was cancelled (late_payment) or already paid
-- through another attempt (double_payment). status: open until staff resolve
-- it (the refund of late and double payments comes with refunds).
CREATE TABLE payment_anomalies (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel         TEXT     NOT NULL,
    kind            TEXT     NOT NULL,
    order_id        INTEGER  NOT NULL DEFAULT 0,
    attempt_id      INTEGER  NOT NULL DEFAULT 0,
    notification_id INTEGER  NOT NULL DEFAULT 0,
    out_trade_no    TEXT     NOT NULL DEFAULT '',
    provider_txn_id TEXT     NOT NULL DEFAULT '',
    expected_fen    INTEGER  NOT NULL DEFAULT 0,
    actual_fen      INTEGER  NOT NULL DEFAULT 0,
    detail          TEXT     NOT NULL,
    status          TEXT     NOT NULL,
    resolved_at     DATETIME NULL,
    created_at      DATETIME NOT NULL
);
CREATE INDEX idx_payment_anomalies_status ON payment_anomalies (status, id);
CREATE INDEX idx_payment_anomalies_order ON payment_anomalies (order_id);

-- +goose Down
DROP TABLE payment_anomalies;
DROP TABLE payment_notifications;
DROP TABLE payment_attempts;
