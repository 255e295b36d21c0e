//! A user's account: who they are ([`Bot::see`]), their wallets and the
//! system accounts, `/start`, `/help`, `/balance` and `/history`.
//!
//! The design decision to know: a wallet is opened on first use, by an
//! idempotent `open_account` keyed by owner, kind and currency, so no
//! command needs to check whether one exists first.

use std::collections::HashMap;

use ledger::{
    AccountId, AccountKind, Currency, LedgerError, NewAccount, NewTransfer, Outcome, OwnerRef,
};

use super::inbox::local_minute;
use super::texts::account as texts;
use super::texts::pay::describe_state;
use super::texts::{plural, with_memo};
use super::turn::{Turn, derive};
use super::{Bot, BotError, Result, transfer_codes};
use crate::command::CommandName;
use crate::history::{CSV_HEADER, HISTORY_EXPORT_BYTES_MAX, HISTORY_EXPORT_ROWS_MAX, csv_line};
use crate::identity;
use crate::message::{Document, Platform, PlatformUserId, User};
use crate::store::{Identity, SeenUser, UserId};

/// Most account ids (wallets, system accounts) one process keeps looked up.
pub const ACCOUNTS_CACHED_MAX: usize = 262_144;

pub(super) fn owner_of(user: UserId) -> std::result::Result<OwnerRef, LedgerError> {
    OwnerRef::new(format!("user:{}", user.0))
}

/// A sighting of `user` (see [`Bot::see`]).
pub(super) fn seen_user(user: &User, platform: Platform, speaking: bool, direct: bool) -> SeenUser {
    SeenUser {
        platform,
        id: user.id.clone(),
        handle: user.handle.clone(),
        skeleton: user.handle.as_ref().map(identity::skeleton),
        display_name: user.display_name.clone(),
        speaking,
        direct: speaking && direct,
    }
}

impl Bot {
    /// Records a user as seen in this event: `speaking` when they sent it,
    /// `direct` when they sent it in a direct chat with the bot.
    pub(super) async fn see(
        &self,
        user: &User,
        platform: Platform,
        speaking: bool,
        direct: bool,
        now_ms: i64,
    ) -> Result<(Identity, bool)> {
        let seen = seen_user(user, platform, speaking, direct);
        Ok(self.store.upsert_identity(&seen, now_ms).await?)
    }

    // -- accounts ----------------------------------------------------------

    /// The user's wallet in `currency`, opened on first use.
    pub(super) async fn wallet(&self, user: UserId, currency: Currency) -> Result<AccountId> {
        self.account_id(NewAccount {
            owner: owner_of(user)?,
            kind: AccountKind::UserWallet,
            currency,
        })
        .await
    }

    pub(super) async fn system_account(
        &self,
        kind: AccountKind,
        currency: Currency,
    ) -> Result<AccountId> {
        self.account_id(NewAccount {
            owner: OwnerRef::system(),
            kind,
            currency,
        })
        .await
    }

    /// The account for (owner, kind, currency), opened on first use. An
    /// account's id never changes, so it is looked up once per process (at
    /// most [`ACCOUNTS_CACHED_MAX`] kept; the cache starts over when full).
    async fn account_id(&self, new: NewAccount) -> Result<AccountId> {
        let key = (new.owner.clone(), new.kind, new.currency);
        let cached = self.accounts.lock().ok().and_then(|m| m.get(&key).copied());
        if let Some(id) = cached {
            return Ok(id);
        }
        let account = self.ledger.open_account(&new).await?;
        if let Ok(mut m) = self.accounts.lock() {
            if m.len() >= ACCOUNTS_CACHED_MAX {
                m.clear();
            }
            m.insert(key, account.id);
        }
        Ok(account.id)
    }

    // -- /start, /help, /balance ---------------------------------------------

