//! `paybot-store`: the bot's [`Store`] port on SQL, SQLite and PostgreSQL,
//! in the ledger's own database (its tables come in as the ledger
//! migrator's component "bot": [`BOT_MIGRATIONS`], SQL under `migrations/`).
//!
//! The one design decision to know: as in the ledger's storage engine, the
//! statements are written once, in a macro instantiated per driver (`$1`
//! placeholders, `ON CONFLICT`, `RETURNING` and `DELETE ... RETURNING` mean
//! the same on both), so a fix lands on both backends; and what every record
//! family shares (select by reference, "insert, keep the first, read back")
//! is written once, generic over a `Record` trait that names a family's
//! table, columns, binder and row reader. Every method is one statement or
//! one transaction, and every race is settled by the database, never by a
//! read followed by a write: an event claim is one upsert whose `WHERE` only
//! an expired, unfinished claim passes; a link code is taken by one `DELETE
//! ... RETURNING`; an update is compare-and-swap on `revision` in its `WHERE`.
//!
//! A row that does not decode (an unknown currency, state, platform or a bad
//! handle) is [`StoreError::corrupt`], naming the table and column.
//!
//! # Its connection
//!
//! The store opens a pool of its own ([`SqlStore::new`]) from the ledger's
//! url and options ([`ledger::Ledger::config`]: WAL and the configured
//! `synchronous` on SQLite, foreign keys, the same timeouts and pool size).
//! It does not borrow the ledger's pool because the ledger's public API
//! carries no driver type, so it hands out none; and nothing here needs the
//! ledger's connections today, since each method commits on its own. The
//! cost is a second bounded pool on the same database.
//!
//! # One commit with the ledger's batch
//!
//! The bot's per-message writes commit in the same database transaction as
//! the ledger's group commit, with no database type entering `bot`:
//! [`Store::record_write`] turns a core record change (a new payment, a
//! payment's compare-and-swap, an event's outcome) into a
//! [`ledger::RecordWrite`]: SQL text both backends run and the values in
//! column order (the same values this crate binds itself, from one
//! function per family). The core hands it to the ledger with the
//! transfers it describes ([`ledger::Ledger::commit`]); the writer runs it
//! after them, batched across concurrent messages. Reads and the few
//! multi-statement transactions stay on this crate's pool.
//!
//! `bot` keeps speaking in its own records through its port; only the ledger
//! and this crate see SQL.

use std::fmt;

use async_trait::async_trait;
use bot::card::{Brand, CardFingerprint, CardToken, DeclineCode, Expiry, Last4, RailReference};
use bot::command::{Memo, ShortRef};
use bot::message::{ChatId, EventId, Handle, Platform, PlatformUserId};
use bot::otp::{OtpChallenge, OtpHash};
use bot::store::{
    AwaitingCode, CardAdd, CardAddLinked, CardAddState, CardOp, CardOpKind, CardOpState,
    CodesAwaited, Identity, LinkAttempt, LinkAttemptBounds, LinkCodeHash, LinkedCard, OpenedEvent,
    Payee, PayeeFacts, PayeeNow, PayeeSeen, Payment, PaymentRequest, PaymentState, PendingLink,
    RecordChange, RequestSide, RequestState, SeenUser, SenderSeen, Split, Store, StoreError,
    UserId,
};
use bot::trust::{Review, Tier};
use ledger::{Amount, Currency, Ledger, Migration, RecordWrite, SqlValue, TransferId};
use sqlx::types::Uuid;

/// Runs the same call on whichever backend the store has: `$pool` is the
/// backend's pool and `db` its module (`sqlite` or `postgres`, as the
/// calling module defines them). Defined before the `mod` lines so every
/// module of the crate uses this one.
macro_rules! on_backend {
    ($store:expr, $pool:ident => $call:expr) => {{
        let result: Result<_, Error> = match &$store.backend {
            Backend::Sqlite($pool) => {
                use sqlite as db;
                $call
            }
            Backend::Postgres($pool) => {
                use postgres as db;
                $call
            }
            Backend::Missing(why) => Err(Error::Refused(why.clone())),
        };
        result.map_err(StoreError::from)
    }};
}

mod autopay;
pub mod bills;
mod outcomes;
mod pay_group;
mod pool;
mod rules;
mod sanctions;
mod second_factor;
mod settle;
mod standing;
mod tab;
mod tab_recurring;
mod trust;
mod verification;

/// The bot's schema. Run with `ledger.migrate(BOT_MIGRATIONS)`.
pub const BOT_MIGRATIONS: &[Migration] = &[
    ledger::migration!(
        "bot",
        1,
        "users, identities, events, link codes, payments, requests, splits",
        "../migrations",
        "0001_bot.sql"
    ),
    ledger::migration!(
        "bot",
        2,
        "identities: dm_open",
        "../migrations",
        "0002_dm_open.sql"
    ),
    ledger::migration!(
        "bot",
        3,
        "linked cards and card operations",
        "../migrations",
        "0003_cards.sql"
    ),
    ledger::migration!(
        "bot",
        4,
        "link confirmations and wrong link codes",
        "../migrations",
        "0004_link_confirm.sql"
    ),
    ledger::migration!(
        "bot",
        5,
        "card adds confirmed by a code; request indexes for the rate limits",
        "../migrations",
        "0005_card_adds_limits.sql"
    ),
    ledger::migration!(
        "bot",
        6,
        "when the database first served production",
        "../migrations",
        "0006_deployment_mark.sql"
    ),
    ledger::migration!(
        "bot",
        7,
        "who linked each card (it leaves with that account on /unlink)",
        "../migrations",
        "0007_card_adder.sql"
    ),
    ledger::migration!(
        "bot",
        8,
        "trust: the append-only audit log and verification tiers",
        "../migrations",
        "0008_trust.sql"
    ),
    ledger::migration!(
        "bot",
        10,
        "sanctions: the SDN list, its aliases and its loads",
        "../migrations",
        "0010_sanctions.sql"
    ),
    ledger::migration!(
        "bot",
        11,
        "the second factor: sealed TOTP secrets, recovery codes, wrong codes",
        "../migrations",
        "0011_second_factor.sql"
    ),
    ledger::migration!(
        "bot",
        13,
        "verification: provider callback events, legal names",
        "../migrations",
        "0013_verification.sql"
    ),
    ledger::migration!(
        "bot",
        14,
        "payments and card operations: what the policy point asked (second factor, hold)",
        "../migrations",
        "0014_review.sql"
    ),
    ledger::migration!(
        "bot",
        18,
        "standing orders and each user's time zone",
        "../migrations",
        "0018_standing_orders.sql"
    ),
    ledger::migration!(
        "bot",
        19,
        "bill pay: billers, invoices, webhook events",
        "../migrations",
        "0019_bills.sql"
    ),
    ledger::migration!(
        "bot",
        20,
        "autopay: a payer's autopays for a biller's invoices, and each invoice's run",
        "../migrations",
        "0020_autopay.sql"
    ),
    ledger::migration!(
        "bot",
        23,
        "the group tab: group members, expenses and their lines",
        "../migrations",
        "0023_tab.sql"
    ),
    ledger::migration!(
        "bot",
        24,
        "the group tab's settlements: paid through paybot or in cash",
        "../migrations",
        "0024_tab_settlements.sql"
    ),
    ledger::migration!(
        "bot",
        25,
        "payment groups: the legs of a payment to several payees",
        "../migrations",
        "0025_pay_groups.sql"
    ),
    ledger::migration!(
        "bot",
        26,
        "the requests inbox: request expiry and reminders",
        "../migrations",
        "0026_requests_inbox.sql"
    ),
    ledger::migration!(
        "bot",
        27,
        "autopay: set-ups waiting for a code, by when their code was issued",
        "../migrations",
        "0027_autopay_expiry.sql"
    ),
    ledger::migration!(
        "bot",
        28,
        "the group tab: a cash settlement nobody answered in time expires",
        "../migrations",
        "0028_cash_settle_expiry.sql"
    ),
    ledger::migration!(
        "bot",
        29,
        "recurring group expenses",
        "../migrations",
        "0029_tab_recurring.sql"
    ),
    ledger::migration!(
        "bot",
        30,
        "payments: whether a payer has paid a payee before, by index",
        "../migrations",
        "0030_paid_before.sql"
    ),
];

/// How often a verification event's claim is tried again when its row
/// vanished between two statements (released by its worker meanwhile).
pub const CLAIM_ATTEMPTS_MAX: u32 = 3;

/// How often [`Store::upsert_identity`] tries again after losing the race to
/// create the same new identity (PostgreSQL; SQLite serialises writers).
pub const UPSERT_ATTEMPTS_MAX: u32 = 3;

/// The payment states [`Store::payments_due`] looks at: the non-final ones.
/// The SQL names them literally; a test checks this list against
/// [`PaymentState::is_final`].
pub const DUE_STATES: [PaymentState; 3] = [
    PaymentState::AwaitingCode,
    PaymentState::Escrowed,
    PaymentState::Held,
];

/// The states in which the payee of a payment never heard of it (for
/// [`Store::history_of_user`]): waiting for its code, ended before it was
/// used, or held for review and how that review ended unpaid (only the payer
/// is told of a hold). The SQL names them literally.
pub const UNSEEN_BY_PAYEE_STATES: [PaymentState; 8] = [
    PaymentState::AwaitingCode,
    PaymentState::Cancelled,
    PaymentState::Expired,
    PaymentState::LockedOut,
    PaymentState::Leaked,
    PaymentState::Held,
    PaymentState::Rejected,
    PaymentState::HoldExpired,
];

/// The states in which a payment reached its payee (for
/// [`Store::has_paid_before`]): paid directly, or claimed from escrow.
pub const PAID_STATES: [PaymentState; 2] = [PaymentState::Completed, PaymentState::Claimed];

/// What went wrong inside this module; becomes a [`StoreError`] at the trait.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Refused(String),
}

impl From<Error> for StoreError {
    fn from(error: Error) -> StoreError {
        match error {
            Error::Corrupt(what) => StoreError::corrupt(format!("corrupt row: {what}")),
            other => StoreError::new(other),
        }
    }
}

fn corrupt(table: &str, column: &str, detail: impl fmt::Display) -> Error {
    Error::Corrupt(format!("{table}.{column}: {detail}"))
}

/// How stale an identity's `last_seen_ms` may get before a sighting
/// writes it again (a sighting that changes nothing else writes nothing
/// within this).
pub const LAST_SEEN_REFRESH_MS: i64 = 60_000;

/// Whether recording `seen` would change nothing worth a write: the same
/// names, nothing to set, and seen within [`LAST_SEEN_REFRESH_MS`].
fn sighting_changes_nothing(known: &Identity, seen: &SeenUser, now_ms: i64) -> bool {
    known.handle == seen.handle
        && known.skeleton == seen.skeleton
        && known.display_name == seen.display_name
        && (known.started || !seen.speaking)
        && (known.dm_open || !seen.direct)
        && now_ms.saturating_sub(known.last_seen_ms) < LAST_SEEN_REFRESH_MS
}

/// The payments' table.
const PAYMENTS_TABLE: &str = "bot_payments";
/// The table of [`PaymentRequest`]s.
const REQUESTS_TABLE: &str = "bot_requests";

/// Records handled events' outcomes on PostgreSQL: `$1..$4` arrays of
/// platforms, event ids, outcomes and times, one element per event (an
/// event at most once). The first recorded outcome stays: a late second
/// worker does not overwrite it.
const FINISH_EVENTS_PG_SQL: &str =
    "INSERT INTO bot_events (platform, event_id, claimed_at_ms, outcome, finished_at_ms)
     SELECT p, e, t, o, t FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[])
         AS u (p, e, o, t)
     ON CONFLICT (platform, event_id) DO UPDATE
         SET outcome = excluded.outcome, finished_at_ms = excluded.finished_at_ms
         WHERE bot_events.outcome IS NULL";

/// Events' outcomes in one SQLite record write: as many as its values allow.
const OUTCOME_ROWS_PER_RECORD: usize = ledger::RECORD_VALUES_MAX / 4;

// One SQLite unit carries every outcome one write takes.
const _: () =
    assert!(OUTCOME_ROWS_PER_RECORD * ledger::UNIT_RECORDS_MAX >= outcomes::OUTCOMES_PER_WRITE_MAX);

/// [`FINISH_EVENTS_PG_SQL`] on SQLite, for `rows` events (each an event at
/// most once): per row `$n+1` platform, `$n+2` event id, `$n+3` outcome,
/// `$n+4` now.
fn finish_events_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let n = row * 4;
            format!(
                "(${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 4,
                n + 3,
                n + 4
            )
        })
        .collect();
    format!(
        "INSERT INTO bot_events (platform, event_id, claimed_at_ms, outcome, finished_at_ms)
     VALUES {}
     ON CONFLICT (platform, event_id) DO UPDATE
         SET outcome = excluded.outcome, finished_at_ms = excluded.finished_at_ms
         WHERE bot_events.outcome IS NULL",
        values.join(", ")
    )
}

/// `INSERT` of a whole record, `$1..` in `columns` order, doing nothing
/// when one of its unique keys is taken (the first writer's record stays).
fn insert_sql(table: &str, columns: &str) -> String {
    let values: Vec<String> = (1..=columns.split(',').count())
        .map(|i| format!("${i}"))
        .collect();
    format!(
        "INSERT INTO {table} ({columns}) VALUES ({}) ON CONFLICT DO NOTHING",
        values.join(", ")
    )
}

/// [`insert_sql`] for many records at once (see
/// [`RecordWrite::combining`]): column `cI` of the rows is `columns`' I-th.
fn insert_rows_sql(table: &str, columns: &str) -> String {
    let picked: Vec<String> = (1..=columns.split(',').count())
        .map(|i| format!("r.c{i}"))
        .collect();
    format!(
        "INSERT INTO {table} ({columns}) SELECT {} FROM {} AS r WHERE true ON CONFLICT DO NOTHING",
        picked.join(", "),
        ledger::ROWS_PLACEHOLDER
    )
}

/// [`compare_and_swap_sql`] for many records at once: each row's
/// `reference` (`c1`) names one record, so a row changes at most one.
fn compare_and_swap_rows_sql(table: &str, columns: &str) -> String {
    let columns: Vec<&str> = columns.split(',').map(str::trim).collect();
    let set: Vec<String> = columns
        .iter()
        .enumerate()
        .filter(|(_, column)| !matches!(**column, "reference" | "revision"))
        .map(|(i, column)| format!("{column} = r.c{}", i + 1))
        .collect();
    format!(
        "UPDATE {table} SET {}, revision = {table}.revision + 1 FROM {} AS r
         WHERE {table}.reference = r.c1 AND {table}.revision = r.c{}",
        set.join(", "),
        ledger::ROWS_PLACEHOLDER,
        columns.len()
    )
}

/// A table's record writes for many records at once, made once.
struct RowsForms {
    insert: String,
    compare_and_swap: String,
}

impl RowsForms {
    fn of(table: &str, columns: &str) -> RowsForms {
        RowsForms {
            insert: insert_rows_sql(table, columns),
            compare_and_swap: compare_and_swap_rows_sql(table, columns),
        }
    }
}

