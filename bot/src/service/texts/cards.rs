//! What paybot says about cards: linking (`/card add`, `/cards`,
//! `/card remove`), top-ups and cash-outs, the card network's answers, and
//! the warnings about card numbers and codes posted where they should not
//! be. Every sentence the card flows send is here, so they can be read,
//! reviewed and later translated in one place.
//!
//! The decision to know: these are plain functions of already-formatted
//! values (labels, references, amounts); they decide nothing and read no
//! state, and none of them ever takes a card number.

use std::fmt::Display;

use ledger::Currency;

use crate::card::{Brand, Expiry, Last4};
use crate::command::CARDS_PER_USER_MAX;
use crate::limits::{duration_text, utc_minute_text};
use crate::store::{CardAddState, CardOpKind, CardOpState};

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
/// A card command typed in a group.
pub(crate) const CARD_COMMAND_IN_GROUP_TEXT: &str =
    "Card commands work only in a private chat with me; nothing was done.";
/// `/topup` or `/cashout` with no card linked.
pub(crate) const NO_CARD_TO_USE_TEXT: &str =
    "You have no card linked. Link one here first with /card add NUMBER MM/YY.";
/// `/cards` with no card linked.
pub(crate) const NO_CARDS_TEXT: &str =
    "You have no card linked. Link one here with /card add NUMBER MM/YY.";
/// The heading of `/cards`.
pub(crate) const CARDS_HEADING: &str = "Your cards:";
/// The last line of `/cards`.
pub(crate) const CARDS_FOOTER: &str =
    "/topup AMOUNT card N or /cashout AMOUNT card N uses one; without `card N`, card 1.";
/// `/card remove N` of a card removed meanwhile.
pub(crate) const CARD_ALREADY_REMOVED_TEXT: &str =
    "That card was already removed. /cards lists yours.";
/// The heading of `/history`'s lines about requests still with the rail.
pub(crate) const IN_FLIGHT_HEADING: &str = "With the card network:";
/// The label of the button under a code that cancels what it confirms.
pub(crate) const CANCEL_BUTTON_TEXT: &str = "Cancel";
/// The decline reason when the rail refused the request itself.
pub(crate) const RAIL_REFUSED_REASON: &str = "the card network refused the request";
/// The decline reason when another worker recorded the decline first.
pub(crate) const CARD_DECLINED_REASON: &str = "the card was declined";

// ---------------------------------------------------------------------------
// Words

/// `Visa •••• 1111`.
pub fn card_label(brand: Brand, last4: Last4) -> String {
    format!("{} \u{2022}\u{2022}\u{2022}\u{2022} {last4}", brand.name())
}

/// `Visa •••• 1111 (08/29)`.
pub(crate) fn card_label_with_expiry(label: &str, expiry: Expiry) -> String {
    format!("{label} ({expiry})")
}

pub(crate) fn describe_add_state(state: CardAddState) -> &'static str {
    match state {
        CardAddState::AwaitingCode => "waiting for your code",
        CardAddState::Linked => "done",
        CardAddState::Cancelled => "cancelled",
        CardAddState::Expired => "expired",
        CardAddState::LockedOut => "cancelled after wrong codes",
        CardAddState::Leaked => "cancelled (code posted in a group)",
        CardAddState::Held => "under review",
        CardAddState::Rejected => "declined after review",
        CardAddState::HoldExpired => "not reviewed in time",
    }
}

pub(crate) fn kind_name(kind: CardOpKind) -> &'static str {
    match kind {
        CardOpKind::TopUp => "Top-up",
        CardOpKind::CashOut => "Cash-out",
    }
}

pub(crate) fn describe_op_state(state: CardOpState) -> &'static str {
    match state {
        CardOpState::AwaitingCode => "waiting for your code",
        CardOpState::Sent | CardOpState::Pending => "with the card network",
        CardOpState::Completed => "done",
        CardOpState::Declined => "declined",
        CardOpState::Cancelled => "cancelled",
        CardOpState::Expired => "expired",
        CardOpState::LockedOut => "cancelled after wrong codes",
        CardOpState::Leaked => "cancelled (code posted in a group)",
        CardOpState::Held => "under review",
        CardOpState::Rejected => "declined after review",
        CardOpState::HoldExpired => "not reviewed in time, and released",
    }
}

// ---------------------------------------------------------------------------
// Codes (card links and card operations alike)

/// The private message with the code that confirms `what`.
pub(crate) fn code_prompt(what: &str, code: &str, ttl: &str, reference: &impl Display) -> String {
    format!(
        "{what}, send me: /confirm {code}\nThe code works once and expires in {ttl}. Never type it in a group.\nChanged your mind? /cancel {reference}"
    )
}

