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
//!
//! Layout: this file holds the bot's construction, the entry points
//! ([`Bot::handle`], [`Bot::sweep`]) and the dispatch from a parsed
//! [`Command`] to one method of its family, each family in a file of its
//! own (`pay.rs`, `confirm.rs`, `escrow.rs`, `requests.rs`, `splits.rs`,
//! `account.rs`, `resolve.rs`, `link.rs`, `cards.rs`, `card_links.rs`,
//! `notices.rs`, `sweep.rs`); trust has its own: the policy point
//! (`trust.rs`), `limits.rs`, `rules.rs`, `sanctions.rs`,
//! `second_factor.rs`, `holds.rs` and the operator's `operator.rs`. The
//! per-message plumbing (the checks before any command, the stored outcome
//! a redelivery gets) is in `turn.rs`, and every user-facing sentence in
//! `texts/`, one file per family.

mod account;
mod autopay;
mod bills;
mod cancel;
mod card_links;
mod cards;
mod confirm;
mod escrow;
mod events;
mod holds;
mod inbox;
mod limits;
mod link;
mod memo;
mod notices;
mod operator;
mod pay;
mod pay_many;
mod requests;
mod resolve;
mod rules;
mod sanctions;
mod second_factor;
mod splits;
mod standing;
mod sweep;
mod tab;
mod texts;
mod trust;
mod turn;
mod undo;

pub use pay_many::AWAITING_GROUPS_PER_USER_MAX;
pub use undo::{DEFAULT_UNDO_WINDOW_SECS, UNDO_LOOKBACK_PAYMENTS_MAX, UNDO_WINDOW_SECS_MAX};

pub use cards::{
    AWAITING_CARD_ADDS_PER_USER_MAX, AWAITING_CARD_OPS_PER_USER_MAX, CARD_IN_COMMAND_TEXT,
    CARD_IN_GROUP_DELETED_TEXT, CARD_IN_GROUP_TEXT, CARDS_OFF_TEXT, CASHOUT_HOLD_SECS, CardPolicy,
    FEE_BASIS_POINTS_MAX, RAIL_RETRY_MS, RAIL_RETRY_MS_MAX, SWEEP_CARD_OPS_MAX, card_label,
    card_transfer_codes,
};
pub use link::{
    LINK_ATTEMPT_BOUNDS, LINK_CONFIRM_TTL_SECS, LINK_NAME_CHARS_MAX,
    LINK_WRONG_CODES_GLOBAL_PER_MINUTE_MAX, LINK_WRONG_CODES_PER_IDENTITY_PER_HOUR_MAX,
    MOCK_LINK_REFUSED_TEXT,
};

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use ledger::{
    AccountId, AccountKind, Amount, Currency, Ledger, LedgerError, SubmitError, TransferError,
};

use crate::card::CardRail;
use crate::command::Command;
use crate::limits::{CommandRates, Limits};
use crate::message::{ChatKind, Incoming, Platform, Reply};
use crate::notify::Dispatcher;
use crate::otp::{self, OtpPolicy, Pepper, RandomSource};
use crate::profile::PlatformProfile;
use crate::stats::MessageOutcome;
use crate::store::{CardOpKind, OpenedEvent, PayeeSeen, SenderSeen, Store, StoreError};

