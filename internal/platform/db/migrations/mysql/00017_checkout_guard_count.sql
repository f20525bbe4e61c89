-- +goose Up
-- How many unpaid orders the customer's last checkout counted (its own
-- included). On MySQL the checkout's guard-row update computes the count and
-- returns it in the same statement (LAST_INSERT_ID(expr)), one round trip
-- instead of two; the column is where that update puts it.
ALTER TABLE order_checkout_guards ADD COLUMN unpaid_seen BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE order_checkout_guards DROP COLUMN unpaid_seen;
