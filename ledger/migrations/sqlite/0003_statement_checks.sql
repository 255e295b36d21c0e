-- Accounts are permanent (component "ledger", version 3): transfers name
-- them by id. SQLite keeps the foreign keys of the transfers and deadlines
-- (checked in process, row by row); PostgreSQL checks them
-- once per statement instead (see its version 3), and both refuse to
-- delete or renumber any account, so the two backends behave alike.
CREATE TRIGGER accounts_never_deleted BEFORE DELETE ON accounts
BEGIN
    SELECT RAISE(ABORT, 'accounts are permanent: transfers name them by id');
END;
CREATE TRIGGER accounts_never_renumbered BEFORE UPDATE OF id ON accounts
    WHEN OLD.id IS NOT NEW.id
BEGIN
    SELECT RAISE(ABORT, 'accounts are permanent: transfers name them by id');
END;
