//! The second factor's tables ([`SecondFactorStore`]): sealed TOTP secrets,
//! recovery code hashes and wrong codes, on both backends (one macro, as in
//! `lib.rs`). A used time step and a used recovery code are taken by one
//! conditional `UPDATE`; attempts are checked and recorded one at a time
//! per user under a lock on the user's row.

use async_trait::async_trait;
use bot::store::{StoreError, UserId};
use bot::trust::second_factor::{
    RECOVERY_HASH_BYTES, SealedSecret, SecondFactorAttempt, SecondFactorRecord, SecondFactorState,
    SecondFactorStore,
};

use crate::{Backend, Error, SqlStore, corrupt};

macro_rules! second_factor_backend {
    ($module:ident, $db:ty, $begin:literal, $lock:literal) => {
        pub(crate) mod $module {
            use sqlx::Row;

            use super::*;

            type Db = $db;
            type Pool = ledger::StatementPool<Db>;

            pub(crate) async fn second_factor(
                pool: &Pool,
                user: UserId,
            ) -> Result<Option<SecondFactorRecord>, Error> {
                let table = "bot_second_factors";
                let row = sqlx::query(
                    "SELECT state, nonce, sealed_secret, created_at_ms, enabled_at_ms,
                         last_used_step
                     FROM bot_second_factors WHERE user_id = $1",
                )
                .bind(user.0)
                .fetch_optional(pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let state: String = row.try_get("state")?;
                Ok(Some(SecondFactorRecord {
                    user,
                    state: SecondFactorState::parse(&state)
                        .ok_or_else(|| corrupt(table, "state", &state))?,
                    sealed: SealedSecret {
                        nonce: row.try_get("nonce")?,
                        ciphertext: row.try_get("sealed_secret")?,
                    },
                    created_at_ms: row.try_get("created_at_ms")?,
                    enabled_at_ms: row.try_get("enabled_at_ms")?,
                    last_used_step: row.try_get("last_used_step")?,
                }))
            }

            pub(crate) async fn put_pending_second_factor(
                pool: &Pool,
                record: &SecondFactorRecord,
            ) -> Result<bool, Error> {
                let done = sqlx::query(
                    "INSERT INTO bot_second_factors (user_id, state, nonce, sealed_secret,
                         created_at_ms, enabled_at_ms, last_used_step)
                     VALUES ($1, 'pending', $2, $3, $4, NULL, NULL)
                     ON CONFLICT (user_id) DO UPDATE SET nonce = excluded.nonce,
                         sealed_secret = excluded.sealed_secret,
                         created_at_ms = excluded.created_at_ms
                     WHERE bot_second_factors.state = 'pending'",
                )
                .bind(record.user.0)
                .bind(record.sealed.nonce.as_slice())
                .bind(record.sealed.ciphertext.as_slice())
                .bind(record.created_at_ms)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn enable_second_factor(
                pool: &Pool,
                user: UserId,
                nonce: &[u8],
                step: i64,
                recovery_hashes: &[[u8; RECOVERY_HASH_BYTES]],
                now_ms: i64,
            ) -> Result<bool, Error> {
                let mut tx = pool.begin_with($begin).await?;
                let done = sqlx::query(
                    "UPDATE bot_second_factors SET state = 'enabled', enabled_at_ms = $3,
                         last_used_step = $4
                     WHERE user_id = $1 AND nonce = $2 AND state = 'pending'",
                )
                .bind(user.0)
                .bind(nonce)
                .bind(now_ms)
                .bind(step)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                sqlx::query("DELETE FROM bot_second_factor_recovery WHERE user_id = $1")
                    .bind(user.0)
                    .execute(&mut *tx)
                    .await?;
                for hash in recovery_hashes {
                    sqlx::query(
                        "INSERT INTO bot_second_factor_recovery (user_id, code_hash, used_at_ms)
                         VALUES ($1, $2, NULL) ON CONFLICT DO NOTHING",
                    )
                    .bind(user.0)
                    .bind(hash.as_slice())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            pub(crate) async fn use_second_factor_step(
                pool: &Pool,
                user: UserId,
                step: i64,
            ) -> Result<bool, Error> {
                let done = sqlx::query(
                    "UPDATE bot_second_factors SET last_used_step = $2
                     WHERE user_id = $1 AND state = 'enabled'
                       AND (last_used_step IS NULL OR last_used_step < $2)",
                )
                .bind(user.0)
                .bind(step)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn use_recovery_code(
                pool: &Pool,
                user: UserId,
                hash: &[u8; RECOVERY_HASH_BYTES],
                now_ms: i64,
            ) -> Result<bool, Error> {
                let done = sqlx::query(
                    "UPDATE bot_second_factor_recovery SET used_at_ms = $3
                     WHERE user_id = $1 AND code_hash = $2 AND used_at_ms IS NULL",
                )
                .bind(user.0)
                .bind(hash.as_slice())
                .bind(now_ms)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn recovery_codes_left(
                pool: &Pool,
                user: UserId,
            ) -> Result<u32, Error> {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM bot_second_factor_recovery
                     WHERE user_id = $1 AND used_at_ms IS NULL",
                )
                .bind(user.0)
                .fetch_one(pool)
                .await?;
                Ok(u32::try_from(count).unwrap_or(u32::MAX))
            }

            pub(crate) async fn remove_second_factor(
                pool: &Pool,
                user: UserId,
            ) -> Result<bool, Error> {
                let mut tx = pool.begin_with($begin).await?;
                sqlx::query("DELETE FROM bot_second_factor_recovery WHERE user_id = $1")
                    .bind(user.0)
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query("DELETE FROM bot_second_factors WHERE user_id = $1")
                    .bind(user.0)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn begin_second_factor_attempt(
                pool: &Pool,
                user: UserId,
                now_ms: i64,
                window_ms: i64,
                max: u32,
            ) -> Result<SecondFactorAttempt, Error> {
                let since_ms = now_ms.saturating_sub(window_ms);
                let mut tx = pool.begin_with($begin).await?;
                // One user's attempts are checked and recorded one at a
                // time (a user without a second factor has no row to lock,
                // and nothing to guess).
                sqlx::query(concat!(
                    "SELECT user_id FROM bot_second_factors WHERE user_id = $1",
                    $lock
                ))
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM bot_second_factor_attempts WHERE user_id = $1 AND at_ms <= $2",
                )
                .bind(user.0)
                .bind(since_ms)
                .execute(&mut *tx)
                .await?;
                let (count, oldest_ms): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*), MIN(at_ms) FROM bot_second_factor_attempts
                     WHERE user_id = $1 AND at_ms > $2",
                )
                .bind(user.0)
                .bind(since_ms)
                .fetch_one(&mut *tx)
                .await?;
                if count >= i64::from(max) {
                    tx.rollback().await?;
                    let until_ms = oldest_ms.unwrap_or(now_ms).saturating_add(window_ms);
                    return Ok(SecondFactorAttempt::Locked { until_ms });
                }
                let attempt: i64 = sqlx::query_scalar(
                    "INSERT INTO bot_second_factor_attempts (user_id, at_ms)
                     VALUES ($1, $2) RETURNING id",
                )
                .bind(user.0)
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(SecondFactorAttempt::Allowed { attempt })
            }

            pub(crate) async fn forget_second_factor_attempt(
                pool: &Pool,
                attempt: i64,
            ) -> Result<(), Error> {
                sqlx::query("DELETE FROM bot_second_factor_attempts WHERE id = $1")
                    .bind(attempt)
                    .execute(pool)
                    .await?;
                Ok(())
            }
        }
    };
}

second_factor_backend!(sqlite, sqlx::Sqlite, "BEGIN IMMEDIATE", "");
second_factor_backend!(postgres, sqlx::Postgres, "BEGIN", " FOR UPDATE");

#[async_trait]
impl SecondFactorStore for SqlStore {
    async fn second_factor(&self, user: UserId) -> Result<Option<SecondFactorRecord>, StoreError> {
        on_backend!(self, pool => db::second_factor(pool, user).await)
    }

    async fn put_pending_second_factor(
        &self,
        record: &SecondFactorRecord,
    ) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::put_pending_second_factor(pool, record).await)
    }

    async fn enable_second_factor(
        &self,
        user: UserId,
        nonce: &[u8],
        step: i64,
        recovery_hashes: &[[u8; RECOVERY_HASH_BYTES]],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, pool => {
            db::enable_second_factor(pool, user, nonce, step, recovery_hashes, now_ms).await
        })
    }

    async fn use_second_factor_step(&self, user: UserId, step: i64) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::use_second_factor_step(pool, user, step).await)
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &[u8; RECOVERY_HASH_BYTES],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::use_recovery_code(pool, user, hash, now_ms).await)
    }

    async fn recovery_codes_left(&self, user: UserId) -> Result<u32, StoreError> {
        on_backend!(self, pool => db::recovery_codes_left(pool, user).await)
    }

    async fn remove_second_factor(&self, user: UserId) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::remove_second_factor(pool, user).await)
    }

    async fn begin_second_factor_attempt(
        &self,
        user: UserId,
        now_ms: i64,
        window_ms: i64,
        max: u32,
    ) -> Result<SecondFactorAttempt, StoreError> {
        on_backend!(self, pool => {
            db::begin_second_factor_attempt(pool, user, now_ms, window_ms, max).await
        })
    }

    async fn forget_second_factor_attempt(&self, attempt: i64) -> Result<(), StoreError> {
        on_backend!(self, pool => db::forget_second_factor_attempt(pool, attempt).await)
    }
}
