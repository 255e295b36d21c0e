//! Nets, direct debts and the minimum-cash-flow simplification of a tab
//! (one currency at a time).

use std::collections::BTreeMap;

use super::TabError;

/// `from` owes `to` this many minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debt<M> {
    pub from: M,
    pub to: M,
    pub amount_minor: i64,
}

/// Each member's net from `(member, paid, owed)` lines: what they paid
/// minus what they owe (positive: others owe them). Members whose net is 0
/// are kept (they took part).
pub fn nets<M: Ord + Clone>(
    lines: impl IntoIterator<Item = (M, i64, i64)>,
) -> Result<BTreeMap<M, i64>, TabError> {
    let mut nets: BTreeMap<M, i64> = BTreeMap::new();
    for (member, paid, owed) in lines {
        let line = paid.checked_sub(owed).ok_or(TabError::Unbalanced)?;
        let net = nets.entry(member).or_insert(0);
        *net = net.checked_add(line).ok_or(TabError::Unbalanced)?;
    }
    Ok(nets)
}

/// Who owes whom without simplifying across expenses: within each expense
/// its participants owe its payers (an expense with one payer: each
/// participant owes the payer their share; with several, settled within
/// that expense as [`simplify`] would), and debts between the same two
/// people in both directions cancel. `expenses` is each expense's
/// `(member, paid, owed)` lines. Paying them leaves every net at zero, as
/// the simplified transfers do: the difference is only how many.
pub fn direct_debts<M: Ord + Clone>(
    expenses: &[Vec<(M, i64, i64)>],
) -> Result<Vec<Debt<M>>, TabError> {
    // (low, high) -> what low owes high (negative: high owes low).
    let mut pairs: BTreeMap<(M, M), i128> = BTreeMap::new();
    for lines in expenses {
        for debt in simplify(&nets(lines.iter().cloned())?)? {
            let (key, sign) = if debt.from < debt.to {
                ((debt.from, debt.to), 1)
            } else {
                ((debt.to, debt.from), -1)
            };
            *pairs.entry(key).or_insert(0) += sign * i128::from(debt.amount_minor);
        }
    }
    Ok(pairs
        .into_iter()
        .filter_map(|((low, high), owed)| {
            let amount_minor = i64::try_from(owed.unsigned_abs()).ok()?;
            match owed {
                0 => None,
                o if o > 0 => Some(Debt {
                    from: low,
                    to: high,
                    amount_minor,
                }),
                _ => Some(Debt {
                    from: high,
                    to: low,
                    amount_minor,
                }),
            }
        })
        .collect())
}

/// The fewest-transfers-first settlement of `nets` (which must add up to
/// zero): the member who owes most pays the member owed most as much as
/// one of them needs, until everyone is square. Ties go to the member that
/// sorts first. At most `n - 1` transfers for `n` members with a non-zero
/// net; paying them leaves every member's net at zero.
pub fn simplify<M: Ord + Clone>(nets: &BTreeMap<M, i64>) -> Result<Vec<Debt<M>>, TabError> {
    let total = nets.values().map(|n| i128::from(*n)).sum::<i128>();
    if total != 0 {
        return Err(TabError::Unbalanced);
    }
    let mut open: Vec<(M, i64)> = nets
        .iter()
        .filter(|(_, net)| **net != 0)
        .map(|(m, net)| (m.clone(), *net))
        .collect();
    let mut debts = Vec::new();
    // Each round settles at least one member, so it ends within `n` rounds.
    for _ in 0..open.len() {
        let debtor = pick(&open, |net| net < 0);
        let creditor = pick(&open, |net| net > 0);
        let (Some(d), Some(c)) = (debtor, creditor) else {
            break;
        };
        let (Some((from, owes)), Some((to, owed))) = (open.get(d).cloned(), open.get(c).cloned())
        else {
            break;
        };
        let amount_minor = owes.unsigned_abs().min(owed.unsigned_abs());
        let amount_minor = i64::try_from(amount_minor).map_err(|_| TabError::Unbalanced)?;
        debts.push(Debt {
            from,
            to,
            amount_minor,
        });
        if let Some(entry) = open.get_mut(d) {
            entry.1 += amount_minor;
        }
        if let Some(entry) = open.get_mut(c) {
            entry.1 -= amount_minor;
        }
        open.retain(|(_, net)| *net != 0);
    }
    if !open.is_empty() {
        return Err(TabError::Unbalanced);
    }
    Ok(debts)
}

/// The index of the open member with the largest `|net|` among those whose
/// net passes `side`; ties to the first (members are sorted).
fn pick<M>(open: &[(M, i64)], side: impl Fn(i64) -> bool) -> Option<usize> {
    let mut best: Option<(usize, u64)> = None;
    for (index, (_, net)) in open.iter().enumerate() {
        if !side(*net) {
            continue;
        }
        let size = net.unsigned_abs();
        if best.is_none_or(|(_, b)| size > b) {
            best = Some((index, size));
        }
    }
    best.map(|(index, _)| index)
}