/// Compare-and-swap on `revision`: writes every column where the stored
/// row's `reference` (`$1`, the first column) and `revision` (the last)
/// match, and bumps `revision`.
fn compare_and_swap_sql(table: &str, columns: &str) -> Result<String, Error> {
    let columns: Vec<&str> = columns.split(',').map(str::trim).collect();
    if columns.first() != Some(&"reference") || columns.last() != Some(&"revision") {
        return Err(Error::Refused(format!("{table} cannot be updated")));
    }
    let set: Vec<String> = columns
        .iter()
        .enumerate()
        .filter(|(_, column)| !matches!(**column, "reference" | "revision"))
        .map(|(i, column)| format!("{column} = ${}", i + 1))
        .collect();
    Ok(format!(
        "UPDATE {table} SET {}, revision = revision + 1
         WHERE reference = $1 AND revision = ${}",
        set.join(", "),
        columns.len()
    ))
}

/// A payment's values in the order of `payment_columns!`: what the
/// store binds and what it hands the ledger as a record write.
fn payment_values(p: &Payment) -> Vec<SqlValue> {
    let (payee_user, payee_platform, payee_id, payee_handle) = match &p.payee {
        Payee::User { user, platform, id } => {
            (Some(user.0), platform.as_str(), Some(id.as_str()), None)
        }
        Payee::Unclaimed { platform, handle } => {
            (None, platform.as_str(), None, Some(handle.as_str()))
        }
    };
    vec![
        SqlValue::from(p.reference.as_str()),
        SqlValue::Uuid(Some(p.transfer_id.as_u128())),
        SqlValue::from(p.payer.0),
        SqlValue::from(p.payer_platform.as_str()),
        SqlValue::from(p.payer_id.as_str()),
        SqlValue::from(payee_user),
        SqlValue::from(payee_platform),
        SqlValue::from(payee_id),
        SqlValue::from(payee_handle),
        SqlValue::from(p.payee_label.as_str()),
        SqlValue::from(p.amount.minor()),
        SqlValue::from(p.amount.currency().code()),
        SqlValue::from(p.memo.as_ref().map(Memo::as_str)),
        SqlValue::from(p.request.as_ref().map(ShortRef::as_str)),
        SqlValue::from(p.origin_chat.as_ref().map(ChatId::as_str)),
        SqlValue::from(p.challenge.hash.to_bytes().to_vec()),
        SqlValue::from(p.challenge.issued_at_ms),
        SqlValue::from(i64::from(p.challenge.failed_attempts)),
        SqlValue::from(p.state.as_str()),
        SqlValue::from(p.due_at_ms),
        SqlValue::from(p.created_at_ms),
        SqlValue::from(p.updated_at_ms),
        SqlValue::from(p.review.to_text()),
        SqlValue::from(p.revision),
    ]
}

/// A request's values in the order of `request_columns!`: what the store
/// hands the ledger as a record write.
fn request_values(r: &PaymentRequest) -> Vec<SqlValue> {
    vec![
        SqlValue::from(r.reference.as_str()),
        SqlValue::from(r.requester.0),
        SqlValue::from(r.requester_platform.as_str()),
        SqlValue::from(r.requester_id.as_str()),
        SqlValue::from(r.requester_label.as_str()),
        SqlValue::from(r.payer.0),
        SqlValue::from(r.payer_platform.as_str()),
        SqlValue::from(r.payer_id.as_str()),
        SqlValue::from(r.payer_label.as_str()),
        SqlValue::from(r.amount.minor()),
        SqlValue::from(r.amount.currency().code()),
        SqlValue::from(r.memo.as_ref().map(Memo::as_str)),
        SqlValue::from(r.split.as_ref().map(ShortRef::as_str)),
        SqlValue::from(r.state.as_str()),
        SqlValue::from(r.payment.as_ref().map(ShortRef::as_str)),
        SqlValue::from(r.created_at_ms),
        SqlValue::from(r.updated_at_ms),
        SqlValue::from(r.expires_at_ms),
        SqlValue::from(i64::from(r.reminders)),
        SqlValue::from(r.reminded_at_ms),
        SqlValue::from(r.revision),
    ]
}

fn transfer_uuid(id: TransferId) -> Uuid {
    Uuid::from_u128(id.as_u128())
}

/// Whether the payer (`$p`) has paid the payee (`$q`) before: `1`, or
/// `NULL` when never (the states are `PAID_STATES`). A scalar subquery
/// with `LIMIT 1`, not `EXISTS`: PostgreSQL may run an `EXISTS` correlated
/// by an equality as a hashed subplan, which reads every payment the
/// payee ever received to hash their payers (its generic plan did, at
/// each `/pay`); a scalar subquery runs for its row, one lookup in
/// `bot_payments_by_payer_payee` ([`Store::has_paid_before`],
/// [`Store::payee_facts`]). `$from`: more of the `FROM` list, for a `$q`
/// that names a column (`payee_facts_sql!`'s `WITH` item `payee`, joined:
/// with it as a subquery SQLite's chat made 7% fewer payments a second,
/// in 9 pairs).
macro_rules! paid_before_sql {
    ($p:literal, $q:literal) => {
        paid_before_sql!($p, $q, "")
    };
    ($p:literal, $q:literal, $from:literal) => {
        concat!(
            "(SELECT 1 FROM bot_payments AS pb",
            $from,
            " WHERE pb.payer = ",
            $p,
            " AND pb.payee_user = ",
            $q,
            " AND pb.state IN ('completed', 'claimed') LIMIT 1)"
        )
    };
}

/// How many of the payer (`$p`)'s payments wait for their code, the legs
/// of one payment to several people counted once: a `BIGINT` expression
/// ([`Store::payments_waiting`]).
macro_rules! payments_waiting_sql {
    ($p:literal) => {
        concat!(
            "((SELECT COUNT(*) FROM bot_payments AS w
                 WHERE w.payer = ",
            $p,
            " AND w.state = 'awaiting_code'
                     AND NOT EXISTS (SELECT 1 FROM bot_pay_groups AS g
                         WHERE g.leg_reference = w.reference))
             + (SELECT COUNT(DISTINCT g.group_reference)
                 FROM bot_payments AS w
                 JOIN bot_pay_groups AS g ON g.leg_reference = w.reference
                 WHERE w.payer = ",
            $p,
            " AND w.state = 'awaiting_code'))"
        )
    };
}

