//! The bot itself: one platform-neutral message in, replies out, money moved
//! in the ledger on the way.
//!
//! The design decision to know: **every write is repeatable**. Transfer ids
//! derive from the chat event (or from the record they act on), record
//! inserts keep the first copy, record updates are compare-and-swap, and
//! messages to other people go through the outbox with derived ids. So the
//! order of writes is chosen so that a crash between any two of them is
//! repaired by handling the same event again, and two workers racing on one
//! payment cannot both move its money. The ledger is written before the
//! record that describes the change, and a record found disagreeing with the
//! ledger is brought in line with the ledger (see [`Bot::sweep`]).

mod card_links;
mod cards;
mod link;
mod texts;

pub use cards::{
    AWAITING_CARD_ADDS_PER_USER_MAX, AWAITING_CARD_OPS_PER_USER_MAX, CARD_IN_COMMAND_TEXT,
    CARD_IN_GROUP_DELETED_TEXT, CARD_IN_GROUP_TEXT, CARDS_OFF_TEXT, CASHOUT_HOLD_SECS, CardPolicy,
    FEE_BASIS_POINTS_MAX, NEW_CARD_HOLD_SECS_DEFAULT, NEW_CARD_HOLD_SECS_MAX, RAIL_RETRY_MS,
    RAIL_RETRY_MS_MAX, SWEEP_CARD_OPS_MAX, card_label, card_transfer_codes,
};
pub use link::{
    LINK_ATTEMPT_BOUNDS, LINK_CONFIRM_TTL_SECS, LINK_NAME_CHARS_MAX,
    LINK_WRONG_CODES_GLOBAL_PER_MINUTE_MAX, LINK_WRONG_CODES_PER_IDENTITY_PER_HOUR_MAX,
    MOCK_LINK_REFUSED_TEXT,
};

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use ledger::{
    AccountId, AccountKind, Amount, Currency, Ledger, LedgerError, NewAccount, NewTransfer,
    OutboxMessage, Outcome, OwnerRef, SubmitError, TransferError, TransferId,
};

use crate::card::{self as card_number, CardRail};
use crate::command::{
    self, Command, CommandName, LINK_CODE_ALPHABET, LINK_CODE_CHARS, Memo, OtpCode, ParseContext,
    ShortRef, SplitShare, Target,
};
use crate::identity;
use crate::limits::{self, Admission, CommandRates, Limits};
use crate::message::{
    Audience, Button, ChatKind, Deletion, Handle, Incoming, MESSAGE_TEXT_BYTES_MAX, Platform,
    PlatformUserId, Reply, User,
};
use crate::notify::{Dispatcher, StoredReply, outbox_message, outbox_message_with_bounce};
use crate::otp::{self, OtpChallenge, OtpHash, OtpPolicy, Pepper, RandomSource, Verdict};
use crate::split;
use crate::store::{
    CardOpKind, EventClaim, Identity, Payee, Payment, PaymentRequest, PaymentState, RequestSide,
    RequestState, SeenUser, Split, Store, StoreError, UserId,
};

/// A claimed event whose worker has not finished after this long is handed
/// to the next delivery (the worker is presumed dead).
pub const EVENT_LEASE_MS: i64 = 60_000;
/// Payments one payer may have waiting for a code at once.
pub const AWAITING_PAYMENTS_PER_USER_MAX: usize = 3;
/// How long a `/link` code is valid.
pub const LINK_CODE_TTL_SECS: u32 = 600;
/// How long a handled event's outcome is kept for redeliveries. Platforms
/// redeliver within hours (Telegram keeps updates 24 hours).
pub const EVENT_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1_000;
/// How often [`Bot::sweep`] forgets old event outcomes.
pub const EVENT_FORGET_INTERVAL_MS: i64 = 10 * 60 * 1_000;
/// Due payments handled per [`Bot::sweep`] round.
pub const SWEEP_PAYMENTS_MAX: u32 = 256;
/// Look-alike handles fetched per warning check.
pub const CONFUSABLE_CANDIDATES_MAX: u32 = 8;
/// Characters after the kind letter in a payment, request or split
/// reference (`P7K2QXM`); a collision retries with [`REF_BODY_CHARS_LONG`].
pub const REF_BODY_CHARS: usize = 6;
pub const REF_BODY_CHARS_LONG: usize = 11;
/// The longest escrow hold, matching the ledger's longest pending timeout.
pub const ESCROW_TTL_SECS_MAX: u32 = ledger::PENDING_TIMEOUT_SECS_MAX;
/// The `/start` payload of the link that sends a user from a group to a
/// direct chat with the bot (see [`Bot::require_dm_start`]); on Telegram,
/// `https://t.me/<bot>?start=setup`.
pub const DM_START_PAYLOAD: &str = "setup";

/// The ledger's `code` of each kind of transfer the bot makes.
pub mod transfer_codes {
    pub const PAYMENT: u16 = 1;
    pub const ESCROW_HOLD: u16 = 2;
    pub const ESCROW_CLAIM: u16 = 3;
    pub const MOCK_OPENING: u16 = 4;
    pub const LINK_MERGE: u16 = 5;
}

/// The bot's settings: plain data, passed in.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The currency of amounts typed without one.
    pub default_currency: Currency,
    pub otp: OtpPolicy,
    /// How long a payment to an unclaimed handle waits before it is
    /// refunded.
    pub escrow_ttl_secs: u32,
    /// Credited, once, on a mock user's first `/start` (mock platform only).
    pub mock_opening_balance: Option<Amount>,
    /// The cash-out fee and the new-card hold.
    pub cards: CardPolicy,
    /// Rate limits on commands and requests.
    pub limits: Limits,
}

impl Default for BotConfig {
    fn default() -> BotConfig {
        BotConfig {
            default_currency: Currency::USD,
            otp: OtpPolicy::default(),
            escrow_ttl_secs: 7 * 24 * 60 * 60,
            mock_opening_balance: None,
            cards: CardPolicy::default(),
            limits: Limits::default(),
        }
    }
}

/// Why handling went wrong on our side. Never shown to chat users: they get
/// [`INTERNAL_ERROR_TEXT`]; the log gets this.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the ledger refused transfer #{index}: {error}")]
    Refused { index: usize, error: TransferError },
    #[error("randomness failed: {0}")]
    Random(#[from] otp::OtpError),
    #[error("inconsistent state: {0}")]
    Inconsistent(String),
}

impl From<SubmitError> for BotError {
    fn from(error: SubmitError) -> BotError {
        match error {
            SubmitError::Rejected { index, error } => BotError::Refused { index, error },
            SubmitError::Ledger(e) => BotError::Ledger(e),
        }
    }
}

type Result<T> = std::result::Result<T, BotError>;

/// What a chat user sees when something broke on our side.
pub const INTERNAL_ERROR_TEXT: &str =
    "Sorry, something went wrong on my side and nothing was changed. Please try again in a minute.";

/// The bot. Cheap to share (`Arc`); every method takes `&self`.
pub struct Bot {
    ledger: Ledger,
    store: Arc<dyn Store>,
    config: BotConfig,
    pepper: Pepper,
    rng: Arc<dyn RandomSource>,
    dispatcher: Arc<Dispatcher>,
    usernames: RwLock<HashMap<Platform, String>>,
    /// Per platform that needs one, the link that opens a direct chat with
    /// the bot (see [`Bot::require_dm_start`]).
    dm_invites: RwLock<HashMap<Platform, String>>,
    /// Platforms whose commands only the bot sees and whose private replies
    /// are shown in place (see [`Bot::private_in_place`]).
    in_place: RwLock<std::collections::HashSet<Platform>>,
    system_accounts: Mutex<HashMap<(AccountKind, Currency), AccountId>>,
    /// When [`Bot::sweep`] last forgot old events (ms; 0: never).
    events_forgotten_at_ms: std::sync::atomic::AtomicI64,
    /// The card network (see [`Bot::set_card_rail`]); unset: cards off.
    card_rail: OnceLock<Arc<dyn CardRail>>,
    /// The key of card fingerprints (see [`Bot::set_card_fingerprint_key`]).
    card_fingerprint_key: OnceLock<Pepper>,
    /// Each platform identity's command bucket (see [`crate::limits`]).
    command_rates: CommandRates,
}

impl fmt::Debug for Bot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bot")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One message being handled: who said it, where, and what to answer.
struct Turn<'a> {
    msg: &'a Incoming,
    me: Identity,
    now_ms: i64,
    replies: Vec<Reply>,
    noted_dm: bool,
    /// The platform shows private replies to the sender where they typed,
    /// and nobody else saw the command (see [`Bot::private_in_place`]).
    in_place: bool,
}

