//! Interactions mode: `POST /discord/interactions` in paybot's own axum
//! server.
//!
//! Every call is checked before its body is read as anything: the Ed25519
//! signature Discord puts in `X-Signature-Ed25519` must cover the
//! `X-Signature-Timestamp` header and the raw body bytes, under the
//! application's public key, and the timestamp must be at most 5 minutes
//! old. Anything else is 401 and changes nothing (Discord itself sends
//! such calls to check the endpoint). The headers (both present, the
//! timestamp in its window) are checked before the body is read at all,
//! and the body is read only up to [`INTERACTION_BODY_BYTES_MAX`] (413
//! beyond, by its `Content-Length` before reading).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
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
async fn receive(State(state): State<EndpointState>, headers: HeaderMap, body: Body) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let refused = |rejected: crate::verify::Rejected| {
        tracing::warn!(%rejected, "discord interaction call refused");
        (StatusCode::UNAUTHORIZED, "invalid request signature").into_response()
    };
    if let Err(rejected) = state.verifier.check_headers(
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER),
        now_secs(),
    ) {
        return refused(rejected);
    }
    let too_large = (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response();
    let announced = header(header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|length| length > INTERACTION_BODY_BYTES_MAX) {
        return too_large;
    }
    let Ok(body) = axum::body::to_bytes(body, INTERACTION_BODY_BYTES_MAX).await else {
        return too_large;
    };
    let checked = state.verifier.check(
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER),
        &body,
        now_secs(),
    );
    if let Err(rejected) = checked {
        return refused(rejected);
    }
    let answer = state.discord.interact(&body).await;
    if let Some(then) = answer.then {
        tokio::spawn(then);
    }
    Json(answer.response).into_response()
}
