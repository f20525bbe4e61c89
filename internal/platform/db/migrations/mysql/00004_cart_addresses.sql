-- +goose Up
-- Cart lines: one per customer and SKU, so that adding a SKU twice merges.
CREATE TABLE cart_items (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_id BIGINT       NOT NULL,
    sku_id      BIGINT       NOT NULL,
    quantity    BIGINT       NOT NULL,
    selected    TINYINT(1)   NOT NULL DEFAULT 1,
    created_at  DATETIME(3)  NOT NULL,
    updated_at  DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_cart_items_customer_sku (customer_id, sku_id),
    KEY idx_cart_items_sku (sku_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Shipping addresses. default_for holds the customer id on the customer's
-- default address and NULL on the others: its unique index lets the database
-- itself refuse a second default, whatever the interleaving of requests.
CREATE TABLE addresses (
    id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_id BIGINT        NOT NULL,
    name        VARCHAR(64)   NOT NULL,
    phone       VARCHAR(16)   NOT NULL,
    province    VARCHAR(64)   NOT NULL,
    city        VARCHAR(64)   NOT NULL,
    district    VARCHAR(64)   NOT NULL,
    detail      VARCHAR(255)  NOT NULL,
    default_for BIGINT        NULL,
    created_at  DATETIME(3)   NOT NULL,
    updated_at  DATETIME(3)   NOT NULL,
    UNIQUE KEY uq_addresses_default_for (default_for),
    KEY idx_addresses_customer (customer_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE addresses;
DROP TABLE cart_items;
