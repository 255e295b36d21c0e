//! `[trust.rules]`: the fraud and velocity rules, one table per rule under
//! `[trust.rules.rule.NAME]`, keyed by its name so that a file or an
//! environment variable can change one value of one rule
//! (`PAYBOT_TRUST__RULES__RULE__VELOCITY__MAX=30`) or switch it off
//! (`...__ENABLED=false`).
//!
//! Each rule is read whole: its condition kind names the parameters it
//! takes; a missing or foreign parameter, a value out of its bound, or an
//! action the condition cannot judge is refused with the rule's key.

use std::collections::BTreeMap;

use bot::trust::Verdict;
use bot::trust::rules::{
    ActionKind, Condition, ConditionKind, PerCurrency, Rule, RuleName, RulesPolicy,
};
use ledger::{Amount, Currency};
use serde::{Deserialize, Deserializer};

/// `[trust.rules]`.
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawRules")]
pub struct RulesSettings {
    policy: RulesPolicy,
}

impl RulesSettings {
    /// The core's policy for this area.
    pub fn policy(&self) -> RulesPolicy {
        self.policy.clone()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    /// The rules by name.
    #[serde(default)]
    rule: BTreeMap<String, RuleSetting>,
}

impl TryFrom<RawRules> for RulesSettings {
    type Error = String;

    fn try_from(raw: RawRules) -> Result<RulesSettings, String> {
        let mut rules = Vec::with_capacity(raw.rule.len());
        for (key, setting) in raw.rule {
            let name = RuleName::new(&key).ok_or_else(|| {
                format!(
                    "rule `{key}`: a rule's name is 1 to {} of a-z, 0-9 and _",
                    bot::trust::rules::RULE_NAME_BYTES_MAX
                )
            })?;
            if let Some((condition, action, on)) = setting.0 {
                rules.push(Rule::new(name, condition, action, on).map_err(|e| e.to_string())?);
            }
        }
        let policy = RulesPolicy::new(rules).map_err(|e| e.to_string())?;
        Ok(RulesSettings { policy })
    }
}

/// One `[trust.rules.rule.NAME]`, checked; `None` when switched off.
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawRule")]
struct RuleSetting(Option<(Condition, Verdict, Vec<ActionKind>)>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default = "switched_on")]
    enabled: bool,
    condition: ConditionSetting,
    action: VerdictSetting,
    on: Vec<ActionSetting>,
    #[serde(default)]
    max: Option<u32>,
    #[serde(default)]
    above: Option<PerCurrencySetting>,
    #[serde(default)]
    younger_than_days: Option<u32>,
    #[serde(default)]
    within_mins: Option<u32>,
    #[serde(default)]
    percent: Option<u32>,
    #[serde(default)]
    received_at_least: Option<PerCurrencySetting>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    within_percent: Option<u32>,
    #[serde(default)]
    threshold: Option<PerCurrencySetting>,
    #[serde(default)]
    within_hours: Option<u32>,
}

fn switched_on() -> bool {
    true
}

/// The parameters each condition kind takes, as in settings.
fn params_of(kind: ConditionKind) -> &'static [&'static str] {
    match kind {
        ConditionKind::PaymentsPerHour => &["max"],
        ConditionKind::FirstPaymentToPayee => &["above"],
        ConditionKind::NewAccount => &["younger_than_days", "above"],
        ConditionKind::PassThrough => &["within_mins", "percent", "received_at_least"],
        ConditionKind::Structuring => &["count", "within_percent", "threshold"],
        ConditionKind::NewPayeesBurst => &["count", "within_hours"],
        ConditionKind::NewCard => &["within_hours"],
    }
}

