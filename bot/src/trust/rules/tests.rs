use super::*;

const NOW: i64 = 1_767_225_600_000; // 2026-01-01 00:00 UTC
const MIN: i64 = MS_PER_MINUTE;
const HOUR: i64 = MS_PER_HOUR;
const DAY: i64 = MS_PER_DAY;
const ALICE: UserId = UserId(1);
const BOB: UserId = UserId(2);

fn usd(major: i64) -> Amount {
    Amount::from_minor(major * 100, Currency::USD).unwrap()
}

fn usd_minor(minor: i64) -> Amount {
    Amount::from_minor(minor, Currency::USD).unwrap()
}

fn figures(amounts: &[Amount]) -> PerCurrency {
    PerCurrency::new(amounts.to_vec()).unwrap()
}

fn rule(name: &str, condition: Condition, action: Verdict, on: &[ActionKind]) -> Rule {
    Rule::new(RuleName::new(name).unwrap(), condition, action, on.to_vec()).unwrap()
}

fn policy(rules: Vec<Rule>) -> RulesPolicy {
    RulesPolicy::new(rules).unwrap()
}

fn pay(amount: Amount, payee: Option<UserId>) -> TrustAction {
    TrustAction::Payment {
        payer: ALICE,
        payee,
        amount,
    }
}

fn cashout(amount: Amount, card_added_at_ms: i64) -> TrustAction {
    TrustAction::CashOut {
        user: ALICE,
        amount,
        card_added_at_ms,
    }
}

fn facts() -> Facts {
    Facts {
        now_ms: NOW,
        ..Facts::default()
    }
}

fn paid(ago_ms: i64, amount: Amount) -> PastPayment {
    PastPayment {
        at_ms: NOW - ago_ms,
        amount,
        payee: Some(BOB),
    }
}

fn verdict(policy: &RulesPolicy, action: &TrustAction, facts: &Facts) -> Verdict {
    evaluate(policy, action, facts).verdict
}

fn velocity(max: u32) -> RulesPolicy {
    policy(vec![rule(
        "velocity",
        Condition::PaymentsPerHour { max },
        Verdict::Refuse,
        &[ActionKind::Payment],
    )])
}

#[test]
fn velocity_fires_on_the_payment_above_the_max_within_the_hour() {
    let p = velocity(3);
    let action = pay(usd(1), Some(BOB));
    let mut f = facts();
    f.payments = vec![paid(MIN, usd(1)), paid(10 * MIN, usd(1))];
    assert_eq!(verdict(&p, &action, &f), Verdict::Allow, "third payment");
    f.payments.push(paid(59 * MIN, usd(1)));
    let result = evaluate(&p, &action, &f);
    assert_eq!(result.verdict, Verdict::Refuse, "fourth payment");
    let fired = result.deciding().unwrap();
    assert_eq!(fired.rule, "velocity");
    assert_eq!(fired.inputs["payments_last_hour"], 3);
    assert_eq!(fired.inputs["max"], 3);
    // Free again when the oldest of the three leaves the hour.
    assert_eq!(fired.inputs["retry_at_ms"], NOW - 59 * MIN + HOUR);
}

#[test]
fn velocity_forgets_payments_an_hour_old() {
    let p = velocity(2);
    let action = pay(usd(1), Some(BOB));
    let mut f = facts();
    f.payments = vec![paid(MIN, usd(1)), paid(HOUR, usd(1))];
    assert_eq!(verdict(&p, &action, &f), Verdict::Allow);
    f.payments[1] = paid(HOUR - 1, usd(1));
    assert_eq!(verdict(&p, &action, &f), Verdict::Refuse);
}

