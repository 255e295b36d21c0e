//! Cards in the core: `/card add`, `/cards`, `/card remove`, `/topup`,
//! `/cashout`, the warning for a card number posted in a group, and the
//! sweep that resumes rail requests a crash or a slow network left open.
//!
//! The design decision to know: a rail request is recorded
//! ([`CardOpState::Sent`], with the `initiated_at` it is sent with) before
//! the rail is called, and the ledger is brought in line with the rail's
//! answer before the record says so. A crash anywhere leaves `Sent` (the
//! sweep resends the identical request: same transfer id, so same trace
//! numbers, token, amount and time, which the network recognises and
//! answers with its first decision) or `Pending` (the sweep asks for the
//! status). Every ledger transfer of an operation derives its id from the
//! operation's, so applying an answer twice moves nothing twice.
//!
//! Money: a top-up is one transfer card clearing → wallet, made only after
//! the rail approved the pull. A cash-out reserves amount + fee as pending
//! transfers (wallet → card clearing, wallet → fees, one linked batch)
//! before the push, posts both on approval and voids both on a decline.

use std::sync::Arc;

use ledger::{
    AccountKind, Amount, NewTransfer, OutboxMessage, SubmitError, TransferError, TransferId,
};

use super::{
    Bot, BotError, REF_BODY_CHARS, REF_BODY_CHARS_LONG, Result, Turn, derive, event_key, minutes,
    short_ref, tries,
};
use crate::card::{
    Brand, CardRail, FundsTransfer, Last4, RailError, RailOutcome, UtcDateTime, YearMonth,
};
use crate::command::OtpCode;
use crate::limits::{duration_text, utc_minute_text};
use crate::message::{Button, ChatKind, Reply};
use crate::otp::{self, OtpChallenge, Verdict};
use crate::store::{CardAdd, CardAddState, CardOp, CardOpKind, CardOpState, LinkedCard, UserId};

/// Top-ups and cash-outs one user may have waiting for a code at once.
pub const AWAITING_CARD_OPS_PER_USER_MAX: usize = 3;
/// Cards one user may have waiting for a code to be linked at once.
pub const AWAITING_CARD_ADDS_PER_USER_MAX: usize = 3;
/// The default of `cards.new_card_hold_secs`: a day.
pub const NEW_CARD_HOLD_SECS_DEFAULT: u32 = 86_400;
/// The longest `cards.new_card_hold_secs`: 30 days.
pub const NEW_CARD_HOLD_SECS_MAX: u32 = 30 * 86_400;
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

/// What a chat user sees when cards are not set up on this server.
pub const CARDS_OFF_TEXT: &str = "Cards are not enabled on this paybot.";
/// The public warning for a card number posted in a group, while the
/// message is still there (the platform did not let the bot delete it). It
/// names no digit.
pub const CARD_IN_GROUP_TEXT: &str = "that message looks like it contains a card number. Please delete it now: anyone here can read it. Never post card details in a group; to link a card, send /card add to me in a private chat.";
/// The same warning once the bot deleted the message.
pub const CARD_IN_GROUP_DELETED_TEXT: &str = "that message looked like it contained a card number, so I deleted it. Someone may have read it before I did: if it is a real card, consider asking your bank to replace it. Never post card details in a group; to link a card, send /card add to me in a private chat.";
/// The private answer on platforms where a command in a group is seen by
/// the bot only (Discord's slash commands): there is nothing public to
/// delete.
pub const CARD_IN_COMMAND_TEXT: &str = "That looks like a card number. Nobody else saw it (only I see what you type into a command), and I did nothing with it. Card commands work only in a private chat with me: send /card add there.";

/// The ledger's `code` of the card transfers.
pub mod card_transfer_codes {
    pub const TOPUP: u16 = 20;
    pub const CASHOUT: u16 = 21;
    pub const CASHOUT_FEE: u16 = 22;
}

/// The card policy: the cash-out fee (settings `cards.cashout_fee_percent`,
/// `cards.cashout_fee_min`) and the wait before a new card can be cashed
/// out to (`cards.new_card_hold_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardPolicy {
    /// The fee as a share of the amount, in basis points (1.5% = 150).
    pub cashout_fee_basis_points: u32,
    /// The smallest fee, applied to cash-outs in its currency.
    pub cashout_fee_min: Option<Amount>,
    /// How long after a card was linked cash-outs to it are refused, in
    /// seconds (0: no wait). Top-ups from it work at once.
    pub new_card_hold_secs: u32,
}