impl Turn<'_> {
    fn in_group(&self) -> bool {
        self.msg.chat.kind == ChatKind::Group
    }

    /// Whether the others in the chat saw what was typed: a group message,
    /// on a platform where commands are not private to the bot.
    fn seen_by_group(&self) -> bool {
        self.in_group() && !self.in_place
    }

    fn me_label(&self) -> String {
        label_of(&self.me)
    }

    /// A reply in the chat the message came from: everyone in a group sees
    /// it; in a DM, only the sender.
    fn here(&mut self, text: impl Into<String>) {
        self.replies.push(Reply {
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
    fn here_deleting(&mut self, text: String, text_if_deleted: String) {
        let deletion = self.msg.message_id.clone().map(|message| Deletion {
            message,
            text_if_deleted,
        });
        self.replies.push(Reply {
            platform: self.msg.platform,
            audience: Audience::Chat(self.msg.chat.id.clone()),
            text,
            redacted: None,
            buttons: Vec::new(),
            deletion,
        });
    }

    /// A private reply; in a group, the group hears only that a DM was sent.
    fn private(&mut self, text: impl Into<String>) {
        self.private_with(text.into(), None, Vec::new());
    }

    fn private_with(&mut self, text: String, redacted: Option<String>, buttons: Vec<Button>) {
        if self.seen_by_group() && !self.noted_dm {
            self.noted_dm = true;
            let note = format!("{}, I sent you a DM.", self.me_label());
            self.here(note);
        }
        self.replies.push(Reply {
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
fn label_of(identity: &Identity) -> String {
    match &identity.handle {
        Some(handle) => handle.to_string(),
        None => identity.display_name.clone(),
    }
}

fn label_of_user(user: &User) -> String {
    match &user.handle {
        Some(handle) => handle.to_string(),
        None => user.display_name.clone(),
    }
}

fn owner_of(user: UserId) -> std::result::Result<OwnerRef, LedgerError> {
    OwnerRef::new(format!("user:{}", user.0))
}

/// `P` + [`REF_BODY_CHARS`] characters of `id`, in the link-code alphabet
/// (no 0/O, 1/I).
fn short_ref(kind: char, id: TransferId, body_chars: usize) -> Result<ShortRef> {
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

fn event_key(msg: &Incoming) -> String {
    format!("{}:{}", msg.platform, msg.event_id.as_str())
}

fn derive(namespace: &str, key: &str) -> TransferId {
    TransferId::derive(namespace, key.as_bytes())
}

fn with_memo(memo: Option<&Memo>) -> String {
    memo.map(|m| format!(" for \u{201c}{m}\u{201d}"))
        .unwrap_or_default()
}

fn minutes(secs: u32) -> String {
    match secs {
        s if s % 86_400 == 0 && s >= 86_400 => plural(s / 86_400, "day"),
        s if s % 3_600 == 0 && s >= 3_600 => plural(s / 3_600, "hour"),
        s if s % 60 == 0 && s >= 60 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

/// "1 try", "3 tries": what is left of a code's wrong attempts.
fn tries(n: u8) -> String {
    if n == 1 {
        "1 try".to_owned()
    } else {
        format!("{n} tries")
    }
}

fn plural(n: u32, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// Which payee a command named, resolved.
enum Resolved {
    Known(Identity),
    Unclaimed(Handle),
}

impl Bot {
    pub fn new(
        ledger: Ledger,
        store: Arc<dyn Store>,
        config: BotConfig,
        pepper: Pepper,
        rng: Arc<dyn RandomSource>,
    ) -> Arc<Bot> {
        let dispatcher = Arc::new(Dispatcher::new(ledger.clone()));
        Arc::new(Bot {
            ledger,
            store,
            config,
            pepper,
            rng,
            dispatcher,
            usernames: RwLock::new(HashMap::new()),
            dm_invites: RwLock::new(HashMap::new()),
            in_place: RwLock::new(std::collections::HashSet::new()),
            system_accounts: Mutex::new(HashMap::new()),
            events_forgotten_at_ms: std::sync::atomic::AtomicI64::new(0),
            card_rail: OnceLock::new(),
            card_fingerprint_key: OnceLock::new(),
            command_rates: CommandRates::new(),
        })
    }

    /// Keys card fingerprints with `key`, a secret of its own (paybot
    /// loads it like the pepper, from `cards.fingerprint_key` or its file).
    /// Set once, before the first command; a second call is ignored. Unset
    /// (tests that build a bot directly), the OTP pepper keys them.
    pub fn set_card_fingerprint_key(&self, key: Pepper) {
        let _ = self.card_fingerprint_key.set(key);
    }

    /// The key card fingerprints are made with.
    pub(crate) fn card_fingerprint_key(&self) -> &Pepper {
        self.card_fingerprint_key.get().unwrap_or(&self.pepper)
    }

    /// Delivers outbox messages to adapters.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// Tells the parser this bot's username on `platform`, so `/pay@Name`
    /// is recognised as ours (and `/pay@OtherBot` ignored).
    pub fn set_username(&self, platform: Platform, username: impl Into<String>) {
        if let Ok(mut names) = self.usernames.write() {
            names.insert(platform, username.into());
        }
    }

    /// On `platform`, the bot cannot open a direct chat by itself (Telegram):
    /// a user must write to it there first. From now on, a command typed in
    /// a group (other than `/help`) by someone who never wrote to the bot
    /// directly ([`Identity::dm_open`]) does nothing but answer, in the
    /// group, that they should open `invite_url` (a deep link that sends
    /// `/start` [`DM_START_PAYLOAD`] in a direct chat) and send the command
    /// again. Platforms without an invite behave as before.
    pub fn require_dm_start(&self, platform: Platform, invite_url: impl Into<String>) {
        if let Ok(mut invites) = self.dm_invites.write() {
            invites.insert(platform, invite_url.into());
        }
    }

    /// On `platform`, a command typed in a group is seen by the bot only
    /// (Discord's slash commands: the options are not shown to the
    /// channel), and a private reply to its sender is shown to them where
    /// they typed it, to nobody else (Discord's ephemeral messages). So the
    /// group is not told "I sent you a DM", and a code or link code sent
    /// there is not treated as leaked. Messages to other users are still
    /// sent privately.
    pub fn private_in_place(&self, platform: Platform) {
        if let Ok(mut platforms) = self.in_place.write() {
            platforms.insert(platform);
        }
    }

    fn is_in_place(&self, platform: Platform) -> bool {
        self.in_place
            .read()
            .is_ok_and(|platforms| platforms.contains(&platform))
    }

    fn dm_invite(&self, platform: Platform) -> Option<String> {
        self.dm_invites
            .read()
            .ok()
            .and_then(|n| n.get(&platform).cloned())
    }

    fn username(&self, platform: Platform) -> Option<String> {
        self.usernames
            .read()
            .ok()
            .and_then(|n| n.get(&platform).cloned())
    }

    /// Handles one message, at most once per event id: a redelivery gets the
    /// first outcome back (codes blanked out) and changes nothing.
    pub async fn handle(&self, msg: &Incoming) -> Vec<Reply> {
        let now_ms = self.ledger.now_ms();
        let claim = self
            .store
            .claim_event(msg.platform, &msg.event_id, now_ms, EVENT_LEASE_MS)
            .await;
        match claim {
            Ok(EventClaim::New) => {}
            Ok(EventClaim::Done(stored)) => return decode_outcome(&stored),
            Ok(EventClaim::InProgress) => return Vec::new(),
            Err(error) => {
                tracing::error!(%error, event = %event_key(msg), "cannot claim event");
                return vec![internal_error(msg)];
            }
        }
        match self.process(msg, now_ms).await {
            Ok(replies) => {
                let replies = withhold_card_numbers(msg, replies);
                let outcome = encode_outcome(&replies);
                if let Err(error) = self
                    .store
                    .finish_event(msg.platform, &msg.event_id, &outcome, self.ledger.now_ms())
                    .await
                {
                    // The work is done and repeatable; a redelivery redoes it.
                    tracing::warn!(%error, event = %event_key(msg), "cannot record event outcome");
                }
                self.dispatcher.wake();
                replies
            }
            Err(error) => {
                tracing::error!(%error, event = %event_key(msg), "handling failed");
                if let Err(error) = self.store.release_event(msg.platform, &msg.event_id).await {
                    tracing::warn!(%error, "cannot release event claim");
                }
                self.dispatcher.wake();
                vec![internal_error(msg)]
            }
        }
    }

    async fn process(&self, msg: &Incoming, now_ms: i64) -> Result<Vec<Reply>> {
        if msg.sender.is_bot || msg.text.len() > MESSAGE_TEXT_BYTES_MAX {
            return Ok(Vec::new());
        }
        let direct = msg.chat.kind == ChatKind::Direct;
        let (me, first_contact) = self
            .see(&msg.sender, msg.platform, true, direct, now_ms)
            .await?;
        let mut turn = Turn {
            msg,
            me,
            now_ms,
            replies: Vec::new(),
            noted_dm: false,
            in_place: self.is_in_place(msg.platform),
        };
        let card_in_text = card_number::contains_card_number(&msg.text);
        if card_in_text && turn.in_group() {
            // Nothing else is done with it: no command runs, nothing of it
            // is quoted, stored or logged.
            self.warn_card_in_group(&mut turn);
            return Ok(turn.replies);
        }
        if turn.seen_by_group() && self.catch_leaked_codes(&mut turn).await? {
            return Ok(turn.replies);
        }
        let username = self.username(msg.platform);
        let ctx = ParseContext {
            bot_username: username.as_deref(),
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
                Ok(None) => CARD_IN_DIRECT_TEXT,
                Ok(Some(_)) | Err(_) => CARD_IN_DIRECT_COMMAND_TEXT,
            });
            return Ok(turn.replies);
        }
        if !matches!(parsed, Ok(None)) && !self.admit_command(&mut turn) {
            return Ok(turn.replies);
        }
        let command = match parsed {
            Ok(Some(command)) => command,
            Ok(None) => return Ok(turn.replies),
            Err(usage) => {
                turn.here(usage.to_string());
                return Ok(turn.replies);
            }
        };
        if turn.in_group()
            && !turn.me.dm_open
            && !matches!(command, Command::Help { .. })
            && let Some(invite) = self.dm_invite(msg.platform)
        {
            // Whatever the command would say privately could not reach them.
            turn.here(format!(
                "{}, I can't message you privately yet. Open {invite} and press Start, then send your command again.",
                turn.me_label()
            ));
            return Ok(turn.replies);
        }
        if first_contact && !matches!(command, Command::Start { .. }) {
            self.claim_escrow(&mut turn).await?;
        }
        match command {
            Command::Start { payload } => {
                let setup = payload
                    .as_ref()
                    .is_some_and(|p| p.as_str() == DM_START_PAYLOAD);
                self.start(&mut turn, setup).await?;
            }
            Command::Help { topic } => help(&mut turn, topic),
            Command::Balance => self.balance(&mut turn).await?,
            Command::Pay {
                payee,
                amount,
                memo,
            } => self.pay(&mut turn, payee, amount, memo).await?,
            Command::Confirm { code } => self.confirm(&mut turn, &code).await?,
            Command::Cancel { payment } => self.cancel(&mut turn, payment).await?,
            Command::Request {
                payer,
                amount,
                memo,
            } => self.request(&mut turn, &payer, amount, memo).await?,
            Command::Approve { request } => self.approve(&mut turn, &request).await?,
            Command::Decline { request } => self.decline(&mut turn, &request).await?,
            Command::Split {
                total,
                shares,
                memo,
            } => self.split(&mut turn, total, &shares, memo).await?,
            Command::SplitStatus { split } => self.split_status(&mut turn, split).await?,
            Command::History { limit } => self.history(&mut turn, limit).await?,
            Command::Link { code } => self.link(&mut turn, code).await?,
            Command::LinkConfirm => self.link_confirm(&mut turn).await?,
            Command::LinkCancel => self.link_cancel(&mut turn).await?,
            Command::Unlink { confirm } => self.unlink(&mut turn, confirm).await?,
            Command::CardAdd { .. }
            | Command::CardRemove { .. }
            | Command::Cards
            | Command::TopUp { .. }
            | Command::CashOut { .. }
                if Bot::refuse_card_command_in_group(&mut turn) => {}
            Command::CardAdd { card, expiry } => self.card_add(&mut turn, card, expiry).await?,
            Command::CardRemove { index } => self.card_remove(&mut turn, index).await?,
            Command::Cards => self.cards(&mut turn).await?,
            Command::TopUp { amount, card } => {
                self.start_card_op(&mut turn, CardOpKind::TopUp, amount, card)
                    .await?;
            }
            Command::CashOut { amount, card } => {
                self.start_card_op(&mut turn, CardOpKind::CashOut, amount, card)
                    .await?;
            }
        }
        Ok(turn.replies)
    }

    /// Takes the command's token from its sender's bucket (see
    /// [`crate::limits`]). `false`: refused; the first refusal of a run
    /// says when the sender can go on, the others get no answer (a flood
    /// is not answered with a flood). Runs after the checks every message
    /// gets (a card number or a code posted in a group), so those are never
    /// skipped; chatter that is not a command costs nothing.
    fn admit_command(&self, turn: &mut Turn<'_>) -> bool {
        let limits = &self.config.limits;
        match self
            .command_rates
            .admit(limits, turn.msg.platform, &turn.msg.sender.id, turn.now_ms)
        {
            Admission::Admitted => true,
            Admission::RefusedQuietly => false,
            Admission::Refused { until_ms } => {
                let text = format!(
                    "sending me commands faster than I can handle (at most {} a minute). I did not do that one; you can go on from {}.",
                    limits.commands_per_minute_max,
                    limits::utc_second_text(until_ms)
                );
                let text = if turn.in_group() {
                    format!("{}, you are {text}", turn.me_label())
                } else {
                    format!("You are {text}")
                };
                turn.here(text);
                false
            }
        }
    }

    /// Records a user as seen in this event: `speaking` when they sent it,
    /// `direct` when they sent it in a direct chat with the bot.
    async fn see(
        &self,
        user: &User,
        platform: Platform,
        speaking: bool,
        direct: bool,
        now_ms: i64,
    ) -> Result<(Identity, bool)> {
        let seen = SeenUser {
            platform,
            id: user.id.clone(),
            handle: user.handle.clone(),
            skeleton: user.handle.as_ref().map(identity::skeleton),
            display_name: user.display_name.clone(),
            speaking,
            direct: speaking && direct,
        };
        Ok(self.store.upsert_identity(&seen, now_ms).await?)
    }

    // -- accounts ----------------------------------------------------------

    async fn wallet(&self, user: UserId, currency: Currency) -> Result<AccountId> {
        let account = self
            .ledger
            .open_account(&NewAccount {
                owner: owner_of(user)?,
                kind: AccountKind::UserWallet,
                currency,
            })
            .await?;
        Ok(account.id)
    }

    async fn system_account(&self, kind: AccountKind, currency: Currency) -> Result<AccountId> {
        let cached = self
            .system_accounts
            .lock()
            .ok()
            .and_then(|m| m.get(&(kind, currency)).copied());
        if let Some(id) = cached {
            return Ok(id);
        }
        let account = self
            .ledger
            .open_account(&NewAccount {
                owner: OwnerRef::system(),
                kind,
                currency,
            })
            .await?;
        if let Ok(mut m) = self.system_accounts.lock() {
            m.insert((kind, currency), account.id);
        }
        Ok(account.id)
    }

    // -- /start, /help, /balance ---------------------------------------------

    /// `setup`: the user came from a group through the invite link of
    /// [`Bot::require_dm_start`] (payload [`DM_START_PAYLOAD`]).
    async fn start(&self, turn: &mut Turn<'_>, setup: bool) -> Result<()> {
        let user = turn.me.user;
        self.wallet(user, self.config.default_currency).await?;
        let mut text = format!(
            "Welcome to paybot, {}! You can pay people right here in the chat.\n\
             \u{2022} /pay @bob 20 for pizza: pay someone (I DM you a code to confirm)\n\
             \u{2022} /request @bob 15: ask someone to pay you\n\
             \u{2022} /split 60 @bob @carol for dinner: split a bill\n\
             \u{2022} /balance and /history: sent to you privately\n\
             /help lists everything.",
            turn.me_label()
        );
        if turn.msg.platform == Platform::Mock
            && let Some(opening) = self.config.mock_opening_balance
        {
            let issuance = self
                .system_account(AccountKind::PlayIssuance, opening.currency())
                .await?;
            let wallet = self.wallet(user, opening.currency()).await?;
            let id = derive("paybot.bot.mock-opening", &user.0.to_string());
            let outcome = self
                .ledger
                .submit(
                    NewTransfer::single(id, issuance, wallet, opening)
                        .with_code(transfer_codes::MOCK_OPENING),
                )
                .await?;
            if matches!(outcome, Outcome::Created(_)) {
                let _ = write!(
                    text,
                    "\n\nThis is the mock chat: I put {opening} of play money in your wallet."
                );
            }
        }
        if setup && !turn.in_group() {
            text.push_str("\n\nYou're set up: go back to the group and send your command again.");
        }
        turn.private(text);
        self.claim_escrow(turn).await?;
        Ok(())
    }

    async fn balance(&self, turn: &mut Turn<'_>) -> Result<()> {
        let accounts = self.ledger.accounts_of(&owner_of(turn.me.user)?).await?;
        let mut lines = Vec::new();
        for account in accounts
            .iter()
            .filter(|a| a.kind == AccountKind::UserWallet)
        {
            let balance = account.balance();
            let currency = account.currency;
            let available = ledger::format_minor(balance.available(), currency);
            let mut line = format!("{available} available");
            if balance.pending_out > 0 {
                let _ = write!(
                    line,
                    " ({} held for payments waiting for confirmation or a claim)",
                    ledger::format_minor(balance.pending_out, currency)
                );
            }
            if balance.pending_in > 0 {
                let _ = write!(
                    line,
                    " (+{} on its way to you)",
                    ledger::format_minor(balance.pending_in, currency)
                );
            }
            lines.push(line);
        }
        let text = if lines.is_empty() {
            format!(
                "Your balance: {}.",
                ledger::format_minor(0, self.config.default_currency)
            )
        } else {
            format!("Your balance: {}.", lines.join("; "))
        };
        turn.private(text);
        Ok(())
    }

    // -- resolving people ------------------------------------------------------

    /// The user a command names. `Err(text)`: a refusal to reply with.
    async fn resolve(
        &self,
        turn: &Turn<'_>,
        target: &Target,
        allow_unclaimed: bool,
    ) -> Result<std::result::Result<Resolved, String>> {
        let msg = turn.msg;
        let mention = msg.mentions.iter().find(|m| match target {
            Target::Id(id) => &m.user.id == id,
            Target::Handle(handle) => {
                m.user.handle.as_ref() == Some(handle)
                    || Handle::parse(&m.token).ok().as_ref() == Some(handle)
            }
        });
        if let Some(mention) = mention {
            if mention.user.is_bot {
                return Ok(Err(format!(
                    "{} is a bot; bots cannot be paid.",
                    label_of_user(&mention.user)
                )));
            }
            let (identity, _) = self
                .see(&mention.user, msg.platform, false, false, turn.now_ms)
                .await?;
            return Ok(Ok(Resolved::Known(identity)));
        }
        match target {
            Target::Id(id) => match self.store.identity(msg.platform, id).await? {
                Some(identity) => Ok(Ok(Resolved::Known(identity))),
                None => Ok(Err(not_known(target))),
            },
            Target::Handle(handle) => {
                if let Some(bot) = self.username(msg.platform)
                    && Handle::parse(&bot).ok().as_ref() == Some(handle)
                {
                    return Ok(Err(format!("{handle} is me, a bot; bots cannot be paid.")));
                }
                let known = self
                    .store
                    .identities_with_handle(msg.platform, handle)
                    .await?;
                match known.into_iter().next() {
                    Some(identity) => Ok(Ok(Resolved::Known(identity))),
                    None if allow_unclaimed => Ok(Ok(Resolved::Unclaimed(handle.clone()))),
                    None => Ok(Err(not_known(target))),
                }
            }
        }
    }

    /// A user the platform or paybot knows (requests and splits need one:
    /// the request must reach them). `Err(text)`: a refusal to reply with.
    async fn resolve_known(
        &self,
        turn: &Turn<'_>,
        target: &Target,
    ) -> Result<std::result::Result<Identity, String>> {
        Ok(match self.resolve(turn, target, false).await? {
            Ok(Resolved::Known(identity)) => Ok(identity),
            // `resolve` gives no unclaimed handle when not allowed to.
            Ok(Resolved::Unclaimed(_)) => Err(not_known(target)),
            Err(refusal) => Err(refusal),
        })
    }

    /// Warnings for the payer before they confirm: a look-alike handle, a
    /// payee they never paid, a handle nobody has claimed.
    async fn payee_warnings(&self, turn: &Turn<'_>, payee: &Resolved) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        let handle = match payee {
            Resolved::Known(identity) => identity.handle.clone(),
            Resolved::Unclaimed(handle) => Some(handle.clone()),
        };
        if let Some(handle) = &handle {
            let skeleton = identity::skeleton(handle);
            let similar = self
                .store
                .identities_with_skeleton(turn.msg.platform, &skeleton, CONFUSABLE_CANDIDATES_MAX)
                .await?;
            if let Some(other) = similar
                .iter()
                .filter_map(|i| i.handle.as_ref())
                .find(|h| *h != handle)
            {
                warnings.push(format!(
                    "\u{26a0}\u{fe0f} {handle} looks like {other}, a different account. Check you have the right person."
                ));
            }
        }
        match payee {
            Resolved::Known(identity) => {
                if !self
                    .store
                    .has_paid_before(turn.me.user, identity.user)
                    .await?
                {
                    warnings.push(format!(
                        "\u{26a0}\u{fe0f} You have not paid {} before.",
                        label_of(identity)
                    ));
                }
            }
            Resolved::Unclaimed(handle) => warnings.push(format!(
                "\u{26a0}\u{fe0f} {handle} has not used paybot yet. Once you confirm, the money is held until they start paybot here, and comes back to you if they don't within {}.",
                minutes(self.config.escrow_ttl_secs)
            )),
        }
        Ok(warnings)
    }

    // -- /pay, /confirm, /cancel ---------------------------------------------

    async fn pay(
        &self,
        turn: &mut Turn<'_>,
        payee: Option<Target>,
        amount: Amount,
        memo: Option<Memo>,
    ) -> Result<()> {
        let resolved = match &payee {
            Some(target) => match self.resolve(turn, target, true).await? {
                Ok(resolved) => resolved,
                Err(refusal) => {
                    turn.here(refusal);
                    return Ok(());
                }
            },
            None => {
                let Some(author) = turn.msg.reply_to.clone() else {
                    turn.here(
                        "Whom should I pay? Name them (/pay @bob 20) or reply to their message with /pay 20.",
                    );
                    return Ok(());
                };
                if author.is_bot {
                    turn.here(format!(
                        "{} is a bot; bots cannot be paid.",
                        label_of_user(&author)
                    ));
                    return Ok(());
                }
                let (identity, _) = self
                    .see(&author, turn.msg.platform, false, false, turn.now_ms)
                    .await?;
                Resolved::Known(identity)
            }
        };
        self.start_payment(turn, resolved, amount, memo, None).await
    }

    /// Creates the pending transfer and its code; used by `/pay` and
    /// `/approve`.
    async fn start_payment(
        &self,
        turn: &mut Turn<'_>,
        payee: Resolved,
        amount: Amount,
        memo: Option<Memo>,
        request: Option<ShortRef>,
    ) -> Result<()> {
        let me = turn.me.clone();
        if let Resolved::Known(identity) = &payee
            && identity.user == me.user
        {
            turn.here("You can't pay yourself.");
            return Ok(());
        }
        let awaiting = self.store.payments_awaiting_code(me.user).await?;
        if awaiting.len() >= AWAITING_PAYMENTS_PER_USER_MAX {
            turn.private(format!(
                "You already have {} payments waiting for a code. Confirm or /cancel one first.",
                awaiting.len()
            ));
            return Ok(());
        }
        let currency = amount.currency();
        let debit = self.wallet(me.user, currency).await?;
        let (credit, payee_record, payee_label) = match &payee {
            Resolved::Known(identity) => (
                self.wallet(identity.user, currency).await?,
                Payee::User {
                    user: identity.user,
                    platform: identity.platform,
                    id: identity.id.clone(),
                },
                label_of(identity),
            ),
            Resolved::Unclaimed(handle) => (
                self.system_account(AccountKind::Escrow, currency).await?,
                Payee::Unclaimed {
                    platform: turn.msg.platform,
                    handle: handle.clone(),
                },
                handle.to_string(),
            ),
        };
        let transfer_id = derive("paybot.bot.pay", &event_key(turn.msg));
        let pending =
            NewTransfer::pending(transfer_id, debit, credit, amount, self.config.otp.ttl_secs)
                .with_code(transfer_codes::PAYMENT);
        let recorded = match self.ledger.submit(pending).await {
            Ok(outcome) => outcome.transfer().clone(),
            Err(SubmitError::Rejected {
                error: TransferError::InsufficientFunds,
                ..
            }) => {
                let available = self
                    .ledger
                    .balance(debit)
                    .await?
                    .map(|b| b.available())
                    .unwrap_or(0);
                turn.private(format!(
                    "Not enough money for that: you have {} available and the payment is {amount}.",
                    ledger::format_minor(available, currency)
                ));
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        let warnings = self.payee_warnings(turn, &payee).await?;
        let code = otp::generate(self.rng.as_ref())?;
        let binding = transfer_id.as_u128().to_be_bytes();
        let challenge = OtpChallenge::new(code.hash(&self.pepper, &binding), turn.now_ms);
        let due_at_ms = challenge
            .expires_at_ms(&self.config.otp)
            .max(recorded.expires_at_ms().unwrap_or(0));
        let mut payment = Payment {
            reference: short_ref('P', transfer_id, REF_BODY_CHARS)?,
            transfer_id,
            payer: me.user,
            payer_platform: me.platform,
            payer_id: me.id.clone(),
            payee: payee_record,
            payee_label: payee_label.clone(),
            amount,
            memo: memo.clone(),
            request,
            origin_chat: turn.in_group().then(|| turn.msg.chat.id.clone()),
            challenge,
            state: PaymentState::AwaitingCode,
            due_at_ms: Some(due_at_ms),
            created_at_ms: turn.now_ms,
            updated_at_ms: turn.now_ms,
            revision: 0,
        };
        let mut stored = self.store.insert_payment(&payment).await?;
        if stored.transfer_id != transfer_id {
            payment.reference = short_ref('P', transfer_id, REF_BODY_CHARS_LONG)?;
            stored = self.store.insert_payment(&payment).await?;
        }
        if stored.transfer_id != transfer_id {
            return Err(BotError::Inconsistent(format!(
                "payment reference {} taken twice",
                payment.reference
            )));
        }
        if stored.state != PaymentState::AwaitingCode {
            turn.private(format!(
                "Payment {} is already {}.",
                stored.reference,
                describe_state(stored.state)
            ));
            return Ok(());
        }
        if stored.revision != payment.revision
            || stored.challenge.hash.to_bytes() != challenge.hash.to_bytes()
        {
            // A retry after a crash: the first code was never seen; this one
            // replaces it.
            let mut renewed = stored.clone();
            renewed.challenge = challenge;
            renewed.updated_at_ms = turn.now_ms;
            if !self.store.update_payment(&renewed).await? {
                return Err(BotError::Inconsistent(
                    "payment changed while its code was renewed".to_owned(),
                ));
            }
        }
        let reference = stored.reference.clone();
        let mut text = format!(
            "To pay {payee_label} {amount}{}, send me: /confirm {}\n\
             The code works once and expires in {}. Never type it in a group.\n\
             Changed your mind? /cancel {reference}",
            with_memo(memo.as_ref()),
            code.expose(),
            minutes(self.config.otp.ttl_secs),
        );
        let mut redacted = format!(
            "To pay {payee_label} {amount}{}, send me: /confirm (the code I sent you)\n\
             Changed your mind? /cancel {reference}",
            with_memo(memo.as_ref()),
        );
        for warning in &warnings {
            text.push_str("\n\n");
            text.push_str(warning);
            redacted.push_str("\n\n");
            redacted.push_str(warning);
        }
        if turn.seen_by_group() {
            turn.noted_dm = true;
            let note = format!(
                "{}, I sent you a DM with a code to confirm paying {payee_label} {amount}.",
                turn.me_label()
            );
            turn.here(note);
        }
        let cancel = Button::new("Cancel", format!("/cancel {reference}"));
        turn.private_with(text, Some(redacted), vec![cancel]);
        Ok(())
    }

    async fn confirm(&self, turn: &mut Turn<'_>, code: &OtpCode) -> Result<()> {
        if turn.seen_by_group() {
            // `catch_leaked_codes` already voided a payment this code matches.
            turn.here("Send /confirm to me in a private chat, never in a group.");
            return Ok(());
        }
        let awaiting = self.store.payments_awaiting_code(turn.me.user).await?;
        let card_ops = self.store.card_ops_awaiting_code(turn.me.user).await?;
        let card_adds = self.store.card_adds_awaiting_code(turn.me.user).await?;
        if awaiting.is_empty() && card_ops.is_empty() && card_adds.is_empty() {
            turn.private("You have no payment waiting for a code.");
            return Ok(());
        }
        let matching_add = card_adds.iter().find(|add| {
            add.challenge.hash.matches(
                &self.pepper,
                &add.add_id.as_u128().to_be_bytes(),
                code.as_str(),
            )
        });
        if let Some(add) = matching_add {
            return self.confirm_card_add(turn, add.clone(), code).await;
        }
        let matching_op = card_ops.iter().find(|op| {
            op.challenge.hash.matches(
                &self.pepper,
                &op.transfer_id.as_u128().to_be_bytes(),
                code.as_str(),
            )
        });
        if let Some(op) = matching_op {
            return self.confirm_card_op(turn, op.clone(), code).await;
        }
        let matching = awaiting.iter().find(|p| {
            p.challenge.hash.matches(
                &self.pepper,
                &p.transfer_id.as_u128().to_be_bytes(),
                code.as_str(),
            )
        });
        if let Some(payment) = matching {
            let verdict = payment.challenge.verdict(
                &self.config.otp,
                &self.pepper,
                &payment.transfer_id.as_u128().to_be_bytes(),
                code.as_str(),
                turn.now_ms,
            );
            return match verdict {
                Verdict::Confirmed => self.execute(turn, payment.clone()).await,
                Verdict::Expired => {
                    self.expire_awaiting(payment.clone(), false).await?;
                    turn.private(format!(
                        "That code has expired, so payment {} was cancelled and nothing was paid. Start again with /pay.",
                        payment.reference
                    ));
                    Ok(())
                }
                Verdict::LockedOut | Verdict::Wrong { .. } => {
                    self.end_awaiting(payment.clone(), PaymentState::LockedOut)
                        .await?;
                    turn.private(format!(
                        "Too many wrong codes: payment {} was cancelled and nothing was paid.",
                        payment.reference
                    ));
                    Ok(())
                }
            };
        }
        // A wrong code counts against every payment waiting for one, so
        // guesses cannot be spread over several payments.
        let mut lines = Vec::new();
        for payment in awaiting {
            let verdict = payment.challenge.verdict(
                &self.config.otp,
                &self.pepper,
                &payment.transfer_id.as_u128().to_be_bytes(),
                code.as_str(),
                turn.now_ms,
            );
            match verdict {
                Verdict::Wrong { attempts_left } => {
                    let mut updated = payment.clone();
                    updated.challenge = payment.challenge.after_wrong();
                    updated.updated_at_ms = turn.now_ms;
                    if self.store.update_payment(&updated).await? {
                        lines.push(format!(
                            "That code is not right for payment {} ({} to {}). {} left.",
                            payment.reference,
                            payment.amount,
                            payment.payee_label,
                            tries(attempts_left)
                        ));
                    }
                }
                Verdict::LockedOut | Verdict::Confirmed => {
                    let reference = payment.reference.clone();
                    if self.end_awaiting(payment, PaymentState::LockedOut).await? {
                        lines.push(format!(
                            "Too many wrong codes: payment {reference} was cancelled and nothing was paid."
                        ));
                    }
                }
                Verdict::Expired => {
                    let reference = payment.reference.clone();
                    self.expire_awaiting(payment, false).await?;
                    lines.push(format!(
                        "Payment {reference} had expired and was cancelled; nothing was paid."
                    ));
                }
            }
        }
        self.wrong_code_on_card_ops(turn, card_ops, code, &mut lines)
            .await?;
        self.wrong_code_on_card_adds(turn, card_adds, code, &mut lines)
            .await?;
        if lines.is_empty() {
            lines.push("That code is not right.".to_owned());
        }
        turn.private(lines.join("\n"));
        Ok(())
    }

    /// Moves the money of a confirmed payment and tells everyone.
    async fn execute(&self, turn: &mut Turn<'_>, payment: Payment) -> Result<()> {
        let amount = payment.amount;
        let memo = with_memo(payment.memo.as_ref());
        let reference = payment.reference.clone();
        let post_id = derive("paybot.bot.pay.post", &reference.to_string());
        // An unclaimed payee may have shown up since /pay: someone new to
        // paybot since then, never a known user who took the name since
        // (see `claim_escrow`).
        let mut payee = payment.payee.clone();
        if let Payee::Unclaimed { platform, handle } = &payee
            && let Some(identity) = self
                .store
                .identities_with_handle(*platform, handle)
                .await?
                .into_iter()
                .find(|i| {
                    i.started && i.user != payment.payer && i.first_seen_ms >= payment.created_at_ms
                })
        {
            payee = Payee::User {
                user: identity.user,
                platform: identity.platform,
                id: identity.id.clone(),
            };
        }
        // The payee's account may have joined another wallet (/link) or
        // left one (/unlink) since /pay: the money follows the account.
        let mut forward_from = None;
        if let Payee::User { user, platform, id } = &payee
            && let Some(now) = self.store.identity(*platform, id).await?
            && now.user != *user
        {
            forward_from = Some(*user);
            payee = Payee::User {
                user: now.user,
                platform: *platform,
                id: id.clone(),
            };
        }
        let (group, outbox, next_state, due_at_ms, text) = match (&payment.payee, &payee) {
            (Payee::User { .. }, Payee::User { user, platform, id }) => {
                let mut outbox = vec![self.payee_notice(turn, &payment, *platform, id).await?];
                outbox.extend(self.announcement(&payment, &payment.payee_label)?);
                let mut group = vec![
                    NewTransfer::post(post_id, payment.transfer_id, None)
                        .with_code(transfer_codes::PAYMENT),
                ];
                if let Some(from) = forward_from {
                    group.push(
                        NewTransfer::single(
                            derive("paybot.bot.pay.forward", &reference.to_string()),
                            self.wallet(from, amount.currency()).await?,
                            self.wallet(*user, amount.currency()).await?,
                            amount,
                        )
                        .with_code(transfer_codes::LINK_MERGE),
                    );
                }
                (
                    group,
                    outbox,
                    PaymentState::Completed,
                    None,
                    format!("Done: you paid {} {amount}{memo}.", payment.payee_label),
                )
            }
            (Payee::Unclaimed { .. }, Payee::User { user, platform, id }) => {
                let escrow = self
                    .system_account(AccountKind::Escrow, amount.currency())
                    .await?;
                let wallet = self.wallet(*user, amount.currency()).await?;
                let mut outbox = vec![self.payee_notice(turn, &payment, *platform, id).await?];
                outbox.extend(self.announcement(&payment, &payment.payee_label)?);
                (
                    vec![
                        NewTransfer::post(post_id, payment.transfer_id, None)
                            .with_code(transfer_codes::PAYMENT),
                        NewTransfer::single(
                            derive("paybot.bot.escrow.claim", &reference.to_string()),
                            escrow,
                            wallet,
                            amount,
                        )
                        .with_code(transfer_codes::ESCROW_CLAIM),
                    ],
                    outbox,
                    PaymentState::Completed,
                    None,
                    format!("Done: you paid {} {amount}{memo}.", payment.payee_label),
                )
            }
            (_, Payee::Unclaimed { .. }) => {
                let escrow = self
                    .system_account(AccountKind::Escrow, amount.currency())
                    .await?;
                let payer_wallet = self.wallet(payment.payer, amount.currency()).await?;
                let hold_id = hold_id(&payment);
                (
                    vec![
                        NewTransfer::void(
                            derive("paybot.bot.pay.to-hold", &reference.to_string()),
                            payment.transfer_id,
                        ),
                        NewTransfer::pending(
                            hold_id,
                            payer_wallet,
                            escrow,
                            amount,
                            self.config.escrow_ttl_secs,
                        )
                        .with_code(transfer_codes::ESCROW_HOLD),
                    ],
                    Vec::new(),
                    PaymentState::Escrowed,
                    Some(turn.now_ms.saturating_add(
                        i64::from(self.config.escrow_ttl_secs).saturating_mul(1_000),
                    )),
                    format!(
                        "Confirmed: {amount}{memo} for {} is held for them until they start paybot here. If they don't within {}, it comes back to you (/cancel {reference} to take it back sooner).",
                        payment.payee_label,
                        minutes(self.config.escrow_ttl_secs)
                    ),
                )
            }
        };
        match self.ledger.submit_linked_with_outbox(group, outbox).await {
            Ok(outcomes) => {
                let due_at_ms = match (next_state, outcomes.last()) {
                    (PaymentState::Escrowed, Some(hold)) => {
                        hold.transfer().expires_at_ms().or(due_at_ms)
                    }
                    _ => due_at_ms,
                };
                let mut done = payment.clone();
                done.payee = payee;
                done.state = next_state;
                done.due_at_ms = due_at_ms;
                done.updated_at_ms = turn.now_ms;
                if !self.store.update_payment(&done).await? {
                    // Someone else recorded it first; the money moved once.
                    let now = self.store.payment(&reference).await?;
                    let state = now.map_or(next_state, |p| p.state);
                    turn.private(format!(
                        "Payment {reference} is already {}.",
                        describe_state(state)
                    ));
                    return Ok(());
                }
                if let Some(request) = &payment.request {
                    self.mark_request_paid(request, &reference).await?;
                }
                turn.private(text);
                Ok(())
            }
            Err(SubmitError::Rejected { error, .. }) => {
                let state = awaiting_resolved_as(&error, PaymentState::Cancelled);
                self.reconcile(payment, state).await?;
                turn.private(format!(
                    "Payment {reference} can no longer be confirmed: it is {}. Nothing more was paid.",
                    describe_state(state)
                ));
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Records a state the ledger already reached (after a crash or a race).
    async fn reconcile(&self, mut payment: Payment, state: PaymentState) -> Result<()> {
        if payment.state == state {
            return Ok(());
        }
        payment.state = state;
        payment.due_at_ms = None;
        payment.updated_at_ms = self.ledger.now_ms();
        self.store.update_payment(&payment).await?;
        Ok(())
    }

    /// Voids a payment still waiting for its code and records `state`
    /// (cancelled, locked out, leaked). `false`: it was no longer waiting.
    async fn end_awaiting(&self, payment: Payment, state: PaymentState) -> Result<bool> {
        let void_id = derive("paybot.bot.pay.void", &payment.reference.to_string());
        match self
            .ledger
            .submit(NewTransfer::void(void_id, payment.transfer_id))
            .await
        {
            Ok(_) => {}
            Err(SubmitError::Rejected { error, .. }) => {
                let actual = awaiting_resolved_as(&error, state);
                if actual != state {
                    self.reconcile(payment, actual).await?;
                    return Ok(false);
                }
            }
            Err(error) => return Err(error.into()),
        }
        let mut ended = payment;
        ended.state = state;
        ended.due_at_ms = None;
        ended.updated_at_ms = self.ledger.now_ms();
        Ok(self.store.update_payment(&ended).await?)
    }

    /// Expires a payment whose code ran out; tells the payer through the
    /// outbox when `notify`.
    async fn expire_awaiting(&self, payment: Payment, notify: bool) -> Result<bool> {
        match self
            .ledger
            .submit(NewTransfer::expire(payment.transfer_id))
            .await
        {
            Ok(_) => {}
            Err(SubmitError::Rejected {
                error: TransferError::NotExpiredYet,
                ..
            }) => {
                // The code's clock and the ledger's disagree by a moment:
                // void it instead, which ends it just the same.
                return self.end_awaiting(payment, PaymentState::Expired).await;
            }
            Err(SubmitError::Rejected { error, .. }) => {
                let actual = awaiting_resolved_as(&error, PaymentState::Cancelled);
                if actual != PaymentState::Expired {
                    self.reconcile(payment, actual).await?;
                    return Ok(false);
                }
            }
            Err(error) => return Err(error.into()),
        }
        if notify {
            let notice = self.notice(
                &format!("{}:expired:payer", payment.reference),
                payment.payer_platform,
                &payment.payer_id,
                format!(
                    "Your payment of {} to {} was not confirmed within {} and has been cancelled; nothing was paid.",
                    payment.amount,
                    payment.payee_label,
                    minutes(self.config.otp.ttl_secs)
                ),
            )?;
            self.ledger.enqueue_outbox(&[notice]).await?;
        }
        let mut ended = payment;
        ended.state = PaymentState::Expired;
        ended.due_at_ms = None;
        ended.updated_at_ms = self.ledger.now_ms();
        Ok(self.store.update_payment(&ended).await?)
    }

    async fn cancel(&self, turn: &mut Turn<'_>, reference: Option<ShortRef>) -> Result<()> {
        let card_op = match &reference {
            Some(reference) => self
                .store
                .card_op(reference)
                .await?
                .filter(|op| op.user == turn.me.user),
            None => None,
        };
        if let Some(op) = card_op {
            return self.cancel_card_op(turn, op).await;
        }
        let card_add = match &reference {
            Some(reference) => self
                .store
                .card_add(reference)
                .await?
                .filter(|add| add.user == turn.me.user),
            None => None,
        };
        if let Some(add) = card_add {
            return self.cancel_card_add(turn, add).await;
        }
        // A bare /cancel with no payment waiting: the card operation, else
        // the card link, waiting for a code.
        if reference.is_none()
            && self
                .store
                .payments_awaiting_code(turn.me.user)
                .await?
                .is_empty()
        {
            let ops = self.store.card_ops_awaiting_code(turn.me.user).await?;
            if let Some(op) = ops.into_iter().next() {
                return self.cancel_card_op(turn, op).await;
            }
            let adds = self.store.card_adds_awaiting_code(turn.me.user).await?;
            if let Some(add) = adds.into_iter().next() {
                return self.cancel_card_add(turn, add).await;
            }
        }
        let payment = match &reference {
            Some(reference) => self
                .store
                .payment(reference)
                .await?
                .filter(|p| p.payer == turn.me.user),
            None => self
                .store
                .payments_awaiting_code(turn.me.user)
                .await?
                .into_iter()
                .next(),
        };
        let Some(payment) = payment else {
            turn.here(match reference {
                Some(reference) => format!("You have no payment {reference}."),
                None => "You have no payment waiting to be confirmed.".to_owned(),
            });
            return Ok(());
        };
        let reference = payment.reference.clone();
        let what = format!("{} to {}", payment.amount, payment.payee_label);
        match payment.state {
            PaymentState::AwaitingCode => {
                if self.end_awaiting(payment, PaymentState::Cancelled).await? {
                    turn.here(format!(
                        "Cancelled payment {reference} ({what}). Nothing was paid."
                    ));
                } else {
                    turn.here(format!(
                        "Payment {reference} could not be cancelled: it was already settled."
                    ));
                }
            }
            PaymentState::Escrowed => {
                let void = NewTransfer::void(
                    derive("paybot.bot.escrow.cancel", &reference.to_string()),
                    hold_id(&payment),
                );
                match self.ledger.submit(void).await {
                    Ok(_) => {
                        self.reconcile(payment, PaymentState::Refunded).await?;
                        turn.here(format!(
                            "Cancelled payment {reference} ({what}); the money is back in your wallet."
                        ));
                    }
                    Err(SubmitError::Rejected { error, .. }) => {
                        let state = hold_resolved_as(&error);
                        self.reconcile(payment, state).await?;
                        turn.here(format!(
                            "Payment {reference} is already {}.",
                            describe_state(state)
                        ));
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            state => turn.here(format!(
                "Payment {reference} is already {}; it cannot be cancelled.",
                describe_state(state)
            )),
        }
        Ok(())
    }

    /// In a group: a code of one of the sender's waiting payments, typed
    /// here, is leaked; that payment is voided. `true` if one was.
    async fn catch_leaked_codes(&self, turn: &mut Turn<'_>) -> Result<bool> {
        let candidates: Vec<String> = otp::find_codes(&turn.msg.text).collect();
        if candidates.is_empty() {
            return Ok(false);
        }
        let leaked_card_ops = self.catch_leaked_card_codes(turn, &candidates).await?;
        let awaiting = self.store.payments_awaiting_code(turn.me.user).await?;
        let mut leaked = Vec::new();
        for payment in awaiting {
            let binding = payment.transfer_id.as_u128().to_be_bytes();
            if candidates
                .iter()
                .any(|c| payment.challenge.hash.matches(&self.pepper, &binding, c))
            {
                leaked.push(payment);
            }
        }
        if leaked.is_empty() {
            return Ok(leaked_card_ops);
        }
        for payment in leaked {
            let reference = payment.reference.clone();
            let what = format!("{} to {}", payment.amount, payment.payee_label);
            if self.end_awaiting(payment, PaymentState::Leaked).await? {
                turn.here(format!(
                    "{}, that was a private confirmation code, so I cancelled the payment it was for. Only ever send codes to me in a DM.",
                    turn.me_label()
                ));
                turn.private(format!(
                    "Your code for payment {reference} ({what}) was posted in a group, so I cancelled that payment; nothing was paid. Start again with /pay, and send the new code only here."
                ));
            }
        }
        Ok(true)
    }

    // -- escrow ----------------------------------------------------------------

    /// Pays out what was held for this user's handle on this platform, if
    /// paybot first saw this identity at or after the payment was made.
    ///
    /// Handles change hands (Telegram and Discord let anyone rename), so
    /// the handle alone names nobody: an identity paybot already knew
    /// before the payment (seen speaking, or only mentioned: a mention
    /// records the identity too) had another name then, and took this one
    /// since. It gets nothing and is told nothing of the payment; the payer
    /// is told, once per such identity, and may `/cancel`. The cost of
    /// this rule: someone paybot knew under no handle, who then chose the
    /// one paid to, must be paid again directly.
    async fn claim_escrow(&self, turn: &mut Turn<'_>) -> Result<()> {
        let Some(handle) = turn.me.handle.clone() else {
            return Ok(());
        };
        let held = self
            .store
            .payments_escrowed_for(turn.msg.platform, &handle)
            .await?;
        for payment in held {
            if payment.payer == turn.me.user {
                continue;
            }
            if turn.me.first_seen_ms < payment.created_at_ms {
                self.tell_payer_claim_refused(turn, &payment).await?;
                continue;
            }
            let reference = payment.reference.clone();
            let amount = payment.amount;
            let memo = with_memo(payment.memo.as_ref());
            let escrow = self
                .system_account(AccountKind::Escrow, amount.currency())
                .await?;
            let wallet = self.wallet(turn.me.user, amount.currency()).await?;
            let group = vec![
                NewTransfer::post(
                    derive("paybot.bot.escrow.release", &reference.to_string()),
                    hold_id(&payment),
                    None,
                )
                .with_code(transfer_codes::ESCROW_HOLD),
                NewTransfer::single(
                    derive("paybot.bot.escrow.claim", &reference.to_string()),
                    escrow,
                    wallet,
                    amount,
                )
                .with_code(transfer_codes::ESCROW_CLAIM),
            ];
            let outbox = vec![self.notice(
                &format!("{reference}:claimed:payer"),
                payment.payer_platform,
                &payment.payer_id,
                format!(
                    "{} started paybot and received the {amount}{memo} you sent (payment {reference}).",
                    turn.me_label()
                ),
            )?];
            match self.ledger.submit_linked_with_outbox(group, outbox).await {
                Ok(_) => {
                    let payer = self.payer_label(&payment).await?;
                    let mut claimed = payment;
                    claimed.payee = Payee::User {
                        user: turn.me.user,
                        platform: turn.me.platform,
                        id: turn.me.id.clone(),
                    };
                    claimed.state = PaymentState::Claimed;
                    claimed.due_at_ms = None;
                    claimed.updated_at_ms = turn.now_ms;
                    self.store.update_payment(&claimed).await?;
                    turn.private(format!(
                        "{payer} sent you {amount}{memo} before you joined; it is in your wallet now."
                    ));
                }
                Err(SubmitError::Rejected { error, .. }) => {
                    // Refunded (expired) or cancelled meanwhile.
                    let state = hold_resolved_as(&error);
                    self.reconcile(payment, state).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Tells the payer of an escrowed payment that a known user who took
    /// the payee's handle since was not given it (see `claim_escrow`).
    async fn tell_payer_claim_refused(&self, turn: &Turn<'_>, payment: &Payment) -> Result<()> {
        let reference = &payment.reference;
        let handle = &payment.payee_label;
        let notice = self.notice(
            &format!(
                "{reference}:claim-refused:{}:{}",
                turn.msg.platform, turn.me.id
            ),
            payment.payer_platform,
            &payment.payer_id,
            format!(
                "Your {}{} for {handle} (payment {reference}) is still held. {handle} on {} is now used by an account paybot knew under another name before your payment, so I did not give it to them. If they are the person you meant, /cancel {reference} and pay them directly; otherwise the money comes back to you when the hold ends, or at once with /cancel {reference}.",
                payment.amount,
                with_memo(payment.memo.as_ref()),
                link::platform_name(turn.msg.platform),
            ),
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        Ok(())
    }

    // -- time-driven: expiries and refunds ---------------------------------

    /// Ends what is due: payments whose code expired (voided by expiry,
    /// payer told) and escrow holds nobody claimed (refunded, payer told).
    /// Repairs records that fell behind the ledger. Returns how many
    /// payments it ended.
    pub async fn sweep(&self) -> Result<usize> {
        let now_ms = self.ledger.now_ms();
        let due = self.store.payments_due(now_ms, SWEEP_PAYMENTS_MAX).await?;
        let mut ended = 0;
        for payment in due {
            let done = match payment.state {
                PaymentState::AwaitingCode => self.expire_awaiting(payment, true).await?,
                PaymentState::Escrowed => self.refund_escrow(payment).await?,
                _ => false,
            };
            if done {
                ended += 1;
            }
        }
        ended += self.sweep_card_ops(now_ms).await?;
        ended += self.sweep_card_adds(now_ms).await?;
        if ended > 0 {
            self.dispatcher.wake();
        }
        let last = self
            .events_forgotten_at_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        if now_ms.saturating_sub(last) >= EVENT_FORGET_INTERVAL_MS {
            self.events_forgotten_at_ms
                .store(now_ms, std::sync::atomic::Ordering::Relaxed);
            let forgotten = self
                .store
                .forget_events(now_ms.saturating_sub(EVENT_RETENTION_MS))
                .await?;
            if forgotten > 0 {
                tracing::debug!(forgotten, "forgot old event outcomes");
            }
        }
        Ok(ended)
    }

    async fn refund_escrow(&self, payment: Payment) -> Result<bool> {
        match self
            .ledger
            .submit(NewTransfer::expire(hold_id(&payment)))
            .await
        {
            Ok(_) => {}
            Err(SubmitError::Rejected {
                error: TransferError::NotExpiredYet,
                ..
            }) => return Ok(false),
            Err(SubmitError::Rejected { error, .. }) => {
                let state = hold_resolved_as(&error);
                self.reconcile(payment, state).await?;
                return Ok(false);
            }
            Err(error) => return Err(error.into()),
        }
        let notice = self.notice(
            &format!("{}:refunded:payer", payment.reference),
            payment.payer_platform,
            &payment.payer_id,
            format!(
                "Nobody claimed the {} you sent to {} within {}, so it is back in your wallet (payment {}).",
                payment.amount,
                payment.payee_label,
                minutes(self.config.escrow_ttl_secs),
                payment.reference
            ),
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        let mut refunded = payment;
        refunded.state = PaymentState::Refunded;
        refunded.due_at_ms = None;
        refunded.updated_at_ms = self.ledger.now_ms();
        Ok(self.store.update_payment(&refunded).await?)
    }

    /// Runs [`Bot::sweep`] every `interval` until `shutdown` changes.
    pub fn spawn_sweeper(
        self: &Arc<Bot>,
        interval: Duration,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let bot = Arc::clone(self);
        crate::periodic::spawn_periodic("bot sweep", interval, None, shutdown, move || {
            let bot = Arc::clone(&bot);
            async move { bot.sweep().await }
        })
    }

    // -- requests --------------------------------------------------------------

    async fn request(
        &self,
        turn: &mut Turn<'_>,
        payer: &Target,
        amount: Amount,
        memo: Option<Memo>,
    ) -> Result<()> {
        let payer = match self.resolve_known(turn, payer).await? {
            Ok(identity) => identity,
            Err(refusal) => {
                turn.here(refusal);
                return Ok(());
            }
        };
        if payer.user == turn.me.user {
            turn.here("You can't ask yourself for money.");
            return Ok(());
        }
        if let Some(refusal) = self
            .request_limits(turn, std::slice::from_ref(&payer))
            .await?
        {
            turn.here(refusal);
            return Ok(());
        }
        let key = event_key(turn.msg);
        let request = self
            .create_request(turn, &payer, amount, memo, None, &key)
            .await?;
        turn.here(format!(
            "Asked {} for {amount}{} (request {}). I'll tell you when they answer.",
            label_of(&payer),
            with_memo(request.memo.as_ref()),
            request.reference
        ));
        Ok(())
    }

    /// Whether the sender may ask each of `payers` for money now: at most
    /// `limits.requests_sent_per_hour_max` requests made and
    /// `limits.requests_received_per_hour_max` received per user in any
    /// hour, counted from the store (durable, the same for every process).
    /// `Some(refusal)`: which limit, and when it frees up.
    ///
    /// Counted, then created: two of one sender's commands handled at the
    /// same instant may pass one over the limit (the command bucket bounds
    /// how many that can be). Requests move no money.
    async fn request_limits(&self, turn: &Turn<'_>, payers: &[Identity]) -> Result<Option<String>> {
        let limits = &self.config.limits;
        let since = turn.now_ms.saturating_sub(limits::REQUEST_WINDOW_MS);
        let needed = u32::try_from(payers.len()).unwrap_or(u32::MAX);
        let made = self
            .store
            .requests_since(
                turn.me.user,
                RequestSide::Made,
                since,
                limits.requests_sent_per_hour_max,
            )
            .await?;
        if let Some(at) = limits::window_frees_at(&made, limits.requests_sent_per_hour_max, needed)
        {
            let more = if needed > 1 {
                format!(" (this would make {needed} more)")
            } else {
                String::new()
            };
            return Ok(Some(format!(
                "You have asked for money {} times in the last hour, the most I allow{more}. You can ask again from {}. Nothing was sent.",
                made.len(),
                limits::utc_minute_text(at)
            )));
        }
        for payer in payers {
            let received = self
                .store
                .requests_since(
                    payer.user,
                    RequestSide::Received,
                    since,
                    limits.requests_received_per_hour_max,
                )
                .await?;
            if let Some(at) =
                limits::window_frees_at(&received, limits.requests_received_per_hour_max, 1)
            {
                return Ok(Some(format!(
                    "{} has been asked for money {} times in the last hour, the most I pass on. You can ask them from {}. Nothing was sent.",
                    label_of(payer),
                    received.len(),
                    limits::utc_minute_text(at)
                )));
            }
        }
        Ok(None)
    }

    async fn create_request(
        &self,
        turn: &Turn<'_>,
        payer: &Identity,
        amount: Amount,
        memo: Option<Memo>,
        split: Option<&Split>,
        key: &str,
    ) -> Result<PaymentRequest> {
        let id = derive("paybot.bot.request", key);
        let mut request = PaymentRequest {
            reference: short_ref('R', id, REF_BODY_CHARS)?,
            requester: turn.me.user,
            requester_platform: turn.me.platform,
            requester_id: turn.me.id.clone(),
            requester_label: turn.me_label(),
            payer: payer.user,
            payer_platform: payer.platform,
            payer_id: payer.id.clone(),
            payer_label: label_of(payer),
            amount,
            memo,
            split: split.map(|s| s.reference.clone()),
            state: RequestState::Open,
            payment: None,
            created_at_ms: turn.now_ms,
            updated_at_ms: turn.now_ms,
            revision: 0,
        };
        let mut stored = self.store.insert_request(&request).await?;
        if stored.requester != request.requester || stored.payer != request.payer {
            request.reference = short_ref('R', id, REF_BODY_CHARS_LONG)?;
            stored = self.store.insert_request(&request).await?;
        }
        let reference = &stored.reference;
        let context = match split {
            Some(split) => format!(
                " as your share of {}'s split of {}",
                turn.me_label(),
                split.total
            ),
            None => String::new(),
        };
        let bounce = Reply {
            platform: turn.msg.platform,
            audience: Audience::Private(turn.msg.sender.id.clone()),
            text: format!(
                "I couldn't send your request {reference} to {}: they don't accept direct messages from me. It stays open; they can still answer it with /approve {reference}.",
                label_of(payer)
            ),
            redacted: None,
            buttons: Vec::new(),
            deletion: None,
        };
        let notice = self.notice_with(
            &format!("{reference}:requested:payer"),
            payer.platform,
            &payer.id,
            format!(
                "{} asks you to pay {amount}{}{context}.\n/approve {reference} to pay (I'll send you a code), or /decline {reference}.",
                turn.me_label(),
                with_memo(stored.memo.as_ref()),
            ),
            vec![
                Button::new("Approve", format!("/approve {reference}")),
                Button::new("Decline", format!("/decline {reference}")),
            ],
            Some(&bounce),
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        Ok(stored)
    }

    async fn own_request(
        &self,
        turn: &mut Turn<'_>,
        reference: &ShortRef,
    ) -> Result<Option<PaymentRequest>> {
        let request = self
            .store
            .request(reference)
            .await?
            .filter(|r| r.payer == turn.me.user);
        if request.is_none() {
            turn.here(format!("You have no request {reference}."));
        }
        Ok(request)
    }

    async fn approve(&self, turn: &mut Turn<'_>, reference: &ShortRef) -> Result<()> {
        let Some(request) = self.own_request(turn, reference).await? else {
            return Ok(());
        };
        match request.state {
            RequestState::Open => {}
            RequestState::Approved => {
                let waiting = match &request.payment {
                    Some(p) => self
                        .store
                        .payment(p)
                        .await?
                        .is_some_and(|p| p.state == PaymentState::AwaitingCode),
                    None => false,
                };
                if waiting {
                    turn.here(format!(
                        "Request {reference} already has a payment waiting for your code."
                    ));
                    return Ok(());
                }
            }
            RequestState::Paid | RequestState::Declined => {
                turn.here(format!(
                    "Request {reference} is already {}.",
                    request.state.as_str()
                ));
                return Ok(());
            }
        }
        let Some(requester) = self
            .store
            .identity(request.requester_platform, &request.requester_id)
            .await?
        else {
            return Err(BotError::Inconsistent(format!(
                "request {reference} names an unknown requester"
            )));
        };
        self.start_payment(
            turn,
            Resolved::Known(requester),
            request.amount,
            request.memo.clone(),
            Some(request.reference.clone()),
        )
        .await?;
        let transfer_id = derive("paybot.bot.pay", &event_key(turn.msg));
        if let Some(payment) = self.store.payment_by_transfer(transfer_id).await? {
            let mut approved = request;
            approved.state = RequestState::Approved;
            approved.payment = Some(payment.reference);
            approved.updated_at_ms = turn.now_ms;
            self.store.update_request(&approved).await?;
        }
        Ok(())
    }

    async fn decline(&self, turn: &mut Turn<'_>, reference: &ShortRef) -> Result<()> {
        let Some(request) = self.own_request(turn, reference).await? else {
            return Ok(());
        };
        if matches!(request.state, RequestState::Paid | RequestState::Declined) {
            turn.here(format!(
                "Request {reference} is already {}.",
                request.state.as_str()
            ));
            return Ok(());
        }
        let mut declined = request.clone();
        declined.state = RequestState::Declined;
        declined.updated_at_ms = turn.now_ms;
        if !self.store.update_request(&declined).await? {
            turn.here(format!("Request {reference} changed meanwhile; try again."));
            return Ok(());
        }
        let notice = self.notice(
            &format!("{reference}:declined:requester"),
            request.requester_platform,
            &request.requester_id,
            format!(
                "{} declined your request {reference} for {}{}.",
                turn.me_label(),
                request.amount,
                with_memo(request.memo.as_ref())
            ),
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        turn.here(format!(
            "Declined request {reference} from {}.",
            request.requester_label
        ));
        Ok(())
    }

    async fn mark_request_paid(&self, reference: &ShortRef, payment: &ShortRef) -> Result<()> {
        for _ in 0..3 {
            let Some(request) = self.store.request(reference).await? else {
                return Ok(());
            };
            if request.state == RequestState::Paid {
                return Ok(());
            }
            let mut paid = request.clone();
            paid.state = RequestState::Paid;
            paid.payment = Some(payment.clone());
            paid.updated_at_ms = self.ledger.now_ms();
            if self.store.update_request(&paid).await? {
                return Ok(());
            }
        }
        Err(BotError::Inconsistent(format!(
            "request {reference} keeps changing"
        )))
    }

    // -- splits ----------------------------------------------------------------

    async fn split(
        &self,
        turn: &mut Turn<'_>,
        total: Amount,
        shares: &[SplitShare],
        memo: Option<Memo>,
    ) -> Result<()> {
        let mut people: Vec<Identity> = Vec::with_capacity(shares.len());
        for share in shares {
            let identity = match self.resolve_known(turn, &share.target).await? {
                Ok(identity) => identity,
                Err(refusal) => {
                    turn.here(refusal);
                    return Ok(());
                }
            };
            if identity.user == turn.me.user {
                turn.here("Leave yourself out of the list: your share is what's left.");
                return Ok(());
            }
            if people.iter().any(|p| p.user == identity.user) {
                turn.here(format!("{} is in the split twice.", label_of(&identity)));
                return Ok(());
            }
            people.push(identity);
        }
        if let Some(refusal) = self.request_limits(turn, &people).await? {
            turn.here(refusal);
            return Ok(());
        }
        let mut exact = vec![None];
        exact.extend(shares.iter().map(|s| s.amount.map(Amount::minor)));
        let minors = match split::with_exact_shares(total.minor(), &exact) {
            Ok(minors) => minors,
            Err(error) => {
                turn.here(format!(
                    "That split does not work: {error}. Usage: {}",
                    CommandName::Split.usage()
                ));
                return Ok(());
            }
        };
        let mut amounts = Vec::with_capacity(minors.len());
        for minor in &minors {
            amounts.push(Amount::from_minor(*minor, total.currency()).ok());
        }
        let creator_share = amounts.first().copied().flatten();
        let Some(creator_share) = creator_share else {
            turn.here(
                "Your own share would be nothing; give fewer exact shares or a larger total.",
            );
            return Ok(());
        };
        let key = event_key(turn.msg);
        let id = derive("paybot.bot.split", &key);
        let split = Split {
            reference: short_ref('S', id, REF_BODY_CHARS)?,
            creator: turn.me.user,
            platform: turn.msg.platform,
            chat: turn.msg.chat.id.clone(),
            total,
            creator_share,
            memo: memo.clone(),
            created_at_ms: turn.now_ms,
        };
        let split = self.store.insert_split(&split).await?;
        let mut lines = vec![format!("{} (you) {creator_share}", turn.me_label())];
        for (index, (person, amount)) in people.iter().zip(amounts.iter().skip(1)).enumerate() {
            let Some(amount) = amount else {
                continue;
            };
            self.create_request(
                turn,
                person,
                *amount,
                memo.clone(),
                Some(&split),
                &format!("{key}:{index}"),
            )
            .await?;
            lines.push(format!("{} {amount}", label_of(person)));
        }
        turn.here(format!(
            "Split {} of {total}{}: {}. I've asked each person privately; /split status {} shows who has paid.",
            split.reference,
            with_memo(memo.as_ref()),
            lines.join(", "),
            split.reference
        ));
        Ok(())
    }

    async fn split_status(&self, turn: &mut Turn<'_>, reference: Option<ShortRef>) -> Result<()> {
        let split = match &reference {
            Some(reference) => self.store.split(reference).await?,
            None => {
                self.store
                    .latest_split(turn.me.user, turn.msg.platform, Some(&turn.msg.chat.id))
                    .await?
            }
        };
        let Some(split) = split else {
            turn.here(match reference {
                Some(reference) => format!("There is no split {reference}."),
                None => "You have not split a bill in this chat yet.".to_owned(),
            });
            return Ok(());
        };
        let requests = self.store.requests_of_split(&split.reference).await?;
        let member =
            split.creator == turn.me.user || requests.iter().any(|r| r.payer == turn.me.user);
        if !member {
            turn.here(format!(
                "Only the people in split {} can see it.",
                split.reference
            ));
            return Ok(());
        }
        let mut paid_minor = split.creator_share.minor();
        let mut lines = Vec::new();
        for request in &requests {
            let state = match request.state {
                RequestState::Paid => {
                    paid_minor = paid_minor.saturating_add(request.amount.minor());
                    "paid"
                }
                RequestState::Approved => "paying (waiting for their code)",
                RequestState::Open => "not paid yet",
                RequestState::Declined => "declined",
            };
            lines.push(format!(
                "\u{2022} {} {}: {state}",
                request.payer_label, request.amount
            ));
        }
        turn.here(format!(
            "Split {} of {}{}: {} of {} settled (your own share included).\n{}",
            split.reference,
            split.total,
            with_memo(split.memo.as_ref()),
            ledger::format_minor(paid_minor, split.total.currency()),
            split.total,
            lines.join("\n")
        ));
        Ok(())
    }

    // -- /history --------------------------------------------------------------

    async fn history(&self, turn: &mut Turn<'_>, limit: Option<u8>) -> Result<()> {
        let limit = u32::from(limit.unwrap_or(10));
        let payments = self.store.payments_of_user(turn.me.user, limit).await?;
        // Always sent privately (a DM from a group), like the payments.
        let in_flight = self.card_ops_in_flight_lines(turn.me.user).await?;
        if payments.is_empty() {
            let mut lines = in_flight;
            lines.push("No payments yet. Try /pay @someone 5.".to_owned());
            turn.private(lines.join("\n"));
            return Ok(());
        }
        let mut lines = in_flight;
        lines.push(format!(
            "Your last {}:",
            plural(u32::try_from(payments.len()).unwrap_or(limit), "payment")
        ));
        for payment in &payments {
            let outgoing = payment.payer == turn.me.user;
            let who = if outgoing {
                format!("to {}", payment.payee_label)
            } else {
                format!("from {}", self.payer_label(payment).await?)
            };
            let sign = if outgoing { "-" } else { "+" };
            lines.push(format!(
                "\u{2022} {sign}{} {who}{} \u{2014} {} ({})",
                payment.amount,
                with_memo(payment.memo.as_ref()),
                describe_state(payment.state),
                payment.reference
            ));
        }
        turn.private(lines.join("\n"));
        Ok(())
    }

    // -- /link (see `link.rs`) ------------------------------------------------

    fn new_link_code(&self) -> Result<String> {
        let alphabet = LINK_CODE_ALPHABET.as_bytes();
        let mut bytes = [0_u8; LINK_CODE_CHARS];
        self.rng.fill_bytes(&mut bytes);
        // The alphabet has 32 letters, so the low 5 bits pick one uniformly.
        let code: String = bytes
            .iter()
            .map(|b| {
                let index = usize::from(*b) % alphabet.len().max(1);
                char::from(*alphabet.get(index).unwrap_or(&b'A'))
            })
            .collect();
        Ok(code)
    }

    // -- messages to others ----------------------------------------------------

    /// An outbox message to one user, privately.
    fn notice(
        &self,
        key: &str,
        platform: Platform,
        to: &PlatformUserId,
        text: String,
    ) -> Result<OutboxMessage> {
        self.notice_with(key, platform, to, text, Vec::new(), None)
    }

    /// [`Bot::notice`] with buttons, and `bounce`: what to tell someone
    /// else instead (the person whose action it announces) if the platform
    /// says the message can never reach `to`.
    fn notice_with(
        &self,
        key: &str,
        platform: Platform,
        to: &PlatformUserId,
        text: String,
        buttons: Vec<Button>,
        bounce: Option<&Reply>,
    ) -> Result<OutboxMessage> {
        let reply = Reply {
            platform,
            audience: Audience::Private(to.clone()),
            text,
            redacted: None,
            buttons,
            deletion: None,
        };
        Ok(outbox_message_with_bounce(key, &reply, bounce)?)
    }

    /// The payee's "paid you" notice for a payment the payer is confirming
    /// in `turn`; if it cannot reach the payee, the payer is told.
    async fn payee_notice(
        &self,
        turn: &Turn<'_>,
        payment: &Payment,
        platform: Platform,
        to: &PlatformUserId,
    ) -> Result<OutboxMessage> {
        let bounce = Reply {
            platform: turn.msg.platform,
            audience: Audience::Private(turn.msg.sender.id.clone()),
            text: format!(
                "I couldn't tell {} about your payment {}: they don't accept direct messages from me. The money is in their wallet all the same.",
                payment.payee_label, payment.reference
            ),
            redacted: None,
            buttons: Vec::new(),
            deletion: None,
        };
        self.notice_with(
            &format!("{}:paid:payee", payment.reference),
            platform,
            to,
            format!(
                "{} paid you {}{}. /balance shows your balance.",
                self.payer_label(payment).await?,
                payment.amount,
                with_memo(payment.memo.as_ref())
            ),
            Vec::new(),
            Some(&bounce),
        )
    }

    /// The public "paid" line in the group where `/pay` was typed.
    fn announcement(&self, payment: &Payment, payee: &str) -> Result<Option<OutboxMessage>> {
        let Some(chat) = &payment.origin_chat else {
            return Ok(None);
        };
        let reply = Reply {
            platform: payment.payer_platform,
            audience: Audience::Chat(chat.clone()),
            text: format!(
                "\u{2705} Payment {} to {payee} is confirmed.",
                payment.reference
            ),
            redacted: None,
            buttons: Vec::new(),
            deletion: None,
        };
        Ok(Some(outbox_message(
            &format!("{}:paid:chat", payment.reference),
            &reply,
        )?))
    }

    async fn payer_label(&self, payment: &Payment) -> Result<String> {
        Ok(self
            .store
            .identity(payment.payer_platform, &payment.payer_id)
            .await?
            .map(|i| label_of(&i))
            .unwrap_or_else(|| "Someone".to_owned()))
    }
}

fn not_known(target: &Target) -> String {
    format!("I don't know {target} yet. Ask them to send me /start first.")
}

/// What a payment waiting for its code already became, when the ledger
/// refuses to resolve its pending transfer again with `error`. `voided` is
/// what a void means here (the caller's own cancellation reason, or
/// [`PaymentState::Cancelled`]).
fn awaiting_resolved_as(error: &TransferError, voided: PaymentState) -> PaymentState {
    match error {
        TransferError::AlreadyPosted => PaymentState::Completed,
        TransferError::AlreadyVoided => voided,
        _ => PaymentState::Expired,
    }
}

/// The same for an escrow hold: posted means claimed; anything else
/// (voided by `/cancel`, expired) gave the money back.
fn hold_resolved_as(error: &TransferError) -> PaymentState {
    if *error == TransferError::AlreadyPosted {
        PaymentState::Claimed
    } else {
        PaymentState::Refunded
    }
}

/// The escrow hold a confirmed payment to an unclaimed handle becomes.
fn hold_id(payment: &Payment) -> TransferId {
    derive("paybot.bot.escrow.hold", &payment.reference.to_string())
}

fn link_hash(pepper: &Pepper, code: &str) -> OtpHash {
    OtpHash::hash(pepper, b"paybot.bot.link", code)
}

fn describe_state(state: PaymentState) -> &'static str {
    match state {
        PaymentState::AwaitingCode => "waiting for your code",
        PaymentState::Completed => "paid",
        PaymentState::Escrowed => "held until they join",
        PaymentState::Claimed => "paid (claimed)",
        PaymentState::Refunded => "refunded",
        PaymentState::Cancelled => "cancelled",
        PaymentState::Expired => "expired",
        PaymentState::LockedOut => "cancelled after wrong codes",
        PaymentState::Leaked => "cancelled (code posted in a group)",
    }
}

fn help(turn: &mut Turn<'_>, topic: Option<CommandName>) {
    let text = match topic {
        Some(name) => format!(
            "{}\n{}\nExample: {}",
            name.usage(),
            name.summary(),
            name.example()
        ),
        None => {
            let mut text = String::from("What I can do (amounts like 20, 20.50, $20, 5 EUR):");
            for name in CommandName::ALL {
                let _ = write!(
                    text,
                    "\n{} \u{2014} {}. e.g. {}",
                    name.usage(),
                    name.summary(),
                    name.example()
                );
            }
            text
        }
    };
    turn.here(text);
}

fn internal_error(msg: &Incoming) -> Reply {
    Reply {
        platform: msg.platform,
        audience: Audience::Chat(msg.chat.id.clone()),
        text: INTERNAL_ERROR_TEXT.to_owned(),
        redacted: None,
        buttons: Vec::new(),
        deletion: None,
    }
}

/// The answer to a command in a direct chat that holds what looks like a
/// card number (other than `/card add`): nothing was done.
pub const CARD_IN_DIRECT_COMMAND_TEXT: &str = "That command looks like it holds a card number, so I did nothing with it: I never keep a card number or pass one on. Leave it out (of a memo too); to link a card, send /card add NUMBER MM/YY.";
/// The answer to plain text in a direct chat that looks like it holds a
/// card number.
pub const CARD_IN_DIRECT_TEXT: &str = "That looks like a card number. I did nothing with it and keep none; to link a card, send /card add NUMBER MM/YY.";

/// Whether a direct message holding what looks like a card number may go
/// on: `/card add`, or a card command's usage error (those quote nothing).
fn carries_card_number(parsed: &std::result::Result<Option<Command>, command::UsageError>) -> bool {
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
fn withhold_card_numbers(msg: &Incoming, replies: Vec<Reply>) -> Vec<Reply> {
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
            let withheld =
                "(I withheld my answer: it would have shown what looks like a card number.)";
            Reply {
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

fn encode_outcome(replies: &[Reply]) -> String {
    let stored: Vec<StoredReply> = replies
        .iter()
        .map(|r| StoredReply::from_reply(r, true))
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned())
}

fn decode_outcome(stored: &str) -> Vec<Reply> {
    serde_json::from_str::<Vec<StoredReply>>(stored)
        .unwrap_or_default()
        .into_iter()
        .filter_map(StoredReply::into_reply)
        .collect()
}
