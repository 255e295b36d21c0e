-- The ledger on PostgreSQL. Money is BIGINT minor units.
CREATE TABLE accounts (
    id              BIGSERIAL PRIMARY KEY,
    owner           TEXT     NOT NULL,
    kind            SMALLINT NOT NULL,
    currency        TEXT     NOT NULL,
    flags           INTEGER  NOT NULL,
    debits_posted   BIGINT   NOT NULL DEFAULT 0,
    credits_posted  BIGINT   NOT NULL DEFAULT 0,
    debits_pending  BIGINT   NOT NULL DEFAULT 0,
    credits_pending BIGINT   NOT NULL DEFAULT 0,
    created_at_ms   BIGINT   NOT NULL,
    UNIQUE (owner, kind, currency),
    CHECK (debits_posted >= 0 AND credits_posted >= 0
           AND debits_pending >= 0 AND credits_pending >= 0),
    -- Defence in depth: the engine refuses overdrafts before this is reached.
    CHECK ((flags & 1) = 0 OR debits_posted + debits_pending <= credits_posted)
);

CREATE TABLE transfers (
    seq               BIGSERIAL PRIMARY KEY,
    id                UUID     NOT NULL UNIQUE,
    kind              SMALLINT NOT NULL CHECK (kind BETWEEN 0 AND 4),
    debit_account_id  BIGINT   NOT NULL REFERENCES accounts (id),
    credit_account_id BIGINT   NOT NULL REFERENCES accounts (id),
    amount            BIGINT   NOT NULL CHECK (amount > 0),
    currency          TEXT     NOT NULL,
    -- UNIQUE: a pending transfer is resolved (posted, voided, expired) at most once.
    pending_id        UUID     UNIQUE REFERENCES transfers (id),
    timeout_secs      BIGINT   NOT NULL,
    code              INTEGER  NOT NULL,
    timestamp_ms      BIGINT   NOT NULL,
    CHECK (debit_account_id <> credit_account_id),
    CHECK ((kind >= 2) = (pending_id IS NOT NULL))
);

CREATE INDEX transfers_by_debit ON transfers (debit_account_id, seq);
CREATE INDEX transfers_by_credit ON transfers (credit_account_id, seq);

CREATE FUNCTION transfers_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'transfers are immutable: correct with a new transfer';
END;
$$;
CREATE TRIGGER transfers_no_update_or_delete BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION transfers_immutable();

-- Open pending transfers by deadline, so the sweeper finds due ones without
-- scanning history. A row leaves when its transfer is resolved.
CREATE TABLE pending_expiries (
    transfer_id   UUID   PRIMARY KEY REFERENCES transfers (id),
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX pending_expiries_due ON pending_expiries (expires_at_ms);
