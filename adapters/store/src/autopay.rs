//! Autopays and their runs ([`AutopayStore`], migration 20), on both
//! backends (one macro, as in `standing.rs`). Each record's
//! compare-and-swap is one statement text shared by the store's own update
//! and the record write the ledger commits with a run's money.

use async_trait::async_trait;
use bot::command::ShortRef;
use bot::message::{Platform, PlatformUserId};
use bot::otp::{OtpChallenge, OtpHash};
use bot::store::autopay::{Autopay, AutopayRun, AutopayRunState, AutopayState, AutopayStore};
use bot::store::{StoreError, UserId};
use bot::trust::Review;
use ledger::{Amount, Currency, RecordWrite, SqlValue, TransferId};

use crate::{Backend, Error, SqlStore, corrupt};

const TABLE: &str = "bot_autopays";
const RUNS: &str = "bot_autopay_runs";

/// The columns in bind order: `reference` first, `revision` last.
const COLUMNS: &str = "reference, autopay_id, payer, payer_platform, payer_id, payee, \
     payee_platform, payee_id, payee_label, cap, currency, otp_hash, otp_issued_at_ms, \
     otp_failed_attempts, review, state, created_at_ms, updated_at_ms, revision, series";

const INSERT_SQL: &str = "INSERT INTO bot_autopays (reference, autopay_id, payer, \
     payer_platform, payer_id, payee, payee_platform, payee_id, payee_label, cap, currency, \
     otp_hash, otp_issued_at_ms, otp_failed_attempts, review, state, created_at_ms, \
     updated_at_ms, revision, series) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
     $13, $14, $15, $16, $17, $18, $19, $20) ON CONFLICT DO NOTHING";

/// Compare-and-swap: what may change after the autopay is made, where the
/// stored revision is still `$19`.
const UPDATE_SQL: &str = "UPDATE bot_autopays SET otp_hash = $12, otp_issued_at_ms = $13, \
     otp_failed_attempts = $14, state = $16, updated_at_ms = $18, revision = revision + 1 \
     WHERE reference = $1 AND revision = $19 AND autopay_id = $2 AND payer = $3 \
     AND payer_platform = $4 AND payer_id = $5 AND payee = $6 AND payee_platform = $7 \
     AND payee_id = $8 AND payee_label = $9 AND cap = $10 AND currency = $11 AND review = $15 \
     AND created_at_ms = $17 AND (series = $20 OR (series IS NULL AND $20 IS NULL))";

const RUN_COLUMNS: &str = "request_ref, autopay_ref, payer, amount, currency, due_at_ms, \
     pay_at_ms, state, told, attempts, month, next_at_ms, created_at_ms, updated_at_ms, revision";

const RUN_INSERT_SQL: &str = "INSERT INTO bot_autopay_runs (request_ref, autopay_ref, payer, \
     amount, currency, due_at_ms, pay_at_ms, state, told, attempts, month, next_at_ms, \
     created_at_ms, updated_at_ms, revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
     $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING";

/// Compare-and-swap of a run, where the stored revision is still `$15`.
/// The autopay paying it may change (to the one that replaced it).
const RUN_UPDATE_SQL: &str = "UPDATE bot_autopay_runs SET autopay_ref = $2, state = $8, \
     told = $9, attempts = $10, month = $11, next_at_ms = $12, updated_at_ms = $14, \
     revision = revision + 1 WHERE request_ref = $1 AND revision = $15 \
     AND payer = $3 AND amount = $4 AND currency = $5 AND due_at_ms = $6 AND pay_at_ms = $7 \
     AND created_at_ms = $13";

fn id_text(id: TransferId) -> String {
    format!("{:032x}", id.as_u128())
}

