-- +goose Up
-- The dashboard sums payments per shop day by paid_at; paid_fen rides in the
-- index so the sums read no table rows. Column meanings: see the MySQL file.
CREATE INDEX idx_orders_paid ON orders (paid_at, paid_fen);

-- The audit log is read newest first, filtered by action, by date range or
-- by staff member (idx_audit_logs_staff already serves the last).
CREATE INDEX idx_audit_logs_action ON audit_logs (action, created_at);
CREATE INDEX idx_audit_logs_created ON audit_logs (created_at);

-- The last TOTP time step a staff member's code was accepted for: a code is
-- accepted only for a later step, so a code seen once cannot be replayed.
ALTER TABLE staff ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE staff DROP COLUMN totp_last_step;
DROP INDEX idx_audit_logs_created;
DROP INDEX idx_audit_logs_action;
DROP INDEX idx_orders_paid;
