//! The invariant checks of `paybot verify` as SQL: one statement per check,
//! run unchanged by both backends. Each row they return is turned into a
//! [`crate::Violation`] by the storage engine.

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
