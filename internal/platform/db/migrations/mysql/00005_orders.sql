-- +goose Up
-- Orders with their item and address snapshots, the history of every status
-- change, and the shipments staff record when they ship.

-- status is one of pending_payment, paid, shipped, completed, cancelled,
-- closed. Money is integer fen. The ship_* columns snapshot the address at
-- checkout; address_id only remembers where it came from. idempotency_key is
-- NULL when the client sent none (NULLs never collide in the unique index);
-- request_hash is the SHA-256 of the normalised request, so a reused key
-- with another body is recognised. order_no and idempotency_key compare
-- exactly (binary collation), as on SQLite.
CREATE TABLE orders (
    id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_no        VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    customer_id     BIGINT       NOT NULL,
    status          VARCHAR(24)  NOT NULL,
    goods_fen       BIGINT       NOT NULL,
    freight_fen     BIGINT       NOT NULL,
    total_fen       BIGINT       NOT NULL,
    paid_fen        BIGINT       NOT NULL DEFAULT 0,
    address_id      BIGINT       NOT NULL,
    ship_name       VARCHAR(64)  NOT NULL,
    ship_phone      VARCHAR(16)  NOT NULL,
    ship_province   VARCHAR(64)  NOT NULL,
    ship_city       VARCHAR(64)  NOT NULL,
    ship_district   VARCHAR(64)  NOT NULL,
    ship_detail     VARCHAR(255) NOT NULL,
    remark          VARCHAR(255) NOT NULL DEFAULT '',
    idempotency_key VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    request_hash    VARCHAR(64)  NOT NULL DEFAULT '',
    cancel_reason   VARCHAR(32)  NOT NULL DEFAULT '',
    pay_deadline    DATETIME(3)  NOT NULL,
    paid_at         DATETIME(3)  NULL,
    shipped_at      DATETIME(3)  NULL,
    completed_at    DATETIME(3)  NULL,
    cancelled_at    DATETIME(3)  NULL,
    closed_at       DATETIME(3)  NULL,
    created_at      DATETIME(3)  NOT NULL,
    updated_at      DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_orders_order_no (order_no),
    UNIQUE KEY uq_orders_customer_idempotency (customer_id, idempotency_key),
    KEY idx_orders_status_deadline (status, pay_deadline),
    KEY idx_orders_status_shipped (status, shipped_at),
    KEY idx_orders_customer_id (customer_id, id),
    KEY idx_orders_customer_status (customer_id, status, id),
    KEY idx_orders_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per merged SKU line, with the product facts and the price as they
-- were at checkout.
CREATE TABLE order_items (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id     BIGINT       NOT NULL,
    sku_id       BIGINT       NOT NULL,
    product_id   BIGINT       NOT NULL,
    title        VARCHAR(128) NOT NULL,
    spec_text    VARCHAR(255) NOT NULL DEFAULT '',
    image        VARCHAR(512) NOT NULL DEFAULT '',
    price_fen    BIGINT       NOT NULL,
    quantity     BIGINT       NOT NULL,
    subtotal_fen BIGINT       NOT NULL,
    created_at   DATETIME(3)  NOT NULL,
    KEY idx_order_items_order (order_id, id),
    KEY idx_order_items_sku (sku_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every status change of an order: from (empty for creation), to, who
-- (customer, staff, system or payment, with an id where there is one), why
-- and when.
CREATE TABLE order_events (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id    BIGINT       NOT NULL,
    from_status VARCHAR(24)  NOT NULL DEFAULT '',
    to_status   VARCHAR(24)  NOT NULL,
    actor_type  VARCHAR(16)  NOT NULL,
    actor_id    BIGINT       NOT NULL DEFAULT 0,
    reason      VARCHAR(255) NOT NULL DEFAULT '',
    created_at  DATETIME(3)  NOT NULL,
    KEY idx_order_events_order (order_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A parcel handed to a carrier: carrier is a code of the carrier table,
-- staff_id who shipped it.
CREATE TABLE shipments (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id    BIGINT       NOT NULL,
    carrier     VARCHAR(16)  NOT NULL,
    tracking_no VARCHAR(64)  NOT NULL,
    staff_id    BIGINT       NOT NULL,
    created_at  DATETIME(3)  NOT NULL,
    updated_at  DATETIME(3)  NOT NULL,
    KEY idx_shipments_order (order_id, id),
    KEY idx_shipments_tracking (carrier, tracking_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE shipments;
DROP TABLE order_events;
DROP TABLE order_items;
DROP TABLE orders;
