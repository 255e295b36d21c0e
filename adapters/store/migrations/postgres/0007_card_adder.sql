-- Who linked each card (component "bot", version 7): the identity that
-- confirmed its /card add. On /unlink the cards an identity linked move
-- with it to its new wallet, so the accounts that stay cannot charge them.
-- Cards linked before this version have NULL here (adder unknown) and stay
-- with the wallet.
ALTER TABLE bot_cards ADD COLUMN added_by_platform TEXT;
ALTER TABLE bot_cards ADD COLUMN added_by_id TEXT;
CREATE INDEX bot_cards_by_adder ON bot_cards (added_by_platform, added_by_id);