    /// `setup`: the user came from a group through the invite link of
    /// [`crate::PlatformProfile::with_dm_invite`] (payload [`super::DM_START_PAYLOAD`]).
    pub(super) async fn start(&self, turn: &mut Turn<'_>, setup: bool) -> Result<()> {
        let user = turn.me.user;
        self.wallet(user, self.config.default_currency).await?;
        self.set_up_limits(user, self.config.default_currency)
            .await?;
        let mut text = texts::welcome(&turn.me_label());
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
                text.push_str(&texts::mock_opening(&opening.to_string()));
            }
        }
        if setup && !turn.in_group() {
            text.push_str(texts::SET_UP_FROM_GROUP);
        }
        turn.private(text);
        self.claim_escrow(turn).await?;
        Ok(())
    }

    pub(super) async fn balance(&self, turn: &mut Turn<'_>) -> Result<()> {
        let accounts = self.ledger.accounts_of(&owner_of(turn.me.user)?).await?;
        let mut lines = Vec::new();
        for account in accounts
            .iter()
            .filter(|a| a.kind == AccountKind::UserWallet)
        {
            let balance = account.balance();
            let currency = account.currency;
            let available = ledger::format_minor(balance.available(), currency);
            let mut line = texts::balance_available(&available);
            if balance.pending_out > 0 {
                line.push_str(&texts::balance_held(&ledger::format_minor(
                    balance.pending_out,
                    currency,
                )));
            }
            if balance.pending_in > 0 {
                line.push_str(&texts::balance_incoming(&ledger::format_minor(
                    balance.pending_in,
                    currency,
                )));
            }
            lines.push(line);
        }
        let text = if lines.is_empty() {
            texts::balance(&ledger::format_minor(0, self.config.default_currency))
        } else {
            texts::balance(&lines.join("; "))
        };
        turn.private(text);
        Ok(())
    }

    // -- /history --------------------------------------------------------------

    pub(super) async fn history(&self, turn: &mut Turn<'_>, limit: Option<u8>) -> Result<()> {
        let limit = u32::from(limit.unwrap_or(10));
        let payments = self.store.history_of_user(turn.me.user, limit).await?;
        // Always sent privately (a DM from a group), like the payments.
        let in_flight = self.card_ops_in_flight_lines(turn.me.user).await?;
        if payments.is_empty() {
            let mut lines = in_flight;
            lines.push(texts::NO_PAYMENTS_YET.to_owned());
            turn.private(lines.join("\n"));
            return Ok(());
        }
        let zone = self.display_zone(turn.me.user).await?;
        let mut lines = in_flight;
        lines.push(texts::history_heading(
            &plural(u32::try_from(payments.len()).unwrap_or(limit), "payment"),
            zone.name(),
        ));
        for payment in &payments {
            let outgoing = payment.payer == turn.me.user;
            let who = if outgoing {
                texts::history_to(&payment.payee_label)
            } else {
                texts::history_from(&self.payer_label(payment).await?)
            };
            let sign = if outgoing { "-" } else { "+" };
            lines.push(texts::history_line(
                &local_minute(&zone, payment.created_at_ms),
                sign,
                &payment.amount.to_string(),
                &who,
                &with_memo(payment.memo.as_ref()),
                describe_state(payment.state),
                &payment.reference.to_string(),
            ));
        }
        turn.private(lines.join("\n"));
        Ok(())
    }

    /// `/history export`: the history as a CSV file, privately, at most
    /// [`HISTORY_EXPORT_ROWS_MAX`] payments and [`HISTORY_EXPORT_BYTES_MAX`]
    /// bytes (newest first; what does not fit is left out, and said so).
    pub(super) async fn history_export(&self, turn: &mut Turn<'_>) -> Result<()> {
        let payments = self
            .store
            .history_of_user(turn.me.user, HISTORY_EXPORT_ROWS_MAX)
            .await?;
        if payments.is_empty() {
            turn.private(texts::NO_PAYMENTS_YET);
            return Ok(());
        }
        let zone = self.display_zone(turn.me.user).await?;
        let mut csv = csv_line(CSV_HEADER);
        let mut written = 0usize;
        // One look-up per payer, not per payment.
        let mut payers: HashMap<(Platform, PlatformUserId), String> = HashMap::new();
        for payment in &payments {
            let outgoing = payment.payer == turn.me.user;
            let counterparty = if outgoing {
                payment.payee_label.clone()
            } else {
                let key = (payment.payer_platform, payment.payer_id.clone());
                match payers.get(&key) {
                    Some(label) => label.clone(),
                    None => {
                        let label = self.payer_label(payment).await?;
                        payers.insert(key, label.clone());
                        label
                    }
                }
            };
            let date = local_minute(&zone, payment.created_at_ms);
            let amount = payment.amount.to_decimal().to_string();
            let line = csv_line([
                date.as_str(),
                if outgoing { "sent" } else { "received" },
                counterparty.as_str(),
                amount.as_str(),
                payment.amount.currency().code(),
                payment
                    .memo
                    .as_ref()
                    .map(|m| m.as_str())
                    .unwrap_or_default(),
                payment.state.as_str(),
                payment.reference.as_str(),
            ]);
            if csv.len() + 2 + line.len() > HISTORY_EXPORT_BYTES_MAX {
                break;
            }
            csv.push('\n');
            csv.push_str(&line);
            written += 1;
        }
        csv.push('\n');
        let day = zone
            .date_at(turn.now_ms)
            .map_or_else(|| "export".to_owned(), |date| date.to_string());
        let text = texts::history_export(written, payments.len(), zone.name());
        match Document::csv(format!("paybot-history-{day}.csv"), csv) {
            Some(file) => turn.private_document(text, file),
            None => {
                return Err(BotError::Inconsistent(
                    "a history export over its bounds".to_owned(),
                ));
            }
        }
        Ok(())
    }
}

/// `/help`, publicly: it holds nothing private.
pub(super) fn help(turn: &mut Turn<'_>, topic: Option<CommandName>) {
    turn.here(texts::help(topic));
}
