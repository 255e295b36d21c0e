//! `/undo [REF]`: the payer takes back a payment confirmed a moment ago.
//!
//! The design decision to know: an undo is a new transfer (the ledger is
//! never rewritten), from the payee's wallet back to the payer's, with an id
//! derived from the payment's reference (so it happens at most once), in one
//! linked unit with the payments' compare-and-swap to `Reversed` and the
//! payees' notices. The payee's wallet may not be overdrawn, so "the payee's
//! balance still covers it" is checked by the ledger under the same lock as
//! the transfer, never read first. It is a balance check, not a trace of
//! the money (README says so), and the payer's balance cap holds too. A
//! payment to several people is taken back from all of them or none.
//!
//! What it does not cover, refused with a line that says what to do
//! instead: money held for someone who has not joined (`/cancel` takes it
//! back), a payment of a request (the request is paid; the requester is
//! asked to send it back), anything not completed.

use ledger::{NewTransfer, SubmitError, TransferError, Unit};

use super::limits::PAYMENT_KINDS;
use super::pay_many::is_group_ref;
use super::texts::notices;
use super::texts::pay::{describe_state, no_such_payment};
use super::texts::pay_many as texts;
use super::texts::{minutes, with_memo};
use super::turn::{Turn, derive};
use super::{Bot, Result, transfer_codes};
use crate::command::ShortRef;
use crate::message::{Audience, Reply};
use crate::notify::outbox_message;
use crate::store::{Payee, Payment, PaymentState, RecordChange};
use crate::trust::{Actor, AuditEntry, AuditKind};

/// The default of `bot.undo_window_secs`: five minutes.
pub const DEFAULT_UNDO_WINDOW_SECS: u32 = 5 * 60;
/// The longest `bot.undo_window_secs`: a day.
pub const UNDO_WINDOW_SECS_MAX: u32 = 24 * 60 * 60;
/// How many of the sender's latest payments `/undo` without a reference
/// looks through for the one they confirmed last. Only that one is ever
/// its target: once undone, a second bare `/undo` answers "already
/// undone" and never reaches back to the payment before it.
pub const UNDO_LOOKBACK_PAYMENTS_MAX: u32 = 20;

/// Whether a payment in this state was confirmed (its money moved or was
/// reserved for good); a bare `/undo` looks only at those, and picks the
/// one whose state changed last (its confirmation or its undoing).
fn was_confirmed(state: PaymentState) -> bool {
    !matches!(
        state,
        PaymentState::AwaitingCode
            | PaymentState::Cancelled
            | PaymentState::Expired
            | PaymentState::LockedOut
            | PaymentState::Leaked
    )
}

