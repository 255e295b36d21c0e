//! Verification-tier limits, enforced by the ledger in the same commit as
//! the money they limit; `/limits`; the operator's report.
//!
//! The design decision to know (TigerBeetle's rate-limiting recipe): each
//! windowed limit of a user in a currency is an allowance account
//! ([`AccountKind::Allowance`], never overdrawn, owner
//! `allowance:<user>:<limit>`) credited with the limit from the currency's
//! [`AccountKind::AllowanceSource`]. A movement is submitted linked with
//! one pending transfer per applicable allowance whose timeout is the
//! window: the database refuses the whole group when one allowance would
//! be overdrawn, and the ledger's sweeper expires each use when its window
//! has passed, which gives the allowance back by itself. Ids derive from
//! the movement's transfer id and the limit, so a retry uses nothing twice
//! and a cancelled movement releases exactly its own uses. The balance cap
//! is the movement's own condition ([`NewTransfer::with_credit_balance_max`]);
//! the single payment a plain comparison.
//!
//! Reconciling: before each use (and from [`Bot::reconcile_limits`]) an
//! allowance's credited amount is brought to the current limit: credited up
//! by the difference, or debited down by what is available now. Down, what
//! is in use stays in use, so what is left is at once `limit - used` (never
//! more), and the credited amount converges to the limit as those uses
//! expire (each later reconcile debits what came back). Reconcile transfer
//! ids derive from the totals they were computed from, so two racing
//! reconciles of one allowance credit it once.
//!
//! Round trips: a new user's allowances in their currency are set up by
//! `/start`, together (`Bot::set_up_limits`), so that their first payment
//! waits for none of it; an allowance already brought to the current limit
//! by this process (`AllowanceCache`) is used without a read. Uses past their
//! window are expired by the ledger's sweeper; when an allowance refuses a
//! movement before the sweeper got to them, they are expired here, the
//! allowance is reconciled and the movement submitted once more.

mod refusal;
mod report;

use ledger::{
    Account, AccountId, AccountKind, Amount, Currency, NewAccount, NewTransfer, Outcome, OwnerRef,
    SubmitError, TransferError, TransferId, TransferKind, Unit,
};

use super::account::owner_of;
use super::texts::limits as texts;
use super::{Bot, Result};
use crate::limits::utc_minute_text;
use crate::store::{CardOp, CardOpKind, UserId};
use crate::trust::Tier;
use crate::trust::limits::{CurrencyLimits, LimitKind};

/// The ledger's `code` of limit transfers.
pub mod limit_transfer_codes {
    /// Credits or debits an allowance to its limit.
    pub const SET: u16 = 40;
    /// One movement's use of an allowance (pending for the window).
    pub const USE: u16 = 41;
}

/// Most currencies `/limits` and the report list.
pub const LIMITS_CURRENCIES_MAX: usize = 16;
/// Most uses of one allowance read at once (to find what is past its
/// window, and when the next frees up).
pub const USES_READ_MAX: u32 = 500;

/// One limit of one user in one currency, as the operator and `/limits`
/// see it. Amounts in minor units of `currency`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitLine {
    pub kind: LimitKind,
    pub currency: Currency,
    pub limit: i64,
    /// In the window now (windowed limits), held now (balance), 0 (single
    /// payment).
    pub used: i64,
    pub left: i64,
    /// When the soonest use in the window expires (windowed limits with
    /// usage).
    pub frees_at_ms: Option<i64>,
}

/// What a movement asks of the limits, once checked: the allowance uses to
/// submit with it and the payee's balance cap.
#[derive(Debug, Default)]
pub(super) struct LimitPlan {
    uses: Vec<Use>,
    /// The payee's balance cap and whose it is.
    balance_max: Option<(UserId, i64)>,
    /// How many transfers of the group are the movement's own (set by
    /// [`LimitPlan::group`]).
    moves: usize,
}

#[derive(Debug)]
struct Use {
    user: UserId,
    kind: LimitKind,
    limit: Amount,
    account: AccountId,
    transfer: NewTransfer,
}