use account::{help, seen_user};
pub use autopay::{
    AUTOPAY_ATTEMPTS_MAX, AUTOPAY_LEAD_MS, AUTOPAY_RETRY_MS, AUTOPAYS_PER_USER_MAX,
    SWEEP_AUTOPAY_MAX, SWEEP_AUTOPAY_SETUPS_MAX,
};
pub use bills::{INVOICE_DECLINE_BUTTON, INVOICE_PAY_BUTTON};
pub use escrow::ESCROW_TTL_SECS_MAX;
pub use holds::{APPROVAL_RETRY_MS, HOLD_RESERVATION_MARGIN_MS};
pub use inbox::{
    REMIND_INTERVAL_SECS, REQUEST_REMINDERS_MAX, REQUEST_TTL_SECS_DEFAULT, REQUESTS_LISTED_MAX,
    SWEEP_REQUESTS_MAX,
};
pub use limits::{
    ALLOWANCE_CACHE_ENTRIES_MAX, LIMITS_CURRENCIES_MAX, LimitLine, USES_READ_MAX,
    limit_transfer_codes,
};
pub use link::LINK_CODE_TTL_SECS;
pub use operator::{CallbackOutcome, Refusable};
pub use pay::AWAITING_PAYMENTS_PER_USER_MAX;
pub use resolve::CONFUSABLE_CANDIDATES_MAX;
pub use standing::{
    AWAITING_STANDING_PER_USER_MAX, RUN_ATTEMPTS_MAX, RUN_RETRY_MS, STANDING_ORDERS_PER_USER_MAX,
    STANDING_PERIODS_PER_SWEEP_MAX, SWEEP_STANDING_MAX, StandingPolicy, UNREADABLE_RETRY_MS,
    run_transfer_id,
};
pub use sweep::{EVENT_FORGET_INTERVAL_MS, EVENT_RETENTION_MS, SWEEP_PAYMENTS_MAX};
pub use tab::{
    CASH_SETTLE_TTL_SECS_DEFAULT, EXPENSE_UNDO_SECS, MEMBERS_CACHED_MAX,
    RECURRING_EXPENSES_PER_CHAT_MAX, RECURRING_PERIODS_PER_SWEEP_MAX, SETTLE_ASK_INTERVAL_SECS,
    SETTLE_GROUP_LEGS_MAX, SWEEP_CASH_SETTLEMENTS_MAX, SWEEP_RECURRING_EXPENSES_MAX,
    TAB_EXPORT_BYTES_MAX, TAB_EXPORT_EXPENSES_MAX, TAB_EXPORT_ROWS_MAX, TAB_HISTORY_MAX,
    TAB_HISTORY_SETTLEMENTS_READ_MAX, TAB_SETTLEMENTS_MAX,
};
pub use texts::turn::{CARD_IN_DIRECT_COMMAND_TEXT, CARD_IN_DIRECT_TEXT, INTERNAL_ERROR_TEXT};
use texts::{minutes, tries};
use turn::{
    AwaitsCode, Screened, Turn, decode_outcome, derive, encode_outcome, event_key, ignored,
    internal_error, looks_like_confirm, pay_mention, short_ref, withhold_card_numbers,
};
pub use turn::{REF_BODY_CHARS, REF_BODY_CHARS_LONG, payment_transfer_id_of};

pub use account::ACCOUNTS_CACHED_MAX;
pub use events::EVENTS_IN_FLIGHT_MAX;
pub use memo::TIERS_MEMO_PER_MESSAGE_MAX;
/// The `/start` payload of the link that sends a user from a group to a
/// direct chat with the bot (see [`PlatformProfile::with_dm_invite`]); on Telegram,
/// `https://t.me/<bot>?start=setup`.
pub const DM_START_PAYLOAD: &str = "setup";

/// The ledger's `code` of each kind of transfer the bot makes.
pub mod transfer_codes {
    pub const PAYMENT: u16 = 1;
    pub const ESCROW_HOLD: u16 = 2;
    pub const ESCROW_CLAIM: u16 = 3;
    pub const MOCK_OPENING: u16 = 4;
    pub const LINK_MERGE: u16 = 5;
    /// `/undo`: a payment taken back from its payee.
    pub const UNDO: u16 = 6;
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
    /// How long a request stays open before it expires (both sides told);
    /// invoices and recurring requests have their own dates.
    pub request_ttl_secs: u32,
    /// Credited, once, on a mock user's first `/start` (mock platform only).
    pub mock_opening_balance: Option<Amount>,
    /// The cash-out fee and the new-card hold.
    pub cards: CardPolicy,
    /// Rate limits on commands and requests.
    pub limits: Limits,
    /// Tiers, limits, rules, screening, the second factor and holds.
    pub trust: crate::trust::TrustConfig,
    /// Standing orders: the default time zone, when runs are due, how late
    /// one may be.
    pub standing: StandingPolicy,
    /// How long after a payment is confirmed its payer may `/undo` it
    /// (0: never).
    pub undo_window_secs: u32,
    /// How long a cash settlement on a group's tab waits for its payee's
    /// answer before it expires (both sides told).
    pub cash_settle_ttl_secs: u32,
}

