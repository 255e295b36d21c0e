//! Rolling limits per verification tier and currency: what one wallet may
//! send, receive, hold, cash out and top up, and the largest single payment.
//!
//! The design decision to know: a windowed limit is not a count kept here
//! but an allowance account in the ledger (TigerBeetle's rate-limiting
//! recipe, see `service/limits.rs`), so the figures below are only what
//! each allowance is credited with. A currency with no table for the
//! user's tier is refused outright ([`LimitsPolicy::table`] answers `None`),
//! never treated as unlimited.

use std::fmt;

use ledger::{Amount, Currency};

use super::tier::Tier;

/// The longest tier name, in characters.
pub const TIER_NAME_CHARS_MAX: usize = 32;
/// The most currencies one tier may have a table for.
pub const CURRENCIES_PER_TIER_MAX: usize = 16;
/// One day, in seconds.
pub const DAY_SECS: u32 = 24 * 60 * 60;

/// One kind of limit. Its [`LimitKind::name`] is stable: settings keys,
/// allowance owners in the ledger and the audit log use it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum LimitKind {
    /// Paid to others in any 24 hours.
    Sent24h,
    /// Paid to others in any 7 days.
    Sent7d,
    /// Paid to others in any 30 days.
    Sent30d,
    /// Received from others in any 30 days.
    Received30d,
    /// Held in the wallet at any time (counting payments on their way in).
    Balance,
    /// Cashed out to cards in any 24 hours.
    CashOut24h,
    /// Topped up from cards in any 24 hours.
    TopUp24h,
    /// One payment.
    SinglePayment,
}

impl LimitKind {
    /// Every kind, in the order `/limits` lists them.
    pub const ALL: [LimitKind; 8] = [
        LimitKind::SinglePayment,
        LimitKind::Sent24h,
        LimitKind::Sent7d,
        LimitKind::Sent30d,
        LimitKind::Received30d,
        LimitKind::Balance,
        LimitKind::CashOut24h,
        LimitKind::TopUp24h,
    ];

    /// The kinds with a rolling window (each an allowance account), in
    /// the order of [`LimitKind::ALL`].
    pub fn windowed() -> impl Iterator<Item = LimitKind> {
        LimitKind::ALL
            .into_iter()
            .filter(|kind| kind.window_secs().is_some())
    }

    /// The windowed kinds a payment uses on its sender's side.
    pub const SENT: [LimitKind; 3] = [LimitKind::Sent24h, LimitKind::Sent7d, LimitKind::Sent30d];

