-- +goose Up
-- Orders with their item and address snapshots, the history of every status
-- change, and the shipments staff record when they ship.

-- status is one of pending_payment, paid, shipped, completed, cancelled,
-- closed. Money is integer fen. The ship_* columns snapshot the address at
-- checkout; address_id only remembers where it came from. idempotency_key is
-- NULL when the client sent none (NULLs never collide in the unique index);
-- request_hash is the SHA-256 of the normalised request, so a reused key
-- with another body is recognised.
CREATE TABLE orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    order_no        TEXT     NOT NULL,
    customer_id     INTEGER  NOT NULL,
    status          TEXT     NOT NULL,
    goods_fen       INTEGER  NOT NULL,
    freight_fen     INTEGER  NOT NULL,
    total_fen       INTEGER  NOT NULL,
    paid_fen        INTEGER  NOT NULL DEFAULT 0,
    address_id      INTEGER  NOT NULL,
    ship_name       TEXT     NOT NULL,
    ship_phone      TEXT     NOT NULL,
    ship_province   TEXT     NOT NULL,
    ship_city       TEXT     NOT NULL,
    ship_district   TEXT     NOT NULL,
    ship_detail     TEXT     NOT NULL,
    remark          TEXT     NOT NULL DEFAULT '',
    idempotency_key TEXT     NULL,
    request_hash    TEXT     NOT NULL DEFAULT '',
    cancel_reason   TEXT     NOT NULL DEFAULT '',
    pay_deadline    DATETIME NOT NULL,
    paid_at         DATETIME NULL,
    shipped_at      DATETIME NULL,
    completed_at    DATETIME NULL,
    cancelled_at    DATETIME NULL,
    closed_at       DATETIME NULL,
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_orders_order_no ON orders (order_no);
CREATE UNIQUE INDEX uq_orders_customer_idempotency ON orders (customer_id, idempotency_key);
CREATE INDEX idx_orders_status_deadline ON orders (status, pay_deadline);
CREATE INDEX idx_orders_status_shipped ON orders (status, shipped_at);
CREATE INDEX idx_orders_customer_id ON orders (customer_id, id);
CREATE INDEX idx_orders_customer_status ON orders (customer_id, status, id);
CREATE INDEX idx_orders_created ON orders (created_at);

-- One row per merged SKU line, with the product facts and the price as they
-- were at checkout.
CREATE TABLE order_items (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id     INTEGER NOT NULL,
    sku_id       INTEGER NOT NULL,
    product_id   INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    spec_text    TEXT    NOT NULL DEFAULT '',
    image        TEXT    NOT NULL DEFAULT '',
    price_fen    INTEGER NOT NULL,
    quantity     INTEGER NOT NULL,
    subtotal_fen INTEGER NOT NULL,
    created_at   DATETIME NOT NULL
);
CREATE INDEX idx_order_items_order ON order_items (order_id, id);
CREATE INDEX idx_order_items_sku ON order_items (sku_id);

-- Every status change of an order: from (empty for creation), to, who
-- (customer, staff, system or payment, with an id where there is one), why
-- and when.
CREATE TABLE order_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    INTEGER NOT NULL,
    from_status TEXT    NOT NULL DEFAULT '',
    to_status   TEXT    NOT NULL,
    actor_type  TEXT    NOT NULL,
    actor_id    INTEGER NOT NULL DEFAULT 0,
    reason      TEXT    NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL
);
CREATE INDEX idx_order_events_order ON order_events (order_id, id);

-- A parcel handed to a carrier: carrier is a code of the carrier table,
-- staff_id who shipped it.
CREATE TABLE shipments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    INTEGER NOT NULL,
    carrier     TEXT    NOT NULL,
    tracking_no TEXT    NOT NULL,
    staff_id    INTEGER NOT NULL,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);
CREATE INDEX idx_shipments_order ON shipments (order_id, id);
CREATE INDEX idx_shipments_tracking ON shipments (carrier, tracking_no);

-- +goose Down
DROP TABLE shipments;
DROP TABLE order_events;
DROP TABLE order_items;
DROP TABLE orders;