impl Default for CardPolicy {
    fn default() -> CardPolicy {
        CardPolicy {
            cashout_fee_basis_points: 0,
            cashout_fee_min: None,
            new_card_hold_secs: NEW_CARD_HOLD_SECS_DEFAULT,
        }
    }
}

/// The first moment a cash-out to `card` is allowed under a hold of
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

/// `Visa •••• 1111`.
pub fn card_label(brand: Brand, last4: Last4) -> String {
    format!("{} \u{2022}\u{2022}\u{2022}\u{2022} {last4}", brand.name())
}

pub(super) fn linked_label(card: &LinkedCard) -> String {
    format!("{} ({})", card_label(card.brand, card.last4), card.expiry)
}

pub(super) fn add_label(add: &CardAdd) -> String {
    card_label(add.brand, add.last4)
}

pub(super) fn describe_add_state(state: CardAddState) -> &'static str {
    match state {
        CardAddState::AwaitingCode => "waiting for your code",
        CardAddState::Linked => "done",
        CardAddState::Cancelled => "cancelled",
        CardAddState::Expired => "expired",
        CardAddState::LockedOut => "cancelled after wrong codes",
        CardAddState::Leaked => "cancelled (code posted in a group)",
    }
}

fn op_label(op: &CardOp) -> String {
    card_label(op.brand, op.last4)
}

fn kind_name(kind: CardOpKind) -> &'static str {
    match kind {
        CardOpKind::TopUp => "Top-up",
        CardOpKind::CashOut => "Cash-out",
    }
}

pub(super) fn this_month(now_ms: i64) -> Result<YearMonth> {
    YearMonth::from_unix_ms(now_ms)
        .ok_or_else(|| BotError::Inconsistent("the clock is out of range".to_owned()))
}

/// Ledger transfer ids of an operation, derived from its id.
fn op_transfer(op: &CardOp, step: &str) -> TransferId {
    TransferId::derive(
        &format!("paybot.bot.card.{step}"),
        &op.transfer_id.as_u128().to_be_bytes(),
    )
}

