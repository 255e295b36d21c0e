//! Property test: random sequences of ledger operations run against a simple
//! in-memory model and against the real ledger (SQLite and PostgreSQL). After
//! every step both must agree on the outcome and on every account's totals,
//! and `verify` must find nothing.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]
#![allow(clippy::as_conversions)]

use std::collections::HashMap;
use std::time::Duration;

use ledger::testing::{TestBackend, TestDb};
use ledger::{
    AccountId, Amount, Clock, Currency, NewTransfer, Outcome, SubmitError, TransferError,
    TransferId, TransferKind,
};
use proptest::prelude::*;

const WALLETS: usize = 3;
const OPENING_MINOR: i64 = 1_000;
/// Slots for transfer ids: few enough that ids repeat and collide.
const ID_SLOTS: u8 = 12;

#[derive(Debug, Clone)]
enum Op {
    Single {
        id: u8,
        from: usize,
        to: usize,
        minor: i64,
    },
    Pending {
        id: u8,
        from: usize,
        to: usize,
        minor: i64,
        timeout_secs: u32,
    },
    Post {
        id: u8,
        pending: u8,
        minor: Option<i64>,
    },
    Void {
        id: u8,
        pending: u8,
    },
    Linked {
        a: (u8, usize, usize, i64),
        b: (u8, usize, usize, i64),
    },
    Advance {
        secs: u64,
    },
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    // Account index WALLETS is the issuance account (may go negative).
    let account = 0..=WALLETS;
    let minor = 1_i64..=700;
    let slot = 0..ID_SLOTS;
    let leg = (
        slot.clone(),
        account.clone(),
        account.clone(),
        minor.clone(),
    );
    prop_oneof![
        4 => (slot.clone(), account.clone(), account.clone(), minor.clone())
            .prop_map(|(id, from, to, minor)| Op::Single { id, from, to, minor }),
        3 => (slot.clone(), account.clone(), account.clone(), minor.clone(), 1_u32..=120)
            .prop_map(|(id, from, to, minor, timeout_secs)| Op::Pending { id, from, to, minor, timeout_secs }),
        3 => (slot.clone(), slot.clone(), proptest::option::of(minor.clone()))
            .prop_map(|(id, pending, minor)| Op::Post { id, pending, minor }),
        2 => (slot.clone(), slot.clone()).prop_map(|(id, pending)| Op::Void { id, pending }),
        1 => (leg.clone(), leg).prop_map(|(a, b)| Op::Linked { a, b }),
        1 => (1_u64..=90).prop_map(|secs| Op::Advance { secs }),
        1 => Just(Op::Sweep),
    ]
}

/// What a step produced, comparable between model and ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Created,
    Exists,
    Rejected(usize, TransferError),
    Expired(usize),
}

#[derive(Debug, Clone, PartialEq)]
struct MTransfer {
    kind: TransferKind,
    debit: usize,
    credit: usize,
    minor: i64,
    pending: Option<TransferId>,
    timeout_secs: u32,
    at_ms: i64,
}

/// The model: plain arrays and a map, written from the rules, not the engine.
#[derive(Debug, Clone)]
struct Model {
    /// Per account: debits_posted, credits_posted, debits_pending, credits_pending.
    totals: Vec<[i64; 4]>,
    transfers: HashMap<TransferId, MTransfer>,
    resolved: HashMap<TransferId, TransferKind>,
    now_ms: i64,
}

impl Model {
    fn no_overdraft(account: usize) -> bool {
        account < WALLETS
    }

    fn check_funds(&self, from: usize, to: usize, minor: i64) -> Result<(), TransferError> {
        if from == to {
            return Err(TransferError::SameAccount);
        }
        let [dp, cp, dq, _] = self.totals[from];
        if Self::no_overdraft(from) && dp + dq + minor > cp {
            return Err(TransferError::InsufficientFunds);
        }
        Ok(())
    }