/// Whether records other than payments wait for the user (`$u`)'s code:
/// three `0`/`1` columns, `cards_awaited` (card operations and adds),
/// `standing_awaited` and `autopays_awaited` ([`Store::codes_awaited`]).
macro_rules! codes_awaited_sql {
    ($u:literal) => {
        concat!(
            "CASE WHEN EXISTS (
                 SELECT 1 FROM bot_card_ops AS c
                 WHERE c.user_id = ",
            $u,
            " AND c.state = 'awaiting_code')
             OR EXISTS (
                 SELECT 1 FROM bot_card_adds AS c
                 WHERE c.user_id = ",
            $u,
            " AND c.state = 'awaiting_code')
             THEN 1 ELSE 0 END AS cards_awaited,
             CASE WHEN EXISTS (
                 SELECT 1 FROM bot_standing_orders AS o
                 WHERE o.payer = ",
            $u,
            " AND o.state = 'awaiting_code')
             THEN 1 ELSE 0 END AS standing_awaited,
             CASE WHEN EXISTS (
                 SELECT 1 FROM bot_autopays AS o
                 WHERE o.payer = ",
            $u,
            " AND o.state = 'awaiting_code')
             THEN 1 ELSE 0 END AS autopays_awaited"
        )
    };
}

/// The user whose wallet the payee account of the payment row `$p` is part
/// of now (`payee_user_now`; see [`AwaitingCode::payees_now`]).
macro_rules! payee_user_now_sql {
    ($p:literal) => {
        concat!(
            "(SELECT a.user_id FROM bot_identities AS a
                 WHERE a.platform = ",
            $p,
            ".payee_platform
                     AND a.platform_id = ",
            $p,
            ".payee_id) AS payee_user_now"
        )
    };
}

/// The columns of an [`Identity`], in `SELECT` and `RETURNING`.
macro_rules! identity_columns {
    () => {
        "platform, platform_id, user_id, handle, skeleton, display_name, started, \
         dm_open, first_seen_ms, last_seen_ms, user_since_ms"
    };
}

/// The columns of an [`Identity`] named with the prefix `i_`: another
/// identity in a row that holds one under the plain names
/// ([`PAYEE_IDENTITY_COLUMNS`]).
macro_rules! payee_identity_columns {
    () => {
        "platform AS i_platform, platform_id AS i_platform_id, user_id AS i_user_id, \
         handle AS i_handle, skeleton AS i_skeleton, display_name AS i_display_name, \
         started AS i_started, dm_open AS i_dm_open, first_seen_ms AS i_first_seen_ms, \
         last_seen_ms AS i_last_seen_ms, user_since_ms AS i_user_since_ms"
    };
}

/// What `see_payee` reads about the payee (the `WITH` item `payee`, their
/// identity) for the payer `$p`: the columns `paid_before`, `payee_tier`
/// and `payer_waiting` (as `Store::payee_facts` reads them).
macro_rules! payee_facts_sql {
    ($p:literal) => {
        concat!(
            "CASE WHEN ",
            paid_before_sql!($p, "payee.user_id", " JOIN payee ON true"),
            " IS NULL THEN 0 ELSE 1 END AS paid_before,
             (SELECT t.tier FROM bot_user_tiers AS t
                 JOIN payee ON t.user_id = payee.user_id) AS payee_tier, ",
            payments_waiting_sql!($p),
            " AS payer_waiting"
        )
    };
}

/// `see_payee`'s rows, joined to what comes before: the payee's (the
/// `WITH` item `payee`, `is_payee` 1), then up to `$limit` identities on
/// the platform `$platform` with the skeleton `$skeleton`, most recently
/// seen first (`is_payee` 0), each in `payee_identity_columns!` (or one
/// row of NULLs when there is neither).
macro_rules! payee_and_look_alikes_sql {
    ($platform:literal, $skeleton:literal, $limit:literal) => {
        concat!(
            " LEFT JOIN (
                 SELECT 1 AS is_payee, ",
            payee_identity_columns!(),
            " FROM payee
                 UNION ALL
                 SELECT 0 AS is_payee, ",
            payee_identity_columns!(),
            " FROM (SELECT ",
            identity_columns!(),
            " FROM bot_identities WHERE platform = ",
            $platform,
            " AND skeleton = ",
            $skeleton,
            " ORDER BY last_seen_ms DESC, platform_id
                     LIMIT CAST(",
            $limit,
            " AS BIGINT)) AS l
             ) AS i ON 1 = 1
             ORDER BY i.is_payee DESC, i.i_last_seen_ms DESC, i.i_platform_id"
        )
    };
}

/// Where an [`Identity`]'s columns are in a row, in the order of
/// [`Identity`]'s fields.
type IdentityColumns = [&'static str; 11];
/// `identity_columns!`'s names.
const IDENTITY_COLUMNS: IdentityColumns = [
    "platform",
    "platform_id",
    "user_id",
    "handle",
    "skeleton",
    "display_name",
    "started",
    "dm_open",
    "first_seen_ms",
    "last_seen_ms",
    "user_since_ms",
];
/// `payee_identity_columns!`'s names.
const PAYEE_IDENTITY_COLUMNS: IdentityColumns = [
    "i_platform",
    "i_platform_id",
    "i_user_id",
    "i_handle",
    "i_skeleton",
    "i_display_name",
    "i_started",
    "i_dm_open",
    "i_first_seen_ms",
    "i_last_seen_ms",
    "i_user_since_ms",
];

/// A message's sender (`$1` platform, `$2` platform id) with the stored
/// outcome of its event (`$3`) and their tier: the columns `event_outcome`,
/// `sender_tier` and the identity's, from `bot_identities`
/// (`Store::open_event`'s read).
macro_rules! opened_sender_sql {
    () => {
        concat!(
            "(SELECT outcome FROM bot_events
                 WHERE platform = $1 AND event_id = $3) AS event_outcome,
             (SELECT tier FROM bot_user_tiers AS t
                 WHERE t.user_id = bot_identities.user_id) AS sender_tier, ",
            identity_columns!(),
            " FROM bot_identities WHERE platform = $1 AND platform_id = $2"
        )
    };
}

/// The columns of a [`Payment`] in bind order (see `bind_payment`).
macro_rules! payment_columns {
    () => {
        "reference, transfer_id, payer, payer_platform, payer_id, payee_user, \
         payee_platform, payee_id, payee_handle, payee_label, amount, currency, memo, \
         request_ref, origin_chat, otp_hash, otp_issued_at_ms, otp_failed_attempts, state, \
         due_at_ms, created_at_ms, updated_at_ms, review, revision"
    };
}

/// The columns of a [`PaymentRequest`] in bind order (see `bind_request`).
macro_rules! request_columns {
    () => {
        "reference, requester, requester_platform, requester_id, requester_label, payer, \
         payer_platform, payer_id, payer_label, amount, currency, memo, split_ref, state, \
         payment_ref, created_at_ms, updated_at_ms, expires_at_ms, reminders, reminded_at_ms, \
         revision"
    };
}

/// The payments' and requests' record writes for many records at once.
static PAYMENT_ROWS: std::sync::LazyLock<RowsForms> =
    std::sync::LazyLock::new(|| RowsForms::of(PAYMENTS_TABLE, payment_columns!()));
static REQUEST_ROWS: std::sync::LazyLock<RowsForms> =
    std::sync::LazyLock::new(|| RowsForms::of(REQUESTS_TABLE, request_columns!()));

/// The columns of a [`Split`] in bind order.
macro_rules! split_columns {
    () => {
        "reference, creator, platform, chat, total, creator_share, currency, memo, \
         created_at_ms"
    };
}

/// The columns of a [`LinkedCard`], in `SELECT` and `RETURNING`.
macro_rules! card_columns {
    () => {
        "id, user_id, token, brand, last4, exp_year, exp_month, fingerprint, created_at_ms, \
         added_by_platform, added_by_id"
    };
}

/// The columns of a [`CardOp`] in bind order (see `bind_card_op`).
macro_rules! card_op_columns {
    () => {
        "reference, transfer_id, kind, user_id, platform, platform_user_id, token, brand, \
         last4, amount, fee, currency, otp_hash, otp_issued_at_ms, otp_failed_attempts, state, \
         initiated_at_ms, status_id, action_code, rail_attempts, due_at_ms, created_at_ms, \
         updated_at_ms, review, revision"
    };
}

/// The columns of a [`CardAdd`] in bind order (see `bind_card_add`).
macro_rules! card_add_columns {
    () => {
        "reference, add_id, user_id, platform, platform_user_id, token, brand, last4, \
         exp_year, exp_month, fingerprint, otp_hash, otp_issued_at_ms, otp_failed_attempts, \
         state, due_at_ms, created_at_ms, updated_at_ms, review, revision"
    };
}

/// `impl Record for $record`: its table, its columns and its row reader.
macro_rules! record {
    ($record:ty, $table:expr, $columns:expr, $from_row:ident) => {
        impl Record for $record {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static str = $columns;
            fn from_row(row: &DbRow) -> Result<Self, Error> {
                $from_row(row)
            }
        }
    };
}

/// `impl Whole for $record`: its name in errors, its second unique id and
/// its binder.
macro_rules! whole {
    ($record:ty, $noun:literal, $id_column:expr, $id:expr, $bind:ident) => {
        impl Whole for $record {
            const NOUN: &'static str = $noun;
            const ID_COLUMN: Option<&'static str> = $id_column;
            fn reference(&self) -> &ShortRef {
                &self.reference
            }
            fn id(&self) -> Option<TransferId> {
                let id: fn(&$record) -> Option<TransferId> = $id;
                id(self)
            }
            fn bind<'q>(&'q self, query: Query<'q>) -> Query<'q> {
                $bind(query, self)
            }
        }
    };
}

macro_rules! sql_backend {
    ($module:ident, $db:ty, $begin:literal, $lock:literal) => {
        mod $module {
            use sqlx::Row;

            use super::*;

            type Db = $db;
            pub(crate) type Pool = ledger::StatementPool<Db>;
            type DbRow = <Db as sqlx::Database>::Row;
            pub(crate) type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>;

            // -- records -------------------------------------------------

            /// A record family kept one per row of its table: the table, its
            /// columns (in `SELECT`, `RETURNING` and bind order) and how a
            /// row reads back. The statements all families share are written
            /// once, below, instead of once per family.
            trait Record: Sized {
                const TABLE: &'static str;
                const COLUMNS: &'static str;
                fn from_row(row: &DbRow) -> Result<Self, Error>;
            }

            /// A family whose records are written whole, once, and found by
            /// their `reference` (some also by a second unique id).
            trait Whole: Record {
                /// What one record is called in an error ("card add").
                const NOUN: &'static str;
                /// The second unique column, holding a transfer-style id.
                const ID_COLUMN: Option<&'static str>;
                fn reference(&self) -> &ShortRef;
                /// The value of `ID_COLUMN`.
                fn id(&self) -> Option<TransferId>;
                /// Binds the values as `$1..`, in the order of `COLUMNS`.
                fn bind<'q>(&'q self, query: Query<'q>) -> Query<'q>;
            }

            /// `SELECT` a family's columns `FROM` its table, then `tail`
            /// (`WHERE ..`, `ORDER BY ..`), whose `$n` the caller binds. The
            /// SQL text is ours; values come from outside only as binds.
            fn select<'q, R: Record>(tail: &str) -> Query<'q> {
                let sql = format!("SELECT {} FROM {} {tail}", R::COLUMNS, R::TABLE);
                sqlx::query(sqlx::AssertSqlSafe(sql))
            }

            /// The record `query` selects, if any.
            async fn one<R: Record>(pool: &Pool, query: Query<'_>) -> Result<Option<R>, Error> {
                let row = query.fetch_optional(pool).await?;
                row.as_ref().map(R::from_row).transpose()
            }

            /// Every record `query` selects, in its order.
            async fn all<R: Record>(pool: &Pool, query: Query<'_>) -> Result<Vec<R>, Error> {
                let rows = query.fetch_all(pool).await?;
                rows.iter().map(R::from_row).collect()
            }

            async fn by_reference<R: Whole>(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<R>, Error> {
                one(pool, select::<R>("WHERE reference = $1").bind(reference.as_str())).await
            }

            async fn by_uuid<R: Record>(
                pool: &Pool,
                column: &str,
                id: TransferId,
            ) -> Result<Option<R>, Error> {
                let query = select::<R>(&format!("WHERE {column} = $1")).bind(transfer_uuid(id));
                one(pool, query).await
            }

            /// Inserts `record` unless a row with one of its unique keys is
            /// there (`ON CONFLICT DO NOTHING`), then reads back what is
            /// stored: the first writer's record wins, so a redelivered event
            /// stores nothing twice and its caller sees the first outcome.
            async fn keep_first<R: Whole>(pool: &Pool, record: &R) -> Result<R, Error> {
                let sql = insert_sql(R::TABLE, R::COLUMNS);
                record.bind(sqlx::query(sqlx::AssertSqlSafe(sql))).execute(pool).await?;
                // Rows are never deleted: what conflicted is still there.
                if let Some(stored) = by_reference(pool, record.reference()).await? {
                    return Ok(stored);
                }
                if let (Some(column), Some(id)) = (R::ID_COLUMN, record.id()) {
                    if let Some(stored) = by_uuid(pool, column, id).await? {
                        return Ok(stored);
                    }
                }
                Err(Error::Refused(format!("{} {} was not stored", R::NOUN, record.reference())))
            }

            /// Compare-and-swap on `revision`: writes every column of
            /// `record` where its `reference` and `revision` match the stored
            /// row, and bumps `revision`. `false`: someone changed it first.
            async fn compare_and_swap<'c, R: Whole>(
                conn: impl sqlx::Executor<'c, Database = Db>,
                record: &R,
            ) -> Result<bool, Error> {
                let sql = compare_and_swap_sql(R::TABLE, R::COLUMNS)?;
                let query = record.bind(sqlx::query(sqlx::AssertSqlSafe(sql)));
                Ok(query.execute(conn).await?.rows_affected() == 1)
            }

            record!(Identity, "bot_identities", identity_columns!(), identity_from_row);
            record!(LinkedCard, "bot_cards", card_columns!(), card_from_row);
            record!(Payment, PAYMENTS_TABLE, payment_columns!(), payment_from_row);
            whole!(Payment, "payment", Some("transfer_id"), |p| Some(p.transfer_id), bind_payment);
            record!(PaymentRequest, REQUESTS_TABLE, request_columns!(), request_from_row);
            whole!(PaymentRequest, "request", None, |_| None, bind_request);
            record!(Split, "bot_splits", split_columns!(), split_from_row);
            whole!(Split, "split", None, |_| None, bind_split);
            record!(CardOp, "bot_card_ops", card_op_columns!(), card_op_from_row);
            whole!(
                CardOp,
                "card operation",
                Some("transfer_id"),
                |op| Some(op.transfer_id),
                bind_card_op
            );
            record!(CardAdd, "bot_card_adds", card_add_columns!(), card_add_from_row);
            whole!(CardAdd, "card add", Some("add_id"), |add| Some(add.add_id), bind_card_add);

            // -- decoding ------------------------------------------------

            /// A column's value; one that does not decode is a corrupt row.
            fn get<'r, T>(row: &'r DbRow, table: &str, column: &str) -> Result<T, Error>
            where
                T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
            {
                row.try_get(column).map_err(|e| match e {
                    sqlx::Error::ColumnDecode { source, .. } => corrupt(table, column, source),
                    other => Error::Database(other),
                })
            }

            /// A text column read as a typed value.
            fn parse<T>(
                row: &DbRow,
                table: &str,
                column: &str,
                read: impl FnOnce(&str) -> Option<T>,
            ) -> Result<T, Error> {
                let text: String = get(row, table, column)?;
                read(&text).ok_or_else(|| corrupt(table, column, format!("cannot read {text:?}")))
            }

            /// A nullable text column read as a typed value.
            fn parse_opt<T>(
                row: &DbRow,
                table: &str,
                column: &str,
                read: impl FnOnce(&str) -> Option<T>,
            ) -> Result<Option<T>, Error> {
                let text: Option<String> = get(row, table, column)?;
                text.map(|text| {
                    read(&text)
                        .ok_or_else(|| corrupt(table, column, format!("cannot read {text:?}")))
                })
                .transpose()
            }

            fn amount(row: &DbRow, table: &str, column: &str) -> Result<Amount, Error> {
                let currency = parse(row, table, "currency", |c| Currency::from_code(c).ok())?;
                let minor: i64 = get(row, table, column)?;
                Amount::from_minor(minor, currency).map_err(|e| corrupt(table, column, e))
            }

            fn platform(row: &DbRow, table: &str, column: &str) -> Result<Platform, Error> {
                parse(row, table, column, Platform::from_str_opt)
            }

            fn user_id_of(row: &DbRow, table: &str, column: &str) -> Result<PlatformUserId, Error> {
                parse(row, table, column, |s| PlatformUserId::new(s).ok())
            }

            fn short_ref(row: &DbRow, table: &str, column: &str) -> Result<ShortRef, Error> {
                parse(row, table, column, |s| ShortRef::parse(s).ok())
            }

            fn short_ref_opt(
                row: &DbRow,
                table: &str,
                column: &str,
            ) -> Result<Option<ShortRef>, Error> {
                parse_opt(row, table, column, |s| ShortRef::parse(s).ok())
            }

            fn memo(row: &DbRow, table: &str) -> Result<Option<Memo>, Error> {
                parse_opt(row, table, "memo", Memo::from_stored)
            }

            /// A code's keyed hash, when it was issued and its wrong tries.
            fn challenge(row: &DbRow, table: &str) -> Result<OtpChallenge, Error> {
                let hash: Vec<u8> = get(row, table, "otp_hash")?;
                let failed: i64 = get(row, table, "otp_failed_attempts")?;
                Ok(OtpChallenge {
                    hash: OtpHash::from_bytes(&hash).map_err(|e| corrupt(table, "otp_hash", e))?,
                    issued_at_ms: get(row, table, "otp_issued_at_ms")?,
                    failed_attempts: u8::try_from(failed)
                        .map_err(|e| corrupt(table, "otp_failed_attempts", e))?,
                })
            }

            fn identity_from_row(row: &DbRow) -> Result<Identity, Error> {
                identity_in(row, &IDENTITY_COLUMNS)
            }

            /// The identity in `row`'s columns named `columns`.
            fn identity_in(row: &DbRow, columns: &IdentityColumns) -> Result<Identity, Error> {
                const T: &str = "bot_identities";
                let [
                    platform_column,
                    platform_id,
                    user_id,
                    handle,
                    skeleton,
                    display_name,
                    started,
                    dm_open,
                    first_seen_ms,
                    last_seen_ms,
                    user_since_ms,
                ] = *columns;
                Ok(Identity {
                    platform: platform(row, T, platform_column)?,
                    id: user_id_of(row, T, platform_id)?,
                    user: UserId(get(row, T, user_id)?),
                    handle: parse_opt(row, T, handle, |s| Handle::parse(s).ok())?,
                    skeleton: get(row, T, skeleton)?,
                    display_name: get(row, T, display_name)?,
                    started: get(row, T, started)?,
                    dm_open: get(row, T, dm_open)?,
                    first_seen_ms: get(row, T, first_seen_ms)?,
                    last_seen_ms: get(row, T, last_seen_ms)?,
                    user_since_ms: get(row, T, user_since_ms)?,
                })
            }

            fn payee_from_row(row: &DbRow) -> Result<Payee, Error> {
                const T: &str = "bot_payments";
                let user: Option<i64> = get(row, T, "payee_user")?;
                let platform = platform(row, T, "payee_platform")?;
                let id = parse_opt(row, T, "payee_id", |s| PlatformUserId::new(s).ok())?;
                let handle = parse_opt(row, T, "payee_handle", |s| Handle::parse(s).ok())?;
                match (user, id, handle) {
                    (Some(user), Some(id), None) => Ok(Payee::User {
                        user: UserId(user),
                        platform,
                        id,
                    }),
                    (None, None, Some(handle)) => Ok(Payee::Unclaimed { platform, handle }),
                    _ => Err(corrupt(
                        T,
                        "payee_user",
                        "payee_user, payee_id and payee_handle do not name one payee",
                    )),
                }
            }

            fn payment_from_row(row: &DbRow) -> Result<Payment, Error> {
                const T: &str = "bot_payments";
                let transfer: Uuid = get(row, T, "transfer_id")?;
                Ok(Payment {
                    reference: short_ref(row, T, "reference")?,
                    transfer_id: TransferId::new(transfer.as_u128())
                        .ok_or_else(|| corrupt(T, "transfer_id", "the reserved zero id"))?,
                    payer: UserId(get(row, T, "payer")?),
                    payer_platform: platform(row, T, "payer_platform")?,
                    payer_id: user_id_of(row, T, "payer_id")?,
                    payee: payee_from_row(row)?,
                    payee_label: get(row, T, "payee_label")?,
                    amount: amount(row, T, "amount")?,
                    memo: memo(row, T)?,
                    request: short_ref_opt(row, T, "request_ref")?,
                    origin_chat: parse_opt(row, T, "origin_chat", |s| ChatId::new(s).ok())?,
                    challenge: challenge(row, T)?,
                    review: parse(row, T, "review", Review::parse)?,
                    state: parse(row, T, "state", PaymentState::from_str_opt)?,
                    due_at_ms: get(row, T, "due_at_ms")?,
                    created_at_ms: get(row, T, "created_at_ms")?,
                    updated_at_ms: get(row, T, "updated_at_ms")?,
                    revision: get(row, T, "revision")?,
                })
            }

            fn request_from_row(row: &DbRow) -> Result<PaymentRequest, Error> {
                const T: &str = "bot_requests";
                Ok(PaymentRequest {
                    reference: short_ref(row, T, "reference")?,
                    requester: UserId(get(row, T, "requester")?),
                    requester_platform: platform(row, T, "requester_platform")?,
                    requester_id: user_id_of(row, T, "requester_id")?,
                    requester_label: get(row, T, "requester_label")?,
                    payer: UserId(get(row, T, "payer")?),
                    payer_platform: platform(row, T, "payer_platform")?,
                    payer_id: user_id_of(row, T, "payer_id")?,
                    payer_label: get(row, T, "payer_label")?,
                    amount: amount(row, T, "amount")?,
                    memo: memo(row, T)?,
                    split: short_ref_opt(row, T, "split_ref")?,
                    state: parse(row, T, "state", RequestState::from_str_opt)?,
                    payment: short_ref_opt(row, T, "payment_ref")?,
                    created_at_ms: get(row, T, "created_at_ms")?,
                    updated_at_ms: get(row, T, "updated_at_ms")?,
                    expires_at_ms: get(row, T, "expires_at_ms")?,
                    reminders: u32::try_from(get::<i64>(row, T, "reminders")?)
                        .map_err(|_| corrupt(T, "reminders", "out of range"))?,
                    reminded_at_ms: get(row, T, "reminded_at_ms")?,
                    revision: get(row, T, "revision")?,
                })
            }

            fn split_from_row(row: &DbRow) -> Result<Split, Error> {
                const T: &str = "bot_splits";
                Ok(Split {
                    reference: short_ref(row, T, "reference")?,
                    creator: UserId(get(row, T, "creator")?),
                    platform: platform(row, T, "platform")?,
                    chat: parse(row, T, "chat", |s| ChatId::new(s).ok())?,
                    total: amount(row, T, "total")?,
                    creator_share: amount(row, T, "creator_share")?,
                    memo: memo(row, T)?,
                    created_at_ms: get(row, T, "created_at_ms")?,
                })
            }

            // -- events --------------------------------------------------

            pub(crate) async fn event_outcome(
                pool: &Pool,
                platform: Platform,
                event: &EventId,
            ) -> Result<Option<String>, Error> {
                let outcome: Option<Option<String>> = sqlx::query_scalar(
                    "SELECT outcome FROM bot_events WHERE platform = $1 AND event_id = $2",
                )
                .bind(platform.as_str())
                .bind(event.as_str())
                .fetch_optional(pool)
                .await?;
                Ok(outcome.flatten())
            }

            pub(crate) async fn production_since(pool: &Pool) -> Result<Option<i64>, Error> {
                let row = sqlx::query(
                    "SELECT first_at_ms FROM bot_deployment WHERE situation = 'production'",
                )
                .fetch_optional(pool)
                .await?;
                Ok(match row {
                    Some(row) => Some(row.try_get::<i64, _>(0)?),
                    None => None,
                })
            }

            pub(crate) async fn mark_production(pool: &Pool, now_ms: i64) -> Result<(), Error> {
                sqlx::query(
                    "INSERT INTO bot_deployment (situation, first_at_ms) VALUES ('production', $1)
                     ON CONFLICT (situation) DO NOTHING",
                )
                .bind(now_ms)
                .execute(pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn forget_events(
                pool: &Pool,
                before_ms: i64,
            ) -> Result<u64, Error> {
                let done = sqlx::query(
                    "DELETE FROM bot_events
                     WHERE finished_at_ms IS NOT NULL AND finished_at_ms < $1",
                )
                .bind(before_ms)
                .execute(pool)
                .await?;
                Ok(done.rows_affected())
            }

            // -- identities ----------------------------------------------

            pub(crate) async fn identity(
                pool: &Pool,
                platform: Platform,
                id: &PlatformUserId,
            ) -> Result<Option<Identity>, Error> {
                let query = select::<Identity>(
                    "WHERE platform = $1 AND platform_id = $2",
                )
                .bind(platform.as_str())
                .bind(id.as_str());
                one(pool, query).await
            }

            pub(crate) async fn upsert_identity(
                pool: &Pool,
                seen: &SeenUser,
                now_ms: i64,
            ) -> Result<(Identity, bool), Error> {
                // Most messages come from someone known and unchanged: a
                // read, and no write.
                if let Some(known) = identity(pool, seen.platform, &seen.id).await?
                    && sighting_changes_nothing(&known, seen, now_ms)
                {
                    return Ok((known, false));
                }
                record_sighting(pool, seen, now_ms).await
            }

            /// A new message's first read (`Store::open_event`): the
            /// event's outcome and the sender's identity in one statement;
            /// a sender who is new or changed is then recorded.
            pub(crate) async fn open_event(
                pool: &Pool,
                event: &EventId,
                seen: &SeenUser,
                now_ms: i64,
            ) -> Result<OpenedEvent, Error> {
                let row = sqlx::query(concat!("SELECT ", opened_sender_sql!()))
                    .bind(seen.platform.as_str())
                    .bind(seen.id.as_str())
                    .bind(event.as_str())
                    .fetch_optional(pool)
                    .await?;
                opened(pool, event, seen, now_ms, row.as_ref()).await
            }

            /// What `open_event` makes of its read: `row` is the sender's
            /// (`opened_sender_sql!`'s columns), if they are known.
            async fn opened(
                pool: &Pool,
                event: &EventId,
                seen: &SeenUser,
                now_ms: i64,
                row: Option<&DbRow>,
            ) -> Result<OpenedEvent, Error> {
                let outcome = match row {
                    Some(row) => get::<Option<String>>(row, "bot_events", "event_outcome")?,
                    // An unknown sender: the event is read on its own.
                    None => event_outcome(pool, seen.platform, event).await?,
                };
                if let Some(outcome) = outcome {
                    return Ok(OpenedEvent::Handled(outcome));
                }
                if let Some(row) = row {
                    let known = identity_from_row(row)?;
                    if sighting_changes_nothing(&known, seen, now_ms) {
                        return Ok(OpenedEvent::New(SenderSeen {
                            tier: Some(tier_column(row, "sender_tier")?),
                            ..SenderSeen::recorded(known, false)
                        }));
                    }
                }
                let (identity, first_contact) = record_sighting(pool, seen, now_ms).await?;
                Ok(OpenedEvent::New(SenderSeen::recorded(identity, first_contact)))
            }

            /// `Store::open_confirm_event`: `open_event`'s read and
            /// `awaiting_code`'s in one statement, one row per payment
            /// waiting for the sender's code (or one with NULL payment
            /// columns), each carrying the sender and the other flags. An
            /// unknown or changed sender goes as `open_event` goes, without
            /// the rest.
            pub(crate) async fn open_confirm_event(
                pool: &Pool,
                event: &EventId,
                seen: &SeenUser,
                now_ms: i64,
            ) -> Result<OpenedEvent, Error> {
                let rows = sqlx::query(concat!(
                    "SELECT s.*, ",
                    codes_awaited_sql!("s.user_id"),
                    ", p.seq, ",
                    payee_user_now_sql!("p"),
                    ", ",
                    payment_columns!(),
                    " FROM (SELECT ",
                    opened_sender_sql!(),
                    ") AS s
                     LEFT JOIN bot_payments AS p
                         ON p.payer = s.user_id AND p.state = 'awaiting_code'
                     ORDER BY p.created_at_ms DESC, p.seq DESC"
                ))
                .bind(seen.platform.as_str())
                .bind(seen.id.as_str())
                .bind(event.as_str())
                .fetch_all(pool)
                .await?;
                Ok(match opened(pool, event, seen, now_ms, rows.first()).await? {
                    // A sender known and unchanged, read with the rest (a
                    // tier comes only with such a sender): what waits for
                    // their code too.
                    OpenedEvent::New(sender) if sender.tier.is_some() => OpenedEvent::New(SenderSeen {
                        awaiting: Some(awaiting_from_rows(&rows)?),
                        ..sender
                    }),
                    other => other,
                })
            }

            /// `Store::open_pay_event`: `open_event`'s read and
            /// `see_payee`'s in one statement, for the sender as read: the
            /// sender's columns (`opened_sender_sql!`'s) on every row, with
            /// `see_payee`'s (the payee's row first, then the look-alikes,
            /// their identities in `payee_identity_columns!`). An unknown or
            /// changed sender goes as `open_event` goes, without the rest; a
            /// payee new or changed, or without a handle, is not read here,
            /// and nothing of them is written.
            pub(crate) async fn open_pay_event(
                pool: &Pool,
                event: &EventId,
                seen: &SeenUser,
                payee: &SeenUser,
                limit: u32,
                now_ms: i64,
            ) -> Result<OpenedEvent, Error> {
                let Some(skeleton) = payee.skeleton.as_deref().filter(|_| payee.platform == seen.platform)
                else {
                    return open_event(pool, event, seen, now_ms).await;
                };
                let rows = sqlx::query(concat!(
                    "WITH s AS (SELECT ",
                    opened_sender_sql!(),
                    "), payee AS (SELECT ",
                    identity_columns!(),
                    " FROM bot_identities WHERE platform = $1 AND platform_id = $6)
                     SELECT s.*, ",
                    payee_facts_sql!("s.user_id"),
                    ", i.* FROM s",
                    payee_and_look_alikes_sql!("$1", "$4", "$5")
                ))
                .bind(seen.platform.as_str())
                .bind(seen.id.as_str())
                .bind(event.as_str())
                .bind(skeleton)
                .bind(i64::from(limit))
                .bind(payee.id.as_str())
                .fetch_all(pool)
                .await?;
                Ok(match opened(pool, event, seen, now_ms, rows.first()).await? {
                    // A sender known and unchanged, read with the rest (a
                    // tier comes only with such a sender): their payee too,
                    // where known and unchanged.
                    OpenedEvent::New(sender) if sender.tier.is_some() => {
                        let (known, facts) = payee_rows(&rows)?;
                        let payee = known
                            .filter(|known| sighting_changes_nothing(known, payee, now_ms))
                            .map(|identity| Box::new(PayeeSeen { identity, facts }));
                        OpenedEvent::New(SenderSeen { payee, ..sender })
                    }
                    other => other,
                })
            }

            /// A column of `bot_user_tiers.tier` read with another record
            /// (`open_event`'s `sender_tier`, `payee_facts`'s `payee_tier`):
            /// the tier as last set, if ever (SMALLINT on PostgreSQL).
            fn tier_column(row: &DbRow, column: &str) -> Result<Option<Tier>, Error> {
                const T: &str = "bot_user_tiers";
                let tier = match row.try_get::<Option<i64>, _>(column) {
                    Ok(tier) => tier,
                    Err(_) => get::<Option<i16>>(row, T, column)?.map(i64::from),
                };
                tier.map(|tier| {
                    u8::try_from(tier)
                        .ok()
                        .and_then(Tier::new)
                        .ok_or_else(|| corrupt(T, "tier", tier))
                })
                .transpose()
            }

            /// Creates or refreshes the identity `seen` (the write half of
            /// `upsert_identity`), retrying a lost race to create it.
            async fn record_sighting(
                pool: &Pool,
                seen: &SeenUser,
                now_ms: i64,
            ) -> Result<(Identity, bool), Error> {
                for _ in 0..UPSERT_ATTEMPTS_MAX {
                    if let Some(done) = try_upsert_identity(pool, seen, now_ms).await? {
                        return Ok(done);
                    }
                }
                Err(Error::Refused(format!(
                    "identity {}/{} kept changing under {UPSERT_ATTEMPTS_MAX} attempts to record it",
                    seen.platform, seen.id
                )))
            }

            /// One transaction: refresh the identity, or create it and its
            /// user. `None`: another transaction created it first; retry.
            async fn try_upsert_identity(
                pool: &Pool,
                seen: &SeenUser,
                now_ms: i64,
            ) -> Result<Option<(Identity, bool)>, Error> {
                let mut tx = pool.begin_with($begin).await?;
                let started: Option<bool> = sqlx::query_scalar(concat!(
                    "SELECT started FROM bot_identities WHERE platform = $1 AND platform_id = $2",
                    $lock
                ))
                .bind(seen.platform.as_str())
                .bind(seen.id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let (row, was_not_started) = if let Some(was_started) = started {
                    let row = sqlx::query(concat!(
                        "UPDATE bot_identities
                         SET handle = $3, skeleton = $4, display_name = $5,
                             started = (started OR $6),
                             dm_open = (dm_open OR $8),
                             last_seen_ms = CASE WHEN last_seen_ms > $7 THEN last_seen_ms ELSE $7 END
                         WHERE platform = $1 AND platform_id = $2
                         RETURNING ",
                        identity_columns!()
                    ))
                    .bind(seen.platform.as_str())
                    .bind(seen.id.as_str())
                    .bind(seen.handle.as_ref().map(Handle::as_str))
                    .bind(seen.skeleton.as_deref())
                    .bind(seen.display_name.as_str())
                    .bind(seen.speaking)
                    .bind(now_ms)
                    .bind(seen.direct)
                    .fetch_one(&mut *tx)
                    .await?;
                    (row, !was_started)
                } else {
                    let user: i64 = sqlx::query_scalar(
                        "INSERT INTO bot_users (created_at_ms) VALUES ($1) RETURNING id",
                    )
                    .bind(now_ms)
                    .fetch_one(&mut *tx)
                    .await?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO bot_identities (platform, platform_id, user_id, handle,
                             skeleton, display_name, started, dm_open, first_seen_ms,
                             last_seen_ms, user_since_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $8, $8, $8)
                         ON CONFLICT (platform, platform_id) DO NOTHING
                         RETURNING ",
                        identity_columns!()
                    ))
                    .bind(seen.platform.as_str())
                    .bind(seen.id.as_str())
                    .bind(user)
                    .bind(seen.handle.as_ref().map(Handle::as_str))
                    .bind(seen.skeleton.as_deref())
                    .bind(seen.display_name.as_str())
                    .bind(seen.speaking)
                    .bind(now_ms)
                    .bind(seen.direct)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(row) = row else {
                        // Lost the race to create it; drops our new user too.
                        tx.rollback().await?;
                        return Ok(None);
                    };
                    (row, true)
                };
                let identity = identity_from_row(&row)?;
                tx.commit().await?;
                Ok(Some((identity, was_not_started && seen.speaking)))
            }

            pub(crate) async fn identities_with_handle(
                pool: &Pool,
                platform: Platform,
                handle: &Handle,
            ) -> Result<Vec<Identity>, Error> {
                let query = select::<Identity>(
                    "WHERE platform = $1 AND handle = $2
                     ORDER BY last_seen_ms DESC, platform_id",
                )
                .bind(platform.as_str())
                .bind(handle.as_str());
                all(pool, query).await
            }

            pub(crate) async fn identities_with_skeleton(
                pool: &Pool,
                platform: Platform,
                skeleton: &str,
                limit: u32,
            ) -> Result<Vec<Identity>, Error> {
                // `LIMIT CAST(..)`: see `payee_facts`.
                let query = select::<Identity>(
                    "WHERE platform = $1 AND skeleton = $2
                     ORDER BY last_seen_ms DESC, platform_id LIMIT CAST($3 AS BIGINT)",
                )
                .bind(platform.as_str())
                .bind(skeleton)
                .bind(i64::from(limit));
                all(pool, query).await
            }

            pub(crate) async fn identities_of(
                pool: &Pool,
                user: UserId,
            ) -> Result<Vec<Identity>, Error> {
                let query = select::<Identity>(
                    "WHERE user_id = $1
                     ORDER BY last_seen_ms DESC, platform, platform_id",
                )
                .bind(user.0);
                all(pool, query).await
            }

            pub(crate) async fn move_identity(
                pool: &Pool,
                platform: Platform,
                id: &PlatformUserId,
                to: UserId,
                now_ms: i64,
            ) -> Result<(), Error> {
                let moved = sqlx::query(
                    "UPDATE bot_identities SET user_id = $3, user_since_ms = $4
                     WHERE platform = $1 AND platform_id = $2",
                )
                .bind(platform.as_str())
                .bind(id.as_str())
                .bind(to.0)
                .bind(now_ms)
                .execute(pool)
                .await?;
                if moved.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(Error::Refused(format!("no identity {platform}/{id} to move")))
                }
            }

            // -- link codes ----------------------------------------------

            pub(crate) async fn put_link_code(
                pool: &Pool,
                hash: &LinkCodeHash,
                user: UserId,
                expires_at_ms: i64,
            ) -> Result<(), Error> {
                // One row per user: the conflict on `user_id` replaces the
                // user's earlier code. A hash that another user's code has
                // is a unique violation, never a takeover of that code.
                let put = sqlx::query(
                    "INSERT INTO bot_link_codes (hash, user_id, expires_at_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (user_id) DO UPDATE
                         SET hash = excluded.hash, expires_at_ms = excluded.expires_at_ms",
                )
                .bind(hash.as_slice())
                .bind(user.0)
                .bind(expires_at_ms)
                .execute(pool)
                .await;
                match put {
                    Err(sqlx::Error::Database(e))
                        if matches!(e.kind(), sqlx::error::ErrorKind::UniqueViolation) =>
                    {
                        Err(Error::Refused(
                            "that link code is in use by another user; make another".to_owned(),
                        ))
                    }
                    other => other.map(drop).map_err(Error::from),
                }
            }

            pub(crate) async fn take_link_code(
                pool: &Pool,
                hash: &LinkCodeHash,
                now_ms: i64,
            ) -> Result<Option<UserId>, Error> {
                // Single use: of concurrent deletes, one gets the row.
                let taken: Option<(i64, i64)> = sqlx::query_as(
                    "DELETE FROM bot_link_codes WHERE hash = $1 RETURNING user_id, expires_at_ms",
                )
                .bind(hash.as_slice())
                .fetch_optional(pool)
                .await?;
                // Expired codes of anyone are useless: clear them while here.
                sqlx::query("DELETE FROM bot_link_codes WHERE expires_at_ms <= $1")
                    .bind(now_ms)
                    .execute(pool)
                    .await?;
                Ok(taken
                    .filter(|(_, expires_at_ms)| now_ms < *expires_at_ms)
                    .map(|(user, _)| UserId(user)))
            }

            // -- link confirmations, wrong link codes, unlink -------------

            fn pending_link_from_row(row: &DbRow) -> Result<PendingLink, Error> {
                const T: &str = "bot_pending_links";
                Ok(PendingLink {
                    platform: platform(row, T, "platform")?,
                    id: user_id_of(row, T, "platform_id")?,
                    from: UserId(get(row, T, "from_user")?),
                    to: UserId(get(row, T, "to_user")?),
                    created_at_ms: get(row, T, "created_at_ms")?,
                    expires_at_ms: get(row, T, "expires_at_ms")?,
                })
            }

            pub(crate) async fn put_pending_link(
                pool: &Pool,
                link: &PendingLink,
            ) -> Result<(), Error> {
                // Expired ones of anyone are useless: clear them while here.
                sqlx::query("DELETE FROM bot_pending_links WHERE expires_at_ms <= $1")
                    .bind(link.created_at_ms)
                    .execute(pool)
                    .await?;
                sqlx::query(
                    "INSERT INTO bot_pending_links (platform, platform_id, from_user, to_user,
                         created_at_ms, expires_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (platform, platform_id) DO UPDATE
                         SET from_user = excluded.from_user, to_user = excluded.to_user,
                             created_at_ms = excluded.created_at_ms,
                             expires_at_ms = excluded.expires_at_ms",
                )
                .bind(link.platform.as_str())
                .bind(link.id.as_str())
                .bind(link.from.0)
                .bind(link.to.0)
                .bind(link.created_at_ms)
                .bind(link.expires_at_ms)
                .execute(pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn pending_link(
                pool: &Pool,
                platform: Platform,
                id: &PlatformUserId,
                now_ms: i64,
            ) -> Result<Option<PendingLink>, Error> {
                let row = sqlx::query(
                    "SELECT platform, platform_id, from_user, to_user, created_at_ms, expires_at_ms
                     FROM bot_pending_links
                     WHERE platform = $1 AND platform_id = $2 AND expires_at_ms > $3",
                )
                .bind(platform.as_str())
                .bind(id.as_str())
                .bind(now_ms)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(pending_link_from_row).transpose()
            }

            pub(crate) async fn take_pending_link(
                pool: &Pool,
                platform: Platform,
                id: &PlatformUserId,
                now_ms: i64,
            ) -> Result<Option<PendingLink>, Error> {
                // Single use: of concurrent deletes, one gets the row.
                let row = sqlx::query(
                    "DELETE FROM bot_pending_links WHERE platform = $1 AND platform_id = $2
                     RETURNING platform, platform_id, from_user, to_user, created_at_ms,
                         expires_at_ms",
                )
                .bind(platform.as_str())
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
                let link = row.as_ref().map(pending_link_from_row).transpose()?;
                Ok(link.filter(|link| now_ms < link.expires_at_ms))
            }

            pub(crate) async fn begin_link_attempt(
                pool: &Pool,
                platform: Platform,
                id: &PlatformUserId,
                now_ms: i64,
                bounds: &LinkAttemptBounds,
            ) -> Result<LinkAttempt, Error> {
                let identity_since_ms = now_ms.saturating_sub(bounds.per_identity_window_ms);
                let global_since_ms = now_ms.saturating_sub(bounds.global_window_ms);
                let mut tx = pool.begin_with($begin).await?;
                // Attempts are checked and recorded one at a time.
                sqlx::query(concat!(
                    "SELECT id FROM bot_link_attempt_gate WHERE id = 1",
                    $lock
                ))
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM bot_link_attempts WHERE at_ms <= $1")
                    .bind(identity_since_ms.min(global_since_ms))
                    .execute(&mut *tx)
                    .await?;
                let (count, oldest_ms): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*), MIN(at_ms) FROM bot_link_attempts
                     WHERE platform = $1 AND platform_id = $2 AND at_ms > $3",
                )
                .bind(platform.as_str())
                .bind(id.as_str())
                .bind(identity_since_ms)
                .fetch_one(&mut *tx)
                .await?;
                if count >= i64::from(bounds.per_identity_max) {
                    tx.rollback().await?;
                    let until_ms = oldest_ms
                        .unwrap_or(now_ms)
                        .saturating_add(bounds.per_identity_window_ms);
                    return Ok(LinkAttempt::IdentityBound { until_ms });
                }
                let (count, oldest_ms): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*), MIN(at_ms) FROM bot_link_attempts WHERE at_ms > $1",
                )
                .bind(global_since_ms)
                .fetch_one(&mut *tx)
                .await?;
                if count >= i64::from(bounds.global_max) {
                    tx.rollback().await?;
                    let until_ms = oldest_ms
                        .unwrap_or(now_ms)
                        .saturating_add(bounds.global_window_ms);
                    return Ok(LinkAttempt::GlobalBound { until_ms });
                }
                let attempt: i64 = sqlx::query_scalar(
                    "INSERT INTO bot_link_attempts (platform, platform_id, at_ms)
                     VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(platform.as_str())
                .bind(id.as_str())
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(LinkAttempt::Allowed { attempt })
            }

            pub(crate) async fn forget_link_attempt(pool: &Pool, attempt: i64) -> Result<(), Error> {
                sqlx::query("DELETE FROM bot_link_attempts WHERE id = $1")
                    .bind(attempt)
                    .execute(pool)
                    .await?;
                Ok(())
            }

            pub(crate) async fn detach_identity(
                pool: &Pool,
                platform: Platform,
                id: &PlatformUserId,
                from: UserId,
                now_ms: i64,
            ) -> Result<Option<UserId>, Error> {
                let mut tx = pool.begin_with($begin).await?;
                let user: Option<i64> = sqlx::query_scalar(concat!(
                    "SELECT user_id FROM bot_identities WHERE platform = $1 AND platform_id = $2",
                    $lock
                ))
                .bind(platform.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if user != Some(from.0) {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let new_user: i64 = sqlx::query_scalar(
                    "INSERT INTO bot_users (created_at_ms) VALUES ($1) RETURNING id",
                )
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE bot_identities SET user_id = $3, user_since_ms = $4
                     WHERE platform = $1 AND platform_id = $2",
                )
                .bind(platform.as_str())
                .bind(id.as_str())
                .bind(new_user)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                // The cards this identity linked go with it.
                sqlx::query(
                    "UPDATE bot_cards SET user_id = $4
                     WHERE user_id = $3 AND added_by_platform = $1 AND added_by_id = $2",
                )
                .bind(platform.as_str())
                .bind(id.as_str())
                .bind(from.0)
                .bind(new_user)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some(UserId(new_user)))
            }

            // -- payments ------------------------------------------------

            /// Binds a payment's values as `$1..$24`, in the order of
            /// `payment_columns!`.
            fn bind_payment<'q>(query: Query<'q>, p: &Payment) -> Query<'q> {
                bind_values(query, payment_values(p))
            }

            /// Binds plain values, each with its type even when absent
            /// (every module of this crate binds through it).
            pub(crate) fn bind_values<'q>(mut query: Query<'q>, values: Vec<SqlValue>) -> Query<'q> {
                for value in values {
                    query = match value {
                        SqlValue::Int(v) => query.bind(v),
                        SqlValue::Text(v) => query.bind(v),
                        SqlValue::Bytes(v) => query.bind(v),
                        SqlValue::Uuid(v) => query.bind(v.map(Uuid::from_u128)),
                        SqlValue::Bool(v) => query.bind(v),
                    };
                }
                query
            }

            pub(crate) async fn insert_payment(
                pool: &Pool,
                payment: &Payment,
            ) -> Result<Payment, Error> {
                keep_first(pool, payment).await
            }

            pub(crate) async fn payment(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<Payment>, Error> {
                by_reference(pool, reference).await
            }

            pub(crate) async fn payment_by_transfer(
                pool: &Pool,
                transfer: TransferId,
            ) -> Result<Option<Payment>, Error> {
                by_uuid(pool, "transfer_id", transfer).await
            }

            pub(crate) async fn payments_awaiting_code(
                pool: &Pool,
                payer: UserId,
            ) -> Result<Vec<Payment>, Error> {
                let query = select::<Payment>(
                    "WHERE payer = $1 AND state = 'awaiting_code'
                     ORDER BY created_at_ms DESC, seq DESC",
                )
                .bind(payer.0);
                all(pool, query).await
            }

            pub(crate) async fn payments_escrowed_for(
                pool: &Pool,
                platform: Platform,
                handle: &Handle,
            ) -> Result<Vec<Payment>, Error> {
                let query = select::<Payment>(
                    "WHERE payee_platform = $1 AND payee_handle = $2 AND state = 'escrowed'
                     ORDER BY created_at_ms, seq",
                )
                .bind(platform.as_str())
                .bind(handle.as_str());
                all(pool, query).await
            }

            pub(crate) async fn payments_due(
                pool: &Pool,
                now_ms: i64,
                limit: u32,
            ) -> Result<Vec<Payment>, Error> {
                // The states are `DUE_STATES`.
                let query = select::<Payment>(
                    "WHERE due_at_ms <= $1 AND state IN ('awaiting_code', 'escrowed', 'held')
                     ORDER BY due_at_ms, seq LIMIT CAST($2 AS BIGINT)",
                )
                .bind(now_ms)
                .bind(i64::from(limit));
                all(pool, query).await
            }

            pub(crate) async fn payments_held(
                pool: &Pool,
                limit: u32,
            ) -> Result<Vec<Payment>, Error> {
                let query = select::<Payment>(
                    "WHERE state = 'held' ORDER BY updated_at_ms, seq LIMIT CAST($1 AS BIGINT)",
                )
                .bind(i64::from(limit));
                all(pool, query).await
            }

            pub(crate) async fn open_payments(
                pool: &Pool,
                counted_max: u32,
            ) -> Result<Vec<(PaymentState, u64)>, Error> {
                // The states are `DUE_STATES`; only they have a `due_at_ms`,
                // so the partial index `bot_payments_due` holds them all.
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT state, COUNT(*) FROM (
                         SELECT state FROM bot_payments
                         WHERE due_at_ms IS NOT NULL
                           AND state IN ('awaiting_code', 'escrowed', 'held')
                         LIMIT CAST($1 AS BIGINT)
                     ) AS open GROUP BY state",
                )
                .bind(i64::from(counted_max))
                .fetch_all(pool)
                .await?;
                rows.into_iter()
                    .map(|(state, count)| {
                        let parsed = PaymentState::from_str_opt(&state)
                            .ok_or_else(|| corrupt("bot_payments", "state", &state))?;
                        Ok((parsed, u64::try_from(count).unwrap_or(0)))
                    })
                    .collect()
            }

            pub(crate) async fn payments_of_user(
                pool: &Pool,
                user: UserId,
                limit: u32,
            ) -> Result<Vec<Payment>, Error> {
                let query = select::<Payment>(
                    "WHERE payer = $1 OR payee_user = $1
                     ORDER BY created_at_ms DESC, seq DESC LIMIT CAST($2 AS BIGINT)",
                )
                .bind(user.0)
                .bind(i64::from(limit));
                all(pool, query).await
            }

            pub(crate) async fn history_of_user(
                pool: &Pool,
                user: UserId,
                limit: u32,
            ) -> Result<Vec<Payment>, Error> {
                // The states are `UNSEEN_BY_PAYEE_STATES`: a payee never
                // heard of a payment that ended (or waits) before its code.
                let query = select::<Payment>(
                    "WHERE payer = $1
                        OR (payee_user = $1 AND state NOT IN
                            ('awaiting_code', 'cancelled', 'expired', 'locked_out', 'leaked',
                             'held', 'rejected', 'hold_expired'))
                     ORDER BY created_at_ms DESC, seq DESC LIMIT CAST($2 AS BIGINT)",
                )
                .bind(user.0)
                .bind(i64::from(limit));
                all(pool, query).await
            }

            pub(crate) async fn has_paid_before(
                pool: &Pool,
                payer: UserId,
                payee: UserId,
            ) -> Result<bool, Error> {
                let found: Option<i32> =
                    sqlx::query_scalar(concat!("SELECT ", paid_before_sql!("$1", "$2")))
                        .bind(payer.0)
                        .bind(payee.0)
                        .fetch_one(pool)
                        .await?;
                Ok(found.is_some())
            }

            /// `identities_with_skeleton`, `has_paid_before`, the payee's
            /// tier and the payer's payments waiting for a code (a group's
            /// legs once) in one statement: one row per look-alike, each
            /// carrying the answers, or one row of NULL identity columns
            /// when there is none.
            pub(crate) async fn payee_facts(
                pool: &Pool,
                platform: Platform,
                skeleton: &str,
                limit: u32,
                payer: UserId,
                payee: UserId,
            ) -> Result<PayeeFacts, Error> {
                // `LIMIT CAST($3 ..)`, not
                // `LIMIT $3`: SQLite plans with a bound LIMIT's value, so it
                // would compile the statement again at every run (each binds
                // it anew); a cast is planned once.
                let rows = sqlx::query(concat!(
                    "SELECT f.paid_before, f.payee_tier, f.payer_waiting, i.* FROM (
                         SELECT CASE WHEN ",
                    paid_before_sql!("$4", "$5"),
                    " IS NULL THEN 0 ELSE 1 END AS paid_before,
                         (SELECT tier FROM bot_user_tiers WHERE user_id = $5) AS payee_tier,
                         ",
                    payments_waiting_sql!("$4"),
                    " AS payer_waiting) AS f
                     LEFT JOIN (SELECT ",
                    identity_columns!(),
                    " FROM bot_identities WHERE platform = $1 AND skeleton = $2
                         ORDER BY last_seen_ms DESC, platform_id
                         LIMIT CAST($3 AS BIGINT)) AS i ON 1 = 1
                     ORDER BY i.last_seen_ms DESC, i.platform_id"
                ))
                .bind(platform.as_str())
                .bind(skeleton)
                .bind(i64::from(limit))
                .bind(payer.0)
                .bind(payee.0)
                .fetch_all(pool)
                .await?;
                let mut facts = PayeeFacts::default();
                for row in &rows {
                    if let Some(identity) = read_payee_facts(row, &mut facts, &IDENTITY_COLUMNS)? {
                        facts.look_alikes.push(identity);
                    }
                }
                Ok(facts)
            }

            /// One row of `payee_facts` (or `see_payee`): its answers into
            /// `facts`, and the identity it carries, if any.
            /// The identity is in `columns`.
            fn read_payee_facts(
                row: &DbRow,
                facts: &mut PayeeFacts,
                columns: &IdentityColumns,
            ) -> Result<Option<Identity>, Error> {
                let paid_before: i32 = get(row, "bot_payments", "paid_before")?;
                facts.paid_before = paid_before != 0;
                facts.payee_tier = tier_column(row, "payee_tier")?;
                let waiting: i64 = get(row, "bot_payments", "payer_waiting")?;
                facts.payer_waiting = u64::try_from(waiting)
                    .map_err(|_| corrupt("bot_payments", "payer_waiting", waiting))?;
                let [_, platform_id, ..] = *columns;
                let found: Option<String> = get(row, "bot_identities", platform_id)?;
                found.map(|_| identity_in(row, columns)).transpose()
            }

            /// `see_payee`'s rows (`payee_and_look_alikes_sql!`'s): the
            /// payee, if the first row is theirs, and the facts, with every
            /// other row's identity a look-alike.
            fn payee_rows(rows: &[DbRow]) -> Result<(Option<Identity>, PayeeFacts), Error> {
                let mut facts = PayeeFacts::default();
                let mut payee = None;
                for row in rows {
                    let Some(identity) = read_payee_facts(row, &mut facts, &PAYEE_IDENTITY_COLUMNS)?
                    else {
                        continue;
                    };
                    let is_payee: Option<i32> = get(row, "bot_identities", "is_payee")?;
                    if is_payee == Some(1) {
                        payee = Some(identity);
                    } else {
                        facts.look_alikes.push(identity);
                    }
                }
                Ok((payee, facts))
            }

            /// `Store::see_payee`: the payee's identity (by platform id),
            /// and `payee_facts` about them, in one statement: the payee's
            /// row first (`is_payee` 1), then one row per look-alike, each
            /// carrying the answers (or one row of NULL identity columns
            /// when there is neither). A payee who is new or changed is
            /// then recorded and the facts read for the user they are now.
            pub(crate) async fn see_payee(
                pool: &Pool,
                seen: &SeenUser,
                limit: u32,
                payer: UserId,
                now_ms: i64,
            ) -> Result<(Identity, Option<PayeeFacts>), Error> {
                let Some(skeleton) = &seen.skeleton else {
                    let (identity, _) = upsert_identity(pool, seen, now_ms).await?;
                    return Ok((identity, None));
                };
                // As `payee_facts`, with the payee's user read from their
                // identity (`payee`) instead of bound.
                let rows = sqlx::query(concat!(
                    "WITH payee AS (SELECT ",
                    identity_columns!(),
                    " FROM bot_identities WHERE platform = $1 AND platform_id = $5)
                     SELECT f.*, i.* FROM (SELECT ",
                    payee_facts_sql!("$4"),
                    ") AS f",
                    payee_and_look_alikes_sql!("$1", "$2", "$3")
                ))
                .bind(seen.platform.as_str())
                .bind(skeleton.as_str())
                .bind(i64::from(limit))
                .bind(payer.0)
                .bind(seen.id.as_str())
                .fetch_all(pool)
                .await?;
                let (payee, facts) = payee_rows(&rows)?;
                match payee {
                    Some(known) if sighting_changes_nothing(&known, seen, now_ms) => {
                        Ok((known, Some(facts)))
                    }
                    _ => {
                        let (identity, _) = record_sighting(pool, seen, now_ms).await?;
                        let facts =
                            payee_facts(pool, seen.platform, skeleton, limit, payer, identity.user)
                                .await?;
                        Ok((identity, Some(facts)))
                    }
                }
            }

            /// `payer`'s payments waiting for their code, a group's legs
            /// once, in one statement.
            pub(crate) async fn payments_waiting(pool: &Pool, payer: UserId) -> Result<u64, Error> {
                let waiting: i64 =
                    sqlx::query_scalar(concat!("SELECT ", payments_waiting_sql!("$1")))
                        .bind(payer.0)
                        .fetch_one(pool)
                        .await?;
                u64::try_from(waiting).map_err(|_| corrupt("bot_payments", "payer_waiting", waiting))
            }

            pub(crate) async fn update_payment(
                pool: &Pool,
                payment: &Payment,
            ) -> Result<bool, Error> {
                compare_and_swap(pool, payment).await
            }

            // -- requests ------------------------------------------------

            /// Binds a request's values as `$1..$18`, in the order of
            /// `request_columns!`.
            fn bind_request<'q>(query: Query<'q>, r: &PaymentRequest) -> Query<'q> {
                query
                    .bind(r.reference.as_str())
                    .bind(r.requester.0)
                    .bind(r.requester_platform.as_str())
                    .bind(r.requester_id.as_str())
                    .bind(r.requester_label.as_str())
                    .bind(r.payer.0)
                    .bind(r.payer_platform.as_str())
                    .bind(r.payer_id.as_str())
                    .bind(r.payer_label.as_str())
                    .bind(r.amount.minor())
                    .bind(r.amount.currency().code())
                    .bind(r.memo.as_ref().map(Memo::as_str))
                    .bind(r.split.as_ref().map(ShortRef::as_str))
                    .bind(r.state.as_str())
                    .bind(r.payment.as_ref().map(ShortRef::as_str))
                    .bind(r.created_at_ms)
                    .bind(r.updated_at_ms)
                    .bind(r.expires_at_ms)
                    .bind(i64::from(r.reminders))
                    .bind(r.reminded_at_ms)
                    .bind(r.revision)
            }

            pub(crate) async fn insert_request(
                pool: &Pool,
                request: &PaymentRequest,
            ) -> Result<PaymentRequest, Error> {
                keep_first(pool, request).await
            }

            pub(crate) async fn request(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<PaymentRequest>, Error> {
                by_reference(pool, reference).await
            }

            pub(crate) async fn update_request(
                pool: &Pool,
                request: &PaymentRequest,
            ) -> Result<bool, Error> {
                compare_and_swap(pool, request).await
            }

            pub(crate) async fn requests_of_split(
                pool: &Pool,
                split: &ShortRef,
            ) -> Result<Vec<PaymentRequest>, Error> {
                let query = select::<PaymentRequest>(
                    "WHERE split_ref = $1
                     ORDER BY seq",
                )
                .bind(split.as_str());
                all(pool, query).await
            }

            pub(crate) async fn requests_to_pay(
                pool: &Pool,
                payer: UserId,
                limit: u32,
            ) -> Result<Vec<PaymentRequest>, Error> {
                let query = select::<PaymentRequest>(
                    "WHERE payer = $1 AND state IN ('open', 'approved')
                     ORDER BY seq LIMIT CAST($2 AS BIGINT)",
                )
                .bind(payer.0)
                .bind(i64::from(limit));
                all(pool, query).await
            }

            pub(crate) async fn requests_of_user(
                pool: &Pool,
                user: UserId,
                limit: u32,
            ) -> Result<Vec<PaymentRequest>, Error> {
                // Open ones first (those still to act on), then the most
                // recent; both sides.
                let query = select::<PaymentRequest>(
                    "WHERE payer = $1 OR requester = $1
                     ORDER BY CASE WHEN state IN ('open', 'approved') THEN 0 ELSE 1 END,
                              created_at_ms DESC, seq DESC
                     LIMIT CAST($2 AS BIGINT)",
                )
                .bind(user.0)
                .bind(i64::from(limit));
                all(pool, query).await
            }

            pub(crate) async fn requests_expiring(
                pool: &Pool,
                now_ms: i64,
                limit: u32,
            ) -> Result<Vec<PaymentRequest>, Error> {
                let query = select::<PaymentRequest>(
                    "WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= $1
                       AND state IN ('open', 'approved')
                     ORDER BY expires_at_ms, seq LIMIT CAST($2 AS BIGINT)",
                )
                .bind(now_ms)
                .bind(i64::from(limit));
                all(pool, query).await
            }

            // -- splits --------------------------------------------------

            pub(crate) async fn insert_split(pool: &Pool, split: &Split) -> Result<Split, Error> {
                let currency = split.total.currency();
                if split.creator_share.currency() != currency {
                    return Err(Error::Refused(format!(
                        "split {}: the creator's share is in {}, the total in {}",
                        split.reference,
                        split.creator_share.currency().code(),
                        currency.code()
                    )));
                }
                keep_first(pool, split).await
            }

            /// Binds a split's values as `$1..$9`, in the order of
            /// `split_columns!`.
            fn bind_split<'q>(query: Query<'q>, split: &Split) -> Query<'q> {
                query
                    .bind(split.reference.as_str())
                    .bind(split.creator.0)
                    .bind(split.platform.as_str())
                    .bind(split.chat.as_str())
                    .bind(split.total.minor())
                    .bind(split.creator_share.minor())
                    .bind(split.total.currency().code())
                    .bind(split.memo.as_ref().map(Memo::as_str))
                    .bind(split.created_at_ms)
            }

            pub(crate) async fn split(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<Split>, Error> {
                by_reference(pool, reference).await
            }

            pub(crate) async fn latest_split(
                pool: &Pool,
                creator: UserId,
                platform: Platform,
                chat: Option<&ChatId>,
            ) -> Result<Option<Split>, Error> {
                let latest = "ORDER BY created_at_ms DESC, seq DESC LIMIT 1";
                let query = match chat {
                    Some(chat) => select::<Split>(&format!(
                        "WHERE creator = $1 AND platform = $2 AND chat = $3 {latest}"
                    ))
                    .bind(creator.0)
                    .bind(platform.as_str())
                    .bind(chat.as_str()),
                    None => {
                        select::<Split>(&format!("WHERE creator = $1 AND platform = $2 {latest}"))
                            .bind(creator.0)
                            .bind(platform.as_str())
                    }
                };
                one(pool, query).await
            }
            // -- cards ---------------------------------------------------

            /// A token column: a bad one is reported without its value (a
            /// network token may look like a card number).
            fn token(row: &DbRow, table: &str) -> Result<CardToken, Error> {
                let text: String = get(row, table, "token")?;
                CardToken::new(&text).map_err(|_| corrupt(table, "token", "not a card token"))
            }

            fn card_from_row(row: &DbRow) -> Result<LinkedCard, Error> {
                const T: &str = "bot_cards";
                let fingerprint: Vec<u8> = get(row, T, "fingerprint")?;
                let expiry = expiry_of(row, T)?;
                let added_by = match (
                    parse_opt(row, T, "added_by_platform", Platform::from_str_opt)?,
                    parse_opt(row, T, "added_by_id", |s| PlatformUserId::new(s).ok())?,
                ) {
                    (Some(platform), Some(id)) => Some((platform, id)),
                    (None, None) => None,
                    _ => return Err(corrupt(T, "added_by_id", "half an identity")),
                };
                Ok(LinkedCard {
                    id: get(row, T, "id")?,
                    user: UserId(get(row, T, "user_id")?),
                    token: token(row, T)?,
                    brand: parse(row, T, "brand", Brand::from_code)?,
                    last4: parse(row, T, "last4", Last4::parse)?,
                    expiry,
                    fingerprint: CardFingerprint::from_bytes(&fingerprint)
                        .ok_or_else(|| corrupt(T, "fingerprint", "not 32 bytes"))?,
                    created_at_ms: get(row, T, "created_at_ms")?,
                    added_by,
                })
            }

            pub(crate) async fn insert_card(
                pool: &Pool,
                card: &LinkedCard,
            ) -> Result<Option<LinkedCard>, Error> {
                insert_card_on(pool, card).await
            }

            /// Links `card` (its `id` is assigned here) unless its user has
            /// it already (same fingerprint): the stored card, or `None`.
            async fn insert_card_on<'c>(
                conn: impl sqlx::Executor<'c, Database = Db>,
                card: &LinkedCard,
            ) -> Result<Option<LinkedCard>, Error> {
                let row = sqlx::query(concat!(
                    "INSERT INTO bot_cards (user_id, token, brand, last4, exp_year, exp_month,
                                            fingerprint, created_at_ms, added_by_platform,
                                            added_by_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (user_id, fingerprint) DO NOTHING
                     RETURNING ",
                    card_columns!()
                ))
                .bind(card.user.0)
                .bind(card.token.as_str())
                .bind(card.brand.code())
                .bind(card.last4.to_string())
                .bind(i64::from(card.expiry.year()))
                .bind(i64::from(card.expiry.month()))
                .bind(card.fingerprint.to_bytes().to_vec())
                .bind(card.created_at_ms)
                .bind(card.added_by.as_ref().map(|(platform, _)| platform.as_str()))
                .bind(card.added_by.as_ref().map(|(_, id)| id.as_str()))
                .fetch_optional(conn)
                .await?;
                row.as_ref().map(card_from_row).transpose()
            }

            pub(crate) async fn cards_of(
                pool: &Pool,
                user: UserId,
            ) -> Result<Vec<LinkedCard>, Error> {
                let query = select::<LinkedCard>(
                    "WHERE user_id = $1
                     ORDER BY created_at_ms, id",
                )
                .bind(user.0);
                all(pool, query).await
            }

            pub(crate) async fn remove_card(
                pool: &Pool,
                user: UserId,
                id: i64,
            ) -> Result<bool, Error> {
                let done = sqlx::query("DELETE FROM bot_cards WHERE user_id = $1 AND id = $2")
                    .bind(user.0)
                    .bind(id)
                    .execute(pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            // -- card operations -----------------------------------------

            fn card_op_from_row(row: &DbRow) -> Result<CardOp, Error> {
                const T: &str = "bot_card_ops";
                let transfer: Uuid = get(row, T, "transfer_id")?;
                let attempts: i64 = get(row, T, "rail_attempts")?;
                Ok(CardOp {
                    reference: short_ref(row, T, "reference")?,
                    transfer_id: TransferId::new(transfer.as_u128())
                        .ok_or_else(|| corrupt(T, "transfer_id", "the reserved zero id"))?,
                    kind: parse(row, T, "kind", CardOpKind::from_str_opt)?,
                    user: UserId(get(row, T, "user_id")?),
                    platform: platform(row, T, "platform")?,
                    platform_user_id: user_id_of(row, T, "platform_user_id")?,
                    token: token(row, T)?,
                    brand: parse(row, T, "brand", Brand::from_code)?,
                    last4: parse(row, T, "last4", Last4::parse)?,
                    amount: amount(row, T, "amount")?,
                    fee_minor: get(row, T, "fee")?,
                    challenge: challenge(row, T)?,
                    state: parse(row, T, "state", CardOpState::from_str_opt)?,
                    review: parse(row, T, "review", Review::parse)?,
                    initiated_at_ms: get(row, T, "initiated_at_ms")?,
                    rail_reference: parse_opt(row, T, "status_id", |s| RailReference::new(s).ok())?,
                    decline_code: parse_opt(row, T, "action_code", |s| DeclineCode::new(s).ok())?,
                    rail_attempts: u32::try_from(attempts)
                        .map_err(|e| corrupt(T, "rail_attempts", e))?,
                    due_at_ms: get(row, T, "due_at_ms")?,
                    created_at_ms: get(row, T, "created_at_ms")?,
                    updated_at_ms: get(row, T, "updated_at_ms")?,
                    revision: get(row, T, "revision")?,
                })
            }

            /// Binds an operation's values as `$1..$25`, in the order of
            /// `card_op_columns!`.
            fn bind_card_op<'q>(query: Query<'q>, op: &CardOp) -> Query<'q> {
                query
                    .bind(op.reference.as_str())
                    .bind(transfer_uuid(op.transfer_id))
                    .bind(op.kind.as_str())
                    .bind(op.user.0)
                    .bind(op.platform.as_str())
                    .bind(op.platform_user_id.as_str())
                    .bind(op.token.as_str())
                    .bind(op.brand.code())
                    .bind(op.last4.to_string())
                    .bind(op.amount.minor())
                    .bind(op.fee_minor)
                    .bind(op.amount.currency().code())
                    .bind(op.challenge.hash.to_bytes().to_vec())
                    .bind(op.challenge.issued_at_ms)
                    .bind(i64::from(op.challenge.failed_attempts))
                    .bind(op.state.as_str())
                    .bind(op.initiated_at_ms)
                    .bind(op.rail_reference.as_ref().map(ToString::to_string))
                    .bind(op.decline_code.as_ref().map(ToString::to_string))
                    .bind(i64::from(op.rail_attempts))
                    .bind(op.due_at_ms)
                    .bind(op.created_at_ms)
                    .bind(op.updated_at_ms)
                    .bind(op.review.to_text())
                    .bind(op.revision)
            }

            pub(crate) async fn card_op(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<CardOp>, Error> {
                by_reference(pool, reference).await
            }

            pub(crate) async fn insert_card_op(pool: &Pool, op: &CardOp) -> Result<CardOp, Error> {
                keep_first(pool, op).await
            }

            pub(crate) async fn card_ops_awaiting_code(
                pool: &Pool,
                user: UserId,
            ) -> Result<Vec<CardOp>, Error> {
                let query = select::<CardOp>(
                    "WHERE user_id = $1 AND state = 'awaiting_code'
                     ORDER BY created_at_ms DESC, seq DESC",
                )
                .bind(user.0);
                all(pool, query).await
            }

            pub(crate) async fn card_ops_in_flight(
                pool: &Pool,
                user: UserId,
            ) -> Result<Vec<CardOp>, Error> {
                let query = select::<CardOp>(
                    "WHERE user_id = $1 AND state IN ('sent', 'pending')
                     ORDER BY created_at_ms, seq",
                )
                .bind(user.0);
                all(pool, query).await
            }

            pub(crate) async fn card_adds_held(
                pool: &Pool,
                limit: u32,
            ) -> Result<Vec<CardAdd>, Error> {
                let query = select::<CardAdd>(
                    "WHERE state = 'held' ORDER BY updated_at_ms, seq LIMIT CAST($1 AS BIGINT)",
                )
                .bind(i64::from(limit));
                all(pool, query).await
            }

            pub(crate) async fn card_ops_held(
                pool: &Pool,
                limit: u32,
            ) -> Result<Vec<CardOp>, Error> {
                let query = select::<CardOp>(
                    "WHERE state = 'held' ORDER BY updated_at_ms, seq LIMIT CAST($1 AS BIGINT)",
                )
                .bind(i64::from(limit));
                all(pool, query).await
            }

            pub(crate) async fn card_ops_due(
                pool: &Pool,
                now_ms: i64,
                limit: u32,
            ) -> Result<Vec<CardOp>, Error> {
                let query = select::<CardOp>(
                    "WHERE due_at_ms IS NOT NULL AND due_at_ms <= $1
                     AND state IN ('awaiting_code', 'sent', 'pending', 'held')
                     ORDER BY due_at_ms, seq LIMIT CAST($2 AS BIGINT)",
                )
                .bind(now_ms)
                .bind(i64::from(limit));
                all(pool, query).await
            }

            pub(crate) async fn update_card_op(pool: &Pool, op: &CardOp) -> Result<bool, Error> {
                compare_and_swap(pool, op).await
            }

            // -- card adds -----------------------------------------------

            fn expiry_of(row: &DbRow, table: &str) -> Result<Expiry, Error> {
                let year: i64 = get(row, table, "exp_year")?;
                let month: i64 = get(row, table, "exp_month")?;
                u16::try_from(year)
                    .ok()
                    .zip(u8::try_from(month).ok())
                    .and_then(|(y, m)| Expiry::new(y, m))
                    .ok_or_else(|| corrupt(table, "exp_year", "not a month"))
            }

            fn card_add_from_row(row: &DbRow) -> Result<CardAdd, Error> {
                const T: &str = "bot_card_adds";
                let add_id: Uuid = get(row, T, "add_id")?;
                let fingerprint: Vec<u8> = get(row, T, "fingerprint")?;
                Ok(CardAdd {
                    reference: short_ref(row, T, "reference")?,
                    add_id: TransferId::new(add_id.as_u128())
                        .ok_or_else(|| corrupt(T, "add_id", "the reserved zero id"))?,
                    user: UserId(get(row, T, "user_id")?),
                    platform: platform(row, T, "platform")?,
                    platform_user_id: user_id_of(row, T, "platform_user_id")?,
                    token: token(row, T)?,
                    brand: parse(row, T, "brand", Brand::from_code)?,
                    last4: parse(row, T, "last4", Last4::parse)?,
                    expiry: expiry_of(row, T)?,
                    fingerprint: CardFingerprint::from_bytes(&fingerprint)
                        .ok_or_else(|| corrupt(T, "fingerprint", "not 32 bytes"))?,
                    challenge: challenge(row, T)?,
                    state: parse(row, T, "state", CardAddState::from_str_opt)?,
                    review: parse(row, T, "review", Review::parse)?,
                    due_at_ms: get(row, T, "due_at_ms")?,
                    created_at_ms: get(row, T, "created_at_ms")?,
                    updated_at_ms: get(row, T, "updated_at_ms")?,
                    revision: get(row, T, "revision")?,
                })
            }

            /// Binds an add's values as `$1..$19`, in the order of
            /// `card_add_columns!`.
            fn bind_card_add<'q>(query: Query<'q>, add: &CardAdd) -> Query<'q> {
                query
                    .bind(add.reference.as_str())
                    .bind(transfer_uuid(add.add_id))
                    .bind(add.user.0)
                    .bind(add.platform.as_str())
                    .bind(add.platform_user_id.as_str())
                    .bind(add.token.as_str())
                    .bind(add.brand.code())
                    .bind(add.last4.to_string())
                    .bind(i64::from(add.expiry.year()))
                    .bind(i64::from(add.expiry.month()))
                    .bind(add.fingerprint.to_bytes().to_vec())
                    .bind(add.challenge.hash.to_bytes().to_vec())
                    .bind(add.challenge.issued_at_ms)
                    .bind(i64::from(add.challenge.failed_attempts))
                    .bind(add.state.as_str())
                    .bind(add.due_at_ms)
                    .bind(add.created_at_ms)
                    .bind(add.updated_at_ms)
                    .bind(add.review.to_text())
                    .bind(add.revision)
            }

            pub(crate) async fn card_add(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<CardAdd>, Error> {
                by_reference(pool, reference).await
            }

            pub(crate) async fn insert_card_add(
                pool: &Pool,
                add: &CardAdd,
            ) -> Result<CardAdd, Error> {
                keep_first(pool, add).await
            }

            pub(crate) async fn card_records_awaiting_code(
                pool: &Pool,
                user: UserId,
            ) -> Result<bool, Error> {
                let found: Option<i32> = sqlx::query_scalar(
                    "SELECT 1 WHERE EXISTS (
                         SELECT 1 FROM bot_card_ops
                         WHERE user_id = $1 AND state = 'awaiting_code')
                     OR EXISTS (
                         SELECT 1 FROM bot_card_adds
                         WHERE user_id = $1 AND state = 'awaiting_code')",
                )
                .bind(user.0)
                .fetch_optional(pool)
                .await?;
                Ok(found.is_some())
            }

            pub(crate) async fn codes_awaited(
                pool: &Pool,
                user: UserId,
            ) -> Result<CodesAwaited, Error> {
                let (cards, standing, autopays): (i32, i32, i32) = sqlx::query_as(concat!(
                    "SELECT ",
                    codes_awaited_sql!("$1")
                ))
                .bind(user.0)
                .fetch_one(pool)
                .await?;
                Ok(CodesAwaited {
                    cards: cards != 0,
                    standing: standing != 0,
                    autopays: autopays != 0,
                })
            }

            /// `payments_awaiting_code`, each payee account's user now
            /// (`identity`) and `codes_awaited` in one statement: one row
            /// per payment, each carrying the flags, or one row of NULL
            /// payment columns when none waits.
            pub(crate) async fn awaiting_code(
                pool: &Pool,
                user: UserId,
            ) -> Result<AwaitingCode, Error> {
                let rows = sqlx::query(concat!(
                    "SELECT f.cards_awaited, f.standing_awaited, f.autopays_awaited, p.* FROM (
                         SELECT ",
                    codes_awaited_sql!("$1"),
                    ") AS f
                     LEFT JOIN (SELECT seq, ",
                    payee_user_now_sql!("bot_payments"),
                    ", ",
                    payment_columns!(),
                    " FROM bot_payments WHERE payer = $1 AND state = 'awaiting_code') AS p
                         ON 1 = 1
                     ORDER BY p.created_at_ms DESC, p.seq DESC"
                ))
                .bind(user.0)
                .fetch_all(pool)
                .await?;
                awaiting_from_rows(&rows)
            }

            /// An `AwaitingCode` from rows of `awaiting_code`'s columns.
            fn awaiting_from_rows(rows: &[DbRow]) -> Result<AwaitingCode, Error> {
                let mut awaiting = AwaitingCode::default();
                for row in rows {
                    let flag = |column: &str| -> Result<bool, Error> {
                        Ok(get::<i32>(row, PAYMENTS_TABLE, column)? != 0)
                    };
                    awaiting.others = CodesAwaited {
                        cards: flag("cards_awaited")?,
                        standing: flag("standing_awaited")?,
                        autopays: flag("autopays_awaited")?,
                    };
                    let found: Option<String> = get(row, PAYMENTS_TABLE, "reference")?;
                    if found.is_some() {
                        let payment = payment_from_row(row)?;
                        if let Payee::User { .. } = payment.payee {
                            let user: Option<i64> =
                                get(row, "bot_identities", "payee_user_now")?;
                            awaiting.payees_now.push(PayeeNow {
                                reference: payment.reference.clone(),
                                user: user.map(UserId),
                            });
                        }
                        awaiting.payments.push(payment);
                    }
                }
                Ok(awaiting)
            }

            pub(crate) async fn card_adds_awaiting_code(
                pool: &Pool,
                user: UserId,
            ) -> Result<Vec<CardAdd>, Error> {
                let query = select::<CardAdd>(
                    "WHERE user_id = $1 AND state = 'awaiting_code'
                     ORDER BY created_at_ms DESC, seq DESC",
                )
                .bind(user.0);
                all(pool, query).await
            }

            pub(crate) async fn card_adds_due(
                pool: &Pool,
                now_ms: i64,
                limit: u32,
            ) -> Result<Vec<CardAdd>, Error> {
                let query = select::<CardAdd>(
                    "WHERE due_at_ms IS NOT NULL AND due_at_ms <= $1 AND state IN ('awaiting_code', 'held')
                     ORDER BY due_at_ms, seq LIMIT CAST($2 AS BIGINT)",
                )
                .bind(now_ms)
                .bind(i64::from(limit));
                all(pool, query).await
            }

            pub(crate) async fn update_card_add(pool: &Pool, add: &CardAdd) -> Result<bool, Error> {
                compare_and_swap(pool, add).await
            }

            pub(crate) async fn link_card_add(
                pool: &Pool,
                add: &CardAdd,
                now_ms: i64,
            ) -> Result<CardAddLinked, Error> {
                if !matches!(add.state, CardAddState::AwaitingCode | CardAddState::Held) {
                    return Ok(CardAddLinked::Changed);
                }
                let mut linked = add.clone();
                linked.state = CardAddState::Linked;
                linked.due_at_ms = None;
                linked.updated_at_ms = now_ms;
                let mut tx = pool.begin_with($begin).await?;
                if !compare_and_swap(&mut *tx, &linked).await? {
                    tx.rollback().await?;
                    return Ok(CardAddLinked::Changed);
                }
                let card = LinkedCard {
                    id: 0,
                    user: add.user,
                    token: add.token.clone(),
                    brand: add.brand,
                    last4: add.last4,
                    expiry: add.expiry,
                    fingerprint: add.fingerprint,
                    created_at_ms: now_ms,
                    added_by: Some((add.platform, add.platform_user_id.clone())),
                };
                let card = insert_card_on(&mut *tx, &card).await?;
                tx.commit().await?;
                Ok(match card {
                    Some(card) => CardAddLinked::Linked(card),
                    None => CardAddLinked::AlreadyLinked,
                })
            }

            // -- limits --------------------------------------------------

            pub(crate) async fn requests_since(
                pool: &Pool,
                user: UserId,
                side: RequestSide,
                since_ms: i64,
                limit: u32,
            ) -> Result<Vec<i64>, Error> {
                let sql = match side {
                    RequestSide::Made => {
                        "SELECT created_at_ms FROM bot_requests
                         WHERE requester = $1 AND created_at_ms > $2
                         ORDER BY created_at_ms LIMIT CAST($3 AS BIGINT)"
                    }
                    RequestSide::Received => {
                        "SELECT created_at_ms FROM bot_requests
                         WHERE payer = $1 AND created_at_ms > $2
                         ORDER BY created_at_ms LIMIT CAST($3 AS BIGINT)"
                    }
                };
                Ok(sqlx::query_scalar(sql)
                    .bind(user.0)
                    .bind(since_ms)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?)
            }
        }
    };
}

