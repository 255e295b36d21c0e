//! The journal's entries and the checker: a pure function of (journal,
//! database snapshot) that lists every broken promise.
//!
//! The one design decision to know: the checker is an oracle independent of
//! the code it checks. It recomputes the currency sums and account totals
//! from raw rows rather than calling `ledger::verify` (which the run also
//! calls), and journals requests in its own wire types rather than the
//! API's request types, so a bug in either cannot hide itself.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The longest journal line, in bytes (a full linked group is well under).
pub const JOURNAL_LINE_BYTES_MAX: usize = 64 * 1024;

/// Refusals the workload may meet without anything being wrong: funds
/// spent by another worker, a pending transfer the sweeper expired first.
pub const EXPECTED_REFUSALS: &[&str] = &["insufficient_funds", "pending_already_expired"];

/// One transfer as sent: the API's request body, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTransfer {
    /// 32 hexadecimal digits.
    pub id: String,
    /// `single`, `pending`, `post` or `void`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debit_account_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_account_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_id: Option<String>,
}

impl WireTransfer {
    fn id_u128(&self) -> Option<u128> {
        u128::from_str_radix(&self.id, 16).ok()
    }
}

/// Which probe of an acknowledged request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// The same request again: must answer `exists`.
    Duplicate,
    /// Its first transfer with another amount: must answer
    /// `exists_with_different_fields`.
    Conflict,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    /// Written and flushed before the request's first attempt.
    Send {
        req: u64,
        linked: bool,
        transfers: Vec<WireTransfer>,
    },
    /// Answered `created` or `exists` (`status`) after `attempts` tries.
    Ack {
        req: u64,
        status: String,
        attempts: u32,
    },
    /// Refused by the ledger with this error code.
    Refused {
        req: u64,
        code: String,
        attempts: u32,
    },
    /// Given up on without an answer: may or may not have been recorded.
    Unknown { req: u64, attempts: u32 },
    /// A probe of acknowledged request `req` and what it was answered: a
    /// status (`exists`, `created`) or an error code.
    Probe {
        req: u64,
        probe: Probe,
        answer: String,
    },
}

/// Reads a journal file; a line that does not parse is an error (the
/// journal is the evidence: it must be whole).
pub fn read_journal(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open the journal {}", path.display()))?;
    let mut entries = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.len() > JOURNAL_LINE_BYTES_MAX {
            anyhow::bail!("journal line {} is too long", number + 1);
        }
        let entry = serde_json::from_str(&line)
            .with_context(|| format!("journal line {} is not an entry", number + 1))?;
        entries.push(entry);
    }
    Ok(entries)
}

/// How a transfer is stored (the ledger's `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoredKind {
    Single,
    Pending,
    Post,
    Void,
    Expire,
}

impl StoredKind {
    /// The ledger's stored code (see ledger/migrations).
    pub fn from_db(code: i64) -> Option<StoredKind> {
        Some(match code {
            0 => StoredKind::Single,
            1 => StoredKind::Pending,
            2 => StoredKind::Post,
            3 => StoredKind::Void,
            4 => StoredKind::Expire,
            _ => return None,
        })
    }

    fn wire(self) -> &'static str {
        match self {
            StoredKind::Single => "single",
            StoredKind::Pending => "pending",
            StoredKind::Post => "post",
            StoredKind::Void => "void",
            StoredKind::Expire => "expire",
        }
    }
}

/// An account row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotAccount {
    pub id: i64,
    pub currency: String,
    pub no_overdraft: bool,
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub debits_pending: i64,
    pub credits_pending: i64,
}

/// A transfer row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotTransfer {
    pub id: u128,
    pub kind: StoredKind,
    pub debit_account_id: i64,
    pub credit_account_id: i64,
    pub amount: i64,
    pub currency: String,
    pub pending_id: Option<u128>,
    pub timeout_secs: i64,
}

