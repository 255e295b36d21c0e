-- Recurring group expenses (component "bot", version 29): `/expense 1200
-- split @a @b every month for rent`. Each period the scheduler adds the
-- same expense (these lines) to the group's tab, under an expense id
-- derived from (recurring_id, period), then moves `next_period` on by
-- compare-and-swap; so a period is added once. No money moves.
-- `due_at_ms` is NULL once it has ended (stopped by its author, or no
-- period left).
CREATE TABLE bot_tab_recurring (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    reference     TEXT    NOT NULL UNIQUE,
    recurring_id  TEXT    NOT NULL UNIQUE,
    platform      TEXT    NOT NULL,
    chat          TEXT    NOT NULL,
    author        INTEGER NOT NULL REFERENCES bot_users (id),
    author_label  TEXT    NOT NULL,
    currency      TEXT    NOT NULL,
    total         INTEGER NOT NULL CHECK (total > 0),
    memo          TEXT,
    rule          TEXT    NOT NULL,
    first_date    TEXT    NOT NULL,
    run_minute    INTEGER NOT NULL,
    time_zone     TEXT    NOT NULL,
    next_period   INTEGER NOT NULL CHECK (next_period >= 0),
    due_at_ms     INTEGER,
    created_at_ms INTEGER NOT NULL,
    stopped_at_ms INTEGER
);
CREATE INDEX bot_tab_recurring_by_chat ON bot_tab_recurring (platform, chat, seq);
CREATE INDEX bot_tab_recurring_due ON bot_tab_recurring (due_at_ms);

CREATE TABLE bot_tab_recurring_lines (
    recurring_seq INTEGER NOT NULL REFERENCES bot_tab_recurring (seq),
    position      INTEGER NOT NULL CHECK (position >= 0),
    user_id       INTEGER NOT NULL REFERENCES bot_users (id),
    label         TEXT    NOT NULL,
    paid          INTEGER NOT NULL CHECK (paid >= 0),
    owed          INTEGER NOT NULL CHECK (owed >= 0),
    PRIMARY KEY (recurring_seq, position)
);
