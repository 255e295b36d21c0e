//! The verification provider's callback, `POST
//! /api/v1/verification/callback`: a KYC vendor sets a user's tier and
//! gives their legal name.
//!
//! The one decision to know: **the signature is checked before the body
//! is read as JSON**. The provider signs `t + "." + body` with
//! HMAC-SHA256 under the shared secret (`trust.verification.secret`) and
//! sends `Paybot-Signature: t=UNIX_SECONDS,v1=HEX`; paybot recomputes it
//! over the exact bytes received, compares in constant time, and refuses a
//! timestamp further than `trust.verification.tolerance_secs` from its
//! clock either way (401 `invalid_signature` for all of these, without
//! saying which). Replays inside the window are answered from the stored
//! result of the event id and change nothing (see
//! [`bot::trust::verification`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bot::Bot;
use bot::message::Platform;
use bot::service::CallbackOutcome;
use bot::trust::Tier;
use bot::trust::operator::{ActorName, OperatorReason, UserTarget};
use bot::trust::verification::{BodyDigest, LegalName, ProviderEventId, VerificationEvent};
use hmac::digest::Key;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::warn;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::{API_PREFIX, ApiError};
use crate::logging::EveryInterval;

/// Where the callback is served (under [`API_PREFIX`]).
pub const CALLBACK_PATH: &str = "/verification/callback";
/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Paybot-Signature";
/// The largest callback body, in bytes.
pub const CALLBACK_BODY_BYTES_MAX: usize = 16 * 1024;
/// The longest signature header, in bytes (a few `v1=` during a secret's
/// rotation).
pub const SIGNATURE_HEADER_BYTES_MAX: usize = 1_024;
/// The shortest secret, in bytes.
pub const CALLBACK_SECRET_BYTES_MIN: usize = 32;
/// The longest secret, in bytes.
pub const CALLBACK_SECRET_BYTES_MAX: usize = 256;
/// A signature's length in hexadecimal digits (HMAC-SHA256).
pub const SIGNATURE_HEX_DIGITS: usize = 64;

/// SHA-256's block size, in bytes.
const HMAC_BLOCK_BYTES: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// `trust.verification.secret`: 32 to 256 printable ASCII characters.
#[derive(Clone)]
pub struct CallbackSecret(SecretString);

impl CallbackSecret {
    pub fn parse(text: SecretString) -> Result<CallbackSecret, String> {
        let bytes = text.expose_secret().as_bytes();
        if !(CALLBACK_SECRET_BYTES_MIN..=CALLBACK_SECRET_BYTES_MAX).contains(&bytes.len()) {
            return Err(format!(
                "must be {CALLBACK_SECRET_BYTES_MIN} to {CALLBACK_SECRET_BYTES_MAX} bytes, e.g. the output of `openssl rand -hex 32`"
            ));
        }
        if !bytes.iter().all(u8::is_ascii_graphic) {
            return Err("must be printable ASCII without spaces".to_owned());
        }
        Ok(CallbackSecret(text))
    }

    /// HMAC-SHA256 keyed with the secret. A key longer than SHA-256's
    /// block is hashed first and a shorter one zero-padded (RFC 2104), done
    /// here so the infallible `KeyInit::new` can be used.
    fn mac(&self) -> HmacSha256 {
        let key = self.0.expose_secret().as_bytes();
        let hashed;
        let key = if key.len() > HMAC_BLOCK_BYTES {
            hashed = Sha256::digest(key);
            hashed.as_slice()
        } else {
            key
        };
        let mut block = Key::<HmacSha256>::default();
        block
            .iter_mut()
            .zip(key)
            .for_each(|(slot, byte)| *slot = *byte);
        let mac = <HmacSha256 as KeyInit>::new(&block);
        block.iter_mut().for_each(|b| *b = 0);
        mac
    }

    /// The hexadecimal signature of `body` at `timestamp` (what a provider
    /// sends as `v1`).
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        hex(&mac.finalize().into_bytes())
    }

    /// Whether `signature` (raw bytes) signs `body` at `timestamp`;
    /// constant time in the signature.
    fn verifies(&self, timestamp: i64, body: &[u8], signature: &[u8]) -> bool {
        let mut mac = self.mac();
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    }
}

impl fmt::Debug for CallbackSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallbackSecret([REDACTED])")
    }
}

