//! Verification tiers: 0 (unverified), 1 (verified), 2 (enhanced), ...
//! What each allows is in [`super::limits`]; names are settings.

use std::fmt;

use super::audit::Actor;
use crate::store::UserId;

/// The highest tier number.
pub const TIER_MAX: u8 = 9;
/// The longest reason given for a tier change, in characters.
pub const TIER_REASON_CHARS_MAX: usize = 200;

/// A verification tier, 0 to [`TIER_MAX`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Default)]
pub struct Tier(u8);

impl Tier {
    /// Unverified.
    pub const ZERO: Tier = Tier(0);

    pub fn new(value: u8) -> Option<Tier> {
        (value <= TIER_MAX).then_some(Tier(value))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A user's tier as set, by whom and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierRecord {
    pub user: UserId,
    pub tier: Tier,
    pub reason: String,
    pub actor: Actor,
    pub set_at_ms: i64,
}
