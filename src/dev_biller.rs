//! `paybot dev-biller`: a biller to try bill pay with, in development, with
//! no network beyond this machine. It registers a play-money biller in the
//! configured database (as `paybot admin biller-add` does), listens for its
//! webhooks on a local port, sends one invoice to a mock chat user through
//! the running server's biller API, and prints every webhook it receives
//! with whether its `Paybot-Signature` verifies.
//!
//! The one design decision to know: it is a development part. A production
//! deployment (any real platform token, API token or card rail set) refuses
//! it before it opens the database, as `paybot chat` is refused; and it
//! needs the mock chat, since its invoice goes to a mock user.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use bot::message::Handle;
use bot::otp::OsRandom;
use secrecy::SecretString;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::mpsc;

use crate::api::verification::CallbackSecret;
use crate::bills::{WEBHOOK_SIGNATURE_HEADER, WebhookSealer};
use crate::database::{self, Open};
use crate::deployment::DevPart;
use crate::settings::Settings;

/// How far a webhook's timestamp may be from this clock, in seconds.
pub const DEV_BILLER_TOLERANCE_SECS: i64 = 300;
/// Handles tried when the one asked for is taken (`devbiller`,
/// `devbiller2`, ...).
pub const DEV_BILLER_HANDLES_MAX: u32 = 50;
/// How long the invoice has before it is due, in seconds.
pub const DEV_INVOICE_DUE_SECS: i64 = 3_600;
/// How long the call that sends the invoice may take, in milliseconds.
pub const DEV_BILLER_CALL_TIMEOUT_MS: u64 = 10_000;
/// Webhooks waiting to be printed, at most.
const RECEIVED_QUEUE_MAX: usize = 64;

/// `paybot dev-biller`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct DevBillerArgs {
    /// The running paybot server (`paybot serve`) to send the invoice to.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub server: url::Url,
    /// The mock chat user who gets the invoice (they must have said
    /// /start).
    #[arg(long, value_name = "USER", default_value = "alice")]
    pub to: String,
    /// The invoice's amount in cents (USD, play money).
    #[arg(long, value_name = "CENTS", default_value_t = 1_250)]
    pub amount: i64,
    /// The biller's handle (a free one with a number after it if taken).
    #[arg(long, value_name = "HANDLE", default_value = "devbiller")]
    pub handle: String,
    /// Where its webhooks are received (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Stop after this many webhooks (0: run until Ctrl-C).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub events: u32,
}

/// Whether `header` (`t=..,v1=..`) signs `body` with `secret` within
/// [`DEV_BILLER_TOLERANCE_SECS`] of `now_secs`: what a biller checks.
pub fn signature_verifies(
    secret: &CallbackSecret,
    header: &str,
    body: &[u8],
    now_secs: i64,
) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let expected = secret.sign(t, body);
    let fresh = now_secs.abs_diff(t) <= DEV_BILLER_TOLERANCE_SECS.unsigned_abs();
    fresh && bool::from(expected.as_bytes().ct_eq(v1.as_bytes()))
}

