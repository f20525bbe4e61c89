-- +goose Up
-- Logistics owns parcels from here on. A parcel belongs to an order's
-- outbound shipment (kind order, ref_id the order id), or to another module's
-- flow (kind return / replacement, ref_id that module's id). phone is the
-- receiver's phone, which SF and ZTO need for tracking queries. state is the
-- normalised tracking state ('' until the first event), state_code the
-- courier's raw code. queried_at guards real-time courier queries: one per
-- waybill per 30 minutes across instances (a conditional update claims it).
CREATE TABLE parcels (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind        VARCHAR(16)  NOT NULL,
    ref_id      BIGINT       NOT NULL,
    carrier     VARCHAR(16)  NOT NULL,
    tracking_no VARCHAR(32)  NOT NULL,
    phone       VARCHAR(32)  NOT NULL DEFAULT '',
    state       VARCHAR(20)  NOT NULL DEFAULT '',
    state_code  VARCHAR(8)   NOT NULL DEFAULT '',
    staff_id    BIGINT       NOT NULL DEFAULT 0,
    signed_at   DATETIME(3)  NULL,
    event_at    DATETIME(3)  NULL,
    queried_at  DATETIME(3)  NULL,
    created_at  DATETIME(3)  NOT NULL,
    updated_at  DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_parcels_ref (kind, ref_id, carrier, tracking_no),
    KEY idx_parcels_waybill (tracking_no, carrier)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Which order lines travel in which parcel: every line in exactly one.
CREATE TABLE parcel_items (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    parcel_id     BIGINT NOT NULL,
    order_item_id BIGINT NOT NULL,
    UNIQUE KEY uq_parcel_items_item (order_item_id),
    KEY idx_parcel_items_parcel (parcel_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Tracking events, stored once each: fingerprint is the SHA-256 of the
-- event's time, text and raw code, unique per parcel, so a push delivered
-- twice stores nothing new.
CREATE TABLE tracking_events (
    id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    parcel_id   BIGINT        NOT NULL,
    event_time  DATETIME(3)   NOT NULL,
    description VARCHAR(1024) NOT NULL,
    location    VARCHAR(255)  NOT NULL DEFAULT '',
    state       VARCHAR(20)   NOT NULL,
    raw_code    VARCHAR(8)    NOT NULL DEFAULT '',
    raw_status  VARCHAR(32)   NOT NULL DEFAULT '',
    fingerprint CHAR(64)      NOT NULL,
    created_at  DATETIME(3)   NOT NULL,
    UNIQUE KEY uq_tracking_events (parcel_id, fingerprint),
    KEY idx_tracking_events_time (parcel_id, event_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The logistics outbox: platform calls that follow a committed change
-- (WeChat shipping-info upload, WeChat confirm-receipt reminder, courier
-- subscription), one row per (kind, ref_id). A job claims a due row by a
-- conditional update that sets a lease (lease_token, lease_until), calls the
-- platform outside any transaction and settles the row only while it still
-- holds the lease. state: pending, done, failed, not_required.
CREATE TABLE logistics_outbox (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind        VARCHAR(24)  NOT NULL,
    ref_id      BIGINT       NOT NULL,
    state       VARCHAR(16)  NOT NULL,
    attempts    INT          NOT NULL DEFAULT 0,
    next_at     DATETIME(3)  NOT NULL,
    lease_token VARCHAR(32)  NOT NULL DEFAULT '',
    lease_until DATETIME(3)  NULL,
    errcode     BIGINT       NOT NULL DEFAULT 0,
    errmsg      VARCHAR(512) NOT NULL DEFAULT '',
    done_at     DATETIME(3)  NULL,
    created_at  DATETIME(3)  NOT NULL,
    updated_at  DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_logistics_outbox (kind, ref_id),
    KEY idx_logistics_outbox_due (state, next_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- delivered_at: every parcel of the order signed; the auto-confirm clock
-- runs from it too.
ALTER TABLE orders
    ADD COLUMN delivered_at DATETIME(3) NULL,
    ADD KEY idx_orders_delivered (status, delivered_at);

-- Shipments recorded before logistics existed become parcels.
INSERT INTO parcels (kind, ref_id, carrier, tracking_no, phone, staff_id, created_at, updated_at)
SELECT 'order', s.order_id, s.carrier, s.tracking_no, o.ship_phone, s.staff_id, s.created_at, s.updated_at
FROM shipments s JOIN orders o ON o.id = s.order_id;
DROP TABLE shipments;

-- +goose Down
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
INSERT INTO shipments (order_id, carrier, tracking_no, staff_id, created_at, updated_at)
SELECT ref_id, carrier, tracking_no, staff_id, created_at, updated_at FROM parcels WHERE kind = 'order';
ALTER TABLE orders DROP KEY idx_orders_delivered, DROP COLUMN delivered_at;
DROP TABLE logistics_outbox;
DROP TABLE tracking_events;
DROP TABLE parcel_items;
DROP TABLE parcels;
