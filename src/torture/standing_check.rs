//! The checker of `paybot torture --standing`: a pure function of the
//! journal (the standing orders the users set up, and whether each one's
//! confirmation named the run the test waits for) and a snapshot of the
//! database read with every server stopped.
//!
//! What it asks: every due run posted exactly once (its ledger transfer,
//! found by the id derived from the order and the period, for the order's
//! amount), no other period of any order posted, nothing posted but the
//! mock chat's opening balances, those runs and the limits' bookkeeping, each due order moved on to
//! its next period, and each run's payer and payee told once (a delivered
//! outbox row each).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use anyhow::Context;
use bot::service::{limit_transfer_codes, transfer_codes};
use ledger::TransferId;
use serde::{Deserialize, Serialize};

use super::chat_check::DbOutbox;

/// Periods of each order looked for in the ledger: the due one (0) and
/// those after it, which must not be there.
pub(super) const PERIODS_LOOKED_FOR: u32 = 8;

/// One line of the `--standing` journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StandingEntry {
    /// Written before the order's `/pay` is sent.
    Asked {
        tag: String,
        payer: String,
        payee: String,
        cents: i64,
    },
    /// Written once its `/confirm` was answered (or the setup gave up).
    Order {
        tag: String,
        /// From the `/pay` answer.
        reference: Option<String>,
        /// The `/confirm` answer said it is set.
        set: bool,
        /// That answer named the run the test waits for as its first.
        due: bool,
    },
}

/// A standing order row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbOrder {
    pub reference: String,
    pub order_id: u128,
    pub payer_id: String,
    pub payee_id: String,
    pub amount: i64,
    pub memo: Option<String>,
    pub state: String,
    pub next_period: i64,
}

/// A ledger transfer, as much as this checker needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbPosted {
    pub id: u128,
    pub code: i64,
    pub amount: i64,
}

/// What the checker reads of the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StandingSnapshot {
    pub orders: Vec<DbOrder>,
    pub transfers: Vec<DbPosted>,
    pub outbox: Vec<DbOutbox>,
}

/// What the checker counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StandingTally {
    /// Orders whose confirmation said they are set.
    pub orders_set: u64,
    /// Of those, the ones due in the run.
    pub runs_due: u64,
    /// Standing-order runs found in the ledger.
    pub runs_posted: u64,
}

/// Something that must not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StandingViolation {
    /// Its payer was told it is set, but no order holds that reference.
    OrderLost { reference: String },
    /// A due run has no transfer.
    NotPosted { reference: String },
    /// A run was posted for another amount than the order's.
    WrongAmount {
        reference: String,
        posted: i64,
        ordered: i64,
    },
    /// A period that was not due (or an order never set) was posted.
    PostedNotDue { reference: String, period: u32 },
    /// A transfer that is neither an opening balance nor a due run.
    Unexplained { id: u128, code: i64 },
    /// A due order that did not move on to its next period.
    NotMovedOn {
        reference: String,
        state: String,
        next_period: i64,
    },
    /// A posted run's payer or payee was not told exactly once.
    NotToldOnce {
        reference: String,
        who: &'static str,
        times: usize,
    },
    /// The ledger's own invariants, or `paybot verify`.
    Verify(String),
}

impl fmt::Display for StandingViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StandingViolation::OrderLost { reference } => write!(
                f,
                "order {reference}: its payer was told it is set, but it is not stored"
            ),
            StandingViolation::NotPosted { reference } => {
                write!(f, "order {reference}: its due run was not posted")
            }
            StandingViolation::WrongAmount {
                reference,
                posted,
                ordered,
            } => write!(
                f,
                "order {reference}: a run posted {posted} minor units, the order says {ordered}"
            ),
            StandingViolation::PostedNotDue { reference, period } => write!(
                f,
                "order {reference}: period {period} was posted but was not due"
            ),
            StandingViolation::Unexplained { id, code } => write!(
                f,
                "transfer {id:032x} (code {code}) is neither an opening balance nor a due run"
            ),
            StandingViolation::NotMovedOn {
                reference,
                state,
                next_period,
            } => write!(
                f,
                "order {reference}: after its run it is {state} at period {next_period}, not 1"
            ),
            StandingViolation::NotToldOnce {
                reference,
                who,
                times,
            } => write!(
                f,
                "order {reference}: its {who} was told of the run {times} times (delivered)"
            ),
            StandingViolation::Verify(line) => write!(f, "verify: {line}"),
        }
    }
}

/// The ledger id of `order_id`'s run `period`, as the scheduler derives it.
fn run_id(order_id: u128, period: u32) -> Option<u128> {
    TransferId::new(order_id).map(|id| bot::service::run_transfer_id(id, period).as_u128())
}

