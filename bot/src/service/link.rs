//! One wallet, several chat accounts: `/link`, `/link CODE`, `/link
//! confirm`, `/link cancel` and `/unlink`.
//!
//! The design decision to know: **a link code proves nothing about the
//! person who sends it**. Anyone can be talked into sending someone else's
//! code ("send this to paybot to get your prize"), and whoever sends it
//! joins the code's wallet: their payments land there and the wallet's
//! other accounts can spend them. So `/link CODE` changes nothing by
//! itself: it names, privately, every account of the code's wallet
//! (platform, handle, display name) and what would happen to this
//! account's money, and only `/link confirm` (within
//! [`LINK_CONFIRM_TTL_SECS`]) moves the balance and the account. Every
//! account of the wallet is told of every join and every leave, and
//! `/unlink` undoes a link (the money stays in the shared wallet: nothing is
//! created or lost, and the account is told so before it confirms).
//!
//! Wrong codes are bounded per identity and for everyone together
//! ([`LINK_WRONG_CODES_PER_IDENTITY_PER_HOUR_MAX`],
//! [`LINK_WRONG_CODES_GLOBAL_PER_MINUTE_MAX`]), counted in the store, not
//! in memory: the count survives a restart (an attacker cannot reset it by
//! making the process crash) and is shared by every process on one
//! database. Play money never reaches a real identity's wallet: a wallet
//! with a mock-chat account is never linked to one with a Telegram or
//! Discord account, either way round.

use ledger::{AccountKind, Amount, NewTransfer};

use super::account::owner_of;
pub use super::texts::link::MOCK_LINK_REFUSED_TEXT;
use super::texts::link::{self as texts, card_list, cards_text, clock_time, names};
use super::texts::{minutes, platform_name};
use super::turn::{Turn, derive, event_key};
use super::{Bot, Result, transfer_codes};
use crate::command::{LINK_CODE_ALPHABET, LINK_CODE_CHARS, LinkCode};
use crate::message::{Button, Platform};
use crate::otp::{OtpHash, Pepper};
use crate::store::{Identity, LinkAttempt, LinkAttemptBounds, LinkedCard, PendingLink, UserId};

/// How long a `/link` code is valid.
pub const LINK_CODE_TTL_SECS: u32 = 600;

/// How long a `/link CODE` waits for its `/link confirm`.
pub const LINK_CONFIRM_TTL_SECS: u32 = 300;
/// Wrong link codes one identity may send within an hour; then `/link
/// CODE` is refused until the oldest of them is an hour old.
pub const LINK_WRONG_CODES_PER_IDENTITY_PER_HOUR_MAX: u32 = 5;
/// Wrong link codes all identities together may send within a minute;
/// then every `/link CODE` is refused until the oldest is a minute old.
/// With codes of 8 characters from 32, this caps guessing at about 43,000
/// tries a day against 2^40 codes.
pub const LINK_WRONG_CODES_GLOBAL_PER_MINUTE_MAX: u32 = 30;
/// The longest display name quoted in a link message, in characters.
pub const LINK_NAME_CHARS_MAX: usize = 40;

pub(super) const HOUR_MS: i64 = 60 * 60 * 1_000;
pub(super) const MINUTE_MS: i64 = 60 * 1_000;

/// The bounds on wrong link codes, as the store enforces them.
pub const LINK_ATTEMPT_BOUNDS: LinkAttemptBounds = LinkAttemptBounds {
    per_identity_max: LINK_WRONG_CODES_PER_IDENTITY_PER_HOUR_MAX,
    per_identity_window_ms: HOUR_MS,
    global_max: LINK_WRONG_CODES_GLOBAL_PER_MINUTE_MAX,
    global_window_ms: MINUTE_MS,
};

/// Whether joining these two sets of accounts would put a mock-chat
/// account and a real platform's account on one wallet.
fn mixes_mock_and_real(a: &[Identity], b: &[Identity]) -> bool {
    let mut all = a.iter().chain(b);
    let mock = all.clone().any(|i| i.platform == Platform::Mock);
    mock && all.any(|i| i.platform != Platform::Mock)
}