#[test]
fn first_payment_to_a_new_payee_above_the_figure() {
    let p = policy(vec![rule(
        "new_payee",
        Condition::FirstPaymentToPayee {
            above: figures(&[usd(200)]),
        },
        Verdict::SecondFactor,
        &[ActionKind::Payment],
    )]);
    let f = facts();
    assert_eq!(
        verdict(&p, &pay(usd(200), Some(BOB)), &f),
        Verdict::Allow,
        "exactly the figure is not above it"
    );
    let result = evaluate(&p, &pay(usd_minor(20_001), Some(BOB)), &f);
    assert_eq!(result.verdict, Verdict::SecondFactor);
    assert_eq!(result.fired[0].inputs["amount"], "200.01 USD");
    assert_eq!(result.fired[0].inputs["above"], "200.00 USD");
    assert_eq!(result.fired[0].inputs["payee"], 2);
    // Someone paid before.
    let mut known = facts();
    known.paid_before = true;
    assert_eq!(
        verdict(&p, &pay(usd(500), Some(BOB)), &known),
        Verdict::Allow
    );
    // Someone not yet on paybot (escrow) is a new payee.
    assert_eq!(
        verdict(&p, &pay(usd(500), None), &known),
        Verdict::SecondFactor
    );
    // No figure for euros: the rule does not fire.
    let eur = Amount::from_minor(1_000_000, Currency::EUR).unwrap();
    assert_eq!(verdict(&p, &pay(eur, Some(BOB)), &f), Verdict::Allow);
}

#[test]
fn a_new_account_sending_or_cashing_out_above_the_figure() {
    let p = policy(vec![rule(
        "new_account",
        Condition::NewAccount {
            younger_than_days: 7,
            above: figures(&[usd(100)]),
        },
        Verdict::Hold,
        &[ActionKind::Payment, ActionKind::CashOut],
    )]);
    let mut f = facts();
    f.account_since_ms = Some(NOW - 7 * DAY + 1);
    let out = cashout(usd(101), 0);
    assert_eq!(verdict(&p, &out, &f), Verdict::Hold);
    assert_eq!(verdict(&p, &pay(usd(101), Some(BOB)), &f), Verdict::Hold);
    assert_eq!(verdict(&p, &cashout(usd(100), 0), &f), Verdict::Allow);
    let fired = evaluate(&p, &out, &f).fired.remove(0);
    assert_eq!(fired.inputs["account_age_hours"], 7 * 24 - 1);
    assert_eq!(fired.inputs["younger_than_days"], 7);
    // Seven days old: no longer new.
    f.account_since_ms = Some(NOW - 7 * DAY);
    assert_eq!(verdict(&p, &out, &f), Verdict::Allow);
    // Unknown age: does not fire.
    f.account_since_ms = None;
    assert_eq!(verdict(&p, &out, &f), Verdict::Allow);
}

fn received(ago_ms: i64, amount: Amount) -> Received {
    Received {
        at_ms: NOW - ago_ms,
        amount,
    }
}

#[test]
fn pass_through_is_a_cash_out_of_most_of_what_just_came_in() {
    let p = policy(vec![rule(
        "pass_through",
        Condition::PassThrough {
            within_mins: 30,
            percent: 80,
            received_at_least: figures(&[usd(50)]),
        },
        Verdict::Hold,
        &[ActionKind::CashOut],
    )]);
    let mut f = facts();
    f.received = vec![received(5 * MIN, usd(60)), received(29 * MIN, usd(40))];
    // 80% of 100.00 is 80.00.
    assert_eq!(verdict(&p, &cashout(usd(80), 0), &f), Verdict::Hold);
    assert_eq!(
        verdict(&p, &cashout(usd_minor(7_999), 0), &f),
        Verdict::Allow
    );
    let fired = evaluate(&p, &cashout(usd(80), 0), &f).fired.remove(0);
    assert_eq!(fired.inputs["received"], "100.00 USD");
    // What came in 30 minutes ago is out of the window: 60 received.
    f.received[1] = received(30 * MIN, usd(40));
    assert_eq!(verdict(&p, &cashout(usd(48), 0), &f), Verdict::Hold);
    // Less than the least that counts came in.
    f.received = vec![received(MIN, usd_minor(4_999))];
    assert_eq!(verdict(&p, &cashout(usd(50), 0), &f), Verdict::Allow);
    f.received = vec![received(MIN, usd(50))];
    assert_eq!(verdict(&p, &cashout(usd(50), 0), &f), Verdict::Hold);
    // Nothing came in.
    f.received.clear();
    assert_eq!(verdict(&p, &cashout(usd(50), 0), &f), Verdict::Allow);
}