/// Delivered outbox rows to `to` whose text passes `matches`.
fn told(
    outbox: &[(&DbOutbox, serde_json::Value)],
    to: &str,
    matches: &dyn Fn(&str) -> bool,
) -> usize {
    outbox
        .iter()
        .filter(|(row, payload)| {
            row.delivered
                && payload.get("to").and_then(|t| t.as_str()) == Some(to)
                && payload
                    .get("text")
                    .and_then(|t| t.as_str())
                    .is_some_and(matches)
        })
        .count()
}

/// The checker: the violations and the tally.
pub fn check_standing(
    journal: &[StandingEntry],
    db: &StandingSnapshot,
) -> (Vec<StandingViolation>, StandingTally) {
    let mut violations = Vec::new();
    let mut tally = StandingTally::default();
    // Reference -> due, for each order its payer was told is set.
    let mut set: HashMap<&str, bool> = HashMap::new();
    for entry in journal {
        if let StandingEntry::Order {
            reference: Some(reference),
            set: true,
            due,
            ..
        } = entry
        {
            set.insert(reference.as_str(), *due);
            tally.orders_set += 1;
            if *due {
                tally.runs_due += 1;
            }
        }
    }
    let orders: HashMap<&str, &DbOrder> = db
        .orders
        .iter()
        .map(|o| (o.reference.as_str(), o))
        .collect();
    let mut lost: Vec<&str> = set
        .keys()
        .copied()
        .filter(|r| !orders.contains_key(r))
        .collect();
    lost.sort_unstable();
    violations.extend(
        lost.into_iter()
            .map(|reference| StandingViolation::OrderLost {
                reference: reference.to_owned(),
            }),
    );

    let posted: HashMap<u128, &DbPosted> = db.transfers.iter().map(|t| (t.id, t)).collect();
    let outbox: Vec<(&DbOutbox, serde_json::Value)> = db
        .outbox
        .iter()
        .filter_map(|o| Some((o, serde_json::from_str(&o.payload).ok()?)))
        .collect();
    let mut explained: HashSet<u128> = HashSet::new();
    for order in &db.orders {
        let reference = order.reference.as_str();
        let due = set.get(reference).copied().unwrap_or(false);
        for period in 0..PERIODS_LOOKED_FOR {
            let Some(id) = run_id(order.order_id, period) else {
                continue;
            };
            let Some(run) = posted.get(&id) else {
                if due && period == 0 {
                    violations.push(StandingViolation::NotPosted {
                        reference: reference.to_owned(),
                    });
                }
                continue;
            };
            tally.runs_posted += 1;
            if !(due && period == 0) {
                violations.push(StandingViolation::PostedNotDue {
                    reference: reference.to_owned(),
                    period,
                });
                continue;
            }
            explained.insert(id);
            if run.amount != order.amount {
                violations.push(StandingViolation::WrongAmount {
                    reference: reference.to_owned(),
                    posted: run.amount,
                    ordered: order.amount,
                });
            }
            if order.state != "active" || order.next_period != 1 {
                violations.push(StandingViolation::NotMovedOn {
                    reference: reference.to_owned(),
                    state: order.state.clone(),
                    next_period: order.next_period,
                });
            }
            let memo = order.memo.as_deref().unwrap_or_default();
            let payee_told = told(&outbox, &order.payee_id, &|text| {
                text.contains("(a standing order)") && text.contains(&format!("“{memo}”"))
            });
            let payer_prefix = format!("Standing order {reference}: you paid");
            let payer_told = told(&outbox, &order.payer_id, &|text| {
                text.starts_with(&payer_prefix)
            });
            for (who, times) in [("payee", payee_told), ("payer", payer_told)] {
                if times != 1 {
                    violations.push(StandingViolation::NotToldOnce {
                        reference: reference.to_owned(),
                        who,
                        times,
                    });
                }
            }
        }
    }
    // The mock chat's play money, and the limits' bookkeeping on allowance
    // accounts (limits, not money: each run uses its payer's).
    let not_money = [
        transfer_codes::MOCK_OPENING,
        limit_transfer_codes::SET,
        limit_transfer_codes::USE,
    ]
    .map(i64::from);
    violations.extend(
        db.transfers
            .iter()
            .filter(|t| !not_money.contains(&t.code) && !explained.contains(&t.id))
            // A run of a period not due is reported above, by its order.
            .filter(|t| {
                !db.orders
                    .iter()
                    .any(|o| (0..PERIODS_LOOKED_FOR).any(|k| run_id(o.order_id, k) == Some(t.id)))
            })
            .map(|t| StandingViolation::Unexplained {
                id: t.id,
                code: t.code,
            }),
    );
    (violations, tally)
}

