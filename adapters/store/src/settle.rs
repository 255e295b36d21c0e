//! The group tab's settlements ([`SettlementStore`], migration 24) on both
//! backends (one macro, as in `tab.rs`), and an expense's edit.
//!
//! The one decision to know: a paid settlement's state is read through a
//! join with its payment, so it counts exactly when the payment's record
//! says completed, and that record commits with the money.

use async_trait::async_trait;
use bot::command::{Memo, ShortRef};
use bot::message::{ChatId, Platform, PlatformUserId};
use bot::store::tab::{
    Expense, SettledTotal, Settlement, SettlementKind, SettlementState, SettlementStore,
};
use bot::store::{StoreError, UserId};
use ledger::{Amount, Currency, RecordWrite, SqlValue, TransferId};
use sqlx::types::Uuid;

use crate::{Backend, Error, SqlStore, corrupt};

const TABLE: &str = "bot_tab_settlements";

/// A settlement's columns and its payment's state (`payment_state`).
const SELECT_SQL: &str = "SELECT s.reference, s.settlement_id, s.platform, s.chat, s.payer, \
     s.payer_label, s.payer_platform_id, s.payee, s.payee_label, s.payee_platform_id, \
     s.currency, s.amount, s.kind, s.payment_transfer, s.decision, s.created_at_ms, \
     s.decided_at_ms, p.state AS payment_state \
     FROM bot_tab_settlements s LEFT JOIN bot_payments p ON p.transfer_id = s.payment_transfer";

/// An id as stored: 32 hexadecimal digits.
fn id_text(id: TransferId) -> String {
    format!("{:032x}", id.as_u128())
}

/// A settlement's state from its kind, its answer and its payment's state.
fn state_of(
    kind: SettlementKind,
    decision: Option<&str>,
    payment_state: Option<&str>,
) -> SettlementState {
    match kind {
        SettlementKind::Cash => match decision {
            None => SettlementState::Pending,
            Some("confirmed") => SettlementState::Counted,
            Some("cancelled") => SettlementState::Lapsed,
            Some("expired") => SettlementState::Expired,
            Some(_) => SettlementState::Rejected,
        },
        SettlementKind::Paid => match payment_state {
            Some("completed" | "claimed") => SettlementState::Counted,
            Some("awaiting_code" | "held" | "escrowed") => SettlementState::Pending,
            _ => SettlementState::Lapsed,
        },
    }
}

/// The settlements that wait (a cash one unanswered, a paid one whose
/// payment waits for its code or a review), as a `WHERE` condition on `s`
/// joined with its payment `p`.
const WAITING_SQL: &str = "((s.kind = 'cash' AND s.decision IS NULL) \
     OR p.state IN ('awaiting_code', 'held', 'escrowed'))";

/// The write that stores a new settlement in the ledger's commit (see
/// [`bot::store::RecordChange::InsertSettlement`]): nothing is written
/// when what the payer's waiting settlements with this payee in this
/// currency and this one come to is more than `owed_minor`.
pub(crate) fn insert_write(s: &Settlement, owed_minor: i64) -> RecordWrite {
    let sql = format!(
        "INSERT INTO bot_tab_settlements (reference, settlement_id, platform, chat,
             payer, payer_label, payer_platform_id, payee, payee_label,
             payee_platform_id, currency, amount, kind, payment_transfer,
             created_at_ms)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15
         WHERE (SELECT COALESCE(SUM(s.amount), 0) FROM bot_tab_settlements s
                LEFT JOIN bot_payments p ON p.transfer_id = s.payment_transfer
                WHERE s.platform = $3 AND s.chat = $4 AND s.payer = $5
                  AND s.payee = $8 AND s.currency = $11 AND {WAITING_SQL}) + $12 <= $16
         ON CONFLICT DO NOTHING"
    );
    RecordWrite::new(
        sql,
        vec![
            SqlValue::from(s.reference.as_str()),
            SqlValue::from(id_text(s.settlement_id).as_str()),
            SqlValue::from(s.platform.as_str()),
            SqlValue::from(s.chat.as_str()),
            SqlValue::from(s.payer.0),
            SqlValue::from(s.payer_label.as_str()),
            SqlValue::from(s.payer_platform_id.as_str()),
            SqlValue::from(s.payee.0),
            SqlValue::from(s.payee_label.as_str()),
            SqlValue::from(s.payee_platform_id.as_str()),
            SqlValue::from(s.amount.currency().code()),
            SqlValue::from(s.amount.minor()),
            SqlValue::from(s.kind.as_str()),
            SqlValue::Uuid(s.payment_transfer.map(|id| id.as_u128())),
            SqlValue::from(s.created_at_ms),
            SqlValue::from(owed_minor),
        ],
    )
    .expecting_rows(1)
}

