//! `[trust.limits]` (to be written).

use serde::Deserialize;

/// `[trust.limits]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustLimitsSettings {}

impl TrustLimitsSettings {
    /// The core's policy for this area.
    pub fn policy(&self) -> bot::trust::limits::LimitsPolicy {
        bot::trust::limits::LimitsPolicy::default()
    }
}
