-- +goose Up
-- An order has at most one payable trade across every channel: open_key
-- becomes "<order_id>" (it was "<order_id>:<channel>") while an attempt is
-- pending, NULL otherwise, under the existing unique index. Where an older
-- release left an order with open attempts on two channels, only the newest
-- keeps the key; the others stay pending without one, and the reconciliation
-- job or the next cancel closes them at their platform. (The inner derived
-- table lets MySQL read the table it updates.)
UPDATE payment_attempts SET open_key = NULL
WHERE open_key IS NOT NULL
  AND id NOT IN (SELECT id FROM (SELECT MAX(id) AS id FROM payment_attempts WHERE status = 'pending' GROUP BY order_id) AS newest);
UPDATE payment_attempts SET open_key = CAST(order_id AS CHAR) WHERE open_key IS NOT NULL;

-- +goose Down
UPDATE payment_attempts SET open_key = CONCAT(order_id, ':', channel) WHERE open_key IS NOT NULL;