impl Default for BotConfig {
    fn default() -> BotConfig {
        BotConfig {
            default_currency: Currency::USD,
            otp: OtpPolicy::default(),
            escrow_ttl_secs: 7 * 24 * 60 * 60,
            request_ttl_secs: REQUEST_TTL_SECS_DEFAULT,
            mock_opening_balance: None,
            cards: CardPolicy::default(),
            limits: Limits::default(),
            trust: crate::trust::TrustConfig::default(),
            standing: StandingPolicy::default(),
            undo_window_secs: DEFAULT_UNDO_WINDOW_SECS,
            cash_settle_ttl_secs: CASH_SETTLE_TTL_SECS_DEFAULT,
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
            SubmitError::RecordConflict { record } => {
                BotError::Inconsistent(format!("record write #{record} found its rows changed"))
            }
        }
    }
}

type Result<T> = std::result::Result<T, BotError>;

/// The bot. Cheap to share (`Arc`); every method takes `&self`.
pub struct Bot {
    ledger: Ledger,
    store: Arc<dyn Store>,
    config: BotConfig,
    pepper: Pepper,
    rng: Arc<dyn RandomSource>,
    dispatcher: Arc<Dispatcher>,
    /// Each registered platform's profile (see [`Bot::register_platform`]).
    profiles: RwLock<HashMap<Platform, Arc<PlatformProfile>>>,
    /// Limit allowances opened and reconciled (see `service/limits.rs`).
    allowances: limits::AllowanceCache,
    /// The chat events being handled here (see `service/events.rs`).
    events: Arc<events::EventsInFlight>,
    /// Account ids (wallets, system accounts), which never change once
    /// opened (see `service/account.rs`).
    accounts: Mutex<HashMap<(ledger::OwnerRef, AccountKind, Currency), AccountId>>,
    /// When [`Bot::sweep`] last forgot old events (ms; 0: never).
    events_forgotten_at_ms: std::sync::atomic::AtomicI64,
    /// The card network (see [`BotBuilder::card_rail`]); none: cards off.
    card_rail: Option<Arc<dyn CardRail>>,
    /// The key of card fingerprints (see
    /// [`BotBuilder::card_fingerprint_key`]).
    card_fingerprint_key: Option<Pepper>,
    /// The key TOTP secrets are sealed with (see
    /// [`BotBuilder::second_factor_key`]).
    second_factor_key: Option<Pepper>,
    /// Each platform identity's command bucket (see [`crate::limits`]).
    command_rates: CommandRates,
    /// The index of the stored SDN list (see `sanctions.rs`).
    sanctions: sanctions::SanctionsCache,
    /// What [`Bot::stats`] reads (see [`crate::stats`]).
    counters: Arc<crate::stats::Counters>,
    /// The group memberships noted (see `tab.rs`).
    members_seen: tab::MembersSeen,
}

impl fmt::Debug for Bot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bot")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What a [`Bot`] is built from: the required parts given to
/// [`Bot::builder`], the optional ones set here, all before the first
/// message.
#[must_use]
pub struct BotBuilder {
    ledger: Ledger,
    store: Arc<dyn Store>,
    config: BotConfig,
    pepper: Pepper,
    rng: Arc<dyn RandomSource>,
    card_rail: Option<Arc<dyn CardRail>>,
    card_fingerprint_key: Option<Pepper>,
    second_factor_key: Option<Pepper>,
}

