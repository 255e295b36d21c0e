//! Bill pay, the server's side: registering billers (`paybot admin
//! biller-add`), the invoices they send through the API
//! ([`crate::api::billers`]), and the worker that follows each open invoice
//! and delivers the billers' webhooks.
//!
//! The one design decision to know: **an invoice is a payment request from
//! the biller's user**, so the payer pays it with the ordinary `/approve`
//! flow (code, limits, trust rules) and `bot` knows nothing of HTTP. This
//! module reads each open invoice's request ([`sync_invoices`]): when the
//! request is paid or declined, the invoice's state changes and its webhook
//! event is queued in one transaction (compare-and-swap on the state, so
//! once); a cancel or an expiry declines the request in that same
//! transaction. Events are delivered from that durable table, signed
//! Stripe-style (`Paybot-Signature: t=<unix secs>,v1=<hex HMAC-SHA256>`),
//! retried with exponential backoff until a 2xx, and `dead` after
//! [`WEBHOOK_ATTEMPTS_MAX`] tries.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bot::Bot;
use bot::command::ShortRef;
use bot::message::{Handle, Platform, PlatformUserId};
use bot::otp::{OsRandom, Pepper};
use bot::store::{RequestState, SeenUser, Store};
use bot::trust::second_factor::{SealKey, SealedSecret, seal_bytes, unseal_bytes};
use paybot_store::SqlStore;
use paybot_store::bills::{Biller, Invoice, WebhookEvent};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tracing::{error, info, warn};
use utoipa::ToSchema;

use crate::api::verification::CallbackSecret;

/// The header a webhook's signature travels in.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "Paybot-Signature";
/// Tries of one webhook event before it is `dead`: with the backoff below
/// (0.5 s doubling, at most an hour apart), about seven hours of retries.
pub const WEBHOOK_ATTEMPTS_MAX: i64 = 20;
/// The wait after the first failed try, in milliseconds; doubled after
/// each further one.
pub const WEBHOOK_BACKOFF_BASE_MS: i64 = 500;
/// The longest wait between two tries, in milliseconds.
pub const WEBHOOK_BACKOFF_MAX_MS: i64 = 3_600_000;
/// How long one delivery may take, in milliseconds.
pub const WEBHOOK_TIMEOUT_MS: u64 = 10_000;
/// How often the worker looks for invoices that changed and events due,
/// in milliseconds.
pub const BILLS_POLL_INTERVAL_MS: u64 = 200;
/// Invoice changes (paid, declined, expired) made per round, at most: the
/// round looks only at invoices with a change to make, so any more are
/// made in the next rounds.
pub const INVOICES_PER_ROUND_MAX: u32 = 500;
/// Webhook events tried per round.
pub const WEBHOOKS_PER_ROUND_MAX: u32 = 50;
/// How long after its due date an unpaid invoice expires, in milliseconds.
pub const INVOICE_EXPIRY_GRACE_MS: i64 = 0;
/// The platforms a biller has an identity on (its handle, on each; the
/// mock chat in development only).
pub const BILLER_PLATFORMS: [Platform; 3] = [Platform::Mock, Platform::Telegram, Platform::Discord];
/// The prefix of a biller's identity id on each platform (then its handle).
pub const BILLER_ID_PREFIX: &str = "biller.";
/// Random bytes in a biller's API token and in its webhook secret.
pub const BILLER_SECRET_BYTES: usize = 32;

/// What `paybot admin biller-add` prints, once: the secrets are not kept
/// in a form that can be shown again.
#[derive(Debug)]
pub struct Registered {
    /// The biller's id.
    pub id: i64,
    /// Its API token (`Authorization: Bearer ...`).
    pub token: String,
    /// Its webhook signing secret.
    pub webhook_secret: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_secret(prefix: &str) -> String {
    let bytes: [u8; BILLER_SECRET_BYTES] = rand::random();
    format!("{prefix}{}", hex(&bytes))
}

/// The SHA-256 (hex) a biller's token is stored and looked up as.
pub fn token_digest(token: &[u8]) -> String {
    hex(&Sha256::digest(token))
}

/// How a sealed webhook secret starts as stored (then the nonce and the
/// ciphertext, in hex, separated by `:`); a stored secret without it is a
/// clear one an earlier version wrote ([`seal_clear_secrets`] seals it).
pub const SEALED_SECRET_PREFIX: &str = "sealed:v1:";
/// What the webhook secrets' key is derived for (from the key TOTP
/// secrets are sealed with, `trust.second_factor.key`).
pub const WEBHOOK_SEAL_PURPOSE: &str = "paybot.bills.webhook_secret.seal.v1";
/// Billers whose clear secret is sealed per call of [`seal_clear_secrets`]
/// (it runs until none is left).
pub const SECRETS_SEALED_PER_BATCH_MAX: u32 = 100;

/// Seals billers' webhook secrets at rest (XChaCha20-Poly1305, as TOTP
/// secrets are, under a key of its own from the same secret setting; the
/// biller's handle as associated data, so a sealed secret copied to another
/// biller's row does not open).
pub struct WebhookSealer(SealKey);

impl std::fmt::Debug for WebhookSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSealer([REDACTED])")
    }
}

