-- The group tab's settlements (component "bot", version 24): `/settle`
-- through paybot (a payment: `payment_transfer` names its pending transfer,
-- and the settlement counts when that payment is completed, which commits
-- with its money) or `/settle ... cash` (outside paybot: counts once the
-- payee confirms, `decision`). Inserted once (`settlement_id` derives from
-- the chat event); afterwards only a cash one's `decision` is set, once: the
-- payee's answer, or 'cancelled' when its payer withdrew it unanswered.
CREATE TABLE bot_tab_settlements (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    reference         TEXT    NOT NULL UNIQUE,
    settlement_id     TEXT    NOT NULL UNIQUE,
    platform          TEXT    NOT NULL,
    chat              TEXT    NOT NULL,
    payer             INTEGER NOT NULL REFERENCES bot_users (id),
    payer_label       TEXT    NOT NULL,
    payer_platform_id TEXT    NOT NULL,
    payee             INTEGER NOT NULL REFERENCES bot_users (id),
    payee_label       TEXT    NOT NULL,
    payee_platform_id TEXT    NOT NULL,
    currency          TEXT    NOT NULL,
    amount            INTEGER NOT NULL CHECK (amount > 0),
    kind              TEXT    NOT NULL CHECK (kind IN ('paid', 'cash')),
    payment_transfer  BLOB    UNIQUE CHECK (length(payment_transfer) = 16),
    decision          TEXT    CHECK (decision IN ('confirmed', 'rejected', 'cancelled')),
    created_at_ms     INTEGER NOT NULL,
    decided_at_ms     INTEGER,
    CHECK ((kind = 'paid') = (payment_transfer IS NOT NULL)),
    CHECK (kind = 'cash' OR decision IS NULL)
);
CREATE INDEX bot_tab_settlements_by_chat ON bot_tab_settlements (platform, chat, seq);
