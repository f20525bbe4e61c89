-- +goose Up
-- After-sales: refund-only, return-and-refund and exchange requests per order
-- line, their history, and the per-line counters on the order that keep them
-- within what was bought and paid. Column meanings: see the MySQL migration.
ALTER TABLE order_items ADD COLUMN aftersale_quantity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_items ADD COLUMN aftersale_fen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_items ADD COLUMN refunded_quantity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_items ADD COLUMN withheld_quantity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_items ADD COLUMN aftersale_open INTEGER NOT NULL DEFAULT 0;

ALTER TABLE orders ADD COLUMN refunded_fen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN aftersale_open INTEGER NOT NULL DEFAULT 0;
DROP INDEX idx_orders_status_shipped;
CREATE INDEX idx_orders_status_shipped ON orders (status, aftersale_open, shipped_at);

CREATE TABLE aftersales (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id                INTEGER  NOT NULL,
    customer_id             INTEGER  NOT NULL,
    type                    TEXT     NOT NULL,
    status                  TEXT     NOT NULL,
    initiator               TEXT     NOT NULL,
    reason                  TEXT     NOT NULL,
    description             TEXT     NOT NULL DEFAULT '',
    images                  TEXT     NOT NULL,
    before_shipping         INTEGER  NOT NULL DEFAULT 0,
    computed_fen            INTEGER  NOT NULL DEFAULT 0,
    refund_fen              INTEGER  NOT NULL DEFAULT 0,
    freight_fen             INTEGER  NOT NULL DEFAULT 0,
    decision_reason         TEXT     NOT NULL DEFAULT '',
    return_carrier          TEXT     NOT NULL DEFAULT '',
    return_tracking_no      TEXT     NOT NULL DEFAULT '',
    return_shipped_at       DATETIME NULL,
    replacement_carrier     TEXT     NOT NULL DEFAULT '',
    replacement_tracking_no TEXT     NOT NULL DEFAULT '',
    out_refund_no           TEXT     NULL,
    refund_status           TEXT     NOT NULL DEFAULT '',
    refund_detail           TEXT     NOT NULL DEFAULT '',
    refund_tries            INTEGER  NOT NULL DEFAULT 0,
    next_refund_check_at    DATETIME NULL,
    reminded_at             DATETIME NULL,
    approved_at             DATETIME NULL,
    returned_at             DATETIME NULL,
    refunded_at             DATETIME NULL,
    ended_at                DATETIME NULL,
    created_at              DATETIME NOT NULL,
    updated_at              DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_aftersales_out_refund_no ON aftersales (out_refund_no);
CREATE INDEX idx_aftersales_customer ON aftersales (customer_id, id);
CREATE INDEX idx_aftersales_order ON aftersales (order_id, id);
CREATE INDEX idx_aftersales_status ON aftersales (status, created_at);
CREATE INDEX idx_aftersales_refund_check ON aftersales (status, next_refund_check_at);

CREATE TABLE aftersale_items (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    aftersale_id    INTEGER NOT NULL,
    order_id        INTEGER NOT NULL,
    order_item_id   INTEGER NOT NULL,
    sku_id          INTEGER NOT NULL,
    quantity        INTEGER NOT NULL,
    share_fen       INTEGER NOT NULL,
    exchange_sku_id INTEGER NOT NULL DEFAULT 0,
    open_item_id    INTEGER NULL
);
CREATE UNIQUE INDEX uq_aftersale_items_open ON aftersale_items (open_item_id);
CREATE INDEX idx_aftersale_items_aftersale ON aftersale_items (aftersale_id);
CREATE INDEX idx_aftersale_items_order_item ON aftersale_items (order_item_id);

CREATE TABLE aftersale_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    aftersale_id INTEGER NOT NULL,
    from_status  TEXT    NOT NULL DEFAULT '',
    to_status    TEXT    NOT NULL,
    actor_type   TEXT    NOT NULL,
    actor_id     INTEGER NOT NULL DEFAULT 0,
    reason       TEXT    NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL
);
CREATE INDEX idx_aftersale_events_aftersale ON aftersale_events (aftersale_id, id);

-- +goose Down
DROP TABLE aftersale_events;
DROP TABLE aftersale_items;
DROP TABLE aftersales;
DROP INDEX idx_orders_status_shipped;
CREATE INDEX idx_orders_status_shipped ON orders (status, shipped_at);
ALTER TABLE orders DROP COLUMN aftersale_open;
ALTER TABLE orders DROP COLUMN refunded_fen;
ALTER TABLE order_items DROP COLUMN aftersale_open;
ALTER TABLE order_items DROP COLUMN withheld_quantity;
ALTER TABLE order_items DROP COLUMN refunded_quantity;
ALTER TABLE order_items DROP COLUMN aftersale_fen;
ALTER TABLE order_items DROP COLUMN aftersale_quantity;
