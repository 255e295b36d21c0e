//! The ledger's invariants and how a broken one is reported (`paybot verify`).
//!
//! Each broken invariant becomes a [`Violation`] naming the account or
//! transfer, the currency, and what was expected against what was found.
//! This module is the pure half: the storage engine finds the offending rows
//! (one SQL statement per check, in `store::checks`) and builds violations
//! with the constructors here. It imports nothing of the storage engine, so
//! it compiles without it.

use std::fmt;

use crate::money::{Currency, format_minor};
use crate::types::{AccountId, CurrencyTotals, TransferId};

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A currency's debits and credits (posted or pending) differ.
    CurrencyUnbalanced {
        currency: Currency,
        phase: &'static str,
        debits: i64,
        credits: i64,
    },
    /// An account's running total differs from the sum of its transfers.
    AccountTotals {
        account: AccountId,
        currency: Currency,
        total: &'static str,
        expected: i64,
        found: i64,
    },
    /// A no-overdraft account has spent more than it was credited.
    Overdrawn {
        account: AccountId,
        currency: String,
        spent: i64,
        credits_posted: i64,
    },
    ResolvedMoreThanOnce {
        pending: TransferId,
        resolutions: i64,
    },
    InvalidResolution {
        transfer: TransferId,
    },
    TransferCurrencyMismatch {
        transfer: TransferId,
    },
    /// SQLite: an account's history entries (ledger migration 4) disagree
    /// with the transfers they index: `missing` transfers up to the mark
    /// lack one of their two entries, `stray` entries name no transfer of
    /// that account or lie past the mark.
    HistoryEntries {
        missing: i64,
        stray: i64,
    },
}

const TOTAL_NAMES: [&str; 4] = [
    "debits_posted",
    "credits_posted",
    "debits_pending",
    "credits_pending",
];

impl Violation {
    pub(crate) fn of_currency(t: &CurrencyTotals) -> Vec<Violation> {
        let mut out = Vec::new();
        if t.debits_posted != t.credits_posted {
            out.push(Violation::CurrencyUnbalanced {
                currency: t.currency,
                phase: "posted",
                debits: t.debits_posted,
                credits: t.credits_posted,
            });
        }
        if t.debits_pending != t.credits_pending {
            out.push(Violation::CurrencyUnbalanced {
                currency: t.currency,
                phase: "pending",
                debits: t.debits_pending,
                credits: t.credits_pending,
            });
        }
        out
    }

    /// `totals` holds (found, expected) in [`TOTAL_NAMES`] order.
    pub(crate) fn of_account_totals(
        account: AccountId,
        currency: Currency,
        totals: [(i64, i64); 4],
    ) -> Vec<Violation> {
        TOTAL_NAMES
            .iter()
            .zip(totals)
            .filter(|(_, (found, expected))| found != expected)
            .map(|(total, (found, expected))| Violation::AccountTotals {
                account,
                currency,
                total,
                expected,
                found,
            })
            .collect()
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::CurrencyUnbalanced {
                currency,
                phase,
                debits,
                credits,
            } => write!(
                f,
                "currency {currency}: {phase} debits {} != {phase} credits {}",
                format_minor(*debits, *currency),
                format_minor(*credits, *currency)
            ),
            Violation::AccountTotals {
                account,
                currency,
                total,
                expected,
                found,
            } => write!(
                f,
                "account {account} ({currency}): {total} expected {} (sum of its transfers), found {}",
                format_minor(*expected, *currency),
                format_minor(*found, *currency)
            ),
            Violation::Overdrawn {
                account,
                currency,
                spent,
                credits_posted,
            } => write!(
                f,
                "account {account} ({currency}) may not be overdrawn: debits {spent} exceed credits {credits_posted} (minor units)"
            ),
            Violation::ResolvedMoreThanOnce {
                pending,
                resolutions,
            } => {
                write!(
                    f,
                    "pending transfer {pending}: resolved {resolutions} times, expected at most once"
                )
            }
            Violation::InvalidResolution { transfer } => write!(
                f,
                "transfer {transfer}: resolves a pending transfer whose accounts, currency or amount differ"
            ),
            Violation::HistoryEntries { missing, stray } => write!(
                f,
                "accounts' history entries: {missing} transfers up to the mark lack an entry, \
                 {stray} entries name no such transfer"
            ),
            Violation::TransferCurrencyMismatch { transfer } => {
                write!(
                    f,
                    "transfer {transfer}: its currency differs from its accounts'"
                )
            }
        }
    }
}
