//! The ledger's state machine: pure, no I/O.
//!
//! A backend loads what a batch touches (its accounts, under lock; the
//! transfers its ids and pending ids name; how those pending transfers were
//! resolved) into a [`State`], calls [`State::apply_group`] for each linked
//! group in submission order, then writes [`State::new_transfers`] and
//! [`State::account_deltas`] in the same database transaction. Every rule of
//! the ledger lives here, once, for both backends.

use std::collections::HashMap;

use crate::money::Amount;
use crate::types::{
    Account, AccountId, NewTransfer, Outcome, PENDING_TIMEOUT_SECS_MAX, Transfer, TransferError,
    TransferId, TransferKind, TransferOp,
};

/// The most transfers in one linked group.
pub const LINKED_TRANSFERS_MAX: usize = 64;

/// Changes to one account's four totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Deltas {
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub debits_pending: i64,
    pub credits_pending: i64,
}

enum Undo {
    Account(Box<Account>),
    Transfer(TransferId),
    Resolution(TransferId),
}

/// What a batch sees of the ledger, and what it has changed so far.
#[derive(Debug, Default)]
pub(crate) struct State {
    accounts: HashMap<AccountId, Account>,
    original: HashMap<AccountId, Account>,
    transfers: HashMap<TransferId, Transfer>,
    resolutions: HashMap<TransferId, TransferKind>,
    new_transfers: Vec<Transfer>,
}

impl std::fmt::Debug for Undo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Undo")
    }
}

pub(crate) type GroupResult = Result<Vec<Outcome>, (usize, TransferError)>;

impl State {
    pub(crate) fn new(
        accounts: impl IntoIterator<Item = Account>,
        transfers: impl IntoIterator<Item = Transfer>,
        resolutions: impl IntoIterator<Item = (TransferId, TransferKind)>,
    ) -> State {
        let accounts: HashMap<_, _> = accounts.into_iter().map(|a| (a.id, a)).collect();
        State {
            original: accounts.clone(),
            accounts,
            transfers: transfers.into_iter().map(|t| (t.id, t)).collect(),
            resolutions: resolutions.into_iter().collect(),
            new_transfers: Vec::new(),
        }
    }

    /// Transfers recorded by this batch, in order.
    pub(crate) fn new_transfers(&self) -> &[Transfer] {
        &self.new_transfers
    }

    /// Every account the batch loaded, with its totals as the batch left
    /// them.
    pub(crate) fn into_accounts(self) -> impl Iterator<Item = Account> {
        self.accounts.into_values()
    }

    /// How each touched account's totals changed, sorted by account id.
    pub(crate) fn account_deltas(&self) -> Vec<(AccountId, Deltas)> {
        let mut deltas: Vec<_> = self
            .accounts
            .values()
            .filter_map(|now| {
                let before = self.original.get(&now.id)?;
                let d = Deltas {
                    debits_posted: now.debits_posted - before.debits_posted,
                    credits_posted: now.credits_posted - before.credits_posted,
                    debits_pending: now.debits_pending - before.debits_pending,
                    credits_pending: now.credits_pending - before.credits_pending,
                };
                (d != Deltas::default()).then_some((now.id, d))
            })
            .collect();
        deltas.sort_by_key(|(id, _)| *id);
        deltas
    }

