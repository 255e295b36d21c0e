//! `[trust.second_factor]` (to be written).

use serde::Deserialize;

/// `[trust.second_factor]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorSettings {}

impl SecondFactorSettings {
    /// The core's policy for this area.
    pub fn policy(&self) -> bot::trust::second_factor::SecondFactorPolicy {
        bot::trust::second_factor::SecondFactorPolicy::default()
    }
}