fn is_me(turn: &Turn<'_>, identity: &Identity) -> bool {
    identity.platform == turn.me.platform && identity.id == turn.me.id
}

impl Bot {
    /// `/link` and `/link CODE`.
    pub(super) async fn link(&self, turn: &mut Turn<'_>, code: Option<LinkCode>) -> Result<()> {
        let Some(code) = code else {
            return self.offer_link_code(turn).await;
        };
        let hash = link_hash(&self.pepper, code.as_str());
        if turn.seen_by_group() {
            // Burn it: it is public now.
            self.store
                .take_link_code(&hash.to_bytes(), turn.now_ms)
                .await?;
            turn.here(texts::CODE_IN_GROUP);
            return Ok(());
        }
        let action = crate::trust::TrustAction::Link { user: turn.me.user };
        if self.second_factor_at_start(turn, &action).await? == super::second_factor::Gate::Stopped
        {
            return Ok(());
        }
        // This account's own state first: the code is kept meanwhile.
        if self.own_payments_in_progress(turn.me.user).await? {
            turn.private(texts::payments_in_progress(texts::THEN_SEND_CODE_AGAIN));
            return Ok(());
        }
        if self
            .link_waits_for_card_ops(turn, turn.me.user, texts::THEN_SEND_CODE_AGAIN)
            .await?
        {
            return Ok(());
        }
        let mine = self.store.identities_of(turn.me.user).await?;
        if self.refuse_shared_wallet(turn, &mine, texts::THEN_SEND_CODE_AGAIN) {
            return Ok(());
        }
        let attempt = match self
            .store
            .begin_link_attempt(
                turn.msg.platform,
                &turn.me.id,
                turn.now_ms,
                &LINK_ATTEMPT_BOUNDS,
            )
            .await?
        {
            LinkAttempt::Allowed { attempt } => attempt,
            LinkAttempt::IdentityBound { until_ms } => {
                turn.private(texts::too_many_wrong_codes_here(&clock_time(until_ms)));
                return Ok(());
            }
            LinkAttempt::GlobalBound { until_ms } => {
                turn.private(texts::too_many_codes_everywhere(&clock_time(until_ms)));
                return Ok(());
            }
        };
        let Some(target) = self
            .store
            .take_link_code(&hash.to_bytes(), turn.now_ms)
            .await?
        else {
            // The attempt stays recorded: a wrong code.
            turn.private(texts::WRONG_CODE);
            return Ok(());
        };
        self.store.forget_link_attempt(attempt).await?;
        if target == turn.me.user {
            turn.private(texts::ALREADY_THAT_WALLET);
            return Ok(());
        }
        // The code is spent: a refusal from here on needs a new one.
        let theirs = self.store.identities_of(target).await?;
        if mixes_mock_and_real(&mine, &theirs) {
            turn.private(MOCK_LINK_REFUSED_TEXT);
            return Ok(());
        }
        if theirs.is_empty() {
            turn.private(texts::NO_ACCOUNTS_LEFT);
            return Ok(());
        }
        if self
            .link_waits_for_card_ops(turn, target, texts::THEN_RUN_LINK_AGAIN)
            .await?
        {
            return Ok(());
        }
        let pending = PendingLink {
            platform: turn.msg.platform,
            id: turn.me.id.clone(),
            from: turn.me.user,
            to: target,
            created_at_ms: turn.now_ms,
            expires_at_ms: turn
                .now_ms
                .saturating_add(i64::from(LINK_CONFIRM_TTL_SECS) * 1_000),
        };
        self.store.put_pending_link(&pending).await?;
        let money = match self.wallet_amounts(turn.me.user).await? {
            amounts if amounts.is_empty() => texts::EMPTY_WALLET_MOVES_NOTHING.to_owned(),
            amounts => texts::balance_moves(&amounts.join(", ")),
        };
        let theirs: Vec<&Identity> = theirs.iter().collect();
        let text = texts::link_offer(
            &names(&theirs),
            platform_name(turn.msg.platform),
            &money,
            &minutes(LINK_CONFIRM_TTL_SECS),
        );
        turn.private_with(
            text,
            None,
            vec![
                Button::new(texts::CONFIRM_BUTTON, "/link confirm"),
                Button::new(texts::CANCEL_BUTTON, "/link cancel"),
            ],
        );
        Ok(())
    }

