//! The update conversion for fuzz targets only (feature `fuzzing`, off in
//! every build of paybot): bytes in, as the webhook and long polling read
//! them, platform-neutral values out.
//!
//! The decision to know: this module exists so that the conversion can be
//! fuzzed without teloxide types in the crate's public API; it adds no
//! behaviour, it only reads the bytes as an update and calls the private
//! conversion the adapter itself uses.

use bot::message::Incoming;
use teloxide::types::Update;

use crate::convert::{self, BotIdentity};

/// What an update means to paybot, without Telegram's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A message for the core.
    Message(Incoming),
    /// A press on one of our inline buttons, as the command the core gets.
    Button(Incoming),
    /// Not for paybot; the reason the adapter logs.
    Ignored(&'static str),
}

/// Reads `body` as a Telegram update (`None` if it is not one) and converts
/// it as [`crate::Telegram`] does for the bot `me`.
pub fn inbound_from_json(body: &[u8], me: &BotIdentity) -> Option<Inbound> {
    let update = serde_json::from_slice::<Update>(body).ok()?;
    Some(match convert::inbound(&update, me) {
        convert::Inbound::Message(incoming) => Inbound::Message(incoming),
        convert::Inbound::Button { incoming, .. } => Inbound::Button(incoming),
        convert::Inbound::Ignored(reason) => Inbound::Ignored(reason),
    })
}