    fn existing(&self, id: TransferId, want: &MTransfer) -> Option<Result<Seen, TransferError>> {
        let have = self.transfers.get(&id)?;
        let differ = |field| Some(Err(TransferError::ExistsWithDifferentField { field }));
        if have.kind != want.kind {
            return differ("kind");
        }
        if want.pending.is_none() {
            if have.debit != want.debit {
                return differ("debit_account_id");
            }
            if have.credit != want.credit {
                return differ("credit_account_id");
            }
            if have.minor != want.minor {
                return differ("amount");
            }
            if have.timeout_secs != want.timeout_secs {
                return differ("timeout_secs");
            }
        } else {
            if have.pending != want.pending {
                return differ("pending_id");
            }
            // minor == 0 stands for "the whole pending amount".
            let asked = if want.minor == 0 {
                self.transfers.get(&want.pending?).map_or(-1, |p| p.minor)
            } else {
                want.minor
            };
            if want.kind == TransferKind::Post && asked != have.minor {
                return differ("amount");
            }
        }
        Some(Ok(Seen::Exists))
    }

    fn single_or_pending(&mut self, id: TransferId, t: MTransfer) -> Result<Seen, TransferError> {
        if let Some(seen) = self.existing(id, &t) {
            return seen;
        }
        if t.kind == TransferKind::Pending && t.timeout_secs == 0 {
            return Err(TransferError::InvalidTimeout);
        }
        self.check_funds(t.debit, t.credit, t.minor)?;
        let (d, c) = if t.kind == TransferKind::Single {
            (0, 1)
        } else {
            (2, 3)
        };
        self.totals[t.debit][d] += t.minor;
        self.totals[t.credit][c] += t.minor;
        self.transfers.insert(
            id,
            MTransfer {
                at_ms: self.now_ms,
                ..t
            },
        );
        Ok(Seen::Created)
    }

    fn resolve(
        &mut self,
        id: TransferId,
        pending_id: TransferId,
        kind: TransferKind,
        minor: Option<i64>,
    ) -> Result<Seen, TransferError> {
        let want = MTransfer {
            kind,
            debit: 0,
            credit: 0,
            minor: minor.unwrap_or(0),
            pending: Some(pending_id),
            timeout_secs: 0,
            at_ms: 0,
        };
        if let Some(seen) = self.existing(id, &want) {
            return seen;
        }
        let p = self
            .transfers
            .get(&pending_id)
            .ok_or(TransferError::PendingNotFound(pending_id))?;
        if p.kind != TransferKind::Pending {
            return Err(TransferError::NotPending(pending_id));
        }
        match self.resolved.get(&pending_id) {
            Some(TransferKind::Post) => return Err(TransferError::AlreadyPosted),
            Some(TransferKind::Void) => return Err(TransferError::AlreadyVoided),
            Some(_) => return Err(TransferError::AlreadyExpired),
            None => {}
        }
        let expires = p.at_ms + i64::from(p.timeout_secs) * 1000;
        if kind == TransferKind::Expire {
            if self.now_ms < expires {
                return Err(TransferError::NotExpiredYet);
            }
        } else if self.now_ms >= expires {
            return Err(TransferError::AlreadyExpired);
        }
        let posted = if kind == TransferKind::Post {
            minor.unwrap_or(p.minor)
        } else {
            0
        };
        if posted > p.minor {
            return Err(TransferError::ExceedsPendingAmount);
        }
        let (debit, credit, reserved) = (p.debit, p.credit, p.minor);
        self.totals[debit][2] -= reserved;
        self.totals[credit][3] -= reserved;
        self.totals[debit][0] += posted;
        self.totals[credit][1] += posted;
        let recorded = if kind == TransferKind::Post {
            posted
        } else {
            reserved
        };
        self.transfers.insert(
            id,
            MTransfer {
                debit,
                credit,
                minor: recorded,
                at_ms: self.now_ms,
                ..want
            },
        );
        self.resolved.insert(pending_id, kind);
        Ok(Seen::Created)
    }