/// The autopay's values in the order of `COLUMNS`.
fn autopay_values(a: &Autopay) -> Vec<SqlValue> {
    vec![
        SqlValue::from(a.reference.as_str()),
        SqlValue::from(id_text(a.autopay_id)),
        SqlValue::from(a.payer.0),
        SqlValue::from(a.payer_platform.as_str()),
        SqlValue::from(a.payer_id.as_str()),
        SqlValue::from(a.payee.0),
        SqlValue::from(a.payee_platform.as_str()),
        SqlValue::from(a.payee_id.as_str()),
        SqlValue::from(a.payee_label.as_str()),
        SqlValue::from(a.cap.minor()),
        SqlValue::from(a.cap.currency().code()),
        SqlValue::from(a.challenge.hash.to_bytes().to_vec()),
        SqlValue::from(a.challenge.issued_at_ms),
        SqlValue::from(i64::from(a.challenge.failed_attempts)),
        SqlValue::from(a.review.to_text()),
        SqlValue::from(a.state.as_str()),
        SqlValue::from(a.created_at_ms),
        SqlValue::from(a.updated_at_ms),
        SqlValue::from(a.revision),
        SqlValue::from(a.series.as_ref().map(ShortRef::as_str)),
    ]
}

/// The run's values in the order of `RUN_COLUMNS`.
fn run_values(r: &AutopayRun) -> Vec<SqlValue> {
    vec![
        SqlValue::from(r.request.as_str()),
        SqlValue::from(r.autopay.as_str()),
        SqlValue::from(r.payer.0),
        SqlValue::from(r.amount.minor()),
        SqlValue::from(r.amount.currency().code()),
        SqlValue::from(r.due_at_ms),
        SqlValue::from(r.pay_at_ms),
        SqlValue::from(r.state.as_str()),
        SqlValue::from(i64::from(r.told)),
        SqlValue::from(i64::from(r.attempts)),
        SqlValue::from(r.month.as_deref()),
        SqlValue::from(r.next_at_ms),
        SqlValue::from(r.created_at_ms),
        SqlValue::from(r.updated_at_ms),
        SqlValue::from(r.revision),
    ]
}

