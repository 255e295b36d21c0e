//! `[trust.limits]`: the verification tiers and their rolling limits, per
//! tier and currency (`[trust.limits.tiers.N]` with `name`, and
//! `[trust.limits.tiers.N.currencies.CODE]` with one amount per limit).
//!
//! Amounts are decimal text in the table's currency, parsed exactly
//! (`"299.99"`; more decimals than the currency has is an error, never
//! rounded). A currency without a table for a tier is refused for users of
//! that tier, not unlimited. The whole block is checked as it is read; a
//! problem names the tier, the currency and the limit.

use std::collections::BTreeMap;

use bot::trust::Tier;
use bot::trust::limits::{
    CURRENCIES_PER_TIER_MAX, CurrencyLimits, LimitKind, LimitsPolicy, TierLimits, TierName,
};
use ledger::{Amount, Currency};
use serde::Deserialize;

/// `[trust.limits]`, checked.
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawLimits")]
pub struct TrustLimitsSettings {
    policy: LimitsPolicy,
}

impl TrustLimitsSettings {
    /// The core's policy for this area.
    pub fn policy(&self) -> LimitsPolicy {
        self.policy.clone()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    tiers: BTreeMap<String, RawTier>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    name: String,
    #[serde(default)]
    currencies: BTreeMap<String, RawTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    sent_24h: RawAmount,
    sent_7d: RawAmount,
    sent_30d: RawAmount,
    received_30d: RawAmount,
    balance: RawAmount,
    cashout_24h: RawAmount,
    topup_24h: RawAmount,
    single_payment: RawAmount,
}

/// An amount as written: text, or a number from the environment (read
/// back as its shortest decimal text, exactly).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawAmount {
    Whole(u64),
    Float(f64),
    Text(String),
}

impl RawAmount {
    fn text(&self) -> String {
        match self {
            RawAmount::Whole(n) => n.to_string(),
            RawAmount::Float(f) => f.to_string(),
            RawAmount::Text(t) => t.clone(),
        }
    }
}

impl RawTable {
    fn parse(&self, currency: Currency) -> Result<CurrencyLimits, String> {
        let amount = |kind: LimitKind, raw: &RawAmount| {
            Amount::parse(&raw.text(), currency).map_err(|e| {
                format!(
                    "{}: not an amount of {} ({e}); write it as text, e.g. \"299.99\"",
                    kind.name(),
                    currency.code()
                )
            })
        };
        Ok(CurrencyLimits {
            sent_24h: amount(LimitKind::Sent24h, &self.sent_24h)?,
            sent_7d: amount(LimitKind::Sent7d, &self.sent_7d)?,
            sent_30d: amount(LimitKind::Sent30d, &self.sent_30d)?,
            received_30d: amount(LimitKind::Received30d, &self.received_30d)?,
            balance: amount(LimitKind::Balance, &self.balance)?,
            cashout_24h: amount(LimitKind::CashOut24h, &self.cashout_24h)?,
            topup_24h: amount(LimitKind::TopUp24h, &self.topup_24h)?,
            single_payment: amount(LimitKind::SinglePayment, &self.single_payment)?,
        })
    }
}

impl TryFrom<RawLimits> for TrustLimitsSettings {
    type Error = String;

    fn try_from(raw: RawLimits) -> Result<Self, String> {
        let mut tiers = Vec::new();
        for (number, raw_tier) in &raw.tiers {
            let tier = number
                .parse::<u8>()
                .ok()
                .and_then(Tier::new)
                .ok_or_else(|| {
                    format!(
                        "tiers.{number}: a tier is a number from 0 to {}",
                        bot::trust::TIER_MAX
                    )
                })?;
            let name = TierName::parse(&raw_tier.name).ok_or_else(|| {
                format!(
                    "tiers.{number}.name: 1 to {} letters, digits, spaces, - or _",
                    bot::trust::limits::TIER_NAME_CHARS_MAX
                )
            })?;
            if raw_tier.currencies.len() > CURRENCIES_PER_TIER_MAX {
                return Err(format!(
                    "tiers.{number}: at most {CURRENCIES_PER_TIER_MAX} currencies"
                ));
            }
            let mut currencies = Vec::new();
            for (code, table) in &raw_tier.currencies {
                let currency = Currency::from_code(&code.to_ascii_uppercase())
                    .map_err(|e| format!("tiers.{number}.currencies.{code}: {e}"))?;
                let parsed = table
                    .parse(currency)
                    .map_err(|e| format!("tiers.{number}.currencies.{code}.{e}"))?;
                currencies.push(parsed);
            }
            tiers.push(TierLimits {
                tier,
                name,
                currencies,
            });
        }
        let policy = LimitsPolicy::new(tiers).map_err(|e| e.to_string())?;
        Ok(TrustLimitsSettings { policy })
    }
}
