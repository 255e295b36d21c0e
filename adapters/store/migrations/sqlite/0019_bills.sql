-- Bill pay (component "bot", version 19): billers registered by the
-- operator, the invoices they send through the API (each one a payment
-- request from the biller's user, `request_ref`), and the webhook events
-- waiting to be delivered to the biller (a durable queue: retried with
-- backoff until a 2xx, then 'delivered', or 'dead' after the last try).
CREATE TABLE bot_billers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    handle          TEXT    NOT NULL UNIQUE,
    user_id         BIGINT  NOT NULL REFERENCES bot_users (id),
    token_sha256    TEXT    NOT NULL UNIQUE,
    webhook_url     TEXT    NOT NULL,
    webhook_secret  TEXT    NOT NULL,
    created_at_ms   BIGINT  NOT NULL
);

CREATE TABLE bot_invoices (
    biller_id        BIGINT  NOT NULL REFERENCES bot_billers (id),
    reference        TEXT    NOT NULL,
    request_ref      TEXT    NOT NULL UNIQUE,
    platform         TEXT    NOT NULL,
    platform_user_id TEXT    NOT NULL,
    amount           BIGINT  NOT NULL CHECK (amount > 0),
    currency         TEXT    NOT NULL,
    due_at_ms        BIGINT  NOT NULL,
    description      TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    created_at_ms    BIGINT  NOT NULL,
    updated_at_ms    BIGINT  NOT NULL,
    PRIMARY KEY (biller_id, reference)
);
CREATE INDEX bot_invoices_open ON bot_invoices (state, due_at_ms) WHERE state = 'open';

CREATE TABLE bot_webhook_events (
    event_id       TEXT    NOT NULL PRIMARY KEY,
    biller_id      BIGINT  NOT NULL REFERENCES bot_billers (id),
    kind           TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    attempts       BIGINT  NOT NULL,
    next_at_ms     BIGINT  NOT NULL,
    created_at_ms  BIGINT  NOT NULL
);
CREATE INDEX bot_webhook_events_due ON bot_webhook_events (state, next_at_ms) WHERE state = 'pending';