    async fn offer_link_code(&self, turn: &mut Turn<'_>) -> Result<()> {
        let code = self.new_link_code()?;
        let hash = link_hash(&self.pepper, &code);
        let expires = turn
            .now_ms
            .saturating_add(i64::from(LINK_CODE_TTL_SECS) * 1_000);
        self.store
            .put_link_code(&hash.to_bytes(), turn.me.user, expires)
            .await?;
        let text = texts::link_code(&code, &minutes(LINK_CODE_TTL_SECS));
        let redacted = texts::LINK_CODE_REDACTED.to_owned();
        turn.private_with(text, Some(redacted), Vec::new());
        Ok(())
    }

    /// `/link confirm [AUTHCODE]`: the join itself.
    pub(super) async fn link_confirm(
        &self,
        turn: &mut Turn<'_>,
        second_factor: Option<&crate::trust::second_factor::TotpOrRecovery>,
    ) -> Result<()> {
        let (platform, now_ms) = (turn.msg.platform, turn.now_ms);
        let Some(pending) = self
            .store
            .pending_link(platform, &turn.me.id, now_ms)
            .await?
        else {
            turn.private(texts::NO_PENDING_LINK_TEXT);
            return Ok(());
        };
        if pending.from != turn.me.user {
            // This account changed wallets since it sent the code.
            self.store
                .take_pending_link(platform, &turn.me.id, now_ms)
                .await?;
            turn.private(texts::WALLET_CHANGED_SINCE_CODE);
            return Ok(());
        }
        let again = texts::THEN_CONFIRM_AGAIN;
        if self.own_payments_in_progress(turn.me.user).await? {
            turn.private(texts::payments_in_progress(again));
            return Ok(());
        }
        if self
            .link_waits_for_card_ops(turn, turn.me.user, again)
            .await?
            || self
                .link_waits_for_card_ops(turn, pending.to, again)
                .await?
        {
            return Ok(());
        }
        let mine = self.store.identities_of(turn.me.user).await?;
        if self.refuse_shared_wallet(turn, &mine, texts::THEN_CONFIRM_AGAIN) {
            return Ok(());
        }
        let action = crate::trust::TrustAction::Link { user: turn.me.user };
        let gate = self.second_factor_gate(turn, &action, second_factor, false);
        if gate.await? == super::second_factor::Gate::Stopped {
            return Ok(());
        }
        let theirs = self.store.identities_of(pending.to).await?;
        if theirs.is_empty() || mixes_mock_and_real(&mine, &theirs) {
            self.store
                .take_pending_link(platform, &turn.me.id, now_ms)
                .await?;
            turn.private(if theirs.is_empty() {
                texts::NOTHING_LINKED_NO_ACCOUNTS
            } else {
                MOCK_LINK_REFUSED_TEXT
            });
            return Ok(());
        }
        // The wallet confirmed must be the one described: an account that
        // joined it after /link CODE named its accounts was never shown.
        let joined_since: Vec<&Identity> = theirs
            .iter()
            .filter(|identity| identity.user_since_ms > pending.created_at_ms)
            .collect();
        if !joined_since.is_empty() {
            self.store
                .take_pending_link(platform, &turn.me.id, now_ms)
                .await?;
            turn.private(texts::new_accounts_since(&names(&joined_since)));
            return Ok(());
        }
        // One confirmation wins.
        let Some(pending) = self
            .store
            .take_pending_link(platform, &turn.me.id, now_ms)
            .await?
        else {
            turn.private(texts::NO_PENDING_LINK_TEXT);
            return Ok(());
        };
        match self.join_wallet(turn, &pending, &theirs).await {
            Ok(()) => Ok(()),
            Err(error) => {
                // Nothing was joined: the confirmation may be sent again.
                if let Err(put) = self.store.put_pending_link(&pending).await {
                    tracing::warn!(%put, "cannot restore a link waiting for confirmation");
                }
                Err(error)
            }
        }
    }

