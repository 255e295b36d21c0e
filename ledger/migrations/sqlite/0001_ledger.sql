-- The ledger on SQLite. STRICT tables: a total that overflowed into a REAL
-- could never be stored. Money is INTEGER minor units.
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    owner           TEXT    NOT NULL,
    kind            INTEGER NOT NULL,
    currency        TEXT    NOT NULL,
    flags           INTEGER NOT NULL,
    debits_posted   INTEGER NOT NULL DEFAULT 0,
    credits_posted  INTEGER NOT NULL DEFAULT 0,
    debits_pending  INTEGER NOT NULL DEFAULT 0,
    credits_pending INTEGER NOT NULL DEFAULT 0,
    created_at_ms   INTEGER NOT NULL,
    UNIQUE (owner, kind, currency),
    CHECK (debits_posted >= 0 AND credits_posted >= 0
           AND debits_pending >= 0 AND credits_pending >= 0),
    -- Defence in depth: the engine refuses overdrafts before this is reached.
    CHECK ((flags & 1) = 0 OR debits_posted + debits_pending <= credits_posted)
) STRICT;

CREATE TABLE transfers (
    seq               INTEGER PRIMARY KEY,
    id                BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
    kind              INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 4),
    debit_account_id  INTEGER NOT NULL REFERENCES accounts (id),
    credit_account_id INTEGER NOT NULL REFERENCES accounts (id),
    amount            INTEGER NOT NULL CHECK (amount > 0),
    currency          TEXT    NOT NULL,
    -- UNIQUE: a pending transfer is resolved (posted, voided, expired) at most once.
    pending_id        BLOB    UNIQUE REFERENCES transfers (id),
    timeout_secs      INTEGER NOT NULL,
    code              INTEGER NOT NULL,
    timestamp_ms      INTEGER NOT NULL,
    CHECK (debit_account_id <> credit_account_id),
    CHECK ((kind >= 2) = (pending_id IS NOT NULL))
) STRICT;

CREATE INDEX transfers_by_debit ON transfers (debit_account_id, seq);
CREATE INDEX transfers_by_credit ON transfers (credit_account_id, seq);

CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
BEGIN
    SELECT RAISE(ABORT, 'transfers are immutable: correct with a new transfer');
END;
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
BEGIN
    SELECT RAISE(ABORT, 'transfers are immutable: correct with a new transfer');
END;

-- Open pending transfers by deadline, so the sweeper finds due ones without
-- scanning history. A row leaves when its transfer is resolved.
CREATE TABLE pending_expiries (
    transfer_id   BLOB    PRIMARY KEY REFERENCES transfers (id),
    expires_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX pending_expiries_due ON pending_expiries (expires_at_ms);
