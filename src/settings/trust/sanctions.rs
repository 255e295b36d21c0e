//! `[trust.sanctions]` (to be written).

use serde::Deserialize;

/// `[trust.sanctions]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SanctionsSettings {}

impl SanctionsSettings {
    /// The core's policy for this area.
    pub fn policy(&self) -> bot::trust::sanctions::SanctionsPolicy {
        bot::trust::sanctions::SanctionsPolicy::default()
    }
}
