//! Who shares an expense and by which rule: the people `/expense` names
//! (or the group), in the order the reply states them, with the
//! [`ShareRule`] the pure `tab` computes the shares by; and, for an
//! itemised expense, its items as the reply and the stored memo say them.

use super::super::texts::tab as texts;
use super::super::turn::Turn;
use super::{find_all, me_member};
use crate::command::{ExpenseItem, ExpenseShares, ItemRest, Memo, Target};
use crate::store::tab::GroupMember;
use crate::tab::{ItemPart, ShareRule};

/// Who shares the expense, in the stated order, and by which rule; or the
/// refusal to say. `total_minor` tells whether an itemised expense leaves a
/// rest to share.
pub(super) fn sharing(
    turn: &Turn<'_>,
    members: &[GroupMember],
    shares: ExpenseShares,
    total_minor: i64,
) -> Result<(Vec<GroupMember>, ShareRule), String> {
    let named = |targets: Vec<&Target>| find_all(turn, members, &targets);
    Ok(match shares {
        ExpenseShares::Group => {
            let people = whole_group(turn, members)?;
            let count = people.len();
            (people, ShareRule::Equal(count))
        }
        ExpenseShares::Among(targets) => {
            let people = named(targets.iter().collect())?;
            let count = people.len();
            (people, ShareRule::Equal(count))
        }
        ExpenseShares::Exact(parts) => (
            named(parts.iter().map(|(t, _)| t).collect())?,
            ShareRule::Exact(
                parts
                    .iter()
                    .map(|(_, a)| a.map(ledger::Amount::minor))
                    .collect(),
            ),
        ),
        ExpenseShares::Weights(parts) => (
            named(parts.iter().map(|(t, _)| t).collect())?,
            ShareRule::Weights(parts.iter().map(|(_, w)| *w).collect()),
        ),
        ExpenseShares::Percents(parts) => (
            named(parts.iter().map(|(t, _)| t).collect())?,
            ShareRule::Percents(parts.iter().map(|(_, p)| *p).collect()),
        ),
        ExpenseShares::Itemised { items, rest } => {
            itemised(turn, members, &items, &rest, total_minor)?
        }
    })
}

/// Each user of the group once (linked identities), alphabetically, the
/// sender included; refused when nobody else is known here.
fn whole_group(turn: &Turn<'_>, members: &[GroupMember]) -> Result<Vec<GroupMember>, String> {
    let mut people: Vec<GroupMember> = Vec::new();
    for member in members.iter().cloned().chain([me_member(turn)]) {
        if !people.iter().any(|p| p.user == member.user) {
            people.push(member);
        }
    }
    people.sort_by_key(|m| (m.label().to_lowercase(), m.user));
    if people.len() < 2 {
        return Err(texts::ALONE.to_owned());
    }
    Ok(people)
}

/// The people of an itemised expense: everyone its items name, in the
/// order first named, then those sharing the rest (the group
/// alphabetically, or as named) who are not yet among them. The rest's
/// people count only when the items leave a rest.
fn itemised(
    turn: &Turn<'_>,
    members: &[GroupMember],
    items: &[ExpenseItem],
    rest: &ItemRest,
    total_minor: i64,
) -> Result<(Vec<GroupMember>, ShareRule), String> {
    let mut people: Vec<GroupMember> = Vec::new();
    let position = |people: &mut Vec<GroupMember>, member: GroupMember| -> usize {
        match people.iter().position(|p| p.user == member.user) {
            Some(index) => index,
            None => {
                people.push(member);
                people.len() - 1
            }
        }
    };
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        let found = find_all(turn, members, &item.targets.iter().collect::<Vec<_>>())?;
        let at: Vec<usize> = found
            .into_iter()
            .map(|m| position(&mut people, m))
            .collect();
        parts.push(ItemPart {
            people: at,
            amount_minor: item.amount.minor(),
        });
    }
    let items_minor = items
        .iter()
        .fold(0_i64, |sum, item| sum.saturating_add(item.amount.minor()));
    let mut rest_at = Vec::new();
    if items_minor < total_minor {
        let sharing_rest = match rest {
            ItemRest::Group => whole_group(turn, members)?,
            ItemRest::Among(targets) => {
                find_all(turn, members, &targets.iter().collect::<Vec<_>>())?
            }
        };
        rest_at = sharing_rest
            .into_iter()
            .map(|m| position(&mut people, m))
            .collect();
    }
    let count = people.len();
    Ok((
        people,
        ShareRule::Items {
            items: parts,
            rest: rest_at,
            people: count,
        },
    ))
}

/// The items of an itemised expense, for the reply.
pub(super) fn items_text(shares: &ExpenseShares) -> Option<Vec<ExpenseItem>> {
    match shares {
        ExpenseShares::Itemised { items, .. } => Some(items.clone()),
        _ => None,
    }
}

/// `pizza $18.00 (@bob)` for each item.
pub(super) fn item_parts(items: &[ExpenseItem]) -> Vec<String> {
    items
        .iter()
        .map(|item| {
            let who: Vec<String> = item.targets.iter().map(ToString::to_string).collect();
            texts::item(
                item.memo.as_ref().map(Memo::as_str),
                &item.amount.to_string(),
                &who.join(" "),
            )
        })
        .collect()
}

/// The memo an itemised expense is stored with: `dinner (pizza, salad)`,
/// naming what its items were, when that fits in a memo; else the memo as
/// typed.
pub(super) fn memo_with_items(memo: Option<Memo>, shares: &ExpenseShares) -> Option<Memo> {
    let ExpenseShares::Itemised { items, .. } = shares else {
        return memo;
    };
    let whats: Vec<&str> = items
        .iter()
        .filter_map(|i| i.memo.as_ref().map(Memo::as_str))
        .collect();
    if whats.is_empty() {
        return memo;
    }
    let text = match &memo {
        Some(memo) => format!("{memo} ({})", whats.join(", ")),
        None => whats.join(", "),
    };
    Memo::parse(&text).ok().or(memo)
}
