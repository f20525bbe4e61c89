-- +goose Up
-- The catalog: a category tree, products (SPU) with their SKUs, the log of
-- staff stock adjustments and the search tokens of product titles.

-- parent_id is 0 for a root category. depth is 1 for a root. Sibling names
-- are unique and compared exactly (binary collation), as on SQLite.
CREATE TABLE categories (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    parent_id   BIGINT       NOT NULL DEFAULT 0,
    depth       BIGINT       NOT NULL DEFAULT 1,
    name        VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    sort_order  BIGINT       NOT NULL DEFAULT 0,
    visible     TINYINT(1)   NOT NULL DEFAULT 1,
    created_at  DATETIME(3)  NOT NULL,
    updated_at  DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_categories_parent_name (parent_id, name),
    KEY idx_categories_parent (parent_id, sort_order, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- min_price_fen is the lowest price of the product's live SKUs, kept in step
-- by every product write so that price sorting needs no join. sales is moved
-- by the order module off the checkout path; rating_count and rating_total by
-- the reviews module.
CREATE TABLE products (
    id            BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    category_id   BIGINT        NOT NULL,
    title         VARCHAR(128)  NOT NULL,
    subtitle      VARCHAR(255)  NOT NULL DEFAULT '',
    images        TEXT          NOT NULL,
    description   TEXT          NOT NULL,
    on_shelf      TINYINT(1)    NOT NULL DEFAULT 0,
    min_price_fen BIGINT        NOT NULL DEFAULT 0,
    sales         BIGINT        NOT NULL DEFAULT 0,
    rating_count  BIGINT        NOT NULL DEFAULT 0,
    rating_total  BIGINT        NOT NULL DEFAULT 0,
    created_at    DATETIME(3)   NOT NULL,
    updated_at    DATETIME(3)   NOT NULL,
    KEY idx_products_shelf_id (on_shelf, id),
    KEY idx_products_shelf_category (on_shelf, category_id, id),
    KEY idx_products_shelf_price (on_shelf, min_price_fen, id),
    KEY idx_products_shelf_sales (on_shelf, sales, id),
    KEY idx_products_category (category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A SKU removed from its product is soft-deleted (deleted_at set) and stays
-- readable for orders' history; its code stays taken. specs is a JSON object
-- of spec key to value; spec_text its display form, snapshotted by orders.
-- stock has no index of its own on purpose: with one, MariaDB may plan the
-- guarded `stock = stock - ? WHERE id = ? AND stock >= ?` as a range on it
-- and, under concurrent updates, skip the row (0 rows, no error) or deadlock.
CREATE TABLE skus (
    id                 BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    product_id         BIGINT        NOT NULL,
    sku_code           VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    specs              TEXT          NOT NULL,
    spec_text          VARCHAR(255)  NOT NULL DEFAULT '',
    price_fen          BIGINT        NOT NULL,
    original_price_fen BIGINT        NOT NULL DEFAULT 0,
    stock              BIGINT        NOT NULL DEFAULT 0,
    weight_grams       BIGINT        NOT NULL DEFAULT 0,
    image              VARCHAR(512)  NOT NULL DEFAULT '',
    position           BIGINT        NOT NULL DEFAULT 0,
    deleted_at         DATETIME(3)   NULL,
    created_at         DATETIME(3)   NOT NULL,
    updated_at         DATETIME(3)   NOT NULL,
    UNIQUE KEY uq_skus_code (sku_code),
    KEY idx_skus_product (product_id, position, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every stock change made by staff: who, why, by how much and the result.
CREATE TABLE stock_adjustments (
    id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sku_id      BIGINT        NOT NULL,
    staff_id    BIGINT        NOT NULL,
    kind        VARCHAR(16)   NOT NULL,
    delta       BIGINT        NOT NULL,
    stock_after BIGINT        NOT NULL,
    reason      VARCHAR(255)  NOT NULL,
    created_at  DATETIME(3)   NOT NULL,
    KEY idx_stock_adjustments_sku (sku_id, id),
    KEY idx_stock_adjustments_staff (staff_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Character bigrams (and single characters) of normalised product titles.
-- The binary collation makes matching exact, as on SQLite; normalisation
-- (case, full-width forms) happens in Go before writing and querying.
CREATE TABLE product_search_tokens (
    token      VARCHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    product_id BIGINT     NOT NULL,
    PRIMARY KEY (token, product_id),
    KEY idx_product_search_tokens_product (product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE product_search_tokens;
DROP TABLE stock_adjustments;
DROP TABLE skus;
DROP TABLE products;
DROP TABLE categories;