/// Who is moving what, for [`Bot::plan_limits`].
pub(super) struct Movement<'a> {
    /// The movement's own transfer id: limit transfer ids derive from it.
    pub transfer_id: TransferId,
    pub amount: Amount,
    /// The user whose own limits apply (payer, casher-out, topper-up).
    pub user: UserId,
    /// The user's windowed limits that apply.
    pub kinds: &'a [LimitKind],
    /// Also the single-payment limit.
    pub single: bool,
    /// The user whose balance cap applies to the credit (top-up: the user;
    /// payment: the payee).
    pub balance_of: Option<UserId>,
    /// The payee of a payment to a known user, with their label.
    pub payee: Option<(UserId, &'a str)>,
    /// For the audit log: the reference or id of what is moved.
    pub subject: &'a str,
}

/// The limits a payment may use (the payee's only when known): what its
/// cancellation releases.
pub(super) const PAYMENT_KINDS: [LimitKind; 4] = [
    LimitKind::Sent24h,
    LimitKind::Sent7d,
    LimitKind::Sent30d,
    LimitKind::Received30d,
];

/// A payment of `amount` from `payer` to `payee` (a known user with their
/// label; `None`: escrow for someone not yet known, of whom nothing is
/// checked).
pub(super) fn payment_movement<'a>(
    transfer_id: TransferId,
    amount: Amount,
    payer: UserId,
    payee: Option<(UserId, &'a str)>,
    subject: &'a str,
) -> Movement<'a> {
    Movement {
        transfer_id,
        amount,
        user: payer,
        kinds: &LimitKind::SENT,
        single: true,
        balance_of: payee.map(|(user, _)| user),
        payee,
        subject,
    }
}

/// Most allowances [`AllowanceCache`] remembers; past it, it starts over.
pub const ALLOWANCE_CACHE_ENTRIES_MAX: usize = 100_000;

/// Which allowance: whose, which limit, which currency.
type AllowanceKey = (UserId, LimitKind, Currency);

/// The allowance accounts this process has opened, and the limit each was
/// last brought to: a movement whose limit is unchanged needs no read
/// before it submits (only reconciles change what an allowance is
/// credited with; uses are pending transfers).
#[derive(Debug, Default)]
pub(super) struct AllowanceCache(
    std::sync::Mutex<std::collections::HashMap<AllowanceKey, (AccountId, i64)>>,
);

impl AllowanceCache {
    fn get(&self, key: AllowanceKey) -> Option<(AccountId, i64)> {
        self.0.lock().ok()?.get(&key).copied()
    }

    fn put(&self, key: AllowanceKey, value: (AccountId, i64)) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= ALLOWANCE_CACHE_ENTRIES_MAX {
                map.clear();
            }
            map.insert(key, value);
        }
    }
}

/// What a cash-out uses (and its release gives back).
pub(super) const CASHOUT_KINDS: [LimitKind; 1] = [LimitKind::CashOut24h];
/// What a top-up uses (and its release gives back).
pub(super) const TOPUP_KINDS: [LimitKind; 1] = [LimitKind::TopUp24h];

/// A card operation of `amount` by `user`: a cash-out uses its 24-hour
/// allowance; a top-up its own, and may not take the wallet over its
/// balance cap.
pub(super) fn card_movement<'a>(
    kind: CardOpKind,
    transfer_id: TransferId,
    amount: Amount,
    user: UserId,
    subject: &'a str,
) -> Movement<'a> {
    let (kinds, balance_of): (&'static [LimitKind], _) = match kind {
        CardOpKind::CashOut => (&CASHOUT_KINDS, None),
        CardOpKind::TopUp => (&TOPUP_KINDS, Some(user)),
    };
    Movement {
        transfer_id,
        amount,
        user,
        kinds,
        single: false,
        balance_of,
        payee: None,
        subject,
    }
}

/// A limit's use by a movement: its derived id, stored beside the
/// movement's in the ledger's id index.
fn use_id(movement: TransferId, kind: LimitKind) -> TransferId {
    TransferId::derive_beside(
        movement,
        &format!("paybot.bot.limits.use.{}", kind.name()),
        &movement.as_u128().to_be_bytes(),
    )
}

/// [`use_id`] as paybot derived it before uses were stored beside their
/// movement: a movement started by an older paybot, cancelled after an
/// upgrade, has its uses under these ids.
fn legacy_use_id(movement: TransferId, kind: LimitKind) -> TransferId {
    TransferId::derive(
        &format!("paybot.bot.limits.use.{}", kind.name()),
        &movement.as_u128().to_be_bytes(),
    )
}

fn allowance_owner(
    user: UserId,
    kind: LimitKind,
) -> std::result::Result<OwnerRef, ledger::LedgerError> {
    OwnerRef::new(format!("allowance:{}:{}", user.0, kind.name()))
}

