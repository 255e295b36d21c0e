//! The plumbing of one message: the checks every message gets before its
//! command ([`Bot::screen`]), the [`Turn`] that collects its replies, the
//! command bucket, the names and ids every family derives, what every
//! record waiting for a code shares ([`AwaitsCode`]: its reference, its
//! challenge), and what [`Bot::handle`] does around the commands (the
//! internal-error reply, the stored outcome a redelivery gets back, the
//! last guard against a card number in a reply).
//!
//! The design decision to know: a reply says who may see it (the chat, or
//! the sender privately), and [`Turn::private`] in a group the others saw
//! adds the one public note "I sent you a DM"; the families only choose a
//! reply's wording where the group saw the command (`Turn::seen_by_group`,
//! `Turn::in_place`), never send a private thing to the group.

use async_trait::async_trait;
use ledger::TransferId;

use super::texts::turn as texts;
use super::{Bot, BotError, Result};
use crate::card as card_number;
use crate::command::{
    self, Command, CommandName, LINK_CODE_ALPHABET, OtpCode, ParseContext, ShortRef,
};
use crate::limits::{self, Admission};
use crate::message::{
    Audience, Button, ChatKind, Deletion, Document, EventId, Incoming, MESSAGE_TEXT_BYTES_MAX,
    Platform, Reply, User,
};
use crate::notify::StoredReply;
use crate::otp::{OtpChallenge, Verdict};
use crate::store::{CardAdd, CardOp, Identity, Payment, Store, StoreError};

/// Characters after the kind letter in a payment, request or split
/// reference (`P7K2QXM`); a collision retries with [`REF_BODY_CHARS_LONG`].
pub const REF_BODY_CHARS: usize = 6;
pub const REF_BODY_CHARS_LONG: usize = 11;

/// One message being handled: who said it, where, and what to answer.
pub(super) struct Turn<'a> {
    pub(super) msg: &'a Incoming,
    pub(super) me: Identity,
    pub(super) now_ms: i64,
    pub(super) replies: Vec<Reply>,
    pub(super) noted_dm: bool,
    /// The platform shows private replies to the sender where they typed,
    /// and nobody else saw the command (see [`crate::PlatformProfile::with_private_in_place`]).
    pub(super) in_place: bool,
    /// The bot cannot write to the sender privately yet (Telegram, before
    /// they opened a direct chat with it): [`Turn::for_sender`] answers in
    /// the chat then.
    pub(super) dm_closed: bool,
}

impl Turn<'_> {
    pub(super) fn in_group(&self) -> bool {
        self.msg.chat.kind == ChatKind::Group
    }

    /// Whether the others in the chat saw what was typed: a group message,
    /// on a platform where commands are not private to the bot.
    pub(super) fn seen_by_group(&self) -> bool {
        self.in_group() && !self.in_place
    }

    pub(super) fn me_label(&self) -> String {
        label_of(&self.me)
    }

    /// A reply in the chat the message came from: everyone in a group sees
    /// it; in a DM, only the sender.
    pub(super) fn here(&mut self, text: impl Into<String>) {
        self.replies.push(Reply {
            image: None,
            document: None,
            platform: self.msg.platform,
            audience: Audience::Chat(self.msg.chat.id.clone()),
            text: text.into(),
            redacted: None,
            buttons: Vec::new(),
            deletion: None,
        });
    }

    /// A reply in the chat the message came from that first has the
    /// message itself deleted, where the platform lets a bot do so:
    /// `text` is sent if it is still there, `text_if_deleted` if it was
    /// deleted. Without a message id (nothing others can see), just `text`.
    pub(super) fn here_deleting(&mut self, text: String, text_if_deleted: String) {
        let deletion = self.msg.message_id.clone().map(|message| Deletion {
            message,
            text_if_deleted,
        });
        self.replies.push(Reply {
            image: None,
            document: None,
            platform: self.msg.platform,
            audience: Audience::Chat(self.msg.chat.id.clone()),
            text,
            redacted: None,
            buttons: Vec::new(),
            deletion,
        });
    }

    /// A text meant only for the sender (a usage error, a refusal in the
    /// "you" form): privately where the platform allows it (Discord:
    /// ephemeral, where they typed; Telegram and the mock chat: by DM, the
    /// group told only "I sent you a DM"), in the chat where it cannot (a
    /// Telegram user who never opened a direct chat with the bot).
    pub(super) fn for_sender(&mut self, text: impl Into<String>) {
        if self.in_group() && self.dm_closed {
            self.here(text);
        } else {
            self.private(text);
        }
    }

    /// A private reply; in a group, the group hears only that a DM was sent.
    pub(super) fn private(&mut self, text: impl Into<String>) {
        self.private_with(text.into(), None, Vec::new());
    }

    /// A private reply carrying a file (a CSV export); in a group, the
    /// group hears only that a DM was sent. The file is never sent
    /// anywhere else, and never stored with the event's outcome.
    pub(super) fn private_document(&mut self, text: String, document: Document) {
        self.private_with(text, None, Vec::new());
        if let Some(reply) = self.replies.last_mut() {
            reply.document = Some(document);
        }
    }

    pub(super) fn private_with(
        &mut self,
        text: String,
        redacted: Option<String>,
        buttons: Vec<Button>,
    ) {
        if self.seen_by_group() && !self.noted_dm {
            self.noted_dm = true;
            let note = texts::sent_you_a_dm(&self.me_label());
            self.here(note);
        }
        self.replies.push(Reply {
            image: None,
            document: None,
            platform: self.msg.platform,
            audience: Audience::Private(self.msg.sender.id.clone()),
            text,
            redacted,
            buttons,
            deletion: None,
        });
    }
}