impl fmt::Debug for BotBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BotBuilder")
            .field("config", &self.config)
            .field("cards", &self.card_rail.is_some())
            .finish_non_exhaustive()
    }
}

impl BotBuilder {
    /// Enables the card commands, with `rail` as the card network. Without
    /// one, they answer that cards are off.
    pub fn card_rail(mut self, rail: Arc<dyn CardRail>) -> BotBuilder {
        self.card_rail = Some(rail);
        self
    }

    /// Keys card fingerprints with `key`, a secret of its own (paybot
    /// loads it like the pepper, from `cards.fingerprint_key` or its file).
    /// Unset (tests that build a bot directly), the OTP pepper keys them.
    pub fn card_fingerprint_key(mut self, key: Pepper) -> BotBuilder {
        self.card_fingerprint_key = Some(key);
        self
    }

    /// Seals authenticator secrets with a key derived from `key`, a secret
    /// of its own (paybot loads it from `trust.second_factor.key` or its
    /// file). Unset (tests that build a bot directly), the OTP pepper's.
    pub fn second_factor_key(mut self, key: Pepper) -> BotBuilder {
        self.second_factor_key = Some(key);
        self
    }

    pub fn build(self) -> Arc<Bot> {
        let counters = Arc::new(crate::stats::Counters::default());
        let dispatcher = Arc::new(Dispatcher::counted(
            self.ledger.clone(),
            Arc::clone(&counters),
        ));
        let card_rail = self
            .card_rail
            .map(|rail| crate::stats::CountedRail::wrap(rail, Arc::clone(&counters)));
        Arc::new(Bot {
            ledger: self.ledger,
            store: self.store,
            config: self.config,
            pepper: self.pepper,
            rng: self.rng,
            dispatcher,
            profiles: RwLock::new(HashMap::new()),
            allowances: limits::AllowanceCache::default(),
            events: Arc::default(),
            accounts: Mutex::default(),
            events_forgotten_at_ms: std::sync::atomic::AtomicI64::new(0),
            card_rail,
            card_fingerprint_key: self.card_fingerprint_key,
            second_factor_key: self.second_factor_key,
            command_rates: CommandRates::new(),
            sanctions: sanctions::SanctionsCache::default(),
            counters,
            members_seen: tab::MembersSeen::default(),
        })
    }
}

impl Bot {
    /// A bot without cards; [`Bot::builder`] for one with them.
    pub fn new(
        ledger: Ledger,
        store: Arc<dyn Store>,
        config: BotConfig,
        pepper: Pepper,
        rng: Arc<dyn RandomSource>,
    ) -> Arc<Bot> {
        Bot::builder(ledger, store, config, pepper, rng).build()
    }

    /// The parts every bot needs; the card rail and the fingerprint key
    /// are set on the builder.
    pub fn builder(
        ledger: Ledger,
        store: Arc<dyn Store>,
        config: BotConfig,
        pepper: Pepper,
        rng: Arc<dyn RandomSource>,
    ) -> BotBuilder {
        BotBuilder {
            ledger,
            store,
            config,
            pepper,
            rng,
            card_rail: None,
            card_fingerprint_key: None,
            second_factor_key: None,
        }
    }

    /// The key card fingerprints are made with.
    pub(crate) fn card_fingerprint_key(&self) -> &Pepper {
        self.card_fingerprint_key.as_ref().unwrap_or(&self.pepper)
    }

    /// Delivers outbox messages to adapters.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// A copy of what this bot has counted since it was built (see
    /// [`crate::stats`]): cheap, no I/O.
    pub fn stats(&self) -> crate::stats::BotStats {
        self.counters.snapshot()
    }

    /// Payments not yet final (waiting for a code, in escrow, held), by
    /// state, counting at most `counted_max` in all: read from the store.
    pub async fn open_payments(
        &self,
        counted_max: u32,
    ) -> std::result::Result<Vec<(crate::store::PaymentState, u64)>, StoreError> {
        self.store.open_payments(counted_max).await
    }

