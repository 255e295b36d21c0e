use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

#[test]
fn equal_shares_round_by_largest_remainder_in_order() {
    let a = split_shares(1000, &ShareRule::Equal(3)).unwrap();
    assert_eq!(a.shares, [334, 333, 333]);
    assert_eq!(a.rounded_up, [0]);
    let a = split_shares(1001, &ShareRule::Equal(3)).unwrap();
    assert_eq!(a.shares, [334, 334, 333]);
    assert_eq!(a.rounded_up, [0, 1]);
    let a = split_shares(900, &ShareRule::Equal(3)).unwrap();
    assert_eq!(a.shares, [300, 300, 300]);
    assert!(a.rounded_up.is_empty());
    // Tiny totals: some owe nothing, the sum is still exact.
    let a = split_shares(1, &ShareRule::Equal(3)).unwrap();
    assert_eq!(a.shares, [1, 0, 0]);
}

#[test]
fn weights_and_percents_go_to_the_largest_remainders() {
    // 100 in 2:1 is 66.67 / 33.33: the larger remainder (0.67) rounds up.
    let a = split_shares(100, &ShareRule::Weights(vec![2, 1])).unwrap();
    assert_eq!(a.shares, [67, 33]);
    assert_eq!(a.rounded_up, [0]);
    let a = split_shares(100, &ShareRule::Weights(vec![1, 2])).unwrap();
    assert_eq!(a.shares, [33, 67]);
    assert_eq!(a.rounded_up, [1]);
    let a = split_shares(1000, &ShareRule::Percents(vec![3333, 3333, 3334])).unwrap();
    assert_eq!(a.shares, [333, 333, 334]);
    let a = split_shares(101, &ShareRule::Percents(vec![5000, 5000])).unwrap();
    assert_eq!(a.shares, [51, 50]);
    assert_eq!(a.rounded_up, [0]);
}

#[test]
fn exact_shares_must_add_up() {
    let a = split_shares(6000, &ShareRule::Exact(vec![Some(2000), Some(4000)])).unwrap();
    assert_eq!(a.shares, [2000, 4000]);
    let a = split_shares(6001, &ShareRule::Exact(vec![Some(2000), None, None])).unwrap();
    assert_eq!(a.shares, [2000, 2001, 2000]);
    assert_eq!(a.rounded_up, [1]);
    assert_eq!(
        split_shares(6000, &ShareRule::Exact(vec![Some(2000), Some(3000)])),
        Err(TabError::ExactSharesMismatch {
            sum_minor: 5000,
            total_minor: 6000
        })
    );
    assert_eq!(
        split_shares(6000, &ShareRule::Exact(vec![Some(6000), None])),
        Err(TabError::ExactSharesMismatch {
            sum_minor: 6000,
            total_minor: 6000
        })
    );
    assert_eq!(
        split_shares(6000, &ShareRule::Exact(vec![Some(0), None])),
        Err(TabError::ShareNotPositive)
    );
}

#[test]
fn bad_input_is_refused() {
    assert_eq!(
        split_shares(100, &ShareRule::Equal(0)),
        Err(TabError::NoParticipants)
    );
    assert_eq!(
        split_shares(100, &ShareRule::Equal(EXPENSE_PARTICIPANTS_MAX + 1)),
        Err(TabError::TooManyParticipants {
            count: EXPENSE_PARTICIPANTS_MAX + 1
        })
    );
    assert_eq!(
        split_shares(0, &ShareRule::Equal(2)),
        Err(TabError::TotalNotPositive)
    );
    assert_eq!(
        split_shares(-5, &ShareRule::Equal(2)),
        Err(TabError::TotalNotPositive)
    );
    let error = split_shares(100, &ShareRule::Percents(vec![5000, 4050])).unwrap_err();
    assert_eq!(error.to_string(), "the percents add up to 90.5%, not 100%");
    assert_eq!(
        split_shares(100, &ShareRule::Weights(vec![0, 1])),
        Err(TabError::WeightOutOfRange)
    );
    assert_eq!(
        split_payers(100, &[Some(30), Some(30)]),
        Err(TabError::PaidMismatch {
            sum_minor: 60,
            total_minor: 100
        })
    );
    assert_eq!(
        split_payers(100, &[None; EXPENSE_PAYERS_MAX + 1]),
        Err(TabError::TooManyPayers {
            count: EXPENSE_PAYERS_MAX + 1
        })
    );
}

