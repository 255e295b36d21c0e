-- Card links confirmed by a code, and the indexes the rate limits count
-- with (component "bot", version 5).
--
-- A `/card add` is tokenized by the rail at once and waits here for its
-- code: the rail's token, brand, last 4, expiry and keyed fingerprint, the
-- code's keyed hash, never the card number. Confirmed, the card goes into
-- bot_cards in the same transaction (see `Store::link_card_add`).
CREATE TABLE bot_card_adds (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    reference           TEXT    NOT NULL UNIQUE,
    add_id              BLOB    NOT NULL UNIQUE CHECK (length(add_id) = 16),
    user_id             INTEGER NOT NULL REFERENCES bot_users (id),
    platform            TEXT    NOT NULL,
    platform_user_id    TEXT    NOT NULL,
    token               TEXT    NOT NULL,
    brand               TEXT    NOT NULL,
    last4               TEXT    NOT NULL CHECK (length(last4) = 4),
    exp_year            INTEGER NOT NULL,
    exp_month           INTEGER NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    fingerprint         BLOB    NOT NULL CHECK (length(fingerprint) = 32),
    otp_hash            BLOB    NOT NULL CHECK (length(otp_hash) = 32),
    otp_issued_at_ms    INTEGER NOT NULL,
    otp_failed_attempts INTEGER NOT NULL CHECK (otp_failed_attempts BETWEEN 0 AND 255),
    state               TEXT    NOT NULL,
    due_at_ms           INTEGER,
    created_at_ms       INTEGER NOT NULL,
    updated_at_ms       INTEGER NOT NULL,
    revision            INTEGER NOT NULL
) STRICT;
CREATE INDEX bot_card_adds_by_user ON bot_card_adds (user_id, state, created_at_ms);
CREATE INDEX bot_card_adds_due ON bot_card_adds (due_at_ms) WHERE due_at_ms IS NOT NULL;

-- Requests made and received in the last hour (limits.requests_*).
CREATE INDEX bot_requests_by_requester ON bot_requests (requester, created_at_ms);
CREATE INDEX bot_requests_by_payer ON bot_requests (payer, created_at_ms);
