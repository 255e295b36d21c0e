//! Rate limits on what one person can make the bot do: commands per
//! platform identity (a token bucket, in memory) and requests per hour,
//! made and received (counted from the store).
//!
//! The design decision to know: each limit is counted where it can be both
//! cheap and right. The command bucket runs on every command before any
//! work is done, so it lives in memory (a durable counter would be a write
//! per command, the very load it guards against); with several paybot
//! processes each keeps its own, which bounds a flood per process. The
//! request limits bound what reaches *other people*, so they are counted
//! from the requests the store already keeps: durable, shared by every
//! process, and right across a restart. Time is always passed in (the
//! ledger's injected clock); nothing here reads a clock.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::calendar::UtcMoment;
use crate::message::{Platform, PlatformUserId};

/// Platform identities whose command buckets are kept at once. A bucket
/// that has refilled is the same as none and is dropped first; past this
/// bound an arbitrary one is dropped (that sender starts with a full
/// bucket: the bound degrades towards allowing, never towards refusing
/// people who did nothing).
pub const COMMAND_SENDERS_TRACKED_MAX: usize = 100_000;
/// How often, at most, the bucket map is swept for refilled buckets when
/// it is full.
pub const COMMAND_BUCKETS_PRUNE_INTERVAL_MS: i64 = 1_000;
/// The window of the request limits.
pub const REQUEST_WINDOW_MS: i64 = 60 * 60 * 1_000;
/// Fixed-point scale of a bucket's tokens: one command costs this much.
const MILLI_TOKENS_PER_COMMAND: i64 = 1_000;
const MS_PER_MINUTE: i64 = 60_000;

/// The limits (settings `limits.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Commands one platform identity may send at once (the bucket's size).
    pub commands_burst_max: u32,
    /// Commands one platform identity may send per minute, on average (the
    /// bucket's refill).
    pub commands_per_minute_max: u32,
    /// Requests (each `/request`, each share of a `/split`) one user may
    /// make in any hour.
    pub requests_sent_per_hour_max: u32,
    /// Requests one user may receive, from everyone together, in any hour.
    pub requests_received_per_hour_max: u32,
}

pub const COMMANDS_BURST_MAX_DEFAULT: u32 = 20;
pub const COMMANDS_PER_MINUTE_MAX_DEFAULT: u32 = 20;
pub const REQUESTS_SENT_PER_HOUR_MAX_DEFAULT: u32 = 30;
pub const REQUESTS_RECEIVED_PER_HOUR_MAX_DEFAULT: u32 = 20;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            commands_burst_max: COMMANDS_BURST_MAX_DEFAULT,
            commands_per_minute_max: COMMANDS_PER_MINUTE_MAX_DEFAULT,
            requests_sent_per_hour_max: REQUESTS_SENT_PER_HOUR_MAX_DEFAULT,
            requests_received_per_hour_max: REQUESTS_RECEIVED_PER_HOUR_MAX_DEFAULT,
        }
    }
}

/// What [`CommandRates::admit`] decided about one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Do it.
    Admitted,
    /// Refuse it, and say so: the first refusal since the sender was last
    /// admitted. The next command is admitted from `until_ms`.
    Refused { until_ms: i64 },
    /// Refuse it without an answer (already told).
    RefusedQuietly,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    milli_tokens: i64,
    at_ms: i64,
    told: bool,
}

/// One token bucket per platform identity, in memory, bounded.
#[derive(Debug)]
pub struct CommandRates {
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    map: HashMap<(Platform, PlatformUserId), Bucket>,
    pruned_at_ms: i64,
}

impl Default for CommandRates {
    fn default() -> CommandRates {
        CommandRates::new()
    }
}

