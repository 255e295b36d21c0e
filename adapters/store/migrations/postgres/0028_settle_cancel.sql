-- A cash settlement its payer withdrew before the payee answered (component
-- "bot", version 28): `decision` may also be 'cancelled' (set once, like
-- the payee's answer; it never counts).
ALTER TABLE bot_tab_settlements DROP CONSTRAINT bot_tab_settlements_decision_check;
ALTER TABLE bot_tab_settlements ADD CONSTRAINT bot_tab_settlements_decision_check
    CHECK (decision IN ('confirmed', 'rejected', 'cancelled'));
