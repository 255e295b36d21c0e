//! The group tab: who paid what for whom in a group, and who owes whom.
//!
//! Pure: no I/O, no clock, no store. An expense is a total in one currency,
//! the people who paid it (each with an amount) and the people who share it
//! (each with a share, by one of four rules: equal, exact amounts, weights
//! or percents; or itemised: each item shared equally by its people and
//! the rest of the total by the group or a named few). Every share is an integer count of the currency's minor
//! unit, and the shares always add up to the total exactly.
//!
//! The design decision to know: rounding is **largest remainder** with a
//! stated order. Each person first gets the whole minor units of their exact
//! part (`total * weight / weight_sum`, rounded down); the units left over
//! (fewer than the number of people) go one each to the people with the
//! largest remainders, ties to whoever comes first in the order the people
//! were given (the caller states that order: as named, or for the whole
//! group, alphabetically). [`Allocation::rounded_up`] says who got a unit
//! more, so the reply can say how it rounded.
//!
//! Balances are per currency (nothing is ever converted), and a tab is
//! simplified by [`simplify`]: the largest debtor pays the largest creditor
//! until everyone is square, at most `n - 1` transfers for `n` people, each
//! person's net unchanged.
//!
//! Files: `shares.rs` (an expense's shares and payers, and their checks),
//! `simplify.rs` (nets, direct debts and the simplification).

mod shares;
mod simplify;

pub use shares::{
    Allocation, EXPENSE_ITEMS_MAX, EXPENSE_PARTICIPANTS_MAX, EXPENSE_PAYERS_MAX, ItemPart,
    PERCENT_SCALE, ShareRule, WEIGHT_MAX, allocate, split_items, split_payers, split_shares,
};
pub use simplify::{Debt, direct_debts, nets, simplify};

/// Most members a group's tab counts (people who have used paybot in that
/// group); the tab of a larger group shows the first ones only.
pub const TAB_MEMBERS_MAX: usize = 200;
/// Most expenses a group's tab holds that are not undone; a further
/// `/expense` is refused until some are undone.
pub const TAB_EXPENSES_MAX: usize = 2_000;

/// Why an expense cannot be made as given. Each maps to one reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TabError {
    #[error("an expense needs at least one person to share it")]
    NoParticipants,
    #[error("an expense is shared by at most {EXPENSE_PARTICIPANTS_MAX} people, not {count}")]
    TooManyParticipants { count: usize },
    #[error("an expense has at most {EXPENSE_PAYERS_MAX} payers, not {count}")]
    TooManyPayers { count: usize },
    #[error("the total must be more than zero")]
    TotalNotPositive,
    #[error("every share must be more than zero")]
    ShareNotPositive,
    #[error("the exact shares add up to {sum_minor} minor units, not the total {total_minor}")]
    ExactSharesMismatch { sum_minor: i64, total_minor: i64 },
    #[error("the payers' amounts add up to {sum_minor} minor units, not the total {total_minor}")]
    PaidMismatch { sum_minor: i64, total_minor: i64 },
    #[error("the percents add up to {}%, not 100%", shares::percent_text(*.sum_hundredths))]
    PercentsNot100 { sum_hundredths: u64 },
    #[error("an expense has at most {EXPENSE_ITEMS_MAX} items, not {count}")]
    TooManyItems { count: usize },
    #[error("the items add up to {items_minor} minor units, more than the total {total_minor}")]
    ItemsExceedTotal { items_minor: i64, total_minor: i64 },
    #[error("a weight is 1 to {WEIGHT_MAX}")]
    WeightOutOfRange,
    #[error("the shares and the people do not match")]
    Mismatched,
    #[error("the nets do not add up to zero")]
    Unbalanced,
}

#[cfg(test)]
mod tests;
