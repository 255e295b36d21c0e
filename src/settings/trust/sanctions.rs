//! `[trust.sanctions]`: screening names against the stored SDN list
//! (`paybot sanctions load`).

use std::ops::RangeInclusive;

use bot::trust::sanctions::{SanctionsPolicy, Similarity};
use serde::{Deserialize, Deserializer};

use crate::settings::bounds::{Bound, within};

/// Allowed `trust.sanctions.threshold`, a Jaro-Winkler similarity.
pub(super) const THRESHOLD_RANGE: RangeInclusive<f64> = 0.80..=0.99;
/// Allowed `trust.sanctions.weak_threshold` (and at least `threshold`).
pub(super) const WEAK_THRESHOLD_RANGE: RangeInclusive<f64> = 0.80..=1.0;

#[derive(Debug)]
enum Threshold {}
impl Bound for Threshold {
    type Int = f64;
    const RANGE: RangeInclusive<f64> = THRESHOLD_RANGE;
    const UNIT: &'static str = "(similarity)";
}

#[derive(Debug)]
enum WeakThreshold {}
impl Bound for WeakThreshold {
    type Int = f64;
    const RANGE: RangeInclusive<f64> = WEAK_THRESHOLD_RANGE;
    const UNIT: &'static str = "(similarity)";
}

fn similarity<'de, D: Deserializer<'de>, B: Bound<Int = f64>>(
    deserializer: D,
) -> Result<Similarity, D::Error> {
    let value = within::<D, B>(deserializer)?;
    Similarity::new(value).ok_or_else(|| serde::de::Error::custom("must be between 0 and 1"))
}

/// `[trust.sanctions]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SanctionsSettings {
    /// Screening runs (at verification, card link and cash-out).
    pub enabled: bool,
    /// The similarity at which a legal name or a card holder name hits.
    #[serde(deserialize_with = "similarity::<_, Threshold>")]
    pub threshold: Similarity,
    /// The similarity at which a chat display name hits.
    #[serde(deserialize_with = "similarity::<_, WeakThreshold>")]
    pub weak_threshold: Similarity,
}

impl SanctionsSettings {
    /// The core's policy for this area.
    pub fn policy(&self) -> SanctionsPolicy {
        SanctionsPolicy {
            enabled: self.enabled,
            threshold: self.threshold,
            weak_threshold: self.weak_threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::settings::tests::load_with_env;

    #[test]
    fn the_defaults_screen_at_0_88_and_display_names_at_0_95() {
        let settings = load_with_env(None, []).unwrap();
        let policy = settings.trust.sanctions.policy();
        assert_eq!(policy, bot::trust::sanctions::SanctionsPolicy::default());
        assert!(policy.enabled);
        assert_eq!(policy.threshold.get(), 0.88);
        assert_eq!(policy.weak_threshold.get(), 0.95);
    }

    #[test]
    fn thresholds_are_bounded_and_ordered() {
        let err = load_with_env(None, [("PAYBOT_TRUST__SANCTIONS__THRESHOLD", "0.5")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`trust.sanctions.threshold` = 0.5")
                && err.contains("must be between 0.8 and 0.99 (similarity)"),
            "{err}"
        );
        let err = load_with_env(
            None,
            [
                ("PAYBOT_TRUST__SANCTIONS__THRESHOLD", "0.97"),
                ("PAYBOT_TRUST__SANCTIONS__WEAK_THRESHOLD", "0.9"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`trust.sanctions.weak_threshold`")
                && err.contains("must be at least trust.sanctions.threshold (0.97)"),
            "{err}"
        );
        let off = load_with_env(
            None,
            [
                ("PAYBOT_TRUST__SANCTIONS__ENABLED", "false"),
                ("PAYBOT_TRUST__SANCTIONS__THRESHOLD", "0.9"),
            ],
        )
        .unwrap();
        assert!(!off.trust.sanctions.policy().enabled);
        assert_eq!(off.trust.sanctions.policy().threshold.get(), 0.9);
    }
}
