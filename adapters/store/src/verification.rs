//! The verification tables ([`VerificationStore`]): the provider's callback
//! events, claimed once per event id, and each user's legal name; on both
//! backends (one macro, as in `trust.rs`).

use async_trait::async_trait;
use bot::store::{StoreError, UserId};
use bot::trust::AuditRecord;
use bot::trust::operator::UserTarget;
use bot::trust::verification::{
    LegalName, ProviderEventId, VerificationClaim, VerificationEvent, VerificationStore,
};

use crate::{Backend, CLAIM_ATTEMPTS_MAX, Error, SqlStore};

macro_rules! verification_backend {
    ($module:ident, $db:ty, $trust:ident) => {
        pub(crate) mod $module {
            use sqlx::Row;

            use super::*;

            type Db = $db;
            type Pool = ledger::StatementPool<Db>;

            pub(crate) async fn claim(
                pool: &Pool,
                event: &VerificationEvent,
                provider: &str,
                now_ms: i64,
                lease_ms: i64,
            ) -> Result<VerificationClaim, Error> {
                let (platform, platform_user_id) = match &event.target {
                    UserTarget::Id { platform, id } => (platform.as_str(), id.as_str().to_owned()),
                    other => (
                        "",
                        other.to_string(),
                    ),
                };
                for _ in 0..CLAIM_ATTEMPTS_MAX {
                    // New, or taken over from a worker whose lease ran out
                    // (same body, no result yet): one statement decides.
                    let claimed: Option<String> = sqlx::query_scalar(
                        "INSERT INTO bot_verification_events (event_id, provider, body_sha256,
                             platform, platform_user_id, tier, legal_name, reason, claimed_at_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                         ON CONFLICT (event_id) DO UPDATE SET claimed_at_ms = excluded.claimed_at_ms
                         WHERE bot_verification_events.result IS NULL
                           AND bot_verification_events.body_sha256 = excluded.body_sha256
                           AND bot_verification_events.claimed_at_ms <= $10
                         RETURNING event_id",
                    )
                    .bind(event.event_id.as_str())
                    .bind(provider)
                    .bind(event.body_digest.as_str())
                    .bind(platform)
                    .bind(&platform_user_id)
                    .bind(i16::from(event.tier.get()))
                    .bind(event.legal_name.as_ref().map(LegalName::as_str))
                    .bind(event.reason.as_str())
                    .bind(now_ms)
                    .bind(now_ms.saturating_sub(lease_ms))
                    .fetch_optional(pool)
                    .await?;
                    if claimed.is_some() {
                        return Ok(VerificationClaim::New);
                    }
                    let row = sqlx::query(
                        "SELECT body_sha256, result FROM bot_verification_events
                         WHERE event_id = $1",
                    )
                    .bind(event.event_id.as_str())
                    .fetch_optional(pool)
                    .await?;
                    // Released between the two statements: claim again.
                    let Some(row) = row else { continue };
                    let body: String = row.try_get("body_sha256")?;
                    let result: Option<String> = row.try_get("result")?;
                    return Ok(match result {
                        _ if body != event.body_digest.as_str() => VerificationClaim::OtherBody,
                        Some(result) => VerificationClaim::Done(result),
                        None => VerificationClaim::InProgress,
                    });
                }
                Ok(VerificationClaim::InProgress)
            }

            pub(crate) async fn finish(
                pool: &Pool,
                event_id: &ProviderEventId,
                user: UserId,
                result: &str,
                now_ms: i64,
            ) -> Result<(), Error> {
                sqlx::query(
                    "UPDATE bot_verification_events
                     SET user_id = $2, result = $3, finished_at_ms = $4
                     WHERE event_id = $1 AND result IS NULL",
                )
                .bind(event_id.as_str())
                .bind(user.0)
                .bind(result)
                .bind(now_ms)
                .execute(pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn release(
                pool: &Pool,
                event_id: &ProviderEventId,
            ) -> Result<(), Error> {
                sqlx::query(
                    "DELETE FROM bot_verification_events WHERE event_id = $1 AND result IS NULL",
                )
                .bind(event_id.as_str())
                .execute(pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn set_legal_name(
                pool: &Pool,
                user: UserId,
                name: &LegalName,
                provider: &str,
                event_id: &ProviderEventId,
                now_ms: i64,
            ) -> Result<(), Error> {
                sqlx::query(
                    "INSERT INTO bot_verifications (user_id, legal_name, provider, event_id,
                         verified_at_ms)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (user_id) DO UPDATE SET legal_name = excluded.legal_name,
                         provider = excluded.provider, event_id = excluded.event_id,
                         verified_at_ms = excluded.verified_at_ms",
                )
                .bind(user.0)
                .bind(name.as_str())
                .bind(provider)
                .bind(event_id.as_str())
                .bind(now_ms)
                .execute(pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn legal_name_of(
                pool: &Pool,
                user: UserId,
            ) -> Result<Option<String>, Error> {
                Ok(sqlx::query_scalar(
                    "SELECT legal_name FROM bot_verifications WHERE user_id = $1",
                )
                .bind(user.0)
                .fetch_optional(pool)
                .await?)
            }

            pub(crate) async fn recent_audit_of(
                pool: &Pool,
                user: UserId,
                limit: u32,
            ) -> Result<Vec<AuditRecord>, Error> {
                let limit = limit.min(bot::trust::AUDIT_PAGE_MAX);
                let rows = sqlx::query(
                    "SELECT id, at_ms, actor, user_id, kind, subject, details FROM bot_audit_log
                     WHERE user_id = $1 ORDER BY id DESC LIMIT CAST($2 AS BIGINT)",
                )
                .bind(user.0)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter().map(crate::trust::$trust::audit_row).collect()
            }
        }
    };
}

verification_backend!(sqlite, sqlx::Sqlite, sqlite);
verification_backend!(postgres, sqlx::Postgres, postgres);

#[async_trait]
impl VerificationStore for SqlStore {
    async fn claim_verification_event(
        &self,
        event: &VerificationEvent,
        provider: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<VerificationClaim, StoreError> {
        on_backend!(self, pool => db::claim(pool, event, provider, now_ms, lease_ms).await)
    }

    async fn finish_verification_event(
        &self,
        event_id: &ProviderEventId,
        user: UserId,
        result: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        on_backend!(self, pool => db::finish(pool, event_id, user, result, now_ms).await)
    }

    async fn release_verification_event(
        &self,
        event_id: &ProviderEventId,
    ) -> Result<(), StoreError> {
        on_backend!(self, pool => db::release(pool, event_id).await)
    }

    async fn set_legal_name(
        &self,
        user: UserId,
        name: &LegalName,
        provider: &str,
        event_id: &ProviderEventId,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        on_backend!(self, pool => db::set_legal_name(pool, user, name, provider, event_id, now_ms).await)
    }

    async fn legal_name_of(&self, user: UserId) -> Result<Option<String>, StoreError> {
        on_backend!(self, pool => db::legal_name_of(pool, user).await)
    }

    async fn recent_audit_of(
        &self,
        user: UserId,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        on_backend!(self, pool => db::recent_audit_of(pool, user, limit).await)
    }
}
