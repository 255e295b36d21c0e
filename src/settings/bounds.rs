//! The named bounds of numeric settings, and the one function that reads a
//! number within its bound.
//!
//! The one decision to know: a bounded setting stays a plain integer in its
//! section (`http.shutdown_grace_secs: u64`), and its field says
//! `#[serde(deserialize_with = "within::<_, ShutdownGrace>")]`: the bound is
//! checked once, as the value is read, with the message the bound's range
//! and unit make ("must be between 0 and 600 seconds").

use std::fmt;
use std::ops::RangeInclusive;

use serde::{Deserialize, Deserializer};

/// Allowed `database.pool_connections_max`, in connections.
pub const POOL_CONNECTIONS_RANGE: RangeInclusive<u32> = 1..=256;
/// Allowed `ledger.sweep_interval_ms`, in milliseconds.
pub const SWEEP_INTERVAL_MS_RANGE: RangeInclusive<u64> = 10..=60_000;
/// Allowed `http.shutdown_grace_secs`, in seconds.
pub const SHUTDOWN_GRACE_SECS_RANGE: RangeInclusive<u64> = 0..=600;
/// Allowed `http.header_read_timeout_secs`, in seconds.
pub const HEADER_READ_TIMEOUT_SECS_RANGE: RangeInclusive<u64> = 1..=300;
/// Allowed `http.idle_timeout_secs`, in seconds.
pub const IDLE_TIMEOUT_SECS_RANGE: RangeInclusive<u64> = 1..=3_600;
/// Allowed `http.request_timeout_secs`, in seconds.
pub const REQUEST_TIMEOUT_SECS_RANGE: RangeInclusive<u64> = 1..=600;
/// Allowed `http.connections_max`, in connections.
pub const CONNECTIONS_MAX_RANGE: RangeInclusive<usize> = 8..=1_000_000;
/// Allowed `http.requests_in_flight_max`, in requests (and below
/// `http.connections_max`).
pub const REQUESTS_IN_FLIGHT_MAX_RANGE: RangeInclusive<usize> = 1..=100_000;
/// Longest `log.filter`, in bytes.
pub const LOG_FILTER_BYTES_MAX: usize = 1_024;
/// `otp.ttl_secs`: from half a minute to an hour.
pub const OTP_TTL_SECS_RANGE: RangeInclusive<u32> = 30..=3_600;
/// `otp.attempts_max`.
pub const OTP_ATTEMPTS_RANGE: RangeInclusive<u8> = 1..=10;
/// `escrow.ttl_secs`: a minute to the ledger's longest pending timeout.
pub const ESCROW_TTL_SECS_RANGE: RangeInclusive<u32> = 60..=bot::service::ESCROW_TTL_SECS_MAX;
/// `bot.request_ttl_secs`: from a minute to 90 days.
pub const REQUEST_TTL_SECS_RANGE: RangeInclusive<u32> = 60..=90 * 24 * 60 * 60;
/// `bot.cash_settle_ttl_secs`: from a minute to 90 days.
pub const CASH_SETTLE_TTL_SECS_RANGE: RangeInclusive<u32> = 60..=90 * 24 * 60 * 60;
/// `bot.undo_window_secs`: from never to a day.
pub const UNDO_WINDOW_SECS_RANGE: RangeInclusive<u32> = 0..=bot::service::UNDO_WINDOW_SECS_MAX;
/// `scheduled.late_grace_secs`: from none to a week.
pub const LATE_GRACE_SECS_RANGE: RangeInclusive<u32> = 0..=7 * 24 * 60 * 60;
/// `scheduled.notice_before_secs`: from none to a week.
pub const NOTICE_BEFORE_SECS_RANGE: RangeInclusive<u32> = 0..=7 * 24 * 60 * 60;
/// `limits.commands_burst_max`, in commands.
pub const COMMANDS_BURST_RANGE: RangeInclusive<u32> = 1..=1_000;
/// `limits.commands_per_minute_max`, in commands a minute.
pub const COMMANDS_PER_MINUTE_RANGE: RangeInclusive<u32> = 1..=6_000;
/// `limits.requests_sent_per_hour_max` and
/// `limits.requests_received_per_hour_max`, in requests an hour.
pub const REQUESTS_PER_HOUR_RANGE: RangeInclusive<u32> = 1..=10_000;
/// `trust.verification.tolerance_secs`: how far a callback's timestamp may
/// be from paybot's clock, in seconds.
pub const VERIFICATION_TOLERANCE_SECS_RANGE: RangeInclusive<u32> = 1..=3_600;

