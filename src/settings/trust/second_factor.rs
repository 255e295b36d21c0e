//! `[trust.second_factor]`: the authenticator app (TOTP) asked for by big
//! payments, cash-outs, card adds and `/link`; its sealing key; the bound
//! on wrong codes; and, per tier, the amounts that ask for it.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use bot::trust::Tier;
use bot::trust::second_factor::{SECOND_FACTOR_TIERS_MAX, SecondFactorPolicy, SecondFactorTier};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

use crate::settings::AmountSetting;
use crate::settings::bounds::{Bound, within};
use crate::settings::core::secret_key;

/// `trust.second_factor.wrong_codes_max`, in codes.
pub(super) const WRONG_CODES_RANGE: RangeInclusive<u32> = 1..=20;
/// `trust.second_factor.wrong_codes_window_secs`: a minute to a day.
pub(super) const WRONG_CODES_WINDOW_SECS_RANGE: RangeInclusive<u32> = 60..=86_400;

#[derive(Debug)]
enum WrongCodes {}
impl Bound for WrongCodes {
    type Int = u32;
    const RANGE: RangeInclusive<u32> = WRONG_CODES_RANGE;
    const UNIT: &'static str = "codes";
}

#[derive(Debug)]
enum WrongCodesWindow {}
impl Bound for WrongCodesWindow {
    type Int = u32;
    const RANGE: RangeInclusive<u32> = WRONG_CODES_WINDOW_SECS_RANGE;
    const UNIT: &'static str = "seconds";
}

/// `[trust.second_factor]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorSettings {
    /// The key authenticator secrets are sealed with (32 to 64 bytes of
    /// text). Secret. When unset, `key_file` holds it (generated on first
    /// run, owner-only).
    #[serde(default, deserialize_with = "secret_key")]
    pub key: Option<SecretString>,
    pub key_file: PathBuf,
    /// Wrong codes one user may give within the window before codes are
    /// refused until the oldest leaves it.
    #[serde(deserialize_with = "within::<_, WrongCodes>")]
    pub wrong_codes_max: u32,
    #[serde(deserialize_with = "within::<_, WrongCodesWindow>")]
    pub wrong_codes_window_secs: u32,
    /// `[[trust.second_factor.tier]]`: per tier, lowest first.
    #[serde(default, deserialize_with = "tier_rows")]
    pub tier: Vec<SecondFactorTier>,
}

impl SecondFactorSettings {
    /// The core's policy for this area.
    pub fn policy(&self) -> SecondFactorPolicy {
        SecondFactorPolicy {
            wrong_codes_max: self.wrong_codes_max,
            wrong_codes_window_secs: self.wrong_codes_window_secs,
            tiers: self.tier.clone(),
        }
    }
}

/// One `[[trust.second_factor.tier]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TierRow {
    #[serde(deserialize_with = "super::tier")]
    tier: Tier,
    #[serde(default)]
    code_above: Vec<AmountSetting>,
    #[serde(default)]
    refuse_unenrolled_above: Vec<AmountSetting>,
}

/// The tier rows: at most [`SECOND_FACTOR_TIERS_MAX`], tiers ascending
/// and each once, each currency once per list.
fn tier_rows<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<SecondFactorTier>, D::Error> {
    let rows = Vec::<TierRow>::deserialize(deserializer)?;
    if rows.len() > SECOND_FACTOR_TIERS_MAX {
        return Err(serde::de::Error::custom(format!(
            "at most {SECOND_FACTOR_TIERS_MAX} tier rows"
        )));
    }
    if rows.windows(2).any(|pair| match pair {
        [a, b] => a.tier >= b.tier,
        _ => false,
    }) {
        return Err(serde::de::Error::custom(
            "tier rows must be in ascending order of tier, each tier once",
        ));
    }
    let unique = |amounts: &[AmountSetting]| {
        let currencies: BTreeSet<&str> = amounts.iter().map(|a| a.0.currency().code()).collect();
        currencies.len() == amounts.len()
    };
    if rows
        .iter()
        .any(|row| !unique(&row.code_above) || !unique(&row.refuse_unenrolled_above))
    {
        return Err(serde::de::Error::custom(
            "each currency at most once in code_above and in refuse_unenrolled_above",
        ));
    }
    Ok(rows
        .into_iter()
        .map(|row| SecondFactorTier {
            tier: row.tier,
            code_above: row.code_above.into_iter().map(|a| a.0).collect(),
            refuse_unenrolled_above: row
                .refuse_unenrolled_above
                .into_iter()
                .map(|a| a.0)
                .collect(),
        })
        .collect())
}