    /// Moves this account's balance to `pending.to`'s wallet and the
    /// account with it; tells every account of that wallet.
    async fn join_wallet(
        &self,
        turn: &mut Turn<'_>,
        pending: &PendingLink,
        theirs: &[Identity],
    ) -> Result<()> {
        let key = event_key(turn.msg);
        let accounts = self.ledger.accounts_of(&owner_of(turn.me.user)?).await?;
        let mut group = Vec::new();
        let mut moved = Vec::new();
        for account in accounts
            .iter()
            .filter(|a| a.kind == AccountKind::UserWallet)
        {
            let posted = account.balance().posted;
            let Ok(amount) = Amount::from_minor(posted, account.currency) else {
                continue;
            };
            let to = self.wallet(pending.to, account.currency).await?;
            group.push(
                NewTransfer::single(
                    derive(
                        "paybot.bot.link.merge",
                        &format!("{key}:{}", account.currency.code()),
                    ),
                    account.id,
                    to,
                    amount,
                )
                .with_code(transfer_codes::LINK_MERGE),
            );
            moved.push(amount.to_string());
        }
        let moved = (!moved.is_empty()).then(|| moved.join(", "));
        let notice = texts::joined_notice(
            platform_name(turn.msg.platform),
            &turn.me_label(),
            moved.as_deref(),
        );
        let mut outbox = Vec::new();
        for owner in theirs.iter().filter(|i| i.started) {
            outbox.push(self.notice(
                &format!("{key}:linked:{}:{}", owner.platform, owner.id),
                owner.platform,
                &owner.id,
                notice.clone(),
            )?);
        }
        if !group.is_empty() {
            self.ledger.submit_linked_with_outbox(group, outbox).await?;
        } else if !outbox.is_empty() {
            self.ledger.enqueue_outbox(&outbox).await?;
        }
        self.store
            .move_identity(turn.msg.platform, &turn.me.id, pending.to, turn.now_ms)
            .await?;
        let theirs: Vec<&Identity> = theirs.iter().collect();
        turn.private(texts::linked(
            platform_name(turn.msg.platform),
            &names(&theirs),
            moved.as_deref(),
        ));
        Ok(())
    }

    /// `/link cancel`.
    pub(super) async fn link_cancel(&self, turn: &mut Turn<'_>) -> Result<()> {
        let dropped = self
            .store
            .take_pending_link(turn.msg.platform, &turn.me.id, turn.now_ms)
            .await?;
        turn.private(match dropped {
            Some(_) => texts::LINK_CANCELLED,
            None => texts::NO_PENDING_LINK_TEXT,
        });
        Ok(())
    }

