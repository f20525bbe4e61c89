-- +goose Up
-- The catalog: a category tree, products (SPU) with their SKUs, the log of
-- staff stock adjustments and the search tokens of product titles.

-- parent_id is 0 for a root category. depth is 1 for a root. Sibling names
-- are unique and compared exactly (binary collation), as on SQLite.
CREATE TABLE categories (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id   INTEGER NOT NULL DEFAULT 0,
    depth       INTEGER NOT NULL DEFAULT 1,
    name        TEXT    NOT NULL,
    sort_order  INTEGER NOT NULL DEFAULT 0,
    visible     INTEGER NOT NULL DEFAULT 1,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_categories_parent_name ON categories (parent_id, name);
CREATE INDEX idx_categories_parent ON categories (parent_id, sort_order, id);

-- min_price_fen is the lowest price of the product's live SKUs, kept in step
-- by every product write so that price sorting needs no join. sales is moved
-- by the order module off the checkout path; rating_count and rating_total by
-- the reviews module.
CREATE TABLE products (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    category_id   INTEGER NOT NULL,
    title         TEXT    NOT NULL,
    subtitle      TEXT    NOT NULL DEFAULT '',
    images        TEXT    NOT NULL DEFAULT '[]',
    description   TEXT    NOT NULL DEFAULT '',
    on_shelf      INTEGER NOT NULL DEFAULT 0,
    min_price_fen INTEGER NOT NULL DEFAULT 0,
    sales         INTEGER NOT NULL DEFAULT 0,
    rating_count  INTEGER NOT NULL DEFAULT 0,
    rating_total  INTEGER NOT NULL DEFAULT 0,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL
);
CREATE INDEX idx_products_shelf_id ON products (on_shelf, id);
CREATE INDEX idx_products_shelf_category ON products (on_shelf, category_id, id);
CREATE INDEX idx_products_shelf_price ON products (on_shelf, min_price_fen, id);
CREATE INDEX idx_products_shelf_sales ON products (on_shelf, sales, id);
CREATE INDEX idx_products_category ON products (category_id);

-- A SKU removed from its product is soft-deleted (deleted_at set) and stays
-- readable for orders' history; its code stays taken. specs is a JSON object
-- of spec key to value; spec_text its display form, snapshotted by orders.
-- stock has no index of its own on purpose: with one, MariaDB may plan the
-- guarded `stock = stock - ? WHERE id = ? AND stock >= ?` as a range on it
-- and, under concurrent updates, skip the row (0 rows, no error) or deadlock.
CREATE TABLE skus (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id         INTEGER NOT NULL,
    sku_code           TEXT    NOT NULL,
    specs              TEXT    NOT NULL DEFAULT '{}',
    spec_text          TEXT    NOT NULL DEFAULT '',
    price_fen          INTEGER NOT NULL,
    original_price_fen INTEGER NOT NULL DEFAULT 0,
    stock              INTEGER NOT NULL DEFAULT 0,
    weight_grams       INTEGER NOT NULL DEFAULT 0,
    image              TEXT    NOT NULL DEFAULT '',
    position           INTEGER NOT NULL DEFAULT 0,
    deleted_at         DATETIME NULL,
    created_at         DATETIME NOT NULL,
    updated_at         DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_skus_code ON skus (sku_code);
CREATE INDEX idx_skus_product ON skus (product_id, position, id);

-- Every stock change made by staff: who, why, by how much and the result.
CREATE TABLE stock_adjustments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sku_id      INTEGER NOT NULL,
    staff_id    INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    delta       INTEGER NOT NULL,
    stock_after INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    created_at  DATETIME NOT NULL
);
CREATE INDEX idx_stock_adjustments_sku ON stock_adjustments (sku_id, id);
CREATE INDEX idx_stock_adjustments_staff ON stock_adjustments (staff_id, created_at);

-- Character bigrams (and single characters) of normalised product titles.
-- Normalisation (case, full-width forms) happens in Go before writing and
-- querying; SQLite compares text exactly, like the binary collation on MySQL.
CREATE TABLE product_search_tokens (
    token      TEXT    NOT NULL,
    product_id INTEGER NOT NULL,
    PRIMARY KEY (token, product_id)
) WITHOUT ROWID;
CREATE INDEX idx_product_search_tokens_product ON product_search_tokens (product_id);

-- +goose Down
DROP TABLE product_search_tokens;
DROP TABLE stock_adjustments;
DROP TABLE skus;
DROP TABLE products;
DROP TABLE categories;
