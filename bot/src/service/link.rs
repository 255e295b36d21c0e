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

use std::fmt::Write as _;

use ledger::{AccountKind, Amount, NewTransfer};

use super::cards::card_label;
use super::{
    Bot, LINK_CODE_TTL_SECS, Result, Turn, derive, event_key, link_hash, minutes, owner_of,
    transfer_codes,
};
use crate::command::LinkCode;
use crate::message::{Button, Platform};
use crate::store::{Identity, LinkAttempt, LinkAttemptBounds, LinkedCard, PendingLink, UserId};

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

const HOUR_MS: i64 = 60 * 60 * 1_000;
const MINUTE_MS: i64 = 60 * 1_000;

/// The bounds on wrong link codes, as the store enforces them.
pub const LINK_ATTEMPT_BOUNDS: LinkAttemptBounds = LinkAttemptBounds {
    per_identity_max: LINK_WRONG_CODES_PER_IDENTITY_PER_HOUR_MAX,
    per_identity_window_ms: HOUR_MS,
    global_max: LINK_WRONG_CODES_GLOBAL_PER_MINUTE_MAX,
    global_window_ms: MINUTE_MS,
};

/// The refusal of a link between the mock chat and a real platform.
pub const MOCK_LINK_REFUSED_TEXT: &str =
    "The mock chat is for development; its wallets can't be linked to Telegram or Discord.";

const NO_PENDING_LINK_TEXT: &str = "You have no link waiting for confirmation. Send /link CODE here first, with a code from /link in your other chat app.";

/// How a platform is named to people.
pub(super) fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Mock => "mock",
        Platform::Telegram => "Telegram",
        Platform::Discord => "Discord",
    }
}

/// A display name as quoted to others: no control or invisible formatting
/// characters (a name cannot fake a line of the bot's message), at most
/// [`LINK_NAME_CHARS_MAX`] characters.
fn clean_name(name: &str) -> String {
    // The core's invisible characters, and the line and paragraph
    // separators (whitespace, but they would start a new line).
    let invisible = |c: char| crate::text::is_invisible(c) || matches!(c, '\u{2028}' | '\u{2029}');
    let mut clean: String = name
        .chars()
        .filter(|c| !invisible(*c))
        .take(LINK_NAME_CHARS_MAX)
        .collect();
    if name.chars().filter(|c| !invisible(*c)).count() > LINK_NAME_CHARS_MAX {
        clean.push('\u{2026}');
    }
    clean
}

/// `Telegram @alice (Alice Smith)`: the platform, the handle, and the
/// display name when it says more than the handle.
fn identity_name(identity: &Identity) -> String {
    let platform = platform_name(identity.platform);
    let display = clean_name(&identity.display_name);
    match &identity.handle {
        Some(handle) if display.is_empty() || display.eq_ignore_ascii_case(handle.as_str()) => {
            format!("{platform} {handle}")
        }
        Some(handle) => format!("{platform} {handle} ({display})"),
        None if display.is_empty() => format!("{platform} account {}", identity.id),
        None => format!("{platform} {display}"),
    }
}

