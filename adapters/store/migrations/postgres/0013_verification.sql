-- Verification (component "bot", version 13): the verification provider's
-- callback events and each user's legal name as last verified.

-- One row per provider event id, claimed before anything changes and
-- finished with the answer given (`result`, JSON text); the same event
-- again gets `result`, another body (`body_sha256`) under its id is refused.
CREATE TABLE bot_verification_events (
    event_id         TEXT     PRIMARY KEY,
    provider         TEXT     NOT NULL,
    body_sha256      TEXT     NOT NULL,
    platform         TEXT     NOT NULL,
    platform_user_id TEXT     NOT NULL,
    tier             SMALLINT NOT NULL CHECK (tier BETWEEN 0 AND 9),
    legal_name       TEXT,
    reason           TEXT     NOT NULL,
    user_id          BIGINT   REFERENCES bot_users (id),
    claimed_at_ms    BIGINT   NOT NULL,
    result           TEXT,
    finished_at_ms   BIGINT
);

-- Each user's legal name as the last verification gave it (what sanctions
-- screening reads), with the provider and event that gave it.
CREATE TABLE bot_verifications (
    user_id        BIGINT PRIMARY KEY REFERENCES bot_users (id),
    legal_name     TEXT   NOT NULL,
    provider       TEXT   NOT NULL,
    event_id       TEXT   NOT NULL,
    verified_at_ms BIGINT NOT NULL
);
