-- +goose Up
-- sales_pending marks a paid order whose units are not yet added to its
-- products' sales counters. Payment sets it in the transaction that pays the
-- order; a job adds the units in batches and clears it, so the hot product
-- rows are never locked by a payment notification's transaction.
ALTER TABLE orders ADD COLUMN sales_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_orders_sales_pending ON orders (sales_pending, id);

-- +goose Down
DROP INDEX idx_orders_sales_pending;
ALTER TABLE orders DROP COLUMN sales_pending;
