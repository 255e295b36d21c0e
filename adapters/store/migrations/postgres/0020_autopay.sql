-- Autopay (component "bot", version 20): `/autopay @biller up to 80`,
-- confirmed once with a code; then each invoice of that biller gets a run,
-- paid on its due date within the monthly cap. A run is paid in one ledger
-- transaction with compare-and-swaps on the run, its autopay (`revision`,
-- so two runs never count against the cap at once) and the request.
CREATE TABLE bot_autopays (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference           TEXT    NOT NULL UNIQUE,
    autopay_id          TEXT    NOT NULL UNIQUE,
    payer               BIGINT  NOT NULL REFERENCES bot_users (id),
    payer_platform      TEXT    NOT NULL,
    payer_id            TEXT    NOT NULL,
    payee               BIGINT  NOT NULL REFERENCES bot_users (id),
    payee_platform      TEXT    NOT NULL,
    payee_id            TEXT    NOT NULL,
    payee_label         TEXT    NOT NULL,
    cap                 BIGINT  NOT NULL CHECK (cap > 0),
    currency            TEXT    NOT NULL,
    otp_hash            BYTEA   NOT NULL CHECK (octet_length(otp_hash) = 32),
    otp_issued_at_ms    BIGINT  NOT NULL,
    otp_failed_attempts BIGINT  NOT NULL CHECK (otp_failed_attempts BETWEEN 0 AND 255),
    review              TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    created_at_ms       BIGINT  NOT NULL,
    updated_at_ms       BIGINT  NOT NULL,
    -- The recurring request (a standing order of kind 'request') whose
    -- requests it pays; NULL: the payee's (a biller's) invoices.
    series              TEXT,
    revision            BIGINT  NOT NULL
);
CREATE INDEX bot_autopays_by_payer ON bot_autopays (payer, payee, state, created_at_ms);

CREATE TABLE bot_autopay_runs (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_ref    TEXT    NOT NULL UNIQUE,
    autopay_ref    TEXT    NOT NULL REFERENCES bot_autopays (reference),
    payer          BIGINT  NOT NULL REFERENCES bot_users (id),
    amount         BIGINT  NOT NULL CHECK (amount > 0),
    currency       TEXT    NOT NULL,
    due_at_ms      BIGINT  NOT NULL,
    pay_at_ms      BIGINT  NOT NULL,
    state          TEXT    NOT NULL,
    told           BIGINT  NOT NULL CHECK (told IN (0, 1)),
    attempts       BIGINT  NOT NULL CHECK (attempts >= 0),
    month          TEXT,
    next_at_ms     BIGINT,
    created_at_ms  BIGINT  NOT NULL,
    updated_at_ms  BIGINT  NOT NULL,
    revision       BIGINT  NOT NULL
);
CREATE INDEX bot_autopay_runs_due ON bot_autopay_runs (next_at_ms)
    WHERE next_at_ms IS NOT NULL;
CREATE INDEX bot_autopay_runs_month ON bot_autopay_runs (payer, month)
    WHERE state = 'paid';

-- Recurring requests (`/request @bob 10 every month`) are standing orders
-- whose periods each make a payment request instead of a payment.
ALTER TABLE bot_standing_orders ADD COLUMN kind TEXT NOT NULL DEFAULT 'pay';