/// Every account and transfer row, read with the server stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub accounts: Vec<SnapshotAccount>,
    pub transfers: Vec<SnapshotTransfer>,
}

/// One broken promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A currency's debits and credits differ (`phase`: posted or pending).
    CurrencyUnbalanced {
        currency: String,
        phase: &'static str,
        debits: i64,
        credits: i64,
    },
    /// A no-overdraft account spent more than it was credited.
    Overdrawn {
        account: i64,
        spent: i64,
        credits_posted: i64,
    },
    /// Acknowledged, but not in the database.
    AcknowledgedMissing { req: u64, transfer: u128 },
    /// In the database more than once.
    AppliedMoreThanOnce { transfer: u128, rows: usize },
    /// Refused, yet in the database.
    RefusedButApplied { req: u64, transfer: u128 },
    /// In the database, but no request sent it (nor is it the expiry of
    /// one that was).
    NotSent { transfer: u128 },
    /// In the database with other fields than were sent.
    FieldsDiffer { transfer: u128, field: &'static str },
    /// A pending transfer resolved (posted, voided, expired) more than once.
    ResolvedMoreThanOnce { pending: u128, resolutions: usize },
    /// A post, void or expiry of something that is not a pending transfer.
    ResolvesNonPending { transfer: u128 },
    /// An account's running total differs from the sum of its transfers.
    AccountTotals {
        account: i64,
        total: &'static str,
        expected: i64,
        found: i64,
    },
    /// An acknowledged request sent again was not answered `exists`.
    DuplicateNotExists { req: u64, answer: String },
    /// An acknowledged id sent with another amount was not refused as a
    /// conflict.
    ConflictNotRefused { req: u64, answer: String },
    /// A refusal the workload never provokes (a bug in the API or ledger).
    UnexpectedRefusal { req: u64, code: String },
    /// A journal entry that names no request sent before it, or an id that
    /// is not 32 hex digits.
    JournalInconsistent { req: u64 },
    /// What the ledger's own `verify` found.
    Ledger(String),
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
                "{currency} does not sum to zero ({phase}): debits {debits}, credits {credits}"
            ),
            Violation::Overdrawn {
                account,
                spent,
                credits_posted,
            } => write!(
                f,
                "wallet {account} is below zero: spent {spent} of {credits_posted} credited"
            ),
            Violation::AcknowledgedMissing { req, transfer } => write!(
                f,
                "transfer {transfer:032x} (request {req}) was acknowledged but is not in the database"
            ),
            Violation::AppliedMoreThanOnce { transfer, rows } => write!(
                f,
                "transfer {transfer:032x} is in the database {rows} times"
            ),
            Violation::RefusedButApplied { req, transfer } => write!(
                f,
                "transfer {transfer:032x} (request {req}) was refused but is in the database"
            ),
            Violation::NotSent { transfer } => write!(
                f,
                "transfer {transfer:032x} is in the database but was never sent"
            ),
            Violation::FieldsDiffer { transfer, field } => write!(
                f,
                "transfer {transfer:032x} is recorded with another {field} than was sent"
            ),
            Violation::ResolvedMoreThanOnce {
                pending,
                resolutions,
            } => write!(
                f,
                "pending transfer {pending:032x} was resolved {resolutions} times"
            ),
            Violation::ResolvesNonPending { transfer } => write!(
                f,
                "transfer {transfer:032x} resolves something that is not a pending transfer"
            ),
            Violation::AccountTotals {
                account,
                total,
                expected,
                found,
            } => write!(
                f,
                "account {account}: {total} is {found}, its transfers sum to {expected}"
            ),
            Violation::DuplicateNotExists { req, answer } => write!(
                f,
                "request {req} sent again was answered {answer:?}, not \"exists\""
            ),
            Violation::ConflictNotRefused { req, answer } => write!(
                f,
                "request {req}'s id sent with another amount was answered {answer:?}, \
                 not \"exists_with_different_fields\""
            ),
            Violation::UnexpectedRefusal { req, code } => {
                write!(f, "request {req} was refused with {code:?}")
            }
            Violation::JournalInconsistent { req } => {
                write!(
                    f,
                    "the journal's entries for request {req} do not fit together"
                )
            }
            Violation::Ledger(text) => write!(f, "ledger verify: {text}"),
        }
    }
}