/// How a user is named in messages: `@handle`, else their display name.
pub(super) fn label_of(identity: &Identity) -> String {
    match &identity.handle {
        Some(handle) => handle.to_string(),
        None => identity.display_name.clone(),
    }
}

pub(super) fn label_of_user(user: &User) -> String {
    match &user.handle {
        Some(handle) => handle.to_string(),
        None => user.display_name.clone(),
    }
}

/// A record that waits for a code under a [`ShortRef`] made from its id
/// (a payment, a card operation, a card add); [`Bot::insert_referenced`]
/// stores one.
#[async_trait]
pub(super) trait AwaitsCode: Sized + Send + Sync {
    /// What it is called in an internal error.
    const WHAT: &'static str;
    /// The id its reference is made from, which tells it apart, and its
    /// code is bound to.
    fn id(&self) -> TransferId;
    fn challenge(&self) -> &OtpChallenge;
    fn set_reference(&mut self, reference: ShortRef);
    /// Replaces its challenge, as changed at `now_ms`.
    fn set_challenge(&mut self, challenge: OtpChallenge, now_ms: i64);
    /// Stores it, or returns the record already stored under its reference.
    async fn insert(&self, store: &dyn Store) -> std::result::Result<Self, StoreError>;
    /// Stores it at its revision; `false` if it changed meanwhile.
    async fn update(&self, store: &dyn Store) -> std::result::Result<bool, StoreError>;
}

/// `AwaitsCode` for a store record: its name in errors, its id field and
/// the store's insert and update.
macro_rules! awaits_code {
    ($record:ty, $what:literal, $id:ident, $insert:ident, $update:ident) => {
        #[async_trait]
        impl AwaitsCode for $record {
            const WHAT: &'static str = $what;
            fn id(&self) -> TransferId {
                self.$id
            }
            fn challenge(&self) -> &OtpChallenge {
                &self.challenge
            }
            fn set_reference(&mut self, reference: ShortRef) {
                self.reference = reference;
            }
            fn set_challenge(&mut self, challenge: OtpChallenge, now_ms: i64) {
                self.challenge = challenge;
                self.updated_at_ms = now_ms;
            }
            async fn insert(&self, store: &dyn Store) -> std::result::Result<Self, StoreError> {
                store.$insert(self).await
            }
            async fn update(&self, store: &dyn Store) -> std::result::Result<bool, StoreError> {
                store.$update(self).await
            }
        }
    };
}

awaits_code!(
    Payment,
    "payment",
    transfer_id,
    insert_payment,
    update_payment
);
awaits_code!(
    CardOp,
    "card operation",
    transfer_id,
    insert_card_op,
    update_card_op
);
awaits_code!(
    CardAdd,
    "card add",
    add_id,
    insert_card_add,
    update_card_add
);

