-- Standing orders (component "bot", version 18): `/pay @bob 20 every month`,
-- confirmed once with a code, then run by the scheduler. `next_period` is
-- the period (k) the order has to run next; each run's ledger transfer id
-- derives from (order_id, k) and the order moves to k + 1 by
-- compare-and-swap on `revision` in the same transaction as that transfer.
CREATE TABLE bot_standing_orders (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference           TEXT    NOT NULL UNIQUE,
    order_id            TEXT    NOT NULL UNIQUE,
    payer               BIGINT  NOT NULL REFERENCES bot_users (id),
    payer_platform      TEXT    NOT NULL,
    payer_id            TEXT    NOT NULL,
    payee               BIGINT  NOT NULL REFERENCES bot_users (id),
    payee_platform      TEXT    NOT NULL,
    payee_id            TEXT    NOT NULL,
    payee_label         TEXT    NOT NULL,
    amount              BIGINT  NOT NULL CHECK (amount > 0),
    currency            TEXT    NOT NULL,
    memo                TEXT,
    rule                TEXT    NOT NULL,
    first_date          TEXT    NOT NULL,
    run_minute          BIGINT  NOT NULL CHECK (run_minute BETWEEN 0 AND 1439),
    time_zone           TEXT    NOT NULL,
    next_period         BIGINT  NOT NULL CHECK (next_period >= 0),
    attempts            BIGINT  NOT NULL CHECK (attempts >= 0),
    otp_hash            BYTEA   NOT NULL CHECK (octet_length(otp_hash) = 32),
    otp_issued_at_ms    BIGINT  NOT NULL,
    otp_failed_attempts BIGINT  NOT NULL CHECK (otp_failed_attempts BETWEEN 0 AND 255),
    review              TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    due_at_ms           BIGINT,
    created_at_ms       BIGINT  NOT NULL,
    updated_at_ms       BIGINT  NOT NULL,
    revision            BIGINT  NOT NULL,
    -- The last period the payer was told about ahead of its run.
    told_period         BIGINT
);
CREATE INDEX bot_standing_orders_by_payer ON bot_standing_orders (payer, state, created_at_ms);
CREATE INDEX bot_standing_orders_due ON bot_standing_orders (due_at_ms)
    WHERE due_at_ms IS NOT NULL;

-- Each user's time zone (`/tz`), an IANA name.
CREATE TABLE bot_user_time_zones (
    user_id       BIGINT  PRIMARY KEY REFERENCES bot_users (id),
    time_zone     TEXT    NOT NULL,
    updated_at_ms BIGINT  NOT NULL
);