    /// Applies a linked group: every transfer succeeds, or none does and the
    /// state is as before. On failure, the index and error of the first
    /// transfer that failed.
    pub(crate) fn apply_group(&mut self, group: &[NewTransfer], now_ms: i64) -> GroupResult {
        if group.is_empty() || group.len() > LINKED_TRANSFERS_MAX {
            return Err((
                0,
                TransferError::InvalidBatchSize {
                    max: LINKED_TRANSFERS_MAX,
                },
            ));
        }
        for (i, t) in group.iter().enumerate() {
            if group.iter().take(i).any(|earlier| earlier.id == t.id) {
                return Err((i, TransferError::DuplicateIdInBatch));
            }
        }
        let mut undo = Vec::new();
        let new_len = self.new_transfers.len();
        let mut outcomes = Vec::with_capacity(group.len());
        for (i, t) in group.iter().enumerate() {
            match self.apply_one(t, now_ms, &mut undo) {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    self.rollback(undo, new_len);
                    return Err((i, e));
                }
            }
        }
        Ok(outcomes)
    }

    fn rollback(&mut self, undo: Vec<Undo>, new_len: usize) {
        for step in undo.into_iter().rev() {
            match step {
                Undo::Account(before) => {
                    self.accounts.insert(before.id, *before);
                }
                Undo::Transfer(id) => {
                    self.transfers.remove(&id);
                }
                Undo::Resolution(id) => {
                    self.resolutions.remove(&id);
                }
            }
        }
        self.new_transfers.truncate(new_len);
    }

    fn apply_one(
        &mut self,
        t: &NewTransfer,
        now_ms: i64,
        undo: &mut Vec<Undo>,
    ) -> Result<Outcome, TransferError> {
        if let Some(existing) = self.transfers.get(&t.id) {
            return self
                .compare_existing(t, existing)
                .map(|()| Outcome::Exists(existing.clone()));
        }
        let transfer = match &t.op {
            TransferOp::Single {
                debit,
                credit,
                amount,
            } => {
                self.check_credit_balance(t, *credit, *amount)?;
                self.move_funds(*debit, *credit, *amount, Phase::Posted, undo)?;
                self.record(
                    t,
                    TransferKind::Single,
                    *debit,
                    *credit,
                    *amount,
                    None,
                    0,
                    now_ms,
                )
            }
            TransferOp::Pending {
                debit,
                credit,
                amount,
                timeout_secs,
            } => {
                if *timeout_secs == 0 || *timeout_secs > PENDING_TIMEOUT_SECS_MAX {
                    return Err(TransferError::InvalidTimeout);
                }
                self.check_credit_balance(t, *credit, *amount)?;
                self.move_funds(*debit, *credit, *amount, Phase::Pending, undo)?;
                self.record(
                    t,
                    TransferKind::Pending,
                    *debit,
                    *credit,
                    *amount,
                    None,
                    *timeout_secs,
                    now_ms,
                )
            }
            TransferOp::Post { pending_id, amount } => {
                let pending = self.open_pending(*pending_id, now_ms)?;
                let posted = amount.unwrap_or(pending.amount);
                if posted.currency() != pending.amount.currency() {
                    return Err(TransferError::CurrencyMismatch);
                }
                if posted.minor() > pending.amount.minor() {
                    return Err(TransferError::ExceedsPendingAmount);
                }
                self.release(&pending, undo)?;
                self.move_funds(
                    pending.debit_account_id,
                    pending.credit_account_id,
                    posted,
                    Phase::Posted,
                    undo,
                )?;
                self.resolve(&pending, TransferKind::Post, t, posted, now_ms, undo)
            }
            TransferOp::Void { pending_id } => {
                let pending = self.open_pending(*pending_id, now_ms)?;
                self.release(&pending, undo)?;
                self.resolve(
                    &pending,
                    TransferKind::Void,
                    t,
                    pending.amount,
                    now_ms,
                    undo,
                )
            }
            TransferOp::Expire { pending_id } => {
                let pending = self.unresolved_pending(*pending_id)?;
                if pending.expires_at_ms().is_some_and(|at| now_ms < at) {
                    return Err(TransferError::NotExpiredYet);
                }
                self.release(&pending, undo)?;
                self.resolve(
                    &pending,
                    TransferKind::Expire,
                    t,
                    pending.amount,
                    now_ms,
                    undo,
                )
            }
        };
        self.transfers.insert(transfer.id, transfer.clone());
        undo.push(Undo::Transfer(transfer.id));
        self.new_transfers.push(transfer.clone());
        Ok(Outcome::Created(transfer))
    }

    /// The transfer's [`NewTransfer::credit_balance_max`] condition: the
    /// credit account's posted credits plus pending credits minus posted
    /// debits, after `amount` comes in, may not exceed it.
    fn check_credit_balance(
        &self,
        t: &NewTransfer,
        credit: AccountId,
        amount: Amount,
    ) -> Result<(), TransferError> {
        let Some(max) = t.credit_balance_max else {
            return Ok(());
        };
        let c = self
            .accounts
            .get(&credit)
            .ok_or(TransferError::UnknownAccount(credit))?;
        let after = c
            .credits_posted
            .checked_add(c.credits_pending)
            .and_then(|v| v.checked_sub(c.debits_posted))
            .and_then(|v| v.checked_add(amount.minor()))
            .ok_or(TransferError::Overflow)?;
        if after > max {
            return Err(TransferError::CreditBalanceExceeded);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        t: &NewTransfer,
        kind: TransferKind,
        debit: AccountId,
        credit: AccountId,
        amount: Amount,
        pending_id: Option<TransferId>,
        timeout_secs: u32,
        now_ms: i64,
    ) -> Transfer {
        Transfer {
            id: t.id,
            kind,
            debit_account_id: debit,
            credit_account_id: credit,
            amount,
            pending_id,
            timeout_secs,
            code: t.code,
            timestamp_ms: now_ms,
        }
    }

    fn resolve(
        &mut self,
        pending: &Transfer,
        kind: TransferKind,
        t: &NewTransfer,
        amount: Amount,
        now_ms: i64,
        undo: &mut Vec<Undo>,
    ) -> Transfer {
        self.resolutions.insert(pending.id, kind);
        undo.push(Undo::Resolution(pending.id));
        self.record(
            t,
            kind,
            pending.debit_account_id,
            pending.credit_account_id,
            amount,
            Some(pending.id),
            0,
            now_ms,
        )
    }

    /// A pending transfer that is neither resolved nor past its timeout.
    fn open_pending(&self, id: TransferId, now_ms: i64) -> Result<Transfer, TransferError> {
        let pending = self.unresolved_pending(id)?;
        if pending.expires_at_ms().is_some_and(|at| now_ms >= at) {
            return Err(TransferError::AlreadyExpired);
        }
        Ok(pending)
    }

    fn unresolved_pending(&self, id: TransferId) -> Result<Transfer, TransferError> {
        let pending = self
            .transfers
            .get(&id)
            .ok_or(TransferError::PendingNotFound(id))?;
        if pending.kind != TransferKind::Pending {
            return Err(TransferError::NotPending(id));
        }
        match self.resolutions.get(&id) {
            None => Ok(pending.clone()),
            Some(TransferKind::Post) => Err(TransferError::AlreadyPosted),
            Some(TransferKind::Void) => Err(TransferError::AlreadyVoided),
            Some(_) => Err(TransferError::AlreadyExpired),
        }
    }

    /// Takes a pending transfer's reservation off both accounts.
    fn release(&mut self, pending: &Transfer, undo: &mut Vec<Undo>) -> Result<(), TransferError> {
        let amount = pending.amount.minor();
        self.update(pending.debit_account_id, undo, |a| {
            a.debits_pending = a.debits_pending.checked_sub(amount).filter(|v| *v >= 0)?;
            Some(())
        })?;
        self.update(pending.credit_account_id, undo, |a| {
            a.credits_pending = a.credits_pending.checked_sub(amount).filter(|v| *v >= 0)?;
            Some(())
        })
    }

    fn move_funds(
        &mut self,
        debit: AccountId,
        credit: AccountId,
        amount: Amount,
        phase: Phase,
        undo: &mut Vec<Undo>,
    ) -> Result<(), TransferError> {
        if debit == credit {
            return Err(TransferError::SameAccount);
        }
        let d = self
            .accounts
            .get(&debit)
            .ok_or(TransferError::UnknownAccount(debit))?;
        let c = self
            .accounts
            .get(&credit)
            .ok_or(TransferError::UnknownAccount(credit))?;
        if d.currency != amount.currency() || c.currency != amount.currency() {
            return Err(TransferError::CurrencyMismatch);
        }
        let minor = amount.minor();
        if d.flags.no_overdraft() {
            let spent = d
                .debits_posted
                .checked_add(d.debits_pending)
                .and_then(|v| v.checked_add(minor))
                .ok_or(TransferError::Overflow)?;
            if spent > d.credits_posted {
                return Err(TransferError::InsufficientFunds);
            }
        }
        self.update(debit, undo, |a| {
            let total = match phase {
                Phase::Posted => &mut a.debits_posted,
                Phase::Pending => &mut a.debits_pending,
            };
            *total = total.checked_add(minor)?;
            Some(())
        })?;
        self.update(credit, undo, |a| {
            let total = match phase {
                Phase::Posted => &mut a.credits_posted,
                Phase::Pending => &mut a.credits_pending,
            };
            *total = total.checked_add(minor)?;
            Some(())
        })
    }

    /// Changes one account, remembering how it was. `change` returns `None`
    /// on arithmetic overflow, which leaves the account untouched.
    fn update(
        &mut self,
        id: AccountId,
        undo: &mut Vec<Undo>,
        change: impl FnOnce(&mut Account) -> Option<()>,
    ) -> Result<(), TransferError> {
        let account = self
            .accounts
            .get_mut(&id)
            .ok_or(TransferError::UnknownAccount(id))?;
        let mut next = account.clone();
        change(&mut next).ok_or(TransferError::Overflow)?;
        undo.push(Undo::Account(Box::new(std::mem::replace(account, next))));
        Ok(())
    }

    /// Same id again: "exists" when every field matches, otherwise the
    /// first field that differs.
    fn compare_existing(&self, t: &NewTransfer, existing: &Transfer) -> Result<(), TransferError> {
        let differ = |field| Err(TransferError::ExistsWithDifferentField { field });
        if existing.kind != t.kind() {
            return differ("kind");
        }
        match &t.op {
            TransferOp::Single {
                debit,
                credit,
                amount,
            }
            | TransferOp::Pending {
                debit,
                credit,
                amount,
                ..
            } => {
                if existing.debit_account_id != *debit {
                    return differ("debit_account_id");
                }
                if existing.credit_account_id != *credit {
                    return differ("credit_account_id");
                }
                if existing.amount != *amount {
                    return differ("amount");
                }
                if let TransferOp::Pending { timeout_secs, .. } = &t.op
                    && existing.timeout_secs != *timeout_secs
                {
                    return differ("timeout_secs");
                }
            }
            TransferOp::Post { pending_id, amount } => {
                if existing.pending_id != Some(*pending_id) {
                    return differ("pending_id");
                }
                let asked = match amount {
                    Some(a) => Some(*a),
                    None => self.transfers.get(pending_id).map(|p| p.amount),
                };
                if asked != Some(existing.amount) {
                    return differ("amount");
                }
            }
            TransferOp::Void { pending_id } | TransferOp::Expire { pending_id } => {
                if existing.pending_id != Some(*pending_id) {
                    return differ("pending_id");
                }
            }
        }
        if existing.code != t.code {
            return differ("code");
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Phase {
    Posted,
    Pending,
}