#[test]
fn the_largest_debtor_pays_the_largest_creditor() {
    // alice paid 90 for three: bob and carol owe 30 each.
    let nets = nets([
        ("alice", 90, 30),
        ("bob", 0, 30),
        ("carol", 0, 30),
        // bob paid 30 for bob and dave.
        ("bob", 30, 15),
        ("dave", 0, 15),
    ])
    .unwrap();
    assert_eq!(
        nets,
        BTreeMap::from([("alice", 60), ("bob", -15), ("carol", -30), ("dave", -15)])
    );
    let debts = simplify(&nets).unwrap();
    assert_eq!(
        debts,
        [
            Debt {
                from: "carol",
                to: "alice",
                amount_minor: 30
            },
            Debt {
                from: "bob",
                to: "alice",
                amount_minor: 15
            },
            Debt {
                from: "dave",
                to: "alice",
                amount_minor: 15
            },
        ]
    );
    assert_eq!(
        simplify(&BTreeMap::from([("a", 1), ("b", 0)])),
        Err(TabError::Unbalanced)
    );
}

#[test]
fn direct_debts_cancel_between_two_people() {
    let expenses = vec![
        vec![("alice", 100, 50), ("bob", 0, 50)],
        vec![("bob", 60, 30), ("alice", 0, 30)],
        // A chain: carol owes bob, bob owes alice.
        vec![("bob", 20, 0), ("carol", 0, 20)],
    ];
    let debts = direct_debts(&expenses).unwrap();
    assert_eq!(
        debts,
        [
            Debt {
                from: "bob",
                to: "alice",
                amount_minor: 20
            },
            Debt {
                from: "carol",
                to: "bob",
                amount_minor: 20
            },
        ]
    );
    let lines = expenses.into_iter().flatten();
    let simplified = simplify(&nets(lines).unwrap()).unwrap();
    assert_eq!(
        simplified,
        [Debt {
            from: "carol",
            to: "alice",
            amount_minor: 20
        }]
    );
}

fn apply(nets: &BTreeMap<u8, i64>, debts: &[Debt<u8>]) -> BTreeMap<u8, i64> {
    let mut after = nets.clone();
    for debt in debts {
        *after.entry(debt.from).or_insert(0) += debt.amount_minor;
        *after.entry(debt.to).or_insert(0) -= debt.amount_minor;
    }
    after
}

/// Random expenses among up to 12 members: `(payers, participants, total)`.
fn expenses() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>, i64)>> {
    prop::collection::vec(
        (
            prop::collection::btree_set(0..12_u8, 1..=3),
            prop::collection::btree_set(0..12_u8, 1..=12),
            1..10_000_000_i64,
        )
            .prop_map(|(payers, people, total)| {
                (
                    payers.into_iter().collect(),
                    people.into_iter().collect(),
                    total,
                )
            }),
        0..30,
    )
}

/// An expense's `(member, paid, owed)` lines: paid equally, shared equally.
fn lines_of(payers: &[u8], people: &[u8], total: i64) -> Vec<(u8, i64, i64)> {
    let paid = split_payers(total, &vec![None; payers.len()]).unwrap();
    let owed = split_shares(total, &ShareRule::Equal(people.len())).unwrap();
    let mut lines: Vec<(u8, i64, i64)> = payers
        .iter()
        .copied()
        .zip(paid.shares)
        .map(|(m, p)| (m, p, 0))
        .collect();
    lines.extend(
        people
            .iter()
            .copied()
            .zip(owed.shares)
            .map(|(m, o)| (m, 0, o)),
    );
    lines
}

