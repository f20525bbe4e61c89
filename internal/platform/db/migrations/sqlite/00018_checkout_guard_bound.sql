-- +goose Up
-- unpaid_seen becomes an upper bound of the customer's unpaid orders: a
-- checkout whose bound plus its own order stays within the cap raises the
-- bound by one instead of counting (internal/order GuardCheckout). Every row
-- starts at the true count; until now this schema never wrote the column.
UPDATE order_checkout_guards SET unpaid_seen = (SELECT COUNT(*) FROM orders o
  WHERE o.customer_id = order_checkout_guards.customer_id AND o.status = 'pending_payment');

-- +goose Down
SELECT 1;
