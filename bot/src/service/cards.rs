//! Cards in the core: `/card add`, `/cards`, `/card remove`, `/topup`,
//! `/cashout`, the warning for a card number posted in a group, and the
//! sweep that resumes rail requests a crash or a slow network left open.
//!
//! Rooms: this file holds the card policy, the bounds, the labels and what
//! cards share with the rest of the core (the waits of `/link` and
//! `/unlink`, `/history`'s lines, `/cancel`, leaked codes); `cards/ops.rs`
//! the top-up and cash-out flow up to the rail call; `cards/rail.rs` the
//! rail's answers, the money they move and the sweep; `card_links.rs`
//! linking cards; every sentence is in `texts/cards.rs`.
//!
//! The design decision to know: a rail request is recorded
//! ([`CardOpState::Sent`], with the `initiated_at` it is sent with) before
//! the rail is called, and the ledger is brought in line with the rail's
//! answer before the record says so. A crash anywhere leaves `Sent` (the
//! sweep resends the identical request: same transfer id, token, amount and
//! time, which the rail recognises and answers with its first decision) or
//! `Pending` (the sweep asks for the status by the rail's reference).
//! Every ledger transfer of an operation derives its id from the
//! operation's, so applying an answer twice moves nothing twice.
//!
//! Money: a top-up is one transfer card clearing → wallet, made only after
//! the rail approved the pull. A cash-out reserves amount + fee as pending
//! transfers (wallet → card clearing, wallet → fees, one linked batch)
//! before the push, posts both on approval and voids both on a decline.

use std::fmt::Display;
use std::sync::Arc;

use ledger::Amount;

use super::texts::cards as texts;
pub use super::texts::cards::{
    CARD_IN_COMMAND_TEXT, CARD_IN_GROUP_DELETED_TEXT, CARD_IN_GROUP_TEXT, CARDS_OFF_TEXT,
    card_label,
};
use super::{Bot, BotError, Result, Turn, event_key, minutes};
use crate::card::{CardRail, YearMonth};
use crate::message::{Button, ChatKind, Reply};
use crate::otp::OtpSecret;
use crate::store::{CardAdd, CardAddState, CardOp, CardOpState, LinkedCard, UserId};

mod ops;
mod rail;
mod review;

/// Top-ups and cash-outs one user may have waiting for a code at once.
pub const AWAITING_CARD_OPS_PER_USER_MAX: usize = 3;
/// Cards one user may have waiting for a code to be linked at once.
pub const AWAITING_CARD_ADDS_PER_USER_MAX: usize = 3;
/// How long after a rail call without a decision (202, or no answer) the
/// sweep asks again; doubled per attempt up to [`RAIL_RETRY_MS_MAX`].
pub const RAIL_RETRY_MS: i64 = 5_000;
pub const RAIL_RETRY_MS_MAX: i64 = 10 * 60 * 1_000;
/// Card operations handled per [`Bot::sweep`] round.
pub const SWEEP_CARD_OPS_MAX: u32 = 64;
/// How long a cash-out's reservation may stay pending in the ledger: the
/// longest the ledger allows, so a slow network cannot outlive it.
pub const CASHOUT_HOLD_SECS: u32 = ledger::PENDING_TIMEOUT_SECS_MAX;
/// 100% in basis points: the largest cash-out fee rate.
pub const FEE_BASIS_POINTS_MAX: u32 = 10_000;

/// The ledger's `code` of the card transfers.
pub mod card_transfer_codes {
    pub const TOPUP: u16 = 20;
    pub const CASHOUT: u16 = 21;
    pub const CASHOUT_FEE: u16 = 22;
}

/// The card policy: the cash-out fee (settings `cards.cashout_fee_percent`,
/// `cards.cashout_fee_min`). The wait before a new card can be cashed out
/// to is a trust rule (`new_card`, see [`crate::trust::rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CardPolicy {
    /// The fee as a share of the amount, in basis points (1.5% = 150).
    pub cashout_fee_basis_points: u32,
    /// The smallest fee, applied to cash-outs in its currency.
    pub cashout_fee_min: Option<Amount>,
}

/// The first moment a cash-out to `card` is allowed under a wait of
/// `hold_secs`.
pub(super) fn cashout_possible_from_ms(card: &LinkedCard, hold_secs: u32) -> i64 {
    card.created_at_ms
        .saturating_add(i64::from(hold_secs).saturating_mul(1_000))
}

