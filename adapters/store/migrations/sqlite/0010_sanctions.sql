-- Sanctions (component "bot", version 10): the SDN list, replaced whole by
-- `paybot sanctions load` in one transaction.

-- One row per load; the stored list is the newest. Its id grows with
-- every load, so a cached index knows when it is stale.
CREATE TABLE bot_sanctions_lists (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    published    TEXT    NOT NULL,
    entries      INTEGER NOT NULL CHECK (entries > 0),
    aliases      INTEGER NOT NULL CHECK (aliases >= 0),
    loaded_at_ms INTEGER NOT NULL
) STRICT;

-- The listings of sdn.csv (the columns screening needs).
CREATE TABLE bot_sanctions_entries (
    ent_num  INTEGER PRIMARY KEY CHECK (ent_num > 0),
    name     TEXT NOT NULL,
    sdn_type TEXT,
    program  TEXT
) STRICT;

-- The aliases of alt.csv, each of a listing above.
CREATE TABLE bot_sanctions_aliases (
    alt_num  INTEGER PRIMARY KEY CHECK (alt_num > 0),
    ent_num  INTEGER NOT NULL REFERENCES bot_sanctions_entries (ent_num),
    alt_type TEXT,
    name     TEXT NOT NULL
) STRICT;
CREATE INDEX bot_sanctions_aliases_ent ON bot_sanctions_aliases (ent_num);