/// [`code_prompt`] as kept in the history, without the code.
pub(crate) fn code_prompt_redacted(what: &str, reference: &impl Display) -> String {
    format!(
        "{what}, send me: /confirm (the code I sent you)\nChanged your mind? /cancel {reference}"
    )
}

/// The public line when a card code was typed in a group.
pub(crate) fn code_leaked_here(who: &str) -> String {
    format!(
        "{who}, that was a private confirmation code, so I cancelled what it was for. Only ever send codes to me in a DM."
    )
}

// ---------------------------------------------------------------------------
// Card numbers where they do not belong

pub(crate) fn card_in_group(who: &str) -> String {
    format!("\u{26a0}\u{fe0f} {who}, {CARD_IN_GROUP_TEXT}")
}

pub(crate) fn card_in_group_deleted(who: &str) -> String {
    format!("\u{26a0}\u{fe0f} {who}, {CARD_IN_GROUP_DELETED_TEXT}")
}

// ---------------------------------------------------------------------------
// Linking: /card add, /cards, /card remove

pub(crate) fn cannot_link(label: &str, error: &impl Display) -> String {
    format!("I can't link {label}: {error}. Nothing was saved.")
}

pub(crate) fn already_linked(label: &str) -> String {
    format!("{label} is already linked. /cards lists your cards.")
}

pub(crate) fn cards_full() -> String {
    format!(
        "You have {CARDS_PER_USER_MAX} cards linked, the most I keep. Remove one with /card remove N first."
    )
}

pub(crate) fn cards_full_not_linked(label: &str) -> String {
    format!(
        "You have {CARDS_PER_USER_MAX} cards linked, the most I keep, so {label} was not linked. Remove one with /card remove N first."
    )
}

pub(crate) fn already_waiting(label: &str, reference: &impl Display) -> String {
    format!(
        "{label} is already waiting for its code: confirm it, or /cancel {reference} and start again."
    )
}

pub(crate) fn too_many_awaiting_adds(count: usize) -> String {
    format!(
        "You already have {count} cards waiting for a code to be linked. Confirm or /cancel one first."
    )
}

pub(crate) fn tokenize_unavailable(label: &str) -> String {
    format!(
        "The card network is not answering right now, so {label} was not linked. Please try again in a minute."
    )
}

pub(crate) fn tokenize_refused(label: &str) -> String {
    format!(
        "The card network refused {label}, so it was not linked. Check the number and expiry, or try another card."
    )
}

pub(crate) fn link_already(label: &str, state: CardAddState) -> String {
    format!("Linking {label} is already {}.", describe_add_state(state))
}

/// What a card add's code confirms.
pub(crate) fn add_what(label: &str, expiry: Expiry) -> String {
    format!("To link {label} ({expiry}) to your wallet")
}

pub(crate) fn add_code_expired(label: &str) -> String {
    format!("That code has expired, so linking {label} was cancelled; no card was linked.")
}

pub(crate) fn add_locked_out(label: &str) -> String {
    format!("Too many wrong codes: linking {label} was cancelled; no card was linked.")
}

pub(crate) fn add_wrong_code(label: &str, tries: &str) -> String {
    format!("That code is not right for linking {label}. {tries} left.")
}

pub(crate) fn add_expired_line(label: &str) -> String {
    format!("Linking {label} had expired and was cancelled; no card was linked.")
}

pub(crate) fn add_cancelled(label: &str) -> String {
    format!("Cancelled linking {label}. No card was linked.")
}

pub(crate) fn add_cannot_cancel(label: &str, state: CardAddState) -> String {
    format!(
        "Linking {label} is already {}; it cannot be cancelled.",
        describe_add_state(state)
    )
}

pub(crate) fn add_not_confirmed(label: &str, ttl: &str) -> String {
    format!(
        "Linking {label} was not confirmed within {ttl} and has been cancelled; no card was linked."
    )
}

pub(crate) fn add_code_leaked(label: &str) -> String {
    format!(
        "Your code for linking {label} was posted in a group, so I cancelled it; no card was linked. Start again, and send the new code only here."
    )
}

/// The notice to the wallet's other accounts when a card was linked.
pub(crate) fn card_added_notice(label: &str, platform: &impl Display, who: &str) -> String {
    format!(
        "A card was linked to your paybot wallet: {label}, from your {platform} account {who}. If that was not you, remove it with /card remove and contact the operator."
    )
}

