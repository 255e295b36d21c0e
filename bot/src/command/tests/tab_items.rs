//! Itemised expenses in the grammar: `for MEMO: ITEM, ..., rest [...]`
//! and `items: ...`, what each refusal says, and (a property) every
//! itemised expense written the canonical way parses back to itself.

use proptest::prelude::*;

use super::*;

fn itemised(
    total: Amount,
    items: Vec<ExpenseItem>,
    rest: ItemRest,
    memo_text: Option<&str>,
) -> Command {
    Command::Expense {
        total,
        shares: ExpenseShares::Itemised { items, rest },
        payers: vec![],
        memo: memo_text.and_then(memo),
        recurrence: None,
    }
}

fn item(targets: &[&str], amount: Amount, what: Option<&str>) -> ExpenseItem {
    ExpenseItem {
        targets: targets.iter().map(|t| handle(t)).collect(),
        amount,
        memo: what.and_then(memo),
    }
}

#[test]
fn itemised_expenses_parse() {
    parses(&[
        (
            "/expense 60 for dinner: @bob 18 pizza, @carol @dave 12.50 wine, rest",
            itemised(
                usd(6_000),
                vec![
                    item(&["@bob"], usd(1_800), Some("pizza")),
                    item(&["@carol", "@dave"], usd(1_250), Some("wine")),
                ],
                ItemRest::Group,
                Some("dinner"),
            ),
        ),
        (
            // No `rest`: the group shares it, as `/expense 60` would.
            "/expense 60 for dinner:@bob $18",
            itemised(
                usd(6_000),
                vec![item(&["@bob"], usd(1_800), None)],
                ItemRest::Group,
                Some("dinner"),
            ),
        ),
        (
            "/expense 60 items: @bob 18 pizza, rest shared @a @b,",
            itemised(
                usd(6_000),
                vec![item(&["@bob"], usd(1_800), Some("pizza"))],
                ItemRest::Among(vec![handle("@a"), handle("@b")]),
                None,
            ),
        ),
        (
            "/expense 60 split @a @b for cab: @bob 18",
            itemised(
                usd(6_000),
                vec![item(&["@bob"], usd(1_800), None)],
                ItemRest::Among(vec![handle("@a"), handle("@b")]),
                Some("cab"),
            ),
        ),
        (
            "/expense 6000 JPY for sushi: rest @a, @bob 1000 uni",
            itemised(
                money(6_000, Currency::JPY),
                vec![item(&["@bob"], money(1_000, Currency::JPY), Some("uni"))],
                ItemRest::Among(vec![handle("@a")]),
                Some("sushi"),
            ),
        ),
        // A comma between digits is the amount's own.
        (
            "/expense 2000 for flat: @bob 1,200.50 rent,@carol 300 power",
            itemised(
                usd(200_000),
                vec![
                    item(&["@bob"], usd(120_050), Some("rent")),
                    item(&["@carol"], usd(30_000), Some("power")),
                ],
                ItemRest::Group,
                Some("flat"),
            ),
        ),
        // A colon that starts no item is the memo's own.
        (
            "/expense 60 for trip: day 2",
            Command::Expense {
                total: usd(6_000),
                shares: ExpenseShares::Group,
                payers: vec![],
                memo: memo("trip: day 2"),
                recurrence: None,
            },
        ),
    ]);
    let Command::Expense { payers, .. } =
        ok("/expense 60 paid by @alice for dinner: @bob 18 pizza")
    else {
        panic!("not an expense");
    };
    assert_eq!(payers.len(), 1);
}

