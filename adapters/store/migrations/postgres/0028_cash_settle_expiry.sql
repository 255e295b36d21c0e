-- A cash settlement its payee did not answer in time (component "bot",
-- version 28): `decision` may also be 'expired', set once by the sweep
-- with the same check-and-set on "unanswered" as an answer or a cancel (it
-- never counts). The index finds the unanswered ones by age.
ALTER TABLE bot_tab_settlements DROP CONSTRAINT bot_tab_settlements_decision_check;
ALTER TABLE bot_tab_settlements ADD CONSTRAINT bot_tab_settlements_decision_check
    CHECK (decision IN ('confirmed', 'rejected', 'cancelled', 'expired'));
CREATE INDEX bot_tab_settlements_unanswered ON bot_tab_settlements (created_at_ms)
    WHERE kind = 'cash' AND decision IS NULL;
