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
//! beyond, by its `Content-Length` before reading). Headers anyone can
//! forge pass that first check, so the unsigned body is read under two
//! more bounds: at most [`INTERACTION_BODY_READS_MAX`] at once (503 beyond,
//! at once) and within [`INTERACTION_BODY_READ_SECS_MAX`] (408 after), so
//! slow bodies cannot hold every request slot of the server. Refusals are
//! logged at most once per [`REFUSAL_LOG_INTERVAL_SECS`], with a count.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bot::log_limit::{EveryInterval, REFUSAL_LOG_INTERVAL_SECS};
use tokio::sync::Semaphore;

use crate::verify::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::{Discord, PublicKey, RequestVerifier};

/// Where Discord posts interactions (the application's "Interactions
/// Endpoint URL" ends with it).
pub const INTERACTIONS_PATH: &str = "/discord/interactions";
/// The largest interaction body accepted, in bytes.
pub const INTERACTION_BODY_BYTES_MAX: usize = 1024 * 1024;
/// Interaction bodies read at once, before their signature can be
/// checked; more are refused with 503 at once. Well below the server's
/// `http.requests_in_flight_max` (512 by default), so that forged headers
/// with slow bodies leave the other routes their slots.
pub const INTERACTION_BODY_READS_MAX: usize = 32;
/// How long an interaction body may take to arrive, in seconds (408
/// after). Discord sends a whole body at once.
pub const INTERACTION_BODY_READ_SECS_MAX: u64 = 5;

#[derive(Clone)]
struct EndpointState {
    discord: Arc<Discord>,
    verifier: RequestVerifier,
    body_reads: Arc<Semaphore>,
    refusals: Arc<EveryInterval>,
}

pub(crate) fn router(discord: Arc<Discord>, key: &PublicKey) -> Router {
    let state = EndpointState {
        discord,
        verifier: RequestVerifier::new(key),
        body_reads: Arc::new(Semaphore::new(INTERACTION_BODY_READS_MAX)),
        refusals: Arc::new(EveryInterval::new(Duration::from_secs(
            REFUSAL_LOG_INTERVAL_SECS,
        ))),
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
        if let Some(count) = state.refusals.hit() {
            tracing::warn!(%rejected, count, "discord interaction calls refused (count since the last line)");
        }
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
    let Ok(_reading) = Arc::clone(&state.body_reads).try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many interactions at once",
        )
            .into_response();
    };
    let limit = Duration::from_secs(INTERACTION_BODY_READ_SECS_MAX);
    let body = match tokio::time::timeout(
        limit,
        axum::body::to_bytes(body, INTERACTION_BODY_BYTES_MAX),
    )
    .await
    {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return too_large,
        Err(_) => return (StatusCode::REQUEST_TIMEOUT, "the body took too long").into_response(),
    };
    drop(_reading);
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
