//! `/pay` to several people at once, and `/undo`.

use super::*;

fn leg(payee: Target, amount: Amount) -> PayLeg {
    PayLeg { payee, amount }
}

#[test]
fn pay_several_people_the_same_amount() {
    parses(&[
        (
            "/pay @bob @carol 5 each",
            Command::PayMany {
                legs: vec![leg(handle("bob"), usd(500)), leg(handle("carol"), usd(500))],
                memo: None,
            },
        ),
        (
            "/pay @bob <@123> @dave €2.50 EACH for lunch",
            Command::PayMany {
                legs: vec![
                    leg(handle("bob"), money(250, Currency::EUR)),
                    leg(id("123"), money(250, Currency::EUR)),
                    leg(handle("dave"), money(250, Currency::EUR)),
                ],
                memo: memo("lunch"),
            },
        ),
    ]);
}

#[test]
fn pay_several_people_each_their_amount() {
    parses(&[
        (
            "/pay @bob 5 @carol 7.50",
            Command::PayMany {
                legs: vec![leg(handle("bob"), usd(500)), leg(handle("carol"), usd(750))],
                memo: None,
            },
        ),
        // Later amounts take the first one's currency.
        (
            "/pay @bob 5 EUR @carol 7 for tickets",
            Command::PayMany {
                legs: vec![
                    leg(handle("bob"), money(500, Currency::EUR)),
                    leg(handle("carol"), money(700, Currency::EUR)),
                ],
                memo: memo("tickets"),
            },
        ),
    ]);
}

#[test]
fn one_payee_is_still_a_plain_payment() {
    parses(&[(
        "/pay @bob 5 for lunch",
        pay(Some(handle("bob")), usd(500), memo("lunch")),
    )]);
}

#[test]
fn several_payees_are_bounded_and_named_once() {
    let many: Vec<String> = (0..=PAY_PAYEES_MAX).map(|i| format!("@p{i}")).collect();
    problems(&[
        ("/pay @bob @carol 5", UsageProblem::MissingEach),
        ("/pay @bob @carol 5 all", UsageProblem::MissingEach),
        ("/pay @bob @carol", UsageProblem::MissingAmount),
        (
            "/pay @bob @bob 5 each",
            UsageProblem::DuplicateParticipant("@bob".into()),
        ),
        (
            "/pay @bob 5 @carol 2 @BOB 1",
            UsageProblem::DuplicateParticipant("@bob".into()),
        ),
        (
            &format!("/pay {} 1 each", many.join(" ")),
            UsageProblem::TooManyPayees,
        ),
        (
            "/pay @bob 5 EUR @carol 7 USD",
            UsageProblem::PayCurrencies {
                first: Currency::EUR,
                other: Currency::USD,
            },
        ),
        (
            "/pay @bob @carol 5 each pizza",
            UsageProblem::Unexpected("pizza".into()),
        ),
    ]);
    let exactly: Vec<String> = (0..PAY_PAYEES_MAX).map(|i| format!("@p{i}")).collect();
    assert!(matches!(
        ok(&format!("/pay {} 1 each", exactly.join(" "))),
        Command::PayMany { legs, .. } if legs.len() == PAY_PAYEES_MAX
    ));
    assert!(
        err("/pay @bob @carol 5")
            .to_string()
            .starts_with("Say `each` after the amount")
    );
}

#[test]
fn undo_with_or_without_a_reference() {
    parses(&[
        ("/undo", Command::Undo { payment: None }),
        (
            "/undo m7k2qx",
            Command::Undo {
                payment: Some(short_ref("M7K2QX")),
            },
        ),
    ]);
    problems(&[("/undo P7K2QX now", UsageProblem::Leftover("now".into()))]);
}
