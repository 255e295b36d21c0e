//! Interactions mode: `POST /discord/interactions` in paybot's own axum
//! server.
//!
//! Every call is checked before its body is read as anything: the Ed25519
//! signature Discord puts in `X-Signature-Ed25519` must cover the
//! `X-Signature-Timestamp` header and the raw body bytes, under the
//! application's public key, and the timestamp must be at most 5 minutes
//! old. Anything else is 401 and changes nothing (Discord itself sends
//! such calls to check the endpoint).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use crate::verify::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::{Discord, PublicKey, RequestVerifier};

/// Where Discord posts interactions (the application's "Interactions
/// Endpoint URL" ends with it).
pub const INTERACTIONS_PATH: &str = "/discord/interactions";
/// The largest interaction body accepted, in bytes.
pub const INTERACTION_BODY_BYTES_MAX: usize = 1024 * 1024;

#[derive(Clone)]
struct EndpointState {
    discord: Arc<Discord>,
    verifier: RequestVerifier,
}

pub(crate) fn router(discord: Arc<Discord>, key: &PublicKey) -> Router {
    let state = EndpointState {
        discord,
        verifier: RequestVerifier::new(key),
    };
    Router::new()
        .route(INTERACTIONS_PATH, post(receive))
        .layer(DefaultBodyLimit::max(INTERACTION_BODY_BYTES_MAX))
        .with_state(state)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The interaction response as JSON (follow-ups start once it is on its
/// way); 401 for a call Discord did not sign.
async fn receive(State(state): State<EndpointState>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let checked = state.verifier.check(
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER),
        &body,
        now_secs(),
    );
    if let Err(rejected) = checked {
        tracing::warn!(%rejected, "discord interaction call refused");
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let answer = state.discord.interact(&body).await;
    if let Some(then) = answer.then {
        tokio::spawn(then);
    }
    Json(answer.response).into_response()
}