impl CommandRates {
    pub fn new() -> CommandRates {
        CommandRates {
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// Takes one command's token from the sender's bucket at `now_ms`.
    pub fn admit(
        &self,
        limits: &Limits,
        platform: Platform,
        sender: &PlatformUserId,
        now_ms: i64,
    ) -> Admission {
        let capacity =
            i64::from(limits.commands_burst_max.max(1)).saturating_mul(MILLI_TOKENS_PER_COMMAND);
        let per_minute = i64::from(limits.commands_per_minute_max.max(1));
        // A poisoned lock holds a map that is still a valid map.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (platform, sender.clone());
        if !buckets.map.contains_key(&key) && buckets.map.len() >= COMMAND_SENDERS_TRACKED_MAX {
            buckets.make_room(now_ms, capacity, per_minute);
        }
        let bucket = buckets.map.entry(key).or_insert(Bucket {
            milli_tokens: capacity,
            at_ms: now_ms,
            told: false,
        });
        let refilled = refill(bucket, now_ms, capacity, per_minute);
        bucket.milli_tokens = refilled;
        bucket.at_ms = bucket.at_ms.max(now_ms);
        if refilled >= MILLI_TOKENS_PER_COMMAND {
            bucket.milli_tokens = refilled.saturating_sub(MILLI_TOKENS_PER_COMMAND);
            bucket.told = false;
            return Admission::Admitted;
        }
        if bucket.told {
            return Admission::RefusedQuietly;
        }
        bucket.told = true;
        let missing = MILLI_TOKENS_PER_COMMAND.saturating_sub(refilled);
        // Milli-tokens come in at `per_minute` per 60 ms; round up.
        let wait_ms = missing
            .saturating_mul(MS_PER_MINUTE / MILLI_TOKENS_PER_COMMAND)
            .saturating_add(per_minute.saturating_sub(1))
            / per_minute;
        Admission::Refused {
            until_ms: now_ms.saturating_add(wait_ms),
        }
    }

    /// Identities with a bucket right now (for tests of the bound).
    pub fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }
}

impl Buckets {
    /// Drops refilled buckets (at most once per
    /// [`COMMAND_BUCKETS_PRUNE_INTERVAL_MS`]); if none could go, one
    /// arbitrary bucket.
    fn make_room(&mut self, now_ms: i64, capacity: i64, per_minute: i64) {
        if now_ms.saturating_sub(self.pruned_at_ms) >= COMMAND_BUCKETS_PRUNE_INTERVAL_MS {
            self.pruned_at_ms = now_ms;
            self.map
                .retain(|_, bucket| refill(bucket, now_ms, capacity, per_minute) < capacity);
        }
        if self.map.len() >= COMMAND_SENDERS_TRACKED_MAX
            && let Some(key) = self.map.keys().next().cloned()
        {
            self.map.remove(&key);
        }
    }
}

/// The bucket's milli-tokens at `now_ms`, refilled at `per_minute` tokens a
/// minute up to `capacity`. A clock that went back refills nothing.
fn refill(bucket: &Bucket, now_ms: i64, capacity: i64, per_minute: i64) -> i64 {
    let elapsed_ms = now_ms.saturating_sub(bucket.at_ms).max(0);
    // per_minute tokens per 60 000 ms = per_minute milli-tokens per 60 ms.
    let gained = elapsed_ms.saturating_mul(per_minute) / (MS_PER_MINUTE / MILLI_TOKENS_PER_COMMAND);
    bucket.milli_tokens.saturating_add(gained).min(capacity)
}

/// When a limit of `max` per [`REQUEST_WINDOW_MS`] lets `needed` more in,
/// given the creation times of what was counted in the window, oldest first
/// (at most `max` of them): `None` when it does now.
pub fn window_frees_at(times_ms: &[i64], max: u32, needed: u32) -> Option<i64> {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let needed = usize::try_from(needed).unwrap_or(usize::MAX);
    let counted = times_ms.len();
    if counted.saturating_add(needed) <= max {
        return None;
    }
    // The oldest `counted + needed - max` have to leave the window.
    let leaving = counted.saturating_add(needed).saturating_sub(max);
    let last_leaving = times_ms
        .get(leaving.saturating_sub(1))
        .or(times_ms.last())
        .copied()?;
    Some(last_leaving.saturating_add(REQUEST_WINDOW_MS))
}

/// `14:05 UTC on 2026-01-02`, rounded up to the minute (so that the time
/// named is never too early).
pub fn utc_minute_text(unix_ms: i64) -> String {
    let rounded = unix_ms
        .saturating_add(MS_PER_MINUTE - 1)
        .div_euclid(MS_PER_MINUTE)
        .saturating_mul(MS_PER_MINUTE);
    match UtcMoment::from_unix_ms(rounded) {
        Some(at) => {
            // `YYYY-MM-DDThh:mm:ss`.
            let text = at.to_string();
            let date = text.get(..10).unwrap_or_default();
            let clock = text.get(11..16).unwrap_or_default();
            format!("{clock} UTC on {date}")
        }
        None => "a later time".to_owned(),
    }
}

/// `14:05:03 UTC`, rounded up to the second.
pub fn utc_second_text(unix_ms: i64) -> String {
    let rounded = unix_ms
        .saturating_add(999)
        .div_euclid(1_000)
        .saturating_mul(1_000);
    match UtcMoment::from_unix_ms(rounded) {
        Some(at) => {
            let text = at.to_string();
            format!("{} UTC", text.get(11..19).unwrap_or_default())
        }
        None => "a later time".to_owned(),
    }
}

/// A duration for people: `24 h`, `90 min`, `45 s`.
pub fn duration_text(secs: u32) -> String {
    match secs {
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> PlatformUserId {
        PlatformUserId::new(name).unwrap()
    }

    const LIMITS: Limits = Limits {
        commands_burst_max: 3,
        commands_per_minute_max: 6,
        requests_sent_per_hour_max: 5,
        requests_received_per_hour_max: 5,
    };

    #[test]
    fn a_burst_then_the_rate_then_a_refill() {
        let rates = CommandRates::new();
        let alice = id("alice");
        for _ in 0..3 {
            assert_eq!(
                rates.admit(&LIMITS, Platform::Mock, &alice, 0),
                Admission::Admitted
            );
        }
        // 6 a minute: the next token in 10 s.
        assert_eq!(
            rates.admit(&LIMITS, Platform::Mock, &alice, 0),
            Admission::Refused { until_ms: 10_000 }
        );
        assert_eq!(
            rates.admit(&LIMITS, Platform::Mock, &alice, 5_000),
            Admission::RefusedQuietly
        );
        // Someone else is not slowed down, nor the same id elsewhere.
        assert_eq!(
            rates.admit(&LIMITS, Platform::Mock, &id("bob"), 5_000),
            Admission::Admitted
        );
        assert_eq!(
            rates.admit(&LIMITS, Platform::Telegram, &alice, 5_000),
            Admission::Admitted
        );
        assert_eq!(
            rates.admit(&LIMITS, Platform::Mock, &alice, 10_000),
            Admission::Admitted
        );
        // Refused again, told again (a new episode), until the next token.
        assert_eq!(
            rates.admit(&LIMITS, Platform::Mock, &alice, 10_000),
            Admission::Refused { until_ms: 20_000 }
        );
        // A long pause refills to the burst, not beyond.
        for _ in 0..3 {
            assert_eq!(
                rates.admit(&LIMITS, Platform::Mock, &alice, 3_600_000),
                Admission::Admitted
            );
        }
        assert!(matches!(
            rates.admit(&LIMITS, Platform::Mock, &alice, 3_600_000),
            Admission::Refused { .. }
        ));
    }

    #[test]
    fn a_clock_going_back_refills_nothing() {
        let rates = CommandRates::new();
        let alice = id("alice");
        for _ in 0..3 {
            rates.admit(&LIMITS, Platform::Mock, &alice, 100_000);
        }
        assert!(matches!(
            rates.admit(&LIMITS, Platform::Mock, &alice, 0),
            Admission::Refused { .. }
        ));
    }

    #[test]
    fn the_map_is_bounded() {
        let rates = CommandRates::new();
        let limits = Limits {
            commands_burst_max: 1,
            ..LIMITS
        };
        let total = COMMAND_SENDERS_TRACKED_MAX + 10;
        for n in 0..total {
            rates.admit(&limits, Platform::Mock, &id(&format!("u{n}")), 0);
        }
        assert!(rates.tracked() <= COMMAND_SENDERS_TRACKED_MAX);
        // Once their buckets refilled, they make room for new senders.
        rates.admit(&limits, Platform::Mock, &id("late"), 60_000);
        assert_eq!(rates.tracked(), 1);
    }

    #[test]
    fn windows_free_up_when_the_oldest_leave() {
        let h = REQUEST_WINDOW_MS;
        assert_eq!(window_frees_at(&[], 5, 1), None);
        assert_eq!(window_frees_at(&[1, 2, 3, 4], 5, 1), None);
        assert_eq!(window_frees_at(&[1, 2, 3, 4, 5], 5, 1), Some(1 + h));
        // Three more needed with four counted of five: two must leave.
        assert_eq!(window_frees_at(&[1, 2, 3, 4], 5, 3), Some(2 + h));
        // More than the limit needed at once: never, but a time is named.
        assert!(window_frees_at(&[1], 5, 9).is_some());
    }

    #[test]
    fn times_for_people() {
        // 2026-01-01T00:00:00Z.
        let t = 1_767_225_600_000;
        assert_eq!(utc_minute_text(t), "00:00 UTC on 2026-01-01");
        assert_eq!(utc_minute_text(t + 1), "00:01 UTC on 2026-01-01");
        assert_eq!(utc_second_text(t + 2_001), "00:00:03 UTC");
        assert_eq!(duration_text(86_400), "24 h");
        assert_eq!(duration_text(90 * 60), "90 min");
        assert_eq!(duration_text(45), "45 s");
    }
}