impl Bot {
    /// Whether `typed` is the code `record` waits for.
    pub(super) fn code_matches(&self, record: &impl AwaitsCode, typed: &str) -> bool {
        record
            .challenge()
            .hash
            .matches(&self.pepper, &record.id().as_u128().to_be_bytes(), typed)
    }

    /// What typing `code` at `now_ms` means for the `record` waiting for it.
    pub(super) fn code_verdict(
        &self,
        record: &impl AwaitsCode,
        code: &OtpCode,
        now_ms: i64,
    ) -> Verdict {
        record.challenge().verdict(
            &self.config.otp,
            &self.pepper,
            &record.id().as_u128().to_be_bytes(),
            code.as_str(),
            now_ms,
        )
    }

    /// Counts a wrong code against `record`; `false` if it changed
    /// meanwhile (then nothing is said about it).
    pub(super) async fn count_wrong_code<R: AwaitsCode + Clone>(
        &self,
        record: &R,
        now_ms: i64,
    ) -> Result<bool> {
        let mut updated = record.clone();
        updated.set_challenge(record.challenge().after_wrong(), now_ms);
        Ok(updated.update(self.store.as_ref()).await?)
    }

    /// Stores `renewed`, a record given a fresh code because it was stored
    /// by an earlier try whose code nobody saw.
    pub(super) async fn store_renewed_code<R: AwaitsCode>(&self, renewed: &R) -> Result<()> {
        if !renewed.update(self.store.as_ref()).await? {
            return Err(BotError::Inconsistent(format!(
                "{} changed while its code was renewed",
                R::WHAT
            )));
        }
        Ok(())
    }

    /// Stores `record` under its reference or, if another record holds
    /// that one, under the long one (`kind` and [`REF_BODY_CHARS_LONG`]
    /// characters of its id). Returns what is stored under the reference:
    /// `record`, or the one an earlier try of the same message stored.
    pub(super) async fn insert_referenced<R: AwaitsCode>(
        &self,
        record: &mut R,
        kind: char,
    ) -> Result<R> {
        let id = record.id();
        let stored = record.insert(self.store.as_ref()).await?;
        if stored.id() == id {
            return Ok(stored);
        }
        let long = short_ref(kind, id, REF_BODY_CHARS_LONG)?;
        record.set_reference(long.clone());
        let stored = record.insert(self.store.as_ref()).await?;
        if stored.id() != id {
            return Err(BotError::Inconsistent(format!(
                "{} reference {long} taken twice",
                R::WHAT
            )));
        }
        Ok(stored)
    }
}

/// `kind` (`P` payment, `T`/`C` top-up/cash-out, `A` card add) followed by
/// `body_chars` characters of `id`, in the link-code alphabet (no 0/O, 1/I).
pub(super) fn short_ref(kind: char, id: TransferId, body_chars: usize) -> Result<ShortRef> {
    let alphabet = LINK_CODE_ALPHABET.as_bytes();
    let base = u128::try_from(alphabet.len()).unwrap_or(32);
    let mut n = id.as_u128();
    let mut text = String::with_capacity(body_chars + 1);
    text.push(kind);
    for _ in 0..body_chars {
        let digit = usize::try_from(n % base).unwrap_or(0);
        text.push(char::from(*alphabet.get(digit).unwrap_or(&b'A')));
        n /= base;
    }
    ShortRef::parse(&text).map_err(|_| BotError::Inconsistent(format!("bad reference {text}")))
}

pub(super) fn event_key(msg: &Incoming) -> String {
    event_key_of(msg.platform, &msg.event_id)
}

/// [`event_key`] from its parts: what ids derived from an event hash.
fn event_key_of(platform: Platform, event_id: &EventId) -> String {
    format!("{platform}:{}", event_id.as_str())
}

pub(super) fn derive(namespace: &str, key: &str) -> TransferId {
    TransferId::derive(namespace, key.as_bytes())
}

/// The id `namespace` derives for an event: in the platform's order of
/// events where the event's id gives one ([`EventId::order`]), so a busy
/// chat's new transfers go to one end of the ledger's id index, not to a
/// random page each (at each commit every page a batch changed is written
/// again whole). Stable: a redelivered event gives the same id.
fn derive_for_event(namespace: &str, platform: Platform, event_id: &EventId) -> TransferId {
    let key = event_key_of(platform, event_id);
    match event_id.order() {
        Some(order) => TransferId::derive_ordered(order, namespace, key.as_bytes()),
        None => derive(namespace, &key),
    }
}