macro_rules! autopay_backend {
    ($module:ident, $db:ty) => {
        pub(crate) mod $module {
            use sqlx::Row;

            use super::*;

            type Db = $db;
            type Pool = ledger::StatementPool<Db>;
            type DbRow = <Db as sqlx::Database>::Row;
            use crate::$module::bind_values;

            fn get<'r, T>(row: &'r DbRow, table: &str, column: &str) -> Result<T, Error>
            where
                T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
            {
                row.try_get(column).map_err(|e| corrupt(table, column, e))
            }

            fn amount_of(row: &DbRow, table: &str, column: &str) -> Result<Amount, Error> {
                let currency = Currency::from_code(&get::<String>(row, table, "currency")?)
                    .map_err(|_| corrupt(table, "currency", "unknown"))?;
                Amount::from_minor(get(row, table, column)?, currency)
                    .map_err(|_| corrupt(table, column, "not an amount"))
            }

            fn reference(row: &DbRow, table: &str, column: &str) -> Result<ShortRef, Error> {
                ShortRef::parse(&get::<String>(row, table, column)?)
                    .map_err(|_| corrupt(table, column, "bad"))
            }

            fn autopay_from_row(row: &DbRow) -> Result<Autopay, Error> {
                let bad = |column: &str, why: &str| corrupt(TABLE, column, why);
                let text = |column: &str| get::<String>(row, TABLE, column);
                let int = |column: &str| get::<i64>(row, TABLE, column);
                let platform = |column: &str| {
                    Platform::from_str_opt(&text(column)?).ok_or_else(|| bad(column, "platform"))
                };
                let user_id = |column: &str| {
                    PlatformUserId::new(&text(column)?).map_err(|_| bad(column, "user id"))
                };
                let autopay_id = u128::from_str_radix(&text("autopay_id")?, 16)
                    .ok()
                    .and_then(TransferId::new)
                    .ok_or_else(|| bad("autopay_id", "not an id"))?;
                let hash: Vec<u8> = get(row, TABLE, "otp_hash")?;
                Ok(Autopay {
                    reference: reference(row, TABLE, "reference")?,
                    autopay_id,
                    payer: UserId(int("payer")?),
                    payer_platform: platform("payer_platform")?,
                    payer_id: user_id("payer_id")?,
                    payee: UserId(int("payee")?),
                    payee_platform: platform("payee_platform")?,
                    payee_id: user_id("payee_id")?,
                    payee_label: text("payee_label")?,
                    cap: amount_of(row, TABLE, "cap")?,
                    challenge: OtpChallenge {
                        hash: OtpHash::from_bytes(&hash)
                            .map_err(|e| corrupt(TABLE, "otp_hash", e))?,
                        issued_at_ms: int("otp_issued_at_ms")?,
                        failed_attempts: u8::try_from(int("otp_failed_attempts")?)
                            .map_err(|_| bad("otp_failed_attempts", "out of range"))?,
                    },
                    review: Review::parse(&text("review")?).ok_or_else(|| bad("review", "bad"))?,
                    state: AutopayState::from_str_opt(&text("state")?)
                        .ok_or_else(|| bad("state", "unknown"))?,
                    created_at_ms: int("created_at_ms")?,
                    updated_at_ms: int("updated_at_ms")?,
                    revision: int("revision")?,
                    series: get::<Option<String>>(row, TABLE, "series")?
                        .map(|s| ShortRef::parse(&s).map_err(|_| bad("series", "bad")))
                        .transpose()?,
                })
            }

            fn run_from_row(row: &DbRow) -> Result<AutopayRun, Error> {
                let bad = |column: &str, why: &str| corrupt(RUNS, column, why);
                let int = |column: &str| get::<i64>(row, RUNS, column);
                Ok(AutopayRun {
                    request: reference(row, RUNS, "request_ref")?,
                    autopay: reference(row, RUNS, "autopay_ref")?,
                    payer: UserId(int("payer")?),
                    amount: amount_of(row, RUNS, "amount")?,
                    due_at_ms: int("due_at_ms")?,
                    pay_at_ms: int("pay_at_ms")?,
                    state: AutopayRunState::from_str_opt(&get::<String>(row, RUNS, "state")?)
                        .ok_or_else(|| bad("state", "unknown"))?,
                    told: int("told")? != 0,
                    attempts: u32::try_from(int("attempts")?)
                        .map_err(|_| bad("attempts", "out of range"))?,
                    month: get(row, RUNS, "month")?,
                    next_at_ms: get(row, RUNS, "next_at_ms")?,
                    created_at_ms: int("created_at_ms")?,
                    updated_at_ms: int("updated_at_ms")?,
                    revision: int("revision")?,
                })
            }

            async fn select(
                pool: &Pool,
                condition: &str,
                values: Vec<SqlValue>,
            ) -> Result<Vec<Autopay>, Error> {
                let sql = format!("SELECT {COLUMNS} FROM {TABLE} WHERE {condition}");
                let rows = bind_values(sqlx::query(sqlx::AssertSqlSafe(sql)), values)
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(autopay_from_row).collect()
            }

            async fn select_runs(
                pool: &Pool,
                condition: &str,
                values: Vec<SqlValue>,
            ) -> Result<Vec<AutopayRun>, Error> {
                let sql = format!("SELECT {RUN_COLUMNS} FROM {RUNS} WHERE {condition}");
                let rows = bind_values(sqlx::query(sqlx::AssertSqlSafe(sql)), values)
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(run_from_row).collect()
            }

            pub(crate) async fn insert(pool: &Pool, autopay: &Autopay) -> Result<Autopay, Error> {
                bind_values(sqlx::query(INSERT_SQL), autopay_values(autopay))
                    .execute(pool)
                    .await?;
                let found = select(
                    pool,
                    "reference = $1 OR autopay_id = $2 ORDER BY seq LIMIT 2",
                    vec![
                        SqlValue::from(autopay.reference.as_str()),
                        SqlValue::from(id_text(autopay.autopay_id)),
                    ],
                )
                .await?;
                found
                    .iter()
                    .find(|a| a.reference == autopay.reference)
                    .or_else(|| found.first())
                    .cloned()
                    .ok_or_else(|| Error::Corrupt(format!("{TABLE}: an insert left no row")))
            }

            pub(crate) async fn by_reference(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<Autopay>, Error> {
                let found = select(
                    pool,
                    "reference = $1",
                    vec![SqlValue::from(reference.as_str())],
                )
                .await?;
                Ok(found.into_iter().next())
            }

            pub(crate) async fn of_payer(
                pool: &Pool,
                payer: UserId,
                limit: u32,
            ) -> Result<Vec<Autopay>, Error> {
                select(
                    pool,
                    "payer = $1 AND state IN ('awaiting_code', 'active') \
                     ORDER BY created_at_ms, seq LIMIT CAST($2 AS BIGINT)",
                    vec![SqlValue::from(payer.0), SqlValue::from(i64::from(limit))],
                )
                .await
            }

            pub(crate) async fn active(
                pool: &Pool,
                payer: UserId,
                payee: UserId,
            ) -> Result<Option<Autopay>, Error> {
                let found = select(
                    pool,
                    "payer = $1 AND payee = $2 AND state = 'active' AND series IS NULL \
                     ORDER BY created_at_ms DESC, seq DESC LIMIT 1",
                    vec![SqlValue::from(payer.0), SqlValue::from(payee.0)],
                )
                .await?;
                Ok(found.into_iter().next())
            }

            pub(crate) async fn of_series(
                pool: &Pool,
                payer: UserId,
                series: &ShortRef,
            ) -> Result<Option<Autopay>, Error> {
                let found = select(
                    pool,
                    "payer = $1 AND series = $2 AND state = 'active' \
                     ORDER BY created_at_ms DESC, seq DESC LIMIT 1",
                    vec![SqlValue::from(payer.0), SqlValue::from(series.as_str())],
                )
                .await?;
                Ok(found.into_iter().next())
            }

            pub(crate) async fn update(pool: &Pool, autopay: &Autopay) -> Result<bool, Error> {
                let done = bind_values(sqlx::query(UPDATE_SQL), autopay_values(autopay))
                    .execute(pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn insert_run(
                pool: &Pool,
                run: &AutopayRun,
            ) -> Result<AutopayRun, Error> {
                bind_values(sqlx::query(RUN_INSERT_SQL), run_values(run))
                    .execute(pool)
                    .await?;
                run_of(pool, &run.request)
                    .await?
                    .ok_or_else(|| Error::Corrupt(format!("{RUNS}: an insert left no row")))
            }

            pub(crate) async fn run_of(
                pool: &Pool,
                request: &ShortRef,
            ) -> Result<Option<AutopayRun>, Error> {
                let found = select_runs(
                    pool,
                    "request_ref = $1",
                    vec![SqlValue::from(request.as_str())],
                )
                .await?;
                Ok(found.into_iter().next())
            }

            pub(crate) async fn runs_due(
                pool: &Pool,
                now_ms: i64,
                limit: u32,
            ) -> Result<Vec<AutopayRun>, Error> {
                select_runs(
                    pool,
                    "next_at_ms IS NOT NULL AND next_at_ms <= $1 AND state = 'scheduled' \
                     ORDER BY next_at_ms, seq LIMIT CAST($2 AS BIGINT)",
                    vec![SqlValue::from(now_ms), SqlValue::from(i64::from(limit))],
                )
                .await
            }

            pub(crate) async fn awaiting_code_issued_before(
                pool: &Pool,
                issued_before_ms: i64,
                limit: u32,
            ) -> Result<Vec<Autopay>, Error> {
                select(
                    pool,
                    "state = 'awaiting_code' AND otp_issued_at_ms <= $1 \
                     ORDER BY otp_issued_at_ms, seq LIMIT CAST($2 AS BIGINT)",
                    vec![
                        SqlValue::from(issued_before_ms),
                        SqlValue::from(i64::from(limit)),
                    ],
                )
                .await
            }

            pub(crate) async fn update_run(pool: &Pool, run: &AutopayRun) -> Result<bool, Error> {
                let done = bind_values(sqlx::query(RUN_UPDATE_SQL), run_values(run))
                    .execute(pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn paid_in_month(
                pool: &Pool,
                autopay: &Autopay,
                month: &str,
            ) -> Result<i64, Error> {
                // Per payer and payee (and series), not per autopay record:
                // a replaced autopay's runs count under the new cap.
                let sum: Option<i64> = sqlx::query_scalar(
                    "SELECT CAST(SUM(r.amount) AS BIGINT) FROM bot_autopay_runs r
                     JOIN bot_autopays a ON a.reference = r.autopay_ref
                     WHERE r.payer = $1 AND a.payee = $2
                       AND COALESCE(a.series, '') = $3
                       AND r.currency = $4 AND r.month = $5 AND r.state = 'paid'",
                )
                .bind(autopay.payer.0)
                .bind(autopay.payee.0)
                .bind(autopay.series.as_ref().map_or("", ShortRef::as_str))
                .bind(autopay.cap.currency().code())
                .bind(month)
                .fetch_one(pool)
                .await?;
                Ok(sum.unwrap_or(0))
            }

            pub(crate) async fn is_biller(pool: &Pool, user: UserId) -> Result<bool, Error> {
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM bot_billers WHERE user_id = $1 LIMIT 1")
                        .bind(user.0)
                        .fetch_optional(pool)
                        .await?;
                Ok(found.is_some())
            }
        }
    };
}

autopay_backend!(sqlite, sqlx::Sqlite);
autopay_backend!(postgres, sqlx::Postgres);

#[async_trait]
impl AutopayStore for SqlStore {
    fn autopay_write(&self, autopay: &Autopay) -> Result<RecordWrite, StoreError> {
        Ok(RecordWrite::new(UPDATE_SQL, autopay_values(autopay)).expecting_rows(1))
    }

    fn autopay_run_write(&self, run: &AutopayRun) -> Result<RecordWrite, StoreError> {
        Ok(RecordWrite::new(RUN_UPDATE_SQL, run_values(run)).expecting_rows(1))
    }

    fn autopay_run_insert_write(&self, run: &AutopayRun) -> Result<RecordWrite, StoreError> {
        Ok(RecordWrite::new(RUN_INSERT_SQL, run_values(run)))
    }

    async fn insert_autopay(&self, autopay: &Autopay) -> Result<Autopay, StoreError> {
        on_backend!(self, pool => db::insert(pool, autopay).await)
    }

    async fn autopay(&self, reference: &ShortRef) -> Result<Option<Autopay>, StoreError> {
        on_backend!(self, pool => db::by_reference(pool, reference).await)
    }

    async fn autopays_of(&self, payer: UserId, limit: u32) -> Result<Vec<Autopay>, StoreError> {
        on_backend!(self, pool => db::of_payer(pool, payer, limit).await)
    }

    async fn active_autopay(
        &self,
        payer: UserId,
        payee: UserId,
    ) -> Result<Option<Autopay>, StoreError> {
        on_backend!(self, pool => db::active(pool, payer, payee).await)
    }

    async fn series_autopay(
        &self,
        payer: UserId,
        series: &ShortRef,
    ) -> Result<Option<Autopay>, StoreError> {
        on_backend!(self, pool => db::of_series(pool, payer, series).await)
    }

    async fn update_autopay(&self, autopay: &Autopay) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::update(pool, autopay).await)
    }

    async fn insert_autopay_run(&self, run: &AutopayRun) -> Result<AutopayRun, StoreError> {
        on_backend!(self, pool => db::insert_run(pool, run).await)
    }

    async fn autopay_run(&self, request: &ShortRef) -> Result<Option<AutopayRun>, StoreError> {
        on_backend!(self, pool => db::run_of(pool, request).await)
    }

    async fn autopay_runs_due(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<AutopayRun>, StoreError> {
        on_backend!(self, pool => db::runs_due(pool, now_ms, limit).await)
    }

    async fn autopays_awaiting_code_issued_before(
        &self,
        issued_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<Autopay>, StoreError> {
        on_backend!(self, pool => db::awaiting_code_issued_before(pool, issued_before_ms, limit).await)
    }

    async fn update_autopay_run(&self, run: &AutopayRun) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::update_run(pool, run).await)
    }

    async fn autopaid_in_month(&self, autopay: &Autopay, month: &str) -> Result<i64, StoreError> {
        on_backend!(self, pool => db::paid_in_month(pool, autopay, month).await)
    }

    async fn is_biller(&self, user: UserId) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::is_biller(pool, user).await)
    }
}