    /// `/unlink` (what it would do) and `/unlink confirm`.
    pub(super) async fn unlink(&self, turn: &mut Turn<'_>, confirm: bool) -> Result<()> {
        let mine = self.store.identities_of(turn.me.user).await?;
        let others: Vec<&Identity> = mine.iter().filter(|i| !is_me(turn, i)).collect();
        if others.is_empty() {
            turn.private(texts::NOTHING_TO_UNLINK);
            return Ok(());
        }
        let amounts = self.wallet_amounts(turn.me.user).await?;
        let money = if amounts.is_empty() {
            ledger::format_minor(0, self.config.default_currency)
        } else {
            amounts.join(", ")
        };
        let platform = platform_name(turn.msg.platform);
        // The cards this account linked go with it; the others stay.
        let cards = self.store.cards_of(turn.me.user).await?;
        let (going, staying): (Vec<&LinkedCard>, Vec<&LinkedCard>) =
            cards.iter().partition(|card| {
                card.added_by
                    .as_ref()
                    .is_some_and(|(p, id)| *p == turn.msg.platform && *id == turn.me.id)
            });
        let again = if confirm {
            texts::THEN_UNLINK_CONFIRM_AGAIN
        } else {
            texts::THEN_UNLINK_AGAIN
        };
        if self
            .unlink_waits_for_card_ops(turn, turn.me.user, &going, again)
            .await?
        {
            return Ok(());
        }
        let going_text = card_list(&going);
        if !confirm {
            let text = texts::unlink_offer(
                &names(&others),
                platform,
                &money,
                &cards_text(&going, &staying),
            );
            turn.private_with(
                text,
                None,
                vec![Button::new(texts::UNLINK_BUTTON, "/unlink confirm")],
            );
            return Ok(());
        }
        // The notices are written first (their ids derive from this
        // event), so a crash before the move is repaired by a redelivery.
        let key = event_key(turn.msg);
        let cards_going = (!going.is_empty()).then_some(going_text.as_str());
        let notice = texts::left_notice(platform, &turn.me_label(), cards_going);
        let mut outbox = Vec::new();
        for owner in others.iter().filter(|i| i.started) {
            outbox.push(self.notice(
                &format!("{key}:unlinked:{}:{}", owner.platform, owner.id),
                owner.platform,
                &owner.id,
                notice.clone(),
            )?);
        }
        if !outbox.is_empty() {
            self.ledger.enqueue_outbox(&outbox).await?;
        }
        // The identity and the cards it linked move together.
        let detached = self
            .store
            .detach_identity(turn.msg.platform, &turn.me.id, turn.me.user, turn.now_ms)
            .await?;
        if detached.is_none() {
            turn.private(texts::WALLET_CHANGED_MEANWHILE);
            return Ok(());
        }
        turn.private(texts::unlinked(
            platform,
            &money,
            &names(&others),
            cards_going,
        ));
        Ok(())
    }

    /// A fresh link code: [`LINK_CODE_CHARS`] letters of the link-code
    /// alphabet, from the bot's random source.
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

    /// Whether `user`'s wallet has money on its way out: payments waiting
    /// for a code or a claim, cash-outs with the rail. Money on its way
    /// in (someone else's unconfirmed payment) does not count: anyone
    /// could start one to hold a link up.
    async fn own_payments_in_progress(&self, user: UserId) -> Result<bool> {
        let accounts = self.ledger.accounts_of(&owner_of(user)?).await?;
        Ok(accounts
            .iter()
            .filter(|a| a.kind == AccountKind::UserWallet)
            .any(|a| a.balance().pending_out > 0))
    }

    /// This account shares its wallet: it must leave it before it joins
    /// another (its money would move away from under the others). `true`
    /// when refused.
    fn refuse_shared_wallet(&self, turn: &mut Turn<'_>, mine: &[Identity], then: &str) -> bool {
        let others: Vec<&Identity> = mine.iter().filter(|i| !is_me(turn, i)).collect();
        if others.is_empty() {
            return false;
        }
        turn.private(texts::shares_its_wallet(&names(&others), then));
        true
    }

    /// The posted balances of `user`'s wallet that are not zero (`$20.00`).
    async fn wallet_amounts(&self, user: UserId) -> Result<Vec<String>> {
        let accounts = self.ledger.accounts_of(&owner_of(user)?).await?;
        Ok(accounts
            .iter()
            .filter(|a| a.kind == AccountKind::UserWallet)
            .filter_map(|a| Amount::from_minor(a.balance().posted, a.currency).ok())
            .map(|amount| amount.to_string())
            .collect())
    }
}

/// The keyed hash a link code is stored as.
fn link_hash(pepper: &Pepper, code: &str) -> OtpHash {
    OtpHash::hash(pepper, b"paybot.bot.link", code)
}