/// The pending transfer a payment started by `msg` reserves its money
/// with (`start_payment`).
pub(super) fn payment_transfer_id(msg: &Incoming) -> TransferId {
    payment_transfer_id_of(msg.platform, &msg.event_id)
}

/// The pending transfer of the payment that a `/pay` (or an `/approve` of
/// a request) with event `event_id` on `platform` starts. Outside the
/// core, `paybot torture --chat`'s checker asks it, to find the payments
/// its users asked for.
pub fn payment_transfer_id_of(platform: Platform, event_id: &EventId) -> TransferId {
    derive_for_event("paybot.bot.pay", platform, event_id)
}

/// An id that belongs to `anchor` (a pending transfer's post or void),
/// stored beside it: see [`TransferId::derive_beside`].
pub(super) fn derive_beside(anchor: TransferId, namespace: &str, key: &str) -> TransferId {
    TransferId::derive_beside(anchor, namespace, key.as_bytes())
}

/// An id that belongs to `payment` (its post, its void), derived from its
/// reference and stored beside its pending transfer.
pub(super) fn derive_for_payment(payment: &Payment, namespace: &str) -> TransferId {
    derive_beside(
        payment.transfer_id,
        namespace,
        &payment.reference.to_string(),
    )
}

/// What the checks every message gets left to do.
pub(super) enum Screened<'a> {
    /// The message is answered (or ignored): these replies are all.
    Answered(Vec<Reply>),
    /// A command to run in its turn; `first_contact`: the sender is new
    /// to paybot.
    Command {
        turn: Box<Turn<'a>>,
        command: Command,
        first_contact: bool,
    },
}

impl Bot {
    /// The checks every message gets before its command runs, in order:
    /// a bot or an oversized text is ignored; a card number in a group is
    /// warned about and nothing else; a code of the sender's posted in a
    /// group is caught as leaked; in a direct chat, a card number outside
    /// `/card add` is refused; the command bucket; a usage error; and, on
    /// a platform that needs one, the invite to a direct chat.
    /// `sender`: the sender already seen in this event (see
    /// [`Bot::handle`]), else they are seen here.
    pub(super) async fn screen<'a>(
        &self,
        msg: &'a Incoming,
        now_ms: i64,
        sender: Option<(Identity, bool)>,
    ) -> Result<Screened<'a>> {
        if ignored(msg) {
            return Ok(Screened::Answered(Vec::new()));
        }
        let direct = msg.chat.kind == ChatKind::Direct;
        let (me, first_contact) = match sender {
            Some(seen) => seen,
            None => {
                self.see(&msg.sender, msg.platform, true, direct, now_ms)
                    .await?
            }
        };
        let profile = self.profile(msg.platform);
        let mut turn = Turn {
            msg,
            me,
            now_ms,
            replies: Vec::new(),
            noted_dm: false,
            in_place: profile.private_in_place(),
            dm_closed: false,
        };
        turn.dm_closed = profile.dm_invite_url().is_some() && !turn.me.dm_open;
        if turn.in_group() {
            self.note_member(&turn).await?;
        }
        let card_in_text = card_number::contains_card_number(&msg.text);
        if card_in_text && turn.in_group() {
            // Nothing else is done with it: no command runs, nothing of it
            // is quoted, stored or logged.
            self.warn_card_in_group(&mut turn);
            return Ok(Screened::Answered(turn.replies));
        }
        if turn.seen_by_group() && self.catch_leaked_codes(&mut turn).await? {
            return Ok(Screened::Answered(turn.replies));
        }
        let ctx = ParseContext {
            bot_username: profile.username(),
            default_currency: self.config.default_currency,
        };
        let parsed = command::parse(&msg.text, &ctx);
        if card_in_text && !carries_card_number(&parsed) {
            // In a direct chat, only `/card add` takes a card number (and a
            // card command's usage error, which quotes nothing). Anything
            // else holding one is refused before anything is created: none
            // of it is stored, quoted, logged or passed on.
            tracing::info!(
                event = %event_key(msg),
                "a direct message looked like it held a card number; refused"
            );
            turn.here(match parsed {
                Ok(None) => texts::CARD_IN_DIRECT_TEXT,
                Ok(Some(_)) | Err(_) => texts::CARD_IN_DIRECT_COMMAND_TEXT,
            });
            return Ok(Screened::Answered(turn.replies));
        }
        if !matches!(parsed, Ok(None)) && !self.admit_command(&mut turn) {
            return Ok(Screened::Answered(turn.replies));
        }
        let command = match parsed {
            Ok(Some(command)) => command,
            Ok(None) => {
                // A group's talk is not for the bot; a direct chat is only
                // with it, so silence there would look like a failure.
                if !turn.in_group() {
                    turn.here(if looks_like_a_code(&msg.text) {
                        texts::BARE_CODE_TEXT
                    } else {
                        texts::NOT_A_COMMAND_TEXT
                    });
                }
                return Ok(Screened::Answered(turn.replies));
            }
            Err(usage) => {
                turn.for_sender(usage.to_string());
                return Ok(Screened::Answered(turn.replies));
            }
        };
        if turn.in_group()
            && !turn.me.dm_open
            && !answers_in_the_group(&command)
            && let Some(invite) = profile.dm_invite_url()
        {
            // Whatever the command would say privately could not reach them.
            turn.here(texts::open_a_direct_chat_first(&turn.me_label(), invite));
            return Ok(Screened::Answered(turn.replies));
        }
        Ok(Screened::Command {
            turn: Box::new(turn),
            command,
            first_contact,
        })
    }
}

