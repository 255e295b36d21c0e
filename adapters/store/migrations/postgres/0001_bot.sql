-- The bot's own tables on PostgreSQL, in the ledger's database (the ledger's
-- migrator applies this as component "bot", version 1). Money is BIGINT minor
-- units plus a currency code; times are ms since the Unix epoch; hashes are
-- 32-byte BYTEA; transfer ids are UUIDs, as in the ledger's `transfers`.
--
-- Payments, requests and splits are found by `reference` (UNIQUE); `seq` is
-- the insertion order. The shape matches the SQLite schema column for column,
-- so one set of statements serves both.

-- Chat events claimed for handling: at most one worker per event, and the
-- stored outcome for redeliveries.
CREATE TABLE bot_events (
    platform       TEXT    NOT NULL,
    event_id       TEXT    NOT NULL,
    claimed_at_ms  BIGINT  NOT NULL,
    outcome        TEXT,
    finished_at_ms BIGINT,
    PRIMARY KEY (platform, event_id),
    CHECK ((outcome IS NULL) = (finished_at_ms IS NULL))
);
-- Old outcomes are forgotten after a retention period (Store::forget_events).
CREATE INDEX bot_events_finished ON bot_events (finished_at_ms);

-- A user is a wallet's owner: the id is all there is.
CREATE TABLE bot_users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at_ms BIGINT  NOT NULL
);

-- A platform identity (the identity is the platform's id; the handle is a
-- lookup key that may change or be reused).
CREATE TABLE bot_identities (
    platform      TEXT    NOT NULL,
    platform_id   TEXT    NOT NULL,
    user_id       BIGINT  NOT NULL REFERENCES bot_users (id),
    handle        TEXT,
    skeleton      TEXT,
    display_name  TEXT    NOT NULL,
    started       BOOLEAN NOT NULL,
    first_seen_ms BIGINT  NOT NULL,
    last_seen_ms  BIGINT  NOT NULL,
    -- When the identity joined its current user (creation or `/link`).
    user_since_ms BIGINT  NOT NULL,
    PRIMARY KEY (platform, platform_id)
);
CREATE INDEX bot_identities_by_handle ON bot_identities (platform, handle, last_seen_ms);
CREATE INDEX bot_identities_by_skeleton ON bot_identities (platform, skeleton, last_seen_ms);
CREATE INDEX bot_identities_by_user ON bot_identities (user_id, last_seen_ms);

-- `/link` codes, as keyed hashes; one per user.
CREATE TABLE bot_link_codes (
    hash          BYTEA   PRIMARY KEY CHECK (octet_length(hash) = 32),
    user_id       BIGINT  NOT NULL UNIQUE REFERENCES bot_users (id),
    expires_at_ms BIGINT  NOT NULL
);
CREATE INDEX bot_link_codes_by_expiry ON bot_link_codes (expires_at_ms);

-- Payments. The payee is a user (payee_user + payee_id) or an unclaimed
-- handle (payee_handle), never both.
CREATE TABLE bot_payments (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference           TEXT    NOT NULL UNIQUE,
    transfer_id         UUID    NOT NULL UNIQUE,
    payer               BIGINT  NOT NULL REFERENCES bot_users (id),
    payer_platform      TEXT    NOT NULL,
    payer_id            TEXT    NOT NULL,
    payee_user          BIGINT  REFERENCES bot_users (id),
    payee_platform      TEXT    NOT NULL,
    payee_id            TEXT,
    payee_handle        TEXT,
    payee_label         TEXT    NOT NULL,
    amount              BIGINT  NOT NULL CHECK (amount > 0),
    currency            TEXT    NOT NULL,
    memo                TEXT,
    request_ref         TEXT,
    origin_chat         TEXT,
    otp_hash            BYTEA   NOT NULL CHECK (octet_length(otp_hash) = 32),
    otp_issued_at_ms    BIGINT  NOT NULL,
    otp_failed_attempts BIGINT  NOT NULL CHECK (otp_failed_attempts BETWEEN 0 AND 255),
    state               TEXT    NOT NULL,
    due_at_ms           BIGINT,
    created_at_ms       BIGINT  NOT NULL,
    updated_at_ms       BIGINT  NOT NULL,
    revision            BIGINT  NOT NULL,
    CHECK ((payee_user IS NULL) = (payee_id IS NULL)),
    CHECK ((payee_user IS NULL) <> (payee_handle IS NULL))
);
CREATE INDEX bot_payments_by_payer ON bot_payments (payer, state, created_at_ms);
CREATE INDEX bot_payments_by_payee_user ON bot_payments (payee_user, created_at_ms);
CREATE INDEX bot_payments_by_payee_handle ON bot_payments (payee_platform, payee_handle, state);
CREATE INDEX bot_payments_due ON bot_payments (due_at_ms) WHERE due_at_ms IS NOT NULL;

-- Requests (`/request`, and the shares of a `/split`).
CREATE TABLE bot_requests (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference          TEXT    NOT NULL UNIQUE,
    requester          BIGINT  NOT NULL REFERENCES bot_users (id),
    requester_platform TEXT    NOT NULL,
    requester_id       TEXT    NOT NULL,
    requester_label    TEXT    NOT NULL,
    payer              BIGINT  NOT NULL REFERENCES bot_users (id),
    payer_platform     TEXT    NOT NULL,
    payer_id           TEXT    NOT NULL,
    payer_label        TEXT    NOT NULL,
    amount             BIGINT  NOT NULL CHECK (amount > 0),
    currency           TEXT    NOT NULL,
    memo               TEXT,
    split_ref          TEXT,
    state              TEXT    NOT NULL,
    payment_ref        TEXT,
    created_at_ms      BIGINT  NOT NULL,
    updated_at_ms      BIGINT  NOT NULL,
    revision           BIGINT  NOT NULL
);
CREATE INDEX bot_requests_by_split ON bot_requests (split_ref, seq) WHERE split_ref IS NOT NULL;

-- Splits. One currency: the total and the creator's share are in it.
CREATE TABLE bot_splits (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference     TEXT    NOT NULL UNIQUE,
    creator       BIGINT  NOT NULL REFERENCES bot_users (id),
    platform      TEXT    NOT NULL,
    chat          TEXT    NOT NULL,
    total         BIGINT  NOT NULL CHECK (total > 0),
    creator_share BIGINT  NOT NULL CHECK (creator_share > 0),
    currency      TEXT    NOT NULL,
    memo          TEXT,
    created_at_ms BIGINT  NOT NULL
);
CREATE INDEX bot_splits_by_creator ON bot_splits (creator, platform, created_at_ms);
CREATE INDEX bot_splits_by_creator_chat ON bot_splits (creator, platform, chat, created_at_ms);