// SQLite takes the write lock up front (`BEGIN IMMEDIATE`), so a transaction
// that reads then writes never fails to upgrade its lock; PostgreSQL locks
// the identity row it reads (`FOR UPDATE`).
sql_backend!(sqlite, sqlx::Sqlite, "BEGIN IMMEDIATE", "");
sql_backend!(postgres, sqlx::Postgres, "BEGIN", " FOR UPDATE");

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(sqlite::Pool),
    Postgres(postgres::Pool),
    /// A url that names neither backend, or does not parse. The ledger
    /// refuses such a url before a store is made, so this does not happen;
    /// every call answers with this error rather than a panic.
    Missing(String),
}

/// The bot's store in the ledger's database. Cheap to clone (clones share
/// one pool).
#[derive(Clone, Debug)]
pub struct SqlStore {
    backend: Backend,
    /// The ledger whose database this is: some writes go in its batches.
    ledger: Ledger,
    /// Handled events' outcomes, written many to a statement.
    outcomes: std::sync::Arc<outcomes::OutcomeQueue>,
}

impl SqlStore {
    /// A store on the ledger's database, with a pool of its own opened from
    /// the ledger's url and options (see the crate docs for why). The pool
    /// connects on first use; the ledger has already shown the database is
    /// there. Run `ledger.migrate(BOT_MIGRATIONS)` first.
    pub fn new(ledger: &Ledger) -> SqlStore {
        SqlStore {
            backend: pool::open(ledger.config()),
            ledger: ledger.clone(),
            outcomes: std::sync::Arc::default(),
        }
    }

