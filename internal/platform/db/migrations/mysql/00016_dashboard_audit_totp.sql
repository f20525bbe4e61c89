-- +goose Up
-- The dashboard sums payments per shop day by paid_at (orders paid in a day,
-- and the units of their lines for the top products); paid_fen rides in the
-- index so the sums read no table rows. There is still no index on
-- skus.stock (see 00003): the low-stock list scans the SKUs.
ALTER TABLE orders ADD KEY idx_orders_paid (paid_at, paid_fen);

-- The audit log is read newest first, filtered by action, by date range or
-- by staff member (idx_audit_logs_staff already serves the last).
ALTER TABLE audit_logs
    ADD KEY idx_audit_logs_action (action, created_at),
    ADD KEY idx_audit_logs_created (created_at);

-- The last TOTP time step (unix time / 30 s) for which a staff member's code
-- was accepted: a code is accepted only for a later step, so a code seen once
-- cannot be replayed within its window.
ALTER TABLE staff ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE staff DROP COLUMN totp_last_step;
ALTER TABLE audit_logs
    DROP KEY idx_audit_logs_created,
    DROP KEY idx_audit_logs_action;
ALTER TABLE orders DROP KEY idx_orders_paid;
