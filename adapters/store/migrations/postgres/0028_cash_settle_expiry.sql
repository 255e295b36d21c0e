-- A cash settlement its payee did not answer in time (component "bot",
-- version 28): `decision` may also be 'expired', set once by the sweep
-- with the same check-and-set on "unanswered" as an answer or a cancel (it
-- never counts). The index finds the unanswered ones by age.
ALTER TABLE bot_tab_settlements DROP CONSTRAINT bot_tab_settlements_decision_check;
ALTER TABLE bot_tab_settlements ADD CONSTRAINT bot_tab_settlements_decision_check
    CHECK (decision IN ('confirmed', 'rejected', 'cancelled', 'expired'));
CREATE INDEX bot_tab_settlements_unanswered ON bot_tab_settlements (created_at_ms)
    WHERE kind = 'cash' AND decision IS NULL;

-- When each debtor was last asked privately to settle a group's tab (the
-- Settle button pressed by someone who owes nothing): one row per group
-- and debtor, moved forward only once the ask interval has passed since
-- it (one check-and-set), so a debtor is asked at most once per interval.
CREATE TABLE bot_settle_asks (
    platform    TEXT    NOT NULL,
    chat        TEXT    NOT NULL,
    debtor      BIGINT NOT NULL REFERENCES bot_users (id),
    asked_at_ms BIGINT NOT NULL,
    PRIMARY KEY (platform, chat, debtor)
);