/// One webhook as received: its type, invoice, state, and the verdict.
fn describe(body: &[u8], verified: bool) -> String {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |pointer: &str| {
        parsed
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    format!(
        "webhook {} id={} invoice={} state={} signature {}",
        text("/type"),
        text("/id"),
        text("/data/invoice/reference"),
        text("/data/invoice/state"),
        if verified { "ok" } else { "BAD" }
    )
}

/// Runs `paybot dev-biller` (see the module's docs), printing to stdout.
pub async fn run(
    settings: &Settings,
    args: &DevBillerArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let deployment = crate::app::deployment(settings)?;
    if deployment.is_production() {
        bail!(
            "`paybot dev-biller` is for development (play money, mock users), and this is a production deployment ({} set)",
            deployment.real.join(", ")
        );
    }
    if !deployment.mock_chat {
        bail!(
            "`paybot dev-biller` invoices a mock chat user, and the mock chat ({}) is off",
            DevPart::MockChat
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let hook_addr = listener.local_addr().context("cannot read the address")?;
    let webhook_url = url::Url::parse(&format!("http://{hook_addr}/hook"))
        .context("cannot make the webhook URL")?;

    // Registered as `paybot admin biller-add` would, on the database the
    // server uses.
    let ledger = database::open(&settings.database, Open::MustExist).await?;
    let key = crate::app::load_second_factor_key(&settings.trust.second_factor, &OsRandom)?;
    let sealer = WebhookSealer::new(&key);
    let store = paybot_store::SqlStore::new(&ledger);
    let mut registered = None;
    for n in 1..=DEV_BILLER_HANDLES_MAX {
        let text = if n == 1 {
            args.handle.clone()
        } else {
            format!("{}{n}", args.handle)
        };
        let handle = Handle::parse(&text).map_err(|e| anyhow::anyhow!("--handle: {e}"))?;
        let name = format!("Dev biller @{}", handle.as_str());
        match crate::bills::register(
            &store,
            &sealer,
            &name,
            &handle,
            &webhook_url,
            true,
            ledger.now_ms(),
        )
        .await
        {
            Ok(done) => {
                registered = Some((handle, done));
                break;
            }
            Err(e) if e.to_string().contains("exists already") => {}
            Err(e) => {
                store.close().await;
                ledger.close().await;
                return Err(e);
            }
        }
    }
    let now_secs = ledger.now_ms().div_euclid(1_000);
    store.close().await;
    ledger.close().await;
    let (handle, registered) =
        registered.context("no free handle for the dev biller: pass --handle")?;
    let secret = CallbackSecret::parse(SecretString::from(registered.webhook_secret.clone()))
        .map_err(|e| anyhow::anyhow!("the webhook secret: {e}"))?;
    writeln!(
        out,
        "dev biller @{} registered (id {}); webhooks to {webhook_url}",
        handle.as_str(),
        registered.id
    )?;
    writeln!(out, "token: {}", registered.token)?;
    writeln!(out, "webhook secret: {}", registered.webhook_secret)?;
    out.flush()?;

    // The receiver first, so no webhook finds the port closed.
    let (tx, mut rx) = mpsc::channel::<String>(RECEIVED_QUEUE_MAX);
    let secret = Arc::new(secret);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (tx, secret) = (tx.clone(), Arc::clone(&secret));
            async move {
                let header = headers
                    .get(WEBHOOK_SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                    .unwrap_or(0);
                let verified = signature_verifies(&secret, header, &body, now);
                let _ = tx.send(describe(&body, verified)).await;
                if verified {
                    StatusCode::OK
                } else {
                    StatusCode::BAD_REQUEST
                }
            }
        }),
    );
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.changed().await;
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });

    let reference = format!("DEV-{now_secs}");
    let invoice = json!({
        "reference": reference,
        "platform": "mock",
        "user_id": args.to,
        "amount": args.amount,
        "currency": "USD",
        "due_at": now_secs.saturating_add(DEV_INVOICE_DUE_SECS),
        "description": "Play-money bill from the dev biller",
    });
    let endpoint = args
        .server
        .join("api/v1/billers/me/invoices")
        .context("--server: not a base URL")?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(DEV_BILLER_CALL_TIMEOUT_MS))
        .build()
        .context("cannot build the HTTP client")?;
    let sent = client
        .post(endpoint.clone())
        .bearer_auth(&registered.token)
        .json(&invoice)
        .send()
        .await
        .with_context(|| {
            format!("cannot reach the server at {endpoint}: is `paybot serve` running?")
        });
    let answer = match sent {
        Ok(response) => {
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                stop.send_replace(true);
                bail!("the server refused the invoice ({status}): {body}");
            }
            body
        }
        Err(e) => {
            stop.send_replace(true);
            return Err(e);
        }
    };
    let field = |name: &str| answer.get(name).and_then(Value::as_str).unwrap_or("?");
    let chat_reference = field("chat_reference");
    writeln!(
        out,
        "invoice {reference} sent to mock user {}: state {}",
        args.to,
        field("state")
    )?;
    writeln!(
        out,
        "pay it in the mock chat as {}: /approve {chat_reference} (or /decline {chat_reference})",
        args.to
    )?;
    out.flush()?;
    let mut seen = 0_u32;
    loop {
        tokio::select! {
            line = rx.recv() => {
                let Some(line) = line else { break };
                writeln!(out, "{line}")?;
                out.flush()?;
                seen = seen.saturating_add(1);
                if args.events != 0 && seen >= args.events {
                    break;
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    stop.send_replace(true);
    let _ = server.await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> CallbackSecret {
        CallbackSecret::parse(SecretString::from(
            "whsec_0123456789abcdef0123456789abcdef".to_owned(),
        ))
        .unwrap()
    }

    /// What the dev biller checks, as a biller should: the signature over
    /// the timestamp and the exact body, and a fresh timestamp.
    #[test]
    fn the_dev_biller_checks_signatures_as_a_biller_should() {
        let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
        let t = 1_800_000_000;
        let header = format!("t={t},v1={}", secret().sign(t, body));
        assert!(signature_verifies(&secret(), &header, body, t + 10));
        assert!(
            !signature_verifies(&secret(), &header, b"{}", t),
            "another body"
        );
        assert!(
            !signature_verifies(&secret(), &header, body, t + DEV_BILLER_TOLERANCE_SECS + 1),
            "a stale timestamp"
        );
        let other = format!("t={},v1={}", t + 1, secret().sign(t, body));
        assert!(
            !signature_verifies(&secret(), &other, body, t),
            "another time"
        );
        assert!(!signature_verifies(&secret(), "v1=00", body, t), "no time");
    }
}
