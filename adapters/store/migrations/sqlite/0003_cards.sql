-- Linked cards and card operations (component "bot", version 3).
--
-- A card is kept as the rail's token, its brand, last 4 digits, expiry and
-- a keyed fingerprint (HMAC of the number under the OTP pepper), never its
-- number. The fingerprint is unique per user: the same card is not linked
-- twice.
CREATE TABLE bot_cards (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES bot_users (id),
    token         TEXT    NOT NULL,
    brand         TEXT    NOT NULL,
    last4         TEXT    NOT NULL CHECK (length(last4) = 4),
    exp_year      INTEGER NOT NULL,
    exp_month     INTEGER NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    fingerprint   BLOB    NOT NULL CHECK (length(fingerprint) = 32),
    created_at_ms INTEGER NOT NULL,
    UNIQUE (user_id, fingerprint)
) STRICT;
CREATE INDEX bot_cards_by_user ON bot_cards (user_id, created_at_ms);

-- A top-up (pull) or cash-out (push): the durable record of the rail
-- request, written before the rail is called. It holds what a resend needs
-- to be the identical request (transfer id, token, amount, initiated_at_ms)
-- and where the operation stands (see `CardOpState`).
CREATE TABLE bot_card_ops (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    reference           TEXT    NOT NULL UNIQUE,
    transfer_id         BLOB    NOT NULL UNIQUE CHECK (length(transfer_id) = 16),
    kind                TEXT    NOT NULL CHECK (kind IN ('topup', 'cashout')),
    user_id             INTEGER NOT NULL REFERENCES bot_users (id),
    platform            TEXT    NOT NULL,
    platform_user_id    TEXT    NOT NULL,
    token               TEXT    NOT NULL,
    brand               TEXT    NOT NULL,
    last4               TEXT    NOT NULL CHECK (length(last4) = 4),
    amount              INTEGER NOT NULL CHECK (amount > 0),
    fee                 INTEGER NOT NULL CHECK (fee >= 0),
    currency            TEXT    NOT NULL,
    otp_hash            BLOB    NOT NULL CHECK (length(otp_hash) = 32),
    otp_issued_at_ms    INTEGER NOT NULL,
    otp_failed_attempts INTEGER NOT NULL CHECK (otp_failed_attempts BETWEEN 0 AND 255),
    state               TEXT    NOT NULL,
    initiated_at_ms     INTEGER,
    status_id           TEXT,
    action_code         TEXT,
    rail_attempts       INTEGER NOT NULL CHECK (rail_attempts >= 0),
    due_at_ms           INTEGER,
    created_at_ms       INTEGER NOT NULL,
    updated_at_ms       INTEGER NOT NULL,
    revision            INTEGER NOT NULL
) STRICT;
CREATE INDEX bot_card_ops_by_user ON bot_card_ops (user_id, state, created_at_ms);
CREATE INDEX bot_card_ops_due ON bot_card_ops (due_at_ms) WHERE due_at_ms IS NOT NULL;