impl Bot {
    /// Takes the command's token from its sender's bucket (see
    /// [`crate::limits`]). `false`: refused; the first refusal of a run
    /// says when the sender can go on, the others get no answer (a flood
    /// is not answered with a flood). Runs after the checks every message
    /// gets (a card number or a code posted in a group), so those are never
    /// skipped; chatter that is not a command costs nothing.
    pub(super) fn admit_command(&self, turn: &mut Turn<'_>) -> bool {
        let limits = &self.config.limits;
        match self
            .command_rates
            .admit(limits, turn.msg.platform, &turn.msg.sender.id, turn.now_ms)
        {
            Admission::Admitted => true,
            Admission::RefusedQuietly => false,
            Admission::Refused { until_ms } => {
                let me = (turn.in_group() && turn.dm_closed).then(|| turn.me_label());
                turn.for_sender(texts::commands_too_fast(
                    me.as_deref(),
                    limits.commands_per_minute_max,
                    &limits::utc_second_text(until_ms),
                ));
                false
            }
        }
    }
}

/// Whether a message is ignored before anything is read for it: a bot's,
/// or one whose text is over [`MESSAGE_TEXT_BYTES_MAX`].
pub(super) fn ignored(msg: &Incoming) -> bool {
    msg.sender.is_bot || msg.text.len() > MESSAGE_TEXT_BYTES_MAX
}

/// Whether a text looks like `/confirm` (with or without `@BotName`, in
/// any case): a hint for what to read with the message's first read
/// ([`crate::store::Store::open_confirm_event`]). The command is still
/// parsed as every other; a wrong guess costs only a read.
pub(super) fn looks_like_confirm(text: &str) -> bool {
    starts_with_command(text, "/confirm")
}

/// Whether a text looks like `/pay` (as [`looks_like_confirm`]): a hint
/// for what to read with the message's first read
/// ([`crate::store::Store::open_pay_event`]).
pub(super) fn looks_like_pay(text: &str) -> bool {
    starts_with_command(text, "/pay")
}

/// The one person a message that looks like `/pay` mentions, where they
/// have a handle and are no bot: whom its first read reads with the
/// sender ([`crate::store::Store::open_pay_event`]). Only a hint, as
/// [`looks_like_pay`]: `/pay` resolves its payee itself, and takes the
/// read only for the person it names.
pub(super) fn pay_mention(msg: &Incoming) -> Option<&User> {
    match msg.mentions.as_slice() {
        [only] if looks_like_pay(&msg.text) && !only.user.is_bot && only.user.handle.is_some() => {
            Some(&only.user)
        }
        _ => None,
    }
}

/// Whether `text` starts with `command` (in any case), then a space,
/// `@BotName` or nothing.
fn starts_with_command(text: &str, command: &str) -> bool {
    let text = text.trim_start();
    match (text.get(..command.len()), text.get(command.len()..)) {
        (Some(head), Some(rest)) => {
            head.eq_ignore_ascii_case(command)
                && rest
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || c == '@')
        }
        _ => false,
    }
}

