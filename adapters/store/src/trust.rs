//! The trust tables ([`TrustStore`]): the append-only audit log and each
//! user's verification tier, on both backends (one macro, as in `lib.rs`).

use async_trait::async_trait;
use bot::store::{StoreError, UserId};
use bot::trust::{
    AUDIT_PAGE_MAX, Actor, AuditEntry, AuditFilter, AuditKind, AuditRecord, Tier, TierRecord,
    TrustStore,
};

use crate::{Backend, Error, SqlStore, corrupt};

macro_rules! trust_backend {
    ($module:ident, $db:ty) => {
        pub(crate) mod $module {
            use sqlx::Row;

            use super::*;

            type Db = $db;
            type Pool = ledger::StatementPool<Db>;
            type DbRow = <Db as sqlx::Database>::Row;

            pub(crate) async fn append_audit(
                pool: &Pool,
                entry: &AuditEntry,
            ) -> Result<i64, Error> {
                let details = serde_json::Value::Object(entry.details.clone()).to_string();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO bot_audit_log (at_ms, actor, user_id, kind, subject, details)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(entry.at_ms)
                .bind(entry.actor.to_text())
                .bind(entry.user.map(|u| u.0))
                .bind(entry.kind.as_str())
                .bind(entry.subject.as_deref())
                .bind(details)
                .fetch_one(pool)
                .await?;
                Ok(id)
            }

            pub(crate) fn audit_row(row: &DbRow) -> Result<AuditRecord, Error> {
                let table = "bot_audit_log";
                let actor: String = row.try_get("actor")?;
                let kind: String = row.try_get("kind")?;
                let details: String = row.try_get("details")?;
                let details = match serde_json::from_str(&details) {
                    Ok(serde_json::Value::Object(map)) => map,
                    _ => return Err(corrupt(table, "details", "not a JSON object")),
                };
                Ok(AuditRecord {
                    id: row.try_get("id")?,
                    entry: AuditEntry {
                        at_ms: row.try_get("at_ms")?,
                        actor: Actor::parse(&actor)
                            .ok_or_else(|| corrupt(table, "actor", &actor))?,
                        user: row.try_get::<Option<i64>, _>("user_id")?.map(UserId),
                        kind: AuditKind::parse(&kind)
                            .ok_or_else(|| corrupt(table, "kind", &kind))?,
                        subject: row.try_get("subject")?,
                        details,
                    },
                })
            }

            pub(crate) async fn audit_entries(
                pool: &Pool,
                filter: &AuditFilter,
            ) -> Result<Vec<AuditRecord>, Error> {
                // Every condition is always present and switched off by a
                // NULL bind, so the statement text is fixed.
                let rows = sqlx::query(
                    "SELECT id, at_ms, actor, user_id, kind, subject, details FROM bot_audit_log
                     WHERE ($1 IS NULL OR user_id = $1)
                       AND ($2 IS NULL OR at_ms >= $2)
                       AND ($3 IS NULL OR id > $3)
                       AND ($4 IS NULL OR kind = $4)
                       AND ($5 IS NULL OR subject = $5)
                     ORDER BY id LIMIT CAST($6 AS BIGINT)",
                )
                .bind(filter.user.map(|u| u.0))
                .bind(filter.since_ms)
                .bind(filter.after_id)
                .bind(filter.kind.map(AuditKind::as_str))
                .bind(filter.subject.as_deref())
                .bind(i64::from(filter.limit.min(AUDIT_PAGE_MAX)))
                .fetch_all(pool)
                .await?;
                rows.iter().map(audit_row).collect()
            }

            pub(crate) async fn tier_of(
                pool: &Pool,
                user: UserId,
            ) -> Result<Option<TierRecord>, Error> {
                let table = "bot_user_tiers";
                let row = sqlx::query(
                    "SELECT tier, reason, actor, set_at_ms FROM bot_user_tiers WHERE user_id = $1",
                )
                .bind(user.0)
                .fetch_optional(pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let tier: i64 = match row.try_get::<i64, _>("tier") {
                    Ok(tier) => tier,
                    Err(_) => i64::from(row.try_get::<i16, _>("tier")?),
                };
                let actor: String = row.try_get("actor")?;
                Ok(Some(TierRecord {
                    user,
                    tier: u8::try_from(tier)
                        .ok()
                        .and_then(Tier::new)
                        .ok_or_else(|| corrupt(table, "tier", tier))?,
                    reason: row.try_get("reason")?,
                    actor: Actor::parse(&actor).ok_or_else(|| corrupt(table, "actor", &actor))?,
                    set_at_ms: row.try_get("set_at_ms")?,
                }))
            }

            pub(crate) async fn set_tier(pool: &Pool, record: &TierRecord) -> Result<(), Error> {
                sqlx::query(
                    "INSERT INTO bot_user_tiers (user_id, tier, reason, actor, set_at_ms)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier,
                         reason = excluded.reason, actor = excluded.actor,
                         set_at_ms = excluded.set_at_ms",
                )
                .bind(record.user.0)
                .bind(i16::from(record.tier.get()))
                .bind(&record.reason)
                .bind(record.actor.to_text())
                .bind(record.set_at_ms)
                .execute(pool)
                .await?;
                Ok(())
            }
        }
    };
}

trust_backend!(sqlite, sqlx::Sqlite);
trust_backend!(postgres, sqlx::Postgres);

#[async_trait]
impl TrustStore for SqlStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
        on_backend!(self, pool => db::append_audit(pool, entry).await)
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        on_backend!(self, pool => db::audit_entries(pool, filter).await)
    }

    async fn tier_of(&self, user: UserId) -> Result<Option<TierRecord>, StoreError> {
        on_backend!(self, pool => db::tier_of(pool, user).await)
    }

    async fn set_tier(&self, record: &TierRecord) -> Result<(), StoreError> {
        on_backend!(self, pool => db::set_tier(pool, record).await)
    }
}