/// What is left of an allowance now (never below zero).
fn available(account: &Account) -> i64 {
    account
        .credits_posted
        .saturating_sub(account.debits_posted)
        .saturating_sub(account.debits_pending)
        .max(0)
}

impl LimitPlan {
    /// The movement's transfers followed by the allowance uses, with the
    /// balance cap as the first transfer's condition.
    pub(super) fn group(&mut self, movement: Vec<NewTransfer>) -> Vec<NewTransfer> {
        self.moves = movement.len();
        let mut group: Vec<NewTransfer> = movement
            .into_iter()
            .enumerate()
            .map(|(i, t)| match self.balance_max {
                Some((_, max)) if i == 0 => t.with_credit_balance_max(max),
                _ => t,
            })
            .collect();
        group.extend(self.uses.iter().map(|u| u.transfer.clone()));
        group
    }
}

impl Bot {
    /// The limits table of `user` in `currency`, with their tier.
    async fn limits_table(
        &self,
        user: UserId,
        currency: Currency,
    ) -> Result<(Tier, Option<CurrencyLimits>)> {
        let tier = self.tier_of(user).await?;
        Ok((
            tier,
            self.config.trust.limits.table(tier, currency).copied(),
        ))
    }

    /// The most `user` may hold in `currency` (their tier's balance
    /// limit), if their tier has limits in it.
    pub(super) async fn balance_cap(
        &self,
        user: UserId,
        currency: Currency,
    ) -> Result<Option<i64>> {
        let (_, table) = self.limits_table(user, currency).await?;
        Ok(table.map(|t| t.balance.minor()))
    }

    fn tier_label(&self, tier: Tier) -> String {
        self.config.trust.limits.tier_name(tier)
    }

    async fn allowance(
        &self,
        user: UserId,
        kind: LimitKind,
        currency: Currency,
    ) -> Result<Account> {
        Ok(self
            .ledger
            .open_account(&NewAccount {
                owner: allowance_owner(user, kind)?,
                kind: AccountKind::Allowance,
                currency,
            })
            .await?)
    }

    /// Brings one allowance's credited amount to `limit` (see the module
    /// docs) and answers the account as it then is.
    async fn reconcile_allowance(&self, account: Account, limit: Amount) -> Result<Account> {
        let credited = account.credits_posted.saturating_sub(account.debits_posted);
        let target = limit.minor();
        let source = self
            .system_account(AccountKind::AllowanceSource, limit.currency())
            .await?;
        let (debit, credit, minor) = if credited < target {
            (source, account.id, target.saturating_sub(credited))
        } else {
            let excess = credited.saturating_sub(target);
            (account.id, source, excess.min(available(&account)))
        };
        let Ok(amount) = Amount::from_minor(minor, limit.currency()) else {
            return Ok(account); // Nothing to move.
        };
        let state = [
            account.id.0,
            account.credits_posted,
            account.debits_posted,
            account.debits_pending,
            target,
        ];
        let key: Vec<u8> = state.iter().flat_map(|v| v.to_be_bytes()).collect();
        let id = TransferId::derive("paybot.bot.limits.set", &key);
        let mut set =
            NewTransfer::single(id, debit, credit, amount).with_code(limit_transfer_codes::SET);
        if credit == account.id {
            // Racing reconciles both see it short: the second is refused.
            set = set.with_credit_balance_max(target);
        }
        match self.ledger.submit(set).await {
            Ok(_) => {}
            // Used (or credited) meanwhile by a racing movement (or
            // reconcile): the next reconcile takes the rest.
            Err(SubmitError::Rejected {
                error: TransferError::InsufficientFunds | TransferError::CreditBalanceExceeded,
                ..
            }) => {}
            Err(error) => return Err(error.into()),
        }
        Ok(self.ledger.account(account.id).await?.unwrap_or(account))
    }

    /// Reconciles every windowed allowance of `user`, in every currency the
    /// user holds, to their tier's current limits. For the operator's tier
    /// change; movements also do it for themselves before each use.
    pub async fn reconcile_limits(&self, user: UserId) -> Result<()> {
        for currency in self.currencies_of(user).await? {
            let (_, table) = self.limits_table(user, currency).await?;
            let Some(table) = table else { continue };
            for kind in LimitKind::windowed() {
                self.reconciled_allowance(user, kind, table.get(kind))
                    .await?;
            }
        }
        Ok(())
    }

