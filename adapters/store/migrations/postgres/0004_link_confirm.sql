-- `/link` confirmations and wrong link codes (component "bot", version 4).
--
-- A `/link CODE` no longer links at once: it waits here, one per identity,
-- for the identity's `/link confirm` (until `expires_at_ms`). `from_user` is
-- the identity's user when it sent the code, `to_user` the wallet the code
-- belongs to.
CREATE TABLE bot_pending_links (
    platform      TEXT    NOT NULL,
    platform_id   TEXT    NOT NULL,
    from_user     BIGINT  NOT NULL REFERENCES bot_users (id),
    to_user       BIGINT  NOT NULL REFERENCES bot_users (id),
    created_at_ms BIGINT  NOT NULL,
    expires_at_ms BIGINT  NOT NULL,
    PRIMARY KEY (platform, platform_id),
    CHECK (from_user <> to_user)
);
CREATE INDEX bot_pending_links_by_expiry ON bot_pending_links (expires_at_ms);

-- Link code attempts: a row per `/link CODE` tried, deleted when the code
-- was right, so what stays counts the wrong ones (per identity, and of
-- everyone). Rows older than the longest window are deleted as attempts
-- come in.
CREATE TABLE bot_link_attempts (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform    TEXT    NOT NULL,
    platform_id TEXT    NOT NULL,
    at_ms       BIGINT  NOT NULL
);
CREATE INDEX bot_link_attempts_by_identity ON bot_link_attempts (platform, platform_id, at_ms);
CREATE INDEX bot_link_attempts_by_time ON bot_link_attempts (at_ms);

-- One row, locked (FOR UPDATE) by each attempt's check-and-record
-- transaction, so that concurrent attempts are counted one after the other.
CREATE TABLE bot_link_attempt_gate (
    id SMALLINT PRIMARY KEY CHECK (id = 1)
);
INSERT INTO bot_link_attempt_gate (id) VALUES (1);
