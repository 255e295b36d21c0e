//! Fraud and velocity rules as data: each rule has a name, a condition (a
//! closed set of kinds with parameters, no expression language), an action
//! (a [`Verdict`]) and the actions it judges (`payment`, `cashout`, ...).
//!
//! The design decision to know: evaluation is pure. [`RulesPolicy::needs`]
//! says which facts the rules that judge an action read, and over which
//! window; the service gathers exactly those ([`Facts`]) from the store and
//! the ledger; [`evaluate`] decides, and the strictest verdict of the rules
//! that fired wins. An amount is given per currency: a condition with no
//! figure for the action's currency does not fire.
//!
//! Counting conventions (each condition's doc says it again): "above N"
//! fires on the (N+1)th, "N in a window" fires on the Nth, and the action
//! being judged counts; windows end now and exclude their start instant.

use std::fmt;
use std::ops::RangeInclusive;

use async_trait::async_trait;
use ledger::{Amount, Currency};

use super::{TrustAction, Verdict};
use crate::store::{StoreError, UserId};

mod evaluate;
#[cfg(test)]
mod tests;

use evaluate::in_band;
pub use evaluate::{Fired, RuleVerdict, evaluate, money_text};

/// Most rules one policy holds.
pub const RULES_MAX: usize = 64;
/// The longest rule name, in bytes (`a-z`, `0-9`, `_`).
pub const RULE_NAME_BYTES_MAX: usize = 48;
/// `payments_per_hour.max`, in payments an hour.
pub const PAYMENTS_PER_HOUR_RANGE: RangeInclusive<u32> = 1..=1_000;
/// `new_account.younger_than_days`, in days.
pub const ACCOUNT_AGE_DAYS_RANGE: RangeInclusive<u32> = 1..=365;
/// `pass_through.within_mins`, in minutes (up to a day).
pub const PASS_THROUGH_MINS_RANGE: RangeInclusive<u32> = 1..=1_440;
/// `pass_through.percent`, in percent of what came in.
pub const PASS_THROUGH_PERCENT_RANGE: RangeInclusive<u32> = 1..=100;
/// `structuring.count`, in payments.
pub const STRUCTURING_COUNT_RANGE: RangeInclusive<u32> = 2..=100;
/// `structuring.within_percent`, in percent below the threshold.
pub const STRUCTURING_BAND_PERCENT_RANGE: RangeInclusive<u32> = 1..=50;
/// `new_payees_burst.count`, in distinct payees.
pub const NEW_PAYEES_COUNT_RANGE: RangeInclusive<u32> = 2..=100;
/// `new_payees_burst.within_hours`, in hours (up to a week).
pub const NEW_PAYEES_HOURS_RANGE: RangeInclusive<u32> = 1..=168;
/// `new_card.within_hours`, in hours (up to 30 days, as the card hold).
pub const NEW_CARD_HOURS_RANGE: RangeInclusive<u32> = 1..=720;

/// The window of `payments_per_hour`, in ms.
pub const VELOCITY_WINDOW_MS: i64 = 60 * 60 * 1_000;
/// The window of `structuring`, in ms (24 h).
pub const STRUCTURING_WINDOW_MS: i64 = 24 * 60 * 60 * 1_000;
/// Most of the user's past payments read for one decision (the newest).
pub const RULES_PAYMENTS_READ_MAX: u32 = 1_000;
/// Most first-time payees read for one decision (the largest
/// `new_payees_burst.count`).
pub const RULES_NEW_PAYEES_READ_MAX: u32 = 100;
/// Most ledger transfers of the wallet scanned for money received.
pub const RULES_LEDGER_TRANSFERS_READ_MAX: u32 = 2_000;

const MS_PER_MINUTE: i64 = 60_000;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// The kind of action a rule judges: [`TrustAction::name`] as a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    Payment,
    CashOut,
    TopUp,
    CardAdd,
    Link,
}

impl ActionKind {
    pub const ALL: [ActionKind; 5] = [
        ActionKind::Payment,
        ActionKind::CashOut,
        ActionKind::TopUp,
        ActionKind::CardAdd,
        ActionKind::Link,
    ];

