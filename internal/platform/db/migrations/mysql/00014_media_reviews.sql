-- +goose Up
-- Media: the images the shop issued, who uploaded them, and the customers'
-- daily upload quota. Reviews per order line with their images, and the
-- per-star rating counts on products. (Column meanings: see the SQLite file.)

CREATE TABLE media_objects (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    object_key   VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    content_type VARCHAR(32)  NOT NULL,
    width        INT          NOT NULL,
    height       INT          NOT NULL,
    bytes        BIGINT       NOT NULL,
    created_at   DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_media_objects_key (object_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE media_uploads (
    id            BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    object_id     BIGINT      NOT NULL,
    uploader_type VARCHAR(16) NOT NULL,
    uploader_id   BIGINT      NOT NULL,
    created_at    DATETIME(3) NOT NULL,
    KEY idx_media_uploads_uploader (uploader_type, uploader_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE media_upload_quotas (
    customer_id BIGINT   NOT NULL,
    day         CHAR(10) NOT NULL,
    used        INT      NOT NULL,
    PRIMARY KEY (customer_id, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE reviews (
    id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id         BIGINT       NOT NULL,
    order_item_id    BIGINT       NOT NULL,
    product_id       BIGINT       NOT NULL,
    sku_id           BIGINT       NOT NULL,
    spec_text        VARCHAR(255) NOT NULL DEFAULT '',
    customer_id      BIGINT       NOT NULL,
    channel          VARCHAR(16)  NOT NULL,
    openid           VARCHAR(128) NOT NULL DEFAULT '',
    author_name      VARCHAR(64)  NOT NULL,
    anonymous        TINYINT(1)   NOT NULL DEFAULT 0,
    rating           TINYINT      NOT NULL,
    content          TEXT         NOT NULL,
    has_images       TINYINT(1)   NOT NULL DEFAULT 0,
    state            VARCHAR(16)  NOT NULL,
    text_check       VARCHAR(16)  NOT NULL,
    hold_reason      VARCHAR(32)  NOT NULL DEFAULT '',
    followup_content TEXT         NOT NULL,
    followup_check   VARCHAR(16)  NOT NULL DEFAULT '',
    followup_state   VARCHAR(16)  NOT NULL DEFAULT '',
    followup_at      DATETIME(3)  NULL,
    reply_content    TEXT         NOT NULL,
    reply_staff_id   BIGINT       NOT NULL DEFAULT 0,
    replied_at       DATETIME(3)  NULL,
    check_due_at     DATETIME(3)  NULL,
    check_attempts   INT          NOT NULL DEFAULT 0,
    published_at     DATETIME(3)  NULL,
    created_at       DATETIME(3)  NOT NULL,
    updated_at       DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_reviews_order_item (order_item_id),
    KEY idx_reviews_product_state (product_id, state, id),
    KEY idx_reviews_customer (customer_id, id),
    KEY idx_reviews_state (state, id),
    KEY idx_reviews_check_due (check_due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE review_images (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    review_id    BIGINT       NOT NULL,
    part         VARCHAR(16)  NOT NULL,
    position     INT          NOT NULL,
    url          VARCHAR(512) NOT NULL,
    verdict      VARCHAR(16)  NOT NULL,
    trace_id     VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
    check_due_at DATETIME(3)  NULL,
    attempts     INT          NOT NULL DEFAULT 0,
    verdict_at   DATETIME(3)  NULL,
    created_at   DATETIME(3)  NOT NULL,
    KEY idx_review_images_review (review_id, part, position),
    UNIQUE KEY uq_review_images_trace (trace_id),
    KEY idx_review_images_due (check_due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE products
    ADD COLUMN rating_1 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN rating_2 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN rating_3 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN rating_4 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN rating_5 BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE products DROP COLUMN rating_1, DROP COLUMN rating_2, DROP COLUMN rating_3,
    DROP COLUMN rating_4, DROP COLUMN rating_5;
DROP TABLE review_images;
DROP TABLE reviews;
DROP TABLE media_upload_quotas;
DROP TABLE media_uploads;
DROP TABLE media_objects;
