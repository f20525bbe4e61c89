-- +goose Up
-- Refunds, late and double payments refunded automatically, and the
-- reconciliation of attempts whose notification never came.

-- refunded_fen is the sum of the attempt's refunds that have not failed: it
-- grows by a guarded update (refunded_fen + n <= amount_fen) in the
-- transaction that inserts the refund, before the platform is called, and
-- shrinks when a refund fails for good. next_check_at is when the
-- reconciliation job next queries a pending attempt at its platform; checks
-- counts those queries and is the version an instance claims a check with.
ALTER TABLE payment_attempts
    ADD COLUMN refunded_fen  BIGINT      NOT NULL DEFAULT 0,
    ADD COLUMN next_check_at DATETIME(3) NULL,
    ADD COLUMN checks        INT         NOT NULL DEFAULT 0;
UPDATE payment_attempts SET next_check_at = created_at WHERE status = 'pending';
CREATE INDEX idx_payment_attempts_check ON payment_attempts (status, next_check_at);

-- One refund request at a platform for one succeeded attempt. out_refund_no
-- is ours and unique (WeChat's out_refund_no, Alipay's out_request_no): a
-- retry with it is the same refund. status: processing (asked, outcome not
-- yet known), succeeded, failed (the platform refused or closed it; its
-- amount no longer counts), abnormal (WeChat could not pay the money back to
-- the payer; staff act). anomaly_id names the late or double payment an
-- automatic refund returns (0 otherwise). next_check_at is when the refund
-- job next asks the platform about a processing refund.
CREATE TABLE payment_refunds (
    id                 BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    attempt_id         BIGINT       NOT NULL,
    order_id           BIGINT       NOT NULL,
    channel            VARCHAR(16)  NOT NULL,
    out_refund_no      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    amount_fen         BIGINT       NOT NULL,
    reason             VARCHAR(255) NOT NULL DEFAULT '',
    status             VARCHAR(16)  NOT NULL,
    provider_refund_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    anomaly_id         BIGINT       NOT NULL DEFAULT 0,
    detail             VARCHAR(500) NOT NULL DEFAULT '',
    next_check_at      DATETIME(3)  NULL,
    checks             INT          NOT NULL DEFAULT 0,
    succeeded_at       DATETIME(3)  NULL,
    created_at         DATETIME(3)  NOT NULL,
    updated_at         DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_payment_refunds_out_refund_no (out_refund_no),
    KEY idx_payment_refunds_attempt (attempt_id),
    KEY idx_payment_refunds_anomaly (anomaly_id),
    KEY idx_payment_refunds_check (status, next_check_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Staff close an anomaly with a note once they have dealt with it.
ALTER TABLE payment_anomalies
    ADD COLUMN resolution_note VARCHAR(500) NOT NULL DEFAULT '',
    ADD COLUMN resolved_by     BIGINT       NOT NULL DEFAULT 0;
CREATE INDEX idx_payment_anomalies_kind ON payment_anomalies (kind, status, id);

-- +goose Down
DROP INDEX idx_payment_anomalies_kind ON payment_anomalies;
ALTER TABLE payment_anomalies DROP COLUMN resolved_by, DROP COLUMN resolution_note;
DROP TABLE payment_refunds;
DROP INDEX idx_payment_attempts_check ON payment_attempts;
ALTER TABLE payment_attempts DROP COLUMN checks, DROP COLUMN next_check_at, DROP COLUMN refunded_fen;