impl<'de> Deserialize<'de> for CallbackSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = SecretString::deserialize(deserializer)?;
        CallbackSecret::parse(text).map_err(serde::de::Error::custom)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != SIGNATURE_HEX_DIGITS {
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

/// At most one warning about refused signatures per this many seconds.
pub const REFUSED_LOG_INTERVAL_SECS: u64 = 10;

/// The route's state: the callback and its bounded log of refusals.
#[derive(Debug)]
pub(super) struct Receiver {
    callback: Callback,
    refused_log: EveryInterval,
}

/// What the callback route holds.
#[derive(Debug, Clone)]
pub struct Callback {
    pub bot: Arc<Bot>,
    pub secret: CallbackSecret,
    pub provider: ActorName,
    pub tolerance_secs: u32,
}

/// The callback's route, relative to the API's prefix, with its place in
/// the OpenAPI document.
pub(super) fn routes() -> OpenApiRouter<Arc<Receiver>> {
    OpenApiRouter::default()
        .routes(routes!(receive))
        .layer(DefaultBodyLimit::max(CALLBACK_BODY_BYTES_MAX))
}

/// The route's state for `callback`.
pub(super) fn receiver(callback: Callback) -> Arc<Receiver> {
    Arc::new(Receiver {
        callback,
        refused_log: EveryInterval::new(Duration::from_secs(REFUSED_LOG_INTERVAL_SECS)),
    })
}

/// Without a secret: the callback's full path answers 404 in the API's
/// error format (and is not in the document: it serves nothing).
pub(super) fn off() -> Router {
    Router::new().route(&format!("{API_PREFIX}{CALLBACK_PATH}"), post(callback_off))
}

async fn callback_off() -> ApiError {
    ApiError::CallbackOff
}

/// `t=UNIX,v1=HEX[,v1=HEX...]`: the timestamp and each signature.
fn signature_parts(header: &str) -> Option<(i64, Vec<Vec<u8>>)> {
    if header.len() > SIGNATURE_HEADER_BYTES_MAX {
        return None;
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        match key {
            "t" if timestamp.is_none() => {
                if value.is_empty()
                    || value.len() > 12
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                timestamp = Some(value.parse().ok()?);
            }
            "v1" => signatures.push(unhex(value)?),
            // Other schemes a provider may add are ignored.
            _ => {}
        }
    }
    Some((timestamp?, signatures)).filter(|(_, s)| !s.is_empty())
}

/// Whether the headers carry a current signature of `body`.
fn signed(callback: &Callback, headers: &HeaderMap, body: &[u8], now_ms: i64) -> bool {
    let Some((timestamp, signatures)) = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(signature_parts)
    else {
        return false;
    };
    let now_secs = now_ms.div_euclid(1_000);
    if now_secs.abs_diff(timestamp) > u64::from(callback.tolerance_secs) {
        return false;
    }
    // Every signature is checked, so the time taken says nothing of which
    // one matched.
    signatures.iter().fold(false, |ok, s| {
        callback.secret.verifies(timestamp, body, s) | ok
    })
}

/// The callback's body. Fields a provider adds beyond these are ignored.
#[derive(Debug, Deserialize, ToSchema)]
struct CallbackBody {
    /// The provider's id of this event: a replay with the same id and body
    /// is answered as the first time and changes nothing.
    event_id: String,
    /// `telegram`, `discord` or `mock`.
    platform: String,
    /// The user's id on that platform.
    user_id: String,
    /// The verification tier the provider grants.
    tier: u8,
    #[serde(default)]
    legal_name: Option<String>,
    /// Why, for the audit log (`reason` or `status` is required).
    #[serde(default)]
    reason: Option<String>,
    /// The provider's status, used as `verification STATUS` when there is
    /// no `reason`.
    #[serde(default)]
    status: Option<String>,
}

fn field(field: &'static str, problem: impl Into<String>) -> ApiError {
    ApiError::Field {
        field,
        problem: problem.into(),
    }
}

impl CallbackBody {
    fn parse(self, digest: BodyDigest) -> Result<VerificationEvent, ApiError> {
        let event_id =
            ProviderEventId::parse(&self.event_id).map_err(|e| field("event_id", e.to_string()))?;
        let platform = Platform::from_str_opt(&self.platform)
            .ok_or_else(|| field("platform", "one of telegram, discord, mock"))?;
        let id = bot::message::PlatformUserId::new(self.user_id)
            .map_err(|_| field("user_id", "the user's id on the platform"))?;
        let tier = Tier::new(self.tier)
            .ok_or_else(|| field("tier", format!("0 to {}", bot::trust::TIER_MAX)))?;
        let legal_name = self
            .legal_name
            .as_deref()
            .map(LegalName::parse)
            .transpose()
            .map_err(|e| field("legal_name", e.to_string()))?;
        let reason_text = match (&self.reason, &self.status) {
            (Some(reason), _) => reason.clone(),
            (None, Some(status)) => format!("verification {status}"),
            (None, None) => return Err(field("reason", "give a reason or a status")),
        };
        let reason =
            OperatorReason::parse(&reason_text).map_err(|e| field("reason", e.to_string()))?;
        Ok(VerificationEvent {
            event_id,
            target: UserTarget::Id { platform, id },
            tier,
            legal_name,
            reason,
            body_digest: digest,
        })
    }
}

/// `POST /api/v1/verification/callback`.
#[utoipa::path(
    post,
    path = "/verification/callback",
    tag = "verification",
    operation_id = "verification_callback",
    summary = "The verification provider's callback",
    description = "The verification provider sets a user's tier. Signed (see the \
                   `verification_signature` scheme), not behind a token; on only where \
                   `trust.verification.secret` is set.",
    security(("verification_signature" = [])),
    request_body = CallbackBody,
    responses(
        (status = 200, description = "Applied, or the stored answer of a replay.", body = Object),
        (status = 400, description = "`malformed_json` or `invalid_field`.", body = ErrorBody),
        (status = 401, description = "`invalid_signature`: no, a wrong or a stale signature.", body = ErrorBody),
        (status = 404, description = "`unknown_user`.", body = ErrorBody),
        (status = 409, description = "`event_id_reused` or `event_in_progress`.", body = ErrorBody),
        (status = 413, description = "`body_too_large`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| ApiError::Body {
        status: e.status(),
        message: e.body_text(),
    })?;
    let callback = &receiver.callback;
    if !signed(callback, &headers, &body, callback.bot.now_ms()) {
        if let Some(refused) = receiver.refused_log.hit() {
            warn!(
                refused,
                interval_secs = REFUSED_LOG_INTERVAL_SECS,
                "verification callbacks refused: no, a wrong or a stale signature"
            );
        }
        return Err(ApiError::BadSignature);
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| ApiError::Body {
        status: StatusCode::BAD_REQUEST,
        message: e.to_string(),
    })?;
    let request: CallbackBody =
        serde_json::from_value(value).map_err(|e| ApiError::Shape(e.to_string()))?;
    let digest = BodyDigest::from_hex(&hex(&Sha256::digest(&body)))
        .ok_or_else(|| ApiError::Shape("digest".to_owned()))?;
    let event = request.parse(digest)?;
    let outcome = callback
        .bot
        .verification_callback(&event, &callback.provider)
        .await
        .map_err(ApiError::Bot)?;
    match outcome {
        CallbackOutcome::Applied(result) => Ok(Json(result).into_response()),
        CallbackOutcome::Replayed(stored) => {
            let value: Value = serde_json::from_str(&stored)
                .map_err(|e| ApiError::Bot(bot::service::BotError::Inconsistent(e.to_string())))?;
            Ok(Json(value).into_response())
        }
        CallbackOutcome::OtherBody => Err(ApiError::EventConflict(event.event_id.to_string())),
        CallbackOutcome::InProgress => Err(ApiError::EventInProgress(event.event_id.to_string())),
        CallbackOutcome::Refused(refusal) => Err(ApiError::Operator(refusal)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> CallbackSecret {
        CallbackSecret::parse(SecretString::from("s".repeat(40))).unwrap()
    }

    #[test]
    fn a_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // The README's example, as openssl computes it:
        //   printf '%s.%s' 1700000000 '{"tier":1}' |
        //     openssl dgst -sha256 -hmac "$SECRET" -hex
        let documented = CallbackSecret::parse(SecretString::from(
            "callback-secret-0123456789abcdef0123456789",
        ))
        .unwrap();
        assert_eq!(
            documented.sign(1_700_000_000, br#"{"tier":1}"#),
            "89e583d5a24bf49274299c6e8ab41bf9fa306c7a6ed3d166c910215e2564fd06"
        );
        let sig = secret().sign(1_700_000_000, b"{}");
        assert_eq!(sig.len(), SIGNATURE_HEX_DIGITS);
        let raw = unhex(&sig).unwrap();
        assert!(secret().verifies(1_700_000_000, b"{}", &raw));
        assert!(!secret().verifies(1_700_000_001, b"{}", &raw));
        assert!(!secret().verifies(1_700_000_000, b"{ }", &raw));
        // A key longer than SHA-256's block is hashed first (RFC 2104).
        let long = CallbackSecret::parse(SecretString::from("k".repeat(100))).unwrap();
        let reference = {
            let mut mac =
                <HmacSha256 as KeyInit>::new_from_slice("k".repeat(100).as_bytes()).unwrap();
            mac.update(b"5.x");
            hex(&mac.finalize().into_bytes())
        };
        assert_eq!(long.sign(5, b"x"), reference);
    }

    #[test]
    fn the_header_is_read_strictly() {
        let sig = "ab".repeat(32);
        let (t, sigs) = signature_parts(&format!("t=12,v1={sig}")).unwrap();
        assert_eq!((t, sigs.len()), (12, 1));
        let (_, sigs) = signature_parts(&format!("t=12, v1={sig}, v0=zz, v1={sig}")).unwrap();
        assert_eq!(sigs.len(), 2);
        for bad in [
            format!("v1={sig}"),
            "t=12".to_owned(),
            format!("t=-1,v1={sig}"),
            format!("t=12,v1={}", "ab".repeat(31)),
            format!("t=12,v1={}", "zz".repeat(32)),
            format!("t=12 v1={sig}"),
        ] {
            assert!(signature_parts(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_bounded_and_redacted() {
        assert!(CallbackSecret::parse(SecretString::from("short")).is_err());
        assert!(
            CallbackSecret::parse(SecretString::from(format!("{} x", "s".repeat(40)))).is_err()
        );
        assert_eq!(format!("{:?}", secret()), "CallbackSecret([REDACTED])");
    }
}
