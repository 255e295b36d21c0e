//! `[trust.holds]` (to be written).

use serde::Deserialize;

/// `[trust.holds]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldsSettings {}

impl HoldsSettings {
    /// The core's policy for this area.
    pub fn policy(&self) -> bot::trust::holds::HoldPolicy {
        bot::trust::holds::HoldPolicy::default()
    }
}
