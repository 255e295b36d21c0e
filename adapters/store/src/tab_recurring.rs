//! Recurring group expenses ([`RecurringExpenseStore`], migration 29) on
//! both backends: written with their lines in one transaction, then moved
//! from period to period only by compare-and-swap on `next_period`.

use async_trait::async_trait;
use bot::command::{Memo, ShortRef};
use bot::message::{ChatId, Platform};
use bot::store::standing::{schedule_columns, schedule_from_columns};
use bot::store::tab::{RecurringExpense, RecurringExpenseStore};
use bot::store::{StoreError, UserId};
use ledger::{Amount, Currency, TransferId};

use crate::tab::{id_text, with_lines};
use crate::{Backend, Error, SqlStore, corrupt};

const TABLE: &str = "bot_tab_recurring";

/// A recurring expense's columns, read with its lines (`r.` it, `l.` a
/// line).
const SELECT_SQL: &str = "SELECT r.seq, r.reference, r.recurring_id, r.platform, r.chat, \
     r.author, r.author_label, r.currency, r.total, r.memo, r.rule, r.first_date, \
     r.run_minute, r.time_zone, r.next_period, r.due_at_ms, r.created_at_ms, r.stopped_at_ms, \
     l.position, l.user_id, l.label, l.paid, l.owed FROM";

/// One line of a recurring expense.
const INSERT_LINE_SQL: &str = "INSERT INTO bot_tab_recurring_lines (recurring_seq, position, \
     user_id, label, paid, owed) VALUES ($1, $2, $3, $4, $5, $6)";

