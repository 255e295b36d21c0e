//! An expense's shares and payers, exact in minor units (largest remainder;
//! see the module docs of [`crate::tab`]).

use super::TabError;

/// Most people sharing one expense.
pub const EXPENSE_PARTICIPANTS_MAX: usize = 50;
/// Most people paying one expense.
pub const EXPENSE_PAYERS_MAX: usize = 10;
/// Most items in one itemised expense (`@bob 18 pizza, ...`).
pub const EXPENSE_ITEMS_MAX: usize = 20;
/// The largest weight in `@a:2 @b:1 shares`.
pub const WEIGHT_MAX: u32 = 1_000;
/// Percents are held in hundredths of a percent: 100% is this.
pub const PERCENT_SCALE: u32 = 10_000;

/// How an expense's total is shared; one entry per participant, in the
/// order the participants are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareRule {
    /// Equal parts among this many people.
    Equal(usize),
    /// Exact amounts in minor units; `None`s share what the others leave,
    /// equally.
    Exact(Vec<Option<i64>>),
    /// Parts in proportion to whole-number weights (`@a:2 @b:1 shares`).
    Weights(Vec<u32>),
    /// Percents in hundredths (`50%` is 5000); they must add up to 100%.
    Percents(Vec<u32>),
    /// Itemised among `people` people: see [`split_items`].
    Items {
        items: Vec<ItemPart>,
        rest: Vec<usize>,
        people: usize,
    },
}

/// Shares that add up to a total exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// One per person, in the order given, in minor units.
    pub shares: Vec<i64>,
    /// Who got one minor unit more than their part rounded down, in the
    /// order given (the rounding the reply states).
    pub rounded_up: Vec<usize>,
}

/// Splits `total_minor` in proportion to `weights` by largest remainder:
/// each gets `total * weight / sum` rounded down, and the units left over go
/// one each to the largest remainders, ties to the earlier position. The
/// shares add up to `total_minor` exactly and each is within one unit of
/// its exact part (so some may be 0 when the total is tiny).
pub fn allocate(total_minor: i64, weights: &[u64]) -> Result<Allocation, TabError> {
    if weights.is_empty() {
        return Err(TabError::NoParticipants);
    }
    if weights.len() > EXPENSE_PARTICIPANTS_MAX {
        return Err(TabError::TooManyParticipants {
            count: weights.len(),
        });
    }
    if total_minor <= 0 {
        return Err(TabError::TotalNotPositive);
    }
    if weights.contains(&0) {
        return Err(TabError::ShareNotPositive);
    }
    let total = u128::from(total_minor.unsigned_abs());
    let sum: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: u128 = 0;
    for (index, weight) in weights.iter().enumerate() {
        let exact = total * u128::from(*weight);
        let floor = exact / sum;
        given += floor;
        shares.push(i64::try_from(floor).map_err(|_| TabError::Mismatched)?);
        remainders.push((exact % sum, index));
    }
    // Fewer left over than people: each remainder is below `sum`.
    let left = usize::try_from(total - given).map_err(|_| TabError::Mismatched)?;
    // Largest remainder first; equal remainders in the order given.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut rounded_up: Vec<usize> = remainders
        .iter()
        .take(left)
        .map(|(_, index)| *index)
        .collect();
    rounded_up.sort_unstable();
    for index in &rounded_up {
        if let Some(share) = shares.get_mut(*index) {
            *share += 1;
        }
    }
    Ok(Allocation { shares, rounded_up })
}

/// Shares `total_minor` among the participants by `rule`.
pub fn split_shares(total_minor: i64, rule: &ShareRule) -> Result<Allocation, TabError> {
    if total_minor <= 0 {
        return Err(TabError::TotalNotPositive);
    }
    match rule {
        ShareRule::Equal(count) => {
            check_count(*count)?;
            allocate(total_minor, &vec![1; *count])
        }
        ShareRule::Exact(exact) => with_exact(total_minor, exact),
        ShareRule::Weights(weights) => {
            check_count(weights.len())?;
            if weights.iter().any(|w| !(1..=WEIGHT_MAX).contains(w)) {
                return Err(TabError::WeightOutOfRange);
            }
            let weights: Vec<u64> = weights.iter().map(|w| u64::from(*w)).collect();
            allocate(total_minor, &weights)
        }
        ShareRule::Percents(percents) => {
            check_count(percents.len())?;
            if percents.contains(&0) {
                return Err(TabError::ShareNotPositive);
            }
            let sum: u64 = percents.iter().map(|p| u64::from(*p)).sum();
            if sum != u64::from(PERCENT_SCALE) {
                return Err(TabError::PercentsNot100 {
                    sum_hundredths: sum,
                });
            }
            let weights: Vec<u64> = percents.iter().map(|p| u64::from(*p)).collect();
            allocate(total_minor, &weights)
        }
        ShareRule::Items {
            items,
            rest,
            people,
        } => split_items(total_minor, items, rest, *people),
    }
}