impl CardPolicy {
    /// The fee on a cash-out of `amount`, in minor units: the rate, rounded
    /// up to a whole minor unit, at least the minimum.
    pub fn cashout_fee_minor(&self, amount: Amount) -> i64 {
        let bp = i128::from(self.cashout_fee_basis_points.min(FEE_BASIS_POINTS_MAX));
        let scaled = i128::from(amount.minor()).saturating_mul(bp);
        let by_rate = (scaled + 9_999) / 10_000;
        let by_rate = i64::try_from(by_rate).unwrap_or(i64::MAX);
        let min = self
            .cashout_fee_min
            .filter(|m| m.currency() == amount.currency())
            .map_or(0, Amount::minor);
        by_rate.max(min)
    }
}

pub(super) fn linked_label(card: &LinkedCard) -> String {
    texts::card_label_with_expiry(&card_label(card.brand, card.last4), card.expiry)
}

pub(super) fn add_label(add: &CardAdd) -> String {
    card_label(add.brand, add.last4)
}

fn op_label(op: &CardOp) -> String {
    card_label(op.brand, op.last4)
}

pub(super) fn this_month(now_ms: i64) -> Result<YearMonth> {
    YearMonth::from_unix_ms(now_ms)
        .ok_or_else(|| BotError::Inconsistent("the clock is out of range".to_owned()))
}

impl Bot {
    /// The card rail; `None` unless the bot was built with one
    /// ([`super::BotBuilder::card_rail`]): cards off.
    pub(super) fn rail(&self) -> Option<Arc<dyn CardRail>> {
        self.card_rail.clone()
    }

    /// A group message holding a card number: deleted where the platform
    /// lets the bot (the adapter tries, see [`crate::message::Deletion`]),
    /// and a public warning that says whether it was or asks its author to
    /// delete it, never an echo of any digit. Nothing else is done with it.
    /// Where only the bot saw the command (Discord), a private note instead.
    pub(super) fn warn_card_in_group(&self, turn: &mut Turn<'_>) {
        tracing::info!(
            event = %event_key(turn.msg),
            deletable = turn.msg.message_id.is_some(),
            "a group message looked like it held a card number; warned"
        );
        if turn.in_place {
            turn.private(CARD_IN_COMMAND_TEXT);
            return;
        }
        let who = turn.me_label();
        turn.here_deleting(
            texts::card_in_group(&who),
            texts::card_in_group_deleted(&who),
        );
    }

    /// `/link` waits for `user`'s top-ups and cash-outs with the rail: a
    /// decision after the merge would be booked to the wallet merged away
    /// (a top-up credited there, a cash-out's hold released there). `true`
    /// (and the user told what to wait for) when one is in flight. `then`:
    /// what to do once it finished.
    pub(super) async fn link_waits_for_card_ops(
        &self,
        turn: &mut Turn<'_>,
        user: UserId,
        then: &str,
    ) -> Result<bool> {
        let in_flight = self.store.card_ops_in_flight(user).await?;
        Ok(Self::wait_for_card_ops(turn, &in_flight, then))
    }

    /// `/unlink` waits for the top-ups and cash-outs with the rail that
    /// use a card leaving with the account (`cards`, by token), whoever
    /// started them: the card must not leave while the network decides on
    /// a charge or a payout made with it for the wallet it leaves. `true`
    /// (and the user told what to wait for) when one is in flight.
    pub(super) async fn unlink_waits_for_card_ops(
        &self,
        turn: &mut Turn<'_>,
        user: UserId,
        cards: &[&LinkedCard],
        then: &str,
    ) -> Result<bool> {
        let in_flight: Vec<CardOp> = self
            .store
            .card_ops_in_flight(user)
            .await?
            .into_iter()
            .filter(|op| cards.iter().any(|c| c.token.as_str() == op.token.as_str()))
            .collect();
        Ok(Self::wait_for_card_ops(turn, &in_flight, then))
    }

    /// Tells the user to wait for the first of `in_flight`; `false` when
    /// there is none.
    fn wait_for_card_ops(turn: &mut Turn<'_>, in_flight: &[CardOp], then: &str) -> bool {
        let Some(op) = in_flight.first() else {
            return false;
        };
        turn.private(texts::wait_for_card_op(
            op.kind,
            &op.reference,
            &op.amount,
            &op_label(op),
            in_flight.len().saturating_sub(1),
            then,
        ));
        true
    }