    fn sweep(&mut self) -> usize {
        let mut due: Vec<TransferId> = self
            .transfers
            .iter()
            .filter(|(id, t)| {
                t.kind == TransferKind::Pending
                    && !self.resolved.contains_key(id)
                    && self.now_ms >= t.at_ms + i64::from(t.timeout_secs) * 1000
            })
            .map(|(id, _)| *id)
            .collect();
        due.sort();
        for pending in &due {
            let expire = NewTransfer::expire(*pending);
            self.resolve(expire.id, *pending, TransferKind::Expire, None)
                .unwrap();
        }
        due.len()
    }
}

struct Harness {
    db: TestDb,
    accounts: Vec<AccountId>,
    id_base: u128,
    model: Model,
}

impl Harness {
    async fn new(backend: TestBackend) -> Option<Harness> {
        let db = TestDb::fresh(backend).await?;
        let mut accounts = Vec::new();
        for i in 0..WALLETS {
            let wallet = db.wallet(&format!("user{i}"), Currency::USD).await;
            db.fund(wallet, usd(OPENING_MINOR)).await;
            accounts.push(wallet);
        }
        let issuance = db.issuance(Currency::USD).await;
        accounts.push(issuance);
        let mut totals = vec![[0, OPENING_MINOR, 0, 0]; WALLETS];
        totals.push([OPENING_MINOR * WALLETS as i64, 0, 0, 0]);
        let model = Model {
            totals,
            transfers: HashMap::new(),
            resolved: HashMap::new(),
            now_ms: db.clock.now_ms(),
        };
        Some(Harness {
            db,
            accounts,
            id_base: rand::random::<u128>() | 1 << 127,
            model,
        })
    }

    fn id(&self, slot: u8) -> TransferId {
        TransferId::new(self.id_base + u128::from(slot)).unwrap()
    }

    fn single(&self, id: u8, from: usize, to: usize, minor: i64) -> NewTransfer {
        NewTransfer::single(
            self.id(id),
            self.accounts[from],
            self.accounts[to],
            usd(minor),
        )
    }

    fn m(&self, kind: TransferKind, from: usize, to: usize, minor: i64, timeout: u32) -> MTransfer {
        MTransfer {
            kind,
            debit: from,
            credit: to,
            minor,
            pending: None,
            timeout_secs: timeout,
            at_ms: 0,
        }
    }