    /// Records `payment` (compare-and-swap, see [`Store::update_payment`])
    /// and counts it when it reached a final state.
    pub(crate) async fn update_payment(
        &self,
        payment: &crate::store::Payment,
    ) -> std::result::Result<bool, StoreError> {
        let updated = self.store.update_payment(payment).await?;
        if updated {
            self.counters.payment_recorded(payment.state);
        }
        Ok(updated)
    }

    /// Takes `profile` as what its platform is like (see
    /// [`PlatformProfile`]); each adapter calls this once when it starts,
    /// before it hands the core any message. Called again for the same
    /// platform (an adapter that learns its username later), the new
    /// profile replaces the old one.
    pub fn register_platform(&self, profile: PlatformProfile) {
        if let Ok(mut profiles) = self.profiles.write() {
            profiles.insert(profile.platform(), Arc::new(profile));
        }
    }

    /// The profile of `platform`; a plain chat if its adapter gave none.
    pub(crate) fn profile(&self, platform: Platform) -> Arc<PlatformProfile> {
        self.profiles
            .read()
            .ok()
            .and_then(|profiles| profiles.get(&platform).cloned())
            .unwrap_or_else(|| Arc::new(PlatformProfile::new(platform)))
    }

    /// Handles one message, at most once per event id: a redelivery gets the
    /// first outcome back (codes blanked out) and changes nothing.
    pub async fn handle(&self, msg: &Incoming) -> Vec<Reply> {
        let now_ms = self.ledger.now_ms();
        let (platform, event) = (msg.platform, &msg.event_id);
        match self.events.claim(platform, event) {
            events::Claim::New => {}
            events::Claim::Done(stored) => {
                self.count_message(msg, MessageOutcome::Replayed);
                return decode_outcome(&stored);
            }
            events::Claim::InProgress => {
                self.count_message(msg, MessageOutcome::InProgress);
                return Vec::new();
            }
            events::Claim::Full => {
                tracing::error!(event = %event_key(msg), "too many events in flight");
                self.count_message(msg, MessageOutcome::Failed);
                return vec![internal_error(msg)];
            }
        }
        // Given up if this future is dropped before the outcome is kept.
        let claim = events::ClaimGuard::new(&self.events, platform, event);
        // The event's stored outcome and, for a message not ignored, its
        // sender seen: one read where the sender is known.
        let opened = if ignored(msg) {
            self.store
                .event_outcome(platform, event)
                .await
                .map(|stored| (stored, None))
        } else {
            let direct = msg.chat.kind == ChatKind::Direct;
            let seen = seen_user(&msg.sender, platform, true, direct);
            // A code typed in a direct chat: what waits for it is read with
            // the sender (a group's `/confirm` is refused before any read).
            let opened = if direct && looks_like_confirm(&msg.text) {
                self.store.open_confirm_event(event, &seen, now_ms).await
            } else if let Some(payee) = pay_mention(msg) {
                // A `/pay` naming its payee by mention: the payee and the
                // facts for its warnings are read with the sender.
                let payee = seen_user(payee, platform, false, false);
                let limit = CONFUSABLE_CANDIDATES_MAX;
                self.store
                    .open_pay_event(event, &seen, &payee, limit, now_ms)
                    .await
            } else {
                self.store.open_event(event, &seen, now_ms).await
            };
            opened.map(|opened| match opened {
                OpenedEvent::Handled(stored) => (Some(stored), None),
                OpenedEvent::New(sender) => (None, Some(sender)),
            })
        };
        let sender = match opened {
            Ok((None, sender)) => sender,
            Ok((Some(stored), _)) => {
                self.count_message(msg, MessageOutcome::Replayed);
                return decode_outcome(&stored);
            }
            Err(error) => {
                tracing::error!(%error, event = %event_key(msg), "cannot read the event or record its sender");
                self.count_message(msg, MessageOutcome::Failed);
                return vec![internal_error(msg)];
            }
        };
        // Boxed: the whole handling is a large future, and every adapter awaits it.
        match memo::with_memo(Box::pin(self.process(msg, now_ms, sender))).await {
            Ok(replies) => {
                let replies = withhold_card_numbers(msg, replies);
                self.record_outcome(msg, encode_outcome(&replies));
                claim.disarm();
                self.dispatcher.wake();
                self.count_message(msg, MessageOutcome::Handled);
                replies
            }
            Err(error) => {
                tracing::error!(%error, event = %event_key(msg), "handling failed");
                drop(claim);
                self.dispatcher.wake();
                self.count_message(msg, MessageOutcome::Failed);
                vec![internal_error(msg)]
            }
        }
    }

