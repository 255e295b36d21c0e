//! `[trust]`: verification tiers, limits, fraud rules, sanctions screening,
//! the second factor, holds for review and the verification provider's
//! callback; one file per area under `trust/`.

mod holds;
mod limits;
mod rules;
mod sanctions;
mod second_factor;
mod verification;

use bot::trust::{Tier, TrustConfig};
use serde::{Deserialize, Deserializer};

pub use holds::HoldsSettings;
pub use limits::TrustLimitsSettings;
pub use rules::RulesSettings;
pub use sanctions::SanctionsSettings;
pub use second_factor::SecondFactorSettings;
pub use verification::{VerificationSettings, actor_name};

/// `[trust]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSettings {
    #[serde(deserialize_with = "tier")]
    pub default_tier: Tier,
    pub limits: TrustLimitsSettings,
    pub rules: RulesSettings,
    pub sanctions: SanctionsSettings,
    pub second_factor: SecondFactorSettings,
    pub holds: HoldsSettings,
    pub verification: VerificationSettings,
}

impl TrustSettings {
    /// The core's trust policy.
    pub fn policy(&self) -> TrustConfig {
        TrustConfig {
            default_tier: self.default_tier,
            limits: self.limits.policy(),
            rules: self.rules.policy(),
            sanctions: self.sanctions.policy(),
            second_factor: self.second_factor.policy(),
            holds: self.holds.policy(),
        }
    }
}

/// A tier number, 0 to [`bot::trust::TIER_MAX`].
pub fn tier<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Tier, D::Error> {
    let value = u8::deserialize(deserializer)?;
    Tier::new(value).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "a tier is 0 to {}, not {value}",
            bot::trust::TIER_MAX
        ))
    })
}
