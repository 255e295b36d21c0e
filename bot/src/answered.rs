//! Which events this process has already answered, for adapters: a
//! platform that sends an event twice (a webhook retried, a poll answered
//! again, an interaction replayed) gets one answer. The core's own event
//! claim keeps the second from acting; this keeps it from being answered
//! twice while the process runs.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use crate::message::EventId;

/// Event ids remembered per adapter (the oldest forgotten first).
pub const ANSWERED_EVENTS_MAX: usize = 10_000;

/// A bounded set of answered event ids.
#[derive(Debug, Default)]
pub struct AnsweredEvents(Mutex<Inner>);

#[derive(Debug, Default)]
struct Inner {
    set: HashSet<EventId>,
    order: VecDeque<EventId>,
}

impl AnsweredEvents {
    /// `true` the first time `id` is seen (among the last
    /// [`ANSWERED_EVENTS_MAX`]).
    pub fn first(&self, id: &EventId) -> bool {
        let Ok(mut inner) = self.0.lock() else {
            // A poisoned lock: answer rather than go silent.
            return true;
        };
        if !inner.set.insert(id.clone()) {
            return false;
        }
        inner.order.push_back(id.clone());
        while inner.order.len() > ANSWERED_EVENTS_MAX {
            if let Some(old) = inner.order.pop_front() {
                inner.set.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_events_are_remembered_and_bounded() {
        let answered = AnsweredEvents::default();
        let id = EventId::new("42:1").unwrap();
        assert!(answered.first(&id));
        assert!(!answered.first(&id));
        for n in 0..ANSWERED_EVENTS_MAX {
            answered.first(&EventId::new(format!("42:x{n}")).unwrap());
        }
        assert!(answered.first(&id), "the oldest is forgotten");
        assert_eq!(answered.0.lock().unwrap().set.len(), ANSWERED_EVENTS_MAX);
    }
}