    /// Closes the store's pool: waits for the connections in use to be
    /// returned, then closes every connection (on SQLite the last one to
    /// close checkpoints the WAL). Calls after this fail. Close the store
    /// before the ledger, whose [`Ledger::close`] closes only its own pool.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
            Backend::Missing(_) => {}
        }
    }
}

impl SqlStore {
    /// Commits `records` in the ledger writer's next batch. On SQLite the
    /// writer holds the one write lock for its batches, so a write beside
    /// the money made on a connection of its own waits for it: such writes
    /// come here instead.
    async fn commit_in_writers_batch(
        &self,
        records: Vec<RecordWrite>,
    ) -> Result<(), ledger::SubmitError> {
        self.ledger
            .commit(ledger::Unit::records(records))
            .await
            .map(|_| ())
    }

    /// Writes handled events' outcomes (one per event), all in one commit.
    async fn write_outcomes(&self, batch: Vec<outcomes::Outcome>) -> Result<(), String> {
        match &self.backend {
            // One writer: SQLite has one write lock, which the ledger's
            // writer holds for its batches; a write of its own would wait.
            // One unit of multi-row inserts in its next batch.
            Backend::Sqlite(_) => {
                let records = batch
                    .chunks(OUTCOME_ROWS_PER_RECORD)
                    .map(|rows| {
                        let values = rows.iter().flat_map(outcomes::Outcome::values).collect();
                        RecordWrite::new(finish_events_sql(rows.len()), values)
                    })
                    .collect();
                self.commit_in_writers_batch(records)
                    .await
                    .map_err(|e| e.to_string())
            }
            // PostgreSQL: one statement of fixed text, committed alone; the
            // ledger's writer is kept for the writes that go with money.
            Backend::Postgres(pool) => {
                let mut platforms = Vec::with_capacity(batch.len());
                let mut events = Vec::with_capacity(batch.len());
                let mut texts = Vec::with_capacity(batch.len());
                let mut times = Vec::with_capacity(batch.len());
                for o in batch {
                    platforms.push(o.platform);
                    events.push(o.event);
                    texts.push(o.outcome);
                    times.push(o.now_ms);
                }
                sqlx::query(FINISH_EVENTS_PG_SQL)
                    .bind(platforms)
                    .bind(events)
                    .bind(texts)
                    .bind(times)
                    .execute(pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::from(e).to_string())
            }
            Backend::Missing(why) => Err(why.clone()),
        }
    }
}

