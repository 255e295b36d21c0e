//! `[trust.holds]`: how long a hold for review waits for an operator.

use std::ops::RangeInclusive;

use bot::trust::holds::HoldPolicy;
use serde::Deserialize;

use crate::settings::bounds::{Bound, within};

/// `trust.holds.timeout_secs`: an hour to 14 days. A held payment's
/// reservation is a pending transfer of the code's time plus this, and a
/// held cash-out's is the 30-day cash-out reservation, of which at least 16
/// days are then left for the card network after an approval.
pub(super) const HOLD_TIMEOUT_SECS_RANGE: RangeInclusive<u32> = 3_600..=14 * 24 * 60 * 60;

#[derive(Debug)]
enum HoldTimeout {}

impl Bound for HoldTimeout {
    type Int = u32;
    const RANGE: RangeInclusive<u32> = HOLD_TIMEOUT_SECS_RANGE;
    const UNIT: &'static str = "seconds";
}

/// `[trust.holds]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldsSettings {
    /// How long a hold waits for an operator before it is voided.
    #[serde(deserialize_with = "within::<_, HoldTimeout>")]
    pub timeout_secs: u32,
}

impl HoldsSettings {
    /// The core's policy for holds.
    pub fn policy(&self) -> HoldPolicy {
        HoldPolicy {
            timeout_secs: self.timeout_secs,
        }
    }
}