proptest! {
    #[test]
    fn shares_always_add_up_to_the_total(
        total in 1..=i64::MAX / 2,
        weights in prop::collection::vec(1..=WEIGHT_MAX, 1..=EXPENSE_PARTICIPANTS_MAX),
        exact in prop::collection::vec(prop::option::of(1..1_000_000_i64), 1..=EXPENSE_PARTICIPANTS_MAX),
    ) {
        let n = weights.len();
        for rule in [ShareRule::Equal(n), ShareRule::Weights(weights.clone())] {
            let a = split_shares(total, &rule).unwrap();
            prop_assert_eq!(a.shares.len(), n);
            prop_assert_eq!(a.shares.iter().map(|s| i128::from(*s)).sum::<i128>(), i128::from(total));
            prop_assert!(a.shares.iter().all(|s| *s >= 0));
            prop_assert!(a.rounded_up.len() < n);
            prop_assert_eq!(split_shares(total, &rule).unwrap(), a, "deterministic");
        }
        // Percents adding up to 100: the weights scaled, the rest to the last.
        let sum: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        if n <= 100 {
            let mut percents: Vec<u32> = weights
                .iter()
                .map(|w| u32::try_from(u64::from(*w) * u64::from(PERCENT_SCALE - 100) / sum).unwrap().max(1))
                .collect();
            let used: u32 = percents.iter().sum();
            if used < PERCENT_SCALE {
                *percents.last_mut().unwrap() += PERCENT_SCALE - used;
                let a = split_shares(total, &ShareRule::Percents(percents)).unwrap();
                prop_assert_eq!(a.shares.iter().map(|s| i128::from(*s)).sum::<i128>(), i128::from(total));
            }
        }
        // Exact shares: when they fit, the open ones take the rest exactly.
        let fixed: i64 = exact.iter().flatten().sum();
        let open = exact.iter().filter(|s| s.is_none()).count();
        let total_exact = fixed + i64::try_from(open).unwrap() * 7;
        let a = split_shares(total_exact, &ShareRule::Exact(exact.clone())).unwrap();
        prop_assert_eq!(a.shares.iter().sum::<i64>(), total_exact);
        for (share, wanted) in a.shares.iter().zip(&exact) {
            if let Some(wanted) = wanted {
                prop_assert_eq!(share, wanted);
            }
        }
    }

    #[test]
    fn allocation_is_within_one_unit_of_the_exact_part(
        total in 1..1_000_000_000_i64,
        weights in prop::collection::vec(1..=10_000_u64, 1..=EXPENSE_PARTICIPANTS_MAX),
    ) {
        let a = allocate(total, &weights).unwrap();
        let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
        for (share, weight) in a.shares.iter().zip(&weights) {
            let exact_floor = i128::from(total) * i128::from(*weight) / sum;
            let share = i128::from(*share);
            prop_assert!(share == exact_floor || share == exact_floor + 1);
        }
    }

    #[test]
    fn simplification_preserves_nets_and_needs_at_most_n_minus_1_transfers(
        expenses in expenses(),
    ) {
        let all: Vec<Vec<(u8, i64, i64)>> = expenses
            .iter()
            .map(|(payers, people, total)| lines_of(payers, people, *total))
            .collect();
        let nets = nets(all.iter().flatten().copied()).unwrap();
        prop_assert_eq!(nets.values().sum::<i64>(), 0);
        let debts = simplify(&nets).unwrap();
        let n = nets.values().filter(|net| **net != 0).count();
        prop_assert!(debts.len() <= n.saturating_sub(1));
        prop_assert!(debts.iter().all(|d| d.amount_minor > 0 && d.from != d.to));
        // Each member's net is what the transfers move: paying them leaves
        // every balance at zero.
        let after = apply(&nets, &debts);
        prop_assert!(after.values().all(|net| *net == 0), "{:?}", after);
        // The direct debts (what the simplification line compares with)
        // settle the same nets.
        let direct = direct_debts(&all).unwrap();
        let after_direct = apply(&nets, &direct);
        prop_assert!(after_direct.values().all(|net| *net == 0), "{:?}", after_direct);
    }

    #[test]
    fn simplify_never_panics(nets_in in prop::collection::btree_map(any::<u8>(), -1_000_000_000_000_i64..1_000_000_000_000, 0..40)) {
        let mut nets = nets_in;
        let sum: i64 = nets.values().sum();
        nets.insert(255, -sum + nets.get(&255).copied().unwrap_or(0));
        let debts = simplify(&nets).unwrap();
        prop_assert!(apply(&nets, &debts).values().all(|net| *net == 0));
    }

    /// Settling the simplified tab, each transfer recorded as a settlement
    /// (its payer as having paid it, its payee as owing it), leaves every
    /// member at zero and nothing to settle; so does settling it in parts
    /// (a fraction of each transfer first, then the tab recomputed and
    /// settled again).
    #[test]
    fn settling_the_simplified_tab_leaves_every_balance_at_zero(
        expenses in expenses(),
        part_percent in 0..=100_i64,
    ) {
        let mut all: Vec<Vec<(u8, i64, i64)>> = expenses
            .iter()
            .map(|(payers, people, total)| lines_of(payers, people, *total))
            .collect();
        let settlement = |d: &Debt<u8>, amount: i64| vec![(d.from, amount, 0), (d.to, 0, amount)];
        // A partial round first.
        let first = simplify(&nets(all.iter().flatten().copied()).unwrap()).unwrap();
        for debt in &first {
            let part = debt.amount_minor * part_percent / 100;
            if part > 0 {
                all.push(settlement(debt, part));
            }
        }
        // Then whatever the recomputed tab says.
        // A partial round changes the nets, so the greedy simplification
        // may choose other pairs than before; it still needs at most n-1.
        let owing = nets(all.iter().flatten().copied()).unwrap();
        let rest = simplify(&owing).unwrap();
        let members = owing.values().filter(|net| **net != 0).count();
        prop_assert!(rest.len() <= members.saturating_sub(1), "{:?}", rest);
        for debt in &rest {
            all.push(settlement(debt, debt.amount_minor));
        }
        let after = nets(all.iter().flatten().copied()).unwrap();
        prop_assert!(after.values().all(|net| *net == 0), "{:?}", after);
        prop_assert!(simplify(&after).unwrap().is_empty());
    }
}

fn item(people: &[usize], amount_minor: i64) -> ItemPart {
    ItemPart {
        people: people.to_vec(),
        amount_minor,
    }
}

