//! Bill pay's tables (migration 19): billers, their invoices and the
//! webhook events queued for them; on both backends (one macro, as in
//! `verification.rs`).
//!
//! The one design decision to know: an invoice changes state only by a
//! compare-and-swap on its state, in the same transaction that queues its
//! webhook event ([`SqlStore::settle_invoice`]), so each state change is
//! announced exactly once, even with two processes on one database.

use bot::store::{StoreError, UserId};
use ledger::{RecordWrite, SqlValue};

use crate::{Backend, Error, SqlStore};

/// A biller as stored: its secrets are the token's SHA-256 (hex) and the
/// webhook signing secret the server signs with, sealed (see
/// `paybot::bills::WebhookSealer`; this crate never sees it in clear).
#[derive(Clone, PartialEq, Eq)]
pub struct Biller {
    /// The store's id for it.
    pub id: i64,
    /// The name the operator gave it.
    pub name: String,
    /// The handle users see, without `@`.
    pub handle: String,
    /// Its paybot user (its wallet).
    pub user: UserId,
    /// Where its webhooks go.
    pub webhook_url: String,
    /// The secret its webhooks are signed with, as stored: sealed
    /// (`sealed:v1:...`), or in clear if an earlier version wrote it.
    pub webhook_secret: String,
}

impl std::fmt::Debug for Biller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Biller")
            .field("id", &self.id)
            .field("handle", &self.handle)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// An invoice as stored; `state` is one of [`INVOICE_STATES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// The biller that sent it.
    pub biller_id: i64,
    /// The biller's own reference (unique per biller).
    pub reference: String,
    /// The payment request it is, to the user (`/approve REF`).
    pub request_ref: String,
    /// The payer's platform name.
    pub platform: String,
    /// The payer's id on that platform.
    pub platform_user_id: String,
    /// Minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// When it is due, milliseconds since the epoch.
    pub due_at_ms: i64,
    /// What it is for.
    pub description: String,
    /// open, paid, declined, expired or cancelled.
    pub state: String,
    /// When it was created, milliseconds since the epoch.
    pub created_at_ms: i64,
    /// When its state last changed, milliseconds since the epoch.
    pub updated_at_ms: i64,
}

/// Every state an invoice can be in.
pub const INVOICE_STATES: [&str; 5] = ["open", "paid", "declined", "expired", "cancelled"];

/// A webhook event waiting for (or done with) delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Its id, which the biller deduplicates on.
    pub event_id: String,
    /// The biller it goes to.
    pub biller_id: i64,
    /// e.g. `invoice.paid`.
    pub kind: String,
    /// The JSON body, exactly as signed and sent.
    pub body: String,
    /// pending, delivered or dead.
    pub state: String,
    /// Tries so far.
    pub attempts: i64,
    /// When the next try is due, milliseconds since the epoch.
    pub next_at_ms: i64,
}

