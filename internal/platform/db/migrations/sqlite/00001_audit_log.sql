-- +goose Up
-- Every staff write leaves a row here: who, what, when, and the request id
-- that ties it to the access log.
CREATE TABLE audit_logs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id    INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    target_type TEXT    NOT NULL DEFAULT '',
    target_id   TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT '',
    request_id  TEXT    NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL
);
CREATE INDEX idx_audit_logs_staff ON audit_logs (staff_id, created_at);
CREATE INDEX idx_audit_logs_target ON audit_logs (target_type, target_id);

-- +goose Down
DROP TABLE audit_logs;
