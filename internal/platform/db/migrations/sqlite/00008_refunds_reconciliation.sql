-- +goose Up
-- Refunds, late and double payments refunded automatically, and the
-- reconciliation of attempts whose notification never came.

-- refunded_fen is the sum of the attempt's refunds that have not failed: it
-- grows by a guarded update (refunded_fen + n <= amount_fen) in the
-- transaction that inserts the refund, before the platform is called, and
-- shrinks when a refund fails for good. next_check_at is when the
-- reconciliation job next queries a pending attempt at its platform; checks
-- counts those queries and is the version an instance claims a check with.
ALTER TABLE payment_attempts ADD COLUMN refunded_fen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payment_attempts ADD COLUMN next_check_at DATETIME NULL;
ALTER TABLE payment_attempts ADD COLUMN checks INTEGER NOT NULL DEFAULT 0;
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
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    attempt_id         INTEGER  NOT NULL,
    order_id           INTEGER  NOT NULL,
    channel            TEXT     NOT NULL,
    out_refund_no      TEXT     NOT NULL,
    amount_fen         INTEGER  NOT NULL,
    reason             TEXT     NOT NULL DEFAULT '',
    status             TEXT     NOT NULL,
    provider_refund_id TEXT     NOT NULL DEFAULT '',
    anomaly_id         INTEGER  NOT NULL DEFAULT 0,
    detail             TEXT     NOT NULL DEFAULT '',
    next_check_at      DATETIME NULL,
    checks             INTEGER  NOT NULL DEFAULT 0,
    succeeded_at       DATETIME NULL,
    created_at         DATETIME NOT NULL,
    updated_at         DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_payment_refunds_out_refund_no ON payment_refunds (out_refund_no);
CREATE INDEX idx_payment_refunds_attempt ON payment_refunds (attempt_id);
CREATE INDEX idx_payment_refunds_anomaly ON payment_refunds (anomaly_id);
CREATE INDEX idx_payment_refunds_check ON payment_refunds (status, next_check_at);

-- Staff close an anomaly with a note once they have dealt with it.
ALTER TABLE payment_anomalies ADD COLUMN resolution_note TEXT NOT NULL DEFAULT '';
ALTER TABLE payment_anomalies ADD COLUMN resolved_by INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_payment_anomalies_kind ON payment_anomalies (kind, status, id);

-- +goose Down
DROP INDEX idx_payment_anomalies_kind;
ALTER TABLE payment_anomalies DROP COLUMN resolved_by;
ALTER TABLE payment_anomalies DROP COLUMN resolution_note;
DROP TABLE payment_refunds;
DROP INDEX idx_payment_attempts_check;
ALTER TABLE payment_attempts DROP COLUMN checks;
ALTER TABLE payment_attempts DROP COLUMN next_check_at;
ALTER TABLE payment_attempts DROP COLUMN refunded_fen;
