-- A transactional outbox: messages written in the same transaction as the
-- transfers they describe, delivered at least once afterwards. The id is the
-- deduplication key: writing the same message twice keeps one row.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY,
    id              BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
    topic           TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    delivered_at_ms INTEGER
) STRICT;
CREATE INDEX outbox_undelivered ON outbox (seq) WHERE delivered_at_ms IS NULL;