#[test]
fn structuring_is_several_payments_just_under_the_threshold() {
    let p = policy(vec![rule(
        "structuring",
        Condition::Structuring {
            count: 3,
            within_percent: 10,
            threshold: figures(&[usd(1_000)]),
        },
        Verdict::Hold,
        &[ActionKind::Payment],
    )]);
    let mut f = facts();
    f.payments = vec![paid(HOUR, usd(950)), paid(23 * HOUR, usd(900))];
    // 900.00 to 999.99 is just under 1,000.00.
    assert_eq!(verdict(&p, &pay(usd(900), Some(BOB)), &f), Verdict::Hold);
    assert_eq!(
        verdict(&p, &pay(usd_minor(99_999), Some(BOB)), &f),
        Verdict::Hold
    );
    assert_eq!(
        verdict(&p, &pay(usd_minor(89_999), Some(BOB)), &f),
        Verdict::Allow,
        "below the band"
    );
    assert_eq!(
        verdict(&p, &pay(usd(1_000), Some(BOB)), &f),
        Verdict::Allow,
        "at the threshold is not under it"
    );
    let fired = evaluate(&p, &pay(usd(990), Some(BOB)), &f).fired.remove(0);
    assert_eq!(fired.inputs["payments_just_under_24h"], 3);
    // An earlier payment outside the band or older than 24 h does not count.
    f.payments = vec![paid(HOUR, usd(950)), paid(24 * HOUR, usd(900))];
    assert_eq!(verdict(&p, &pay(usd(950), Some(BOB)), &f), Verdict::Allow);
    f.payments = vec![paid(HOUR, usd(950)), paid(2 * HOUR, usd(500))];
    assert_eq!(verdict(&p, &pay(usd(950), Some(BOB)), &f), Verdict::Allow);
}

fn new_payee(payee: i64, ago_ms: i64) -> NewPayee {
    NewPayee {
        payee: UserId(payee),
        first_paid_at_ms: NOW - ago_ms,
    }
}

#[test]
fn a_burst_of_new_payees() {
    let p = policy(vec![rule(
        "new_payees",
        Condition::NewPayeesBurst {
            count: 3,
            within_hours: 1,
        },
        Verdict::SecondFactor,
        &[ActionKind::Payment],
    )]);
    let mut f = facts();
    f.new_payees = vec![new_payee(10, MIN), new_payee(11, 59 * MIN)];
    let to_carol = pay(usd(1), Some(UserId(12)));
    let result = evaluate(&p, &to_carol, &f);
    assert_eq!(result.verdict, Verdict::SecondFactor);
    assert_eq!(result.fired[0].inputs["new_payees"], 3);
    // A payee paid before is no burst.
    f.paid_before = true;
    assert_eq!(verdict(&p, &to_carol, &f), Verdict::Allow);
    f.paid_before = false;
    // One of the two was first paid an hour ago: two new payees in the hour.
    f.new_payees[1] = new_payee(11, HOUR);
    assert_eq!(verdict(&p, &to_carol, &f), Verdict::Allow);
    // The same payee twice counts once.
    f.new_payees = vec![new_payee(10, MIN), new_payee(10, 2 * MIN)];
    assert_eq!(verdict(&p, &to_carol, &f), Verdict::Allow);
}