/// What the binary's wiring asks of the database, outside the core's port.
impl SqlStore {
    /// When this database first served a production deployment, if ever
    /// (milliseconds since the epoch).
    pub async fn production_since(&self) -> Result<Option<i64>, StoreError> {
        on_backend!(self, pool => db::production_since(pool).await)
    }

    /// Records that this database serves a production deployment (the
    /// first time is kept).
    pub async fn mark_production(&self, now_ms: i64) -> Result<(), StoreError> {
        on_backend!(self, pool => db::mark_production(pool, now_ms).await)
    }
}

#[async_trait]
impl Store for SqlStore {
    fn record_write(&self, change: RecordChange<'_>) -> Result<RecordWrite, StoreError> {
        Ok(match change {
            RecordChange::InsertPayment(payment) => RecordWrite::new(
                insert_sql(PAYMENTS_TABLE, payment_columns!()),
                payment_values(payment),
            )
            .expecting_rows(1)
            .combining(&PAYMENT_ROWS.insert),
            RecordChange::UpdatePayment(payment) => RecordWrite::new(
                compare_and_swap_sql(PAYMENTS_TABLE, payment_columns!())
                    .map_err(StoreError::from)?,
                payment_values(payment),
            )
            .expecting_rows(1)
            .combining(&PAYMENT_ROWS.compare_and_swap),
            RecordChange::UpdateRequest(request) => RecordWrite::new(
                compare_and_swap_sql(REQUESTS_TABLE, request_columns!())
                    .map_err(StoreError::from)?,
                request_values(request),
            )
            .expecting_rows(1)
            .combining(&REQUEST_ROWS.compare_and_swap),
            RecordChange::InsertRequest(request) => RecordWrite::new(
                insert_sql(REQUESTS_TABLE, request_columns!()),
                request_values(request),
            )
            .expecting_rows(1)
            .combining(&REQUEST_ROWS.insert),
            RecordChange::InsertSettlement {
                settlement,
                owed_minor,
            } => settle::insert_write(settlement, owed_minor),
            RecordChange::ExpireCashSettlement { reference, now_ms } => {
                settle::expire_write(reference, now_ms)
            }
        })
    }

