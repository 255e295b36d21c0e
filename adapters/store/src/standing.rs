//! Standing orders and time zones ([`StandingStore`], migration 18), on both
//! backends (one macro, as in `lib.rs`). An order's compare-and-swap is one
//! statement text shared by the store's own update and the record write the
//! ledger commits with a run, bound from one function (`order_values`).

use async_trait::async_trait;
use bot::command::{Memo, ShortRef};
use bot::message::{Platform, PlatformUserId};
use bot::otp::{OtpChallenge, OtpHash};
use bot::store::standing::{
    DueOrders, StandingKind, StandingOrder, StandingState, StandingStore, UnreadableOrder,
    schedule_columns, schedule_from_columns,
};
use bot::store::{StoreError, UserId};
use bot::trust::Review;
use ledger::{Amount, Currency, RecordWrite, SqlValue, TransferId};

use crate::{Backend, Error, SqlStore, corrupt};

const TABLE: &str = "bot_standing_orders";

/// The columns in bind order: `reference` first and `revision` last (the
/// compare-and-swap's keys).
const COLUMNS: &str = "reference, order_id, payer, payer_platform, payer_id, payee, \
     payee_platform, payee_id, payee_label, amount, currency, memo, rule, first_date, \
     run_minute, time_zone, next_period, attempts, otp_hash, otp_issued_at_ms, \
     otp_failed_attempts, review, state, due_at_ms, created_at_ms, updated_at_ms, revision, \
     told_period, kind";

const INSERT_SQL: &str = "INSERT INTO bot_standing_orders (reference, order_id, payer, \
     payer_platform, payer_id, payee, payee_platform, payee_id, payee_label, amount, currency, \
     memo, rule, first_date, run_minute, time_zone, next_period, attempts, otp_hash, \
     otp_issued_at_ms, otp_failed_attempts, review, state, due_at_ms, created_at_ms, \
     updated_at_ms, revision, told_period, kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
     $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, \
     $29) ON CONFLICT DO NOTHING";

/// Compare-and-swap: what may change after the order is made, where the
/// stored revision is still `$27`.
const UPDATE_SQL: &str = "UPDATE bot_standing_orders SET next_period = $17, attempts = $18, \
     otp_hash = $19, otp_issued_at_ms = $20, otp_failed_attempts = $21, state = $23, \
     due_at_ms = $24, updated_at_ms = $26, told_period = $28, revision = revision + 1 \
     WHERE reference = $1 AND revision = $27 AND order_id = $2 AND payer = $3 \
     AND amount = $10 AND currency = $11 AND payee = $6 AND payer_platform = $4 \
     AND payer_id = $5 AND payee_platform = $7 AND payee_id = $8 AND payee_label = $9 \
     AND (memo = $12 OR (memo IS NULL AND $12 IS NULL)) AND rule = $13 AND first_date = $14 \
     AND run_minute = $15 AND time_zone = $16 AND review = $22 AND created_at_ms = $25 \
     AND kind = $29";

/// The order's values in the order of `COLUMNS`.
fn order_values(o: &StandingOrder) -> Vec<SqlValue> {
    let (rule, first, minute, zone) = schedule_columns(&o.schedule);
    vec![
        SqlValue::from(o.reference.as_str()),
        SqlValue::from(order_id_text(o.order_id)),
        SqlValue::from(o.payer.0),
        SqlValue::from(o.payer_platform.as_str()),
        SqlValue::from(o.payer_id.as_str()),
        SqlValue::from(o.payee.0),
        SqlValue::from(o.payee_platform.as_str()),
        SqlValue::from(o.payee_id.as_str()),
        SqlValue::from(o.payee_label.as_str()),
        SqlValue::from(o.amount.minor()),
        SqlValue::from(o.amount.currency().code()),
        SqlValue::from(o.memo.as_ref().map(Memo::as_str)),
        SqlValue::from(rule),
        SqlValue::from(first),
        SqlValue::from(minute),
        SqlValue::from(zone),
        SqlValue::from(i64::from(o.next_period)),
        SqlValue::from(i64::from(o.attempts)),
        SqlValue::from(o.challenge.hash.to_bytes().to_vec()),
        SqlValue::from(o.challenge.issued_at_ms),
        SqlValue::from(i64::from(o.challenge.failed_attempts)),
        SqlValue::from(o.review.to_text()),
        SqlValue::from(o.state.as_str()),
        SqlValue::from(o.due_at_ms),
        SqlValue::from(o.created_at_ms),
        SqlValue::from(o.updated_at_ms),
        SqlValue::from(o.revision),
        SqlValue::from(o.told_period.map(i64::from)),
        SqlValue::from(o.kind.as_str()),
    ]
}

