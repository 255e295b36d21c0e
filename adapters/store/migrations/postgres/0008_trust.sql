-- Trust (component "bot", version 8): the audit log and verification tiers.

-- Every trust decision, appended; never updated or deleted (the trigger
-- refuses it, as the ledger's does for transfers). `details` is a JSON
-- object, kept as text exactly as written.
CREATE TABLE bot_audit_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms   BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    user_id BIGINT,
    kind    TEXT   NOT NULL,
    subject TEXT,
    details TEXT   NOT NULL
);
CREATE INDEX bot_audit_log_user ON bot_audit_log (user_id, id);
CREATE INDEX bot_audit_log_at ON bot_audit_log (at_ms);
CREATE INDEX bot_audit_log_subject ON bot_audit_log (subject, id);
CREATE FUNCTION bot_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER bot_audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON bot_audit_log
    FOR EACH ROW EXECUTE FUNCTION bot_audit_log_append_only();
CREATE TRIGGER bot_audit_log_no_truncate BEFORE TRUNCATE ON bot_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION bot_audit_log_append_only();

-- Each user's verification tier as last set (its history is in the log).
CREATE TABLE bot_user_tiers (
    user_id   BIGINT   PRIMARY KEY REFERENCES bot_users (id),
    tier      SMALLINT NOT NULL CHECK (tier BETWEEN 0 AND 9),
    reason    TEXT     NOT NULL,
    actor     TEXT     NOT NULL,
    set_at_ms BIGINT   NOT NULL
);
