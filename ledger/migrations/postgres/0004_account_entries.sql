-- Nothing on PostgreSQL (component "ledger", version 4).
--
-- On SQLite this version moves an account's history from two indexes of
-- `transfers` to entries written in bulk beside the commits (see
-- `sqlite/0004_account_entries.sql`). PostgreSQL keeps `transfers_by_debit`
-- and `transfers_by_credit`: its commits write index pages to its own WAL
-- once per checkpoint, and its ledger is not limited by them.
SELECT 1;