macro_rules! bills_backend {
    ($module:ident, $db:ty) => {
        pub(crate) mod $module {
            use sqlx::Row;

            use super::*;

            type Db = $db;
            type Pool = ledger::StatementPool<Db>;
            type DbRow = <Db as sqlx::Database>::Row;

            fn biller_row(row: &DbRow) -> Result<Biller, Error> {
                Ok(Biller {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    handle: row.try_get("handle")?,
                    user: UserId(row.try_get("user_id")?),
                    webhook_url: row.try_get("webhook_url")?,
                    webhook_secret: row.try_get("webhook_secret")?,
                })
            }

            fn invoice_row(row: &DbRow) -> Result<Invoice, Error> {
                Ok(Invoice {
                    biller_id: row.try_get("biller_id")?,
                    reference: row.try_get("reference")?,
                    request_ref: row.try_get("request_ref")?,
                    platform: row.try_get("platform")?,
                    platform_user_id: row.try_get("platform_user_id")?,
                    amount_minor: row.try_get("amount")?,
                    currency: row.try_get("currency")?,
                    due_at_ms: row.try_get("due_at_ms")?,
                    description: row.try_get("description")?,
                    state: row.try_get("state")?,
                    created_at_ms: row.try_get("created_at_ms")?,
                    updated_at_ms: row.try_get("updated_at_ms")?,
                })
            }

            fn event_row(row: &DbRow) -> Result<WebhookEvent, Error> {
                Ok(WebhookEvent {
                    event_id: row.try_get("event_id")?,
                    biller_id: row.try_get("biller_id")?,
                    kind: row.try_get("kind")?,
                    body: row.try_get("body")?,
                    state: row.try_get("state")?,
                    attempts: row.try_get("attempts")?,
                    next_at_ms: row.try_get("next_at_ms")?,
                })
            }

            pub(crate) async fn insert_biller(
                pool: &Pool,
                biller: &Biller,
                token_sha256: &str,
                now_ms: i64,
            ) -> Result<Option<i64>, Error> {
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO bot_billers (name, handle, user_id, token_sha256, webhook_url,
                         webhook_secret, created_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (handle) DO NOTHING RETURNING id",
                )
                .bind(&biller.name)
                .bind(&biller.handle)
                .bind(biller.user.0)
                .bind(token_sha256)
                .bind(&biller.webhook_url)
                .bind(&biller.webhook_secret)
                .bind(now_ms)
                .fetch_optional(pool)
                .await?;
                Ok(id)
            }

            pub(crate) async fn biller_by_token(
                pool: &Pool,
                token_sha256: &str,
            ) -> Result<Option<Biller>, Error> {
                let row = sqlx::query(
                    "SELECT id, name, handle, user_id, webhook_url, webhook_secret FROM bot_billers WHERE token_sha256 = $1",
)
                .bind(token_sha256)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(biller_row).transpose()
            }

            pub(crate) async fn biller(pool: &Pool, id: i64) -> Result<Option<Biller>, Error> {
                let row = sqlx::query(
                    "SELECT id, name, handle, user_id, webhook_url, webhook_secret FROM bot_billers WHERE id = $1",
)
                .bind(id)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(biller_row).transpose()
            }

            pub(crate) async fn billers_with_clear_secret(
                pool: &Pool,
                sealed_prefix: &str,
                limit: u32,
            ) -> Result<Vec<Biller>, Error> {
                let rows = sqlx::query(
                    "SELECT id, name, handle, user_id, webhook_url, webhook_secret FROM bot_billers
                     WHERE webhook_secret NOT LIKE $1 ORDER BY id LIMIT CAST($2 AS BIGINT)",
                )
                .bind(format!("{sealed_prefix}%"))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter().map(biller_row).collect()
            }

            pub(crate) async fn replace_webhook_secret(
                pool: &Pool,
                id: i64,
                was: &str,
                now: &str,
            ) -> Result<bool, Error> {
                let changed = sqlx::query(
                    "UPDATE bot_billers SET webhook_secret = $1 WHERE id = $2 AND webhook_secret = $3",
                )
                .bind(now)
                .bind(id)
                .bind(was)
                .execute(pool)
                .await?
                .rows_affected();
                Ok(changed == 1)
            }

            pub(crate) async fn insert_invoice(
                pool: &Pool,
                invoice: &Invoice,
            ) -> Result<Invoice, Error> {
                sqlx::query(
                    "INSERT INTO bot_invoices (biller_id, reference, request_ref, platform,
                         platform_user_id, amount, currency, due_at_ms, description, state,
                         created_at_ms, updated_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT (biller_id, reference) DO NOTHING",
                )
                .bind(invoice.biller_id)
                .bind(&invoice.reference)
                .bind(&invoice.request_ref)
                .bind(&invoice.platform)
                .bind(&invoice.platform_user_id)
                .bind(invoice.amount_minor)
                .bind(&invoice.currency)
                .bind(invoice.due_at_ms)
                .bind(&invoice.description)
                .bind(&invoice.state)
                .bind(invoice.created_at_ms)
                .bind(invoice.updated_at_ms)
                .execute(pool)
                .await?;
                invoice_of(pool, invoice.biller_id, &invoice.reference)
                    .await?
                    .ok_or_else(|| Error::Refused("an inserted invoice is missing".to_owned()))
            }

            pub(crate) async fn invoice_of(
                pool: &Pool,
                biller_id: i64,
                reference: &str,
            ) -> Result<Option<Invoice>, Error> {
                let row = sqlx::query(
                    "SELECT biller_id, reference, request_ref, platform, platform_user_id, amount, currency, due_at_ms, description, state, created_at_ms, updated_at_ms FROM bot_invoices
                     WHERE biller_id = $1 AND reference = $2",
)
                .bind(biller_id)
                .bind(reference)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(invoice_row).transpose()
            }

            pub(crate) async fn open_invoices(
                pool: &Pool,
                due_before_ms: i64,
                limit: u32,
            ) -> Result<Vec<Invoice>, Error> {
                // Only the open invoices with something to follow: the
                // window never fills with ones that have nothing to do.
                let rows = sqlx::query(
                    "SELECT i.biller_id, i.reference, i.request_ref, i.platform,
                         i.platform_user_id, i.amount, i.currency, i.due_at_ms, i.description,
                         i.state, i.created_at_ms, i.updated_at_ms
                     FROM bot_invoices i JOIN bot_requests r ON r.reference = i.request_ref
                     WHERE i.state = 'open'
                       AND (r.state IN ('paid', 'declined')
                         OR (i.due_at_ms < $1
                           AND NOT (r.state = 'approved' AND EXISTS (
                             SELECT 1 FROM bot_payments p WHERE p.reference = r.payment_ref
                               AND p.state IN ('awaiting_code', 'escrowed', 'held')))))
                     ORDER BY i.due_at_ms, i.biller_id, i.reference LIMIT CAST($2 AS BIGINT)",
                )
                .bind(due_before_ms)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter().map(invoice_row).collect()
            }

            /// Queues a webhook event in the transaction that changes its
            /// invoice (an event id already queued is kept as it is).
            async fn queue_event(
                tx: &mut sqlx::Transaction<'_, Db>,
                event: &WebhookEvent,
                now_ms: i64,
            ) -> Result<(), Error> {
                sqlx::query(
                    "INSERT INTO bot_webhook_events (event_id, biller_id, kind, body, state,
                         attempts, next_at_ms, created_at_ms)
                     VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)
                     ON CONFLICT (event_id) DO NOTHING",
                )
                .bind(&event.event_id)
                .bind(event.biller_id)
                .bind(&event.kind)
                .bind(&event.body)
                .bind(now_ms)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            pub(crate) async fn settle_invoice(
                pool: &Pool,
                invoice: &Invoice,
                to_state: &str,
                event: &WebhookEvent,
                now_ms: i64,
            ) -> Result<bool, Error> {
                let mut tx = pool.begin().await?;
                let changed = sqlx::query(
                    "UPDATE bot_invoices SET state = $1, updated_at_ms = $2
                     WHERE biller_id = $3 AND reference = $4 AND state = $5",
                )
                .bind(to_state)
                .bind(now_ms)
                .bind(invoice.biller_id)
                .bind(&invoice.reference)
                .bind(&invoice.state)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                queue_event(&mut tx, event, now_ms).await?;
                tx.commit().await?;
                Ok(true)
            }

            pub(crate) async fn withdraw_invoice(
                pool: &Pool,
                invoice: &Invoice,
                to_state: &str,
                event: &WebhookEvent,
                now_ms: i64,
            ) -> Result<bool, Error> {
                let mut tx = pool.begin().await?;
                let request = sqlx::query(
                    "UPDATE bot_requests SET state = 'declined', updated_at_ms = $1,
                         revision = revision + 1
                     WHERE reference = $2 AND (state = 'open' OR (state = 'approved'
                         AND NOT EXISTS (SELECT 1 FROM bot_payments p
                             WHERE p.reference = bot_requests.payment_ref
                               AND p.state IN ('awaiting_code', 'escrowed', 'held'))))",
                )
                .bind(now_ms)
                .bind(&invoice.request_ref)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let changed = sqlx::query(
                    "UPDATE bot_invoices SET state = $1, updated_at_ms = $2
                     WHERE biller_id = $3 AND reference = $4 AND state = 'open'",
                )
                .bind(to_state)
                .bind(now_ms)
                .bind(invoice.biller_id)
                .bind(&invoice.reference)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if request != 1 || changed != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                queue_event(&mut tx, event, now_ms).await?;
                tx.commit().await?;
                Ok(true)
            }

            pub(crate) async fn due_webhooks(
                pool: &Pool,
                now_ms: i64,
                limit: u32,
            ) -> Result<Vec<WebhookEvent>, Error> {
                let rows = sqlx::query(
                    "SELECT event_id, biller_id, kind, body, state, attempts, next_at_ms
                     FROM bot_webhook_events WHERE state = 'pending' AND next_at_ms <= $1
                     ORDER BY next_at_ms LIMIT CAST($2 AS BIGINT)",
                )
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter().map(event_row).collect()
            }

            pub(crate) async fn webhook_tried(
                pool: &Pool,
                event: &WebhookEvent,
            ) -> Result<bool, Error> {
                let changed = sqlx::query(
                    "UPDATE bot_webhook_events SET state = $1, attempts = $2, next_at_ms = $3
                     WHERE event_id = $4 AND state = 'pending' AND attempts = $5",
                )
                .bind(&event.state)
                .bind(event.attempts)
                .bind(event.next_at_ms)
                .bind(&event.event_id)
                .bind(event.attempts.saturating_sub(1))
                .execute(pool)
                .await?
                .rows_affected();
                Ok(changed == 1)
            }

            pub(crate) async fn webhook(
                pool: &Pool,
                event_id: &str,
            ) -> Result<Option<WebhookEvent>, Error> {
                let row = sqlx::query(
                    "SELECT event_id, biller_id, kind, body, state, attempts, next_at_ms
                     FROM bot_webhook_events WHERE event_id = $1",
                )
                .bind(event_id)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(event_row).transpose()
            }
        }
    };
}