    pub fn of(action: &TrustAction) -> ActionKind {
        match action {
            TrustAction::Payment { .. } => ActionKind::Payment,
            TrustAction::CashOut { .. } => ActionKind::CashOut,
            TrustAction::TopUp { .. } => ActionKind::TopUp,
            TrustAction::CardAdd { .. } => ActionKind::CardAdd,
            TrustAction::Link { .. } => ActionKind::Link,
        }
    }

    /// As in settings: the same as [`TrustAction::name`].
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Payment => "payment",
            ActionKind::CashOut => "cashout",
            ActionKind::TopUp => "topup",
            ActionKind::CardAdd => "card_add",
            ActionKind::Link => "link",
        }
    }

    pub fn parse(text: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A rule's name: 1 to [`RULE_NAME_BYTES_MAX`] bytes of `a-z`, `0-9`, `_`
/// (what the operator reads in the audit log).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleName(String);

impl RuleName {
    pub fn new(text: &str) -> Option<RuleName> {
        let ok = !text.is_empty()
            && text.len() <= RULE_NAME_BYTES_MAX
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        ok.then(|| RuleName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One figure per currency (at most one each). A currency with no figure:
/// the condition that reads it does not fire for that currency.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerCurrency(Vec<Amount>);

impl PerCurrency {
    /// `None` when a currency is given twice.
    pub fn new(amounts: Vec<Amount>) -> Option<PerCurrency> {
        let mut seen: Vec<Currency> = Vec::with_capacity(amounts.len());
        for amount in &amounts {
            if seen.contains(&amount.currency()) {
                return None;
            }
            seen.push(amount.currency());
        }
        Some(PerCurrency(amounts))
    }

    pub fn get(&self, currency: Currency) -> Option<Amount> {
        self.0.iter().copied().find(|a| a.currency() == currency)
    }

    pub fn amounts(&self) -> &[Amount] {
        &self.0
    }
}

/// What a condition is, by name (as in settings and the audit log).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionKind {
    PaymentsPerHour,
    FirstPaymentToPayee,
    NewAccount,
    PassThrough,
    Structuring,
    NewPayeesBurst,
    NewCard,
}

impl ConditionKind {
    pub const ALL: [ConditionKind; 7] = [
        ConditionKind::PaymentsPerHour,
        ConditionKind::FirstPaymentToPayee,
        ConditionKind::NewAccount,
        ConditionKind::PassThrough,
        ConditionKind::Structuring,
        ConditionKind::NewPayeesBurst,
        ConditionKind::NewCard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConditionKind::PaymentsPerHour => "payments_per_hour",
            ConditionKind::FirstPaymentToPayee => "first_payment_to_payee",
            ConditionKind::NewAccount => "new_account",
            ConditionKind::PassThrough => "pass_through",
            ConditionKind::Structuring => "structuring",
            ConditionKind::NewPayeesBurst => "new_payees_burst",
            ConditionKind::NewCard => "new_card",
        }
    }

    pub fn parse(text: &str) -> Option<ConditionKind> {
        ConditionKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// `on` is not empty and within [`ConditionKind::judges`].
    pub fn check_on(self, on: &[ActionKind]) -> Result<(), RuleError> {
        if on.is_empty() {
            return Err(RuleError::NothingJudged);
        }
        let judges = self.judges();
        if let Some(bad) = on.iter().find(|a| !judges.contains(a)) {
            let names: Vec<&str> = judges.iter().map(|a| a.as_str()).collect();
            return Err(RuleError::CannotJudge {
                action: bad.as_str(),
                condition: self.as_str(),
                judges: names.join(", "),
            });
        }
        Ok(())
    }

    /// The actions this condition can judge; a rule's `on` is within them.
    pub fn judges(self) -> &'static [ActionKind] {
        match self {
            ConditionKind::PaymentsPerHour
            | ConditionKind::FirstPaymentToPayee
            | ConditionKind::Structuring
            | ConditionKind::NewPayeesBurst => &[ActionKind::Payment],
            ConditionKind::NewAccount => &[ActionKind::Payment, ActionKind::CashOut],
            ConditionKind::PassThrough | ConditionKind::NewCard => &[ActionKind::CashOut],
        }
    }
}

/// When a rule fires. Each kind names its parameters as in settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The sender's payments in the last hour, this one included, would be
    /// more than `max` (the (max+1)th fires).
    PaymentsPerHour { max: u32 },
    /// A payment above `above` (strictly) to someone the sender never paid
    /// before (a payment to someone not yet on paybot, held in escrow, is
    /// to a new payee).
    FirstPaymentToPayee { above: PerCurrency },
    /// A payment or cash-out above `above` (strictly) from a wallet younger
    /// than `younger_than_days` (its oldest chat account joined it then).
    NewAccount {
        younger_than_days: u32,
        above: PerCurrency,
    },
    /// A cash-out of at least `percent`% of what other people paid into the
    /// wallet in the last `within_mins` minutes, when that was at least
    /// `received_at_least` (top-ups from one's own card do not count).
    PassThrough {
        within_mins: u32,
        percent: u32,
        received_at_least: PerCurrency,
    },
    /// A payment just under `threshold` (below it by at most
    /// `within_percent`%) that would be the `count`th such payment in 24 h.
    Structuring {
        count: u32,
        within_percent: u32,
        threshold: PerCurrency,
    },
    /// A payment to a new payee that would make `count` distinct first-time
    /// payees within `within_hours` hours.
    NewPayeesBurst { count: u32, within_hours: u32 },
    /// A cash-out to a card linked less than `within_hours` hours ago.
    NewCard { within_hours: u32 },
}

/// Why a rule or a policy is refused (settings name the key with it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("`{param}` must be between {} and {} {unit}", range.start(), range.end())]
    OutOfRange {
        param: &'static str,
        range: RangeInclusive<u32>,
        unit: &'static str,
    },
    #[error("`on` lists {action}, which {condition} cannot judge; it judges: {judges}")]
    CannotJudge {
        action: &'static str,
        condition: &'static str,
        judges: String,
    },
    #[error("`on` is empty: name at least one action ({})", action_names())]
    NothingJudged,
    #[error("rule `{0}` is given twice")]
    DuplicateName(String),
    #[error("at most {RULES_MAX} rules")]
    TooMany,
}

