-- The group tab (component "bot", version 23): who has used paybot in each
-- group, and each group's expenses (`/expense`), one line per person with
-- what they paid and what they owe, in minor units. No money moves: the
-- ledger is not involved. An expense is inserted once (its `expense_id`
-- derives from the chat event) and afterwards only marked undone.
CREATE TABLE bot_group_members (
    platform      TEXT    NOT NULL,
    chat          TEXT    NOT NULL,
    platform_id   TEXT    NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (platform, chat, platform_id)
);

CREATE TABLE bot_tab_expenses (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    reference     TEXT    NOT NULL UNIQUE,
    expense_id    TEXT    NOT NULL UNIQUE,
    platform      TEXT    NOT NULL,
    chat          TEXT    NOT NULL,
    author        INTEGER NOT NULL REFERENCES bot_users (id),
    author_label  TEXT    NOT NULL,
    currency      TEXT    NOT NULL,
    total         INTEGER NOT NULL CHECK (total > 0),
    memo          TEXT,
    created_at_ms INTEGER NOT NULL,
    undone_at_ms  INTEGER
);
CREATE INDEX bot_tab_expenses_by_chat ON bot_tab_expenses (platform, chat, seq);

CREATE TABLE bot_tab_lines (
    expense_seq INTEGER NOT NULL REFERENCES bot_tab_expenses (seq),
    position    INTEGER NOT NULL CHECK (position >= 0),
    user_id     INTEGER NOT NULL REFERENCES bot_users (id),
    label       TEXT    NOT NULL,
    paid        INTEGER NOT NULL CHECK (paid >= 0),
    owed        INTEGER NOT NULL CHECK (owed >= 0),
    PRIMARY KEY (expense_seq, position)
);
