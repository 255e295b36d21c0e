//! `paybot-telegram`: Telegram through teloxide (long polling, or webhook
//! mounted in paybot's axum server).
//!
//! The design decision to know: teloxide types stop in this crate's one
//! conversion module; the `bot` core never sees them. The API base URL is a
//! setting so tests run the real client against a local fake Bot API.
//!
//! Arrives with the Telegram adapter issue.