/// What each payer paid: `Some` exact amounts, and the `None`s paying what
/// the others leave, equally (all `None`: the total in equal parts).
pub fn split_payers(total_minor: i64, paid: &[Option<i64>]) -> Result<Allocation, TabError> {
    if paid.is_empty() {
        return Err(TabError::NoParticipants);
    }
    if paid.len() > EXPENSE_PAYERS_MAX {
        return Err(TabError::TooManyPayers { count: paid.len() });
    }
    with_exact(total_minor, paid).map_err(|error| match error {
        TabError::ExactSharesMismatch {
            sum_minor,
            total_minor,
        } => TabError::PaidMismatch {
            sum_minor,
            total_minor,
        },
        other => other,
    })
}

/// Exact amounts; the `None`s share the rest by [`allocate`].
fn with_exact(total_minor: i64, exact: &[Option<i64>]) -> Result<Allocation, TabError> {
    check_count(exact.len())?;
    if total_minor <= 0 {
        return Err(TabError::TotalNotPositive);
    }
    let mut fixed: i64 = 0;
    for share in exact.iter().flatten() {
        if *share <= 0 {
            return Err(TabError::ShareNotPositive);
        }
        fixed = fixed
            .checked_add(*share)
            .ok_or(TabError::ExactSharesMismatch {
                sum_minor: i64::MAX,
                total_minor,
            })?;
    }
    let open: Vec<usize> = (0..exact.len())
        .filter(|i| exact.get(*i).is_some_and(Option::is_none))
        .collect();
    let rest = total_minor - fixed;
    if fixed > total_minor || (open.is_empty() && rest != 0) || (!open.is_empty() && rest == 0) {
        return Err(TabError::ExactSharesMismatch {
            sum_minor: fixed,
            total_minor,
        });
    }
    let mut shares: Vec<i64> = exact.iter().map(|s| s.unwrap_or(0)).collect();
    let mut rounded_up = Vec::new();
    if !open.is_empty() {
        let part = allocate(rest, &vec![1; open.len()])?;
        for (slot, share) in open.iter().zip(part.shares) {
            if let Some(target) = shares.get_mut(*slot) {
                *target = share;
            }
        }
        rounded_up = part
            .rounded_up
            .iter()
            .filter_map(|i| open.get(*i).copied())
            .collect();
    }
    Ok(Allocation { shares, rounded_up })
}

/// One item of an itemised expense: its amount, shared equally by the
/// people at these positions (positions in the expense's people).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemPart {
    pub people: Vec<usize>,
    pub amount_minor: i64,
}

/// An itemised expense's shares among `people_count` people: each item
/// shared equally by its people (by [`allocate`], ties in the order the
/// item names them), and what the items leave of `total_minor` shared
/// equally by `rest_people` (the same way). Each person's share is the sum
/// of their parts, so the shares add up to the total exactly. `rounded_up`
/// lists, once each and in order, who got a unit more in any part.
pub fn split_items(
    total_minor: i64,
    items: &[ItemPart],
    rest_people: &[usize],
    people_count: usize,
) -> Result<Allocation, TabError> {
    check_count(people_count)?;
    if total_minor <= 0 {
        return Err(TabError::TotalNotPositive);
    }
    if items.is_empty() {
        return Err(TabError::Mismatched);
    }
    if items.len() > EXPENSE_ITEMS_MAX {
        return Err(TabError::TooManyItems { count: items.len() });
    }
    let mut items_minor: i64 = 0;
    for item in items {
        if item.amount_minor <= 0 {
            return Err(TabError::ShareNotPositive);
        }
        items_minor = items_minor.saturating_add(item.amount_minor);
    }
    if items_minor > total_minor {
        return Err(TabError::ItemsExceedTotal {
            items_minor,
            total_minor,
        });
    }
    let rest_minor = total_minor - items_minor;
    let mut shares = vec![0_i64; people_count];
    let mut rounded_up = Vec::new();
    let parts = items
        .iter()
        .map(|item| (item.people.as_slice(), item.amount_minor))
        .chain((rest_minor > 0).then_some((rest_people, rest_minor)));
    for (people, amount_minor) in parts {
        if people.iter().any(|p| *p >= people_count) {
            return Err(TabError::Mismatched);
        }
        let part = allocate(amount_minor, &vec![1; people.len()])?;
        for (person, share) in people.iter().zip(&part.shares) {
            if let Some(target) = shares.get_mut(*person) {
                *target += share;
            }
        }
        rounded_up.extend(
            part.rounded_up
                .iter()
                .filter_map(|i| people.get(*i).copied()),
        );
    }
    rounded_up.sort_unstable();
    rounded_up.dedup();
    Ok(Allocation { shares, rounded_up })
}

fn check_count(count: usize) -> Result<(), TabError> {
    match count {
        0 => Err(TabError::NoParticipants),
        n if n > EXPENSE_PARTICIPANTS_MAX => Err(TabError::TooManyParticipants { count }),
        _ => Ok(()),
    }
}

/// `5000` hundredths as `50`, `3350` as `33.5`.
pub(super) fn percent_text(hundredths: u64) -> String {
    let (whole, fraction) = (hundredths / 100, hundredths % 100);
    match fraction {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    }
}