#[test]
fn a_cash_out_to_a_card_linked_recently() {
    let p = policy(vec![rule(
        "new_card",
        Condition::NewCard { within_hours: 24 },
        Verdict::Refuse,
        &[ActionKind::CashOut],
    )]);
    let f = facts();
    let result = evaluate(&p, &cashout(usd(10), NOW - DAY + 1), &f);
    assert_eq!(result.verdict, Verdict::Refuse);
    assert_eq!(result.fired[0].inputs["possible_from_ms"], NOW + 1);
    assert_eq!(result.fired[0].inputs["card_added_at_ms"], NOW - DAY + 1);
    assert_eq!(
        verdict(&p, &cashout(usd(10), NOW - DAY), &f),
        Verdict::Allow
    );
    assert_eq!(p.new_card_wait_secs(), 86_400);
    assert_eq!(RulesPolicy::default().new_card_wait_secs(), 0);
}

#[test]
fn the_strictest_action_wins_and_every_fired_rule_is_listed() {
    let p = policy(vec![
        rule(
            "watch",
            Condition::FirstPaymentToPayee {
                above: figures(&[usd(1)]),
            },
            Verdict::Allow,
            &[ActionKind::Payment],
        ),
        rule(
            "ask",
            Condition::FirstPaymentToPayee {
                above: figures(&[usd(10)]),
            },
            Verdict::SecondFactor,
            &[ActionKind::Payment],
        ),
        rule(
            "hold",
            Condition::Structuring {
                count: 2,
                within_percent: 10,
                threshold: figures(&[usd(100)]),
            },
            Verdict::Hold,
            &[ActionKind::Payment],
        ),
        rule(
            "velocity",
            Condition::PaymentsPerHour { max: 1 },
            Verdict::Refuse,
            &[ActionKind::Payment],
        ),
    ]);
    let mut f = facts();
    f.payments = vec![paid(MIN, usd(95))];
    let result = evaluate(&p, &pay(usd(95), Some(BOB)), &f);
    assert_eq!(result.verdict, Verdict::Refuse);
    let names: Vec<&str> = result.fired.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(names, ["watch", "ask", "hold", "velocity"]);
    assert_eq!(result.deciding().unwrap().rule, "velocity");
    // Without the velocity rule's trigger, the hold wins.
    f.payments = vec![paid(2 * HOUR, usd(95))];
    let result = evaluate(&p, &pay(usd(95), Some(BOB)), &f);
    assert_eq!(result.verdict, Verdict::Hold);
    assert_eq!(result.deciding().unwrap().rule, "hold");
    // Only the rule that watches: allowed, and still listed.
    let result = evaluate(&p, &pay(usd(2), Some(BOB)), &facts());
    assert_eq!(result.verdict, Verdict::Allow);
    assert_eq!(result.fired.len(), 1);
    assert_eq!(result.deciding(), None);
}

#[test]
fn a_rule_judges_only_the_actions_it_names() {
    let p = policy(vec![rule(
        "new_account_cashout",
        Condition::NewAccount {
            younger_than_days: 7,
            above: figures(&[usd(100)]),
        },
        Verdict::Hold,
        &[ActionKind::CashOut],
    )]);
    let mut f = facts();
    f.account_since_ms = Some(NOW);
    assert_eq!(verdict(&p, &pay(usd(500), Some(BOB)), &f), Verdict::Allow);
    assert_eq!(verdict(&p, &cashout(usd(500), 0), &f), Verdict::Hold);
    assert_eq!(
        verdict(&p, &TrustAction::CardAdd { user: ALICE }, &f),
        Verdict::Allow
    );
}