impl Bot {
    pub(super) async fn undo(
        &self,
        turn: &mut Turn<'_>,
        reference: Option<ShortRef>,
    ) -> Result<()> {
        let Some((shown, legs)) = self.undo_target(turn, reference).await? else {
            return Ok(());
        };
        let shown_text = shown.to_string();
        if let Some(refusal) = self.undo_refusal(&shown_text, &legs, turn.now_ms) {
            turn.private(refusal);
            return Ok(());
        }
        let mut transfers = Vec::new();
        let mut outbox = Vec::new();
        let mut records = Vec::new();
        let mut reversed_legs = Vec::new();
        for leg in &legs {
            let Payee::User { user, platform, id } = &leg.payee else {
                turn.private(texts::not_undoable(&shown_text, describe_state(leg.state)));
                return Ok(());
            };
            let currency = leg.amount.currency();
            let mut reversal = NewTransfer::single(
                derive("paybot.bot.undo", &leg.reference.to_string()),
                self.wallet(*user, currency).await?,
                self.wallet(leg.payer, currency).await?,
                leg.amount,
            )
            .with_code(transfer_codes::UNDO);
            // The money coming back may not take the payer over their
            // tier's balance limit, as any money coming in.
            if let Some(cap) = self.balance_cap(leg.payer, currency).await? {
                reversal = reversal.with_credit_balance_max(cap);
            }
            transfers.push(reversal);
            let text = texts::undone_payee(
                &self.payer_label_in(turn, leg).await?,
                &leg.amount.to_string(),
                &with_memo(leg.memo.as_ref()),
                &leg.reference.to_string(),
            );
            outbox.push(self.notice(
                &format!("{}:undone:payee", leg.reference),
                *platform,
                id,
                text,
            )?);
            let mut reversed = leg.clone();
            reversed.state = PaymentState::Reversed;
            reversed.due_at_ms = None;
            reversed.updated_at_ms = turn.now_ms;
            reversed_legs.push(reversed);
        }
        // The group where it was paid saw it paid: it sees it undone.
        if let Some(first) = legs.first()
            && let Some(chat) = &first.origin_chat
        {
            let payees = legs
                .iter()
                .map(|leg| leg.payee_label.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let reply = Reply {
                image: None,
                document: None,
                platform: first.payer_platform,
                audience: Audience::Chat(chat.clone()),
                text: notices::payment_undone(&shown_text, &payees),
                redacted: None,
                buttons: Vec::new(),
                deletion: None,
            };
            outbox.push(outbox_message(
                &format!("{shown_text}:undone:chat"),
                &reply,
            )?);
        }
        for reversed in &reversed_legs {
            records.push(
                self.store
                    .record_write(RecordChange::UpdatePayment(reversed))?,
            );
        }
        let unit = Unit {
            transfers,
            outbox,
            records,
        };
        match self.ledger.commit(unit).await {
            Ok(_) => {
                for leg in &legs {
                    // What the payment used of the limits is given back.
                    self.release_limits(leg.transfer_id, &PAYMENT_KINDS).await?;
                }
                let total_minor = legs
                    .iter()
                    .map(|l| l.amount.minor())
                    .fold(0_i64, i64::saturating_add);
                let currency = legs.first().map(|l| l.amount.currency());
                let total = currency
                    .map(|c| ledger::format_minor(total_minor, c))
                    .unwrap_or_default();
                let legs_line = texts::legs_line(
                    &legs
                        .iter()
                        .map(|l| (l.payee_label.clone(), l.amount.to_string()))
                        .collect::<Vec<_>>(),
                );
                let entry = AuditEntry::new(
                    turn.now_ms,
                    Actor::User(turn.me.user),
                    AuditKind::PaymentReversed,
                )
                .user(turn.me.user)
                .subject(shown_text.clone())
                .detail("payees", legs_line.clone())
                .detail("amount", total.clone());
                self.audit(entry).await?;
                turn.private(texts::undone(&shown_text, &legs_line, &total));
            }
            Err(SubmitError::Rejected {
                error: TransferError::CreditBalanceExceeded,
                ..
            }) => {
                let limit = match legs.first() {
                    Some(first) => self
                        .balance_cap(first.payer, first.amount.currency())
                        .await?
                        .map(|cap| ledger::format_minor(cap, first.amount.currency()))
                        .unwrap_or_default(),
                    None => String::new(),
                };
                turn.private(texts::over_balance_limit(&shown_text, &limit));
            }
            Err(SubmitError::Rejected {
                index,
                error: TransferError::InsufficientFunds,
            }) => {
                let leg = legs.get(index).or(legs.first());
                let (payee, amount) = leg
                    .map(|l| (l.payee_label.clone(), l.amount.to_string()))
                    .unwrap_or_default();
                turn.private(texts::payee_spent_it(&shown_text, &payee, &amount));
            }
            Err(SubmitError::RecordConflict { .. }) => {
                // Changed meanwhile (undone by another message): nothing
                // moved here.
                let mut state = PaymentState::Reversed;
                if let Some(first) = legs.first()
                    && let Some(now) = self.store.payment(&first.reference).await?
                {
                    state = now.state;
                }
                turn.private(if state == PaymentState::Reversed {
                    texts::already_undone(&shown_text)
                } else {
                    texts::not_undoable(&shown_text, describe_state(state))
                });
            }
            Err(error) => return Err(error.into()),
        }
        Ok(())
    }

    /// The payment `/undo` names (its reference as the user knows it, and
    /// its legs: one, or every leg of a group), or `None` after telling the
    /// sender why there is none.
    async fn undo_target(
        &self,
        turn: &mut Turn<'_>,
        reference: Option<ShortRef>,
    ) -> Result<Option<(ShortRef, Vec<Payment>)>> {
        let me = turn.me.user;
        let payment = match &reference {
            Some(reference) => match self.store.payment(reference).await? {
                Some(payment) => Some(payment),
                None if is_group_ref(reference) => match self.store.pay_group(reference).await? {
                    Some(group) => match group.legs.first() {
                        Some(first) => self.store.payment(first).await?,
                        None => None,
                    },
                    None => None,
                },
                None => None,
            },
            None => self
                .store
                .payments_of_user(me, UNDO_LOOKBACK_PAYMENTS_MAX)
                .await?
                .into_iter()
                .filter(|p| p.payer == me && was_confirmed(p.state))
                // Newest first: on a tie the one created last wins.
                .min_by_key(|p| std::cmp::Reverse(p.updated_at_ms)),
        };
        let Some(payment) = payment else {
            turn.private(match &reference {
                Some(reference) => no_such_payment(&reference.to_string()),
                None => texts::NOTHING_TO_UNDO.to_owned(),
            });
            return Ok(None);
        };
        if payment.payer != me {
            let shown = reference.unwrap_or(payment.reference);
            turn.private(texts::not_yours(&shown.to_string()));
            return Ok(None);
        }
        if is_group_ref(&payment.reference)
            && let Some(group) = self.store.pay_group(&payment.reference).await?
            && let Some(legs) = self.group_legs(&group, me).await?
        {
            return Ok(Some((group.reference, legs)));
        }
        Ok(Some((payment.reference.clone(), vec![payment])))
    }

    /// Why these legs cannot be undone now, if they cannot.
    fn undo_refusal(&self, shown: &str, legs: &[Payment], now_ms: i64) -> Option<String> {
        let window_secs = self.config.undo_window_secs;
        if window_secs == 0 {
            return Some(texts::UNDO_OFF.to_owned());
        }
        let window_ms = i64::from(window_secs).saturating_mul(1_000);
        for leg in legs {
            match leg.state {
                PaymentState::Completed => {}
                PaymentState::Reversed => return Some(texts::already_undone(shown)),
                PaymentState::Escrowed => return Some(texts::escrow_not_undoable(shown)),
                state => return Some(texts::not_undoable(shown, describe_state(state))),
            }
            if leg.request.is_some() {
                return Some(texts::request_not_undoable(shown));
            }
            if now_ms.saturating_sub(leg.updated_at_ms) > window_ms {
                return Some(texts::window_passed(shown, &minutes(window_secs)));
            }
        }
        None
    }
}