fn action_names() -> String {
    let names: Vec<&str> = ActionKind::ALL.iter().map(|a| a.as_str()).collect();
    names.join(", ")
}

fn within(
    param: &'static str,
    value: u32,
    range: RangeInclusive<u32>,
    unit: &'static str,
) -> Result<(), RuleError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(RuleError::OutOfRange { param, range, unit })
    }
}

impl Condition {
    pub fn kind(&self) -> ConditionKind {
        match self {
            Condition::PaymentsPerHour { .. } => ConditionKind::PaymentsPerHour,
            Condition::FirstPaymentToPayee { .. } => ConditionKind::FirstPaymentToPayee,
            Condition::NewAccount { .. } => ConditionKind::NewAccount,
            Condition::PassThrough { .. } => ConditionKind::PassThrough,
            Condition::Structuring { .. } => ConditionKind::Structuring,
            Condition::NewPayeesBurst { .. } => ConditionKind::NewPayeesBurst,
            Condition::NewCard { .. } => ConditionKind::NewCard,
        }
    }

    /// Every parameter within its bound.
    pub fn check(&self) -> Result<(), RuleError> {
        match self {
            Condition::PaymentsPerHour { max } => {
                within("max", *max, PAYMENTS_PER_HOUR_RANGE, "payments an hour")
            }
            Condition::FirstPaymentToPayee { .. } => Ok(()),
            Condition::NewAccount {
                younger_than_days, ..
            } => within(
                "younger_than_days",
                *younger_than_days,
                ACCOUNT_AGE_DAYS_RANGE,
                "days",
            ),
            Condition::PassThrough {
                within_mins,
                percent,
                ..
            } => {
                within(
                    "within_mins",
                    *within_mins,
                    PASS_THROUGH_MINS_RANGE,
                    "minutes",
                )?;
                within("percent", *percent, PASS_THROUGH_PERCENT_RANGE, "percent")
            }
            Condition::Structuring {
                count,
                within_percent,
                ..
            } => {
                within("count", *count, STRUCTURING_COUNT_RANGE, "payments")?;
                within(
                    "within_percent",
                    *within_percent,
                    STRUCTURING_BAND_PERCENT_RANGE,
                    "percent",
                )
            }
            Condition::NewPayeesBurst {
                count,
                within_hours,
            } => {
                within("count", *count, NEW_PAYEES_COUNT_RANGE, "payees")?;
                within(
                    "within_hours",
                    *within_hours,
                    NEW_PAYEES_HOURS_RANGE,
                    "hours",
                )
            }
            Condition::NewCard { within_hours } => {
                within("within_hours", *within_hours, NEW_CARD_HOURS_RANGE, "hours")
            }
        }
    }
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub name: RuleName,
    pub condition: Condition,
    /// What happens when it fires.
    pub action: Verdict,
    /// The actions it judges.
    pub on: Vec<ActionKind>,
}

