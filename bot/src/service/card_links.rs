//! Linking cards: `/card add` (tokenized at once, linked only by
//! `/confirm` of the code it sends), `/cards`, `/card remove`, and telling
//! the wallet's other accounts.
//!
//! The design decision to know: the card number lives only from the parser
//! to the rail's tokenization; what waits for the code (a `CardAdd`) holds
//! what a linked card holds (token, brand, last 4, expiry, keyed
//! fingerprint), and the notice to the other accounts is written before the
//! link, so a crash can only tell of a link that did not happen, never hide
//! one.

use ledger::OutboxMessage;

use super::cards::{
    AWAITING_CARD_ADDS_PER_USER_MAX, CARDS_OFF_TEXT, SWEEP_CARD_OPS_MAX, add_label, card_label,
    cashout_possible_from_ms, linked_label, this_month,
};
use super::texts::cards as texts;
use super::texts::holds as hold_texts;
use super::{
    AwaitsCode, Bot, REF_BODY_CHARS, Result, Turn, derive, event_key, minutes, short_ref, tries,
};
use crate::card::{CardNumber, Expiry, RailError};
use crate::command::{CARDS_PER_USER_MAX, OtpCode};
use crate::message::{Platform, PlatformUserId};
use crate::otp::{self, OtpChallenge, Verdict};
use crate::store::{CardAdd, CardAddLinked, CardAddState, UserId};
use crate::trust::holds::HoldKind;
use crate::trust::{Actor, AuditEntry, AuditKind, Review, TrustAction};

impl Bot {
    // -- /card add, /cards, /card remove ----------------------------------

    pub(super) async fn card_add(
        &self,
        turn: &mut Turn<'_>,
        card: CardNumber,
        expiry: Expiry,
    ) -> Result<()> {
        let Some(rail) = self.rail() else {
            turn.private(CARDS_OFF_TEXT);
            return Ok(());
        };
        let label = card_label(card.brand(), card.last4());
        if let Err(error) = expiry.check_at(this_month(turn.now_ms)?) {
            turn.private(texts::cannot_link(&label, &error));
            return Ok(());
        }
        let action = TrustAction::CardAdd { user: turn.me.user };
        if self.second_factor_at_start(turn, &action).await? == super::second_factor::Gate::Stopped
        {
            return Ok(());
        }
        let cards = self.store.cards_of(turn.me.user).await?;
        let fingerprint = card.fingerprint(self.card_fingerprint_key());
        if cards.iter().any(|c| c.fingerprint == fingerprint) {
            turn.private(texts::already_linked(&label));
            return Ok(());
        }
        if cards.len() >= usize::from(CARDS_PER_USER_MAX) {
            turn.private(texts::cards_full());
            return Ok(());
        }
        let awaiting = self.store.card_adds_awaiting_code(turn.me.user).await?;
        if let Some(waiting) = awaiting.iter().find(|a| a.fingerprint == fingerprint) {
            turn.private(texts::already_waiting(&label, &waiting.reference));
            return Ok(());
        }
        if awaiting.len() >= AWAITING_CARD_ADDS_PER_USER_MAX {
            turn.private(texts::too_many_awaiting_adds(awaiting.len()));
            return Ok(());
        }
        let assessment = self.assess(&action, turn.now_ms).await?;
        if let Some(refusal) = &assessment.refusal {
            turn.private(refusal.clone());
            return Ok(());
        }
        let review = assessment.review();
        if review == Review::SecondFactor
            && self.second_factor_for_rule_at_start(turn, &action).await?
                == super::second_factor::Gate::Stopped
        {
            return Ok(());
        }
        let held = matches!(review, Review::Hold { .. });
        // Tokenized now, so that the number lives only in this message's
        // memory: what waits for the code is what a linked card keeps.
        let token = match rail.tokenize(&card, expiry).await {
            Ok(token) => token,
            Err(RailError::Transient(error)) => {
                tracing::warn!(%error, "card tokenization failed; the user may retry");
                turn.private(texts::tokenize_unavailable(&label));
                return Ok(());
            }
            Err(RailError::Permanent(error)) => {
                tracing::warn!(%error, "card tokenization refused");
                turn.private(texts::tokenize_refused(&label));
                return Ok(());
            }
        };
        let brand = card.brand();
        let last4 = card.last4();
        drop(card);
        let add_id = derive("paybot.bot.card.add", &event_key(turn.msg));
        let code = otp::generate(self.rng.as_ref())?;
        let binding = add_id.as_u128().to_be_bytes();
        let challenge = OtpChallenge::new(code.hash(&self.pepper, &binding), turn.now_ms);
        let mut add = CardAdd {
            reference: short_ref('A', add_id, REF_BODY_CHARS)?,
            add_id,
            user: turn.me.user,
            platform: turn.me.platform,
            platform_user_id: turn.me.id.clone(),
            token,
            brand,
            last4,
            expiry,
            fingerprint,
            challenge,
            state: CardAddState::AwaitingCode,
            review,
            due_at_ms: Some(challenge.expires_at_ms(&self.config.otp)),
            created_at_ms: turn.now_ms,
            updated_at_ms: turn.now_ms,
            revision: 0,
        };
        let stored = self.insert_referenced(&mut add, 'A').await?;
        if stored.state != CardAddState::AwaitingCode {
            turn.private(texts::link_already(&label, stored.state));
            return Ok(());
        }
        if stored.challenge.hash.to_bytes() != challenge.hash.to_bytes() {
            // A retry after a crash: the first code was never seen.
            let mut renewed = stored.clone();
            renewed.set_challenge(challenge, turn.now_ms);
            renewed.due_at_ms = Some(challenge.expires_at_ms(&self.config.otp));
            self.store_renewed_code(&renewed).await?;
        }
        let what = texts::add_what(&label, expiry);
        self.send_card_code(turn, &what, &code, &stored.reference);
        if held {
            turn.private(hold_texts::CARD_LINK_WILL_BE_REVIEWED);
        }
        Ok(())
    }

