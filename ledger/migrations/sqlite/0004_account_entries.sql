-- Each transfer's two accounts, for an account's history, written in bulk
-- beside the commits instead of in them (component "ledger", version 4).
--
-- The indexes `transfers_by_debit` and `transfers_by_credit` put two
-- entries of every transfer on random pages: with them the SQLite ledger
-- benchmark wrote 10.4 KB a transfer, 2.0 KB with the entries below, and
-- a build without either was 1.55 times as fast (README, Benchmarks, or
-- bench/HISTORY.md once that round is past: 46dc786). `account_entries` holds the same
-- entries, made by the ledger's writer in one step for every few thousand
-- transfers (in their own transaction, between two batches), so each
-- index page is rewritten once a step rather than once a commit.
--
-- `account_entries_mark.seq` is the last transfer the entries cover: an
-- account's history reads its entries up to the mark and the transfers
-- past it (`seq > mark`, a range of the table's own key, at most a step
-- and a batch long unless a step failed). Transfers are never updated or
-- deleted and `seq` only grows, so entries once written stay right. A step
-- writes its entries and moves the mark in one transaction.
CREATE TABLE account_entries (
    account_id INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (account_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE account_entries_mark (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    seq      INTEGER NOT NULL
) STRICT;

INSERT INTO account_entries (account_id, seq)
    SELECT account_id, seq FROM (
        SELECT debit_account_id AS account_id, seq FROM transfers
        UNION ALL
        SELECT credit_account_id, seq FROM transfers
    ) ORDER BY account_id, seq;
INSERT INTO account_entries_mark (only_row, seq)
    VALUES (1, COALESCE((SELECT MAX(seq) FROM transfers), 0));

DROP INDEX transfers_by_debit;
DROP INDEX transfers_by_credit;
