//! Standing orders in the grammar: a schedule phrase between the amount and
//! `for MEMO` makes `/pay` a standing order; `/tz` and `/scheduled`.

use super::*;
use crate::recurrence::{Recurrence, RecurrenceError, UserTimeZone};

fn scheduled(payee: &str, amount: Amount, rule: &str, memo_text: Option<&str>) -> Command {
    Command::PayScheduled {
        payee: handle(payee),
        amount,
        recurrence: Recurrence::parse(rule).unwrap(),
        memo: memo_text.and_then(memo),
    }
}

#[test]
fn a_schedule_after_the_amount_makes_a_standing_order() {
    parses(&[
        (
            "/pay @landlord 500 every month on the 1st for rent",
            scheduled(
                "@landlord",
                usd(50_000),
                "every month on the 1st",
                Some("rent"),
            ),
        ),
        (
            "/pay @bob 20 EUR every 2 weeks until 2027-06-30",
            scheduled(
                "@bob",
                money(2_000, Currency::EUR),
                "every 2 weeks until 2027-06-30",
                None,
            ),
        ),
        (
            "/send@PayBot  @bob  5  Weekly  times 4 for gym",
            scheduled("@bob", usd(500), "weekly times 4", Some("gym")),
        ),
        (
            "/pay @bob 5 every friday",
            scheduled("@bob", usd(500), "every week on friday", None),
        ),
        (
            "/pay @bob 5 every day for every day",
            scheduled("@bob", usd(500), "every day", Some("every day")),
        ),
    ]);
}

#[test]
fn a_memo_that_reads_like_a_schedule_stays_a_memo() {
    parses(&[(
        "/pay @bob 20 for every day",
        pay(Some(handle("@bob")), usd(2_000), memo("every day")),
    )]);
}

#[test]
fn a_schedule_that_does_not_parse_says_why() {
    problems(&[
        ("/pay 20 every day", UsageProblem::MissingTarget),
        (
            "/pay @bob 20 every fortnight",
            UsageProblem::Schedule(RecurrenceError::UnexpectedWord("fortnight".to_owned())),
        ),
        (
            "/pay @bob 20 every month on the 32nd",
            UsageProblem::Schedule(RecurrenceError::DayOfMonth("32nd".to_owned())),
        ),
        (
            "/pay @bob 20 every day until 2027-6-30",
            UsageProblem::Schedule(RecurrenceError::Date("2027-6-30".to_owned())),
        ),
        (
            "/pay @bob 20 every day until 2027-06-30 times 3",
            UsageProblem::Schedule(RecurrenceError::TwoEnds),
        ),
    ]);
    errors_start(&[(
        "/pay @bob 20 every fortnight",
        "`fortnight` is not something I understand in a schedule",
    )]);
}

#[test]
fn tz_shows_or_sets_a_named_zone() {
    parses(&[
        ("/tz", Command::TimeZone { zone: None }),
        (
            "/tz Europe/Paris",
            Command::TimeZone {
                zone: Some(UserTimeZone::parse("Europe/Paris").unwrap()),
            },
        ),
    ]);
    problems(&[(
        "/tz Nowhere/Else",
        UsageProblem::Schedule(RecurrenceError::TimeZone("Nowhere/Else".to_owned())),
    )]);
}

#[test]
fn scheduled_lists_or_changes_one_order() {
    parses(&[
        ("/scheduled", Command::Scheduled { action: None }),
        (
            "/scheduled pause OABC234",
            Command::Scheduled {
                action: Some((StandingAction::Pause, short_ref("OABC234"))),
            },
        ),
        (
            "/scheduled RESUME OABC234",
            Command::Scheduled {
                action: Some((StandingAction::Resume, short_ref("OABC234"))),
            },
        ),
        (
            "/scheduled stop OABC234",
            Command::Scheduled {
                action: Some((StandingAction::Cancel, short_ref("OABC234"))),
            },
        ),
        (
            "/scheduled skip OABC234",
            Command::Scheduled {
                action: Some((StandingAction::Skip { due: None }, short_ref("OABC234"))),
            },
        ),
    ]);
    // A run's date, with or without `on` (what paybot writes).
    let due = crate::recurrence::parse_iso_date("2027-01-01");
    assert!(due.is_some());
    for text in [
        "/scheduled skip OABC234 2027-01-01",
        "/scheduled skip OABC234 on 2027-01-01",
        "/scheduled skip OABC234 ON 2027-01-01",
    ] {
        parses(&[(
            text,
            Command::Scheduled {
                action: Some((StandingAction::Skip { due }, short_ref("OABC234"))),
            },
        )]);
    }
    for text in [
        "/scheduled skip OABC234 on",
        "/scheduled skip OABC234 on tuesday",
        "/scheduled pause OABC234 on 2027-01-01",
    ] {
        assert!(parse(text, &CTX).is_err(), "{text}");
    }
    problems(&[
        ("/scheduled pause", UsageProblem::MissingRef),
        (
            "/scheduled delete OABC234",
            UsageProblem::ScheduledSubcommand,
        ),
    ]);
}