    async fn finish_event(
        &self,
        platform: Platform,
        event: &EventId,
        outcome: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let outcome = outcomes::Outcome {
            platform: platform.as_str().to_owned(),
            event: event.as_str().to_owned(),
            outcome: outcome.to_owned(),
            now_ms,
        };
        self.outcomes
            .finish(outcome, |batch| self.write_outcomes(batch))
            .await
            .map_err(|e| StoreError(e.into()))
    }

    async fn event_outcome(
        &self,
        platform: Platform,
        event: &EventId,
    ) -> Result<Option<String>, StoreError> {
        on_backend!(self, pool => db::event_outcome(pool, platform, event).await)
    }

    async fn open_event(
        &self,
        event: &EventId,
        sender: &SeenUser,
        now_ms: i64,
    ) -> Result<OpenedEvent, StoreError> {
        on_backend!(self, pool => db::open_event(pool, event, sender, now_ms).await)
    }

    async fn open_confirm_event(
        &self,
        event: &EventId,
        sender: &SeenUser,
        now_ms: i64,
    ) -> Result<OpenedEvent, StoreError> {
        on_backend!(self, pool => db::open_confirm_event(pool, event, sender, now_ms).await)
    }

    async fn open_pay_event(
        &self,
        event: &EventId,
        sender: &SeenUser,
        payee: &SeenUser,
        limit: u32,
        now_ms: i64,
    ) -> Result<OpenedEvent, StoreError> {
        on_backend!(self, pool => db::open_pay_event(pool, event, sender, payee, limit, now_ms).await)
    }