    /// Sets up `user`'s windowed allowances in `currency` together (each
    /// opened and credited with their tier's limit; see
    /// `Bot::allowance_at_limit`). `/start` does it when it opens the
    /// wallet, so that a new user's first payment waits for no set-up of
    /// its own (the payee's allowance too, when they have started).
    pub(super) async fn set_up_limits(&self, user: UserId, currency: Currency) -> Result<()> {
        let (_, table) = self.limits_table(user, currency).await?;
        let Some(table) = table else { return Ok(()) };
        futures::future::try_join_all(
            LimitKind::windowed().map(|kind| self.allowance_at_limit(user, kind, table.get(kind))),
        )
        .await?;
        Ok(())
    }

    /// The allowance of `user` for `kind`, brought to `limit`: without a
    /// read when this process already brought it there, else reconciled.
    async fn allowance_at_limit(
        &self,
        user: UserId,
        kind: LimitKind,
        limit: Amount,
    ) -> Result<AccountId> {
        match self.allowances.get((user, kind, limit.currency())) {
            Some((id, target)) if target == limit.minor() => Ok(id),
            _ => self.reconciled_allowance(user, kind, limit).await,
        }
    }

    /// The currencies `user` has a wallet in (the default one if none).
    async fn currencies_of(&self, user: UserId) -> Result<Vec<Currency>> {
        let mut currencies: Vec<Currency> = self
            .ledger
            .accounts_of(&owner_of(user)?)
            .await?
            .iter()
            .filter(|a| a.kind == AccountKind::UserWallet)
            .map(|a| a.currency)
            .take(LIMITS_CURRENCIES_MAX)
            .collect();
        if currencies.is_empty() {
            currencies.push(self.config.default_currency);
        }
        Ok(currencies)
    }

    /// Checks what can be checked before the movement (a table for the
    /// currency, the single payment) and prepares the allowance uses to
    /// submit with it. `Err(line)`: refused, the line to tell the user
    /// (audited).
    pub(super) async fn plan_limits(
        &self,
        movement: &Movement<'_>,
    ) -> Result<std::result::Result<LimitPlan, String>> {
        let currency = movement.amount.currency();
        let asked = movement.amount.to_string();
        let (tier, table) = self.limits_table(movement.user, currency).await?;
        let Some(table) = table else {
            self.audit_refusal(movement, movement.user, None, None, None)
                .await?;
            return Ok(Err(texts::currency_not_offered(
                currency.code(),
                &self.tier_label(tier),
            )));
        };
        if movement.single && movement.amount > table.single_payment {
            let limit = table.single_payment;
            self.audit_refusal(
                movement,
                movement.user,
                Some(LimitKind::SinglePayment),
                Some(limit.minor()),
                None,
            )
            .await?;
            return Ok(Err(texts::over_single_payment(
                &limit.to_string(),
                &asked,
                &self.tier_label(tier),
            )));
        }
        let mut wanted: Vec<(UserId, LimitKind, &CurrencyLimits)> = movement
            .kinds
            .iter()
            .map(|kind| (movement.user, *kind, &table))
            .collect();
        let payee_table;
        if let Some((payee, label)) = movement.payee {
            let (_, theirs) = self.limits_table(payee, currency).await?;
            let Some(theirs) = theirs else {
                self.audit_refusal(movement, payee, None, None, None)
                    .await?;
                return Ok(Err(texts::payee_currency_not_offered(
                    label,
                    currency.code(),
                )));
            };
            payee_table = theirs;
            wanted.push((payee, LimitKind::Received30d, &payee_table));
        }
        // Together: a movement that finds allowances not yet set up (a
        // payee who never sent /start, another currency) opens and credits
        // them, one batch's wait for all of them rather than two for each
        // in turn.
        let mut plan = LimitPlan {
            uses: futures::future::try_join_all(
                wanted
                    .iter()
                    .map(|(user, kind, table)| self.prepare_use(movement, *user, *kind, table)),
            )
            .await?,
            ..LimitPlan::default()
        };
        if let Some(holder) = movement.balance_of {
            let (_, theirs) = self.limits_table(holder, currency).await?;
            if let Some(theirs) = theirs {
                plan.balance_max = Some((holder, theirs.balance.minor()));
            }
        }
        Ok(Ok(plan))
    }