/// The part of [`linked`] about the wait before cash-outs to a new card.
pub(crate) fn linked_hold(possible_from_ms: i64, hold_secs: u32) -> String {
    format!(
        " Cash-outs to it are possible from {} ({} after it was added); top-ups from it work now.",
        utc_minute_text(possible_from_ms),
        duration_text(hold_secs)
    )
}

pub(crate) fn linked(label: &str, when: &str) -> String {
    format!(
        "Linked {label}.{when} /topup 20 adds money from it, /cashout 20 sends money to it; /cards lists your cards."
    )
}

/// One line of `/cards`.
pub(crate) fn card_line(n: usize, label: &str) -> String {
    format!("{n}. {label}")
}

pub(crate) fn no_card_n(index: u8) -> String {
    format!("You have no card {index}. /cards lists yours.")
}

pub(crate) fn card_removed(label: &str) -> String {
    format!("Removed {label}. Top-ups and cash-outs already under way finish as usual.")
}

// ---------------------------------------------------------------------------
// Top-ups and cash-outs

/// `/link` or `/unlink` waiting for a request still with the rail.
pub(crate) fn wait_for_card_op(
    kind: CardOpKind,
    reference: &impl Display,
    amount: &impl Display,
    label: &str,
    others: usize,
    then: &str,
) -> String {
    let more = match others {
        0 => String::new(),
        n => format!(" (and {n} more)"),
    };
    format!(
        "Wait until your {} {reference} of {amount} ({label}){more} finishes: the card network has not decided yet, and I'll message you when it has. Then {then}",
        kind_name(kind).to_lowercase()
    )
}

/// One of `/history`'s lines about a request still with the rail.
pub(crate) fn in_flight_line(
    kind: CardOpKind,
    reference: &impl Display,
    amount: &impl Display,
    label: &str,
) -> String {
    format!(
        "\u{2022} pending {} {reference} {amount} ({label})",
        kind_name(kind).to_lowercase()
    )
}

pub(crate) fn card_expired(label: &str, expiry: Expiry) -> String {
    format!(
        "{label} expired at the end of {expiry}. Remove it with /card remove and link your new card."
    )
}

pub(crate) fn too_many_awaiting_ops(count: usize) -> String {
    format!(
        "You already have {count} top-ups or cash-outs waiting for a code. Confirm or /cancel one first."
    )
}

pub(crate) fn not_enough_for_cashout(
    available_minor: i64,
    total_minor: i64,
    currency: Currency,
    fee_included: bool,
) -> String {
    format!(
        "Not enough money for that: you have {} available and the cash-out needs {}{}.",
        ledger::format_minor(available_minor, currency),
        ledger::format_minor(total_minor, currency),
        if fee_included { " (fee included)" } else { "" }
    )
}

pub(crate) fn op_already(kind: CardOpKind, reference: &impl Display, state: CardOpState) -> String {
    format!(
        "{} {reference} is already {}.",
        kind_name(kind),
        describe_op_state(state)
    )
}

/// What a top-up's code confirms.
pub(crate) fn topup_what(amount: &impl Display, label: &str) -> String {
    format!("To add {amount} to your wallet from {label}")
}

/// What a cash-out's code confirms, with its fee.
pub(crate) fn cashout_what_with_fee(
    amount: &impl Display,
    label: &str,
    fee_minor: i64,
    total_minor: i64,
    currency: Currency,
) -> String {
    format!(
        "To send {amount} to {label} (fee {}, {} in all from your wallet)",
        ledger::format_minor(fee_minor, currency),
        ledger::format_minor(total_minor, currency)
    )
}

/// What a cash-out's code confirms, without a fee.
pub(crate) fn cashout_what(amount: &impl Display, label: &str) -> String {
    format!("To send {amount} from your wallet to {label}")
}

pub(crate) fn op_no_longer_linked(
    label: &str,
    kind: CardOpKind,
    reference: &impl Display,
) -> String {
    format!(
        "{label} is no longer linked to this wallet, so {} {reference} was cancelled and no money moved.",
        kind_name(kind).to_lowercase()
    )
}

pub(crate) fn op_code_expired(kind: CardOpKind, reference: &impl Display) -> String {
    format!(
        "That code has expired, so {} {reference} was cancelled and no money moved.",
        kind_name(kind).to_lowercase()
    )
}

pub(crate) fn op_locked_out(reference: &impl Display) -> String {
    format!("Too many wrong codes: {reference} was cancelled and no money moved.")
}

pub(crate) fn op_wrong_code(
    kind: CardOpKind,
    reference: &impl Display,
    amount: &impl Display,
    tries: &str,
) -> String {
    format!(
        "That code is not right for {} {reference} ({amount}). {tries} left.",
        kind_name(kind).to_lowercase()
    )
}

