-- +goose Up
-- Logistics owns parcels from here on (see the MySQL migration for the
-- meaning of each column; both dialects end with the same tables).
CREATE TABLE parcels (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT     NOT NULL,
    ref_id      INTEGER  NOT NULL,
    carrier     TEXT     NOT NULL,
    tracking_no TEXT     NOT NULL,
    phone       TEXT     NOT NULL DEFAULT '',
    state       TEXT     NOT NULL DEFAULT '',
    state_code  TEXT     NOT NULL DEFAULT '',
    staff_id    INTEGER  NOT NULL DEFAULT 0,
    signed_at   DATETIME NULL,
    event_at    DATETIME NULL,
    queried_at  DATETIME NULL,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_parcels_ref ON parcels (kind, ref_id, carrier, tracking_no);
CREATE INDEX idx_parcels_waybill ON parcels (tracking_no, carrier);

CREATE TABLE parcel_items (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    parcel_id     INTEGER NOT NULL,
    order_item_id INTEGER NOT NULL
);
CREATE UNIQUE INDEX uq_parcel_items_item ON parcel_items (order_item_id);
CREATE INDEX idx_parcel_items_parcel ON parcel_items (parcel_id);

CREATE TABLE tracking_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    parcel_id   INTEGER  NOT NULL,
    event_time  DATETIME NOT NULL,
    description TEXT     NOT NULL,
    location    TEXT     NOT NULL DEFAULT '',
    state       TEXT     NOT NULL,
    raw_code    TEXT     NOT NULL DEFAULT '',
    raw_status  TEXT     NOT NULL DEFAULT '',
    fingerprint TEXT     NOT NULL,
    created_at  DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_tracking_events ON tracking_events (parcel_id, fingerprint);
CREATE INDEX idx_tracking_events_time ON tracking_events (parcel_id, event_time);

CREATE TABLE logistics_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT     NOT NULL,
    ref_id      INTEGER  NOT NULL,
    state       TEXT     NOT NULL,
    attempts    INTEGER  NOT NULL DEFAULT 0,
    next_at     DATETIME NOT NULL,
    lease_token TEXT     NOT NULL DEFAULT '',
    lease_until DATETIME NULL,
    errcode     INTEGER  NOT NULL DEFAULT 0,
    errmsg      TEXT     NOT NULL DEFAULT '',
    done_at     DATETIME NULL,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_logistics_outbox ON logistics_outbox (kind, ref_id);
CREATE INDEX idx_logistics_outbox_due ON logistics_outbox (state, next_at);

ALTER TABLE orders ADD COLUMN delivered_at DATETIME NULL;
CREATE INDEX idx_orders_delivered ON orders (status, delivered_at);

INSERT INTO parcels (kind, ref_id, carrier, tracking_no, phone, staff_id, created_at, updated_at)
SELECT 'order', s.order_id, s.carrier, s.tracking_no, o.ship_phone, s.staff_id, s.created_at, s.updated_at
FROM shipments s JOIN orders o ON o.id = s.order_id;
DROP TABLE shipments;

-- +goose Down
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
INSERT INTO shipments (order_id, carrier, tracking_no, staff_id, created_at, updated_at)
SELECT ref_id, carrier, tracking_no, staff_id, created_at, updated_at FROM parcels WHERE kind = 'order';
DROP INDEX idx_orders_delivered;
ALTER TABLE orders DROP COLUMN delivered_at;
DROP TABLE logistics_outbox;
DROP TABLE tracking_events;
DROP TABLE parcel_items;
DROP TABLE parcels;