fn seal_context(handle: &str) -> String {
    format!("paybot.bills.webhook_secret.v1:biller:{handle}")
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

impl WebhookSealer {
    /// The sealer whose key derives from `key` (the second factor's key).
    pub fn new(key: &Pepper) -> WebhookSealer {
        WebhookSealer(SealKey::derive_for(key, WEBHOOK_SEAL_PURPOSE))
    }

    /// `secret`, sealed for the biller `handle`, as stored.
    pub fn seal(&self, handle: &str, secret: &str) -> anyhow::Result<String> {
        let sealed = seal_bytes(&self.0, &seal_context(handle), secret.as_bytes(), &OsRandom)
            .map_err(|e| anyhow::anyhow!("cannot seal the webhook secret: {e}"))?;
        Ok(format!(
            "{SEALED_SECRET_PREFIX}{}:{}",
            hex(&sealed.nonce),
            hex(&sealed.ciphertext)
        ))
    }

    /// The webhook secret of the biller `handle` from what is stored: a
    /// sealed one opened, a clear one (an earlier version's) as it is.
    pub fn open(&self, handle: &str, stored: &str) -> anyhow::Result<SecretString> {
        let Some(sealed) = stored.strip_prefix(SEALED_SECRET_PREFIX) else {
            return Ok(SecretString::from(stored.to_owned()));
        };
        let unreadable = || anyhow::anyhow!("biller @{handle}'s webhook secret does not open");
        let (nonce, ciphertext) = sealed.split_once(':').ok_or_else(unreadable)?;
        let sealed = SealedSecret {
            nonce: unhex(nonce).ok_or_else(unreadable)?,
            ciphertext: unhex(ciphertext).ok_or_else(unreadable)?,
        };
        let plain =
            unseal_bytes(&self.0, &seal_context(handle), &sealed).map_err(|_| unreadable())?;
        let text = String::from_utf8(plain.expose_secret().to_vec()).map_err(|_| unreadable())?;
        Ok(SecretString::from(text))
    }
}

/// Seals every webhook secret still stored in clear (written by an
/// earlier version): run at start, before webhooks are sent. Returns how
/// many it sealed.
pub async fn seal_clear_secrets(store: &SqlStore, sealer: &WebhookSealer) -> anyhow::Result<u64> {
    let mut sealed = 0_u64;
    loop {
        let clear = store
            .billers_with_clear_secret(SEALED_SECRET_PREFIX, SECRETS_SEALED_PER_BATCH_MAX)
            .await?;
        if clear.is_empty() {
            return Ok(sealed);
        }
        let mut changed = 0_u64;
        for biller in clear {
            let now = sealer.seal(&biller.handle, &biller.webhook_secret)?;
            // Compare-and-swap on the clear value: another process sealing
            // it at once writes it once.
            if store
                .replace_webhook_secret(biller.id, &biller.webhook_secret, &now)
                .await?
            {
                changed += 1;
            }
        }
        sealed += changed;
        if changed == 0 {
            return Ok(sealed);
        }
    }
}

/// Registers a biller: a paybot user with the handle on every platform of
/// [`BILLER_PLATFORMS`] (the mock chat only when `development`; its wallet
/// is that user's), a fresh API token
/// (stored as its digest) and a fresh webhook secret (stored sealed by
/// `sealer`).
pub async fn register(
    store: &SqlStore,
    sealer: &WebhookSealer,
    name: &str,
    handle: &Handle,
    webhook_url: &url::Url,
    development: bool,
    now_ms: i64,
) -> anyhow::Result<Registered> {
    let mut user = None;
    // The mock chat's identity only in development: in production, no
    // one reaching the mock chat may speak for the biller's real money.
    let platforms = BILLER_PLATFORMS
        .into_iter()
        .filter(|p| development || *p != Platform::Mock);
    for platform in platforms {
        let id = PlatformUserId::new(format!("{BILLER_ID_PREFIX}{}", handle.as_str()))
            .map_err(|e| anyhow::anyhow!("the handle makes no platform id: {e}"))?;
        let seen = SeenUser {
            platform,
            id: id.clone(),
            handle: Some(handle.clone()),
            skeleton: Some(bot::identity::skeleton(handle)),
            display_name: name.to_owned(),
            speaking: false,
            direct: false,
        };
        let (identity, _) = store.upsert_identity(&seen, now_ms).await?;
        match user {
            None => user = Some(identity.user),
            Some(first) if first != identity.user => {
                store.move_identity(platform, &id, first, now_ms).await?;
            }
            Some(_) => {}
        }
    }
    let user = user.context("no platform to register the biller on")?;
    let token = random_secret("pbb_");
    let webhook_secret = random_secret("whsec_");
    let biller = Biller {
        id: 0,
        name: name.to_owned(),
        handle: handle.as_str().to_owned(),
        user,
        webhook_url: webhook_url.to_string(),
        webhook_secret: sealer.seal(handle.as_str(), &webhook_secret)?,
    };
    let id = store
        .insert_biller(&biller, &token_digest(token.as_bytes()), now_ms)
        .await?
        .with_context(|| format!("a biller with handle @{} exists already", handle.as_str()))?;
    Ok(Registered {
        id,
        token,
        webhook_secret,
    })
}

/// An invoice, as the API answers it and webhooks carry it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceAnswer {
    /// The biller's reference.
    pub reference: String,
    /// The payer's platform.
    pub platform: String,
    /// The payer's id on that platform.
    pub user_id: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// Unix seconds.
    pub due_at: i64,
    /// What it is for.
    pub description: String,
    /// `open`, `paid`, `declined`, `expired` or `cancelled`.
    #[schema(example = "open")]
    pub state: String,
    /// The request's reference in the chat (`/approve REF`).
    pub chat_reference: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds: the last change of state.
    pub updated_at: i64,
}