bills_backend!(sqlite, sqlx::Sqlite);
bills_backend!(postgres, sqlx::Postgres);

impl SqlStore {
    /// Registers a biller (its `id` is ignored); `None` when its handle is
    /// taken. The token is kept only as its SHA-256 (hex).
    pub async fn insert_biller(
        &self,
        biller: &Biller,
        token_sha256: &str,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        on_backend!(self, pool => db::insert_biller(pool, biller, token_sha256, now_ms).await)
    }

    /// The biller whose API token has this SHA-256 (hex).
    pub async fn biller_by_token(&self, token_sha256: &str) -> Result<Option<Biller>, StoreError> {
        on_backend!(self, pool => db::biller_by_token(pool, token_sha256).await)
    }

    /// A biller by id.
    pub async fn biller(&self, id: i64) -> Result<Option<Biller>, StoreError> {
        on_backend!(self, pool => db::biller(pool, id).await)
    }

    /// Billers whose stored webhook secret does not start with
    /// `sealed_prefix` (clear ones, from an earlier version; the prefix
    /// has no `%` or `_`), at most
    /// `limit`, by id.
    pub async fn billers_with_clear_secret(
        &self,
        sealed_prefix: &str,
        limit: u32,
    ) -> Result<Vec<Biller>, StoreError> {
        on_backend!(self, pool => db::billers_with_clear_secret(pool, sealed_prefix, limit).await)
    }

