//! `[trust.verification]`: the verification provider's callback
//! (`POST /api/v1/verification/callback`, see [`crate::api::verification`]).

use bot::trust::operator::ActorName;
use serde::{Deserialize, Deserializer};

use crate::api::verification::CallbackSecret;
use crate::settings::bounds::{VerificationTolerance, within};

/// `[trust.verification]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationSettings {
    /// The secret the provider signs callbacks with (HMAC-SHA256). Secret,
    /// from the environment only; unset, the callback is off (404).
    #[serde(default)]
    pub secret: Option<CallbackSecret>,
    /// The provider's name in the audit log (`provider:NAME`).
    #[serde(deserialize_with = "actor_name")]
    pub provider_name: ActorName,
    /// How far a callback's signed timestamp may be from paybot's clock,
    /// either way, in seconds.
    #[serde(deserialize_with = "within::<_, VerificationTolerance>")]
    pub tolerance_secs: u32,
}

/// A name in the audit log: see [`ActorName::parse`].
pub fn actor_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ActorName, D::Error> {
    let text = String::deserialize(deserializer)?;
    ActorName::parse(&text).map_err(serde::de::Error::custom)
}
