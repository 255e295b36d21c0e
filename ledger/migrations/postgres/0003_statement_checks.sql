-- Referential checks once per statement (component "ledger", version 3).
--
-- A transfer's two accounts and the pending transfer it resolves, and the
-- transfer of a deadline, were foreign keys. PostgreSQL checks a foreign
-- key with a query of its own for each row: two or three for every
-- transfer (a NULL `pending_id` is not looked up), one for every
-- deadline, all inside a batch's one write statement while
-- the batch holds its accounts' locks. A statement-level trigger checks
-- every row a statement inserted with one query instead. Nothing that a
-- check finds can go away later: transfers are never updated or deleted
-- (`transfers_immutable`), and accounts are never deleted or renumbered
-- (below), so these checks need no lock on the rows they find, which a
-- foreign key takes to stop a concurrent delete.
--
-- Each check is one index probe per inserted row, whatever the tables'
-- statistics say when its plan is made and kept: a `LATERAL` subquery with
-- a `LIMIT` is run once per row (an `EXISTS` could be turned into a hash of
-- the whole table, planned while `transfers` was small and kept), and the
-- functions turn sequential scans off for themselves.
ALTER TABLE transfers
    DROP CONSTRAINT transfers_debit_account_id_fkey,
    DROP CONSTRAINT transfers_credit_account_id_fkey,
    DROP CONSTRAINT transfers_pending_id_fkey;
ALTER TABLE pending_expiries DROP CONSTRAINT pending_expiries_transfer_id_fkey;

CREATE FUNCTION transfers_name_known_rows() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM inserted AS n
        LEFT JOIN LATERAL (SELECT a.id FROM accounts AS a
                           WHERE a.id = n.debit_account_id LIMIT 1) AS d ON true
        LEFT JOIN LATERAL (SELECT a.id FROM accounts AS a
                           WHERE a.id = n.credit_account_id LIMIT 1) AS c ON true
        LEFT JOIN LATERAL (SELECT p.id FROM transfers AS p
                           WHERE p.id = n.pending_id LIMIT 1) AS p ON true
        WHERE d.id IS NULL OR c.id IS NULL OR (n.pending_id IS NOT NULL AND p.id IS NULL)
    ) THEN
        RAISE EXCEPTION 'foreign key: a transfer names an account or a pending transfer that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER transfers_name_known_rows AFTER INSERT ON transfers
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION transfers_name_known_rows();

CREATE FUNCTION expiries_name_known_transfers() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM inserted AS n
        LEFT JOIN LATERAL (SELECT t.id FROM transfers AS t
                           WHERE t.id = n.transfer_id LIMIT 1) AS t ON true
        WHERE t.id IS NULL
    ) THEN
        RAISE EXCEPTION 'foreign key: a deadline names a transfer that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER expiries_name_known_transfers AFTER INSERT ON pending_expiries
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION expiries_name_known_transfers();

CREATE FUNCTION accounts_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accounts are permanent: transfers name them by id';
END;
$$;
CREATE TRIGGER accounts_never_deleted BEFORE DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_permanent();
CREATE TRIGGER accounts_never_renumbered BEFORE UPDATE OF id ON accounts
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION accounts_permanent();
CREATE TRIGGER accounts_never_truncated BEFORE TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_permanent();
