//! What the fraud and velocity rules read ([`RulesStore`]): a payer's
//! recent payments and first-time payees, on both backends (one macro, as
//! in `lib.rs`), each one bounded statement on `bot_payments`'s
//! `(payer, state, created_at_ms)` index.

use async_trait::async_trait;
use bot::store::{StoreError, UserId};
use bot::trust::rules::{NewPayee, PastPayment, RulesStore};
use ledger::{Amount, Currency};

use crate::{Backend, Error, SqlStore, corrupt};

macro_rules! rules_backend {
    ($module:ident, $db:ty) => {
        pub(crate) mod $module {
            use sqlx::Row;

            use super::*;

            type Db = $db;
            type Pool = ledger::StatementPool<Db>;

            pub(crate) async fn payments_made_since(
                pool: &Pool,
                payer: UserId,
                since_ms: i64,
                limit: u32,
            ) -> Result<Vec<PastPayment>, Error> {
                let table = "bot_payments";
                // The states whose money left the payer's wallet (undone
                // ones too: pay and undo must not loop past the rules).
                let rows = sqlx::query(
                    "SELECT created_at_ms, amount, currency, payee_user FROM bot_payments
                     WHERE payer = $1
                       AND state IN ('completed', 'escrowed', 'claimed', 'refunded', 'reversed')
                       AND created_at_ms > $2
                     ORDER BY created_at_ms DESC, seq DESC LIMIT CAST($3 AS BIGINT)",
                )
                .bind(payer.0)
                .bind(since_ms)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let code: String = row.try_get("currency")?;
                        let currency = Currency::from_code(&code)
                            .map_err(|_| corrupt(table, "currency", &code))?;
                        let minor: i64 = row.try_get("amount")?;
                        Ok(PastPayment {
                            at_ms: row.try_get("created_at_ms")?,
                            amount: Amount::from_minor(minor, currency)
                                .map_err(|e| corrupt(table, "amount", e))?,
                            payee: row.try_get::<Option<i64>, _>("payee_user")?.map(UserId),
                        })
                    })
                    .collect()
            }

            pub(crate) async fn payees_first_paid_since(
                pool: &Pool,
                payer: UserId,
                since_ms: i64,
                limit: u32,
            ) -> Result<Vec<NewPayee>, Error> {
                // The states are the store's `PAID_STATES`, as
                // `has_paid_before`.
                let rows = sqlx::query(
                    "SELECT payee_user, MIN(created_at_ms) AS first_paid_at_ms FROM bot_payments
                     WHERE payer = $1 AND payee_user IS NOT NULL
                       AND state IN ('completed', 'claimed')
                     GROUP BY payee_user HAVING MIN(created_at_ms) > $2
                     ORDER BY first_paid_at_ms DESC LIMIT CAST($3 AS BIGINT)",
                )
                .bind(payer.0)
                .bind(since_ms)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(NewPayee {
                            payee: UserId(row.try_get("payee_user")?),
                            first_paid_at_ms: row.try_get("first_paid_at_ms")?,
                        })
                    })
                    .collect()
            }
        }
    };
}

rules_backend!(sqlite, sqlx::Sqlite);
rules_backend!(postgres, sqlx::Postgres);

#[async_trait]
impl RulesStore for SqlStore {
    async fn payments_made_since(
        &self,
        payer: UserId,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<PastPayment>, StoreError> {
        on_backend!(self, pool => db::payments_made_since(pool, payer, since_ms, limit).await)
    }

    async fn payees_first_paid_since(
        &self,
        payer: UserId,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<NewPayee>, StoreError> {
        on_backend!(self, pool => db::payees_first_paid_since(pool, payer, since_ms, limit).await)
    }
}
