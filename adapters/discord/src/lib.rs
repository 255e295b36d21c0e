//! `paybot-discord`: Discord slash commands through serenity, over the HTTP
//! interactions endpoint (Ed25519 signature and timestamp checked) and over
//! the gateway.
//!
//! The design decision to know: serenity types stop in this crate's one
//! conversion module, and users are identified by Discord user ids, never by
//! display names.
//!
//! Arrives with the Discord adapter issue.
