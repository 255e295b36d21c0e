-- What the policy point asked of a payment beyond its code (component "bot",
-- version 14): '' nothing, 'second_factor', or 'hold:REASON' (held for an
-- operator's review after the code; state 'held' while it waits).
ALTER TABLE bot_payments ADD COLUMN review TEXT NOT NULL DEFAULT '';
CREATE INDEX bot_payments_held ON bot_payments (state, updated_at_ms) WHERE state = 'held';

-- The same for card operations: a cash-out held for review is reserved and
-- waits in state 'held' before it goes to the rail.
ALTER TABLE bot_card_ops ADD COLUMN review TEXT NOT NULL DEFAULT '';
CREATE INDEX bot_card_ops_held ON bot_card_ops (state, updated_at_ms) WHERE state = 'held';

-- And for card adds: a card link held for review (a sanctions match) waits
-- in state 'held' after its code, and is linked only if approved.
ALTER TABLE bot_card_adds ADD COLUMN review TEXT NOT NULL DEFAULT '';
CREATE INDEX bot_card_adds_held ON bot_card_adds (state, updated_at_ms) WHERE state = 'held';
