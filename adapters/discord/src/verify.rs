//! Is this HTTP call from Discord? The Ed25519 signature over the timestamp
//! and the raw body bytes, checked with the application's public key, and a
//! timestamp no older than [`TIMESTAMP_AGE_SECS_MAX`] (serenity's
//! `Verifier` checks the signature only; a replayed old call would pass it).

use serenity::interactions_endpoint::Verifier;

use crate::config::PublicKey;

/// The oldest a signed call may be, in seconds.
pub const TIMESTAMP_AGE_SECS_MAX: i64 = 300;
/// How far in the future a timestamp may be (clock skew), in seconds.
pub const TIMESTAMP_FUTURE_SECS_MAX: i64 = 60;
/// The header with the hex signature.
pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
/// The header with the signed timestamp (unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";

/// Why a call was refused (all answered 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("no signature or timestamp header")]
    MissingHeader,
    #[error("the timestamp is not unix seconds")]
    BadTimestamp,
    #[error("the timestamp is more than {TIMESTAMP_AGE_SECS_MAX} s old or in the future")]
    Stale,
    #[error("the signature does not match the body")]
    BadSignature,
}

/// Checks calls against one application's public key.
#[derive(Clone)]
pub struct RequestVerifier(Verifier);

impl std::fmt::Debug for RequestVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestVerifier")
    }
}

impl RequestVerifier {
    pub fn new(key: &PublicKey) -> RequestVerifier {
        RequestVerifier(key.verifier())
    }

    /// What can be checked before the body is read: both headers present,
    /// the timestamp unix seconds within the allowed window around
    /// `now_secs`.
    pub fn check_headers(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        now_secs: i64,
    ) -> Result<(), Rejected> {
        let (Some(_), Some(timestamp)) = (signature, timestamp) else {
            return Err(Rejected::MissingHeader);
        };
        let valid_digits =
            (1..=12).contains(&timestamp.len()) && timestamp.bytes().all(|b| b.is_ascii_digit());
        let at: i64 = valid_digits
            .then(|| timestamp.parse().ok())
            .flatten()
            .ok_or(Rejected::BadTimestamp)?;
        let age = now_secs.saturating_sub(at);
        if !(-TIMESTAMP_FUTURE_SECS_MAX..=TIMESTAMP_AGE_SECS_MAX).contains(&age) {
            return Err(Rejected::Stale);
        }
        Ok(())
    }

    /// `Ok` only for a call signed by the application's key within the
    /// allowed window around `now_secs`.
    pub fn check(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now_secs: i64,
    ) -> Result<(), Rejected> {
        self.check_headers(signature, timestamp, now_secs)?;
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Err(Rejected::MissingHeader);
        };
        self.0
            .verify(signature, timestamp, body)
            .map_err(|()| Rejected::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn setup() -> (SigningKey, RequestVerifier) {
        let signing = SigningKey::from_bytes(&[7; 32]);
        let public = PublicKey::parse(&hex(signing.verifying_key().as_bytes())).unwrap();
        (signing, RequestVerifier::new(&public))
    }

    fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
        hex(&key.sign(&[timestamp.as_bytes(), body].concat()).to_bytes())
    }

    #[test]
    fn only_fresh_calls_signed_over_the_exact_body_pass() {
        let (key, verifier) = setup();
        let now = 1_800_000_000;
        let body = br#"{"type":1}"#;
        let ts = now.to_string();
        let sig = sign(&key, &ts, body);
        assert_eq!(verifier.check(Some(&sig), Some(&ts), body, now), Ok(()));
        assert_eq!(
            verifier.check(Some(&sig), Some(&ts), br#"{"type":2}"#, now),
            Err(Rejected::BadSignature)
        );
        assert_eq!(
            verifier.check(None, Some(&ts), body, now),
            Err(Rejected::MissingHeader)
        );
        assert_eq!(
            verifier.check(Some("zz"), Some(&ts), body, now),
            Err(Rejected::BadSignature)
        );
        let old = (now - TIMESTAMP_AGE_SECS_MAX - 1).to_string();
        let old_sig = sign(&key, &old, body);
        assert_eq!(
            verifier.check(Some(&old_sig), Some(&old), body, now),
            Err(Rejected::Stale)
        );
        assert_eq!(
            verifier.check(Some(&sig), Some("-5"), body, now),
            Err(Rejected::BadTimestamp)
        );
        let other = SigningKey::from_bytes(&[9; 32]);
        let forged = sign(&other, &ts, body);
        assert_eq!(
            verifier.check(Some(&forged), Some(&ts), body, now),
            Err(Rejected::BadSignature)
        );
    }
}
