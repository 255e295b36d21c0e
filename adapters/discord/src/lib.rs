//! `paybot-discord`: Discord slash commands through serenity, over the HTTP
//! interactions endpoint (Ed25519 signature and timestamp checked) and over
//! the gateway.
//!
//! The design decision to know: serenity types stop in this crate, and
//! every interaction, however it arrived, goes through the one conversion
//! module ([`convert`]) as raw JSON, read leniently. Users are identified by
//! Discord user ids, never by display names.
//!
//! Work in progress (the Discord issue): settings, request verification and
//! conversion are here and tested; the endpoint, command registration, DMs
//! and gateway mode come next, and the adapter is not started by
//! `paybot serve` yet.

pub mod config;
pub mod convert;
pub mod verify;

pub use config::{ConfigError, PublicKey, Snowflake, Token};
pub use convert::Inbound;
pub use verify::{Rejected, RequestVerifier};