pub(super) fn internal_error(msg: &Incoming) -> Reply {
    Reply {
        image: None,
        document: None,
        platform: msg.platform,
        audience: Audience::Chat(msg.chat.id.clone()),
        text: texts::INTERNAL_ERROR_TEXT.to_owned(),
        redacted: None,
        buttons: Vec::new(),
        deletion: None,
    }
}

/// Commands whose every answer goes to the group, which need no direct
/// chat first: `/help` and the group tab (not its export, sent privately).
fn answers_in_the_group(command: &Command) -> bool {
    matches!(
        command,
        Command::Help { .. }
            | Command::Expense { .. }
            | Command::ExpenseUndo { .. }
            | Command::ExpenseEdit { .. }
            | Command::Tab {
                view: crate::command::TabView::Simplified
                    | crate::command::TabView::Member(_)
                    | crate::command::TabView::History
            }
    )
}

/// Whether a direct message holding what looks like a card number may go
/// on: `/card add`, or a card command's usage error (those quote nothing).
pub(super) fn carries_card_number(
    parsed: &std::result::Result<Option<Command>, command::UsageError>,
) -> bool {
    match parsed {
        Ok(Some(Command::CardAdd { .. })) => true,
        Ok(_) => false,
        Err(usage) => usage.command().is_some_and(|name| {
            matches!(
                name,
                CommandName::Card | CommandName::Cards | CommandName::TopUp | CommandName::CashOut
            )
        }),
    }
}

/// The last guard against a card number in a reply: the commands never
/// quote one, but a reply that still looks like it holds one (a usage line
/// quoting a pasted number, say) is replaced, before it is sent or stored.
pub(super) fn withhold_card_numbers(msg: &Incoming, replies: Vec<Reply>) -> Vec<Reply> {
    replies
        .into_iter()
        .map(|reply| {
            if !reply.holds_card_number() {
                return reply;
            }
            tracing::warn!(
                event = %event_key(msg),
                "a reply looked like it held a card number; withheld"
            );
            let withheld = texts::WITHHELD_TEXT;
            Reply {
                image: None,
                document: None,
                text: withheld.to_owned(),
                redacted: None,
                buttons: Vec::new(),
                deletion: reply.deletion.map(|deletion| Deletion {
                    text_if_deleted: withheld.to_owned(),
                    ..deletion
                }),
                ..reply
            }
        })
        .collect()
}

pub(super) fn encode_outcome(replies: &[Reply]) -> String {
    let stored: Vec<StoredReply> = replies
        .iter()
        .map(|r| StoredReply::from_reply(r, true))
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned())
}

pub(super) fn decode_outcome(stored: &str) -> Vec<Reply> {
    serde_json::from_str::<Vec<StoredReply>>(stored)
        .unwrap_or_default()
        .into_iter()
        .filter_map(StoredReply::into_reply)
        .collect()
}

/// Whether a direct message is only a one-time code (`123456`, `123 456`):
/// someone who meant `/confirm 123456`.
fn looks_like_a_code(text: &str) -> bool {
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    OtpCode::parse(&squeezed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::{looks_like_confirm, looks_like_pay};

    #[test]
    fn a_confirm_is_told_from_other_texts() {
        for text in [
            "/confirm 123456",
            "  /CONFIRM 123456",
            "/confirm@PayBot 123456",
            "/confirm",
            "/Confirm\t123456 654321",
        ] {
            assert!(looks_like_confirm(text), "{text:?}");
        }
        for text in [
            "/confirmed",
            "/conf",
            "/pay @bob 5",
            "confirm 123456",
            "",
            "/confirmé",
            "/confirm-123",
        ] {
            assert!(!looks_like_confirm(text), "{text:?}");
        }
    }

    #[test]
    fn a_pay_is_told_from_other_texts() {
        for text in ["/pay @bob 5", " /PAY@PayBot @bob 5", "/pay"] {
            assert!(looks_like_pay(text), "{text:?}");
        }
        for text in ["/payment", "/pa", "pay @bob 5", "/confirm 123456", "/pay-5"] {
            assert!(!looks_like_pay(text), "{text:?}");
        }
    }
}
