//! Handled events' outcomes ([`bot::store::Store::finish_event`]), written
//! many to a statement.
//!
//! Every chat message ends with its outcome's write, which nobody waits for
//! but which costs a statement (and on PostgreSQL a commit of its own) per
//! message. The one design decision to know: concurrent outcomes queue here
//! and one caller at a time writes **all that are queued** in one statement
//! (PostgreSQL: one `UNNEST` insert, committed alone; SQLite: one unit of
//! multi-row inserts in the ledger's next batch), while the others wait for
//! the write that carried theirs. Each caller returns once its own outcome
//! is committed (or the write that carried it failed), as before; what a
//! crash loses is, as before, outcomes not yet committed, which handling
//! the event again repairs.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use ledger::SqlValue;
use tokio::sync::oneshot;

/// Most outcomes one write carries; more wait for the next write.
pub(crate) const OUTCOMES_PER_WRITE_MAX: usize = 256;

/// One handled event's outcome, in `bot_events`' terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) platform: String,
    pub(crate) event: String,
    pub(crate) outcome: String,
    pub(crate) now_ms: i64,
}

impl Outcome {
    /// Its values in `FINISH_EVENT_SQL`'s order: platform, event, outcome,
    /// now.
    pub(crate) fn values(&self) -> [SqlValue; 4] {
        [
            SqlValue::from(self.platform.as_str()),
            SqlValue::from(self.event.as_str()),
            SqlValue::from(self.outcome.as_str()),
            SqlValue::from(self.now_ms),
        ]
    }
}

struct Queued {
    outcome: Outcome,
    written: oneshot::Sender<Result<(), String>>,
}

/// The outcomes waiting for a write, and the turn to write them.
#[derive(Default)]
pub(crate) struct OutcomeQueue {
    queued: Mutex<Vec<Queued>>,
    /// Held by the one caller writing; FIFO, so every queued outcome's
    /// caller gets a turn and none waits forever. A caller whose outcome
    /// another's write carried leaves the line without its turn.
    writing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for OutcomeQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutcomeQueue").finish_non_exhaustive()
    }
}

