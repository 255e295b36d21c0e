-- Linked cards and card operations (component "bot", version 3).
--
-- A card is kept as the rail's token, its brand, last 4 digits, expiry and
-- a keyed fingerprint (HMAC of the number under the OTP pepper), never its
-- number. The fingerprint is unique per user: the same card is not linked
-- twice.
CREATE TABLE bot_cards (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES bot_users (id),
    token         TEXT    NOT NULL,
    brand         TEXT    NOT NULL,
    last4         TEXT    NOT NULL CHECK (length(last4) = 4),
    exp_year      BIGINT  NOT NULL,
    exp_month     BIGINT  NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    fingerprint   BYTEA   NOT NULL CHECK (octet_length(fingerprint) = 32),
    created_at_ms BIGINT  NOT NULL,
    UNIQUE (user_id, fingerprint)
);
CREATE INDEX bot_cards_by_user ON bot_cards (user_id, created_at_ms);

-- A top-up (pull) or cash-out (push): the durable record of the rail
-- request, written before the rail is called. It holds what a resend needs
-- to be the identical request (transfer id, token, amount, initiated_at_ms)
-- and where the operation stands (see `CardOpState`).
CREATE TABLE bot_card_ops (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference           TEXT    NOT NULL UNIQUE,
    transfer_id         UUID    NOT NULL UNIQUE,
    kind                TEXT    NOT NULL CHECK (kind IN ('topup', 'cashout')),
    user_id             BIGINT  NOT NULL REFERENCES bot_users (id),
    platform            TEXT    NOT NULL,
    platform_user_id    TEXT    NOT NULL,
    token               TEXT    NOT NULL,
    brand               TEXT    NOT NULL,
    last4               TEXT    NOT NULL CHECK (length(last4) = 4),
    amount              BIGINT  NOT NULL CHECK (amount > 0),
    fee                 BIGINT  NOT NULL CHECK (fee >= 0),
    currency            TEXT    NOT NULL,
    otp_hash            BYTEA   NOT NULL CHECK (octet_length(otp_hash) = 32),
    otp_issued_at_ms    BIGINT  NOT NULL,
    otp_failed_attempts BIGINT  NOT NULL CHECK (otp_failed_attempts BETWEEN 0 AND 255),
    state               TEXT    NOT NULL,
    initiated_at_ms     BIGINT,
    status_id           TEXT,
    action_code         TEXT,
    rail_attempts       BIGINT  NOT NULL CHECK (rail_attempts >= 0),
    due_at_ms           BIGINT,
    created_at_ms       BIGINT  NOT NULL,
    updated_at_ms       BIGINT  NOT NULL,
    revision            BIGINT  NOT NULL
);
CREATE INDEX bot_card_ops_by_user ON bot_card_ops (user_id, state, created_at_ms);
CREATE INDEX bot_card_ops_due ON bot_card_ops (due_at_ms) WHERE due_at_ms IS NOT NULL;
