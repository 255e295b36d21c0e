-- Trust (component "bot", version 8): the audit log and verification tiers.

-- Every trust decision, appended; never updated or deleted (the triggers
-- refuse it, as the ledger's do for transfers). `details` is a JSON object.
CREATE TABLE bot_audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    user_id INTEGER,
    kind    TEXT    NOT NULL,
    subject TEXT,
    details TEXT    NOT NULL
) STRICT;
CREATE INDEX bot_audit_log_user ON bot_audit_log (user_id, id);
CREATE INDEX bot_audit_log_at ON bot_audit_log (at_ms);
CREATE INDEX bot_audit_log_subject ON bot_audit_log (subject, id);
CREATE TRIGGER bot_audit_log_no_update BEFORE UPDATE ON bot_audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER bot_audit_log_no_delete BEFORE DELETE ON bot_audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Each user's verification tier as last set (its history is in the log).
CREATE TABLE bot_user_tiers (
    user_id   INTEGER PRIMARY KEY REFERENCES bot_users (id),
    tier      INTEGER NOT NULL CHECK (tier BETWEEN 0 AND 9),
    reason    TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    set_at_ms INTEGER NOT NULL
) STRICT;