/// How a rail answer left an operation, for the message about it.
enum Settled {
    Completed,
    Declined(String),
    Pending,
    Unknown,
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
            format!("\u{26a0}\u{fe0f} {who}, {CARD_IN_GROUP_TEXT}"),
            format!("\u{26a0}\u{fe0f} {who}, {CARD_IN_GROUP_DELETED_TEXT}"),
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
        let more = match in_flight.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n.saturating_sub(1)),
        };
        turn.private(format!(
            "Wait until your {} {} of {} ({}){more} finishes: the card network has not decided yet, and I'll message you when it has. Then {then}",
            kind_name(op.kind).to_lowercase(),
            op.reference,
            op.amount,
            op_label(op)
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
        let mut lines = vec!["With the card network:".to_owned()];
        for op in &in_flight {
            lines.push(format!(
                "\u{2022} pending {} {} {} ({})",
                kind_name(op.kind).to_lowercase(),
                op.reference,
                op.amount,
                op_label(op)
            ));
        }
        Ok(lines)
    }

    /// Card commands are for direct chats: in a group, a short refusal.
    pub(super) fn refuse_card_command_in_group(turn: &mut Turn<'_>) -> bool {
        if turn.msg.chat.kind == ChatKind::Direct {
            return false;
        }
        turn.here("Card commands work only in a private chat with me; nothing was done.");
        true
    }

    // -- /topup, /cashout ------------------------------------------------

    /// Starts a top-up or cash-out: checks, then the record and its code.
    pub(super) async fn start_card_op(
        &self,
        turn: &mut Turn<'_>,
        kind: CardOpKind,
        amount: Amount,
        index: Option<u8>,
    ) -> Result<()> {
        if self.rail().is_none() {
            turn.private(CARDS_OFF_TEXT);
            return Ok(());
        }
        let cards = self.store.cards_of(turn.me.user).await?;
        if cards.is_empty() {
            turn.private(
                "You have no card linked. Link one here first with /card add NUMBER MM/YY.",
            );
            return Ok(());
        }
        let Some(card) = cards.get(usize::from(index.unwrap_or(1)).saturating_sub(1)) else {
            turn.private(format!(
                "You have no card {}. /cards lists yours.",
                index.unwrap_or(1)
            ));
            return Ok(());
        };
        let label = card_label(card.brand, card.last4);
        let hold = self.config.cards.new_card_hold_secs;
        let possible_from_ms = cashout_possible_from_ms(card, hold);
        if kind == CardOpKind::CashOut && turn.now_ms < possible_from_ms {
            turn.private(format!(
                "Cash-outs to a new card are possible from {} ({} after it was added). Nothing was sent. Top-ups from {label} work now.",
                utc_minute_text(possible_from_ms),
                duration_text(hold)
            ));
            return Ok(());
        }
        if !card.expiry.is_valid_at(this_month(turn.now_ms)?) {
            turn.private(format!(
                "{label} expired at the end of {}. Remove it with /card remove and link your new card.",
                card.expiry
            ));
            return Ok(());
        }
        let awaiting = self.store.card_ops_awaiting_code(turn.me.user).await?;
        if awaiting.len() >= AWAITING_CARD_OPS_PER_USER_MAX {
            turn.private(format!(
                "You already have {} top-ups or cash-outs waiting for a code. Confirm or /cancel one first.",
                awaiting.len()
            ));
            return Ok(());
        }
        let fee_minor = match kind {
            CardOpKind::TopUp => 0,
            CardOpKind::CashOut => self.config.cards.cashout_fee_minor(amount),
        };
        let total_minor = amount.minor().saturating_add(fee_minor);
        let currency = amount.currency();
        if kind == CardOpKind::CashOut {
            let wallet = self.wallet(turn.me.user, currency).await?;
            let available = self
                .ledger
                .balance(wallet)
                .await?
                .map_or(0, |b| b.available());
            if available < total_minor {
                turn.private(format!(
                    "Not enough money for that: you have {} available and the cash-out needs {}{}.",
                    ledger::format_minor(available, currency),
                    ledger::format_minor(total_minor, currency),
                    if fee_minor > 0 { " (fee included)" } else { "" }
                ));
                return Ok(());
            }
        }
        let transfer_id = derive("paybot.bot.card.op", &event_key(turn.msg));
        let letter = match kind {
            CardOpKind::TopUp => 'T',
            CardOpKind::CashOut => 'C',
        };
        let code = otp::generate(self.rng.as_ref())?;
        let binding = transfer_id.as_u128().to_be_bytes();
        let challenge = OtpChallenge::new(code.hash(&self.pepper, &binding), turn.now_ms);
        let mut op = CardOp {
            reference: short_ref(letter, transfer_id, REF_BODY_CHARS)?,
            transfer_id,
            kind,
            user: turn.me.user,
            platform: turn.me.platform,
            platform_user_id: turn.me.id.clone(),
            token: card.token.clone(),
            brand: card.brand,
            last4: card.last4,
            amount,
            fee_minor,
            challenge,
            state: CardOpState::AwaitingCode,
            initiated_at_ms: None,
            status_id: None,
            action_code: None,
            rail_attempts: 0,
            due_at_ms: Some(challenge.expires_at_ms(&self.config.otp)),
            created_at_ms: turn.now_ms,
            updated_at_ms: turn.now_ms,
            revision: 0,
        };
        let mut stored = self.store.insert_card_op(&op).await?;
        if stored.transfer_id != transfer_id {
            op.reference = short_ref(letter, transfer_id, REF_BODY_CHARS_LONG)?;
            stored = self.store.insert_card_op(&op).await?;
        }
        if stored.transfer_id != transfer_id {
            return Err(BotError::Inconsistent(format!(
                "card operation reference {} taken twice",
                op.reference
            )));
        }
        if stored.state != CardOpState::AwaitingCode {
            turn.private(format!(
                "{} {} is already {}.",
                kind_name(kind),
                stored.reference,
                describe_op_state(stored.state)
            ));
            return Ok(());
        }
        if stored.challenge.hash.to_bytes() != challenge.hash.to_bytes() {
            // A retry after a crash: the first code was never seen.
            let mut renewed = stored.clone();
            renewed.challenge = challenge;
            renewed.updated_at_ms = turn.now_ms;
            if !self.store.update_card_op(&renewed).await? {
                return Err(BotError::Inconsistent(
                    "card operation changed while its code was renewed".to_owned(),
                ));
            }
        }
        let reference = stored.reference.clone();
        let what = match kind {
            CardOpKind::TopUp => format!("To add {amount} to your wallet from {label}"),
            CardOpKind::CashOut if fee_minor > 0 => format!(
                "To send {amount} to {label} (fee {}, {} in all from your wallet)",
                ledger::format_minor(fee_minor, currency),
                ledger::format_minor(total_minor, currency)
            ),
            CardOpKind::CashOut => format!("To send {amount} from your wallet to {label}"),
        };
        let text = format!(
            "{what}, send me: /confirm {}\nThe code works once and expires in {}. Never type it in a group.\nChanged your mind? /cancel {reference}",
            code.expose(),
            minutes(self.config.otp.ttl_secs),
        );
        let redacted = format!(
            "{what}, send me: /confirm (the code I sent you)\nChanged your mind? /cancel {reference}"
        );
        let cancel = Button::new("Cancel", format!("/cancel {reference}"));
        turn.private_with(text, Some(redacted), vec![cancel]);
        Ok(())
    }

    /// `/confirm` of a card operation's code: the verdict, then the work.
    pub(super) async fn confirm_card_op(
        &self,
        turn: &mut Turn<'_>,
        op: CardOp,
        code: &OtpCode,
    ) -> Result<()> {
        let verdict = op.challenge.verdict(
            &self.config.otp,
            &self.pepper,
            &op.transfer_id.as_u128().to_be_bytes(),
            code.as_str(),
            turn.now_ms,
        );
        match verdict {
            Verdict::Confirmed => {
                // The card may have left the wallet since the code was
                // sent (`/card remove`, or `/unlink` by the account that
                // linked it): then it is not this wallet's to charge.
                let cards = self.store.cards_of(op.user).await?;
                if !cards.iter().any(|c| c.token.as_str() == op.token.as_str()) {
                    let reference = op.reference.clone();
                    let (kind, label) = (kind_name(op.kind), op_label(&op));
                    self.end_card_op(op, CardOpState::Cancelled).await?;
                    turn.private(format!(
                        "{label} is no longer linked to this wallet, so {} {reference} was cancelled and no money moved.",
                        kind.to_lowercase()
                    ));
                    return Ok(());
                }
                self.execute_card_op(turn, op).await
            }
            Verdict::Expired => {
                let reference = op.reference.clone();
                let kind = kind_name(op.kind);
                self.end_card_op(op, CardOpState::Expired).await?;
                turn.private(format!(
                    "That code has expired, so {} {reference} was cancelled and no money moved.",
                    kind.to_lowercase()
                ));
                Ok(())
            }
            Verdict::LockedOut | Verdict::Wrong { .. } => {
                let reference = op.reference.clone();
                self.end_card_op(op, CardOpState::LockedOut).await?;
                turn.private(format!(
                    "Too many wrong codes: {reference} was cancelled and no money moved."
                ));
                Ok(())
            }
        }
    }

    /// A wrong code counts against every card operation waiting for one,
    /// as against every payment.
    pub(super) async fn wrong_code_on_card_ops(
        &self,
        turn: &Turn<'_>,
        ops: Vec<CardOp>,
        code: &OtpCode,
        lines: &mut Vec<String>,
    ) -> Result<()> {
        for op in ops {
            let verdict = op.challenge.verdict(
                &self.config.otp,
                &self.pepper,
                &op.transfer_id.as_u128().to_be_bytes(),
                code.as_str(),
                turn.now_ms,
            );
            let reference = op.reference.clone();
            match verdict {
                Verdict::Wrong { attempts_left } => {
                    let mut updated = op.clone();
                    updated.challenge = op.challenge.after_wrong();
                    updated.updated_at_ms = turn.now_ms;
                    if self.store.update_card_op(&updated).await? {
                        lines.push(format!(
                            "That code is not right for {} {reference} ({}). {} left.",
                            kind_name(op.kind).to_lowercase(),
                            op.amount,
                            tries(attempts_left)
                        ));
                    }
                }
                Verdict::LockedOut | Verdict::Confirmed => {
                    if self.end_card_op(op, CardOpState::LockedOut).await? {
                        lines.push(format!(
                            "Too many wrong codes: {reference} was cancelled and no money moved."
                        ));
                    }
                }
                Verdict::Expired => {
                    self.end_card_op(op, CardOpState::Expired).await?;
                    lines.push(format!(
                        "{reference} had expired and was cancelled; no money moved."
                    ));
                }
            }
        }
        Ok(())
    }

    /// Ends an operation still waiting for its code (a cash-out's
    /// reservation, if a crashed confirm made one, is voided). `false`: it
    /// was no longer waiting.
    pub(super) async fn end_card_op(&self, op: CardOp, state: CardOpState) -> Result<bool> {
        if op.state != CardOpState::AwaitingCode {
            return Ok(false);
        }
        let kind = op.kind;
        let mut ended = op;
        ended.state = state;
        ended.due_at_ms = None;
        ended.updated_at_ms = self.ledger.now_ms();
        // The record first: a confirm racing this one then fails its own
        // compare-and-swap and releases what it reserved.
        if !self.store.update_card_op(&ended).await? {
            return Ok(false);
        }
        if kind == CardOpKind::CashOut {
            self.release_cashout(&ended).await?;
        }
        Ok(true)
    }

    /// Moves a confirmed operation on: reserve (cash-out), record `Sent`,
    /// call the rail, apply its answer.
    async fn execute_card_op(&self, turn: &mut Turn<'_>, op: CardOp) -> Result<()> {
        let Some(rail) = self.rail() else {
            turn.private(CARDS_OFF_TEXT);
            return Ok(());
        };
        let reference = op.reference.clone();
        let notices = match op.kind {
            CardOpKind::TopUp => Vec::new(),
            CardOpKind::CashOut => {
                self.to_other_identities(
                    op.user,
                    op.platform,
                    &op.platform_user_id,
                    &format!("{reference}:cashout:confirmed"),
                    &format!(
                        "A cash-out of {} from your paybot wallet to {} was confirmed from your {} account {} (cash-out {reference}). If that was not you, contact the operator.",
                        op.amount,
                        op_label(&op),
                        op.platform,
                        turn.me_label()
                    ),
                )
                .await?
            }
        };
        if op.kind == CardOpKind::CashOut && !self.reserve_cashout(&op, notices).await? {
            let wallet = self.wallet(op.user, op.amount.currency()).await?;
            let available = self
                .ledger
                .balance(wallet)
                .await?
                .map_or(0, |b| b.available());
            self.end_card_op(op.clone(), CardOpState::Cancelled).await?;
            turn.private(format!(
                "Not enough money for cash-out {reference}: you have {} available and it needs {}. Nothing was sent.",
                ledger::format_minor(available, op.amount.currency()),
                ledger::format_minor(
                    op.amount.minor().saturating_add(op.fee_minor),
                    op.amount.currency()
                )
            ));
            return Ok(());
        }
        let mut sent = op.clone();
        sent.state = CardOpState::Sent;
        sent.initiated_at_ms = Some(turn.now_ms);
        sent.rail_attempts = 1;
        // If we crash from here on, the sweep resends this very request.
        sent.due_at_ms = Some(turn.now_ms.saturating_add(RAIL_RETRY_MS));
        sent.updated_at_ms = turn.now_ms;
        if !self.store.update_card_op(&sent).await? {
            let state = self
                .store
                .card_op(&reference)
                .await?
                .map_or(CardOpState::Cancelled, |o| o.state);
            if op.kind == CardOpKind::CashOut
                && state.is_final()
                && state != CardOpState::Completed
                && state != CardOpState::Declined
            {
                // Ended meanwhile (cancel, expiry): undo our reservation.
                self.release_cashout(&op).await?;
            }
            turn.private(format!(
                "{} {reference} is already {}.",
                kind_name(op.kind),
                describe_op_state(state)
            ));
            return Ok(());
        }
        sent.revision = sent.revision.saturating_add(1);
        let transfer = funds_transfer(&sent)?;
        let answer = match sent.kind {
            CardOpKind::TopUp => rail.pull(&transfer).await,
            CardOpKind::CashOut => rail.push(&transfer).await,
        };
        let (op, settled) = self.apply_rail_answer(sent, answer).await?;
        turn.private(settled_text(&op, &settled));
        Ok(())
    }

    /// Reserves a cash-out's amount and fee (idempotent). `false`: not
    /// enough money.
    /// `notices` (to the wallet's other identities) are written with the
    /// reservation, in the same transaction.
    async fn reserve_cashout(&self, op: &CardOp, notices: Vec<OutboxMessage>) -> Result<bool> {
        let currency = op.amount.currency();
        let wallet = self.wallet(op.user, currency).await?;
        let clearing = self
            .system_account(AccountKind::CardClearing, currency)
            .await?;
        let mut group = vec![
            NewTransfer::pending(
                op_transfer(op, "cashout.hold"),
                wallet,
                clearing,
                op.amount,
                CASHOUT_HOLD_SECS,
            )
            .with_code(card_transfer_codes::CASHOUT),
        ];
        if let Ok(fee) = Amount::from_minor(op.fee_minor, currency) {
            let fees = self.system_account(AccountKind::Fees, currency).await?;
            group.push(
                NewTransfer::pending(
                    op_transfer(op, "cashout.fee-hold"),
                    wallet,
                    fees,
                    fee,
                    CASHOUT_HOLD_SECS,
                )
                .with_code(card_transfer_codes::CASHOUT_FEE),
            );
        }
        match self.ledger.submit_linked_with_outbox(group, notices).await {
            Ok(_) => Ok(true),
            Err(SubmitError::Rejected {
                error: TransferError::InsufficientFunds,
                ..
            }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Posts (`post`) or voids a cash-out's reservation, whichever of its
    /// transfers exist. Already resolved the same way is fine.
    async fn resolve_cashout(&self, op: &CardOp, post: bool) -> Result<()> {
        let mut group = vec![];
        let holds = [("cashout.hold", "cashout.post", "cashout.void")];
        let fee_holds = [("cashout.fee-hold", "cashout.fee-post", "cashout.fee-void")];
        let steps = holds
            .iter()
            .chain(fee_holds.iter().filter(|_| op.fee_minor > 0));
        for (hold, post_step, void_step) in steps {
            let pending = op_transfer(op, hold);
            group.push(if post {
                NewTransfer::post(op_transfer(op, post_step), pending, None)
            } else {
                NewTransfer::void(op_transfer(op, void_step), pending)
            });
        }
        match self.ledger.submit_linked(group).await {
            Ok(_) => Ok(()),
            Err(SubmitError::Rejected { error, .. }) => match (post, &error) {
                (true, TransferError::AlreadyPosted)
                | (false, TransferError::AlreadyVoided | TransferError::AlreadyExpired) => Ok(()),
                _ => Err(BotError::Inconsistent(format!(
                    "cash-out {} could not be {}: {error}",
                    op.reference,
                    if post { "posted" } else { "voided" }
                ))),
            },
            Err(error) => Err(error.into()),
        }
    }

    /// Voids whatever a cash-out that never reached the rail reserved
    /// (usually nothing: the code was never confirmed).
    async fn release_cashout(&self, op: &CardOp) -> Result<()> {
        let held = self
            .ledger
            .transfer(op_transfer(op, "cashout.hold"))
            .await?
            .is_some();
        if held {
            self.resolve_cashout(op, false).await?;
        }
        Ok(())
    }

    /// Brings the ledger and the record in line with what the rail said
    /// about `op` (in `Sent` or `Pending`).
    async fn apply_rail_answer(
        &self,
        op: CardOp,
        answer: std::result::Result<RailOutcome, RailError>,
    ) -> Result<(CardOp, Settled)> {
        let now_ms = self.ledger.now_ms();
        let mut next = op.clone();
        next.updated_at_ms = now_ms;
        let settled = match answer {
            Ok(RailOutcome::Approved { .. }) => {
                match op.kind {
                    CardOpKind::TopUp => {
                        let currency = op.amount.currency();
                        let clearing = self
                            .system_account(AccountKind::CardClearing, currency)
                            .await?;
                        let wallet = self.wallet(op.user, currency).await?;
                        self.ledger
                            .submit(
                                NewTransfer::single(
                                    op_transfer(&op, "topup.credit"),
                                    clearing,
                                    wallet,
                                    op.amount,
                                )
                                .with_code(card_transfer_codes::TOPUP),
                            )
                            .await?;
                    }
                    CardOpKind::CashOut => self.resolve_cashout(&op, true).await?,
                }
                next.state = CardOpState::Completed;
                next.due_at_ms = None;
                Settled::Completed
            }
            Ok(RailOutcome::Declined {
                action_code,
                reason,
            }) => {
                if op.kind == CardOpKind::CashOut {
                    self.resolve_cashout(&op, false).await?;
                }
                next.state = CardOpState::Declined;
                next.action_code = Some(action_code);
                next.due_at_ms = None;
                Settled::Declined(reason.user_text().to_owned())
            }
            Ok(RailOutcome::Pending { status_id }) => {
                next.state = CardOpState::Pending;
                next.status_id = Some(status_id);
                next.due_at_ms = Some(now_ms.saturating_add(retry_delay_ms(op.rail_attempts)));
                Settled::Pending
            }
            Err(RailError::Permanent(error)) if op.state == CardOpState::Pending => {
                // The rail no longer knows the status id: resend the
                // original request, which it recognises by its trace
                // numbers (or decides afresh if it never saw it).
                tracing::warn!(%error, op = %op.reference, "card status refused; resending the request");
                next.state = CardOpState::Sent;
                next.status_id = None;
                next.due_at_ms = Some(now_ms.saturating_add(retry_delay_ms(op.rail_attempts)));
                Settled::Unknown
            }
            Err(RailError::Permanent(error)) => {
                tracing::warn!(%error, op = %op.reference, "card rail refused the request; nothing moved");
                if op.kind == CardOpKind::CashOut {
                    self.resolve_cashout(&op, false).await?;
                }
                next.state = CardOpState::Declined;
                next.due_at_ms = None;
                Settled::Declined("the card network refused the request".to_owned())
            }
            Err(RailError::Transient(error)) => {
                tracing::warn!(%error, op = %op.reference, "card rail did not answer; will ask again");
                next.due_at_ms = Some(now_ms.saturating_add(retry_delay_ms(op.rail_attempts)));
                Settled::Unknown
            }
        };
        if self.store.update_card_op(&next).await? {
            next.revision = next.revision.saturating_add(1);
            return Ok((next, settled));
        }
        // Another worker recorded it first; the ledger moved once.
        let now = self.store.card_op(&op.reference).await?.ok_or_else(|| {
            BotError::Inconsistent(format!("card operation {} vanished", op.reference))
        })?;
        let settled = match now.state {
            CardOpState::Completed => Settled::Completed,
            CardOpState::Declined => Settled::Declined("the card was declined".to_owned()),
            CardOpState::Pending => Settled::Pending,
            _ => Settled::Unknown,
        };
        Ok((now, settled))
    }

    /// Resumes due card operations: expires codes nobody confirmed, resends
    /// `Sent` requests, asks about `Pending` ones; tells the user when one
    /// is decided. Returns how many ended. An operation that fails is logged
    /// and tried again next round; it does not stop the others.
    pub(super) async fn sweep_card_ops(&self, now_ms: i64) -> Result<usize> {
        let due = self.store.card_ops_due(now_ms, SWEEP_CARD_OPS_MAX).await?;
        let mut ended = 0;
        for op in due {
            let reference = op.reference.clone();
            match self.resume_card_op(op).await {
                Ok(true) => ended += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(%error, op = %reference, "cannot resume card operation");
                }
            }
        }
        Ok(ended)
    }

    async fn resume_card_op(&self, op: CardOp) -> Result<bool> {
        match op.state {
            CardOpState::AwaitingCode => {
                let notice = self.notice(
                    &format!("{}:card:expired", op.reference),
                    op.platform,
                    &op.platform_user_id,
                    format!(
                        "{} {} of {} ({}) was not confirmed within {} and has been cancelled; no money moved.",
                        kind_name(op.kind),
                        op.reference,
                        op.amount,
                        op_label(&op),
                        minutes(self.config.otp.ttl_secs)
                    ),
                )?;
                if self.end_card_op(op, CardOpState::Expired).await? {
                    self.ledger.enqueue_outbox(&[notice]).await?;
                    return Ok(true);
                }
                Ok(false)
            }
            CardOpState::Sent | CardOpState::Pending => {
                let Some(rail) = self.rail() else {
                    return Ok(false);
                };
                let mut asking = op.clone();
                asking.rail_attempts = op.rail_attempts.saturating_add(1);
                let answer = match (&op.state, &op.status_id) {
                    (CardOpState::Pending, Some(status_id)) => rail.status(status_id).await,
                    _ => {
                        let transfer = funds_transfer(&op)?;
                        match op.kind {
                            CardOpKind::TopUp => rail.pull(&transfer).await,
                            CardOpKind::CashOut => rail.push(&transfer).await,
                        }
                    }
                };
                let (after, settled) = self.apply_rail_answer(asking, answer).await?;
                if matches!(settled, Settled::Completed | Settled::Declined(_)) {
                    let notice = self.notice(
                        &format!("{}:card:{}", after.reference, after.state.as_str()),
                        after.platform,
                        &after.platform_user_id,
                        settled_text(&after, &settled),
                    )?;
                    self.ledger.enqueue_outbox(&[notice]).await?;
                    return Ok(true);
                }
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    /// `/cancel` of a card operation. Only one still waiting for its code
    /// can be cancelled; once sent, the network decides.
    pub(super) async fn cancel_card_op(&self, turn: &mut Turn<'_>, op: CardOp) -> Result<()> {
        let reference = op.reference.clone();
        let kind = kind_name(op.kind);
        match op.state {
            CardOpState::AwaitingCode => {
                if self.end_card_op(op, CardOpState::Cancelled).await? {
                    turn.here(format!(
                        "Cancelled {} {reference}. No money moved.",
                        kind.to_lowercase()
                    ));
                } else {
                    turn.here(format!(
                        "{kind} {reference} could not be cancelled: it changed meanwhile."
                    ));
                }
            }
            state => turn.here(format!(
                "{kind} {reference} is already {}; it cannot be cancelled.",
                describe_op_state(state)
            )),
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
            let binding = op.transfer_id.as_u128().to_be_bytes();
            if !candidates
                .iter()
                .any(|c| op.challenge.hash.matches(&self.pepper, &binding, c))
            {
                continue;
            }
            caught = true;
            let reference = op.reference.clone();
            let kind = kind_name(op.kind).to_lowercase();
            if self.end_card_op(op, CardOpState::Leaked).await? {
                turn.here(format!(
                    "{}, that was a private confirmation code, so I cancelled what it was for. Only ever send codes to me in a DM.",
                    turn.me_label()
                ));
                turn.private(format!(
                    "Your code for {kind} {reference} was posted in a group, so I cancelled it; no money moved. Start again, and send the new code only here."
                ));
            }
        }
        let adds = self.store.card_adds_awaiting_code(turn.me.user).await?;
        for add in adds {
            let binding = add.add_id.as_u128().to_be_bytes();
            if !candidates
                .iter()
                .any(|c| add.challenge.hash.matches(&self.pepper, &binding, c))
            {
                continue;
            }
            caught = true;
            let label = add_label(&add);
            if self.end_card_add(add, CardAddState::Leaked).await? {
                turn.here(format!(
                    "{}, that was a private confirmation code, so I cancelled what it was for. Only ever send codes to me in a DM.",
                    turn.me_label()
                ));
                turn.private(format!(
                    "Your code for linking {label} was posted in a group, so I cancelled it; no card was linked. Start again, and send the new code only here."
                ));
            }
        }
        Ok(caught)
    }
}

/// The rail request of `op`, rebuilt field for field from its record.
fn funds_transfer(op: &CardOp) -> Result<FundsTransfer> {
    let initiated_at = op
        .initiated_at_ms
        .and_then(UtcDateTime::from_unix_ms)
        .ok_or_else(|| {
            BotError::Inconsistent(format!(
                "card operation {} was sent without a time",
                op.reference
            ))
        })?;
    Ok(FundsTransfer::new(
        op.transfer_id,
        op.token.clone(),
        op.amount,
        initiated_at,
    ))
}

fn retry_delay_ms(attempts: u32) -> i64 {
    let shift = attempts.saturating_sub(1).min(16);
    RAIL_RETRY_MS
        .saturating_mul(1_i64 << shift)
        .min(RAIL_RETRY_MS_MAX)
}

fn describe_op_state(state: CardOpState) -> &'static str {
    match state {
        CardOpState::AwaitingCode => "waiting for your code",
        CardOpState::Sent | CardOpState::Pending => "with the card network",
        CardOpState::Completed => "done",
        CardOpState::Declined => "declined",
        CardOpState::Cancelled => "cancelled",
        CardOpState::Expired => "expired",
        CardOpState::LockedOut => "cancelled after wrong codes",
        CardOpState::Leaked => "cancelled (code posted in a group)",
    }
}

/// What the user is told about `op` after a rail answer.
fn settled_text(op: &CardOp, settled: &Settled) -> String {
    let label = op_label(op);
    let amount = op.amount;
    let reference = &op.reference;
    match (op.kind, settled) {
        (CardOpKind::TopUp, Settled::Completed) => format!(
            "Done: added {amount} to your wallet from {label} (top-up {reference}). /balance shows your balance."
        ),
        (CardOpKind::CashOut, Settled::Completed) if op.fee_minor > 0 => format!(
            "Done: sent {amount} to {label} (cash-out {reference}, fee {}).",
            ledger::format_minor(op.fee_minor, amount.currency())
        ),
        (CardOpKind::CashOut, Settled::Completed) => {
            format!("Done: sent {amount} to {label} (cash-out {reference}).")
        }
        (CardOpKind::TopUp, Settled::Declined(reason)) => format!(
            "Top-up {reference} of {amount} from {label} was declined: {reason}. Nothing was charged."
        ),
        (CardOpKind::CashOut, Settled::Declined(reason)) => format!(
            "Cash-out {reference} of {amount} to {label} was declined: {reason}. The money is back in your wallet."
        ),
        (kind, Settled::Pending) => format!(
            "The card network is taking a moment with {} {reference} ({amount}, {label}). I'll message you as soon as it is decided{}.",
            kind_name(kind).to_lowercase(),
            if kind == CardOpKind::CashOut {
                "; the money stays reserved until then"
            } else {
                ""
            }
        ),
        (kind, Settled::Unknown) => format!(
            "The card network is not answering right now. I'll keep asking about {} {reference} ({amount}, {label}); it can never go through twice. I'll message you when it is decided.",
            kind_name(kind).to_lowercase()
        ),
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