    async fn prepare_use(
        &self,
        movement: &Movement<'_>,
        user: UserId,
        kind: LimitKind,
        table: &CurrencyLimits,
    ) -> Result<Use> {
        let limit = table.get(kind);
        let account = self.allowance_at_limit(user, kind, limit).await?;
        let source = self
            .system_account(AccountKind::AllowanceSource, limit.currency())
            .await?;
        let window = kind
            .window_secs()
            .unwrap_or(ledger::PENDING_TIMEOUT_SECS_MAX);
        let transfer = NewTransfer::pending(
            use_id(movement.transfer_id, kind),
            account,
            source,
            movement.amount,
            window,
        )
        .with_code(limit_transfer_codes::USE);
        Ok(Use {
            user,
            kind,
            limit,
            account,
            transfer,
        })
    }

    /// Commits `unit` with its transfers (the movement) made
    /// [`LimitPlan::group`]. When an allowance refuses it while some of its
    /// uses are past their window (the ledger's sweeper has not run since),
    /// those are expired and the unit is committed once more.
    pub(super) async fn submit_limited(
        &self,
        plan: &mut LimitPlan,
        mut unit: Unit,
    ) -> std::result::Result<Vec<Outcome>, SubmitError> {
        unit.transfers = plan.group(std::mem::take(&mut unit.transfers));
        // Each retry follows an allowance that had past uses to expire, so
        // there are at most as many as allowances.
        let mut retries_left = plan.uses.len();
        loop {
            let result = self.ledger.commit(unit.clone()).await;
            let Err(SubmitError::Rejected {
                index,
                error: TransferError::InsufficientFunds,
            }) = &result
            else {
                return result;
            };
            if retries_left == 0 || !self.expire_refused_use(plan, *index).await {
                return result;
            }
            retries_left -= 1;
        }
    }

    /// After the ledger refused the transfer at `offset` of `plan`'s group
    /// for want of money: when it is an allowance use and that allowance
    /// had uses past their window, expires them and brings the allowance
    /// to its limit again; `true` when trying once more may pass.
    pub(super) async fn expire_refused_use(&self, plan: &LimitPlan, offset: usize) -> bool {
        let Some(used) = offset
            .checked_sub(plan.moves)
            .and_then(|i| plan.uses.get(i))
        else {
            return false;
        };
        // Expired uses come back as available: bring the allowance to its
        // limit again before trying once more.
        let again = async {
            if !self.expire_past_uses(used.account).await? {
                return Ok(false);
            }
            if let Some(account) = self.ledger.account(used.account).await? {
                self.reconcile_allowance(account, used.limit).await?;
            }
            Ok::<bool, super::BotError>(true)
        };
        match again.await {
            Ok(again) => again,
            Err(error) => {
                tracing::warn!(%error, "cannot expire an allowance's past uses");
                false
            }
        }
    }

    /// How many allowance uses `plan` makes (the bound on its retries).
    pub(super) fn uses_count(plan: &LimitPlan) -> usize {
        plan.uses.len()
    }

    /// The allowance account, its past uses expired, brought to `limit`;
    /// remembered when it is credited with exactly that.
    async fn reconciled_allowance(
        &self,
        user: UserId,
        kind: LimitKind,
        limit: Amount,
    ) -> Result<AccountId> {
        let account = self.fresh_allowance(user, kind, limit.currency()).await?;
        let account = self.reconcile_allowance(account, limit).await?;
        let credited = account.credits_posted.saturating_sub(account.debits_posted);
        if credited == limit.minor() {
            self.allowances
                .put((user, kind, limit.currency()), (account.id, credited));
        }
        Ok(account.id)
    }

    /// The allowance account, its uses past their window expired.
    async fn fresh_allowance(
        &self,
        user: UserId,
        kind: LimitKind,
        currency: Currency,
    ) -> Result<Account> {
        let account = self.allowance(user, kind, currency).await?;
        if account.debits_pending == 0 || !self.expire_past_uses(account.id).await? {
            return Ok(account);
        }
        Ok(self.ledger.account(account.id).await?.unwrap_or(account))
    }

