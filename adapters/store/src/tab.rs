//! The group tab ([`TabStore`], migration 23) on both backends (one macro,
//! as in `lib.rs`): group members, and expenses written with their lines in
//! one transaction, then only marked undone.

use async_trait::async_trait;
use bot::command::{Memo, ShortRef};
use bot::message::{ChatId, Handle, Platform, PlatformUserId};
use bot::store::tab::{Expense, ExpenseLine, GroupMember, TabStore};
use bot::store::{StoreError, UserId};
use ledger::{Amount, Currency, RecordWrite, SqlValue, TransferId};

use crate::{Backend, Error, SqlStore, corrupt};

const TABLE: &str = "bot_tab_expenses";

/// Notes a group member, once (the first time is kept).
const NOTE_MEMBER_SQL: &str =
    "INSERT INTO bot_group_members (platform, chat, platform_id, first_seen_ms)
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";

/// An expense's columns, read with its lines (`e.` the expense, `l.` a line).
const SELECT_SQL: &str = "SELECT e.seq, e.reference, e.expense_id, e.platform, e.chat, e.author, \
     e.author_label, e.currency, e.total, e.memo, e.created_at_ms, e.undone_at_ms, \
     l.position, l.user_id, l.label, l.paid, l.owed FROM";

/// One line of an expense.
pub(crate) const INSERT_LINE_SQL: &str = "INSERT INTO bot_tab_lines (expense_seq, position, user_id, label, \
     paid, owed) VALUES ($1, $2, $3, $4, $5, $6)";

/// An id as stored: 32 hexadecimal digits.
pub(crate) fn id_text(id: TransferId) -> String {
    format!("{:032x}", id.as_u128())
}

/// Rows of a record joined with its lines (one row per line, ordered by
/// the record's `seq` then the line's position) into records, each with
/// its lines: `head` reads a record from its first row, `lines` gives the
/// record's line list. Shared by expenses and recurring expenses.
pub(crate) fn with_lines<R, T>(
    rows: &[R],
    seq: impl Fn(&R) -> Result<i64, Error>,
    line: impl Fn(&R) -> Result<ExpenseLine, Error>,
    head: impl Fn(&R) -> Result<T, Error>,
    lines: impl Fn(&mut T) -> &mut Vec<ExpenseLine>,
) -> Result<Vec<T>, Error> {
    let mut found: Vec<(i64, T)> = Vec::new();
    for row in rows {
        let at = seq(row)?;
        let next = line(row)?;
        match found.last_mut() {
            Some((last, record)) if *last == at => lines(record).push(next),
            _ => {
                let mut record = head(row)?;
                lines(&mut record).push(next);
                found.push((at, record));
            }
        }
    }
    Ok(found.into_iter().map(|(_, record)| record).collect())
}

