-- Whether a payer has paid a payee before (component "bot", version 30):
-- `Store::has_paid_before` and `Store::payee_facts` ask it at each `/pay`.
-- Without this index it was answered through the payee's payments
-- (`bot_payments_by_payee_user`) or the payer's, reading one or the other's
-- whole history on every payment: one index lookup now, for one more
-- index entry a row version. Built once, under a write lock on
-- `bot_payments` for as long as that takes.
CREATE INDEX bot_payments_by_payer_payee ON bot_payments (payer, payee_user, state);
