-- +goose Up
-- Cart lines: one per customer and SKU, so that adding a SKU twice merges.
CREATE TABLE cart_items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL,
    sku_id      INTEGER NOT NULL,
    quantity    INTEGER NOT NULL,
    selected    INTEGER NOT NULL DEFAULT 1,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_cart_items_customer_sku ON cart_items (customer_id, sku_id);
CREATE INDEX idx_cart_items_sku ON cart_items (sku_id);

-- Shipping addresses. default_for holds the customer id on the customer's
-- default address and NULL on the others: its unique index lets the database
-- itself refuse a second default, whatever the interleaving of requests.
CREATE TABLE addresses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    phone       TEXT    NOT NULL,
    province    TEXT    NOT NULL,
    city        TEXT    NOT NULL,
    district    TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    default_for INTEGER NULL,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_addresses_default_for ON addresses (default_for);
CREATE INDEX idx_addresses_customer ON addresses (customer_id, id);

-- +goose Down
DROP TABLE addresses;
DROP TABLE cart_items;