#[test]
fn bad_itemised_expenses_are_refused_clearly() {
    problems(&[
        (
            "/expense 60 for dinner: @bob pizza",
            UsageProblem::ItemWithoutAmount("@bob".to_owned()),
        ),
        (
            "/expense 60 for dinner: @bob 18, pizza 12",
            UsageProblem::ItemWithoutPerson("pizza".to_owned()),
        ),
        (
            "/expense 60 for dinner: @bob 18, @bob carol 12",
            UsageProblem::BareHandle("carol".to_owned()),
        ),
        (
            "/expense 60 for dinner: @bob @bob 18",
            UsageProblem::DuplicateParticipant("@bob".to_owned()),
        ),
        (
            "/expense 60 for dinner: @bob 18, rest, rest @a",
            UsageProblem::RestTwice,
        ),
        (
            "/expense 60 @a @b for dinner: @bob 18, rest @c",
            UsageProblem::RestTwice,
        ),
        ("/expense 60 for dinner: rest", UsageProblem::NoItems),
        (
            "/expense 60 @a:20 @b for dinner: @bob 18",
            UsageProblem::MixedShareForms,
        ),
        (
            "/expense 60 for dinner: @bob 18, rest @a extra",
            UsageProblem::Unexpected("extra".to_owned()),
        ),
        (
            "/expense 60 for dinner: @bob 0 pizza",
            UsageProblem::Amount(AmountError::NotPositive),
        ),
        (
            "/expense 60 items: @bob 18eur pizza",
            UsageProblem::ShareCurrency {
                target: "@bob".to_owned(),
                share: Currency::EUR,
                total: Currency::USD,
            },
        ),
    ]);
    let many: String = (0..=EXPENSE_ITEMS_MAX)
        .map(|i| format!("@u{i} 1, "))
        .collect();
    assert_eq!(
        problem(&format!("/expense 60 items: {many}")),
        UsageProblem::TooManyItems
    );
    // Each refusal is one friendly line naming the form.
    assert!(
        err("/expense 60 for dinner: @bob pizza")
            .to_string()
            .contains("@bob 18 pizza")
    );
}

/// An itemised expense as the grammar's canonical text.
fn render(total: Amount, items: &[ExpenseItem], rest: &ItemRest, memo: Option<&Memo>) -> String {
    let mut text = format!("/expense {}{}", total.to_decimal(), total.currency().code());
    match memo {
        Some(memo) => text.push_str(&format!(" for {memo}:")),
        None => text.push_str(" items:"),
    }
    for item in items {
        for target in &item.targets {
            text.push_str(&format!(" {target}"));
        }
        text.push_str(&format!(
            " {}{}",
            item.amount.to_decimal(),
            item.amount.currency().code()
        ));
        if let Some(what) = &item.memo {
            text.push_str(&format!(" {what}"));
        }
        text.push(',');
    }
    text.push_str(" rest");
    if let ItemRest::Among(targets) = rest {
        for target in targets {
            text.push_str(&format!(" {target}"));
        }
    }
    text
}

proptest! {
    #[test]
    fn itemised_expenses_parse_back_to_themselves(
        total in 1..10_000_000_i64,
        raw in prop::collection::vec(
            (prop::collection::btree_set(0..30_u32, 1..4), 1..1_000_000_i64, prop::option::of("[a-z]{1,8}( [a-z]{1,8})?")),
            1..=EXPENSE_ITEMS_MAX,
        ),
        rest in prop::option::of(prop::collection::btree_set(0..30_u32, 1..4)),
        memo_text in prop::option::of("[a-z]{1,10}"),
    ) {
        let who = |n: &u32| handle(&format!("@u{n}"));
        let items: Vec<ExpenseItem> = raw
            .iter()
            .map(|(people, amount, what)| ExpenseItem {
                targets: people.iter().map(who).collect(),
                amount: usd(*amount),
                memo: what.as_deref().and_then(memo),
            })
            .collect();
        let rest = match rest {
            Some(people) => ItemRest::Among(people.iter().map(who).collect()),
            None => ItemRest::Group,
        };
        let memo = memo_text.as_deref().and_then(memo);
        let text = render(usd(total), &items, &rest, memo.as_ref());
        let expected = Command::Expense {
            total: usd(total),
            shares: ExpenseShares::Itemised { items, rest },
            payers: vec![],
            memo,
            recurrence: None,
        };
        prop_assert_eq!(ok(&text), expected, "{}", text);
    }
}