impl Rule {
    /// A rule whose parameters are within their bounds and whose `on` is
    /// not empty and within what its condition judges.
    pub fn new(
        name: RuleName,
        condition: Condition,
        action: Verdict,
        on: Vec<ActionKind>,
    ) -> Result<Rule, RuleError> {
        condition.check()?;
        condition.kind().check_on(&on)?;
        Ok(Rule {
            name,
            condition,
            action,
            on,
        })
    }

    fn judges(&self, action: &TrustAction) -> bool {
        self.on.contains(&ActionKind::of(action))
    }
}

/// `[trust.rules]`: the rules, checked together (unique names, at most
/// [`RULES_MAX`]). The default is no rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesPolicy {
    rules: Vec<Rule>,
}

impl RulesPolicy {
    pub fn new(rules: Vec<Rule>) -> Result<RulesPolicy, RuleError> {
        if rules.len() > RULES_MAX {
            return Err(RuleError::TooMany);
        }
        for (i, rule) in rules.iter().enumerate() {
            if rules.iter().take(i).any(|r| r.name == rule.name) {
                return Err(RuleError::DuplicateName(rule.name.to_string()));
            }
        }
        Ok(RulesPolicy { rules })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The longest wait after a card is linked before cash-outs to it go
    /// through without a hold or refusal, in seconds: the largest
    /// `new_card.within_hours` of a rule that holds or refuses cash-outs
    /// (what `/card add` tells the user; 0: none).
    pub fn new_card_wait_secs(&self) -> u32 {
        self.rules
            .iter()
            .filter(|r| r.on.contains(&ActionKind::CashOut) && r.action >= Verdict::Hold)
            .filter_map(|r| match r.condition {
                Condition::NewCard { within_hours } => Some(within_hours.saturating_mul(3_600)),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// The facts the rules judging `action` read at `now_ms`; only what
    /// some rule can fire on is asked for.
    pub fn needs(&self, action: &TrustAction, now_ms: i64) -> Needs {
        let mut needs = Needs::default();
        let earliest = |slot: &mut Option<i64>, since: i64| {
            *slot = Some(slot.map_or(since, |s| s.min(since)));
        };
        let amount = action.amount();
        let above = |figures: &PerCurrency| {
            amount.is_some_and(|a| {
                figures
                    .get(a.currency())
                    .is_some_and(|f| a.minor() > f.minor())
            })
        };
        let payee_known = match action {
            TrustAction::Payment {
                payer,
                payee: Some(payee),
                ..
            } => Some((*payer, *payee)),
            _ => None,
        };
        for rule in self.rules.iter().filter(|r| r.judges(action)) {
            match &rule.condition {
                Condition::PaymentsPerHour { .. } => {
                    earliest(
                        &mut needs.payments_since_ms,
                        now_ms.saturating_sub(VELOCITY_WINDOW_MS),
                    );
                }
                Condition::FirstPaymentToPayee { above: figures } => {
                    if above(figures) {
                        needs.paid_before = needs.paid_before.or(payee_known);
                    }
                }
                Condition::NewAccount { above: figures, .. } => {
                    needs.account_since |= above(figures);
                }
                Condition::PassThrough {
                    within_mins,
                    received_at_least,
                    ..
                } => {
                    let currency = amount.map(Amount::currency);
                    if let Some(currency) = currency.filter(|c| received_at_least.get(*c).is_some())
                    {
                        let since = now_ms.saturating_sub(i64::from(*within_mins) * MS_PER_MINUTE);
                        needs.received = Some(match needs.received {
                            Some((c, s)) => (c, s.min(since)),
                            None => (currency, since),
                        });
                    }
                }
                Condition::Structuring {
                    within_percent,
                    threshold,
                    ..
                } => {
                    if amount.is_some_and(|a| in_band(a, threshold, *within_percent)) {
                        earliest(
                            &mut needs.payments_since_ms,
                            now_ms.saturating_sub(STRUCTURING_WINDOW_MS),
                        );
                    }
                }
                Condition::NewPayeesBurst { within_hours, .. } => {
                    needs.paid_before = needs.paid_before.or(payee_known);
                    let since = now_ms.saturating_sub(i64::from(*within_hours) * MS_PER_HOUR);
                    earliest(&mut needs.new_payees_since_ms, since);
                }
                Condition::NewCard { .. } => {}
            }
        }
        needs
    }
}

/// Which facts to gather for one decision (see [`RulesPolicy::needs`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The sender's payments made after this time.
    pub payments_since_ms: Option<i64>,
    /// Whether this payer ever paid this payee.
    pub paid_before: Option<(UserId, UserId)>,
    /// The payees the sender first paid after this time.
    pub new_payees_since_ms: Option<i64>,
    /// When the user's wallet began.
    pub account_since: bool,
    /// Money other people paid into the wallet in this currency after this
    /// time.
    pub received: Option<(Currency, i64)>,
}

/// A payment the user made (money left the wallet: completed, in escrow,
/// claimed or refunded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PastPayment {
    pub at_ms: i64,
    pub amount: Amount,
    /// `None` while in escrow for someone not yet on paybot.
    pub payee: Option<UserId>,
}

/// Someone the user paid for the first time at `first_paid_at_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewPayee {
    pub payee: UserId,
    pub first_paid_at_ms: i64,
}

/// Money another person paid into the wallet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub at_ms: i64,
    pub amount: Amount,
}

