-- +goose Up
-- Every staff write leaves a row here: who, what, when, and the request id
-- that ties it to the access log.
CREATE TABLE audit_logs (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    staff_id    BIGINT       NOT NULL,
    action      VARCHAR(64)  NOT NULL,
    target_type VARCHAR(32)  NOT NULL DEFAULT '',
    target_id   VARCHAR(64)  NOT NULL DEFAULT '',
    detail      TEXT         NOT NULL,
    request_id  VARCHAR(64)  NOT NULL DEFAULT '',
    created_at  DATETIME(3)  NOT NULL,
    KEY idx_audit_logs_staff (staff_id, created_at),
    KEY idx_audit_logs_target (target_type, target_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE audit_logs;