    async fn forget_events(&self, before_ms: i64) -> Result<u64, StoreError> {
        on_backend!(self, pool => db::forget_events(pool, before_ms).await)
    }

    async fn identity(
        &self,
        platform: Platform,
        id: &PlatformUserId,
    ) -> Result<Option<Identity>, StoreError> {
        on_backend!(self, pool => db::identity(pool, platform, id).await)
    }

    async fn upsert_identity(
        &self,
        seen: &SeenUser,
        now_ms: i64,
    ) -> Result<(Identity, bool), StoreError> {
        on_backend!(self, pool => db::upsert_identity(pool, seen, now_ms).await)
    }

    async fn identities_with_handle(
        &self,
        platform: Platform,
        handle: &Handle,
    ) -> Result<Vec<Identity>, StoreError> {
        on_backend!(self, pool => db::identities_with_handle(pool, platform, handle).await)
    }

    async fn identities_with_skeleton(
        &self,
        platform: Platform,
        skeleton: &str,
        limit: u32,
    ) -> Result<Vec<Identity>, StoreError> {
        on_backend!(self, pool => db::identities_with_skeleton(pool, platform, skeleton, limit).await)
    }

    async fn identities_of(&self, user: UserId) -> Result<Vec<Identity>, StoreError> {
        on_backend!(self, pool => db::identities_of(pool, user).await)
    }

    async fn move_identity(
        &self,
        platform: Platform,
        id: &PlatformUserId,
        to: UserId,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        on_backend!(self, pool => db::move_identity(pool, platform, id, to, now_ms).await)
    }

    async fn put_link_code(
        &self,
        hash: &LinkCodeHash,
        user: UserId,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        on_backend!(self, pool => db::put_link_code(pool, hash, user, expires_at_ms).await)
    }

    async fn take_link_code(
        &self,
        hash: &LinkCodeHash,
        now_ms: i64,
    ) -> Result<Option<UserId>, StoreError> {
        on_backend!(self, pool => db::take_link_code(pool, hash, now_ms).await)
    }

    async fn put_pending_link(&self, link: &PendingLink) -> Result<(), StoreError> {
        on_backend!(self, pool => db::put_pending_link(pool, link).await)
    }

    async fn pending_link(
        &self,
        platform: Platform,
        id: &PlatformUserId,
        now_ms: i64,
    ) -> Result<Option<PendingLink>, StoreError> {
        on_backend!(self, pool => db::pending_link(pool, platform, id, now_ms).await)
    }

    async fn take_pending_link(
        &self,
        platform: Platform,
        id: &PlatformUserId,
        now_ms: i64,
    ) -> Result<Option<PendingLink>, StoreError> {
        on_backend!(self, pool => db::take_pending_link(pool, platform, id, now_ms).await)
    }

    async fn begin_link_attempt(
        &self,
        platform: Platform,
        id: &PlatformUserId,
        now_ms: i64,
        bounds: &LinkAttemptBounds,
    ) -> Result<LinkAttempt, StoreError> {
        on_backend!(self, pool => db::begin_link_attempt(pool, platform, id, now_ms, bounds).await)
    }

    async fn forget_link_attempt(&self, attempt: i64) -> Result<(), StoreError> {
        on_backend!(self, pool => db::forget_link_attempt(pool, attempt).await)
    }

    async fn detach_identity(
        &self,
        platform: Platform,
        id: &PlatformUserId,
        from: UserId,
        now_ms: i64,
    ) -> Result<Option<UserId>, StoreError> {
        on_backend!(self, pool => db::detach_identity(pool, platform, id, from, now_ms).await)
    }

    async fn insert_payment(&self, payment: &Payment) -> Result<Payment, StoreError> {
        on_backend!(self, pool => db::insert_payment(pool, payment).await)
    }

    async fn payment(&self, reference: &ShortRef) -> Result<Option<Payment>, StoreError> {
        on_backend!(self, pool => db::payment(pool, reference).await)
    }

    async fn payment_by_transfer(
        &self,
        transfer: TransferId,
    ) -> Result<Option<Payment>, StoreError> {
        on_backend!(self, pool => db::payment_by_transfer(pool, transfer).await)
    }

    async fn payments_awaiting_code(&self, payer: UserId) -> Result<Vec<Payment>, StoreError> {
        on_backend!(self, pool => db::payments_awaiting_code(pool, payer).await)
    }

    async fn payments_escrowed_for(
        &self,
        platform: Platform,
        handle: &Handle,
    ) -> Result<Vec<Payment>, StoreError> {
        on_backend!(self, pool => db::payments_escrowed_for(pool, platform, handle).await)
    }

    async fn payments_due(&self, now_ms: i64, limit: u32) -> Result<Vec<Payment>, StoreError> {
        on_backend!(self, pool => db::payments_due(pool, now_ms, limit).await)
    }

    async fn payments_of_user(&self, user: UserId, limit: u32) -> Result<Vec<Payment>, StoreError> {
        on_backend!(self, pool => db::payments_of_user(pool, user, limit).await)
    }

    async fn history_of_user(&self, user: UserId, limit: u32) -> Result<Vec<Payment>, StoreError> {
        on_backend!(self, pool => db::history_of_user(pool, user, limit).await)
    }

    async fn requests_of_user(
        &self,
        user: UserId,
        limit: u32,
    ) -> Result<Vec<PaymentRequest>, StoreError> {
        on_backend!(self, pool => db::requests_of_user(pool, user, limit).await)
    }

    async fn requests_expiring(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<PaymentRequest>, StoreError> {
        on_backend!(self, pool => db::requests_expiring(pool, now_ms, limit).await)
    }

    async fn has_paid_before(&self, payer: UserId, payee: UserId) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::has_paid_before(pool, payer, payee).await)
    }

    async fn payee_facts(
        &self,
        platform: Platform,
        skeleton: &str,
        limit: u32,
        payer: UserId,
        payee: UserId,
    ) -> Result<PayeeFacts, StoreError> {
        on_backend!(self, pool => db::payee_facts(pool, platform, skeleton, limit, payer, payee).await)
    }

    async fn see_payee(
        &self,
        seen: &SeenUser,
        limit: u32,
        payer: UserId,
        now_ms: i64,
    ) -> Result<(Identity, Option<PayeeFacts>), StoreError> {
        on_backend!(self, pool => db::see_payee(pool, seen, limit, payer, now_ms).await)
    }

    async fn payments_waiting(&self, payer: UserId) -> Result<u64, StoreError> {
        on_backend!(self, pool => db::payments_waiting(pool, payer).await)
    }

    async fn payments_held(&self, limit: u32) -> Result<Vec<Payment>, StoreError> {
        on_backend!(self, pool => db::payments_held(pool, limit).await)
    }

    async fn open_payments(
        &self,
        counted_max: u32,
    ) -> Result<Vec<(PaymentState, u64)>, StoreError> {
        on_backend!(self, pool => db::open_payments(pool, counted_max).await)
    }

    async fn update_payment(&self, payment: &Payment) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::update_payment(pool, payment).await)
    }

    async fn insert_request(&self, request: &PaymentRequest) -> Result<PaymentRequest, StoreError> {
        on_backend!(self, pool => db::insert_request(pool, request).await)
    }

    async fn request(&self, reference: &ShortRef) -> Result<Option<PaymentRequest>, StoreError> {
        on_backend!(self, pool => db::request(pool, reference).await)
    }

    async fn update_request(&self, request: &PaymentRequest) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::update_request(pool, request).await)
    }

    async fn requests_of_split(&self, split: &ShortRef) -> Result<Vec<PaymentRequest>, StoreError> {
        on_backend!(self, pool => db::requests_of_split(pool, split).await)
    }

    async fn requests_to_pay(
        &self,
        payer: UserId,
        limit: u32,
    ) -> Result<Vec<PaymentRequest>, StoreError> {
        on_backend!(self, pool => db::requests_to_pay(pool, payer, limit).await)
    }

    async fn insert_split(&self, split: &Split) -> Result<Split, StoreError> {
        on_backend!(self, pool => db::insert_split(pool, split).await)
    }

    async fn split(&self, reference: &ShortRef) -> Result<Option<Split>, StoreError> {
        on_backend!(self, pool => db::split(pool, reference).await)
    }

    async fn latest_split(
        &self,
        creator: UserId,
        platform: Platform,
        chat: Option<&ChatId>,
    ) -> Result<Option<Split>, StoreError> {
        on_backend!(self, pool => db::latest_split(pool, creator, platform, chat).await)
    }

    async fn insert_card(&self, card: &LinkedCard) -> Result<Option<LinkedCard>, StoreError> {
        on_backend!(self, pool => db::insert_card(pool, card).await)
    }

    async fn cards_of(&self, user: UserId) -> Result<Vec<LinkedCard>, StoreError> {
        on_backend!(self, pool => db::cards_of(pool, user).await)
    }

    async fn remove_card(&self, user: UserId, id: i64) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::remove_card(pool, user, id).await)
    }

    async fn insert_card_op(&self, op: &CardOp) -> Result<CardOp, StoreError> {
        on_backend!(self, pool => db::insert_card_op(pool, op).await)
    }

    async fn card_op(&self, reference: &ShortRef) -> Result<Option<CardOp>, StoreError> {
        on_backend!(self, pool => db::card_op(pool, reference).await)
    }

    async fn card_ops_awaiting_code(&self, user: UserId) -> Result<Vec<CardOp>, StoreError> {
        on_backend!(self, pool => db::card_ops_awaiting_code(pool, user).await)
    }

    async fn card_records_awaiting_code(&self, user: UserId) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::card_records_awaiting_code(pool, user).await)
    }

    async fn codes_awaited(&self, user: UserId) -> Result<CodesAwaited, StoreError> {
        on_backend!(self, pool => db::codes_awaited(pool, user).await)
    }

    async fn awaiting_code(&self, user: UserId) -> Result<AwaitingCode, StoreError> {
        on_backend!(self, pool => db::awaiting_code(pool, user).await)
    }

    async fn card_ops_in_flight(&self, user: UserId) -> Result<Vec<CardOp>, StoreError> {
        on_backend!(self, pool => db::card_ops_in_flight(pool, user).await)
    }

    async fn card_adds_held(&self, limit: u32) -> Result<Vec<CardAdd>, StoreError> {
        on_backend!(self, pool => db::card_adds_held(pool, limit).await)
    }

    async fn card_ops_held(&self, limit: u32) -> Result<Vec<CardOp>, StoreError> {
        on_backend!(self, pool => db::card_ops_held(pool, limit).await)
    }

    async fn card_ops_due(&self, now_ms: i64, limit: u32) -> Result<Vec<CardOp>, StoreError> {
        on_backend!(self, pool => db::card_ops_due(pool, now_ms, limit).await)
    }

    async fn update_card_op(&self, op: &CardOp) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::update_card_op(pool, op).await)
    }

    async fn insert_card_add(&self, add: &CardAdd) -> Result<CardAdd, StoreError> {
        on_backend!(self, pool => db::insert_card_add(pool, add).await)
    }

    async fn card_add(&self, reference: &ShortRef) -> Result<Option<CardAdd>, StoreError> {
        on_backend!(self, pool => db::card_add(pool, reference).await)
    }

    async fn card_adds_awaiting_code(&self, user: UserId) -> Result<Vec<CardAdd>, StoreError> {
        on_backend!(self, pool => db::card_adds_awaiting_code(pool, user).await)
    }

    async fn card_adds_due(&self, now_ms: i64, limit: u32) -> Result<Vec<CardAdd>, StoreError> {
        on_backend!(self, pool => db::card_adds_due(pool, now_ms, limit).await)
    }

    async fn update_card_add(&self, add: &CardAdd) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::update_card_add(pool, add).await)
    }

    async fn link_card_add(&self, add: &CardAdd, now_ms: i64) -> Result<CardAddLinked, StoreError> {
        on_backend!(self, pool => db::link_card_add(pool, add, now_ms).await)
    }

    async fn requests_since(
        &self,
        user: UserId,
        side: RequestSide,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        on_backend!(self, pool => db::requests_since(pool, user, side, since_ms, limit).await)
    }
}