/// What became of one request, by its journal entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    InFlight,
    Acknowledged,
    Refused,
    Unknown,
}

/// Every broken promise in `db` given what `journal` says the client did.
/// Empty: the bank is sound.
pub fn check(journal: &[Entry], db: &Snapshot) -> Vec<Violation> {
    let mut violations = Vec::new();
    check_currencies(db, &mut violations);
    check_overdrafts(db, &mut violations);
    check_account_totals(db, &mut violations);

    // The database's rows by id (and how many per id).
    let mut rows: HashMap<u128, Vec<&SnapshotTransfer>> = HashMap::new();
    for t in &db.transfers {
        rows.entry(t.id).or_default().push(t);
    }
    for (id, found) in &rows {
        if found.len() > 1 {
            violations.push(Violation::AppliedMoreThanOnce {
                transfer: *id,
                rows: found.len(),
            });
        }
    }
    check_resolutions(db, &rows, &mut violations);

    // The journal: what was sent, and what became of it.
    let mut sent: BTreeMap<u64, (&[WireTransfer], Fate)> = BTreeMap::new();
    let mut sent_ids: HashMap<u128, &WireTransfer> = HashMap::new();
    for entry in journal {
        let req = match entry {
            Entry::Send { req, transfers, .. } => {
                for t in transfers {
                    match t.id_u128() {
                        Some(id) => {
                            sent_ids.insert(id, t);
                        }
                        None => violations.push(Violation::JournalInconsistent { req: *req }),
                    }
                }
                sent.insert(*req, (transfers, Fate::InFlight));
                continue;
            }
            Entry::Ack { req, .. }
            | Entry::Refused { req, .. }
            | Entry::Unknown { req, .. }
            | Entry::Probe { req, .. } => *req,
        };
        let Some((_, fate)) = sent.get_mut(&req) else {
            violations.push(Violation::JournalInconsistent { req });
            continue;
        };
        match entry {
            Entry::Ack { .. } => *fate = Fate::Acknowledged,
            Entry::Refused { code, .. } => {
                *fate = Fate::Refused;
                if !EXPECTED_REFUSALS.contains(&code.as_str()) {
                    violations.push(Violation::UnexpectedRefusal {
                        req,
                        code: code.clone(),
                    });
                }
            }
            Entry::Unknown { .. } => *fate = Fate::Unknown,
            Entry::Probe { probe, answer, .. } => {
                if *fate != Fate::Acknowledged {
                    violations.push(Violation::JournalInconsistent { req });
                }
                match probe {
                    Probe::Duplicate if answer != "exists" => {
                        violations.push(Violation::DuplicateNotExists {
                            req,
                            answer: answer.clone(),
                        });
                    }
                    Probe::Conflict if answer != "exists_with_different_fields" => {
                        violations.push(Violation::ConflictNotRefused {
                            req,
                            answer: answer.clone(),
                        });
                    }
                    Probe::Duplicate | Probe::Conflict => {}
                }
            }
            Entry::Send { .. } => {}
        }
    }

    for (req, (transfers, fate)) in &sent {
        for t in transfers.iter() {
            let Some(id) = t.id_u128() else { continue };
            let present = rows.get(&id).map_or(0, Vec::len);
            match fate {
                Fate::Acknowledged if present == 0 => {
                    violations.push(Violation::AcknowledgedMissing {
                        req: *req,
                        transfer: id,
                    });
                }
                Fate::Refused if present > 0 => {
                    violations.push(Violation::RefusedButApplied {
                        req: *req,
                        transfer: id,
                    });
                }
                Fate::Acknowledged | Fate::Refused | Fate::Unknown | Fate::InFlight => {}
            }
        }
    }

    for t in &db.transfers {
        match sent_ids.get(&t.id) {
            Some(wire) => {
                if let Some(field) = differing_field(wire, t) {
                    violations.push(Violation::FieldsDiffer {
                        transfer: t.id,
                        field,
                    });
                }
            }
            // The sweeper's expiry of a pending transfer a worker sent.
            None if t.kind == StoredKind::Expire
                && t.pending_id.is_some_and(|p| sent_ids.contains_key(&p)) => {}
            None => violations.push(Violation::NotSent { transfer: t.id }),
        }
    }
    violations
}