impl OutcomeQueue {
    /// Queues `outcome` and returns once a write carried it: this caller's
    /// own write (of everything queued, at most [`OUTCOMES_PER_WRITE_MAX`])
    /// or another's. `write` gets the outcomes to write, at most one per
    /// event (the first queued: the first recorded outcome stays).
    pub(crate) async fn finish<W, F>(&self, outcome: Outcome, write: W) -> Result<(), String>
    where
        W: FnOnce(Vec<Outcome>) -> F,
        F: Future<Output = Result<(), String>>,
    {
        let (written, mut carried) = oneshot::channel();
        self.lock().push(Queued { outcome, written });
        // Whichever comes first: another caller's write carried this
        // outcome (then this caller is done and leaves the line), or this
        // caller's turn to write what is queued. Waiting for the turn
        // regardless made each caller wait behind every earlier one, one
        // write each: under steady load the line grew without end.
        let turn = tokio::select! {
            biased;
            result = &mut carried => return answer(result),
            turn = self.writing.lock() => turn,
        };
        let batch = self.take();
        if !batch.is_empty() {
            let (outcomes, waiters): (Vec<Outcome>, Vec<_>) =
                batch.into_iter().map(|q| (q.outcome, q.written)).unzip();
            let result = write(first_per_event(outcomes)).await;
            for waiter in waiters {
                // A waiter that went away needs no answer.
                let _ = waiter.send(result.clone());
            }
        }
        drop(turn);
        answer(carried.await)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Queued>> {
        self.queued.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The oldest queued outcomes, at most [`OUTCOMES_PER_WRITE_MAX`].
    fn take(&self) -> Vec<Queued> {
        let mut queued = self.lock();
        let n = queued.len().min(OUTCOMES_PER_WRITE_MAX);
        queued.drain(..n).collect()
    }
}

/// What the write that carried an outcome answered.
fn answer(carried: Result<Result<(), String>, oneshot::error::RecvError>) -> Result<(), String> {
    carried.unwrap_or_else(|_| Err("an event outcome's write went away".to_owned()))
}

/// One outcome per (platform, event), the first: one statement may not
/// upsert a row twice (PostgreSQL refuses it).
fn first_per_event(outcomes: Vec<Outcome>) -> Vec<Outcome> {
    let mut seen = HashSet::new();
    outcomes
        .into_iter()
        .filter(|o| seen.insert((o.platform.clone(), o.event.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn outcome(event: &str, text: &str) -> Outcome {
        Outcome {
            platform: "mock".to_owned(),
            event: event.to_owned(),
            outcome: text.to_owned(),
            now_ms: 1,
        }
    }

    #[test]
    fn one_outcome_per_event_is_written_the_first() {
        let kept = first_per_event(vec![
            outcome("a", "first"),
            outcome("b", "b"),
            outcome("a", "second"),
        ]);
        assert_eq!(kept, vec![outcome("a", "first"), outcome("b", "b")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_outcomes_share_writes_and_each_is_written_once() {
        let queue = Arc::new(OutcomeQueue::default());
        let writes = Arc::new(Mutex::new(Vec::<Vec<Outcome>>::new()));
        let mut tasks = Vec::new();
        for i in 0..200 {
            let (queue, writes) = (Arc::clone(&queue), Arc::clone(&writes));
            tasks.push(tokio::spawn(async move {
                queue
                    .finish(outcome(&format!("e{i}"), "ok"), |batch| async move {
                        tokio::task::yield_now().await;
                        writes.lock().unwrap().push(batch);
                        Ok(())
                    })
                    .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(()));
        }
        let writes = writes.lock().unwrap();
        let mut events: Vec<String> = writes.iter().flatten().map(|o| o.event.clone()).collect();
        events.sort();
        events.dedup();
        assert_eq!(events.len(), 200);
        assert_eq!(writes.iter().map(Vec::len).sum::<usize>(), 200);
        assert!(writes.iter().all(|w| w.len() <= OUTCOMES_PER_WRITE_MAX));
    }

    /// Under steady load every turn at the writer finds new outcomes
    /// queued and writes them. A caller whose outcome a write carried must
    /// return then, not wait for a turn of its own behind that write and
    /// the next: else every caller waits behind all earlier ones, one write
    /// each, and under load the events in flight pile up until the bot
    /// answers "try again" (`EVENTS_IN_FLIGHT_MAX`).
    #[tokio::test]
    async fn a_caller_whose_outcome_was_carried_does_not_wait_for_later_writes() {
        let queue = Arc::new(OutcomeQueue::default());
        // Each write waits for its own gate: (what it carried, its gate).
        let (writes_tx, mut writes) =
            tokio::sync::mpsc::unbounded_channel::<(Vec<String>, oneshot::Sender<()>)>();
        let finish = |event: &'static str| {
            let (queue, writes_tx) = (Arc::clone(&queue), writes_tx.clone());
            tokio::spawn(async move {
                queue
                    .finish(outcome(event, "ok"), |batch| async move {
                        let (open, opened) = oneshot::channel();
                        let events = batch.into_iter().map(|o| o.event).collect();
                        let _ = writes_tx.send((events, open));
                        let _ = opened.await;
                        Ok(())
                    })
                    .await
            })
        };
        let a = finish("a");
        let (carried, gate_a) = writes.recv().await.unwrap();
        assert_eq!(carried, ["a"]);
        // b and c queue while a's write is on its way.
        let b = finish("b");
        let c = finish("c");
        tokio::task::yield_now().await;
        gate_a.send(()).unwrap();
        assert_eq!(a.await.unwrap(), Ok(()));
        // The next turn writes b and c together.
        let (carried, gate_bc) = writes.recv().await.unwrap();
        assert_eq!(carried, ["b", "c"]);
        // d queues while that write is on its way, then it commits.
        let d = finish("d");
        tokio::task::yield_now().await;
        gate_bc.send(()).unwrap();
        assert_eq!(b.await.unwrap(), Ok(()));
        // c's outcome is written: c returns, while d's write (the next
        // turn's) is still on its way and stays so until c has returned
        // (the bound only ends the test if c waits for it: it would wait
        // forever).
        let c_done = tokio::time::timeout(std::time::Duration::from_secs(5), c).await;
        assert!(
            matches!(c_done, Ok(Ok(Ok(())))),
            "c waited for d's write: {c_done:?}"
        );
        let (carried, gate_d) = writes.recv().await.unwrap();
        assert_eq!(carried, ["d"]);
        gate_d.send(()).unwrap();
        assert_eq!(d.await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn a_failed_write_fails_every_outcome_it_carried() {
        let queue = OutcomeQueue::default();
        let result = queue
            .finish(outcome("x", "ok"), |_| async {
                Err("disk full".to_owned())
            })
            .await;
        assert_eq!(result, Err("disk full".to_owned()));
    }
}