    async fn step(&mut self, op: &Op) -> (Seen, Seen) {
        let ledger = self.db.ledger.clone();
        let observe = |r: Result<Outcome, SubmitError>| match r {
            Ok(Outcome::Created(_)) => Seen::Created,
            Ok(Outcome::Exists(_)) => Seen::Exists,
            Err(SubmitError::Rejected { index, error }) => Seen::Rejected(index, error),
            Err(e) => panic!("store error: {e}"),
        };
        let expected = |r: Result<Seen, TransferError>| r.unwrap_or_else(|e| Seen::Rejected(0, e));
        match op.clone() {
            Op::Single {
                id,
                from,
                to,
                minor,
            } => {
                let got = observe(ledger.submit(self.single(id, from, to, minor)).await);
                let want = self.model.single_or_pending(
                    self.id(id),
                    self.m(TransferKind::Single, from, to, minor, 0),
                );
                (got, expected(want))
            }
            Op::Pending {
                id,
                from,
                to,
                minor,
                timeout_secs,
            } => {
                let t = NewTransfer::pending(
                    self.id(id),
                    self.accounts[from],
                    self.accounts[to],
                    usd(minor),
                    timeout_secs,
                );
                let got = observe(ledger.submit(t).await);
                let want = self.model.single_or_pending(
                    self.id(id),
                    self.m(TransferKind::Pending, from, to, minor, timeout_secs),
                );
                (got, expected(want))
            }
            Op::Post { id, pending, minor } => {
                let t = NewTransfer::post(self.id(id), self.id(pending), minor.map(usd));
                let got = observe(ledger.submit(t).await);
                let want =
                    self.model
                        .resolve(self.id(id), self.id(pending), TransferKind::Post, minor);
                (got, expected(want))
            }
            Op::Void { id, pending } => {
                let got = observe(
                    ledger
                        .submit(NewTransfer::void(self.id(id), self.id(pending)))
                        .await,
                );
                let want =
                    self.model
                        .resolve(self.id(id), self.id(pending), TransferKind::Void, None);
                (got, expected(want))
            }
            Op::Linked { a, b } => {
                let group = vec![
                    self.single(a.0, a.1, a.2, a.3),
                    self.single(b.0, b.1, b.2, b.3),
                ];
                let got = match ledger.submit_linked(group).await {
                    Ok(outcomes) => {
                        let created = outcomes.iter().filter(|o| matches!(o, Outcome::Created(_)));
                        if created.count() == 2 {
                            Seen::Created
                        } else {
                            Seen::Exists
                        }
                    }
                    Err(SubmitError::Rejected { index, error }) => Seen::Rejected(index, error),
                    Err(e) => panic!("store error: {e}"),
                };
                let want = if a.0 == b.0 {
                    Seen::Rejected(1, TransferError::DuplicateIdInBatch)
                } else {
                    let before = self.model.clone();
                    let first = self.model.single_or_pending(
                        self.id(a.0),
                        self.m(TransferKind::Single, a.1, a.2, a.3, 0),
                    );
                    let second = first.clone().and_then(|_| {
                        self.model.single_or_pending(
                            self.id(b.0),
                            self.m(TransferKind::Single, b.1, b.2, b.3, 0),
                        )
                    });
                    match (first, second) {
                        (Ok(Seen::Created), Ok(Seen::Created)) => Seen::Created,
                        (Ok(_), Ok(_)) => Seen::Exists,
                        (Err(e), _) => {
                            self.model = before;
                            Seen::Rejected(0, e)
                        }
                        (Ok(_), Err(e)) => {
                            self.model = before;
                            Seen::Rejected(1, e)
                        }
                    }
                };
                (got, want)
            }
            Op::Advance { secs } => {
                self.db.clock.advance(Duration::from_secs(secs));
                self.model.now_ms = self.db.clock.now_ms();
                (Seen::Created, Seen::Created)
            }
            Op::Sweep => {
                let got = Seen::Expired(ledger.expire_due().await.unwrap().len());
                (got, Seen::Expired(self.model.sweep()))
            }
        }
    }

    async fn check_state(&self, step: usize, op: &Op) {
        for (i, id) in self.accounts.iter().enumerate() {
            let a = self.db.ledger.account(*id).await.unwrap().unwrap();
            let got = [
                a.debits_posted,
                a.credits_posted,
                a.debits_pending,
                a.credits_pending,
            ];
            assert_eq!(
                got, self.model.totals[i],
                "account {i} after step {step} ({op:?})"
            );
        }
        let violations = self.db.ledger.verify().await.unwrap();
        assert!(
            violations.is_empty(),
            "after step {step} ({op:?}): {violations:?}"
        );
    }
}

fn usd(minor: i64) -> Amount {
    Amount::from_minor(minor, Currency::USD).unwrap()
}

fn run_case(backend: TestBackend, ops: Vec<Op>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let Some(mut h) = Harness::new(backend).await else {
            return;
        };
        for (step, op) in ops.iter().enumerate() {
            let (got, want) = h.step(op).await;
            assert_eq!(got, want, "step {step}: {op:?}");
            h.check_state(step, op).await;
        }
        h.db.cleanup().await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 200, ..ProptestConfig::default() })]
    #[test]
    fn sqlite_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        run_case(TestBackend::Sqlite, ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 100, ..ProptestConfig::default() })]
    #[test]
    fn postgres_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        run_case(TestBackend::Postgres, ops);
    }
}