/// An invoice's answer.
pub fn invoice_json(invoice: &Invoice) -> InvoiceAnswer {
    InvoiceAnswer {
        reference: invoice.reference.clone(),
        platform: invoice.platform.clone(),
        user_id: invoice.platform_user_id.clone(),
        amount: invoice.amount_minor,
        currency: invoice.currency.clone(),
        due_at: invoice.due_at_ms.div_euclid(1_000),
        description: invoice.description.clone(),
        state: invoice.state.clone(),
        chat_reference: invoice.request_ref.clone(),
        created_at: invoice.created_at_ms.div_euclid(1_000),
        updated_at: invoice.updated_at_ms.div_euclid(1_000),
    }
}

/// The webhook event announcing that `invoice` entered `state`: its id is
/// derived from the biller, the reference and the state, so it is the same
/// however often it is built.
pub fn event_for(invoice: &Invoice, state: &str, now_ms: i64) -> WebhookEvent {
    let id = Sha256::digest(
        format!(
            "paybot.bills.event:{}:{}:{state}",
            invoice.biller_id, invoice.reference
        )
        .as_bytes(),
    );
    let event_id = format!("evt_{}", hex(id.get(..16).unwrap_or_default()));
    let mut shown = invoice.clone();
    shown.state = state.to_owned();
    shown.updated_at_ms = now_ms;
    let kind = format!("invoice.{state}");
    let body = json!({
        "id": event_id,
        "type": kind,
        "created": now_ms.div_euclid(1_000),
        "data": { "invoice": invoice_json(&shown) },
    })
    .to_string();
    WebhookEvent {
        event_id,
        biller_id: invoice.biller_id,
        kind,
        body,
        state: "pending".to_owned(),
        attempts: 0,
        next_at_ms: now_ms,
    }
}

/// The wait after the `attempts`-th failed try, in milliseconds.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 32)).unwrap_or(32);
    WEBHOOK_BACKOFF_BASE_MS
        .saturating_mul(1_i64 << doublings)
        .min(WEBHOOK_BACKOFF_MAX_MS)
}

/// One round over the open invoices: a paid or declined request settles
/// its invoice; an invoice past its due date plus
/// [`INVOICE_EXPIRY_GRACE_MS`] expires. Each change queues its event. At
/// most [`INVOICES_PER_ROUND_MAX`] changes a round; the rest next round.
pub async fn sync_invoices(store: &SqlStore, now_ms: i64) -> anyhow::Result<()> {
    sync_invoices_at_most(store, now_ms, INVOICES_PER_ROUND_MAX).await
}