impl RawRule {
    /// The parameters given, by name.
    fn given(&self) -> Vec<&'static str> {
        let present = [
            ("max", self.max.is_some()),
            ("above", self.above.is_some()),
            ("younger_than_days", self.younger_than_days.is_some()),
            ("within_mins", self.within_mins.is_some()),
            ("percent", self.percent.is_some()),
            ("received_at_least", self.received_at_least.is_some()),
            ("count", self.count.is_some()),
            ("within_percent", self.within_percent.is_some()),
            ("threshold", self.threshold.is_some()),
            ("within_hours", self.within_hours.is_some()),
        ];
        present
            .into_iter()
            .filter(|(_, given)| *given)
            .map(|(name, _)| name)
            .collect()
    }

    fn condition(self) -> Result<Condition, String> {
        let kind = self.condition.0;
        let takes = params_of(kind);
        let given = self.given();
        if let Some(foreign) = given.iter().find(|p| !takes.contains(p)) {
            return Err(format!(
                "`{foreign}` is not a parameter of condition {}; it takes: {}",
                kind.as_str(),
                takes.join(", ")
            ));
        }
        let need =
            |name: &'static str, value: Option<u32>| value.ok_or_else(|| missing(kind, name));
        let need_figures = |name: &'static str, value: Option<PerCurrencySetting>| {
            value.map(|v| v.0).ok_or_else(|| missing(kind, name))
        };
        Ok(match kind {
            ConditionKind::PaymentsPerHour => Condition::PaymentsPerHour {
                max: need("max", self.max)?,
            },
            ConditionKind::FirstPaymentToPayee => Condition::FirstPaymentToPayee {
                above: need_figures("above", self.above)?,
            },
            ConditionKind::NewAccount => Condition::NewAccount {
                younger_than_days: need("younger_than_days", self.younger_than_days)?,
                above: need_figures("above", self.above)?,
            },
            ConditionKind::PassThrough => Condition::PassThrough {
                within_mins: need("within_mins", self.within_mins)?,
                percent: need("percent", self.percent)?,
                received_at_least: need_figures("received_at_least", self.received_at_least)?,
            },
            ConditionKind::Structuring => Condition::Structuring {
                count: need("count", self.count)?,
                within_percent: need("within_percent", self.within_percent)?,
                threshold: need_figures("threshold", self.threshold)?,
            },
            ConditionKind::NewPayeesBurst => Condition::NewPayeesBurst {
                count: need("count", self.count)?,
                within_hours: need("within_hours", self.within_hours)?,
            },
            ConditionKind::NewCard => Condition::NewCard {
                within_hours: need("within_hours", self.within_hours)?,
            },
        })
    }
}

fn missing(kind: ConditionKind, name: &str) -> String {
    format!(
        "`{name}` is required by condition {}; it takes: {}",
        kind.as_str(),
        params_of(kind).join(", ")
    )
}

impl TryFrom<RawRule> for RuleSetting {
    type Error = String;

    fn try_from(raw: RawRule) -> Result<RuleSetting, String> {
        let enabled = raw.enabled;
        let action = raw.action.0;
        let on: Vec<ActionKind> = raw.on.iter().map(|a| a.0).collect();
        let condition = raw.condition()?;
        condition.check().map_err(|e| e.to_string())?;
        condition.kind().check_on(&on).map_err(|e| e.to_string())?;
        Ok(RuleSetting(enabled.then_some((condition, action, on))))
    }
}

/// A condition kind by name.
struct ConditionSetting(ConditionKind);

impl<'de> Deserialize<'de> for ConditionSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ConditionKind::parse(&text)
            .map(ConditionSetting)
            .ok_or_else(|| {
                let known: Vec<&str> = ConditionKind::ALL.iter().map(|k| k.as_str()).collect();
                serde::de::Error::custom(format!(
                    "no condition kind `{text}`; one of {}",
                    known.join(", ")
                ))
            })
    }
}

/// What a rule does when it fires: `allow` (only recorded),
/// `second_factor`, `hold` or `refuse`.
struct VerdictSetting(Verdict);

impl<'de> Deserialize<'de> for VerdictSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const ALL: [Verdict; 4] = [
            Verdict::Allow,
            Verdict::SecondFactor,
            Verdict::Hold,
            Verdict::Refuse,
        ];
        let text = String::deserialize(deserializer)?;
        ALL.into_iter()
            .find(|v| v.as_str() == text)
            .map(VerdictSetting)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "no action `{text}`; one of allow, second_factor, hold, refuse"
                ))
            })
    }
}

/// An action a rule judges, by [`bot::trust::TrustAction::name`].
struct ActionSetting(ActionKind);

impl<'de> Deserialize<'de> for ActionSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ActionKind::parse(&text).map(ActionSetting).ok_or_else(|| {
            let known: Vec<&str> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
            serde::de::Error::custom(format!("no action `{text}`; one of {}", known.join(", ")))
        })
    }
}

/// Figures per currency: `{ usd = "200", eur = "200.00" }` (codes in
/// lower case, so that `PAYBOT_..._ABOVE__USD` changes the same key).
struct PerCurrencySetting(PerCurrency);

