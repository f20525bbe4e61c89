-- +goose Up
-- Media: the images the shop issued, who uploaded them, and the customers'
-- daily upload quota. Reviews per order line with their images, and the
-- per-star rating counts on products.

-- An image as stored: object_key is "<sha256 of the stored bytes>.<ext>",
-- so the same picture uploaded twice is one object. A URL is one this shop
-- issued when its key has a row here.
CREATE TABLE media_objects (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    object_key   TEXT     NOT NULL,
    content_type TEXT     NOT NULL,
    width        INTEGER  NOT NULL,
    height       INTEGER  NOT NULL,
    bytes        INTEGER  NOT NULL,
    created_at   DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_media_objects_key ON media_objects (object_key);

-- One upload: uploader_type is customer or staff.
CREATE TABLE media_uploads (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    object_id     INTEGER  NOT NULL,
    uploader_type TEXT     NOT NULL,
    uploader_id   INTEGER  NOT NULL,
    created_at    DATETIME NOT NULL
);
CREATE INDEX idx_media_uploads_uploader ON media_uploads (uploader_type, uploader_id, id);

-- Uploads a customer made on one Beijing day (YYYY-MM-DD); used only grows,
-- by a guarded increment that stops at the limit.
CREATE TABLE media_upload_quotas (
    customer_id INTEGER NOT NULL,
    day         TEXT    NOT NULL,
    used        INTEGER NOT NULL,
    PRIMARY KEY (customer_id, day)
);

-- A review of one order line (unique). state: pending, published, hidden;
-- only published reviews count in the product's rating. text_check is the
-- platform's verdict on content (pending while it could not be asked, pass,
-- review, risky, skipped for channels without a check); hold_reason says why
-- a pending review waits for staff. The follow-up (追评) is part of the row:
-- followup_state is '' (none), pending or published. check_due_at is when the
-- retry job may next ask the platform about pending text.
CREATE TABLE reviews (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id         INTEGER  NOT NULL,
    order_item_id    INTEGER  NOT NULL,
    product_id       INTEGER  NOT NULL,
    sku_id           INTEGER  NOT NULL,
    spec_text        TEXT     NOT NULL DEFAULT '',
    customer_id      INTEGER  NOT NULL,
    channel          TEXT     NOT NULL,
    openid           TEXT     NOT NULL DEFAULT '',
    author_name      TEXT     NOT NULL,
    anonymous        INTEGER  NOT NULL DEFAULT 0,
    rating           INTEGER  NOT NULL,
    content          TEXT     NOT NULL,
    has_images       INTEGER  NOT NULL DEFAULT 0,
    state            TEXT     NOT NULL,
    text_check       TEXT     NOT NULL,
    hold_reason      TEXT     NOT NULL DEFAULT '',
    followup_content TEXT     NOT NULL DEFAULT '',
    followup_check   TEXT     NOT NULL DEFAULT '',
    followup_state   TEXT     NOT NULL DEFAULT '',
    followup_at      DATETIME NULL,
    reply_content    TEXT     NOT NULL DEFAULT '',
    reply_staff_id   INTEGER  NOT NULL DEFAULT 0,
    replied_at       DATETIME NULL,
    check_due_at     DATETIME NULL,
    check_attempts   INTEGER  NOT NULL DEFAULT 0,
    published_at     DATETIME NULL,
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL
);
CREATE UNIQUE INDEX uq_reviews_order_item ON reviews (order_item_id);
CREATE INDEX idx_reviews_product_state ON reviews (product_id, state, id);
CREATE INDEX idx_reviews_customer ON reviews (customer_id, id);
CREATE INDEX idx_reviews_state ON reviews (state, id);
CREATE INDEX idx_reviews_check_due ON reviews (check_due_at);

-- An image of a review (part review) or of its follow-up (part followup).
-- verdict: pending (not yet judged), pass, review, risky (withdrawn: never
-- shown), approved (staff published it), skipped (no check on the channel).
-- trace_id is the platform's id of the asynchronous check, matched by the
-- wxa_media_check event; check_due_at is when the job next submits it.
CREATE TABLE review_images (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    review_id    INTEGER  NOT NULL,
    part         TEXT     NOT NULL,
    position     INTEGER  NOT NULL,
    url          TEXT     NOT NULL,
    verdict      TEXT     NOT NULL,
    trace_id     TEXT     NULL,
    check_due_at DATETIME NULL,
    attempts     INTEGER  NOT NULL DEFAULT 0,
    verdict_at   DATETIME NULL,
    created_at   DATETIME NOT NULL
);
CREATE INDEX idx_review_images_review ON review_images (review_id, part, position);
CREATE UNIQUE INDEX uq_review_images_trace ON review_images (trace_id);
CREATE INDEX idx_review_images_due ON review_images (check_due_at);

-- Published reviews per star, next to rating_count and rating_total.
ALTER TABLE products ADD COLUMN rating_1 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN rating_2 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN rating_3 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN rating_4 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN rating_5 INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE products DROP COLUMN rating_5;
ALTER TABLE products DROP COLUMN rating_4;
ALTER TABLE products DROP COLUMN rating_3;
ALTER TABLE products DROP COLUMN rating_2;
ALTER TABLE products DROP COLUMN rating_1;
DROP TABLE review_images;
DROP TABLE reviews;
DROP TABLE media_upload_quotas;
DROP TABLE media_uploads;
DROP TABLE media_objects;