pub(crate) fn op_expired_line(reference: &impl Display) -> String {
    format!("{reference} had expired and was cancelled; no money moved.")
}

/// The notice to the wallet's other accounts when a cash-out was confirmed.
pub(crate) fn cashout_confirmed_notice(
    amount: &impl Display,
    label: &str,
    platform: &impl Display,
    who: &str,
    reference: &impl Display,
) -> String {
    format!(
        "A cash-out of {amount} from your paybot wallet to {label} was confirmed from your {platform} account {who} (cash-out {reference}). If that was not you, contact the operator."
    )
}

pub(crate) fn cashout_short(
    reference: &impl Display,
    available_minor: i64,
    needed_minor: i64,
    currency: Currency,
) -> String {
    format!(
        "Not enough money for cash-out {reference}: you have {} available and it needs {}. Nothing was sent.",
        ledger::format_minor(available_minor, currency),
        ledger::format_minor(needed_minor, currency)
    )
}

pub(crate) fn op_not_confirmed(
    kind: CardOpKind,
    reference: &impl Display,
    amount: &impl Display,
    label: &str,
    ttl: &str,
) -> String {
    format!(
        "{} {reference} of {amount} ({label}) was not confirmed within {ttl} and has been cancelled; no money moved.",
        kind_name(kind)
    )
}

pub(crate) fn op_cancelled(kind: CardOpKind, reference: &impl Display) -> String {
    format!(
        "Cancelled {} {reference}. No money moved.",
        kind_name(kind).to_lowercase()
    )
}

pub(crate) fn op_cancel_changed(kind: CardOpKind, reference: &impl Display) -> String {
    format!(
        "{} {reference} could not be cancelled: it changed meanwhile.",
        kind_name(kind)
    )
}

pub(crate) fn op_cannot_cancel(
    kind: CardOpKind,
    reference: &impl Display,
    state: CardOpState,
) -> String {
    format!(
        "{} {reference} is already {}; it cannot be cancelled.",
        kind_name(kind),
        describe_op_state(state)
    )
}

pub(crate) fn op_code_leaked(kind: CardOpKind, reference: &impl Display) -> String {
    format!(
        "Your code for {} {reference} was posted in a group, so I cancelled it; no money moved. Start again, and send the new code only here.",
        kind_name(kind).to_lowercase()
    )
}

// ---------------------------------------------------------------------------
// The card network's answers

pub(crate) fn topup_done(amount: &impl Display, label: &str, reference: &impl Display) -> String {
    format!(
        "Done: added {amount} to your wallet from {label} (top-up {reference}). /balance shows your balance."
    )
}

pub(crate) fn cashout_done_with_fee(
    amount: &impl Display,
    label: &str,
    reference: &impl Display,
    fee_minor: i64,
    currency: Currency,
) -> String {
    format!(
        "Done: sent {amount} to {label} (cash-out {reference}, fee {}).",
        ledger::format_minor(fee_minor, currency)
    )
}

pub(crate) fn cashout_done(amount: &impl Display, label: &str, reference: &impl Display) -> String {
    format!("Done: sent {amount} to {label} (cash-out {reference}).")
}

pub(crate) fn topup_declined(
    reference: &impl Display,
    amount: &impl Display,
    label: &str,
    reason: &str,
) -> String {
    format!(
        "Top-up {reference} of {amount} from {label} was declined: {reason}. Nothing was charged."
    )
}

pub(crate) fn cashout_declined(
    reference: &impl Display,
    amount: &impl Display,
    label: &str,
    reason: &str,
) -> String {
    format!(
        "Cash-out {reference} of {amount} to {label} was declined: {reason}. The money is back in your wallet."
    )
}

pub(crate) fn op_pending(
    kind: CardOpKind,
    reference: &impl Display,
    amount: &impl Display,
    label: &str,
) -> String {
    format!(
        "The card network is taking a moment with {} {reference} ({amount}, {label}). I'll message you as soon as it is decided{}.",
        kind_name(kind).to_lowercase(),
        if kind == CardOpKind::CashOut {
            "; the money stays reserved until then"
        } else {
            ""
        }
    )
}

pub(crate) fn op_unknown(
    kind: CardOpKind,
    reference: &impl Display,
    amount: &impl Display,
    label: &str,
) -> String {
    format!(
        "The card network is not answering right now. I'll keep asking about {} {reference} ({amount}, {label}); it can never go through twice. I'll message you when it is decided.",
        kind_name(kind).to_lowercase()
    )
}
