//! The ledger's invariants, checked on a live database (`paybot verify`).
//!
//! Each check is one SQL statement that both backends run unchanged; each
//! broken invariant becomes a [`Violation`] naming the account or transfer,
//! the currency, and what was expected against what was found.

use std::fmt;

use crate::money::{Currency, format_minor};
use crate::store::CurrencyTotals;
use crate::types::{AccountId, TransferId};

/// Each account's four totals next to what its transfers add up to. Posted
/// totals come from single transfers and posts; pending totals from pending
/// transfers that are not resolved. Only mismatching accounts are returned.
pub(crate) const ACCOUNT_TOTALS_SQL: &str = "
WITH moves AS (
    SELECT debit_account_id AS account_id, amount AS dp, 0 AS cp, 0 AS dq, 0 AS cq
      FROM transfers WHERE kind IN (0, 2)
    UNION ALL
    SELECT credit_account_id, 0, amount, 0, 0
      FROM transfers WHERE kind IN (0, 2)
    UNION ALL
    SELECT p.debit_account_id, 0, 0, p.amount, 0
      FROM transfers p WHERE p.kind = 1
       AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = p.id)
    UNION ALL
    SELECT p.credit_account_id, 0, 0, 0, p.amount
      FROM transfers p WHERE p.kind = 1
       AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = p.id)
), sums AS (
    SELECT account_id,
           CAST(SUM(dp) AS BIGINT) AS dp, CAST(SUM(cp) AS BIGINT) AS cp,
           CAST(SUM(dq) AS BIGINT) AS dq, CAST(SUM(cq) AS BIGINT) AS cq
      FROM moves GROUP BY account_id
)
SELECT a.id, a.currency, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
       COALESCE(s.dp, 0) AS exp_dp, COALESCE(s.cp, 0) AS exp_cp,
       COALESCE(s.dq, 0) AS exp_dq, COALESCE(s.cq, 0) AS exp_cq
  FROM accounts a LEFT JOIN sums s ON s.account_id = a.id
 WHERE a.debits_posted <> COALESCE(s.dp, 0) OR a.credits_posted <> COALESCE(s.cp, 0)
    OR a.debits_pending <> COALESCE(s.dq, 0) OR a.credits_pending <> COALESCE(s.cq, 0)
 ORDER BY a.id";

/// Accounts that may not be overdrawn but are.
pub(crate) const OVERDRAWN_SQL: &str = "
SELECT id, currency, debits_posted + debits_pending AS spent, credits_posted
  FROM accounts
 WHERE (flags & 1) = 1 AND debits_posted + debits_pending > credits_posted
 ORDER BY id";

/// Pending transfers resolved more than once (the UNIQUE constraint forbids
/// it; this catches a schema that lost the constraint).
pub(crate) const MULTIPLY_RESOLVED_SQL: &str = "
SELECT pending_id, COUNT(*) AS n FROM transfers
 WHERE pending_id IS NOT NULL GROUP BY pending_id HAVING COUNT(*) > 1";

/// Posts, voids and expiries that do not match the transfer they resolve.
pub(crate) const BAD_RESOLUTION_SQL: &str = "
SELECT r.id FROM transfers r JOIN transfers p ON p.id = r.pending_id
 WHERE p.kind <> 1
    OR r.debit_account_id <> p.debit_account_id
    OR r.credit_account_id <> p.credit_account_id
    OR r.currency <> p.currency
    OR r.amount > p.amount
    OR (r.kind IN (3, 4) AND r.amount <> p.amount)";

/// Transfers whose currency differs from an account's.
pub(crate) const CURRENCY_MISMATCH_SQL: &str = "
SELECT t.id FROM transfers t
  JOIN accounts d ON d.id = t.debit_account_id
  JOIN accounts c ON c.id = t.credit_account_id
 WHERE t.currency <> d.currency OR t.currency <> c.currency";

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
            Violation::TransferCurrencyMismatch { transfer } => {
                write!(
                    f,
                    "transfer {transfer}: its currency differs from its accounts'"
                )
            }
        }
    }
}
