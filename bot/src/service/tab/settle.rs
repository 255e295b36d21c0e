//! `/settle` and `/settle confirm|reject REF`: the group tab settled.
//!
//! The design decision to know: a settlement through paybot *is* an
//! ordinary payment (`start_payment`: code, limits, second factor, one
//! ledger transfer); its settlement row names the payment's pending
//! transfer, and counts on the tab exactly when that payment's record says
//! completed, which commits with the money. So the tab and the ledger
//! never disagree, and a settlement whose payment ends unpaid simply
//! lapses. A cash settlement moves no money and counts once its payee
//! confirms it.

mod expiry;
mod lapse;
mod many;

pub use expiry::{CASH_SETTLE_TTL_SECS_DEFAULT, SWEEP_CASH_SETTLEMENTS_MAX};
pub use many::SETTLE_GROUP_LEGS_MAX;

use std::collections::BTreeMap;

use ledger::{Amount, Currency, SubmitError, TransferId, Unit};

use super::super::resolve::Resolved;
use super::super::texts::minutes;
use super::super::texts::settle as texts;
use super::super::turn::{
    REF_BODY_CHARS, REF_BODY_CHARS_LONG, Turn, derive, event_key, payment_transfer_id, short_ref,
};
use super::super::{Bot, BotError, Result};
use super::{TabNow, find};
use crate::command::{Memo, ShortRef, Target};
use crate::message::Button;
use crate::store::tab::{GroupMember, Settlement, SettlementKind, SettlementState};
use crate::store::{RecordChange, UserId};

/// How often one debtor is asked privately to settle a group's tab
/// (`/settle` or Settle by someone who owes nothing): at most once per
/// debtor and group within this long of the last ask, however often it is
/// pressed.
pub const SETTLE_ASK_INTERVAL_SECS: u32 = 60 * 60;

/// Most settlements waiting on a group's tab (for a code or a payee's
/// answer); a further `/settle` is refused.
pub const TAB_SETTLEMENTS_MAX: usize = 2_000;

impl Bot {
    pub(in crate::service) async fn settle(
        &self,
        turn: &mut Turn<'_>,
        creditor: Option<Target>,
        amount: Option<Amount>,
        cash: bool,
    ) -> Result<()> {
        if !turn.in_group() {
            turn.here(texts::GROUPS_ONLY);
            return Ok(());
        }
        // A redelivery of a message whose settlement is stored resumes it
        // as stored (its payee, its amount), whatever the tab says now.
        let id = derive("paybot.bot.settle", &event_key(turn.msg));
        if let Some(stored) = self.stored_settlement(id).await? {
            let to = GroupMember {
                platform_id: stored.payee_platform_id.clone(),
                user: stored.payee,
                handle: None,
                display_name: stored.payee_label.clone(),
            };
            let cash = stored.kind == SettlementKind::Cash;
            return self
                .start_settlement(turn, &to, stored.amount, cash, stored.amount.minor())
                .await;
        }
        let group = self.stored_settle_group(turn).await?;
        if !group.is_empty() {
            return self.settle_group(turn, &group).await;
        }
        let now = self.tab_now(turn.msg.platform, &turn.msg.chat.id).await?;
        let waiting = now
            .settlements
            .iter()
            .filter(|s| s.state == SettlementState::Pending)
            .count();
        if waiting >= TAB_SETTLEMENTS_MAX {
            turn.for_sender(texts::too_many_settlements(TAB_SETTLEMENTS_MAX));
            return Ok(());
        }
        let me = turn.me.user;
        let Some(target) = creditor else {
            return self.settle_all(turn, &now).await;
        };
        let Some(to) = find(turn, &now.members, &target) else {
            turn.for_sender(super::texts::not_a_member(&target.to_string()));
            return Ok(());
        };
        if to.user == me {
            turn.for_sender(texts::NOT_YOURSELF);
            return Ok(());
        }
        let owed: Vec<(Currency, i64)> = now
            .debts
            .iter()
            .flat_map(|(c, debts)| {
                debts
                    .iter()
                    .filter(|d| d.from == me && d.to == to.user)
                    .map(|d| (*c, d.amount_minor))
            })
            .collect();
        let currency = match (amount, owed.as_slice()) {
            (Some(amount), _) => amount.currency(),
            (None, []) => {
                turn.for_sender(texts::owe_nothing(&to.label()));
                return Ok(());
            }
            (None, [(currency, _)]) => *currency,
            (None, several) => {
                let debts: Vec<String> = several
                    .iter()
                    .map(|(c, m)| ledger::format_minor(*m, *c))
                    .collect();
                turn.for_sender(texts::which_currency(&to.label(), &debts));
                return Ok(());
            }
        };
        let owed_minor = owed
            .iter()
            .find(|(c, _)| *c == currency)
            .map_or(0, |(_, m)| *m);
        if owed_minor == 0 {
            turn.for_sender(texts::owe_nothing(&to.label()));
            return Ok(());
        }
        let left = owed_minor.saturating_sub(now.pending(me, to.user, currency));
        if left <= 0 {
            turn.for_sender(texts::already_waiting(&to.label()));
            return Ok(());
        }
        let amount = match amount {
            Some(amount) if amount.minor() > left => {
                turn.for_sender(texts::more_than_owed(
                    &to.label(),
                    &amount.to_string(),
                    &ledger::format_minor(left, currency),
                ));
                return Ok(());
            }
            Some(amount) => amount,
            None => match Amount::from_minor(left, currency) {
                Ok(amount) => amount,
                Err(_) => {
                    turn.for_sender(texts::settle_in_parts(
                        &to.label(),
                        &ledger::format_minor(left, currency),
                    ));
                    return Ok(());
                }
            },
        };
        self.start_settlement(turn, &to, amount, cash, owed_minor)
            .await
    }