    /// `/confirm` of a card add's code: the verdict, then the link, and
    /// every other identity of the wallet is told.
    pub(super) async fn confirm_card_add(
        &self,
        turn: &mut Turn<'_>,
        add: CardAdd,
        code: &OtpCode,
    ) -> Result<()> {
        let label = add_label(&add);
        let verdict = self.code_verdict(&add, code, turn.now_ms);
        match verdict {
            Verdict::Confirmed => {}
            Verdict::Expired => {
                self.end_card_add(add, CardAddState::Expired).await?;
                turn.private(texts::add_code_expired(&label));
                return Ok(());
            }
            Verdict::LockedOut | Verdict::Wrong { .. } => {
                self.end_card_add(add, CardAddState::LockedOut).await?;
                turn.private(texts::add_locked_out(&label));
                return Ok(());
            }
        }
        if add.state == CardAddState::AwaitingCode && matches!(add.review, Review::Hold { .. }) {
            return self.hold_card_add(turn, add).await;
        }
        self.link_confirmed_card_add(turn, add).await
    }

    /// Links a card add whose code was confirmed (or whose hold was
    /// approved), unless it is linked already or the wallet is full; every
    /// other identity of the wallet is told.
    pub(super) async fn link_confirmed_card_add(
        &self,
        turn: &mut Turn<'_>,
        add: CardAdd,
    ) -> Result<()> {
        let label = add_label(&add);
        let cards = self.store.cards_of(add.user).await?;
        if cards.iter().any(|c| c.fingerprint == add.fingerprint) {
            // Done what it was for: recorded as linked, no second card.
            self.store.link_card_add(&add, turn.now_ms).await?;
            turn.private(texts::already_linked(&label));
            return Ok(());
        }
        if cards.len() >= usize::from(CARDS_PER_USER_MAX) {
            if add.state == CardAddState::Held {
                // An approved hold: ended here (the approval's reply says
                // why), not left waiting for its deadline.
                self.end_held_card_add(add, CardAddState::Cancelled, String::new())
                    .await?;
            } else {
                self.end_card_add(add, CardAddState::Cancelled).await?;
            }
            turn.private(texts::cards_full_not_linked(&label));
            return Ok(());
        }
        // The others are told first: a crash after this and before the link
        // leaves a notice about a card the user can still confirm, never a
        // linked card nobody else heard of.
        let notices = self
            .to_other_identities(
                turn.me.user,
                turn.me.platform,
                &turn.me.id,
                &format!("{}:card:added", add.reference),
                &texts::card_added_notice(&label, &turn.me.platform, &turn.me_label()),
            )
            .await?;
        if !notices.is_empty() {
            self.ledger.enqueue_outbox(&notices).await?;
        }
        match self.store.link_card_add(&add, turn.now_ms).await? {
            CardAddLinked::Linked(card) => {
                // The `new_card` rule's wait, if a rule holds or refuses
                // cash-outs to a new card.
                let hold = self.config.trust.rules.new_card_wait_secs();
                let when = if hold > 0 {
                    texts::linked_hold(cashout_possible_from_ms(&card, hold), hold)
                } else {
                    String::new()
                };
                turn.private(texts::linked(&linked_label(&card), &when));
            }
            CardAddLinked::AlreadyLinked => {
                turn.private(texts::already_linked(&label));
            }
            CardAddLinked::Changed => {
                let state = self
                    .store
                    .card_add(&add.reference)
                    .await?
                    .map_or(CardAddState::Cancelled, |a| a.state);
                turn.private(texts::link_already(&label, state));
            }
        }
        Ok(())
    }

