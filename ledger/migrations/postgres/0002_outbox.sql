-- A transactional outbox: messages written in the same transaction as the
-- transfers they describe, delivered at least once afterwards. The id is the
-- deduplication key: writing the same message twice keeps one row.
CREATE TABLE outbox (
    seq             BIGSERIAL PRIMARY KEY,
    id              UUID    NOT NULL UNIQUE,
    topic           TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    created_at_ms   BIGINT  NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    delivered_at_ms BIGINT
);
CREATE INDEX outbox_undelivered ON outbox (seq) WHERE delivered_at_ms IS NULL;