/// The write that expires an unanswered cash settlement in the ledger's
/// commit, with its notices (see
/// [`bot::store::RecordChange::ExpireCashSettlement`]): the same
/// check-and-set on "unanswered" (`decision IS NULL`) as an answer or a
/// cancel, so nothing is written when one of them came first.
pub(crate) fn expire_write(reference: &ShortRef, now_ms: i64) -> RecordWrite {
    RecordWrite::new(
        "UPDATE bot_tab_settlements SET decision = 'expired', decided_at_ms = $2
         WHERE reference = $1 AND kind = 'cash' AND decision IS NULL"
            .to_owned(),
        vec![SqlValue::from(reference.as_str()), SqlValue::from(now_ms)],
    )
    .expecting_rows(1)
}

macro_rules! settle_backend {
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

            fn from_row(row: &DbRow) -> Result<Settlement, Error> {
                let bad = |column: &str| corrupt(TABLE, column, "bad");
                let text = |column: &str| get::<String>(row, column);
                let currency =
                    Currency::from_code(&text("currency")?).map_err(|_| bad("currency"))?;
                let kind =
                    SettlementKind::from_str_opt(&text("kind")?).ok_or_else(|| bad("kind"))?;
                let decision: Option<String> = get(row, "decision")?;
                let payment_state: Option<String> = get(row, "payment_state")?;
                let payment_transfer: Option<Uuid> = get(row, "payment_transfer")?;
                Ok(Settlement {
                    reference: ShortRef::parse(&text("reference")?)
                        .map_err(|_| bad("reference"))?,
                    settlement_id: u128::from_str_radix(&text("settlement_id")?, 16)
                        .ok()
                        .and_then(TransferId::new)
                        .ok_or_else(|| bad("settlement_id"))?,
                    platform: Platform::from_str_opt(&text("platform")?)
                        .ok_or_else(|| bad("platform"))?,
                    chat: ChatId::new(&text("chat")?).map_err(|_| bad("chat"))?,
                    payer: UserId(get(row, "payer")?),
                    payer_label: text("payer_label")?,
                    payer_platform_id: PlatformUserId::new(&text("payer_platform_id")?)
                        .map_err(|_| bad("payer_platform_id"))?,
                    payee: UserId(get(row, "payee")?),
                    payee_label: text("payee_label")?,
                    payee_platform_id: PlatformUserId::new(&text("payee_platform_id")?)
                        .map_err(|_| bad("payee_platform_id"))?,
                    amount: Amount::from_minor(get(row, "amount")?, currency)
                        .map_err(|_| bad("amount"))?,
                    kind,
                    payment_transfer: match payment_transfer {
                        Some(id) => Some(
                            TransferId::new(id.as_u128()).ok_or_else(|| bad("payment_transfer"))?,
                        ),
                        None => None,
                    },
                    state: state_of(kind, decision.as_deref(), payment_state.as_deref()),
                    created_at_ms: get(row, "created_at_ms")?,
                    decided_at_ms: get(row, "decided_at_ms")?,
                })
            }

            pub(crate) async fn by_reference(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<Settlement>, Error> {
                let sql = format!("{SELECT_SQL} WHERE s.reference = $1");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(reference.as_str())
                    .fetch_optional(pool)
                    .await?;
                row.as_ref().map(from_row).transpose()
            }

            async fn by_id(pool: &Pool, id: TransferId) -> Result<Option<Settlement>, Error> {
                let sql = format!("{SELECT_SQL} WHERE s.settlement_id = $1");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id_text(id))
                    .fetch_optional(pool)
                    .await?;
                row.as_ref().map(from_row).transpose()
            }

            pub(crate) async fn insert(
                pool: &Pool,
                s: &Settlement,
            ) -> Result<Option<Settlement>, Error> {
                sqlx::query(
                    "INSERT INTO bot_tab_settlements (reference, settlement_id, platform, chat,
                         payer, payer_label, payer_platform_id, payee, payee_label,
                         payee_platform_id, currency, amount, kind, payment_transfer,
                         decision, created_at_ms, decided_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                         NULL, $15, NULL)
                     ON CONFLICT DO NOTHING",
                )
                .bind(s.reference.as_str())
                .bind(id_text(s.settlement_id))
                .bind(s.platform.as_str())
                .bind(s.chat.as_str())
                .bind(s.payer.0)
                .bind(s.payer_label.as_str())
                .bind(s.payer_platform_id.as_str())
                .bind(s.payee.0)
                .bind(s.payee_label.as_str())
                .bind(s.payee_platform_id.as_str())
                .bind(s.amount.currency().code())
                .bind(s.amount.minor())
                .bind(s.kind.as_str())
                .bind(s.payment_transfer.map(|id| Uuid::from_u128(id.as_u128())))
                .bind(s.created_at_ms)
                .execute(pool)
                .await?;
                by_id(pool, s.settlement_id).await
            }

            pub(crate) async fn of_chat(
                pool: &Pool,
                platform: Platform,
                chat: &ChatId,
                limit: u32,
            ) -> Result<Vec<Settlement>, Error> {
                let sql = format!(
                    "{SELECT_SQL} WHERE s.platform = $1 AND s.chat = $2 \
                     ORDER BY s.seq DESC LIMIT CAST($3 AS BIGINT)"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(platform.as_str())
                    .bind(chat.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(from_row).collect()
            }

            pub(crate) async fn counted(
                pool: &Pool,
                platform: Platform,
                chat: &ChatId,
            ) -> Result<Vec<SettledTotal>, Error> {
                let rows = sqlx::query(
                    "SELECT s.payer, MAX(s.payer_label) AS payer_label, s.payee,
                         MAX(s.payee_label) AS payee_label, s.currency,
                         CAST(SUM(s.amount) AS BIGINT) AS total, COUNT(*) AS count
                     FROM bot_tab_settlements s
                     LEFT JOIN bot_payments p ON p.transfer_id = s.payment_transfer
                     WHERE s.platform = $1 AND s.chat = $2
                       AND ((s.kind = 'cash' AND s.decision = 'confirmed')
                            OR (s.kind = 'paid' AND p.state IN ('completed', 'claimed')))
                     GROUP BY s.payer, s.payee, s.currency
                     ORDER BY s.payer, s.payee, s.currency",
                )
                .bind(platform.as_str())
                .bind(chat.as_str())
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let bad = |column: &str| corrupt(TABLE, column, "bad");
                        let currency = Currency::from_code(&get::<String>(row, "currency")?)
                            .map_err(|_| bad("currency"))?;
                        Ok(SettledTotal {
                            payer: UserId(get(row, "payer")?),
                            payer_label: get(row, "payer_label")?,
                            payee: UserId(get(row, "payee")?),
                            payee_label: get(row, "payee_label")?,
                            amount: Amount::from_minor(get(row, "total")?, currency)
                                .map_err(|_| bad("amount"))?,
                            count: u64::try_from(get::<i64>(row, "count")?)
                                .map_err(|_| bad("count"))?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn answer(
                pool: &Pool,
                reference: &ShortRef,
                accept: bool,
                now_ms: i64,
            ) -> Result<bool, Error> {
                let done = sqlx::query(
                    "UPDATE bot_tab_settlements SET decision = $2, decided_at_ms = $3
                     WHERE reference = $1 AND kind = 'cash' AND decision IS NULL",
                )
                .bind(reference.as_str())
                .bind(if accept { "confirmed" } else { "rejected" })
                .bind(now_ms)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn cancel(
                pool: &Pool,
                reference: &ShortRef,
                payer: UserId,
                now_ms: i64,
            ) -> Result<bool, Error> {
                let done = sqlx::query(
                    "UPDATE bot_tab_settlements SET decision = 'cancelled', decided_at_ms = $3
                     WHERE reference = $1 AND payer = $2 AND kind = 'cash'
                       AND decision IS NULL",
                )
                .bind(reference.as_str())
                .bind(payer.0)
                .bind(now_ms)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn note_ask(
                pool: &Pool,
                platform: Platform,
                chat: &ChatId,
                debtor: UserId,
                now_ms: i64,
                asked_after_ms: i64,
            ) -> Result<bool, Error> {
                let done = sqlx::query(
                    "INSERT INTO bot_settle_asks (platform, chat, debtor, asked_at_ms)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (platform, chat, debtor) DO UPDATE SET asked_at_ms = $4
                     WHERE bot_settle_asks.asked_at_ms <= $5",
                )
                .bind(platform.as_str())
                .bind(chat.as_str())
                .bind(debtor.0)
                .bind(now_ms)
                .bind(asked_after_ms)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn unanswered(
                pool: &Pool,
                made_by_ms: i64,
                limit: u32,
            ) -> Result<Vec<Settlement>, Error> {
                let sql = format!(
                    "{SELECT_SQL} WHERE s.kind = 'cash' AND s.decision IS NULL \
                     AND s.created_at_ms <= $1 ORDER BY s.created_at_ms, s.seq \
                     LIMIT CAST($2 AS BIGINT)"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(made_by_ms)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(from_row).collect()
            }

            pub(crate) async fn replace_expense(
                pool: &Pool,
                old: &ShortRef,
                new: &Expense,
                now_ms: i64,
            ) -> Result<Option<Expense>, Error> {
                // A write first: on SQLite a transaction that read before
                // writing may not upgrade after another writer committed.
                let mut tx = pool.begin().await?;
                let undone = sqlx::query(
                    "UPDATE bot_tab_expenses SET undone_at_ms = $2
                     WHERE reference = $1 AND undone_at_ms IS NULL",
                )
                .bind(old.as_str())
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                if undone.rows_affected() != 1 {
                    tx.rollback().await?;
                    // Undone already: by this very edit (a retry finds its
                    // replacement) or by something else.
                    let done: Option<String> = sqlx::query_scalar(
                        "SELECT reference FROM bot_tab_expenses WHERE expense_id = $1",
                    )
                    .bind(id_text(new.expense_id))
                    .fetch_optional(pool)
                    .await?;
                    let Some(reference) = done else {
                        return Ok(None);
                    };
                    let reference = ShortRef::parse(&reference)
                        .map_err(|_| corrupt("bot_tab_expenses", "reference", "bad"))?;
                    return crate::tab::$module::by_reference(pool, &reference).await;
                }
                let seq: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO bot_tab_expenses (reference, expense_id, platform, chat, author,
                         author_label, currency, total, memo, created_at_ms, undone_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)
                     ON CONFLICT DO NOTHING RETURNING seq",
                )
                .bind(new.reference.as_str())
                .bind(id_text(new.expense_id))
                .bind(new.platform.as_str())
                .bind(new.chat.as_str())
                .bind(new.author.0)
                .bind(new.author_label.as_str())
                .bind(new.total.currency().code())
                .bind(new.total.minor())
                .bind(new.memo.as_ref().map(Memo::as_str))
                .bind(new.created_at_ms)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(seq) = seq else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                crate::tab::$module::insert_lines(
                    &mut tx,
                    crate::tab::INSERT_LINE_SQL,
                    seq,
                    &new.lines,
                )
                .await?;
                tx.commit().await?;
                crate::tab::$module::by_reference(pool, &new.reference).await
            }
        }
    };
}

settle_backend!(sqlite, sqlx::Sqlite);
settle_backend!(postgres, sqlx::Postgres);

#[async_trait]
impl SettlementStore for SqlStore {
    async fn insert_settlement(
        &self,
        settlement: &Settlement,
    ) -> Result<Option<Settlement>, StoreError> {
        on_backend!(self, pool => db::insert(pool, settlement).await)
    }

    async fn settlement(&self, reference: &ShortRef) -> Result<Option<Settlement>, StoreError> {
        on_backend!(self, pool => db::by_reference(pool, reference).await)
    }

    async fn settlements_of_chat(
        &self,
        platform: Platform,
        chat: &ChatId,
        limit: u32,
    ) -> Result<Vec<Settlement>, StoreError> {
        on_backend!(self, pool => db::of_chat(pool, platform, chat, limit).await)
    }

    async fn counted_settlements(
        &self,
        platform: Platform,
        chat: &ChatId,
    ) -> Result<Vec<SettledTotal>, StoreError> {
        on_backend!(self, pool => db::counted(pool, platform, chat).await)
    }

    async fn answer_cash_settlement(
        &self,
        reference: &ShortRef,
        accept: bool,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::answer(pool, reference, accept, now_ms).await)
    }

    async fn cancel_cash_settlement(
        &self,
        reference: &ShortRef,
        payer: UserId,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::cancel(pool, reference, payer, now_ms).await)
    }

    async fn cash_settlements_unanswered(
        &self,
        made_by_ms: i64,
        limit: u32,
    ) -> Result<Vec<Settlement>, StoreError> {
        on_backend!(self, pool => db::unanswered(pool, made_by_ms, limit).await)
    }

    async fn note_settle_ask(
        &self,
        platform: Platform,
        chat: &ChatId,
        debtor: UserId,
        now_ms: i64,
        asked_after_ms: i64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::note_ask(pool, platform, chat, debtor, now_ms, asked_after_ms).await)
    }

    async fn replace_expense(
        &self,
        old: &ShortRef,
        new: &Expense,
        now_ms: i64,
    ) -> Result<Option<Expense>, StoreError> {
        on_backend!(self, pool => db::replace_expense(pool, old, new, now_ms).await)
    }
}