    /// A wrong code counts against every card add waiting for one, as
    /// against every payment.
    pub(super) async fn wrong_code_on_card_adds(
        &self,
        turn: &Turn<'_>,
        adds: Vec<CardAdd>,
        code: &OtpCode,
        lines: &mut Vec<String>,
    ) -> Result<()> {
        for add in adds {
            let label = add_label(&add);
            let verdict = self.code_verdict(&add, code, turn.now_ms);
            match verdict {
                Verdict::Wrong { attempts_left } => {
                    if self.count_wrong_code(&add, turn.now_ms).await? {
                        lines.push(texts::add_wrong_code(&label, &tries(attempts_left)));
                    }
                }
                Verdict::LockedOut | Verdict::Confirmed => {
                    if self.end_card_add(add, CardAddState::LockedOut).await? {
                        lines.push(texts::add_locked_out(&label));
                    }
                }
                Verdict::Expired => {
                    if self.end_card_add(add, CardAddState::Expired).await? {
                        lines.push(texts::add_expired_line(&label));
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends a card add still waiting for its code. `false`: it was no
    /// longer waiting.
    pub(super) async fn end_card_add(&self, add: CardAdd, state: CardAddState) -> Result<bool> {
        if add.state != CardAddState::AwaitingCode {
            return Ok(false);
        }
        let mut ended = add;
        ended.state = state;
        ended.due_at_ms = None;
        ended.updated_at_ms = self.ledger.now_ms();
        Ok(self.store.update_card_add(&ended).await?)
    }

    /// `/cancel` of a card add.
    pub(super) async fn cancel_card_add(&self, turn: &mut Turn<'_>, add: CardAdd) -> Result<()> {
        let label = add_label(&add);
        let state = add.state;
        if state == CardAddState::AwaitingCode
            && self.end_card_add(add, CardAddState::Cancelled).await?
        {
            turn.for_sender(texts::add_cancelled(&label));
        } else {
            turn.for_sender(texts::add_cannot_cancel(&label, state));
        }
        Ok(())
    }

    /// Card adds whose code ran out: ended, the user told. Returns how many.
    pub(super) async fn sweep_card_adds(&self, now_ms: i64) -> Result<usize> {
        let due = self.store.card_adds_due(now_ms, SWEEP_CARD_OPS_MAX).await?;
        let mut ended = 0;
        for add in due {
            if add.state == CardAddState::Held {
                if self.expire_card_add_hold(add, now_ms).await? {
                    ended += 1;
                }
                continue;
            }
            let notice = self.notice(
                &format!("{}:card-add:expired", add.reference),
                add.platform,
                &add.platform_user_id,
                texts::add_not_confirmed(&add_label(&add), &minutes(self.config.otp.ttl_secs)),
            )?;
            if self.end_card_add(add, CardAddState::Expired).await? {
                self.ledger.enqueue_outbox(&[notice]).await?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// "your new card Visa •••• 1111".
    pub(super) fn card_add_what(add: &CardAdd) -> String {
        hold_texts::card_link_what(&add_label(add))
    }

    /// Puts a card add whose code was just confirmed on hold instead of
    /// linking it.
    async fn hold_card_add(&self, turn: &mut Turn<'_>, add: CardAdd) -> Result<()> {
        let reason = match &add.review {
            Review::Hold { reason } => reason.clone(),
            Review::None | Review::SecondFactor => String::new(),
        };
        let reference = add.reference.to_string();
        let mut held = add.clone();
        held.state = CardAddState::Held;
        held.due_at_ms = Some(self.hold_due_ms(turn.now_ms));
        held.updated_at_ms = turn.now_ms;
        if !self.store.update_card_add(&held).await? {
            let state = self
                .store
                .card_add(&add.reference)
                .await?
                .map_or(CardAddState::Cancelled, |a| a.state);
            turn.private(texts::link_already(&add_label(&add), state));
            return Ok(());
        }
        self.audit(
            AuditEntry::new(turn.now_ms, Actor::User(add.user), AuditKind::HoldOpened)
                .user(add.user)
                .subject(reference.clone())
                .detail("kind", HoldKind::CardLink.as_str())
                .detail("card", add_label(&add))
                .detail("reason", reason)
                .detail("due_at_ms", held.due_at_ms.unwrap_or_default()),
        )
        .await?;
        turn.private(hold_texts::card_link_held(
            &Self::card_add_what(&add),
            &reference,
            &self.review_time(),
        ));
        Ok(())
    }

    /// Ends a held card add (rejected, its deadline passed, or approved
    /// into a full wallet) and tells the user `text` (none when empty).
    /// `false`: it was no longer held.
    pub(super) async fn end_held_card_add(
        &self,
        add: CardAdd,
        state: CardAddState,
        text: String,
    ) -> Result<bool> {
        if add.state != CardAddState::Held {
            return Ok(false);
        }
        let mut ended = add;
        ended.state = state;
        ended.due_at_ms = None;
        ended.updated_at_ms = self.ledger.now_ms();
        if !self.store.update_card_add(&ended).await? {
            return Ok(false);
        }
        if !text.is_empty() {
            let notice = self.notice(
                &format!("{}:hold:{}", ended.reference, state.as_str()),
                ended.platform,
                &ended.platform_user_id,
                text,
            )?;
            self.ledger.enqueue_outbox(&[notice]).await?;
        }
        Ok(true)
    }

    /// Outbox notices with `text` to every identity of `user` that talked
    /// to the bot, other than the one acting (which hears it in its reply).
    /// `key` makes each notice's id.
    pub(super) async fn to_other_identities(
        &self,
        user: UserId,
        platform: Platform,
        acting: &PlatformUserId,
        key: &str,
        text: &str,
    ) -> Result<Vec<OutboxMessage>> {
        let identities = self.store.identities_of(user).await?;
        let mut notices = Vec::new();
        for identity in identities
            .iter()
            .filter(|i| i.started && !(i.platform == platform && &i.id == acting))
        {
            notices.push(self.notice(
                &format!("{key}:{}:{}", identity.platform, identity.id),
                identity.platform,
                &identity.id,
                text.to_owned(),
            )?);
        }
        Ok(notices)
    }

    pub(super) async fn cards(&self, turn: &mut Turn<'_>) -> Result<()> {
        let cards = self.store.cards_of(turn.me.user).await?;
        if cards.is_empty() {
            turn.private(texts::NO_CARDS_TEXT);
            return Ok(());
        }
        let mut lines = vec![texts::CARDS_HEADING.to_owned()];
        for (n, card) in cards.iter().enumerate() {
            lines.push(texts::card_line(n.saturating_add(1), &linked_label(card)));
        }
        lines.push(texts::CARDS_FOOTER.to_owned());
        turn.private(lines.join("\n"));
        Ok(())
    }

    pub(super) async fn card_remove(&self, turn: &mut Turn<'_>, index: u8) -> Result<()> {
        let cards = self.store.cards_of(turn.me.user).await?;
        let Some(card) = cards.get(usize::from(index).saturating_sub(1)) else {
            turn.private(texts::no_card_n(index));
            return Ok(());
        };
        if self.store.remove_card(turn.me.user, card.id).await? {
            turn.private(texts::card_removed(&card_label(card.brand, card.last4)));
        } else {
            turn.private(texts::CARD_ALREADY_REMOVED_TEXT);
        }
        Ok(())
    }
}