    /// Keeps a handled event's outcome for redeliveries: here at once, and
    /// in the database without waiting for it (its loss in a crash is repaired by handling the event again; see
    /// `service/events.rs`).
    fn record_outcome(&self, msg: &Incoming, outcome: String) {
        let (platform, event) = (msg.platform, msg.event_id.clone());
        self.events.done(platform, &event, outcome.clone());
        let store = Arc::clone(&self.store);
        let events = Arc::clone(&self.events);
        let (key, now_ms) = (event_key(msg), self.ledger.now_ms());
        tokio::spawn(async move {
            let finished = store.finish_event(platform, &event, &outcome, now_ms);
            if let Err(error) = finished.await {
                // The work is done and repeatable; a redelivery redoes it.
                tracing::warn!(%error, event = %key, "cannot record event outcome");
            }
            events.forget(platform, &event);
        });
    }

    /// Returns once the outcome of every message handled so far is in the
    /// database (or its commit failed and was logged). Shutdown waits for
    /// it, so that a restart does not handle those messages again (a
    /// payer would get a second code for one `/pay`); tests wait for it
    /// before they play a lost outcome.
    pub async fn outcomes_committed(&self) {
        self.events.committed().await;
    }

    fn count_message(&self, msg: &Incoming, outcome: MessageOutcome) {
        self.counters.message(msg.platform, outcome);
    }