/// The first field of a stored transfer that differs from what was sent.
fn differing_field(wire: &WireTransfer, stored: &SnapshotTransfer) -> Option<&'static str> {
    if wire.kind != stored.kind.wire() {
        return Some("kind");
    }
    let pending = wire
        .pending_id
        .as_deref()
        .and_then(|p| u128::from_str_radix(p, 16).ok());
    if pending != stored.pending_id {
        return Some("pending_id");
    }
    if let Some(debit) = wire.debit_account_id
        && debit != stored.debit_account_id
    {
        return Some("debit_account_id");
    }
    if let Some(credit) = wire.credit_account_id
        && credit != stored.credit_account_id
    {
        return Some("credit_account_id");
    }
    if let Some(amount) = wire.amount
        && amount != stored.amount
    {
        return Some("amount");
    }
    if let Some(currency) = &wire.currency
        && *currency != stored.currency
    {
        return Some("currency");
    }
    if let Some(timeout) = wire.timeout_secs
        && i64::from(timeout) != stored.timeout_secs
    {
        return Some("timeout_secs");
    }
    None
}

fn check_currencies(db: &Snapshot, violations: &mut Vec<Violation>) {
    let mut sums: BTreeMap<&str, [i128; 4]> = BTreeMap::new();
    for a in &db.accounts {
        let sum = sums.entry(a.currency.as_str()).or_default();
        for (slot, value) in sum.iter_mut().zip([
            a.debits_posted,
            a.credits_posted,
            a.debits_pending,
            a.credits_pending,
        ]) {
            *slot += i128::from(value);
        }
    }
    for (currency, [dp, cp, dq, cq]) in sums {
        for (phase, debits, credits) in [("posted", dp, cp), ("pending", dq, cq)] {
            if debits != credits {
                violations.push(Violation::CurrencyUnbalanced {
                    currency: currency.to_owned(),
                    phase,
                    debits: i64::try_from(debits).unwrap_or(i64::MAX),
                    credits: i64::try_from(credits).unwrap_or(i64::MAX),
                });
            }
        }
    }
}

fn check_overdrafts(db: &Snapshot, violations: &mut Vec<Violation>) {
    for a in db.accounts.iter().filter(|a| a.no_overdraft) {
        let spent = i128::from(a.debits_posted) + i128::from(a.debits_pending);
        if spent > i128::from(a.credits_posted) {
            violations.push(Violation::Overdrawn {
                account: a.id,
                spent: i64::try_from(spent).unwrap_or(i64::MAX),
                credits_posted: a.credits_posted,
            });
        }
    }
}

