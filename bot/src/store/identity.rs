//! Who is who: platform identities and the users they belong to, and the
//! records of `/link` (codes, confirmations waiting, wrong-code attempts).
//!
//! The one decision to know: platform ids are the identity and handles only
//! lookup keys; an identity moves between users only through these records,
//! each taken once (a code or a waiting confirmation is single use).

use crate::message::{Handle, Platform, PlatformUserId};
use crate::otp::OTP_HASH_BYTES;

#[cfg(doc)]
use super::Store;
use super::UserId;

/// A platform identity as last seen, joined to its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub platform: Platform,
    pub id: PlatformUserId,
    pub user: UserId,
    pub handle: Option<Handle>,
    /// [`crate::identity::skeleton`] of the handle, for look-alike search.
    pub skeleton: Option<String>,
    pub display_name: String,
    /// The user has talked to the bot themselves (not only been mentioned).
    pub started: bool,
    /// The user has written to the bot in a direct chat, so the bot may
    /// message them privately (Telegram forbids a bot to open a DM).
    pub dm_open: bool,
    /// The first sighting (the identity's own message, or a mention of it),
    /// never updated: escrow for a handle is released only to an identity
    /// first seen at or after the payment (a known one that took the handle
    /// since gets nothing).
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// When the identity started using its current wallet (first seen, or
    /// its last link or unlink).
    pub user_since_ms: i64,
}

/// What a chat event tells about a user, for [`Store::upsert_identity`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenUser {
    pub platform: Platform,
    pub id: PlatformUserId,
    pub handle: Option<Handle>,
    pub skeleton: Option<String>,
    pub display_name: String,
    /// This event was sent by the user (sets [`Identity::started`]); a
    /// mention leaves it as it was.
    pub speaking: bool,
    /// This event is the user's own message in a direct chat with the bot:
    /// sets [`Identity::dm_open`] (never cleared).
    pub direct: bool,
}

/// A `/link` code, stored as a keyed hash.
pub type LinkCodeHash = [u8; OTP_HASH_BYTES];

/// A `/link CODE` waiting for its `/link confirm`: the identity that sent
/// the code and the wallet the code belongs to. Nothing has moved yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingLink {
    pub platform: Platform,
    pub id: PlatformUserId,
    /// The identity's user when it sent the code: the wallet it would
    /// leave (its money moves to `to` on confirmation).
    pub from: UserId,
    /// The wallet the code belongs to.
    pub to: UserId,
    pub created_at_ms: i64,
    /// The confirmation is refused from this instant on.
    pub expires_at_ms: i64,
}

/// The bounds on wrong `/link` codes that [`Store::begin_link_attempt`]
/// enforces: at most `per_identity_max` from one identity within any
/// `per_identity_window_ms`, at most `global_max` from everyone together
/// within any `global_window_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkAttemptBounds {
    pub per_identity_max: u32,
    pub per_identity_window_ms: i64,
    pub global_max: u32,
    pub global_window_ms: i64,
}

/// The verdict of [`Store::begin_link_attempt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkAttempt {
    /// Try the code. The attempt counts as a wrong code until
    /// [`Store::forget_link_attempt`] is called with this id (the code was
    /// right).
    Allowed { attempt: i64 },
    /// Too many wrong codes from this identity; one frees up at `until_ms`.
    IdentityBound { until_ms: i64 },
    /// Too many wrong codes from everyone; one frees up at `until_ms`.
    GlobalBound { until_ms: i64 },
}