    /// The checks every message gets (see [`Bot::screen`]), then its
    /// command, run by the method of its family.
    /// `sender`: the sender as [`Bot::handle`] already saw them (their
    /// tier, where read with them, is this message's read of it).
    async fn process(
        &self,
        msg: &Incoming,
        now_ms: i64,
        sender: Option<SenderSeen>,
    ) -> Result<Vec<Reply>> {
        let sender = sender.map(|seen| {
            if let Some(tier) = seen.tier {
                let tier = tier.unwrap_or(self.config.trust.default_tier);
                memo::keep_tier(seen.identity.user, tier);
            }
            if let Some(awaiting) = seen.awaiting {
                memo::keep_awaiting(seen.identity.user, awaiting);
            }
            if let Some(payee) = seen.payee {
                let PayeeSeen { identity, facts } = *payee;
                // Read by the mention's skeleton, which is the one stored:
                // the payee is as last seen.
                if let Some(skeleton) = &identity.skeleton {
                    memo::keep_payee_facts(seen.identity.user, identity.user, skeleton, facts);
                }
                memo::keep_payee(identity);
            }
            (seen.identity, seen.first_contact)
        });
        let (mut turn, command, first_contact) = match self.screen(msg, now_ms, sender).await? {
            Screened::Answered(replies) => return Ok(replies),
            Screened::Command {
                turn,
                command,
                first_contact,
            } => (*turn, command, first_contact),
        };
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
            Command::Limits => self.limits(&mut turn).await?,
            Command::Pay {
                payee,
                amount,
                memo,
            } => self.pay(&mut turn, payee, amount, memo).await?,
            Command::Confirm {
                code,
                second_factor,
            } => {
                self.confirm(&mut turn, &code, second_factor.as_ref())
                    .await?;
            }
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
            Command::Bills => self.bills(&mut turn).await?,
            Command::Requests => self.requests_inbox(&mut turn).await?,
            Command::Remind { request } => self.remind(&mut turn, &request).await?,
            Command::HistoryExport => self.history_export(&mut turn).await?,
            Command::Link { code } => self.link(&mut turn, code).await?,
            Command::LinkConfirm { second_factor } => {
                self.link_confirm(&mut turn, second_factor.as_ref()).await?;
            }
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
            Command::SecondFactorStatus => self.second_factor_status(&mut turn).await?,
            Command::SecondFactorSetup => self.second_factor_setup(&mut turn).await?,
            Command::SecondFactorConfirm { code } => {
                self.second_factor_confirm(&mut turn, &code).await?;
            }
            Command::SecondFactorOff { code } => self.second_factor_off(&mut turn, &code).await?,
            Command::PayScheduled {
                payee,
                amount,
                recurrence,
                memo,
            } => {
                self.pay_scheduled(&mut turn, &payee, amount, recurrence, memo)
                    .await?;
            }
            Command::RequestScheduled {
                payer,
                amount,
                recurrence,
                memo,
            } => {
                self.request_scheduled(&mut turn, &payer, amount, recurrence, memo)
                    .await?;
            }
            Command::TimeZone { zone } => self.time_zone(&mut turn, zone).await?,
            Command::Scheduled { action } => self.scheduled(&mut turn, action).await?,
            Command::Autopay { action } => self.autopay(&mut turn, action).await?,
            Command::Expense {
                total,
                shares,
                payers,
                memo,
                recurrence,
            } => {
                let expense = tab::NewExpense {
                    total,
                    shares,
                    payers,
                    memo,
                };
                self.expense(&mut turn, expense, recurrence).await?
            }
            Command::ExpenseRecurring => self.expense_recurring(&mut turn).await?,
            Command::ExpenseStop { recurring } => self.expense_stop(&mut turn, &recurring).await?,
            Command::ExpenseUndo { expense } => self.expense_undo(&mut turn, &expense).await?,
            Command::Tab { view } => self.tab(&mut turn, view).await?,
            Command::ExpenseEdit {
                expense,
                total,
                memo,
            } => self.expense_edit(&mut turn, &expense, total, memo).await?,
            Command::Settle {
                creditor,
                amount,
                cash,
            } => self.settle(&mut turn, creditor, amount, cash).await?,
            Command::SettleCancel { settlement } => {
                self.settle_cancel(&mut turn, &settlement).await?
            }
            Command::SettleAnswer { settlement, accept } => {
                self.settle_answer(&mut turn, &settlement, accept).await?
            }
            Command::PayMany { legs, memo } => self.pay_many(&mut turn, legs, memo).await?,
            Command::Undo { payment } => self.undo(&mut turn, payment).await?,
        }
        Ok(turn.replies)
    }

    /// Ends what is due: payments whose code expired (voided by expiry,
    /// payer told), escrow holds nobody claimed (refunded, payer told) and
    /// card operations a crash or a slow network left open. Repairs records
    /// that fell behind the ledger, and now and then forgets old event
    /// outcomes. Returns how many payments and card operations it ended.
    pub async fn sweep(&self) -> Result<usize> {
        let now_ms = self.ledger.now_ms();
        let mut ended = self.sweep_payments(now_ms).await?;
        ended += self.sweep_card_ops(now_ms).await?;
        ended += self.sweep_card_adds(now_ms).await?;
        ended += self.sweep_standing(now_ms).await?;
        ended += self.sweep_tab_recurring(now_ms).await?;
        ended += self.sweep_autopay(now_ms).await?;
        ended += self.sweep_requests(now_ms).await?;
        ended += self.sweep_cash_settlements(now_ms).await?;
        if ended > 0 {
            self.dispatcher.wake();
        }
        self.forget_old_events(now_ms).await?;
        Ok(ended)
    }
}
