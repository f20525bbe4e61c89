-- +goose Up
-- Indexes for the read paths measured in docs/benchmarks.md: a category page
-- sorted by price or sales reads its first rows in index order instead of
-- sorting every product of the category (EXPLAIN: ref on these, no filesort).
CREATE INDEX idx_products_shelf_category_price ON products (on_shelf, category_id, min_price_fen, id);
CREATE INDEX idx_products_shelf_category_sales ON products (on_shelf, category_id, sales, id);

-- +goose Down
DROP INDEX idx_products_shelf_category_sales;
DROP INDEX idx_products_shelf_category_price;