/// Each account's totals against its transfers: singles and posts are
/// posted; pending transfers nothing resolved are pending.
fn check_account_totals(db: &Snapshot, violations: &mut Vec<Violation>) {
    let resolved: HashSet<u128> = db.transfers.iter().filter_map(|t| t.pending_id).collect();
    // [debits_posted, credits_posted, debits_pending, credits_pending]
    let mut expected: HashMap<i64, [i128; 4]> = HashMap::new();
    for t in &db.transfers {
        let (debit_slot, credit_slot) = match t.kind {
            StoredKind::Single | StoredKind::Post => (0, 1),
            StoredKind::Pending if !resolved.contains(&t.id) => (2, 3),
            StoredKind::Pending | StoredKind::Void | StoredKind::Expire => continue,
        };
        let amount = i128::from(t.amount);
        if let Some(slot) = expected
            .entry(t.debit_account_id)
            .or_default()
            .get_mut(debit_slot)
        {
            *slot += amount;
        }
        if let Some(slot) = expected
            .entry(t.credit_account_id)
            .or_default()
            .get_mut(credit_slot)
        {
            *slot += amount;
        }
    }
    const NAMES: [&str; 4] = [
        "debits_posted",
        "credits_posted",
        "debits_pending",
        "credits_pending",
    ];
    for a in &db.accounts {
        let sums = expected.get(&a.id).copied().unwrap_or_default();
        let found = [
            a.debits_posted,
            a.credits_posted,
            a.debits_pending,
            a.credits_pending,
        ];
        for ((total, sum), found) in NAMES.iter().zip(sums).zip(found) {
            if sum != i128::from(found) {
                violations.push(Violation::AccountTotals {
                    account: a.id,
                    total,
                    expected: i64::try_from(sum).unwrap_or(i64::MAX),
                    found,
                });
            }
        }
    }
}