#[test]
fn itemised_shares_charge_each_item_to_its_people_and_share_the_rest() {
    // $60 dinner among bob (0), carol (1), dave (2), alice (3): bob's pizza
    // $18, carol's salad $12, wine $10 for carol and dave; the rest $20
    // (tax, tip) among all four.
    let a = split_items(
        6000,
        &[item(&[0], 1800), item(&[1], 1200), item(&[1, 2], 1000)],
        &[0, 1, 2, 3],
        4,
    )
    .unwrap();
    assert_eq!(a.shares, [2300, 2200, 1000, 500]);
    assert!(a.rounded_up.is_empty());
    // Items that use the whole total leave nothing to share: the rest's
    // people get nothing.
    let a = split_items(3000, &[item(&[0], 1800), item(&[1], 1200)], &[0, 1, 2], 3).unwrap();
    assert_eq!(a.shares, [1800, 1200, 0]);
    // Odd cents: $10.00 wine among three, $0.01 rest among two; each
    // rounded up once listed once, in order.
    let a = split_items(1001, &[item(&[2, 0, 1], 1000)], &[0, 2], 3).unwrap();
    assert_eq!(a.shares, [334, 333, 334]);
    assert_eq!(a.rounded_up, [0, 2]);
}

#[test]
fn itemised_shares_refuse_items_over_the_total() {
    assert_eq!(
        split_items(2000, &[item(&[0], 1800), item(&[1], 1200)], &[0, 1], 2),
        Err(TabError::ItemsExceedTotal {
            items_minor: 3000,
            total_minor: 2000
        })
    );
    assert_eq!(
        split_items(2000, &[item(&[0], 0)], &[0], 1),
        Err(TabError::ShareNotPositive)
    );
    assert_eq!(
        split_items(2000, &[item(&[5], 100)], &[0], 1),
        Err(TabError::Mismatched)
    );
    // A rest with nobody to share it.
    assert_eq!(
        split_items(2000, &[item(&[0], 100)], &[], 1),
        Err(TabError::NoParticipants)
    );
    let many: Vec<ItemPart> = (0..=EXPENSE_ITEMS_MAX).map(|_| item(&[0], 1)).collect();
    assert_eq!(
        split_items(1_000, &many, &[0], 1),
        Err(TabError::TooManyItems {
            count: EXPENSE_ITEMS_MAX + 1
        })
    );
}

proptest! {
    #[test]
    fn itemised_shares_always_add_up_to_the_total(
        people in 1..=EXPENSE_PARTICIPANTS_MAX,
        raw_items in prop::collection::vec(
            (prop::collection::vec(0..EXPENSE_PARTICIPANTS_MAX, 1..=8), 1..1_000_000_i64),
            1..=EXPENSE_ITEMS_MAX,
        ),
        rest_minor in 0..1_000_000_i64,
        rest_raw in prop::collection::vec(0..EXPENSE_PARTICIPANTS_MAX, 1..=EXPENSE_PARTICIPANTS_MAX),
    ) {
        let distinct = |raw: &[usize]| {
            let mut at: Vec<usize> = raw.iter().map(|p| p % people).collect();
            at.sort_unstable();
            at.dedup();
            at
        };
        let items: Vec<ItemPart> = raw_items
            .iter()
            .map(|(raw, amount)| item(&distinct(raw), *amount))
            .collect();
        let rest = distinct(&rest_raw);
        let items_minor: i64 = items.iter().map(|i| i.amount_minor).sum();
        let total = items_minor + rest_minor;
        let a = split_items(total, &items, &rest, people).unwrap();
        prop_assert_eq!(a.shares.len(), people);
        prop_assert_eq!(a.shares.iter().sum::<i64>(), total);
        prop_assert!(a.shares.iter().all(|s| *s >= 0));
        // Each person's share is between the sum of their parts rounded
        // down and the sum of their parts rounded up.
        for (person, share) in a.shares.iter().enumerate() {
            let (mut low, mut high) = (0_i64, 0_i64);
            let parts = items.iter().map(|i| (&i.people, i.amount_minor)).chain([(&rest, rest_minor)]);
            for (at, amount) in parts {
                if at.contains(&person) && amount > 0 {
                    let n = i64::try_from(at.len()).unwrap();
                    low += amount / n;
                    high += (amount + n - 1) / n;
                }
            }
            prop_assert!((low..=high).contains(share), "{person}: {share} not in {low}..={high}");
        }
        prop_assert_eq!(split_items(total, &items, &rest, people).unwrap(), a, "deterministic");
        // More items than the total: refused, never a share out of thin air.
        if items_minor > 1 {
            prop_assert_eq!(
                split_items(items_minor - 1, &items, &rest, people),
                Err(TabError::ItemsExceedTotal { items_minor, total_minor: items_minor - 1 })
            );
        }
    }
}