    /// `/settle` with nobody named: the sender's own part, or, when they
    /// owe nothing, everyone who owes is asked privately.
    async fn settle_all(&self, turn: &mut Turn<'_>, now: &TabNow) -> Result<()> {
        let me = turn.me.user;
        let mut mine: Vec<(Currency, UserId, i64)> = Vec::new();
        let mut others: BTreeMap<UserId, Vec<String>> = BTreeMap::new();
        // The sender's creditors whose settlements all wait already.
        let mut waiting: Vec<String> = Vec::new();
        for (currency, debts) in &now.debts {
            for debt in debts {
                let left = debt
                    .amount_minor
                    .saturating_sub(now.pending(debt.from, debt.to, *currency));
                if left <= 0 {
                    if debt.from == me && debt.amount_minor > 0 {
                        waiting.push(now.name(&debt.to));
                    }
                    continue;
                }
                let line = format!(
                    "{} {}",
                    now.name(&debt.to),
                    ledger::format_minor(left, *currency)
                );
                if debt.from == me {
                    mine.push((*currency, debt.to, left));
                } else {
                    others.entry(debt.from).or_default().push(line);
                }
            }
        }
        if mine.is_empty() && !waiting.is_empty() {
            // They owe, but all of it waits for their code or an answer:
            // not someone who owes nothing.
            waiting.dedup();
            turn.for_sender(match waiting.as_slice() {
                [one] => texts::already_waiting(one),
                several => texts::already_waiting_many(several),
            });
            return Ok(());
        }
        if mine.is_empty() {
            if others.is_empty() {
                turn.here(texts::NOTHING_TO_SETTLE);
                return Ok(());
            }
            let mut notices = Vec::new();
            let mut asked = Vec::new();
            let mut recently = Vec::new();
            // Each debtor at most once per interval, counted from when they
            // were last asked (one check-and-set per debtor).
            let interval_ms = i64::from(SETTLE_ASK_INTERVAL_SECS).saturating_mul(1_000);
            let asked_after_ms = turn.now_ms.saturating_sub(interval_ms);
            let group = format!(
                "{}:{}",
                turn.msg.platform.as_str(),
                turn.msg.chat.id.as_str()
            );
            for (debtor, debts) in &others {
                let Some(member) = now.members.iter().find(|m| m.user == *debtor) else {
                    continue;
                };
                let ask_now = self
                    .store
                    .note_settle_ask(
                        turn.msg.platform,
                        &turn.msg.chat.id,
                        *debtor,
                        turn.now_ms,
                        asked_after_ms,
                    )
                    .await?;
                if !ask_now {
                    recently.push(member.label());
                    continue;
                }
                notices.push(self.notice(
                    &format!("settle-ask:{group}:{}:{}", debtor.0, turn.now_ms),
                    turn.msg.platform,
                    &member.platform_id,
                    texts::ask_to_settle(&turn.me_label(), turn.msg.chat.title.as_deref(), debts),
                )?);
                asked.push(member.label());
            }
            self.ledger.enqueue_outbox(&notices).await?;
            turn.here(texts::asked(
                &asked,
                &recently,
                &minutes(SETTLE_ASK_INTERVAL_SECS),
            ));
            return Ok(());
        }
        // One currency per `/settle` (a payment group is in one currency):
        // the first one's creditors, the largest debts first, at most what
        // one code pays; the rest is left for the next `/settle`.
        let (these, rest) = many::pick(mine);
        let mut owed = Vec::new();
        for (currency, to, left) in &these {
            let Some(to) = now.members.iter().find(|m| m.user == *to).cloned() else {
                turn.for_sender(super::texts::not_a_member(&now.name(to)));
                return Ok(());
            };
            let Ok(amount) = Amount::from_minor(*left, *currency) else {
                turn.for_sender(texts::settle_in_parts(
                    &to.label(),
                    &ledger::format_minor(*left, *currency),
                ));
                return Ok(());
            };
            let owed_minor = now
                .debts
                .get(currency)
                .and_then(|debts| debts.iter().find(|d| d.from == me && d.to == to.user))
                .map_or(0, |d| d.amount_minor);
            owed.push(many::Owed {
                to,
                amount,
                owed_minor,
            });
        }
        let started = match owed.as_slice() {
            [one] => {
                self.start_settlement(turn, &one.to, one.amount, false, one.owed_minor)
                    .await?;
                let id = derive("paybot.bot.settle", &event_key(turn.msg));
                self.stored_settlement(id).await?.is_some()
            }
            _ => {
                self.settle_group(turn, &owed).await?;
                !self.stored_settle_group(turn).await?.is_empty()
            }
        };
        // After a refusal (nothing started) the rest is not the news.
        if started && !rest.is_empty() {
            let debts: Vec<String> = rest
                .iter()
                .map(|(c, to, m)| format!("{} {}", now.name(to), ledger::format_minor(*m, *c)))
                .collect();
            turn.for_sender(texts::settle_the_rest(&debts));
        }
        Ok(())
    }

