-- +goose Up
-- After-sales: refund-only, return-and-refund and exchange requests per order
-- line, their history, and the per-line counters on the order that keep them
-- within what was bought and paid.

-- aftersale_quantity / aftersale_fen: units of the line taken by after-sales
-- that were not rejected or cancelled, with the share of the paid amount
-- computed for them; a guarded update keeps aftersale_quantity <= quantity.
-- refunded_quantity: units whose refund was granted (<= aftersale_quantity).
-- withheld_quantity: units refunded before shipping, which never ship.
-- aftersale_open: 1 while a request of the line is open.
ALTER TABLE order_items
    ADD COLUMN aftersale_quantity INT     NOT NULL DEFAULT 0,
    ADD COLUMN aftersale_fen      BIGINT  NOT NULL DEFAULT 0,
    ADD COLUMN refunded_quantity  INT     NOT NULL DEFAULT 0,
    ADD COLUMN withheld_quantity  INT     NOT NULL DEFAULT 0,
    ADD COLUMN aftersale_open     TINYINT NOT NULL DEFAULT 0;

-- refunded_fen: refunds granted on the order (<= paid_fen, guarded).
-- aftersale_open: how many after-sales of the order are open; automatic
-- confirmation waits while it is not 0.
ALTER TABLE orders
    ADD COLUMN refunded_fen   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN aftersale_open INT    NOT NULL DEFAULT 0;
DROP INDEX idx_orders_status_shipped ON orders;
CREATE INDEX idx_orders_status_shipped ON orders (status, aftersale_open, shipped_at);

-- type: refund_only, return_refund, exchange. status: requested, approved,
-- rejected, awaiting_return, returned, refunding, refunded, completed,
-- cancelled. before_shipping: the order was paid and not shipped when the
-- request was made. refund_fen is the amount the server computed (fixed at
-- approval, where staff may lower it); freight_fen the freight it includes.
-- out_refund_no is the payment refund's key, set when the refund is due.
CREATE TABLE aftersales (
    id                      BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id                BIGINT       NOT NULL,
    customer_id             BIGINT       NOT NULL,
    type                    VARCHAR(16)  NOT NULL,
    status                  VARCHAR(16)  NOT NULL,
    initiator               VARCHAR(16)  NOT NULL,
    reason                  VARCHAR(32)  NOT NULL,
    description             VARCHAR(800) NOT NULL DEFAULT '',
    images                  TEXT         NOT NULL,
    before_shipping         TINYINT      NOT NULL DEFAULT 0,
    computed_fen            BIGINT       NOT NULL DEFAULT 0,
    refund_fen              BIGINT       NOT NULL DEFAULT 0,
    freight_fen             BIGINT       NOT NULL DEFAULT 0,
    decision_reason         VARCHAR(800) NOT NULL DEFAULT '',
    return_carrier          VARCHAR(16)  NOT NULL DEFAULT '',
    return_tracking_no      VARCHAR(32)  NOT NULL DEFAULT '',
    return_shipped_at       DATETIME(3)  NULL,
    replacement_carrier     VARCHAR(16)  NOT NULL DEFAULT '',
    replacement_tracking_no VARCHAR(32)  NOT NULL DEFAULT '',
    out_refund_no           VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    refund_status           VARCHAR(16)  NOT NULL DEFAULT '',
    refund_detail           VARCHAR(500) NOT NULL DEFAULT '',
    refund_tries            INT          NOT NULL DEFAULT 0,
    next_refund_check_at    DATETIME(3)  NULL,
    reminded_at             DATETIME(3)  NULL,
    approved_at             DATETIME(3)  NULL,
    returned_at             DATETIME(3)  NULL,
    refunded_at             DATETIME(3)  NULL,
    ended_at                DATETIME(3)  NULL,
    created_at              DATETIME(3)  NOT NULL,
    updated_at              DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_aftersales_out_refund_no (out_refund_no),
    KEY idx_aftersales_customer (customer_id, id),
    KEY idx_aftersales_order (order_id, id),
    KEY idx_aftersales_status (status, created_at),
    KEY idx_aftersales_refund_check (status, next_refund_check_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One line of a request. share_fen is the part of the paid amount computed
-- for these units. open_item_id is the order line while the request is open
-- and NULL once it ends: the unique index allows one open request per line.
CREATE TABLE aftersale_items (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    aftersale_id    BIGINT NOT NULL,
    order_id        BIGINT NOT NULL,
    order_item_id   BIGINT NOT NULL,
    sku_id          BIGINT NOT NULL,
    quantity        INT    NOT NULL,
    share_fen       BIGINT NOT NULL,
    exchange_sku_id BIGINT NOT NULL DEFAULT 0,
    open_item_id    BIGINT NULL,
    UNIQUE KEY uq_aftersale_items_open (open_item_id),
    KEY idx_aftersale_items_aftersale (aftersale_id),
    KEY idx_aftersale_items_order_item (order_item_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every status change of a request: who (customer, staff, system), why, when.
CREATE TABLE aftersale_events (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    aftersale_id BIGINT       NOT NULL,
    from_status  VARCHAR(16)  NOT NULL DEFAULT '',
    to_status    VARCHAR(16)  NOT NULL,
    actor_type   VARCHAR(16)  NOT NULL,
    actor_id     BIGINT       NOT NULL DEFAULT 0,
    reason       VARCHAR(800) NOT NULL DEFAULT '',
    created_at   DATETIME(3)  NOT NULL,
    KEY idx_aftersale_events_aftersale (aftersale_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE aftersale_events;
DROP TABLE aftersale_items;
DROP TABLE aftersales;
DROP INDEX idx_orders_status_shipped ON orders;
CREATE INDEX idx_orders_status_shipped ON orders (status, shipped_at);
ALTER TABLE orders DROP COLUMN aftersale_open, DROP COLUMN refunded_fen;
ALTER TABLE order_items DROP COLUMN aftersale_open, DROP COLUMN withheld_quantity, DROP COLUMN refunded_quantity,
    DROP COLUMN aftersale_fen, DROP COLUMN aftersale_quantity;
