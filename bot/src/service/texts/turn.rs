//! What any message may get back, whatever its command: the internal-error
//! reply, the "I sent you a DM" note, the command rate limit, the invite to
//! a direct chat, and the answers to a card number where none belongs.

/// What a chat user sees when something broke on our side.
pub const INTERNAL_ERROR_TEXT: &str =
    "Sorry, something went wrong on my side and nothing was changed. Please try again in a minute.";

/// The answer to a command in a direct chat that holds what looks like a
/// card number (other than `/card add`): nothing was done.
pub const CARD_IN_DIRECT_COMMAND_TEXT: &str = "That command looks like it holds a card number, so I did nothing with it: I never keep a card number or pass one on. Leave it out (of a memo too); to link a card, send /card add NUMBER MM/YY.";
/// The answer to plain text in a direct chat that looks like it holds a
/// card number.
pub const CARD_IN_DIRECT_TEXT: &str = "That looks like a card number. I did nothing with it and keep none; to link a card, send /card add NUMBER MM/YY.";

/// The answer to a direct message that is not a command.
pub(crate) const NOT_A_COMMAND_TEXT: &str =
    "I only understand commands, like /pay @bob 20 for pizza. Send /help to see them all.";

/// The answer to a direct message that is only a one-time code.
pub(crate) const BARE_CODE_TEXT: &str =
    "To confirm a payment, send /confirm and the code, like /confirm 123456.";

/// What replaces a reply that looks like it holds a card number.
pub(crate) const WITHHELD_TEXT: &str =
    "(I withheld my answer: it would have shown what looks like a card number.)";

/// The public note in a group when the sender was answered privately.
pub(crate) fn sent_you_a_dm(me: &str) -> String {
    format!("{me}, I sent you a DM.")
}

/// A command refused by the rate limit; `me` names the sender in a group.
pub(crate) fn commands_too_fast(me: Option<&str>, per_minute_max: u32, until: &str) -> String {
    let text = format!(
        "sending me commands faster than I can handle (at most {per_minute_max} a minute). I did not do that one; you can go on from {until}."
    );
    match me {
        Some(me) => format!("{me}, you are {text}"),
        None => format!("You are {text}"),
    }
}

/// A group command from someone the bot cannot write to privately yet.
pub(crate) fn open_a_direct_chat_first(me: &str, invite_url: &str) -> String {
    format!(
        "{me}, I can't message you privately yet. Open {invite_url} and press Start, then send your command again."
    )
}