    /// Records the settlement and, through paybot, starts its payment
    /// (the payer gets a code privately); in cash, asks the payee. The
    /// settlement commits with its payment (in cash, with the payee's
    /// prompt), and only while what the payer's waiting settlements with
    /// the payee come to stays within `owed_minor`.
    async fn start_settlement(
        &self,
        turn: &mut Turn<'_>,
        to: &GroupMember,
        amount: Amount,
        cash: bool,
        owed_minor: i64,
    ) -> Result<()> {
        let key = event_key(turn.msg);
        let id = derive("paybot.bot.settle", &key);
        let settlement = Settlement {
            reference: self.settlement_reference(id).await?,
            settlement_id: id,
            platform: turn.msg.platform,
            chat: turn.msg.chat.id.clone(),
            payer: turn.me.user,
            payer_label: turn.me_label(),
            payer_platform_id: turn.me.id.clone(),
            payee: to.user,
            payee_label: to.label(),
            payee_platform_id: to.platform_id.clone(),
            amount,
            kind: if cash {
                SettlementKind::Cash
            } else {
                SettlementKind::Paid
            },
            // The payment `start_payment` makes for this message.
            payment_transfer: (!cash).then(|| payment_transfer_id(turn.msg)),
            state: SettlementState::Pending,
            created_at_ms: turn.now_ms,
            decided_at_ms: None,
        };
        let record = self.store.record_write(RecordChange::InsertSettlement {
            settlement: &settlement,
            owed_minor,
        })?;
        let refused = texts::already_waiting(&settlement.payee_label);
        let reference = settlement.reference.to_string();
        if cash {
            let prompt = self.notice_with(
                &format!("{reference}:cash:payee"),
                settlement.platform,
                &settlement.payee_platform_id,
                texts::confirm_cash(&settlement.payer_label, &amount.to_string(), &reference),
                vec![
                    Button::new(
                        texts::CONFIRM_BUTTON,
                        format!("/settle confirm {reference}"),
                    ),
                    Button::new(texts::REJECT_BUTTON, format!("/settle reject {reference}")),
                ],
                None,
            )?;
            let unit = Unit {
                transfers: Vec::new(),
                outbox: vec![prompt],
                records: vec![record],
            };
            match self.ledger.commit(unit).await {
                Ok(_) => {}
                Err(SubmitError::RecordConflict { .. }) => {
                    // This message's earlier try committed (its prompt with
                    // it), or the settlement no longer fits.
                    let mine = self
                        .store
                        .settlement(&settlement.reference)
                        .await?
                        .is_some_and(|s| s.settlement_id == id);
                    if !mine {
                        turn.for_sender(refused);
                        return Ok(());
                    }
                }
                Err(error) => return Err(error.into()),
            }
            turn.here(texts::cash_recorded(
                &settlement.payer_label,
                &settlement.payee_label,
                &amount.to_string(),
                &reference,
            ));
            return Ok(());
        }
        let Some(identity) = self
            .store
            .identity(turn.msg.platform, &to.platform_id)
            .await?
        else {
            return Err(BotError::Inconsistent(format!(
                "a group member without an identity: {}",
                to.label()
            )));
        };
        let memo = Memo::parse(texts::SETTLE_MEMO).ok();
        self.start_payment_with(
            turn,
            Resolved::Known(identity),
            amount,
            memo,
            None,
            Some((record, refused)),
        )
        .await
    }