fn check_resolutions(
    db: &Snapshot,
    rows: &HashMap<u128, Vec<&SnapshotTransfer>>,
    violations: &mut Vec<Violation>,
) {
    let mut resolutions: BTreeMap<u128, usize> = BTreeMap::new();
    for t in &db.transfers {
        let Some(pending) = t.pending_id else {
            continue;
        };
        *resolutions.entry(pending).or_default() += 1;
        let is_pending = rows
            .get(&pending)
            .is_some_and(|found| found.iter().all(|p| p.kind == StoredKind::Pending));
        if !is_pending {
            violations.push(Violation::ResolvesNonPending { transfer: t.id });
        }
    }
    for (pending, count) in resolutions {
        if count > 1 {
            violations.push(Violation::ResolvedMoreThanOnce {
                pending,
                resolutions: count,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(id: u128, kind: &str, debit: i64, credit: i64, amount: i64) -> WireTransfer {
        WireTransfer {
            id: format!("{id:032x}"),
            kind: kind.to_owned(),
            debit_account_id: Some(debit),
            credit_account_id: Some(credit),
            amount: Some(amount),
            currency: Some("USD".to_owned()),
            timeout_secs: (kind == "pending").then_some(3600),
            pending_id: None,
        }
    }

    fn resolve(id: u128, kind: &str, pending: u128) -> WireTransfer {
        WireTransfer {
            id: format!("{id:032x}"),
            kind: kind.to_owned(),
            debit_account_id: None,
            credit_account_id: None,
            amount: None,
            currency: None,
            timeout_secs: None,
            pending_id: Some(format!("{pending:032x}")),
        }
    }

    fn row(id: u128, kind: StoredKind, debit: i64, credit: i64, amount: i64) -> SnapshotTransfer {
        SnapshotTransfer {
            id,
            kind,
            debit_account_id: debit,
            credit_account_id: credit,
            amount,
            currency: "USD".to_owned(),
            pending_id: None,
            timeout_secs: if kind == StoredKind::Pending { 3600 } else { 0 },
        }
    }

    fn account(id: i64, no_overdraft: bool, totals: [i64; 4]) -> SnapshotAccount {
        SnapshotAccount {
            id,
            currency: "USD".to_owned(),
            no_overdraft,
            debits_posted: totals[0],
            credits_posted: totals[1],
            debits_pending: totals[2],
            credits_pending: totals[3],
        }
    }

    fn send(req: u64, transfers: Vec<WireTransfer>) -> Entry {
        Entry::Send {
            req,
            linked: transfers.len() > 1,
            transfers,
        }
    }

    fn ack(req: u64) -> Entry {
        Entry::Ack {
            req,
            status: "created".to_owned(),
            attempts: 1,
        }
    }

    /// Issuance (1) funds alice (2) with 1000; alice pays bob (3) 300; a
    /// pending 200 from alice to bob is posted as 150; a pending 100 is
    /// voided; a pending 50 is still open; a payment of 5000 was refused.
    fn sound_history() -> (Vec<Entry>, Snapshot) {
        let mut post = resolve(31, "post", 30);
        post.amount = Some(150);
        post.currency = Some("USD".to_owned());
        let journal = vec![
            send(1, vec![wire(10, "single", 1, 2, 1000)]),
            ack(1),
            send(2, vec![wire(20, "single", 2, 3, 300)]),
            Entry::Ack {
                req: 2,
                status: "exists".to_owned(),
                attempts: 3,
            },
            Entry::Probe {
                req: 2,
                probe: Probe::Duplicate,
                answer: "exists".to_owned(),
            },
            Entry::Probe {
                req: 2,
                probe: Probe::Conflict,
                answer: "exists_with_different_fields".to_owned(),
            },
            send(3, vec![wire(30, "pending", 2, 3, 200)]),
            ack(3),
            send(4, vec![post]),
            ack(4),
            send(5, vec![wire(40, "pending", 2, 3, 100)]),
            ack(5),
            send(6, vec![resolve(41, "void", 40)]),
            ack(6),
            send(7, vec![wire(50, "pending", 2, 3, 50)]),
            ack(7),
            send(8, vec![wire(60, "single", 2, 3, 5000)]),
            Entry::Refused {
                req: 8,
                code: "insufficient_funds".to_owned(),
                attempts: 1,
            },
        ];
        let mut post_row = row(31, StoredKind::Post, 2, 3, 150);
        post_row.pending_id = Some(30);
        let mut void_row = row(41, StoredKind::Void, 2, 3, 100);
        void_row.pending_id = Some(40);
        let snapshot = Snapshot {
            accounts: vec![
                account(1, false, [1000, 0, 0, 0]),
                account(2, true, [450, 1000, 50, 0]),
                account(3, true, [0, 450, 0, 50]),
            ],
            transfers: vec![
                row(10, StoredKind::Single, 1, 2, 1000),
                row(20, StoredKind::Single, 2, 3, 300),
                row(30, StoredKind::Pending, 2, 3, 200),
                post_row,
                row(40, StoredKind::Pending, 2, 3, 100),
                void_row,
                row(50, StoredKind::Pending, 2, 3, 50),
            ],
        };
        (journal, snapshot)
    }

    #[test]
    fn a_sound_history_has_no_violation() {
        let (journal, snapshot) = sound_history();
        assert_eq!(check(&journal, &snapshot), vec![]);
    }

    #[test]
    fn a_lost_acknowledged_transfer_is_reported() {
        let (journal, mut snapshot) = sound_history();
        // The crash lost alice's payment to bob, and the totals with it.
        snapshot.transfers.retain(|t| t.id != 20);
        snapshot.accounts[1].debits_posted -= 300;
        snapshot.accounts[2].credits_posted -= 300;
        assert_eq!(
            check(&journal, &snapshot),
            vec![Violation::AcknowledgedMissing {
                req: 2,
                transfer: 20
            }]
        );
    }

    #[test]
    fn a_transfer_applied_twice_is_reported() {
        let (journal, mut snapshot) = sound_history();
        let again = snapshot.transfers[1].clone();
        snapshot.transfers.push(again);
        let violations = check(&journal, &snapshot);
        assert!(
            violations.contains(&Violation::AppliedMoreThanOnce {
                transfer: 20,
                rows: 2
            }),
            "{violations:?}"
        );
        // The totals no longer match the rows either.
        assert!(
            violations.contains(&Violation::AccountTotals {
                account: 2,
                total: "debits_posted",
                expected: 750,
                found: 450
            }),
            "{violations:?}"
        );
    }

    #[test]
    fn a_negative_wallet_and_an_unbalanced_currency_are_reported() {
        let (journal, mut snapshot) = sound_history();
        // Bob's wallet debited 1000 out of thin air.
        snapshot.accounts[2].debits_posted += 1000;
        let violations = check(&journal, &snapshot);
        assert!(
            violations.contains(&Violation::Overdrawn {
                account: 3,
                spent: 1000,
                credits_posted: 450
            }),
            "{violations:?}"
        );
        assert!(
            violations.contains(&Violation::CurrencyUnbalanced {
                currency: "USD".to_owned(),
                phase: "posted",
                debits: 2450,
                credits: 1450
            }),
            "{violations:?}"
        );
    }

    #[test]
    fn a_refused_transfer_in_the_database_and_an_unsent_one_are_reported() {
        let (journal, mut snapshot) = sound_history();
        snapshot
            .transfers
            .push(row(60, StoredKind::Single, 2, 3, 5000));
        snapshot
            .transfers
            .push(row(99, StoredKind::Single, 1, 3, 7));
        let violations = check(&journal, &snapshot);
        assert!(violations.contains(&Violation::RefusedButApplied {
            req: 8,
            transfer: 60
        }));
        assert!(violations.contains(&Violation::NotSent { transfer: 99 }));
    }

    #[test]
    fn a_pending_transfer_resolved_twice_is_reported() {
        let (journal, mut snapshot) = sound_history();
        let mut second = row(77, StoredKind::Void, 2, 3, 200);
        second.pending_id = Some(30);
        snapshot.transfers.push(second);
        let violations = check(&journal, &snapshot);
        assert!(violations.contains(&Violation::ResolvedMoreThanOnce {
            pending: 30,
            resolutions: 2
        }));
        assert!(violations.contains(&Violation::NotSent { transfer: 77 }));
    }

    #[test]
    fn wrong_probe_answers_and_recorded_fields_are_reported() {
        let (mut journal, mut snapshot) = sound_history();
        journal.push(Entry::Probe {
            req: 1,
            probe: Probe::Duplicate,
            answer: "created".to_owned(),
        });
        journal.push(Entry::Probe {
            req: 1,
            probe: Probe::Conflict,
            answer: "exists".to_owned(),
        });
        journal.push(send(9, vec![wire(70, "single", 2, 3, 1)]));
        journal.push(Entry::Refused {
            req: 9,
            code: "pending_already_posted".to_owned(),
            attempts: 2,
        });
        snapshot.transfers[0].amount = 999;
        let violations = check(&journal, &snapshot);
        for expected in [
            Violation::DuplicateNotExists {
                req: 1,
                answer: "created".to_owned(),
            },
            Violation::ConflictNotRefused {
                req: 1,
                answer: "exists".to_owned(),
            },
            Violation::UnexpectedRefusal {
                req: 9,
                code: "pending_already_posted".to_owned(),
            },
            Violation::FieldsDiffer {
                transfer: 10,
                field: "amount",
            },
        ] {
            assert!(
                violations.contains(&expected),
                "{expected:?} in {violations:?}"
            );
        }
    }

    #[test]
    fn the_sweepers_expiry_of_a_sent_pending_transfer_is_expected() {
        let (journal, mut snapshot) = sound_history();
        let mut expiry = row(0xE, StoredKind::Expire, 2, 3, 50);
        expiry.pending_id = Some(50);
        snapshot.transfers.push(expiry);
        snapshot.accounts[1].debits_pending = 0;
        snapshot.accounts[2].credits_pending = 0;
        assert_eq!(check(&journal, &snapshot), vec![]);
    }

    #[test]
    fn the_journal_round_trips_through_its_file() {
        let (journal, _) = sound_history();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let text: String = journal
            .iter()
            .map(|e| format!("{}\n", serde_json::to_string(e).unwrap()))
            .collect();
        std::fs::write(&path, text).unwrap();
        assert_eq!(read_journal(&path).unwrap(), journal);
        std::fs::write(&path, "{\"entry\": \"nonsense\"}\n").unwrap();
        assert!(read_journal(&path).is_err());
    }
}
