//! The pure evaluation: each condition against the facts, the strictest
//! verdict of the rules that fired.

use ledger::{Amount, Currency};
use serde_json::{Map, Value};

use super::{
    ActionKind, Condition, ConditionKind, Facts, MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE,
    PastPayment, PerCurrency, RulesPolicy, STRUCTURING_WINDOW_MS, VELOCITY_WINDOW_MS,
};
use crate::store::UserId;
use crate::trust::{TrustAction, Verdict};

/// A rule that fired: its name, condition, action and the inputs it read
/// (what the operator sees in the audit log).
#[derive(Clone, Debug, PartialEq)]
pub struct Fired {
    pub rule: String,
    pub condition: ConditionKind,
    /// What was judged.
    pub on: ActionKind,
    pub action: Verdict,
    pub inputs: Map<String, Value>,
}

/// What the rules decided: the strictest action of those that fired
/// ([`Verdict::Allow`] when none did), and each of them, in policy order.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleVerdict {
    pub verdict: Verdict,
    pub fired: Vec<Fired>,
}

impl RuleVerdict {
    /// The first rule that fired with the verdict (whose line the user
    /// is shown); `None` when the verdict is allow.
    pub fn deciding(&self) -> Option<&Fired> {
        if self.verdict == Verdict::Allow {
            return None;
        }
        self.fired.iter().find(|f| f.action == self.verdict)
    }
}

/// Judges `action` by every rule of `policy` that judges its kind.
pub fn evaluate(policy: &RulesPolicy, action: &TrustAction, facts: &Facts) -> RuleVerdict {
    let fired: Vec<Fired> = policy
        .rules
        .iter()
        .filter(|rule| rule.judges(action))
        .filter_map(|rule| {
            fires(&rule.condition, action, facts).map(|inputs| Fired {
                rule: rule.name.to_string(),
                condition: rule.condition.kind(),
                on: ActionKind::of(action),
                action: rule.action,
                inputs,
            })
        })
        .collect();
    let verdict = fired
        .iter()
        .map(|f| f.action)
        .max()
        .unwrap_or(Verdict::Allow);
    RuleVerdict { verdict, fired }
}

/// `200.00 USD`: an amount as the audit log shows it.
pub fn money_text(minor: i64, currency: Currency) -> String {
    format!(
        "{} {}",
        ledger::minor_to_decimal(minor, currency),
        currency.code()
    )
}

fn money(amount: Amount) -> Value {
    Value::String(money_text(amount.minor(), amount.currency()))
}

fn inputs<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// `amount` is below `threshold` by at most `within_percent`%.
pub(super) fn in_band(amount: Amount, threshold: &PerCurrency, within_percent: u32) -> bool {
    let Some(t) = threshold.get(amount.currency()) else {
        return false;
    };
    let a = i128::from(amount.minor());
    let t = i128::from(t.minor());
    a < t && a * 100 >= t * i128::from(100_u32.saturating_sub(within_percent))
}

fn count_value(n: usize) -> Value {
    Value::from(u64::try_from(n).unwrap_or(u64::MAX))
}

/// The payment's payee is someone the payer never paid.
fn to_new_payee(action: &TrustAction, facts: &Facts) -> bool {
    match action {
        TrustAction::Payment { payee: None, .. } => true,
        TrustAction::Payment { payee: Some(_), .. } => !facts.paid_before,
        _ => false,
    }
}

