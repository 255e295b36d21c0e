//! `[trust.rules]` (to be written).

use serde::Deserialize;

/// `[trust.rules]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSettings {}

impl RulesSettings {
    /// The core's policy for this area.
    pub fn policy(&self) -> bot::trust::rules::RulesPolicy {
        bot::trust::rules::RulesPolicy::default()
    }
}