#[test]
fn needs_asks_only_for_what_a_rule_can_fire_on() {
    let p = policy(vec![
        rule(
            "velocity",
            Condition::PaymentsPerHour { max: 20 },
            Verdict::Refuse,
            &[ActionKind::Payment],
        ),
        rule(
            "first",
            Condition::FirstPaymentToPayee {
                above: figures(&[usd(200)]),
            },
            Verdict::SecondFactor,
            &[ActionKind::Payment],
        ),
        rule(
            "structuring",
            Condition::Structuring {
                count: 3,
                within_percent: 10,
                threshold: figures(&[usd(1_000)]),
            },
            Verdict::Hold,
            &[ActionKind::Payment],
        ),
        rule(
            "pass",
            Condition::PassThrough {
                within_mins: 30,
                percent: 80,
                received_at_least: figures(&[usd(50)]),
            },
            Verdict::Hold,
            &[ActionKind::CashOut],
        ),
        rule(
            "young",
            Condition::NewAccount {
                younger_than_days: 7,
                above: figures(&[usd(100)]),
            },
            Verdict::Hold,
            &[ActionKind::CashOut],
        ),
    ]);
    let small = p.needs(&pay(usd(5), Some(BOB)), NOW);
    assert_eq!(
        small,
        Needs {
            payments_since_ms: Some(NOW - HOUR),
            ..Needs::default()
        }
    );
    let under = p.needs(&pay(usd(950), Some(BOB)), NOW);
    assert_eq!(under.payments_since_ms, Some(NOW - 24 * HOUR));
    assert_eq!(under.paid_before, Some((ALICE, BOB)));
    assert!(!under.account_since);
    let out = p.needs(&cashout(usd(150), 0), NOW);
    assert_eq!(
        out,
        Needs {
            account_since: true,
            received: Some((Currency::USD, NOW - 30 * MIN)),
            ..Needs::default()
        }
    );
    let eur = Amount::from_minor(100_000, Currency::EUR).unwrap();
    assert_eq!(
        p.needs(&cashout(eur, 0), NOW),
        Needs::default(),
        "no figure for euros"
    );
}

#[test]
fn bad_rules_are_refused() {
    let name = || RuleName::new("r").unwrap();
    assert_eq!(
        Rule::new(
            name(),
            Condition::PaymentsPerHour { max: 0 },
            Verdict::Refuse,
            vec![ActionKind::Payment]
        )
        .unwrap_err()
        .to_string(),
        "`max` must be between 1 and 1000 payments an hour"
    );
    let err = Rule::new(
        name(),
        Condition::NewCard { within_hours: 24 },
        Verdict::Refuse,
        vec![ActionKind::Payment],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`on` lists payment, which new_card cannot judge; it judges: cashout"
    );
    assert_eq!(
        Rule::new(
            name(),
            Condition::NewCard { within_hours: 24 },
            Verdict::Refuse,
            vec![]
        )
        .unwrap_err(),
        RuleError::NothingJudged
    );
    let r = rule(
        "same",
        Condition::NewCard { within_hours: 1 },
        Verdict::Hold,
        &[ActionKind::CashOut],
    );
    assert_eq!(
        RulesPolicy::new(vec![r.clone(), r]).unwrap_err(),
        RuleError::DuplicateName("same".to_owned())
    );
    assert!(RuleName::new("Bad-Name").is_none());
    assert!(RuleName::new("").is_none());
    assert!(RuleName::new(&"a".repeat(RULE_NAME_BYTES_MAX + 1)).is_none());
    assert!(PerCurrency::new(vec![usd(1), usd(2)]).is_none());
}

#[test]
fn names_read_back() {
    for kind in ConditionKind::ALL {
        assert_eq!(ConditionKind::parse(kind.as_str()), Some(kind));
    }
    for kind in ActionKind::ALL {
        assert_eq!(ActionKind::parse(kind.as_str()), Some(kind));
    }
    let actions = [
        pay(usd(1), None),
        cashout(usd(1), 0),
        TrustAction::TopUp {
            user: ALICE,
            amount: usd(1),
        },
        TrustAction::CardAdd { user: ALICE },
        TrustAction::Link { user: ALICE },
    ];
    for action in actions {
        assert_eq!(ActionKind::of(&action).as_str(), action.name());
    }
}
