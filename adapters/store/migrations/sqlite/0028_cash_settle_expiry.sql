-- A cash settlement its payee did not answer in time (component "bot",
-- version 28): `decision` may also be 'expired', set once by the sweep
-- with the same check-and-set on "unanswered" as an answer or a cancel (it
-- never counts). SQLite cannot alter a CHECK: the table is rebuilt with the
-- same columns, rows and index. The new index finds the unanswered ones by
-- age.
CREATE TABLE bot_tab_settlements_new (
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
    decision          TEXT    CHECK (decision IN ('confirmed', 'rejected', 'cancelled', 'expired')),
    created_at_ms     INTEGER NOT NULL,
    decided_at_ms     INTEGER,
    CHECK ((kind = 'paid') = (payment_transfer IS NOT NULL)),
    CHECK (kind = 'cash' OR decision IS NULL)
);
INSERT INTO bot_tab_settlements_new (seq, reference, settlement_id, platform, chat, payer,
    payer_label, payer_platform_id, payee, payee_label, payee_platform_id, currency, amount,
    kind, payment_transfer, decision, created_at_ms, decided_at_ms)
SELECT seq, reference, settlement_id, platform, chat, payer, payer_label, payer_platform_id,
    payee, payee_label, payee_platform_id, currency, amount, kind, payment_transfer, decision,
    created_at_ms, decided_at_ms
FROM bot_tab_settlements;
DROP TABLE bot_tab_settlements;
ALTER TABLE bot_tab_settlements_new RENAME TO bot_tab_settlements;
CREATE INDEX bot_tab_settlements_by_chat ON bot_tab_settlements (platform, chat, seq);
CREATE INDEX bot_tab_settlements_unanswered ON bot_tab_settlements (created_at_ms)
    WHERE kind = 'cash' AND decision IS NULL;

-- When each debtor was last asked privately to settle a group's tab (the
-- Settle button pressed by someone who owes nothing): one row per group
-- and debtor, moved forward only once the ask interval has passed since
-- it (one check-and-set), so a debtor is asked at most once per interval.
CREATE TABLE bot_settle_asks (
    platform    TEXT    NOT NULL,
    chat        TEXT    NOT NULL,
    debtor      INTEGER  NOT NULL REFERENCES bot_users (id),
    asked_at_ms INTEGER  NOT NULL,
    PRIMARY KEY (platform, chat, debtor)
);