/// [`sync_invoices`] looking at `limit` invoices at most: only invoices
/// with something to follow (their request paid or declined, or past due
/// with no payment in progress), so the window is never taken by open
/// invoices with nothing to do, and each change leaves it for the next.
pub async fn sync_invoices_at_most(
    store: &SqlStore,
    now_ms: i64,
    limit: u32,
) -> anyhow::Result<()> {
    let due_before_ms = now_ms.saturating_sub(INVOICE_EXPIRY_GRACE_MS);
    for invoice in store.open_invoices(due_before_ms, limit).await? {
        let reference = ShortRef::parse(&invoice.request_ref)
            .map_err(|e| anyhow::anyhow!("invoice {}: {e}", invoice.reference))?;
        let state = store.request(&reference).await?.map(|r| r.state);
        let settled = match state {
            Some(RequestState::Paid) => Some("paid"),
            Some(RequestState::Declined) => Some("declined"),
            _ => None,
        };
        if let Some(to) = settled {
            let event = event_for(&invoice, to, now_ms);
            if store.settle_invoice(&invoice, to, &event, now_ms).await? {
                info!(invoice = %invoice.reference, state = to, "invoice settled");
            }
        } else if invoice.due_at_ms.saturating_add(INVOICE_EXPIRY_GRACE_MS) < now_ms {
            let event = event_for(&invoice, "expired", now_ms);
            if store
                .withdraw_invoice(&invoice, "expired", &event, now_ms)
                .await?
            {
                info!(invoice = %invoice.reference, "invoice expired");
            }
        }
    }
    Ok(())
}

/// Tries each due webhook event once: signed, POSTed to its biller's URL;
/// a 2xx marks it delivered, anything else schedules the next try (or
/// marks it dead after [`WEBHOOK_ATTEMPTS_MAX`]).
pub async fn deliver_webhooks(
    store: &SqlStore,
    sealer: &WebhookSealer,
    client: &reqwest::Client,
    now_ms: i64,
) -> anyhow::Result<()> {
    for mut event in store.due_webhooks(now_ms, WEBHOOKS_PER_ROUND_MAX).await? {
        let Some(biller) = store.biller(event.biller_id).await? else {
            continue;
        };
        let secret = CallbackSecret::parse(sealer.open(&biller.handle, &biller.webhook_secret)?)
            .map_err(|e| anyhow::anyhow!("biller {}'s webhook secret: {e}", biller.id))?;
        let t = now_ms.div_euclid(1_000);
        let signature = format!("t={t},v1={}", secret.sign(t, event.body.as_bytes()));
        let sent = client
            .post(&biller.webhook_url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(WEBHOOK_SIGNATURE_HEADER, signature)
            .body(event.body.clone())
            .send()
            .await;
        let delivered = match &sent {
            Ok(response) => response.status().is_success(),
            Err(_) => false,
        };
        event.attempts = event.attempts.saturating_add(1);
        if delivered {
            event.state = "delivered".to_owned();
        } else if event.attempts >= WEBHOOK_ATTEMPTS_MAX {
            event.state = "dead".to_owned();
            error!(event = %event.event_id, biller = biller.id, "webhook dead after its last try");
        } else {
            event.next_at_ms = now_ms.saturating_add(backoff_ms(event.attempts));
            let status = sent.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
            warn!(event = %event.event_id, biller = biller.id, status, attempts = event.attempts, "webhook not acknowledged; will retry");
        }
        store.webhook_tried(&event).await?;
    }
    Ok(())
}

/// Runs [`sync_invoices`] and [`deliver_webhooks`] every
/// [`BILLS_POLL_INTERVAL_MS`] until `stopped` turns true.
pub fn spawn_worker(
    store: SqlStore,
    bot: Arc<Bot>,
    sealer: Arc<WebhookSealer>,
    mut stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Redirects are not followed: a webhook goes to the registered URL
        // only.
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_millis(WEBHOOK_TIMEOUT_MS))
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(client) => client,
            Err(e) => {
                error!("cannot build the webhook client: {e}");
                return;
            }
        };
        let mut tick = tokio::time::interval(Duration::from_millis(BILLS_POLL_INTERVAL_MS));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => {}
            }
            if *stopped.borrow() {
                return;
            }
            let now_ms = bot.now_ms();
            if let Err(e) = sync_invoices(&store, now_ms).await {
                error!("bill pay: cannot follow invoices: {e:#}");
            }
            if let Err(e) = deliver_webhooks(&store, &sealer, &client, now_ms).await {
                error!("bill pay: cannot deliver webhooks: {e:#}");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A biller that is down for a few hours still gets its events: the
    /// retries span hours, at most an hour apart.
    #[test]
    fn webhook_retries_span_hours() {
        let waits: Vec<i64> = (1..WEBHOOK_ATTEMPTS_MAX).map(backoff_ms).collect();
        let total_ms: i64 = waits.iter().sum();
        assert!(
            total_ms >= 6 * 3_600_000,
            "retries stop after {total_ms} ms"
        );
        assert!(waits.iter().all(|w| *w <= WEBHOOK_BACKOFF_MAX_MS));
        assert_eq!(waits.first(), Some(&WEBHOOK_BACKOFF_BASE_MS));
    }
}
