-- +goose Up
-- sales_pending marks a paid order whose units are not yet added to its
-- products' sales counters. Payment sets it in the transaction that pays the
-- order; a job adds the units in batches and clears it, so the hot product
-- rows are never locked by a payment notification's transaction.
ALTER TABLE orders
    ADD COLUMN sales_pending TINYINT NOT NULL DEFAULT 0,
    ADD KEY idx_orders_sales_pending (sales_pending, id);

-- +goose Down
ALTER TABLE orders DROP KEY idx_orders_sales_pending, DROP COLUMN sales_pending;