    /// The stable name (settings key, audit log, ledger owner reference).
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::Sent24h => "sent_24h",
            LimitKind::Sent7d => "sent_7d",
            LimitKind::Sent30d => "sent_30d",
            LimitKind::Received30d => "received_30d",
            LimitKind::Balance => "balance",
            LimitKind::CashOut24h => "cashout_24h",
            LimitKind::TopUp24h => "topup_24h",
            LimitKind::SinglePayment => "single_payment",
        }
    }

    /// The rolling window of a windowed limit, in seconds (at most the
    /// ledger's longest pending timeout); `None` for the balance and the
    /// single payment, which are no windows.
    pub fn window_secs(self) -> Option<u32> {
        match self {
            LimitKind::Sent24h | LimitKind::CashOut24h | LimitKind::TopUp24h => Some(DAY_SECS),
            LimitKind::Sent7d => Some(7 * DAY_SECS),
            LimitKind::Sent30d | LimitKind::Received30d => Some(30 * DAY_SECS),
            LimitKind::Balance | LimitKind::SinglePayment => None,
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tier's name as shown to users and operators: 1 to
/// [`TIER_NAME_CHARS_MAX`] characters, letters, digits, spaces and `-_`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TierName(String);

impl TierName {
    pub fn parse(text: &str) -> Option<TierName> {
        let text = text.trim();
        let fine = !text.is_empty()
            && text.chars().count() <= TIER_NAME_CHARS_MAX
            && text
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'));
        fine.then(|| TierName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TierName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every limit of one tier in one currency. All amounts are that currency.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CurrencyLimits {
    pub sent_24h: Amount,
    pub sent_7d: Amount,
    pub sent_30d: Amount,
    pub received_30d: Amount,
    pub balance: Amount,
    pub cashout_24h: Amount,
    pub topup_24h: Amount,
    pub single_payment: Amount,
}

impl CurrencyLimits {
    /// The limit of `kind`.
    pub fn get(&self, kind: LimitKind) -> Amount {
        match kind {
            LimitKind::Sent24h => self.sent_24h,
            LimitKind::Sent7d => self.sent_7d,
            LimitKind::Sent30d => self.sent_30d,
            LimitKind::Received30d => self.received_30d,
            LimitKind::Balance => self.balance,
            LimitKind::CashOut24h => self.cashout_24h,
            LimitKind::TopUp24h => self.topup_24h,
            LimitKind::SinglePayment => self.single_payment,
        }
    }

    /// The currency of every amount.
    pub fn currency(&self) -> Currency {
        self.sent_24h.currency()
    }

    /// The same figures in every field, for tests and tools that want one
    /// limit to bite and the rest out of the way.
    pub fn all(amount: Amount) -> CurrencyLimits {
        CurrencyLimits {
            sent_24h: amount,
            sent_7d: amount,
            sent_30d: amount,
            received_30d: amount,
            balance: amount,
            cashout_24h: amount,
            topup_24h: amount,
            single_payment: amount,
        }
    }

    /// With `kind` set to `amount`.
    pub fn with(mut self, kind: LimitKind, amount: Amount) -> CurrencyLimits {
        let field = match kind {
            LimitKind::Sent24h => &mut self.sent_24h,
            LimitKind::Sent7d => &mut self.sent_7d,
            LimitKind::Sent30d => &mut self.sent_30d,
            LimitKind::Received30d => &mut self.received_30d,
            LimitKind::Balance => &mut self.balance,
            LimitKind::CashOut24h => &mut self.cashout_24h,
            LimitKind::TopUp24h => &mut self.topup_24h,
            LimitKind::SinglePayment => &mut self.single_payment,
        };
        *field = amount;
        self
    }
}

/// One tier: its number, its name and its limits per currency.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TierLimits {
    pub tier: Tier,
    pub name: TierName,
    /// At most [`CURRENCIES_PER_TIER_MAX`], one per currency.
    pub currencies: Vec<CurrencyLimits>,
}

/// This area's settings: the tiers and their limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsPolicy {
    tiers: Vec<TierLimits>,
}

/// Why a [`LimitsPolicy`] could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsPolicyError {
    #[error("tier {0} is given twice")]
    DuplicateTier(Tier),
    #[error("tier {tier} has two tables for {currency}")]
    DuplicateCurrency { tier: Tier, currency: &'static str },
    #[error("tier {tier}'s {currency} table has an amount in another currency")]
    MixedCurrencies { tier: Tier, currency: &'static str },
    #[error("tier {0} has more than {CURRENCIES_PER_TIER_MAX} currencies")]
    TooManyCurrencies(Tier),
}

impl LimitsPolicy {
    /// Checks that tiers and currencies are each given once and every
    /// table's amounts are in its own currency.
    /// Tiers are kept lowest first, each one's tables by currency code.
    pub fn new(mut tiers: Vec<TierLimits>) -> Result<LimitsPolicy, LimitsPolicyError> {
        tiers.sort_by_key(|t| t.tier);
        for t in &mut tiers {
            t.currencies.sort_by_key(CurrencyLimits::currency);
        }
        for pair in tiers.windows(2) {
            if let [a, b] = pair
                && a.tier == b.tier
            {
                return Err(LimitsPolicyError::DuplicateTier(a.tier));
            }
        }
        for t in &tiers {
            if t.currencies.len() > CURRENCIES_PER_TIER_MAX {
                return Err(LimitsPolicyError::TooManyCurrencies(t.tier));
            }
            for (i, table) in t.currencies.iter().enumerate() {
                let currency = table.currency();
                if LimitKind::ALL
                    .iter()
                    .any(|k| table.get(*k).currency() != currency)
                {
                    return Err(LimitsPolicyError::MixedCurrencies {
                        tier: t.tier,
                        currency: currency.code(),
                    });
                }
                if t.currencies
                    .iter()
                    .take(i)
                    .any(|other| other.currency() == currency)
                {
                    return Err(LimitsPolicyError::DuplicateCurrency {
                        tier: t.tier,
                        currency: currency.code(),
                    });
                }
            }
        }
        Ok(LimitsPolicy { tiers })
    }

    /// The tiers, lowest first.
    pub fn tiers(&self) -> &[TierLimits] {
        &self.tiers
    }

    /// The limits of `tier` in `currency`; `None` when the tier has no
    /// table for that currency (or the tier is not configured): that
    /// currency is then refused for this user, not unlimited.
    pub fn table(&self, tier: Tier, currency: Currency) -> Option<&CurrencyLimits> {
        self.tiers
            .iter()
            .find(|t| t.tier == tier)?
            .currencies
            .iter()
            .find(|c| c.currency() == currency)
    }

    /// The tier's name; its number when it has none configured.
    pub fn tier_name(&self, tier: Tier) -> String {
        self.tiers
            .iter()
            .find(|t| t.tier == tier)
            .map_or_else(|| tier.to_string(), |t| t.name.to_string())
    }

    /// The same tiers with `table` replacing (or adding) its currency's
    /// table in `tier`, and the tier added if missing. For tests and tools.
    pub fn with_table(mut self, tier: Tier, table: CurrencyLimits) -> LimitsPolicy {
        match self.tiers.iter_mut().find(|t| t.tier == tier) {
            Some(t) => {
                t.currencies.retain(|c| c.currency() != table.currency());
                t.currencies.push(table);
            }
            None => {
                self.tiers.push(TierLimits {
                    tier,
                    name: TierName(format!("tier {tier}")),
                    currencies: vec![table],
                });
                self.tiers.sort_by_key(|t| t.tier);
            }
        }
        self
    }
}

/// One table of the defaults, each figure in minor units, in the order
/// sent 24 h, 7 d, 30 d, received 30 d, balance, cash-out 24 h, top-up
/// 24 h, single payment. `None` if a figure were not an amount (a test
/// holds that none is missing).
fn table(currency: Currency, minor: [i64; 8]) -> Option<CurrencyLimits> {
    let a = |v: i64| Amount::from_minor(v, currency).ok();
    let [s24, s7, s30, r30, bal, co, tu, single] = minor;
    Some(CurrencyLimits {
        sent_24h: a(s24)?,
        sent_7d: a(s7)?,
        sent_30d: a(s30)?,
        received_30d: a(r30)?,
        balance: a(bal)?,
        cashout_24h: a(co)?,
        topup_24h: a(tu)?,
        single_payment: a(single)?,
    })
}

/// The default figures per tier: (number, name, USD and EUR in minor units).
const DEFAULT_TIERS: [(u8, &str, [i64; 8], [i64; 8]); 3] = [
    (
        0,
        "unverified",
        [
            29_999, 29_999, 99_999, 99_999, 99_999, 29_999, 29_999, 29_999,
        ],
        [
            15_000, 15_000, 15_000, 15_000, 15_000, 5_000, 15_000, 15_000,
        ],
    ),
    (
        1,
        "verified",
        [
            250_000, 750_000, 1_500_000, 3_000_000, 2_500_000, 500_000, 500_000, 250_000,
        ],
        [
            250_000, 700_000, 1_400_000, 2_800_000, 2_300_000, 460_000, 460_000, 250_000,
        ],
    ),
    (
        2,
        "enhanced",
        [
            2_500_000, 5_000_000, 10_000_000, 25_000_000, 10_000_000, 2_500_000, 2_500_000,
            2_500_000,
        ],
        [
            2_300_000, 4_600_000, 9_200_000, 23_000_000, 9_200_000, 2_300_000, 2_300_000, 2_300_000,
        ],
    ),
];

impl Default for LimitsPolicy {
    /// The shipped defaults, the same as `[trust.limits]` in
    /// `config/paybot.toml` (a test holds them equal). Tier 0 sits at
    /// Venmo's unverified $299.99 per rolling 7 days and, in EUR, at the
    /// EU's 5th AML directive's EUR 150 a month for anonymous e-money
    /// (EUR 50 of it in cash-outs); tier 1 at Cash App's verified $7,500 a
    /// week; tier 2 higher.
    fn default() -> LimitsPolicy {
        let tiers = DEFAULT_TIERS
            .iter()
            .filter_map(|(number, name, usd, eur)| {
                Some(TierLimits {
                    tier: Tier::new(*number)?,
                    name: TierName((*name).to_owned()),
                    currencies: [table(Currency::EUR, *eur), table(Currency::USD, *usd)]
                        .into_iter()
                        .flatten()
                        .collect(),
                })
            })
            .collect();
        LimitsPolicy { tiers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_windows_fit_the_ledger() {
        let names: Vec<&str> = LimitKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "single_payment",
                "sent_24h",
                "sent_7d",
                "sent_30d",
                "received_30d",
                "balance",
                "cashout_24h",
                "topup_24h"
            ]
        );
        for kind in LimitKind::ALL {
            if let Some(w) = kind.window_secs() {
                assert!(w <= ledger::PENDING_TIMEOUT_SECS_MAX, "{kind}");
            }
        }
    }

    #[test]
    fn defaults_are_valid_and_a_missing_currency_has_no_table() {
        let policy = LimitsPolicy::default();
        assert_eq!(policy.tiers().len(), 3);
        assert!(policy.tiers().iter().all(|t| t.currencies.len() == 2));
        let checked = LimitsPolicy::new(policy.tiers().to_vec()).unwrap();
        assert_eq!(checked, policy);
        let t0 = policy.table(Tier::ZERO, Currency::USD).unwrap();
        assert_eq!(t0.sent_7d.minor(), 29_999);
        assert_eq!(
            policy
                .table(Tier::ZERO, Currency::EUR)
                .unwrap()
                .sent_30d
                .minor(),
            15_000
        );
        assert!(policy.table(Tier::ZERO, Currency::JPY).is_none());
        assert!(policy.table(Tier::new(5).unwrap(), Currency::USD).is_none());
        assert_eq!(policy.tier_name(Tier::new(1).unwrap()), "verified");
        assert_eq!(policy.tier_name(Tier::new(5).unwrap()), "5");
        for t in policy.tiers() {
            for c in &t.currencies {
                for k in LimitKind::ALL {
                    assert!(c.get(k).minor() > 1, "{k} of tier {}", t.tier);
                }
            }
        }
    }

    #[test]
    fn duplicates_and_mixed_currencies_are_refused() {
        let usd = |minor| Amount::from_minor(minor, Currency::USD).unwrap();
        let eur = Amount::from_minor(5, Currency::EUR).unwrap();
        let name = TierName::parse("basic").unwrap();
        let tier = |currencies| TierLimits {
            tier: Tier::ZERO,
            name: name.clone(),
            currencies,
        };
        let t = CurrencyLimits::all(usd(100));
        assert_eq!(
            LimitsPolicy::new(vec![tier(vec![t]), tier(vec![t])]),
            Err(LimitsPolicyError::DuplicateTier(Tier::ZERO))
        );
        assert!(matches!(
            LimitsPolicy::new(vec![tier(vec![t, t])]),
            Err(LimitsPolicyError::DuplicateCurrency { .. })
        ));
        assert!(matches!(
            LimitsPolicy::new(vec![tier(vec![t.with(LimitKind::Balance, eur)])]),
            Err(LimitsPolicyError::MixedCurrencies { .. })
        ));
        assert!(TierName::parse("").is_none());
        assert!(TierName::parse("a<b>").is_none());
    }
}
