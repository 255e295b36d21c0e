//! Which chat events this process is handling, and the outcome a
//! redelivery gets back.
//!
//! The design decision to know: **claiming an event writes nothing**. An
//! event is claimed in memory (a redelivery that arrives while it is being
//! handled gets no answer: the first delivery's answer is on its way), and
//! its outcome is committed afterwards without waiting
//! ([`Store::finish_event`](crate::store::Store::finish_event), on SQLite in
//! the ledger's next batch); until that commit, a redelivery gets the
//! outcome from here. A crash loses at most outcomes
//! not yet committed, and an event without one is handled again: its
//! derived ids make that change nothing (the money moves once, a record is
//! kept once; a payment waiting for its code gets a fresh code, which
//! replaces the one nobody may have seen). Two processes handling the same
//! event at the same moment are safe the same way.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

use crate::message::{EventId, Platform};

/// Most events one process holds at once (being handled, or handled with
/// the outcome not yet committed). Beyond it a message is answered "try
/// again" and nothing is done with it.
pub const EVENTS_IN_FLIGHT_MAX: usize = 65_536;

/// What a process knows of one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Claim {
    /// Claimed now: handle it.
    New,
    /// Being handled here right now.
    InProgress,
    /// Handled here; its outcome, whose commit may still be on its way.
    Done(String),
    /// Too many events in flight: not claimed.
    Full,
}

#[derive(Debug)]
enum Slot {
    InProgress,
    Done(String),
}

/// The events in flight in this process.
#[derive(Debug, Default)]
pub(super) struct EventsInFlight {
    slots: Mutex<HashMap<(Platform, EventId), Slot>>,
    /// Woken whenever an event is forgotten.
    forgotten: Notify,
}

impl EventsInFlight {
    /// Claims `event` unless it is in flight here already.
    pub(super) fn claim(&self, platform: Platform, event: &EventId) -> Claim {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match slots.get(&(platform, event.clone())) {
            Some(Slot::InProgress) => Claim::InProgress,
            Some(Slot::Done(outcome)) => Claim::Done(outcome.clone()),
            None if slots.len() >= EVENTS_IN_FLIGHT_MAX => Claim::Full,
            None => {
                slots.insert((platform, event.clone()), Slot::InProgress);
                Claim::New
            }
        }
    }

    /// Records the outcome of a claimed event until it is committed.
    pub(super) fn done(&self, platform: Platform, event: &EventId, outcome: String) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.insert((platform, event.clone()), Slot::Done(outcome));
    }

    /// Forgets `event`: its outcome is committed, or handling it failed
    /// before changing anything (a redelivery is handled afresh).
    pub(super) fn forget(&self, platform: Platform, event: &EventId) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.remove(&(platform, event.clone()));
        drop(slots);
        self.forgotten.notify_waiters();
    }

    /// How many handled events' outcomes are still on their way to the
    /// database.
    fn uncommitted(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots
            .values()
            .filter(|slot| matches!(slot, Slot::Done(_)))
            .count()
    }

    /// Returns once every outcome recorded before the call is committed
    /// or given up (its commit failed): none is then held only here.
    pub(super) async fn committed(&self) {
        loop {
            let forgotten = self.forgotten.notified();
            tokio::pin!(forgotten);
            // Registered before the check: a forget between the check and
            // the wait still wakes it.
            forgotten.as_mut().enable();
            if self.uncommitted() == 0 {
                return;
            }
            forgotten.await;
        }
    }
}

/// A claim made by [`EventsInFlight::claim`], given up when dropped unless
/// disarmed: a handler whose future is dropped (a request that timed out,
/// a client that went away, a panic) leaves no event stuck in progress; a
/// redelivery is handled afresh.
pub(super) struct ClaimGuard<'a> {
    events: &'a EventsInFlight,
    platform: Platform,
    event: &'a EventId,
    armed: bool,
}

impl<'a> ClaimGuard<'a> {
    pub(super) fn new(
        events: &'a EventsInFlight,
        platform: Platform,
        event: &'a EventId,
    ) -> ClaimGuard<'a> {
        ClaimGuard {
            events,
            platform,
            event,
            armed: true,
        }
    }

    /// Keeps the claim: its outcome is recorded ([`EventsInFlight::done`])
    /// and forgotten once committed.
    pub(super) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.events.forget(self.platform, self.event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> EventId {
        EventId::new(id).unwrap()
    }

    #[test]
    fn a_claimed_event_is_in_progress_then_done_then_forgotten() {
        let events = EventsInFlight::default();
        let e = event("m1");
        assert_eq!(events.claim(Platform::Mock, &e), Claim::New);
        assert_eq!(events.claim(Platform::Mock, &e), Claim::InProgress);
        // The same id on another platform is another event.
        assert_eq!(events.claim(Platform::Telegram, &e), Claim::New);
        events.done(Platform::Mock, &e, "paid".to_owned());
        assert_eq!(
            events.claim(Platform::Mock, &e),
            Claim::Done("paid".to_owned())
        );
        events.forget(Platform::Mock, &e);
        assert_eq!(events.claim(Platform::Mock, &e), Claim::New);
    }

    #[tokio::test]
    async fn committed_waits_for_every_outcome_on_its_way() {
        let events = std::sync::Arc::new(EventsInFlight::default());
        let (one, two) = (event("m3"), event("m4"));
        events.committed().await;
        for e in [&one, &two] {
            assert_eq!(events.claim(Platform::Mock, e), Claim::New);
            events.done(Platform::Mock, e, "paid".to_owned());
        }
        let waiting = tokio::spawn({
            let events = std::sync::Arc::clone(&events);
            async move { events.committed().await }
        });
        tokio::task::yield_now().await;
        events.forget(Platform::Mock, &one);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "one outcome is still on its way");
        // An event still being handled is not waited for.
        assert_eq!(events.claim(Platform::Mock, &event("m5")), Claim::New);
        events.forget(Platform::Mock, &two);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("committed returns once both are forgotten")
            .unwrap();
    }

    #[test]
    fn a_claim_whose_handler_went_away_is_given_up() {
        let events = EventsInFlight::default();
        let e = event("m2");
        assert_eq!(events.claim(Platform::Mock, &e), Claim::New);
        // The handler's future is dropped mid-way: its guard goes with it.
        drop(ClaimGuard::new(&events, Platform::Mock, &e));
        assert_eq!(events.claim(Platform::Mock, &e), Claim::New);
        // A handler that finished keeps its outcome.
        let guard = ClaimGuard::new(&events, Platform::Mock, &e);
        events.done(Platform::Mock, &e, "paid".to_owned());
        guard.disarm();
        assert_eq!(
            events.claim(Platform::Mock, &e),
            Claim::Done("paid".to_owned())
        );
    }
}