    /// The limits of a card operation as they stand now, before its code
    /// is sent and again before the rail is called: `Some(line)` if one of
    /// them already refuses it (audited). For the windowed limits this is
    /// a courtesy (the allowance use submitted with the operation is what
    /// enforces them); for a top-up's balance cap it is the check (the
    /// card is charged before the wallet is credited, so the credit itself
    /// cannot be refused; a payment arriving meanwhile can take the wallet
    /// over its cap by at most that top-up).
    pub(super) async fn limits_precheck(&self, movement: &Movement<'_>) -> Result<Option<String>> {
        let currency = movement.amount.currency();
        let asked = movement.amount.to_string();
        let (tier, table) = self.limits_table(movement.user, currency).await?;
        let tier_name = self.tier_label(tier);
        let Some(table) = table else {
            self.audit_refusal(movement, movement.user, None, None, None)
                .await?;
            return Ok(Some(texts::currency_not_offered(
                currency.code(),
                &tier_name,
            )));
        };
        let mut lines = Vec::new();
        for kind in movement.kinds {
            lines.push(
                self.window_line(movement.user, *kind, table.get(*kind), None)
                    .await?,
            );
        }
        if let Some(holder) = movement.balance_of {
            lines.push(
                self.balance_line(holder, currency, table.balance.minor())
                    .await?,
            );
        }
        let Some(line) = lines.into_iter().find(|l| l.left < movement.amount.minor()) else {
            return Ok(None);
        };
        self.audit_refusal(
            movement,
            movement.user,
            Some(line.kind),
            Some(line.left),
            line.frees_at_ms,
        )
        .await?;
        let frees = line
            .frees_at_ms
            .map(|at| texts::frees_from(&utc_minute_text(at)))
            .unwrap_or_default();
        Ok(Some(texts::over_your_limit(
            line.kind,
            &ledger::format_minor(line.limit, currency),
            &asked,
            &ledger::format_minor(line.left, currency),
            &frees,
            &tier_name,
        )))
    }

    /// A confirmed top-up's limits, just before the rail is called: the
    /// balance cap checked again and the 24-hour allowance used (released
    /// if the top-up fails). `Some(line)`: refused, nothing was used.
    pub(super) async fn reserve_topup_limits(&self, op: &CardOp) -> Result<Option<String>> {
        let subject = op.reference.to_string();
        let movement = card_movement(op.kind, op.transfer_id, op.amount, op.user, &subject);
        if let Some(line) = self.limits_precheck(&movement).await? {
            return Ok(Some(line));
        }
        let mut plan = match self.plan_limits(&movement).await? {
            Ok(plan) => plan,
            Err(line) => return Ok(Some(line)),
        };
        match self.submit_limited(&mut plan, Unit::default()).await {
            Ok(_) => Ok(None),
            Err(SubmitError::Rejected { index, error }) => {
                match self.limit_refusal(&plan, &movement, index, &error).await? {
                    Some(line) => Ok(Some(line)),
                    None => Err(SubmitError::Rejected { index, error }.into()),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Gives back what `movement` used of its limits (it was cancelled,
    /// refused, declined or expired before it moved money). Uses already
    /// expired or released are fine.
    pub(super) async fn release_limits(
        &self,
        movement: TransferId,
        kinds: &[LimitKind],
    ) -> Result<()> {
        // Under both ids: a movement started before the upgrade has its
        // uses under the older one (one more read each, on this path only).
        let ids = kinds
            .iter()
            .flat_map(|kind| [use_id(movement, *kind), legacy_use_id(movement, *kind)]);
        for id in ids {
            let open = self
                .ledger
                .transfer(id)
                .await?
                .is_some_and(|t| t.kind == TransferKind::Pending);
            if !open {
                continue;
            }
            let void = NewTransfer::void(
                TransferId::derive_beside(
                    id,
                    "paybot.bot.limits.release",
                    &id.as_u128().to_be_bytes(),
                ),
                id,
            );
            match self.ledger.submit(void).await {
                Ok(_)
                | Err(SubmitError::Rejected {
                    error:
                        TransferError::AlreadyVoided
                        | TransferError::AlreadyExpired
                        | TransferError::AlreadyPosted,
                    ..
                }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Expires the allowance's uses whose window has passed, without
    /// waiting for the ledger's sweeper (it may not have run since; ids are
    /// the sweeper's own, so the two never expire one use twice).
    async fn expire_past_uses(&self, account: AccountId) -> Result<bool> {
        let now = self.ledger.now_ms();
        let uses = self
            .ledger
            .open_pending_debits(account, USES_READ_MAX)
            .await?;
        let mut expired = false;
        for due in uses
            .iter()
            .take_while(|t| t.expires_at_ms().is_some_and(|at| at <= now))
        {
            match self.ledger.submit(NewTransfer::expire(due.id)).await {
                Ok(_) => expired = true,
                // Resolved meanwhile (the sweeper, a release).
                Err(SubmitError::Rejected { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(expired)
    }
}
