//! The group tab in the grammar: `/expense` in each share form, with
//! payers and a memo, `/expense undo`, and `/tab`.

use super::*;

fn expense(
    total: Amount,
    shares: ExpenseShares,
    payers: Vec<ExpensePayer>,
    memo_text: Option<&str>,
) -> Command {
    Command::Expense {
        total,
        shares,
        payers,
        memo: memo_text.and_then(memo),
        recurrence: None,
    }
}

fn payer(target: &str, amount: Option<Amount>) -> ExpensePayer {
    ExpensePayer {
        target: handle(target),
        amount,
    }
}

#[test]
fn every_share_form_parses() {
    parses(&[
        (
            "/expense 60 for dinner",
            expense(usd(6_000), ExpenseShares::Group, vec![], Some("dinner")),
        ),
        (
            "/expense 60 split @a @b for x",
            expense(
                usd(6_000),
                ExpenseShares::Among(vec![handle("@a"), handle("@b")]),
                vec![],
                Some("x"),
            ),
        ),
        (
            "/expense 60 @a @b",
            expense(
                usd(6_000),
                ExpenseShares::Among(vec![handle("@a"), handle("@b")]),
                vec![],
                None,
            ),
        ),
        (
            "/expense 60 @a:20 @b:40",
            expense(
                usd(6_000),
                ExpenseShares::Exact(vec![
                    (handle("@a"), Some(usd(2_000))),
                    (handle("@b"), Some(usd(4_000))),
                ]),
                vec![],
                None,
            ),
        ),
        (
            "/expense 60 EUR @a:20 @b",
            expense(
                money(6_000, Currency::EUR),
                ExpenseShares::Exact(vec![
                    (handle("@a"), Some(money(2_000, Currency::EUR))),
                    (handle("@b"), None),
                ]),
                vec![],
                None,
            ),
        ),
        (
            "/expense 60 @a:2 @b:1 shares for cab",
            expense(
                usd(6_000),
                ExpenseShares::Weights(vec![(handle("@a"), 2), (handle("@b"), 1)]),
                vec![],
                Some("cab"),
            ),
        ),
        (
            "/expense 60 @a:50% @b:12.5% @c:37.50%",
            expense(
                usd(6_000),
                ExpenseShares::Percents(vec![
                    (handle("@a"), 5_000),
                    (handle("@b"), 1_250),
                    (handle("@c"), 3_750),
                ]),
                vec![],
                None,
            ),
        ),
        (
            "/EXPENSE@PayBot 60 paid by @alice:30 @bob:30 for rent",
            expense(
                usd(6_000),
                ExpenseShares::Group,
                vec![
                    payer("@alice", Some(usd(3_000))),
                    payer("@bob", Some(usd(3_000))),
                ],
                Some("rent"),
            ),
        ),
        (
            "/expense 60 split @a @b paid by @b",
            expense(
                usd(6_000),
                ExpenseShares::Among(vec![handle("@a"), handle("@b")]),
                vec![payer("@b", None)],
                None,
            ),
        ),
        (
            "/expense undo e7k2qx",
            Command::ExpenseUndo {
                expense: short_ref("E7K2QX"),
            },
        ),
        (
            "/tab",
            Command::Tab {
                view: TabView::Simplified,
            },
        ),
        (
            "/tab history",
            Command::Tab {
                view: TabView::History,
            },
        ),
        (
            "/tab @bob",
            Command::Tab {
                view: TabView::Member(handle("@bob")),
            },
        ),
    ]);
}

#[test]
fn bad_expenses_are_refused_clearly() {
    problems(&[
        ("/expense", UsageProblem::MissingAmount),
        ("/expense @a 60", UsageProblem::TotalFirst),
        ("/expense 0", UsageProblem::Amount(AmountError::NotPositive)),
        (
            "/expense -5",
            UsageProblem::Amount(AmountError::NotPositive),
        ),
        ("/expense 60 split", UsageProblem::NoParticipants),
        ("/expense 60 split @a:20", UsageProblem::MixedShareForms),
        ("/expense 60 @a:20 @b:50%", UsageProblem::MixedShareForms),
        ("/expense 60 @a:2 @b shares", UsageProblem::MixedShareForms),
        ("/expense 60 @a @b shares", UsageProblem::MixedShareForms),
        (
            "/expense 60 @a:2.5 @b:1 shares",
            UsageProblem::InvalidWeight("2.5".to_owned()),
        ),
        (
            "/expense 60 @a:0 @b:1 shares",
            UsageProblem::InvalidWeight("0".to_owned()),
        ),
        (
            "/expense 60 @a:150% @b:50%",
            UsageProblem::InvalidPercent("150%".to_owned()),
        ),
        (
            "/expense 60 @a:0% @b:100%",
            UsageProblem::InvalidPercent("0%".to_owned()),
        ),
        (
            "/expense 60 @a:33.333% @b:50%",
            UsageProblem::InvalidPercent("33.333%".to_owned()),
        ),
        (
            "/expense 60 @a @a",
            UsageProblem::DuplicateParticipant("@a".to_owned()),
        ),
        ("/expense 60 paid @a", UsageProblem::PaidWithoutBy),
        ("/expense 60 paid by", UsageProblem::MissingTarget),
        (
            "/expense 60 paid by @a @a",
            UsageProblem::DuplicateParticipant("@a".to_owned()),
        ),
        (
            "/expense 60 @a: @b",
            UsageProblem::ShareMissingAmount("@a".to_owned()),
        ),
        ("/expense 60 bob", UsageProblem::BareWord("bob".to_owned())),
        (
            "/expense 60 XYZ",
            UsageProblem::UnknownCurrency("XYZ".to_owned()),
        ),
        ("/expense undo", UsageProblem::MissingRef),
        ("/tab bob", UsageProblem::BareHandle("bob".to_owned())),
        ("/tab 12", UsageProblem::TabSubcommand),
        (
            "/tab @bob extra",
            UsageProblem::Leftover("extra".to_owned()),
        ),
    ]);
    let many: String = (0..=EXPENSE_PARTICIPANTS_MAX)
        .map(|i| format!(" @u{i}"))
        .collect();
    assert_eq!(
        problem(&format!("/expense 60{many}")),
        UsageProblem::TooManySharing
    );
    let payers: String = (0..=EXPENSE_PAYERS_MAX)
        .map(|i| format!(" @p{i}"))
        .collect();
    assert_eq!(
        problem(&format!("/expense 60 paid by{payers}")),
        UsageProblem::TooManyPayers
    );
    assert_eq!(
        problem("/expense 60 @a:20eur @b"),
        UsageProblem::ShareCurrency {
            target: "@a".to_owned(),
            share: Currency::EUR,
            total: Currency::USD
        }
    );
}