/// An order id as stored: 32 hexadecimal digits.
fn order_id_text(id: TransferId) -> String {
    format!("{:032x}", id.as_u128())
}

macro_rules! standing_backend {
    ($module:ident, $db:ty) => {
        pub(crate) mod $module {
            use sqlx::Row;

            use super::*;

            type Db = $db;
            type Pool = ledger::StatementPool<Db>;
            type DbRow = <Db as sqlx::Database>::Row;
            use crate::$module::bind_values;

            fn get<'r, T>(row: &'r DbRow, column: &str) -> Result<T, Error>
            where
                T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
            {
                row.try_get(column)
                    .map_err(|e| corrupt(TABLE, column, e))
            }

            fn order_from_row(row: &DbRow) -> Result<StandingOrder, Error> {
                let bad = |column: &str, why: &str| corrupt(TABLE, column, why);
                let text = |column: &str| get::<String>(row, column);
                let platform = |column: &str| {
                    Platform::from_str_opt(&text(column)?).ok_or_else(|| bad(column, "platform"))
                };
                let user_id = |column: &str| {
                    PlatformUserId::new(&text(column)?).map_err(|_| bad(column, "user id"))
                };
                let int = |column: &str| get::<i64>(row, column);
                let small = |column: &str| {
                    u32::try_from(int(column)?).map_err(|_| bad(column, "out of range"))
                };
                let order_id = u128::from_str_radix(&text("order_id")?, 16)
                    .ok()
                    .and_then(TransferId::new)
                    .ok_or_else(|| bad("order_id", "not an id"))?;
                let currency = Currency::from_code(&text("currency")?)
                    .map_err(|_| bad("currency", "unknown"))?;
                let amount = Amount::from_minor(int("amount")?, currency)
                    .map_err(|_| bad("amount", "not an amount"))?;
                let memo: Option<String> = get(row, "memo")?;
                let memo = match memo {
                    Some(memo) => Some(Memo::from_stored(&memo).ok_or_else(|| bad("memo", "bad"))?),
                    None => None,
                };
                let schedule = schedule_from_columns(
                    &text("rule")?,
                    &text("first_date")?,
                    int("run_minute")?,
                    &text("time_zone")?,
                )
                .ok_or_else(|| bad("rule", "not a schedule"))?;
                let hash: Vec<u8> = get(row, "otp_hash")?;
                Ok(StandingOrder {
                    reference: ShortRef::parse(&text("reference")?)
                        .map_err(|_| bad("reference", "bad"))?,
                    order_id,
                    payer: UserId(int("payer")?),
                    payer_platform: platform("payer_platform")?,
                    payer_id: user_id("payer_id")?,
                    payee: UserId(int("payee")?),
                    payee_platform: platform("payee_platform")?,
                    payee_id: user_id("payee_id")?,
                    payee_label: text("payee_label")?,
                    amount,
                    memo,
                    schedule,
                    next_period: small("next_period")?,
                    attempts: small("attempts")?,
                    told_period: get::<Option<i64>>(row, "told_period")?
                        .map(|k| u32::try_from(k).map_err(|_| bad("told_period", "out of range")))
                        .transpose()?,
                    challenge: OtpChallenge {
                        hash: OtpHash::from_bytes(&hash).map_err(|e| corrupt(TABLE, "otp_hash", e))?,
                        issued_at_ms: int("otp_issued_at_ms")?,
                        failed_attempts: u8::try_from(int("otp_failed_attempts")?)
                            .map_err(|_| bad("otp_failed_attempts", "out of range"))?,
                    },
                    review: Review::parse(&text("review")?).ok_or_else(|| bad("review", "bad"))?,
                    state: StandingState::from_str_opt(&text("state")?)
                        .ok_or_else(|| bad("state", "unknown"))?,
                    due_at_ms: get(row, "due_at_ms")?,
                    created_at_ms: int("created_at_ms")?,
                    updated_at_ms: int("updated_at_ms")?,
                    revision: int("revision")?,
                    kind: StandingKind::from_str_opt(&text("kind")?)
                        .ok_or_else(|| bad("kind", "unknown"))?,
                })
            }

            async fn select(
                pool: &Pool,
                condition: &str,
                values: Vec<SqlValue>,
            ) -> Result<Vec<StandingOrder>, Error> {
                let sql = format!("SELECT {COLUMNS} FROM {TABLE} WHERE {condition}");
                let rows = bind_values(sqlx::query(sqlx::AssertSqlSafe(sql)), values).fetch_all(pool).await?;
                rows.iter().map(order_from_row).collect()
            }

            pub(crate) async fn insert(
                pool: &Pool,
                order: &StandingOrder,
            ) -> Result<StandingOrder, Error> {
                bind_values(sqlx::query(INSERT_SQL), order_values(order))
                    .execute(pool)
                    .await?;
                let found = select(
                    pool,
                    "reference = $1 OR order_id = $2 ORDER BY seq LIMIT 2",
                    vec![
                        SqlValue::from(order.reference.as_str()),
                        SqlValue::from(order_id_text(order.order_id)),
                    ],
                )
                .await?;
                // The one under this reference (ours, or another's that
                // holds it); else ours under its id.
                found
                    .iter()
                    .find(|o| o.reference == order.reference)
                    .or_else(|| found.first())
                    .cloned()
                    .ok_or_else(|| Error::Corrupt(format!("{TABLE}: an insert left no row")))
            }

            pub(crate) async fn by_reference(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<StandingOrder>, Error> {
                let found = select(
                    pool,
                    "reference = $1",
                    vec![SqlValue::from(reference.as_str())],
                )
                .await?;
                Ok(found.into_iter().next())
            }

            pub(crate) async fn awaiting_code(
                pool: &Pool,
                payer: UserId,
            ) -> Result<Vec<StandingOrder>, Error> {
                select(
                    pool,
                    "payer = $1 AND state = 'awaiting_code' ORDER BY created_at_ms DESC, seq DESC",
                    vec![SqlValue::from(payer.0)],
                )
                .await
            }

            pub(crate) async fn of_payer(
                pool: &Pool,
                payer: UserId,
                limit: u32,
            ) -> Result<Vec<StandingOrder>, Error> {
                select(
                    pool,
                    "payer = $1 AND state IN ('awaiting_code', 'active', 'paused') \
                     ORDER BY created_at_ms, seq LIMIT CAST($2 AS BIGINT)",
                    vec![SqlValue::from(payer.0), SqlValue::from(i64::from(limit))],
                )
                .await
            }

            /// Each row read on its own: one that does not read is
            /// reported with its `seq`, the others are still returned.
            pub(crate) async fn due(
                pool: &Pool,
                now_ms: i64,
                limit: u32,
            ) -> Result<DueOrders, Error> {
                const DUE_SQL: &str = "SELECT seq, reference AS raw_reference, {COLUMNS} \
                     FROM bot_standing_orders WHERE due_at_ms IS NOT NULL AND due_at_ms <= $1 \
                     AND state IN ('awaiting_code', 'active') ORDER BY due_at_ms, seq \
                     LIMIT CAST($2 AS BIGINT)";
                let sql = DUE_SQL.replace("{COLUMNS}", COLUMNS);
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(now_ms)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?;
                let mut found = DueOrders::default();
                for row in &rows {
                    match order_from_row(row) {
                        Ok(order) => found.orders.push(order),
                        Err(error) => found.unreadable.push(UnreadableOrder {
                            seq: get(row, "seq")?,
                            reference: row.try_get::<String, _>("raw_reference").ok(),
                            problem: error.to_string(),
                        }),
                    }
                }
                Ok(found)
            }

            pub(crate) async fn put_off(pool: &Pool, seq: i64, due_at_ms: i64) -> Result<(), Error> {
                sqlx::query(
                    "UPDATE bot_standing_orders SET due_at_ms = $1, revision = revision + 1 \
                     WHERE seq = $2",
                )
                .bind(due_at_ms)
                .bind(seq)
                .execute(pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn update(pool: &Pool, order: &StandingOrder) -> Result<bool, Error> {
                let done = bind_values(sqlx::query(UPDATE_SQL), order_values(order))
                    .execute(pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn time_zone_of(
                pool: &Pool,
                user: UserId,
            ) -> Result<Option<String>, Error> {
                Ok(sqlx::query_scalar(
                    "SELECT time_zone FROM bot_user_time_zones WHERE user_id = $1",
                )
                .bind(user.0)
                .fetch_optional(pool)
                .await?)
            }

            pub(crate) async fn set_time_zone(
                pool: &Pool,
                user: UserId,
                zone: &str,
                now_ms: i64,
            ) -> Result<(), Error> {
                sqlx::query(
                    "INSERT INTO bot_user_time_zones (user_id, time_zone, updated_at_ms)
                     VALUES ($1, $2, $3)
                     ON CONFLICT (user_id) DO UPDATE SET time_zone = excluded.time_zone,
                         updated_at_ms = excluded.updated_at_ms",
                )
                .bind(user.0)
                .bind(zone)
                .bind(now_ms)
                .execute(pool)
                .await?;
                Ok(())
            }
        }
    };
}

standing_backend!(sqlite, sqlx::Sqlite);
standing_backend!(postgres, sqlx::Postgres);

#[async_trait]
impl StandingStore for SqlStore {
    fn standing_write(&self, order: &StandingOrder) -> Result<RecordWrite, StoreError> {
        Ok(RecordWrite::new(UPDATE_SQL, order_values(order)).expecting_rows(1))
    }

    async fn insert_standing_order(
        &self,
        order: &StandingOrder,
    ) -> Result<StandingOrder, StoreError> {
        on_backend!(self, pool => db::insert(pool, order).await)
    }

    async fn standing_order(
        &self,
        reference: &ShortRef,
    ) -> Result<Option<StandingOrder>, StoreError> {
        on_backend!(self, pool => db::by_reference(pool, reference).await)
    }

    async fn standing_orders_awaiting_code(
        &self,
        payer: UserId,
    ) -> Result<Vec<StandingOrder>, StoreError> {
        on_backend!(self, pool => db::awaiting_code(pool, payer).await)
    }

    async fn standing_orders_of(
        &self,
        payer: UserId,
        limit: u32,
    ) -> Result<Vec<StandingOrder>, StoreError> {
        on_backend!(self, pool => db::of_payer(pool, payer, limit).await)
    }

    async fn standing_orders_due(&self, now_ms: i64, limit: u32) -> Result<DueOrders, StoreError> {
        on_backend!(self, pool => db::due(pool, now_ms, limit).await)
    }

    async fn put_off_unreadable_standing_order(
        &self,
        seq: i64,
        due_at_ms: i64,
    ) -> Result<(), StoreError> {
        on_backend!(self, pool => db::put_off(pool, seq, due_at_ms).await)
    }

    async fn update_standing_order(&self, order: &StandingOrder) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::update(pool, order).await)
    }

    async fn time_zone_of(&self, user: UserId) -> Result<Option<String>, StoreError> {
        on_backend!(self, pool => db::time_zone_of(pool, user).await)
    }

    async fn set_time_zone(&self, user: UserId, zone: &str, now_ms: i64) -> Result<(), StoreError> {
        on_backend!(self, pool => db::set_time_zone(pool, user, zone, now_ms).await)
    }
}
