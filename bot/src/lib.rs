//! `bot`: the chat-platform-neutral core of paybot.
//!
//! It turns a platform-neutral message ("alice in group party says `/pay @bob
//! 20`") into ledger operations and replies, each either public (the chat it
//! came from) or private (a DM to one user). The design decision to know: the
//! core depends on no chat SDK, no HTTP framework, no database driver and no
//! card network; it defines small traits ("ports") that adapters implement.

pub mod answered;
pub mod calendar;
pub mod card;
pub mod command;
pub mod history;
pub mod identity;
pub mod limits;
pub mod log_limit;
pub mod message;
pub mod notify;
pub mod otp;
mod periodic;
pub mod profile;
pub mod recurrence;
pub mod service;
pub mod split;
pub mod stats;
pub mod store;
pub mod tab;
pub mod text;
pub mod trust;

pub use profile::PlatformProfile;
pub use service::{Bot, BotBuilder, BotConfig, DM_START_PAYLOAD};
