-- The second factor (component "bot", version 11): each user's
-- authenticator secret (sealed: XChaCha20-Poly1305, the user id as
-- associated data), its recovery codes (keyed hashes, each used once) and
-- the wrong codes given (a rolling window per user).

CREATE TABLE bot_second_factors (
    user_id        INTEGER PRIMARY KEY REFERENCES bot_users (id),
    state          TEXT    NOT NULL CHECK (state IN ('pending', 'enabled')),
    nonce          BLOB    NOT NULL CHECK (length(nonce) = 24),
    sealed_secret  BLOB    NOT NULL CHECK (length(sealed_secret) = 36),
    created_at_ms  INTEGER NOT NULL,
    enabled_at_ms  INTEGER,
    last_used_step INTEGER
) STRICT;

CREATE TABLE bot_second_factor_recovery (
    user_id    INTEGER NOT NULL REFERENCES bot_users (id),
    code_hash  BLOB    NOT NULL CHECK (length(code_hash) = 32),
    used_at_ms INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

CREATE TABLE bot_second_factor_attempts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    at_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX bot_second_factor_attempts_user ON bot_second_factor_attempts (user_id, at_ms);