/// Reads a `--standing` journal.
pub(super) fn read_standing_journal(path: &Path) -> anyhow::Result<Vec<StandingEntry>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the journal {}", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("journal line {} is not an entry", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: u128 = 0x0193_0000_0000_7000_8000_0000_0000_0001;

    fn history() -> (Vec<StandingEntry>, StandingSnapshot) {
        let journal = vec![
            StandingEntry::Asked {
                tag: "so1".into(),
                payer: "u1".into(),
                payee: "u2".into(),
                cents: 12,
            },
            StandingEntry::Order {
                tag: "so1".into(),
                reference: Some("OABCDEF".into()),
                set: true,
                due: true,
            },
        ];
        let run = run_id(ORDER, 0).unwrap();
        let snapshot = StandingSnapshot {
            orders: vec![DbOrder {
                reference: "OABCDEF".into(),
                order_id: ORDER,
                payer_id: "u1".into(),
                payee_id: "u2".into(),
                amount: 12,
                memo: Some("so1".into()),
                state: "active".into(),
                next_period: 1,
            }],
            transfers: vec![
                DbPosted {
                    id: 7,
                    code: i64::from(transfer_codes::MOCK_OPENING),
                    amount: 10_000,
                },
                DbPosted {
                    id: run,
                    code: i64::from(transfer_codes::PAYMENT),
                    amount: 12,
                },
                DbPosted {
                    id: 8,
                    code: i64::from(limit_transfer_codes::USE),
                    amount: 12,
                },
            ],
            outbox: vec![
                DbOutbox {
                    id: 1,
                    payload: r#"{"to":"u2","text":"@u1 paid you $0.12 for “so1” (a standing order)."}"#
                        .into(),
                    delivered: true,
                },
                DbOutbox {
                    id: 2,
                    payload: r#"{"to":"u1","text":"Standing order OABCDEF: you paid @u2 $0.12 for “so1”. Next payment: tomorrow."}"#
                        .into(),
                    delivered: true,
                },
            ],
        };
        (journal, snapshot)
    }

    #[test]
    fn a_sound_history_has_no_violation() {
        let (journal, db) = history();
        let (violations, tally) = check_standing(&journal, &db);
        assert!(violations.is_empty(), "{violations:?}");
        assert_eq!(
            tally,
            StandingTally {
                orders_set: 1,
                runs_due: 1,
                runs_posted: 1
            }
        );
    }

    #[test]
    fn a_due_run_not_posted_is_reported() {
        let (journal, mut db) = history();
        db.transfers
            .retain(|t| t.code != i64::from(transfer_codes::PAYMENT));
        let (violations, _) = check_standing(&journal, &db);
        assert!(
            violations.contains(&StandingViolation::NotPosted {
                reference: "OABCDEF".into()
            }),
            "{violations:?}"
        );
    }

    #[test]
    fn a_second_period_or_a_stray_payment_is_reported() {
        let (journal, mut db) = history();
        db.transfers.push(DbPosted {
            id: run_id(ORDER, 1).unwrap(),
            code: i64::from(transfer_codes::PAYMENT),
            amount: 12,
        });
        db.transfers.push(DbPosted {
            id: 99,
            code: i64::from(transfer_codes::PAYMENT),
            amount: 5,
        });
        let (violations, _) = check_standing(&journal, &db);
        assert!(violations.contains(&StandingViolation::PostedNotDue {
            reference: "OABCDEF".into(),
            period: 1
        }));
        assert!(violations.contains(&StandingViolation::Unexplained { id: 99, code: 1 }));
        assert_eq!(violations.len(), 2, "{violations:?}");
    }

    #[test]
    fn an_order_never_set_must_not_run() {
        let (mut journal, db) = history();
        journal.retain(|e| matches!(e, StandingEntry::Asked { .. }));
        let (violations, _) = check_standing(&journal, &db);
        assert!(violations.contains(&StandingViolation::PostedNotDue {
            reference: "OABCDEF".into(),
            period: 0
        }));
    }

    #[test]
    fn a_payee_not_told_or_an_order_not_moved_on_is_reported() {
        let (journal, mut db) = history();
        db.outbox.retain(|o| o.id != 1);
        if let Some(order) = db.orders.first_mut() {
            order.next_period = 0;
        }
        let (violations, _) = check_standing(&journal, &db);
        assert!(violations.contains(&StandingViolation::NotToldOnce {
            reference: "OABCDEF".into(),
            who: "payee",
            times: 0
        }));
        assert!(
            violations
                .iter()
                .any(|v| matches!(v, StandingViolation::NotMovedOn { .. }))
        );
    }

    #[test]
    fn a_lost_order_is_reported() {
        let (journal, mut db) = history();
        db.orders.clear();
        db.transfers
            .retain(|t| t.code != i64::from(transfer_codes::PAYMENT));
        let (violations, _) = check_standing(&journal, &db);
        assert_eq!(
            violations,
            vec![StandingViolation::OrderLost {
                reference: "OABCDEF".into()
            }]
        );
    }

    #[test]
    fn journal_lines_read_back() {
        let (journal, _) = history();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let text: String = journal
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        std::fs::write(&path, text).unwrap();
        assert_eq!(read_standing_journal(&path).unwrap(), journal);
    }
}
