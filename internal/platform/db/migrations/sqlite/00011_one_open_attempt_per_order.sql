-- +goose Up
-- An order has at most one payable trade across every channel: open_key
-- becomes "<order_id>" (it was "<order_id>:<channel>") while an attempt is
-- pending, NULL otherwise, under the existing unique index. Where an older
-- release left an order with open attempts on two channels, only the newest
-- keeps the key; the others stay pending without one, and the reconciliation
-- job or the next cancel closes them at their platform.
UPDATE payment_attempts SET open_key = NULL
WHERE open_key IS NOT NULL
  AND id NOT IN (SELECT MAX(id) FROM payment_attempts WHERE status = 'pending' GROUP BY order_id);
UPDATE payment_attempts SET open_key = CAST(order_id AS TEXT) WHERE open_key IS NOT NULL;

-- +goose Down
UPDATE payment_attempts SET open_key = order_id || ':' || channel WHERE open_key IS NOT NULL;