/// A named range with its unit, for [`within`].
pub(super) trait Bound {
    type Int: Copy + PartialOrd + fmt::Display + for<'de> Deserialize<'de>;
    const RANGE: RangeInclusive<Self::Int>;
    /// What the number counts, for the message: `"seconds"`.
    const UNIT: &'static str;
}

/// Reads a number of `B::Int` (a value of another type is refused by its
/// own deserializer, naming the type) and refuses one outside `B::RANGE`.
pub(super) fn within<'de, D: Deserializer<'de>, B: Bound>(
    deserializer: D,
) -> Result<B::Int, D::Error> {
    let n = B::Int::deserialize(deserializer)?;
    if B::RANGE.contains(&n) {
        Ok(n)
    } else {
        Err(serde::de::Error::custom(format!(
            "must be between {} and {} {}",
            B::RANGE.start(),
            B::RANGE.end(),
            B::UNIT
        )))
    }
}

macro_rules! bound {
    ($(#[$doc:meta])* $name:ident: $int:ty = $range:ident, $unit:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub(super) enum $name {}
        impl Bound for $name {
            type Int = $int;
            const RANGE: RangeInclusive<$int> = $range;
            const UNIT: &'static str = $unit;
        }
    };
}

bound!(PoolConnections: u32 = POOL_CONNECTIONS_RANGE, "connections");
bound!(SweepInterval: u64 = SWEEP_INTERVAL_MS_RANGE, "milliseconds");
bound!(ShutdownGrace: u64 = SHUTDOWN_GRACE_SECS_RANGE, "seconds");
bound!(HeaderReadTimeout: u64 = HEADER_READ_TIMEOUT_SECS_RANGE, "seconds");
bound!(IdleTimeout: u64 = IDLE_TIMEOUT_SECS_RANGE, "seconds");
bound!(RequestTimeout: u64 = REQUEST_TIMEOUT_SECS_RANGE, "seconds");
bound!(Connections: usize = CONNECTIONS_MAX_RANGE, "connections");
bound!(RequestsInFlight: usize = REQUESTS_IN_FLIGHT_MAX_RANGE, "requests");
bound!(OtpTtl: u32 = OTP_TTL_SECS_RANGE, "seconds");
bound!(OtpAttempts: u8 = OTP_ATTEMPTS_RANGE, "tries");
bound!(EscrowTtl: u32 = ESCROW_TTL_SECS_RANGE, "seconds");
bound!(RequestTtl: u32 = REQUEST_TTL_SECS_RANGE, "seconds");
bound!(CashSettleTtl: u32 = CASH_SETTLE_TTL_SECS_RANGE, "seconds");
bound!(LateGrace: u32 = LATE_GRACE_SECS_RANGE, "seconds");
bound!(UndoWindow: u32 = UNDO_WINDOW_SECS_RANGE, "seconds");
bound!(NoticeBefore: u32 = NOTICE_BEFORE_SECS_RANGE, "seconds");
bound!(CommandsBurst: u32 = COMMANDS_BURST_RANGE, "commands");
bound!(CommandsPerMinute: u32 = COMMANDS_PER_MINUTE_RANGE, "commands a minute");
bound!(RequestsPerHour: u32 = REQUESTS_PER_HOUR_RANGE, "requests an hour");
bound!(VerificationTolerance: u32 = VERIFICATION_TOLERANCE_SECS_RANGE, "seconds");
