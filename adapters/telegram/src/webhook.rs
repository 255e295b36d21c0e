//! Webhook mode: `POST /telegram/webhook` in paybot's own axum server.
//!
//! The secret token header is compared in constant time (as SHA-256 digests,
//! so not even its length leaks) before the body is read at all; a call
//! without it, or with a wrong one, gets 401 and its body is never read. A
//! body over [`WEBHOOK_BODY_BYTES_MAX`] is refused with 413, by its
//! `Content-Length` before reading or while reading.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use bot::log_limit::{EveryInterval, REFUSAL_LOG_INTERVAL_SECS};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use teloxide::types::Update;

use crate::{Telegram, WebhookSecret};

/// Where Telegram posts updates.
pub const WEBHOOK_PATH: &str = "/telegram/webhook";
/// The header Telegram puts the webhook secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// The largest update body accepted, in bytes.
pub const WEBHOOK_BODY_BYTES_MAX: usize = 1024 * 1024;

#[derive(Clone)]
struct WebhookState {
    telegram: Arc<Telegram>,
    secret_digest: [u8; 32],
    refusals: Arc<EveryInterval>,
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub(crate) fn router(telegram: Arc<Telegram>, secret: &WebhookSecret) -> Router {
    let state = WebhookState {
        telegram,
        secret_digest: digest(secret.expose().as_bytes()),
        refusals: Arc::new(EveryInterval::new(std::time::Duration::from_secs(
            REFUSAL_LOG_INTERVAL_SECS,
        ))),
    };
    Router::new()
        .route(WEBHOOK_PATH, post(receive))
        .layer(DefaultBodyLimit::max(WEBHOOK_BODY_BYTES_MAX))
        .with_state(state)
}

/// 200 once the update was handled (or deliberately ignored), so Telegram
/// does not send it again; 401 for a wrong secret; 400 for a body that is
/// not an update; 413 for a body over [`WEBHOOK_BODY_BYTES_MAX`].
async fn receive(State(state): State<WebhookState>, headers: HeaderMap, body: Body) -> StatusCode {
    let given = headers
        .get(SECRET_HEADER)
        .map(|value| digest(value.as_bytes()));
    let authentic = given.is_some_and(|given| bool::from(given.ct_eq(&state.secret_digest)));
    if !authentic {
        if let Some(count) = state.refusals.hit() {
            tracing::warn!(
                count,
                "telegram webhook calls without the right secret token refused (count since the last line)"
            );
        }
        return StatusCode::UNAUTHORIZED;
    }
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if announced.is_some_and(|length| length > WEBHOOK_BODY_BYTES_MAX) {
        return StatusCode::PAYLOAD_TOO_LARGE;
    }
    let Ok(body) = axum::body::to_bytes(body, WEBHOOK_BODY_BYTES_MAX).await else {
        return StatusCode::PAYLOAD_TOO_LARGE;
    };
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(error) => {
            tracing::warn!(%error, "telegram webhook body is not an update");
            return StatusCode::BAD_REQUEST;
        }
    };
    state.telegram.process(&update).await;
    StatusCode::OK
}
