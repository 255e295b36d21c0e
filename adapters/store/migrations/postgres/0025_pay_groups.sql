-- Payments to several payees at once (component "bot", version 25): one row
-- per leg, naming the payment (bot_payments.reference) and its group. Written
-- in the ledger unit that reserves the legs' money, never changed: what a
-- group is now is what its legs' payments are.
CREATE TABLE bot_pay_groups (
    leg_reference   TEXT    NOT NULL PRIMARY KEY,
    group_reference TEXT    NOT NULL,
    position        BIGINT  NOT NULL CHECK (position >= 0),
    payer           BIGINT  NOT NULL REFERENCES bot_users (id),
    created_at_ms   BIGINT  NOT NULL,
    UNIQUE (group_reference, position)
);
