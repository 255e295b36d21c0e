-- Nothing on PostgreSQL (component "ledger", version 4).
--
-- On SQLite this version moves an account's history from two indexes of
-- `transfers` to entries written in bulk beside the commits (see
-- `sqlite/0004_account_entries.sql`). PostgreSQL keeps `transfers_by_debit`
-- and `transfers_by_credit`: by our reading its WAL logs an index insert as
-- a small record (a whole page only at its first change after a
-- checkpoint), and a build without them made its chat no faster (README,
-- Benchmarks, or bench/HISTORY.md once that round is past: 46dc786).
SELECT 1;