    /// `/history`'s lines for `user`'s top-ups and cash-outs still with the
    /// rail (`• pending top-up T7K2QXM $20.00 (Visa •••• 0119)`), under a
    /// heading; none when there are none.
    pub(super) async fn card_ops_in_flight_lines(&self, user: UserId) -> Result<Vec<String>> {
        let in_flight = self.store.card_ops_in_flight(user).await?;
        if in_flight.is_empty() {
            return Ok(Vec::new());
        }
        let mut lines = vec![texts::IN_FLIGHT_HEADING.to_owned()];
        for op in &in_flight {
            lines.push(texts::in_flight_line(
                op.kind,
                &op.reference,
                &op.amount,
                &op_label(op),
            ));
        }
        Ok(lines)
    }

    /// Sends `code`, which confirms `what` (a card link, a top-up or a
    /// cash-out with reference `reference`), to the user privately, with a
    /// Cancel button; the history keeps the message without the code.
    pub(super) fn send_card_code(
        &self,
        turn: &mut Turn<'_>,
        what: &str,
        code: &OtpSecret,
        reference: &impl Display,
    ) {
        let ttl = minutes(self.config.otp.ttl_secs);
        let text = texts::code_prompt(what, code.expose(), &ttl, reference);
        let redacted = texts::code_prompt_redacted(what, reference);
        let cancel = Button::new(texts::CANCEL_BUTTON_TEXT, format!("/cancel {reference}"));
        turn.private_with(text, Some(redacted), vec![cancel]);
    }

    /// Card commands are for direct chats: in a group, a short refusal.
    pub(super) fn refuse_card_command_in_group(turn: &mut Turn<'_>) -> bool {
        if turn.msg.chat.kind == ChatKind::Direct {
            return false;
        }
        turn.for_sender(texts::CARD_COMMAND_IN_GROUP_TEXT);
        true
    }

    /// `/cancel` of a card operation. Only one still waiting for its code
    /// can be cancelled; once sent, the network decides.
    pub(super) async fn cancel_card_op(&self, turn: &mut Turn<'_>, op: CardOp) -> Result<()> {
        let reference = op.reference.clone();
        let kind = op.kind;
        match op.state {
            CardOpState::AwaitingCode => {
                if self.end_card_op(op, CardOpState::Cancelled).await? {
                    turn.for_sender(texts::op_cancelled(kind, &reference));
                } else {
                    turn.for_sender(texts::op_cancel_changed(kind, &reference));
                }
            }
            state => turn.for_sender(texts::op_cannot_cancel(kind, &reference, state)),
        }
        Ok(())
    }

    /// In a group: a code of one of the sender's waiting card operations
    /// typed there is leaked; that operation is cancelled. `true` if one
    /// was.
    pub(super) async fn catch_leaked_card_codes(
        &self,
        turn: &mut Turn<'_>,
        candidates: &[String],
    ) -> Result<bool> {
        let awaiting = self.store.card_ops_awaiting_code(turn.me.user).await?;
        let mut caught = false;
        for op in awaiting {
            if !candidates.iter().any(|c| self.code_matches(&op, c)) {
                continue;
            }
            caught = true;
            let reference = op.reference.clone();
            let kind = op.kind;
            if self.end_card_op(op, CardOpState::Leaked).await? {
                turn.here(texts::code_leaked_here(&turn.me_label()));
                turn.private(texts::op_code_leaked(kind, &reference));
            }
        }
        let adds = self.store.card_adds_awaiting_code(turn.me.user).await?;
        for add in adds {
            if !candidates.iter().any(|c| self.code_matches(&add, c)) {
                continue;
            }
            caught = true;
            let label = add_label(&add);
            if self.end_card_add(add, CardAddState::Leaked).await? {
                turn.here(texts::code_leaked_here(&turn.me_label()));
                turn.private(texts::add_code_leaked(&label));
            }
        }
        Ok(caught)
    }
}

impl Reply {
    /// Whether the reply's text (or its redacted form) looks like it holds
    /// a card number.
    pub(crate) fn holds_card_number(&self) -> bool {
        crate::card::contains_card_number(&self.text)
            || self
                .redacted
                .as_deref()
                .is_some_and(crate::card::contains_card_number)
            || self
                .deletion
                .as_ref()
                .is_some_and(|d| crate::card::contains_card_number(&d.text_if_deleted))
    }
}