fn names(identities: &[&Identity]) -> String {
    identities
        .iter()
        .map(|i| identity_name(i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `HH:MM UTC` of an instant in ms since the epoch.
fn clock_time(at_ms: i64) -> String {
    let minute_of_day = at_ms.div_euclid(MINUTE_MS).rem_euclid(24 * 60);
    format!("{:02}:{:02} UTC", minute_of_day / 60, minute_of_day % 60)
}

/// Whether joining these two sets of accounts would put a mock-chat
/// account and a real platform's account on one wallet.
fn mixes_mock_and_real(a: &[Identity], b: &[Identity]) -> bool {
    let mut all = a.iter().chain(b);
    let mock = all.clone().any(|i| i.platform == Platform::Mock);
    mock && all.any(|i| i.platform != Platform::Mock)
}

/// `Visa •••• 1111, Mastercard •••• 4444`.
fn card_list(cards: &[&LinkedCard]) -> String {
    cards
        .iter()
        .map(|card| card_label(card.brand, card.last4))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `/unlink` does with the wallet's cards: the ones this account
/// linked go with it, the others stay; cards whose adder is unknown
/// (linked before that was recorded) stay too. Empty without cards.
fn cards_text(going: &[&LinkedCard], staying: &[&LinkedCard]) -> String {
    let mut text = String::new();
    if !going.is_empty() {
        let verb = if going.len() == 1 { "goes" } else { "go" };
        let _ = write!(text, "\n{} {verb} with you", card_list(going));
        text.push_str(if staying.is_empty() { "." } else { "; " });
    }
    if !staying.is_empty() {
        let _ = write!(
            text,
            "{} {}.",
            if going.is_empty() {
                "\nThe shared wallet keeps"
            } else {
                "the wallet keeps"
            },
            card_list(staying)
        );
    }
    if staying.iter().any(|card| card.added_by.is_none()) {
        text.push_str(" Cards linked before paybot recorded who linked them stay with the shared wallet; to take one along, /card remove it there and /card add it again after unlinking.");
    }
    text
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
            turn.here("Link codes are private, so I cancelled that one. Run /link again and send the new code to me in a DM.");
            return Ok(());
        }
        // This account's own state first: the code is kept meanwhile.
        if self.own_payments_in_progress(turn.me.user).await? {
            turn.private(
                "Finish or /cancel your payments in progress first, then send the link code again.",
            );
            return Ok(());
        }
        if self
            .link_waits_for_card_ops(turn, turn.me.user, "send the link code again.")
            .await?
        {
            return Ok(());
        }
        let mine = self.store.identities_of(turn.me.user).await?;
        if self.refuse_shared_wallet(turn, &mine, "send the link code again.") {
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
                turn.private(format!(
                    "Too many wrong link codes from this account. Try again after {}.",
                    clock_time(until_ms)
                ));
                return Ok(());
            }
            LinkAttempt::GlobalBound { until_ms } => {
                turn.private(format!(
                    "Too many link codes are being tried right now. Try again after {}.",
                    clock_time(until_ms)
                ));
                return Ok(());
            }
        };
        let Some(target) = self
            .store
            .take_link_code(&hash.to_bytes(), turn.now_ms)
            .await?
        else {
            // The attempt stays recorded: a wrong code.
            turn.private(
                "That link code is wrong or has expired. Run /link again in your other chat app.",
            );
            return Ok(());
        };
        self.store.forget_link_attempt(attempt).await?;
        if target == turn.me.user {
            turn.private("This account already uses that wallet.");
            return Ok(());
        }
        // The code is spent: a refusal from here on needs a new one.
        let theirs = self.store.identities_of(target).await?;
        if mixes_mock_and_real(&mine, &theirs) {
            turn.private(MOCK_LINK_REFUSED_TEXT);
            return Ok(());
        }
        if theirs.is_empty() {
            turn.private("That link code's wallet has no accounts any more. Run /link again in your other chat app.");
            return Ok(());
        }
        if self
            .link_waits_for_card_ops(turn, target, "run /link again in your other chat app.")
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
            amounts if amounts.is_empty() => {
                "this account's wallet is empty, so no money moves".to_owned()
            }
            amounts => format!(
                "your balance here ({}) moves into that wallet",
                amounts.join(", ")
            ),
        };
        let theirs: Vec<&Identity> = theirs.iter().collect();
        let text = format!(
            "This link code belongs to the paybot wallet used by: {}.\n\
             If you confirm, this {} account joins that wallet: {money}, payments to this account go there, and whoever uses those accounts can spend it. /unlink undoes the link later, but the money stays in that wallet.\n\
             To go ahead, send /link confirm within {}. If you don't know all of those accounts, send /link cancel: someone may be trying to get your money.",
            names(&theirs),
            platform_name(turn.msg.platform),
            minutes(LINK_CONFIRM_TTL_SECS),
        );
        turn.private_with(
            text,
            None,
            vec![
                Button::new("Confirm", "/link confirm"),
                Button::new("Cancel", "/link cancel"),
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
        let text = format!(
            "To use this wallet from another chat app, send this to paybot there, in a private chat: /link {code}\n\
             It works once, for {}. Whoever sends it joins this wallet and can spend from it: never give it to anyone, and never post it in a group.",
            minutes(LINK_CODE_TTL_SECS)
        );
        let redacted = "To use this wallet from another chat app, send the link code I sent you to paybot there.".to_owned();
        turn.private_with(text, Some(redacted), Vec::new());
        Ok(())
    }

    /// `/link confirm`: the join itself.
    pub(super) async fn link_confirm(&self, turn: &mut Turn<'_>) -> Result<()> {
        let (platform, now_ms) = (turn.msg.platform, turn.now_ms);
        let Some(pending) = self
            .store
            .pending_link(platform, &turn.me.id, now_ms)
            .await?
        else {
            turn.private(NO_PENDING_LINK_TEXT);
            return Ok(());
        };
        if pending.from != turn.me.user {
            // This account changed wallets since it sent the code.
            self.store
                .take_pending_link(platform, &turn.me.id, now_ms)
                .await?;
            turn.private("This account's wallet changed since you sent the link code, so I dropped it. Run /link again in your other chat app.");
            return Ok(());
        }
        let again = "send /link confirm again.";
        if self.own_payments_in_progress(turn.me.user).await? {
            turn.private(format!(
                "Finish or /cancel your payments in progress first, then {again}"
            ));
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
        if self.refuse_shared_wallet(turn, &mine, "send /link confirm again.") {
            return Ok(());
        }
        let theirs = self.store.identities_of(pending.to).await?;
        if theirs.is_empty() || mixes_mock_and_real(&mine, &theirs) {
            self.store
                .take_pending_link(platform, &turn.me.id, now_ms)
                .await?;
            turn.private(if theirs.is_empty() {
                "That wallet has no accounts any more, so nothing was linked."
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
            turn.private(format!(
                "The wallet that code belongs to has new accounts since I showed it to you ({}), so nothing was linked. If you still want to, ask for a new code and send /link CODE again to see who uses it now.",
                names(&joined_since)
            ));
            return Ok(());
        }
        // One confirmation wins.
        let Some(pending) = self
            .store
            .take_pending_link(platform, &turn.me.id, now_ms)
            .await?
        else {
            turn.private(NO_PENDING_LINK_TEXT);
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
        let mut notice = format!(
            "The {} account {} now uses your paybot wallet: it can spend this wallet's money, and payments to it come here.",
            platform_name(turn.msg.platform),
            turn.me_label()
        );
        if !moved.is_empty() {
            let _ = write!(notice, " Its balance ({}) moved in.", moved.join(", "));
        }
        notice.push_str(" If you don't know that account, contact the operator right away.");
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
        let mut text = format!(
            "Linked: this {} account now uses the same wallet as {}.",
            platform_name(turn.msg.platform),
            names(&theirs)
        );
        if !moved.is_empty() {
            let _ = write!(
                text,
                " I moved this account's balance ({}) into it.",
                moved.join(", ")
            );
        }
        text.push_str(" /unlink undoes the link (the money stays in that wallet).");
        turn.private(text);
        Ok(())
    }

    /// `/link cancel`.
    pub(super) async fn link_cancel(&self, turn: &mut Turn<'_>) -> Result<()> {
        let dropped = self
            .store
            .take_pending_link(turn.msg.platform, &turn.me.id, turn.now_ms)
            .await?;
        turn.private(match dropped {
            Some(_) => "Cancelled: this account keeps its own wallet.",
            None => NO_PENDING_LINK_TEXT,
        });
        Ok(())
    }

    /// `/unlink` (what it would do) and `/unlink confirm`.
    pub(super) async fn unlink(&self, turn: &mut Turn<'_>, confirm: bool) -> Result<()> {
        let mine = self.store.identities_of(turn.me.user).await?;
        let others: Vec<&Identity> = mine.iter().filter(|i| !is_me(turn, i)).collect();
        if others.is_empty() {
            turn.private("This account does not share its wallet with another account, so there is nothing to unlink.");
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
            "send /unlink confirm again."
        } else {
            "send /unlink again."
        };
        if self
            .unlink_waits_for_card_ops(turn, turn.me.user, &going, again)
            .await?
        {
            return Ok(());
        }
        let going_text = card_list(&going);
        if !confirm {
            let mut text = format!(
                "This account shares its wallet with {}.\n\
                 If you unlink it, this {platform} account gets a new wallet of its own, empty. The money ({money}) stays in the shared wallet, with those accounts. Payments to this account come to its new wallet from then on; payments it started that are still open finish with the shared wallet.",
                names(&others)
            );
            text.push_str(&cards_text(&going, &staying));
            text.push_str("\nTo go ahead, send /unlink confirm.");
            turn.private_with(text, None, vec![Button::new("Unlink", "/unlink confirm")]);
            return Ok(());
        }
        // The notices are written first (their ids derive from this
        // event), so a crash before the move is repaired by a redelivery.
        let key = event_key(turn.msg);
        let mut notice = format!(
            "The {platform} account {} left your shared paybot wallet (/unlink): it can no longer spend this wallet's money, and payments to it no longer come here. The money stays here.",
            turn.me_label()
        );
        if !going.is_empty() {
            let _ = write!(
                notice,
                " The cards it linked went with it: {going_text}; this wallet can no longer use them."
            );
        }
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
            turn.private(
                "This account's wallet changed meanwhile, so nothing was unlinked. Try again.",
            );
            return Ok(());
        }
        let mut text = format!(
            "Unlinked: this {platform} account now has a wallet of its own, empty. The {money} stayed in the wallet of {}.",
            names(&others)
        );
        if !going.is_empty() {
            let _ = write!(text, " {going_text} came with you: /cards lists them.");
        }
        turn.private(text);
        Ok(())
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
        turn.private(format!(
            "This account shares its wallet with {}. Send /unlink first (the money stays with them, and this account gets an empty wallet of its own), then {then}",
            names(&others)
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_time_is_utc_hours_and_minutes() {
        assert_eq!(clock_time(1_767_225_600_000), "00:00 UTC");
        assert_eq!(
            clock_time(1_767_225_600_000 + HOUR_MS + 10 * MINUTE_MS),
            "01:10 UTC"
        );
        assert_eq!(clock_time(1_767_225_600_000 - MINUTE_MS), "23:59 UTC");
    }

    #[test]
    fn names_cannot_fake_lines() {
        assert_eq!(clean_name("Ali\nce\u{200b}\u{202e}"), "Alice");
        let long = "x".repeat(LINK_NAME_CHARS_MAX + 5);
        assert_eq!(clean_name(&long).chars().count(), LINK_NAME_CHARS_MAX + 1);
    }
}