/// The inputs, when `condition` fires for `action` on `facts`.
fn fires(condition: &Condition, action: &TrustAction, facts: &Facts) -> Option<Map<String, Value>> {
    let now = facts.now_ms;
    match (condition, action) {
        (Condition::PaymentsPerHour { max }, TrustAction::Payment { .. }) => {
            let since = now.saturating_sub(VELOCITY_WINDOW_MS);
            let recent: Vec<&PastPayment> =
                facts.payments.iter().filter(|p| p.at_ms > since).collect();
            let max_n = usize::try_from(*max).unwrap_or(usize::MAX);
            if recent.len() < max_n {
                return None;
            }
            // Under the bound again once the max-th newest leaves the hour.
            let retry_at = recent
                .get(max_n.saturating_sub(1))
                .map_or(now, |p| p.at_ms.saturating_add(VELOCITY_WINDOW_MS));
            Some(inputs([
                ("payments_last_hour", count_value(recent.len())),
                ("max", Value::from(*max)),
                ("retry_at_ms", Value::from(retry_at)),
            ]))
        }
        (Condition::FirstPaymentToPayee { above }, TrustAction::Payment { payee, amount, .. }) => {
            let figure = above.get(amount.currency())?;
            (amount.minor() > figure.minor() && to_new_payee(action, facts)).then(|| {
                inputs([
                    ("amount", money(*amount)),
                    ("above", money(figure)),
                    ("payee", payee.map_or(Value::Null, |p| Value::from(p.0))),
                ])
            })
        }
        (
            Condition::NewAccount {
                younger_than_days,
                above,
            },
            TrustAction::Payment { amount, .. } | TrustAction::CashOut { amount, .. },
        ) => {
            let figure = above.get(amount.currency())?;
            let since = facts.account_since_ms?;
            let age_ms = now.saturating_sub(since);
            let young = age_ms < i64::from(*younger_than_days) * MS_PER_DAY;
            (young && amount.minor() > figure.minor()).then(|| {
                inputs([
                    ("amount", money(*amount)),
                    ("above", money(figure)),
                    ("account_since_ms", Value::from(since)),
                    ("account_age_hours", Value::from(age_ms / MS_PER_HOUR)),
                    ("younger_than_days", Value::from(*younger_than_days)),
                ])
            })
        }
        (
            Condition::PassThrough {
                within_mins,
                percent,
                received_at_least,
            },
            TrustAction::CashOut { amount, .. },
        ) => {
            let currency = amount.currency();
            let figure = received_at_least.get(currency)?;
            let since = now.saturating_sub(i64::from(*within_mins) * MS_PER_MINUTE);
            let received: i64 = facts
                .received
                .iter()
                .filter(|r| r.at_ms > since && r.amount.currency() == currency)
                .map(|r| r.amount.minor())
                .fold(0_i64, i64::saturating_add);
            let share = i128::from(amount.minor()) * 100;
            let passes =
                received >= figure.minor() && share >= i128::from(received) * i128::from(*percent);
            passes.then(|| {
                inputs([
                    ("amount", money(*amount)),
                    ("received", Value::String(money_text(received, currency))),
                    ("within_mins", Value::from(*within_mins)),
                    ("percent", Value::from(*percent)),
                    ("received_at_least", money(figure)),
                ])
            })
        }
        (
            Condition::Structuring {
                count,
                within_percent,
                threshold,
            },
            TrustAction::Payment { amount, .. },
        ) => {
            if !in_band(*amount, threshold, *within_percent) {
                return None;
            }
            let figure = threshold.get(amount.currency())?;
            let since = now.saturating_sub(STRUCTURING_WINDOW_MS);
            let earlier = facts
                .payments
                .iter()
                .filter(|p| p.at_ms > since && in_band(p.amount, threshold, *within_percent))
                .count();
            let total = earlier.saturating_add(1);
            (total >= usize::try_from(*count).unwrap_or(usize::MAX)).then(|| {
                inputs([
                    ("amount", money(*amount)),
                    ("threshold", money(figure)),
                    ("within_percent", Value::from(*within_percent)),
                    ("payments_just_under_24h", count_value(total)),
                    ("count", Value::from(*count)),
                ])
            })
        }
        (
            Condition::NewPayeesBurst {
                count,
                within_hours,
            },
            TrustAction::Payment { payee, .. },
        ) => {
            if !to_new_payee(action, facts) {
                return None;
            }
            let since = now.saturating_sub(i64::from(*within_hours) * MS_PER_HOUR);
            let mut distinct: Vec<UserId> = Vec::new();
            for p in facts
                .new_payees
                .iter()
                .filter(|p| p.first_paid_at_ms > since)
            {
                if Some(p.payee) != *payee && !distinct.contains(&p.payee) {
                    distinct.push(p.payee);
                }
            }
            let total = distinct.len().saturating_add(1);
            (total >= usize::try_from(*count).unwrap_or(usize::MAX)).then(|| {
                inputs([
                    ("new_payees", count_value(total)),
                    ("within_hours", Value::from(*within_hours)),
                    ("count", Value::from(*count)),
                ])
            })
        }
        (
            Condition::NewCard { within_hours },
            TrustAction::CashOut {
                card_added_at_ms, ..
            },
        ) => {
            let wait_ms = i64::from(*within_hours) * MS_PER_HOUR;
            let possible_from = card_added_at_ms.saturating_add(wait_ms);
            (now < possible_from).then(|| {
                inputs([
                    ("card_added_at_ms", Value::from(*card_added_at_ms)),
                    ("possible_from_ms", Value::from(possible_from)),
                    ("within_hours", Value::from(*within_hours)),
                ])
            })
        }
        _ => None,
    }
}