    /// Replaces biller `id`'s stored webhook secret `was` with `now`;
    /// `false` when it was no longer `was`.
    pub async fn replace_webhook_secret(
        &self,
        id: i64,
        was: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::replace_webhook_secret(pool, id, was, now).await)
    }

    /// Inserts the invoice unless the biller already has one with its
    /// reference; answers the stored one either way (the caller compares).
    pub async fn insert_invoice(&self, invoice: &Invoice) -> Result<Invoice, StoreError> {
        on_backend!(self, pool => db::insert_invoice(pool, invoice).await)
    }

    /// The biller's invoice with this reference.
    pub async fn invoice_of(
        &self,
        biller_id: i64,
        reference: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        on_backend!(self, pool => db::invoice_of(pool, biller_id, reference).await)
    }

    /// The open invoices with something to follow, soonest due first, at
    /// most `limit`: those whose request was paid or declined, and those
    /// due before `due_before_ms` with no payment in progress (waiting for
    /// a code, held for review, escrowed). Each one leaves this set when it
    /// is settled or expired, so a caller that takes `limit` a round
    /// reaches every one in turn however many invoices are open.
    pub async fn open_invoices(
        &self,
        due_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<Invoice>, StoreError> {
        on_backend!(self, pool => db::open_invoices(pool, due_before_ms, limit).await)
    }

    /// The write that stores `invoice` in a ledger commit (with its
    /// request and notice: [`bot::Bot::send_invoice_with`]); the commit is
    /// not applied when the biller's reference or the request's is taken.
    pub fn invoice_write(&self, invoice: &Invoice) -> RecordWrite {
        RecordWrite::new(
            "INSERT INTO bot_invoices (biller_id, reference, request_ref, platform,
                 platform_user_id, amount, currency, due_at_ms, description, state,
                 created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT DO NOTHING",
            vec![
                SqlValue::from(invoice.biller_id),
                SqlValue::from(invoice.reference.as_str()),
                SqlValue::from(invoice.request_ref.as_str()),
                SqlValue::from(invoice.platform.as_str()),
                SqlValue::from(invoice.platform_user_id.as_str()),
                SqlValue::from(invoice.amount_minor),
                SqlValue::from(invoice.currency.as_str()),
                SqlValue::from(invoice.due_at_ms),
                SqlValue::from(invoice.description.as_str()),
                SqlValue::from(invoice.state.as_str()),
                SqlValue::from(invoice.created_at_ms),
                SqlValue::from(invoice.updated_at_ms),
            ],
        )
        .expecting_rows(1)
    }

    /// Moves `invoice` from its `state` to `to_state` and queues `event`,
    /// in one transaction; `false` (nothing written) when its state was no
    /// longer `invoice.state`.
    pub async fn settle_invoice(
        &self,
        invoice: &Invoice,
        to_state: &str,
        event: &WebhookEvent,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::settle_invoice(pool, invoice, to_state, event, now_ms).await)
    }

    /// Withdraws an open invoice (`to_state`: cancelled or expired): its
    /// payment request is declined (so it can no longer be paid), its
    /// state set and `event` queued, in one transaction; `false` (nothing
    /// written) unless the invoice was still open and its request open, or
    /// approved with no payment in progress (its payment ended without
    /// moving money): a request whose payment waits for a code, is held for
    /// review or escrowed is not withdrawn.
    pub async fn withdraw_invoice(
        &self,
        invoice: &Invoice,
        to_state: &str,
        event: &WebhookEvent,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::withdraw_invoice(pool, invoice, to_state, event, now_ms).await)
    }

    /// Pending webhook events due by `now_ms`, at most `limit`.
    pub async fn due_webhooks(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<WebhookEvent>, StoreError> {
        on_backend!(self, pool => db::due_webhooks(pool, now_ms, limit).await)
    }

    /// Records a try: `event` carries the new state, attempts (one more
    /// than stored) and next time; `false` when another worker recorded
    /// this try first.
    pub async fn webhook_tried(&self, event: &WebhookEvent) -> Result<bool, StoreError> {
        on_backend!(self, pool => db::webhook_tried(pool, event).await)
    }

    /// A webhook event by id.
    pub async fn webhook(&self, event_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        on_backend!(self, pool => db::webhook(pool, event_id).await)
    }
}