macro_rules! tab_backend {
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

            /// Writes a record's lines under its `seq`, in order, with
            /// `sql` (one line: seq, position, user, label, paid, owed).
            /// Shared by expenses and recurring expenses.
            pub(crate) async fn insert_lines(
                tx: &mut sqlx::Transaction<'_, Db>,
                sql: &'static str,
                seq: i64,
                lines: &[ExpenseLine],
            ) -> Result<(), Error> {
                for (position, line) in lines.iter().enumerate() {
                    let position = i64::try_from(position)
                        .map_err(|_| Error::Refused("too many lines".to_owned()))?;
                    sqlx::query(sql)
                        .bind(seq)
                        .bind(position)
                        .bind(line.user.0)
                        .bind(line.label.as_str())
                        .bind(line.paid_minor)
                        .bind(line.owed_minor)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            /// Rows of [`SELECT_SQL`], ordered by expense then position,
            /// into expenses.
            fn expenses_from_rows(rows: &[DbRow]) -> Result<Vec<Expense>, Error> {
                with_lines(
                    rows,
                    |row| get(row, "seq"),
                    line_from_row,
                    expense_from_row,
                    |e| &mut e.lines,
                )
            }

            /// The line a row of [`SELECT_SQL`] carries.
            pub(crate) fn line_from_row(row: &DbRow) -> Result<ExpenseLine, Error> {
                Ok(ExpenseLine {
                    user: UserId(get(row, "user_id")?),
                    label: get(row, "label")?,
                    paid_minor: get(row, "paid")?,
                    owed_minor: get(row, "owed")?,
                })
            }

            fn expense_from_row(row: &DbRow) -> Result<Expense, Error> {
                let bad = |column: &str, why: &str| corrupt(TABLE, column, why);
                let text = |column: &str| get::<String>(row, column);
                let currency = Currency::from_code(&text("currency")?)
                    .map_err(|_| bad("currency", "unknown"))?;
                let memo: Option<String> = get(row, "memo")?;
                let memo = match memo {
                    Some(memo) => Some(Memo::from_stored(&memo).ok_or_else(|| bad("memo", "bad"))?),
                    None => None,
                };
                Ok(Expense {
                    reference: ShortRef::parse(&text("reference")?)
                        .map_err(|_| bad("reference", "bad"))?,
                    expense_id: u128::from_str_radix(&text("expense_id")?, 16)
                        .ok()
                        .and_then(TransferId::new)
                        .ok_or_else(|| bad("expense_id", "not an id"))?,
                    platform: Platform::from_str_opt(&text("platform")?)
                        .ok_or_else(|| bad("platform", "unknown"))?,
                    chat: ChatId::new(&text("chat")?).map_err(|_| bad("chat", "bad"))?,
                    author: UserId(get(row, "author")?),
                    author_label: text("author_label")?,
                    total: Amount::from_minor(get(row, "total")?, currency)
                        .map_err(|_| bad("total", "not an amount"))?,
                    memo,
                    lines: Vec::new(),
                    created_at_ms: get(row, "created_at_ms")?,
                    undone_at_ms: get(row, "undone_at_ms")?,
                })
            }

            pub(crate) async fn members(
                pool: &Pool,
                platform: Platform,
                chat: &ChatId,
                limit: u32,
            ) -> Result<Vec<GroupMember>, Error> {
                let rows = sqlx::query(
                    "SELECT i.platform_id, i.user_id, i.handle, i.display_name
                     FROM bot_group_members m JOIN bot_identities i
                         ON i.platform = m.platform AND i.platform_id = m.platform_id
                     WHERE m.platform = $1 AND m.chat = $2
                     ORDER BY m.first_seen_ms, m.platform_id LIMIT CAST($3 AS BIGINT)",
                )
                .bind(platform.as_str())
                .bind(chat.as_str())
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                let bad = |column: &str| corrupt("bot_identities", column, "bad");
                rows.iter()
                    .map(|row| {
                        let handle: Option<String> = row.try_get("handle")?;
                        Ok(GroupMember {
                            platform_id: PlatformUserId::new(
                                &row.try_get::<String, _>("platform_id")?,
                            )
                            .map_err(|_| bad("platform_id"))?,
                            user: UserId(row.try_get("user_id")?),
                            handle: handle
                                .map(|h| Handle::parse(&h).map_err(|_| bad("handle")))
                                .transpose()?,
                            display_name: row.try_get("display_name")?,
                        })
                    })
                    .collect()
            }

            async fn select(
                pool: &Pool,
                condition: &str,
                bind: Vec<ledger::SqlValue>,
            ) -> Result<Vec<Expense>, Error> {
                let sql = format!(
                    "{SELECT_SQL} (SELECT * FROM bot_tab_expenses WHERE {condition}) e \
                     JOIN bot_tab_lines l ON l.expense_seq = e.seq \
                     ORDER BY e.seq DESC, l.position"
                );
                let query =
                    crate::$module::bind_values(sqlx::query(sqlx::AssertSqlSafe(sql)), bind);
                let rows = query.fetch_all(pool).await?;
                expenses_from_rows(&rows)
            }

            pub(crate) async fn by_reference(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<Expense>, Error> {
                let found = select(
                    pool,
                    "reference = $1",
                    vec![ledger::SqlValue::from(reference.as_str())],
                )
                .await?;
                Ok(found.into_iter().next())
            }

            pub(crate) async fn insert(pool: &Pool, expense: &Expense) -> Result<Expense, Error> {
                let mut tx = pool.begin().await?;
                let seq: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO bot_tab_expenses (reference, expense_id, platform, chat, author,
                         author_label, currency, total, memo, created_at_ms, undone_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT DO NOTHING RETURNING seq",
                )
                .bind(expense.reference.as_str())
                .bind(id_text(expense.expense_id))
                .bind(expense.platform.as_str())
                .bind(expense.chat.as_str())
                .bind(expense.author.0)
                .bind(expense.author_label.as_str())
                .bind(expense.total.currency().code())
                .bind(expense.total.minor())
                .bind(expense.memo.as_ref().map(Memo::as_str))
                .bind(expense.created_at_ms)
                .bind(expense.undone_at_ms)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(seq) = seq {
                    insert_lines(&mut tx, INSERT_LINE_SQL, seq, &expense.lines).await?;
                }
                tx.commit().await?;
                // Ours, a retry's, or another expense under this reference.
                let found = select(
                    pool,
                    "reference = $1 OR expense_id = $2",
                    vec![
                        ledger::SqlValue::from(expense.reference.as_str()),
                        ledger::SqlValue::from(id_text(expense.expense_id)),
                    ],
                )
                .await?;
                found
                    .iter()
                    .find(|e| e.reference == expense.reference)
                    .or_else(|| found.first())
                    .cloned()
                    .ok_or_else(|| Error::Corrupt(format!("{TABLE}: an insert left no row")))
            }

            pub(crate) async fn of_chat(
                pool: &Pool,
                platform: Platform,
                chat: &ChatId,
                with_undone: bool,
                limit: u32,
            ) -> Result<Vec<Expense>, Error> {
                let condition = if with_undone {
                    "platform = $1 AND chat = $2 ORDER BY seq DESC LIMIT CAST($3 AS BIGINT)"
                } else {
                    "platform = $1 AND chat = $2 AND undone_at_ms IS NULL \
                     ORDER BY seq DESC LIMIT CAST($3 AS BIGINT)"
                };
                select(
                    pool,
                    condition,
                    vec![
                        ledger::SqlValue::from(platform.as_str()),
                        ledger::SqlValue::from(chat.as_str()),
                        ledger::SqlValue::from(i64::from(limit)),
                    ],
                )
                .await
            }

            pub(crate) async fn open_count(
                pool: &Pool,
                platform: Platform,
                chat: &ChatId,
            ) -> Result<u64, Error> {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM bot_tab_expenses
                     WHERE platform = $1 AND chat = $2 AND undone_at_ms IS NULL",
                )
                .bind(platform.as_str())
                .bind(chat.as_str())
                .fetch_one(pool)
                .await?;
                u64::try_from(count).map_err(|_| corrupt(TABLE, "count", "negative"))
            }

            pub(crate) async fn undo(
                pool: &Pool,
                reference: &ShortRef,
                now_ms: i64,
            ) -> Result<bool, Error> {
                let done = sqlx::query(
                    "UPDATE bot_tab_expenses SET undone_at_ms = $2
                     WHERE reference = $1 AND undone_at_ms IS NULL",
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

tab_backend!(sqlite, sqlx::Sqlite);
tab_backend!(postgres, sqlx::Postgres);

#[async_trait]
impl TabStore for SqlStore {
    async fn note_group_member(
        &self,
        platform: Platform,
        chat: &ChatId,
        id: &PlatformUserId,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        match &self.backend {
            // An insert on a connection of its own waited for the writer's
            // lock on someone's first message in a group (54 to 433 ms in
            // one benchmark run): it goes in the writer's next batch, as
            // the events' outcomes do.
            Backend::Sqlite(_) => {
                let note = RecordWrite::new(
                    NOTE_MEMBER_SQL,
                    vec![
                        SqlValue::from(platform.as_str()),
                        SqlValue::from(chat.as_str()),
                        SqlValue::from(id.as_str()),
                        SqlValue::from(now_ms),
                    ],
                );
                self.commit_in_writers_batch(vec![note])
                    .await
                    .map_err(StoreError::new)
            }
            Backend::Postgres(pool) => sqlx::query(NOTE_MEMBER_SQL)
                .bind(platform.as_str())
                .bind(chat.as_str())
                .bind(id.as_str())
                .bind(now_ms)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(|e| StoreError::from(Error::from(e))),
            Backend::Missing(why) => Err(StoreError::from(Error::Refused(why.clone()))),
        }
    }

    async fn group_members(
        &self,
        platform: Platform,
        chat: &ChatId,
        limit: u32,
    ) -> Result<Vec<GroupMember>, StoreError> {
        on_backend!(self, pool => db::members(pool, platform, chat, limit).await)
    }

    async fn insert_expense(&self, expense: &Expense) -> Result<Expense, StoreError> {
        on_backend!(self, pool => db::insert(pool, expense).await)
    }

    async fn expense(&self, reference: &ShortRef) -> Result<Option<Expense>, StoreError> {
        on_backend!(self, pool => db::by_reference(pool, reference).await)
    }

    async fn expenses_of_chat(
        &self,
        platform: Platform,
        chat: &ChatId,
        with_undone: bool,
        limit: u32,
    ) -> Result<Vec<Expense>, StoreError> {
        on_backend!(self, pool => db::of_chat(pool, platform, chat, with_undone, limit).await)
    }

    async fn open_expense_count(
        &self,
        platform: Platform,
        chat: &ChatId,
    ) -> Result<u64, StoreError> {
        on_backend!(self, pool => db::open_count(pool, platform, chat).await)
    }

    async fn undo_expense(&self, reference: &ShortRef, now_ms: i64) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::undo(pool, reference, now_ms).await)
    }
}