    /// The settlement stored under `id` (this message's, from an earlier
    /// try), under its short reference or, when that was taken, its long
    /// one.
    async fn stored_settlement(&self, id: TransferId) -> Result<Option<Settlement>> {
        for chars in [REF_BODY_CHARS, REF_BODY_CHARS_LONG] {
            let found = self.store.settlement(&short_ref('T', id, chars)?).await?;
            if let Some(found) = found.filter(|s| s.settlement_id == id) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The reference for a new settlement `id`: its short one, or its long
    /// one when another settlement holds the short one.
    async fn settlement_reference(&self, id: TransferId) -> Result<ShortRef> {
        let short = short_ref('T', id, REF_BODY_CHARS)?;
        match self.store.settlement(&short).await? {
            Some(other) if other.settlement_id != id => {
                Ok(short_ref('T', id, REF_BODY_CHARS_LONG)?)
            }
            _ => Ok(short),
        }
    }

    /// `/settle confirm|reject REF`: the payee's answer to a cash
    /// settlement; the payer is told.
    pub(in crate::service) async fn settle_answer(
        &self,
        turn: &mut Turn<'_>,
        reference: &ShortRef,
        accept: bool,
    ) -> Result<()> {
        let found = self
            .store
            .settlement(reference)
            .await?
            .filter(|s| s.kind == SettlementKind::Cash && s.payee == turn.me.user);
        let Some(settlement) = found else {
            turn.for_sender(texts::no_such_settlement(&reference.to_string()));
            return Ok(());
        };
        let reference = settlement.reference.to_string();
        let amount = settlement.amount.to_string();
        let answered_now = settlement.state == SettlementState::Pending
            && self
                .store
                .answer_cash_settlement(&settlement.reference, accept, turn.now_ms)
                .await?;
        let now = if answered_now {
            SettlementState::Pending
        } else {
            self.store
                .settlement(&settlement.reference)
                .await?
                .map_or(settlement.state, |s| s.state)
        };
        let this_answer = if accept {
            SettlementState::Counted
        } else {
            SettlementState::Rejected
        };
        if answered_now || now == this_answer {
            // Queued again when answered already the same way: the turn
            // that answered may have stopped before queueing it (the key
            // keeps it to one message).
            let notice = self.notice(
                &format!("{reference}:cash:answer"),
                settlement.platform,
                &settlement.payer_platform_id,
                texts::answer_to_payer(&reference, &settlement.payee_label, &amount, accept),
            )?;
            self.ledger.enqueue_outbox(&[notice]).await?;
        }
        if !answered_now {
            if now == SettlementState::Expired {
                turn.for_sender(texts::expired_already(&reference));
            } else if now == SettlementState::Lapsed {
                turn.for_sender(texts::cancelled_before_answer(
                    &reference,
                    &settlement.payer_label,
                ));
            } else {
                turn.for_sender(texts::already_answered(&reference));
            }
            return Ok(());
        }
        turn.here(texts::answered(
            &reference,
            &settlement.payer_label,
            &amount,
            accept,
        ));
        Ok(())
    }
}

impl Bot {
    /// `/settle cancel REF`: the payer withdraws a cash settlement while
    /// its payee has not answered (one compare-and-swap on "unanswered",
    /// so a cancel racing the payee's answer leaves exactly one outcome);
    /// the payee is told, and their prompt answers that it was cancelled.
    pub(in crate::service) async fn settle_cancel(
        &self,
        turn: &mut Turn<'_>,
        reference: &ShortRef,
    ) -> Result<()> {
        let found = self
            .store
            .settlement(reference)
            .await?
            .filter(|s| s.kind == SettlementKind::Cash && s.payer == turn.me.user);
        let Some(settlement) = found else {
            turn.for_sender(texts::no_such_own_settlement(&reference.to_string()));
            return Ok(());
        };
        let cancelled_now = settlement.state == SettlementState::Pending
            && self
                .store
                .cancel_cash_settlement(&settlement.reference, turn.me.user, turn.now_ms)
                .await?;
        let now = if cancelled_now {
            SettlementState::Lapsed
        } else {
            self.store
                .settlement(&settlement.reference)
                .await?
                .map_or(settlement.state, |s| s.state)
        };
        let reference = settlement.reference.to_string();
        let amount = settlement.amount.to_string();
        if now == SettlementState::Expired {
            turn.for_sender(texts::expired_already(&reference));
            return Ok(());
        }
        if now != SettlementState::Lapsed {
            turn.for_sender(texts::answered_cannot_cancel(
                &reference,
                &settlement.payee_label,
            ));
            return Ok(());
        }
        // Queued again when cancelled already: the turn that cancelled may
        // have stopped before queueing it (the key keeps it to one message).
        let notice = self.notice(
            &format!("{reference}:cash:cancel"),
            settlement.platform,
            &settlement.payee_platform_id,
            texts::cancel_to_payee(&reference, &settlement.payer_label, &amount),
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        turn.here(texts::cash_cancelled(
            &reference,
            &settlement.payee_label,
            &amount,
        ));
        Ok(())
    }
}

impl TabNow {
    /// What `from` has settled with `to` in `currency` that does not count
    /// yet (its payment waits for a code, or its payee has not answered).
    pub(super) fn pending(&self, from: UserId, to: UserId, currency: Currency) -> i64 {
        self.settlements
            .iter()
            .filter(|s| {
                s.state == SettlementState::Pending
                    && s.payer == from
                    && s.payee == to
                    && s.amount.currency() == currency
            })
            .map(|s| s.amount.minor())
            .sum()
    }
}

/// The `Settle` button under `/tab`.
pub(super) fn settle_button() -> Button {
    Button::new(texts::SETTLE_BUTTON, "/settle")
}
