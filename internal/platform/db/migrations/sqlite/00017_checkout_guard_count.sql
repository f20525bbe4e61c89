-- +goose Up
-- How many unpaid orders the customer's last checkout counted; written by the
-- MySQL form of the guard-row update (kept here so both schemas match).
ALTER TABLE order_checkout_guards ADD COLUMN unpaid_seen INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE order_checkout_guards DROP COLUMN unpaid_seen;