#[test]
fn settle_parses_each_form() {
    let settle = |creditor: Option<&str>, amount: Option<Amount>, cash: bool| Command::Settle {
        creditor: creditor.map(handle),
        amount,
        cash,
    };
    parses(&[
        ("/settle", settle(None, None, false)),
        ("/settle @alice", settle(Some("alice"), None, false)),
        (
            "/settle @alice 20",
            settle(Some("alice"), Some(usd(2000)), false),
        ),
        (
            "/settle @Alice $20.50",
            settle(Some("alice"), Some(usd(2050)), false),
        ),
        (
            "/settle @alice 20 eur cash",
            settle(Some("alice"), Some(money(2000, Currency::EUR)), true),
        ),
        (
            "/settle @alice 20 CASH",
            settle(Some("alice"), Some(usd(2000)), true),
        ),
        (
            "/settle confirm T7K2QX",
            Command::SettleAnswer {
                settlement: short_ref("T7K2QX"),
                accept: true,
            },
        ),
        (
            "/settle reject T7K2QX",
            Command::SettleAnswer {
                settlement: short_ref("T7K2QX"),
                accept: false,
            },
        ),
        (
            "/settle cancel T7K2QX",
            Command::SettleCancel {
                settlement: short_ref("T7K2QX"),
            },
        ),
        (
            "/settle CANCEL t7k2qx",
            Command::SettleCancel {
                settlement: short_ref("T7K2QX"),
            },
        ),
    ]);
    problems(&[
        ("/settle @alice cash", UsageProblem::CashWithoutAmount),
        ("/settle alice 20", UsageProblem::BareHandle("alice".into())),
        ("/settle confirm", UsageProblem::MissingRef),
        ("/settle cancel", UsageProblem::MissingRef),
        ("/settle 20", UsageProblem::MissingTarget),
        (
            "/settle @alice 20 cash now",
            UsageProblem::Leftover("now".into()),
        ),
    ]);
}

#[test]
fn tab_export_and_expense_edit_parse() {
    parses(&[
        (
            "/tab export",
            Command::Tab {
                view: TabView::Export,
            },
        ),
        (
            "/expense edit E7K2QX 80",
            Command::ExpenseEdit {
                expense: short_ref("E7K2QX"),
                total: usd(8000),
                memo: None,
            },
        ),
        (
            "/expense edit E7K2QX 80 for dinner and wine",
            Command::ExpenseEdit {
                expense: short_ref("E7K2QX"),
                total: usd(8000),
                memo: memo("dinner and wine"),
            },
        ),
    ]);
    problems(&[
        ("/expense edit", UsageProblem::MissingRef),
        ("/expense edit E7K2QX", UsageProblem::MissingAmount),
        (
            "/expense edit E7K2QX 80 now",
            UsageProblem::Leftover("now".into()),
        ),
    ]);
}

#[test]
fn recurring_expenses_parse() {
    let every = |text: &str| Some(crate::recurrence::Recurrence::parse(text).unwrap());
    parses(&[
        (
            "/expense 1200 split @a @b every month on the 1st for rent",
            Command::Expense {
                total: usd(120_000),
                shares: ExpenseShares::Among(vec![handle("@a"), handle("@b")]),
                payers: vec![],
                memo: memo("rent"),
                recurrence: every("every month on the 1st"),
            },
        ),
        (
            "/expense 1200 monthly @a @b paid by @b for rent",
            Command::Expense {
                total: usd(120_000),
                shares: ExpenseShares::Among(vec![handle("@a"), handle("@b")]),
                payers: vec![payer("@b", None)],
                memo: memo("rent"),
                recurrence: every("monthly"),
            },
        ),
        (
            "/expense 30 every week times 4",
            Command::Expense {
                total: usd(3_000),
                shares: ExpenseShares::Group,
                payers: vec![],
                memo: None,
                recurrence: every("every week times 4"),
            },
        ),
        ("/expense recurring", Command::ExpenseRecurring),
        (
            "/expense stop g7k2qx",
            Command::ExpenseStop {
                recurring: short_ref("G7K2QX"),
            },
        ),
    ]);
    assert!(matches!(
        problem("/expense 10 every fortnight"),
        UsageProblem::Schedule(_)
    ));
    assert_eq!(
        problem("/expense 10 monthly @a weekly"),
        UsageProblem::Unexpected("weekly".to_owned())
    );
    assert_eq!(problem("/expense stop"), UsageProblem::MissingRef);
    assert_eq!(
        problem("/expense recurring now"),
        UsageProblem::Leftover("now".to_owned())
    );
}