/// What the rules read, gathered as [`Needs`] says; a fact not asked for is
/// left empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub now_ms: i64,
    /// The user's payments since [`Needs::payments_since_ms`], newest
    /// first, at most [`RULES_PAYMENTS_READ_MAX`].
    pub payments: Vec<PastPayment>,
    /// Whether the payer paid this payee before.
    pub paid_before: bool,
    /// Payees first paid since [`Needs::new_payees_since_ms`].
    pub new_payees: Vec<NewPayee>,
    /// When the wallet began (its oldest chat account joined it).
    pub account_since_ms: Option<i64>,
    /// Money received since [`Needs::received`]'s time.
    pub received: Vec<Received>,
}

/// The store's part: the user's recent payments and first-time payees,
/// each one bounded statement.
#[async_trait]
pub trait RulesStore: Send + Sync {
    /// The payer's payments created after `since_ms` whose money left the
    /// wallet (completed, escrowed, claimed, refunded, reversed), newest first, at
    /// most `limit`.
    async fn payments_made_since(
        &self,
        payer: UserId,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<PastPayment>, StoreError>;

    /// The payees `payer` paid for the first time after `since_ms` (their
    /// first completed or claimed payment), newest first, at most `limit`.
    async fn payees_first_paid_since(
        &self,
        payer: UserId,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<NewPayee>, StoreError>;
}