macro_rules! recurring_backend {
    ($module:ident, $db:ty) => {
        pub(crate) mod $module {
            use sqlx::Row;

            use super::*;

            type Db = $db;
            type Pool = ledger::StatementPool<Db>;
            type DbRow = <Db as sqlx::Database>::Row;

            fn get<'r, T>(row: &'r DbRow, column: &str) -> Result<T, Error>
            where
                T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
            {
                row.try_get(column).map_err(|e| corrupt(TABLE, column, e))
            }

            /// Rows of [`SELECT_SQL`], ordered by seq then position.
            fn from_rows(rows: &[DbRow]) -> Result<Vec<RecurringExpense>, Error> {
                with_lines(
                    rows,
                    |row| get(row, "seq"),
                    crate::tab::$module::line_from_row,
                    from_row,
                    |r| &mut r.lines,
                )
            }

            fn from_row(row: &DbRow) -> Result<RecurringExpense, Error> {
                let bad = |column: &str, why: &str| corrupt(TABLE, column, why);
                let text = |column: &str| get::<String>(row, column);
                let currency = Currency::from_code(&text("currency")?)
                    .map_err(|_| bad("currency", "unknown"))?;
                let memo: Option<String> = get(row, "memo")?;
                let memo = match memo {
                    Some(memo) => Some(Memo::from_stored(&memo).ok_or_else(|| bad("memo", "bad"))?),
                    None => None,
                };
                let schedule = schedule_from_columns(
                    &text("rule")?,
                    &text("first_date")?,
                    get(row, "run_minute")?,
                    &text("time_zone")?,
                )
                .ok_or_else(|| bad("rule", "not a schedule"))?;
                Ok(RecurringExpense {
                    reference: ShortRef::parse(&text("reference")?)
                        .map_err(|_| bad("reference", "bad"))?,
                    recurring_id: u128::from_str_radix(&text("recurring_id")?, 16)
                        .ok()
                        .and_then(TransferId::new)
                        .ok_or_else(|| bad("recurring_id", "not an id"))?,
                    platform: Platform::from_str_opt(&text("platform")?)
                        .ok_or_else(|| bad("platform", "unknown"))?,
                    chat: ChatId::new(&text("chat")?).map_err(|_| bad("chat", "bad"))?,
                    author: UserId(get(row, "author")?),
                    author_label: text("author_label")?,
                    total: Amount::from_minor(get(row, "total")?, currency)
                        .map_err(|_| bad("total", "not an amount"))?,
                    memo,
                    lines: Vec::new(),
                    schedule,
                    next_period: u32::try_from(get::<i64>(row, "next_period")?)
                        .map_err(|_| bad("next_period", "out of range"))?,
                    due_at_ms: get(row, "due_at_ms")?,
                    created_at_ms: get(row, "created_at_ms")?,
                    stopped_at_ms: get(row, "stopped_at_ms")?,
                })
            }

            async fn select(
                pool: &Pool,
                condition: &str,
                order: &str,
                bind: Vec<ledger::SqlValue>,
            ) -> Result<Vec<RecurringExpense>, Error> {
                let sql = format!(
                    "{SELECT_SQL} (SELECT * FROM bot_tab_recurring WHERE {condition}) r \
                     JOIN bot_tab_recurring_lines l ON l.recurring_seq = r.seq \
                     ORDER BY {order}, r.seq, l.position"
                );
                let query = crate::$module::bind_values(sqlx::query(sqlx::AssertSqlSafe(sql)), bind);
                let rows = query.fetch_all(pool).await?;
                from_rows(&rows)
            }

            pub(crate) async fn by_reference(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<RecurringExpense>, Error> {
                let found = select(
                    pool,
                    "reference = $1",
                    "r.seq",
                    vec![ledger::SqlValue::from(reference.as_str())],
                )
                .await?;
                Ok(found.into_iter().next())
            }

            pub(crate) async fn insert(
                pool: &Pool,
                r: &RecurringExpense,
            ) -> Result<RecurringExpense, Error> {
                let (rule, first, minute, zone) = schedule_columns(&r.schedule);
                let mut tx = pool.begin().await?;
                let seq: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO bot_tab_recurring (reference, recurring_id, platform, chat,
                         author, author_label, currency, total, memo, rule, first_date,
                         run_minute, time_zone, next_period, due_at_ms, created_at_ms,
                         stopped_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                         $16, $17)
                     ON CONFLICT DO NOTHING RETURNING seq",
                )
                .bind(r.reference.as_str())
                .bind(id_text(r.recurring_id))
                .bind(r.platform.as_str())
                .bind(r.chat.as_str())
                .bind(r.author.0)
                .bind(r.author_label.as_str())
                .bind(r.total.currency().code())
                .bind(r.total.minor())
                .bind(r.memo.as_ref().map(Memo::as_str))
                .bind(rule)
                .bind(first)
                .bind(minute)
                .bind(zone)
                .bind(i64::from(r.next_period))
                .bind(r.due_at_ms)
                .bind(r.created_at_ms)
                .bind(r.stopped_at_ms)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(seq) = seq {
                    crate::tab::$module::insert_lines(&mut tx, INSERT_LINE_SQL, seq, &r.lines)
                        .await?;
                }
                tx.commit().await?;
                // Ours, a retry's, or another one under this reference.
                let found = select(
                    pool,
                    "reference = $1 OR recurring_id = $2",
                    "r.seq",
                    vec![
                        ledger::SqlValue::from(r.reference.as_str()),
                        ledger::SqlValue::from(id_text(r.recurring_id)),
                    ],
                )
                .await?;
                found
                    .iter()
                    .find(|f| f.reference == r.reference)
                    .or_else(|| found.first())
                    .cloned()
                    .ok_or_else(|| Error::Corrupt(format!("{TABLE}: an insert left no row")))
            }

            pub(crate) async fn of_chat(
                pool: &Pool,
                platform: Platform,
                chat: &ChatId,
                limit: u32,
            ) -> Result<Vec<RecurringExpense>, Error> {
                select(
                    pool,
                    "platform = $1 AND chat = $2 AND due_at_ms IS NOT NULL \
                     ORDER BY seq LIMIT CAST($3 AS BIGINT)",
                    "r.seq",
                    vec![
                        ledger::SqlValue::from(platform.as_str()),
                        ledger::SqlValue::from(chat.as_str()),
                        ledger::SqlValue::from(i64::from(limit)),
                    ],
                )
                .await
            }

            pub(crate) async fn due(
                pool: &Pool,
                now_ms: i64,
                limit: u32,
            ) -> Result<Vec<RecurringExpense>, Error> {
                select(
                    pool,
                    "due_at_ms IS NOT NULL AND due_at_ms <= $1 \
                     ORDER BY due_at_ms, seq LIMIT CAST($2 AS BIGINT)",
                    "r.due_at_ms",
                    vec![
                        ledger::SqlValue::from(now_ms),
                        ledger::SqlValue::from(i64::from(limit)),
                    ],
                )
                .await
            }

            pub(crate) async fn advance(
                pool: &Pool,
                reference: &ShortRef,
                from: u32,
                to: u32,
                due_at_ms: Option<i64>,
            ) -> Result<bool, Error> {
                let done = sqlx::query(
                    "UPDATE bot_tab_recurring SET next_period = $3, due_at_ms = $4
                     WHERE reference = $1 AND next_period = $2 AND due_at_ms IS NOT NULL",
                )
                .bind(reference.as_str())
                .bind(i64::from(from))
                .bind(i64::from(to))
                .bind(due_at_ms)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn stop(
                pool: &Pool,
                reference: &ShortRef,
                now_ms: i64,
            ) -> Result<bool, Error> {
                let done = sqlx::query(
                    "UPDATE bot_tab_recurring SET due_at_ms = NULL, stopped_at_ms = $2
                     WHERE reference = $1 AND due_at_ms IS NOT NULL",
                )
                .bind(reference.as_str())
                .bind(now_ms)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

recurring_backend!(sqlite, sqlx::Sqlite);
recurring_backend!(postgres, sqlx::Postgres);

#[async_trait]
impl RecurringExpenseStore for SqlStore {
    async fn insert_recurring_expense(
        &self,
        recurring: &RecurringExpense,
    ) -> Result<RecurringExpense, StoreError> {
        on_backend!(self, pool => db::insert(pool, recurring).await)
    }

    async fn recurring_expense(
        &self,
        reference: &ShortRef,
    ) -> Result<Option<RecurringExpense>, StoreError> {
        on_backend!(self, pool => db::by_reference(pool, reference).await)
    }

    async fn recurring_expenses_of_chat(
        &self,
        platform: Platform,
        chat: &ChatId,
        limit: u32,
    ) -> Result<Vec<RecurringExpense>, StoreError> {
        on_backend!(self, pool => db::of_chat(pool, platform, chat, limit).await)
    }

    async fn recurring_expenses_due(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<RecurringExpense>, StoreError> {
        on_backend!(self, pool => db::due(pool, now_ms, limit).await)
    }

    async fn advance_recurring_expense(
        &self,
        reference: &ShortRef,
        from: u32,
        to: u32,
        due_at_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::advance(pool, reference, from, to, due_at_ms).await)
    }

    async fn stop_recurring_expense(
        &self,
        reference: &ShortRef,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::stop(pool, reference, now_ms).await)
    }
}
