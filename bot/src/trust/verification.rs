//! The verification provider's callback: a KYC vendor tells paybot that a
//! user is verified (their tier, their legal name). The HTTP layer checks
//! the signature and the timestamp; what is here is the event, its store
//! port ([`VerificationStore`]) and the per-user legal name that sanctions
//! screening reads.
//!
//! The design decision to know: **an event id is acted on once**. Its row
//! is claimed before anything changes (with the SHA-256 of the body that
//! carried it), and finished with the answer given; the same event again
//! gets that answer and changes nothing, and another body under the same
//! id is refused. A claim whose worker died is taken over after
//! [`VERIFICATION_CLAIM_LEASE_MS`].

use std::fmt;

use async_trait::async_trait;

use super::audit::AuditRecord;
use super::operator::{OperatorReason, UserTarget};
use super::tier::Tier;
use crate::store::{StoreError, UserId};
use crate::text::clean_free_text;

/// The longest provider event id, in bytes.
pub const EVENT_ID_BYTES_MAX: usize = 128;
/// The longest legal name kept, in characters.
pub const LEGAL_NAME_CHARS_MAX: usize = 200;
/// The most bytes of a legal name read before cleaning (see
/// [`super::operator::REASON_BYTES_READ_MAX`]).
pub const LEGAL_NAME_BYTES_READ_MAX: usize = LEGAL_NAME_CHARS_MAX * 4 * 4;
/// A claimed event whose worker has not finished after this long is taken
/// over by the next delivery (its worker is presumed dead).
pub const VERIFICATION_CLAIM_LEASE_MS: i64 = 60_000;
/// A SHA-256 digest's length in hexadecimal digits.
pub const BODY_DIGEST_HEX_DIGITS: usize = 64;

/// A provider's event id: 1 to [`EVENT_ID_BYTES_MAX`] bytes of printable
/// ASCII.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProviderEventId(String);

/// Why text is not an event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an event id is 1 to {EVENT_ID_BYTES_MAX} printable ASCII characters without spaces")]
pub struct InvalidEventId;

impl ProviderEventId {
    pub fn parse(text: &str) -> Result<ProviderEventId, InvalidEventId> {
        let ok = !text.is_empty()
            && text.len() <= EVENT_ID_BYTES_MAX
            && text.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(ProviderEventId(text.to_owned()))
        } else {
            Err(InvalidEventId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's legal name as a provider gave it: cleaned
/// ([`clean_free_text`]), 1 to [`LEGAL_NAME_CHARS_MAX`] characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegalName(String);

/// Why text is not a legal name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a legal name is 1 to {LEGAL_NAME_CHARS_MAX} characters")]
pub struct InvalidLegalName;

impl LegalName {
    pub fn parse(text: &str) -> Result<LegalName, InvalidLegalName> {
        if text.len() > LEGAL_NAME_BYTES_READ_MAX {
            return Err(InvalidLegalName);
        }
        let clean = clean_free_text(text);
        if (1..=LEGAL_NAME_CHARS_MAX).contains(&clean.chars().count()) {
            Ok(LegalName(clean))
        } else {
            Err(InvalidLegalName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The SHA-256 of a callback's body, 64 lowercase hexadecimal digits: what
/// tells a replay (the same body) from a conflict (another body under the
/// same event id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyDigest(String);

impl BodyDigest {
    /// `None` unless 64 hexadecimal digits.
    pub fn from_hex(hex: &str) -> Option<BodyDigest> {
        (hex.len() == BODY_DIGEST_HEX_DIGITS && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| BodyDigest(hex.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One callback, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationEvent {
    pub event_id: ProviderEventId,
    /// Whom it is about (always by platform id: a provider knows no
    /// handles).
    pub target: UserTarget,
    pub tier: Tier,
    pub legal_name: Option<LegalName>,
    /// The provider's reason or status, as the audit log keeps it.
    pub reason: OperatorReason,
    pub body_digest: BodyDigest,
}

/// What an applied callback did: stored with its event and answered again
/// to a replay.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerificationResult {
    pub event_id: String,
    pub platform: String,
    pub user_id: String,
    pub previous_tier: u8,
    pub tier: u8,
    /// Whether the user was told.
    pub told: bool,
    /// The legal name matched the sanctions list: the tier was not
    /// changed; an operator decides (`paybot admin tier`).
    #[serde(default)]
    pub held: bool,
}

/// What [`VerificationStore::claim_verification_event`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerificationClaim {
    /// New (or its earlier worker's lease ran out): act on it.
    New,
    /// Done already, with this body: its stored result (JSON text).
    Done(String),
    /// Another body was sent under this event id.
    OtherBody,
    /// Another worker is acting on it now.
    InProgress,
}

/// The verification tables: callback events (one row per event id) and
/// each user's legal name as last verified.
#[async_trait]
pub trait VerificationStore: Send + Sync {
    /// Claims `event` at `now_ms`; an unfinished claim older than `lease_ms`
    /// may be claimed again. One statement decides between racing
    /// deliveries.
    async fn claim_verification_event(
        &self,
        event: &VerificationEvent,
        provider: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<VerificationClaim, StoreError>;

    /// Records the result of a claimed event (JSON text) and the user it
    /// was about.
    async fn finish_verification_event(
        &self,
        event_id: &ProviderEventId,
        user: UserId,
        result: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Gives up a claim that changed nothing (an unknown user), so the
    /// provider's retry is handled afresh.
    async fn release_verification_event(
        &self,
        event_id: &ProviderEventId,
    ) -> Result<(), StoreError>;

    /// Keeps `name` as the user's legal name (the latest verification
    /// wins), with the provider and event that gave it.
    async fn set_legal_name(
        &self,
        user: UserId,
        name: &LegalName,
        provider: &str,
        event_id: &ProviderEventId,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// The user's legal name as last verified.
    async fn legal_name_of(&self, user: UserId) -> Result<Option<String>, StoreError>;

    /// The newest audit entries about `user`, newest first, at most
    /// `limit`.
    async fn recent_audit_of(
        &self,
        user: UserId,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_names_and_digests_are_bounded() {
        assert!(ProviderEventId::parse("evt_123").is_ok());
        assert!(ProviderEventId::parse("").is_err());
        assert!(ProviderEventId::parse("a b").is_err());
        assert!(ProviderEventId::parse(&"x".repeat(EVENT_ID_BYTES_MAX + 1)).is_err());
        assert_eq!(
            LegalName::parse(" Ana  María\u{200b} López ")
                .unwrap()
                .as_str(),
            "Ana María López"
        );
        assert!(LegalName::parse("  ").is_err());
        assert!(BodyDigest::from_hex(&"A".repeat(64)).is_some());
        assert!(BodyDigest::from_hex("abc").is_none());
    }
}