/// One figure as written: a whole number or decimal text (`"200.50"`); an
/// environment variable `200.5` arrives as a float and is read by its
/// shortest text.
#[derive(Deserialize)]
#[serde(untagged)]
enum FigureText {
    Whole(u64),
    Float(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for PerCurrencySetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, FigureText>::deserialize(deserializer)?;
        let mut amounts: Vec<Amount> = Vec::with_capacity(raw.len());
        for (code, figure) in raw {
            let currency = Currency::from_code(&code).map_err(|_| {
                let known: Vec<String> = Currency::all()
                    .map(|c| c.code().to_ascii_lowercase())
                    .collect();
                serde::de::Error::custom(format!(
                    "`{code}` is not a currency paybot knows; one of {}",
                    known.join(", ")
                ))
            })?;
            let text = match figure {
                FigureText::Whole(n) => n.to_string(),
                FigureText::Float(f) => f.to_string(),
                FigureText::Text(t) => t,
            };
            let amount = Amount::parse(&text, currency).map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{code}`: not an amount of {} ({e}); e.g. \"200.00\"",
                    currency.code()
                ))
            })?;
            if amounts.iter().any(|a| a.currency() == currency) {
                return Err(serde::de::Error::custom(format!(
                    "{} is given twice; write each currency once, in lower case",
                    currency.code()
                )));
            }
            amounts.push(amount);
        }
        PerCurrency::new(amounts)
            .map(PerCurrencySetting)
            .ok_or_else(|| serde::de::Error::custom("a currency is given twice"))
    }
}

#[cfg(test)]
mod tests {
    use bot::trust::rules::Condition;

    use crate::settings::tests::load_with_env;

    fn load_file(text: &str, env: &[(&str, &str)]) -> Result<crate::settings::Settings, String> {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        load_with_env(Some(file.path()), env.iter().copied()).map_err(|e| e.to_string())
    }

    fn rule<'a>(
        policy: &'a bot::trust::rules::RulesPolicy,
        name: &str,
    ) -> Option<&'a bot::trust::rules::Rule> {
        policy.rules().iter().find(|r| r.name.as_str() == name)
    }

    #[test]
    fn the_defaults_have_one_rule_per_condition() {
        let policy = load_file("", &[]).unwrap().trust.rules.policy();
        let names: Vec<(&str, &str, &str)> = policy
            .rules()
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.condition.kind().as_str(),
                    r.action.as_str(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                (
                    "first_payment_large",
                    "first_payment_to_payee",
                    "second_factor"
                ),
                ("new_account_cashout", "new_account", "hold"),
                ("new_card", "new_card", "refuse"),
                ("new_payees_burst", "new_payees_burst", "second_factor"),
                ("pass_through", "pass_through", "hold"),
                ("structuring", "structuring", "hold"),
                ("velocity", "payments_per_hour", "refuse"),
            ]
        );
        // The wait /card add announces: a day.
        assert_eq!(policy.new_card_wait_secs(), 86_400);
        let first = rule(&policy, "first_payment_large").unwrap();
        let Condition::FirstPaymentToPayee { above } = &first.condition else {
            panic!("{first:?}");
        };
        assert_eq!(above.get(ledger::Currency::USD).unwrap().minor(), 20_000);
        assert_eq!(above.get(ledger::Currency::JPY), None);
    }

    #[test]
    fn the_environment_changes_one_value_of_one_rule() {
        let env = [
            ("PAYBOT_TRUST__RULES__RULE__VELOCITY__MAX", "5"),
            ("PAYBOT_TRUST__RULES__RULE__NEW_CARD__ENABLED", "false"),
            (
                "PAYBOT_TRUST__RULES__RULE__FIRST_PAYMENT_LARGE__ABOVE__USD",
                "300.5",
            ),
            ("PAYBOT_TRUST__RULES__RULE__PASS_THROUGH__ACTION", "refuse"),
        ];
        let policy = load_file("", &env).unwrap().trust.rules.policy();
        let velocity = rule(&policy, "velocity").unwrap();
        assert_eq!(velocity.condition, Condition::PaymentsPerHour { max: 5 });
        assert!(rule(&policy, "new_card").is_none());
        assert_eq!(policy.new_card_wait_secs(), 0);
        let first = rule(&policy, "first_payment_large").unwrap();
        let Condition::FirstPaymentToPayee { above } = &first.condition else {
            panic!("{first:?}");
        };
        assert_eq!(above.get(ledger::Currency::USD).unwrap().minor(), 30_050);
        assert_eq!(above.get(ledger::Currency::EUR).unwrap().minor(), 20_000);
        assert_eq!(
            rule(&policy, "pass_through").unwrap().action,
            bot::trust::Verdict::Refuse
        );
    }

    #[test]
    fn a_file_adds_a_rule_of_its_own() {
        let policy = load_file(
            "[trust.rules.rule.big_yen_payment]\n\
             condition = \"first_payment_to_payee\"\n\
             above = { jpy = 50000 }\n\
             action = \"hold\"\n\
             on = [\"payment\"]\n",
            &[],
        )
        .unwrap()
        .trust
        .rules
        .policy();
        assert_eq!(policy.rules().len(), 8);
        let yen = rule(&policy, "big_yen_payment").unwrap();
        assert_eq!(yen.action, bot::trust::Verdict::Hold);
    }

    fn refused(text: &str) -> String {
        load_file(text, &[]).unwrap_err()
    }

    #[test]
    fn an_unknown_condition_kind_is_named_with_its_key() {
        let err = refused(
            "[trust.rules.rule.mine]\ncondition = \"moon_phase\"\naction = \"hold\"\non = [\"payment\"]\n",
        );
        assert!(err.contains("`trust.rules.rule.mine.condition`"), "{err}");
        assert!(err.contains("no condition kind `moon_phase`"), "{err}");
        assert!(
            err.contains("payments_per_hour, first_payment_to_payee"),
            "{err}"
        );
    }

    #[test]
    fn bad_parameters_are_named_with_the_rule() {
        let cases = [
            (
                "[trust.rules.rule.velocity]\nmax = 0\n",
                "`max` must be between 1 and 1000 payments an hour",
            ),
            (
                "[trust.rules.rule.velocity]\nabove = { usd = \"5\" }\n",
                "`above` is not a parameter of condition payments_per_hour; it takes: max",
            ),
            (
                "[trust.rules.rule.mine]\ncondition = \"structuring\"\ncount = 3\naction = \"hold\"\non = [\"payment\"]\n",
                "`within_percent` is required by condition structuring",
            ),
            (
                "[trust.rules.rule.new_card]\non = [\"payment\"]\n",
                "`on` lists payment, which new_card cannot judge; it judges: cashout",
            ),
            (
                "[trust.rules.rule.new_card]\nwithin_hours = 721\n",
                "`within_hours` must be between 1 and 720 hours",
            ),
        ];
        for (text, message) in cases {
            let err = refused(text);
            let key = text
                .lines()
                .next()
                .unwrap()
                .trim_matches(|c| c == '[' || c == ']');
            assert!(err.contains(&format!("`{key}`")), "{err}");
            assert!(err.contains(message), "{err}");
        }
    }

    #[test]
    fn bad_values_are_named_with_their_key() {
        let err = refused("[trust.rules.rule.velocity]\naction = \"block\"\n");
        assert!(err.contains("`trust.rules.rule.velocity.action`"), "{err}");
        assert!(
            err.contains("one of allow, second_factor, hold, refuse"),
            "{err}"
        );
        let err = refused("[trust.rules.rule.velocity]\nmaxx = 3\n");
        assert!(err.contains("`trust.rules.rule.velocity.maxx`"), "{err}");
        assert!(err.contains("no such setting"), "{err}");
        let err = refused("[trust.rules.rule.first_payment_large]\nabove = { usd = \"ten\" }\n");
        assert!(
            err.contains("`trust.rules.rule.first_payment_large.above`"),
            "{err}"
        );
        assert!(err.contains("not an amount of USD"), "{err}");
        let err = refused("[trust.rules.rule.first_payment_large]\nabove = { xyz = \"1\" }\n");
        assert!(
            err.contains("`xyz` is not a currency paybot knows"),
            "{err}"
        );
        let err = refused("[trust.rules.rule.first_payment_large]\nabove = { USD = \"1\" }\n");
        assert!(err.contains("USD is given twice"), "{err}");
        let err = refused(
            "[trust.rules.rule.Bad-Name]\ncondition = \"new_card\"\nwithin_hours = 1\naction = \"hold\"\non = [\"cashout\"]\n",
        );
        assert!(err.contains("rule `Bad-Name`"), "{err}");
        let err = refused("[trust.rules.rule.velocity]\non = [\"teleport\"]\n");
        assert!(err.contains("no action `teleport`"), "{err}");
        let err = load_file("", &[("PAYBOT_TRUST__RULES__RULE__VELOCITY__MAX", "0")]).unwrap_err();
        assert!(err.contains("PAYBOT_TRUST__RULES__RULE__VELOCITY"), "{err}");
    }
}
