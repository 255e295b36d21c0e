//! `paybot_discord::convert::inbound` and `envelope` on arbitrary bytes, as
//! an interaction body arrives at the endpoint or in the gateway.
//!
//! Asserts: no panic; a `Command` has text of at most
//! `MESSAGE_TEXT_BYTES_MAX` bytes that starts with `/`, every mention's
//! token appears in that text, and its sender is no bot and has a display
//! name of at most `DISPLAY_NAME_CHARS_MAX` characters without control
//! characters; a context-menu target is no bot; an envelope's token is 1
//! to 1,000 bytes. The command text then goes through
//! `bot::command::parse`, as the core would do next (no panic).
#![no_main]

use bot::command::{self, ParseContext};
use bot::message::{MESSAGE_TEXT_BYTES_MAX, User};
use ledger::Currency;
use libfuzzer_sys::fuzz_target;
use paybot_discord::convert::{self, DISPLAY_NAME_CHARS_MAX, Inbound};

const CTX: ParseContext<'static> = ParseContext {
    bot_username: None,
    default_currency: Currency::USD,
};

fuzz_target!(|body: &[u8]| {
    match convert::inbound(body) {
        Inbound::Command(incoming) => {
            let text = &incoming.text;
            assert!(
                text.len() <= MESSAGE_TEXT_BYTES_MAX,
                "command text of {} bytes",
                text.len()
            );
            assert!(text.starts_with('/'), "{text:?}");
            for mention in &incoming.mentions {
                assert!(
                    text.contains(&mention.token),
                    "mention {:?} not in {text:?}",
                    mention.token
                );
            }
            assert!(!incoming.sender.is_bot);
            check_display_name(&incoming.sender);
            let _ = command::parse(text, &CTX);
        }
        Inbound::AskAmount { target } => {
            assert!(!target.is_bot);
            check_display_name(&target);
        }
        Inbound::Ping | Inbound::Refused(_) => {}
    }
    if let Some(envelope) = convert::envelope(body) {
        assert!(!envelope.token.is_empty() && envelope.token.len() <= 1_000);
    }
});

fn check_display_name(user: &User) {
    let name = &user.display_name;
    assert!(
        name.chars().count() <= DISPLAY_NAME_CHARS_MAX,
        "display name of {} characters",
        name.chars().count()
    );
    assert!(!name.chars().any(char::is_control), "{name:?}");
    assert!(!name.trim().is_empty());
}
