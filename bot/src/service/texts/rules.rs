//! What a user is told when a fraud or velocity rule asks for more than a
//! code: one clear, non-accusing line per rule that says what happens next.
//! The operator sees the rule's name and inputs in the audit log; the user
//! never sees either.

use crate::limits::{duration_text, utc_minute_text};
use crate::trust::Verdict;
use crate::trust::rules::{ActionKind, ConditionKind, Fired};

/// `payment`, `cash-out`, ... as a user reads it.
fn what(on: ActionKind) -> &'static str {
    match on {
        ActionKind::Payment => "payment",
        ActionKind::CashOut => "cash-out",
        ActionKind::TopUp => "top-up",
        ActionKind::CardAdd => "new card",
        ActionKind::Link => "account link",
    }
}

fn input_ms(fired: &Fired, key: &str) -> Option<i64> {
    fired.inputs.get(key).and_then(serde_json::Value::as_i64)
}

/// The line for the rule that decided (see
/// [`crate::trust::rules::RuleVerdict::deciding`]). A rule whose action is
/// allow is only written to the audit log and has no line: empty.
pub(crate) fn rule_refusal_text(fired: &Fired) -> String {
    let what = what(fired.on);
    match (fired.action, fired.condition) {
        (Verdict::Allow, _) => String::new(),
        (Verdict::SecondFactor, _) => {
            format!("This {what} needs your authenticator code as well before it goes through.")
        }
        (Verdict::Hold, _) => format!(
            "This {what} needs a closer look before it goes through. The money stays set aside meanwhile; nothing is lost."
        ),
        (Verdict::Refuse, ConditionKind::PaymentsPerHour) => match input_ms(fired, "retry_at_ms") {
            Some(at) => format!(
                "You've made many payments in the last hour; try again after {}. Nothing was sent.",
                utc_minute_text(at)
            ),
            None => {
                "You've made many payments in the last hour; try again later. Nothing was sent."
                    .to_owned()
            }
        },
        (Verdict::Refuse, ConditionKind::NewCard) => {
            let from = input_ms(fired, "possible_from_ms");
            let hours = fired
                .inputs
                .get("within_hours")
                .and_then(serde_json::Value::as_u64)
                .and_then(|h| u32::try_from(h).ok());
            match (from, hours) {
                (Some(from), Some(hours)) => format!(
                    "Cash-outs to a new card are possible from {} ({} after it was added). Nothing was sent. Top-ups from that card work now.",
                    utc_minute_text(from),
                    duration_text(hours.saturating_mul(3_600))
                ),
                _ => "Cash-outs to a new card are possible a while after it was added. Nothing was sent. Top-ups from that card work now.".to_owned(),
            }
        }
        (Verdict::Refuse, _) => format!(
            "This {what} can't go through right now, and nothing was sent. If you need it to, ask the operator of this bot to look at it."
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use super::*;

    fn fired(
        condition: ConditionKind,
        on: ActionKind,
        action: Verdict,
        inputs: &[(&str, i64)],
    ) -> Fired {
        let inputs: Map<String, Value> = inputs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        Fired {
            rule: "r".to_owned(),
            condition,
            on,
            action,
            inputs,
        }
    }

    #[test]
    fn each_line_says_what_happens_next() {
        // 2026-01-01 00:30 UTC.
        let at = 1_767_227_400_000;
        let velocity = fired(
            ConditionKind::PaymentsPerHour,
            ActionKind::Payment,
            Verdict::Refuse,
            &[("retry_at_ms", at)],
        );
        assert_eq!(
            rule_refusal_text(&velocity),
            "You've made many payments in the last hour; try again after 00:30 UTC on 2026-01-01. Nothing was sent."
        );
        let card = fired(
            ConditionKind::NewCard,
            ActionKind::CashOut,
            Verdict::Refuse,
            &[("possible_from_ms", at), ("within_hours", 24)],
        );
        assert!(
            rule_refusal_text(&card).starts_with(
                "Cash-outs to a new card are possible from 00:30 UTC on 2026-01-01 (24 h after it was added). Nothing was sent."
            ),
            "{}",
            rule_refusal_text(&card)
        );
        let held = fired(
            ConditionKind::PassThrough,
            ActionKind::CashOut,
            Verdict::Hold,
            &[],
        );
        assert!(rule_refusal_text(&held).starts_with("This cash-out needs a closer look"));
        let refused = fired(
            ConditionKind::Structuring,
            ActionKind::Payment,
            Verdict::Refuse,
            &[],
        );
        assert!(rule_refusal_text(&refused).starts_with("This payment can't go through right now"));
        let watched = fired(
            ConditionKind::Structuring,
            ActionKind::Payment,
            Verdict::Allow,
            &[],
        );
        assert_eq!(rule_refusal_text(&watched), "");
    }
}
