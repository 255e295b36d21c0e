//! Arbitrary bytes read as a Telegram update (as the webhook and long
//! polling read them) and converted as the adapter does, through
//! `paybot_telegram::fuzzing::inbound_from_json` (feature `fuzzing`).
//!
//! Asserts: no panic; the sender of a message or button press is no bot and
//! has a display name of at most `DISPLAY_NAME_CHARS_MAX` characters without
//! control characters; every rewritten text mention's `<@ID>` token appears
//! in the text; a button's text is our command shape (starts with `/`, at
//! most `CALLBACK_DATA_BYTES_MAX` bytes). The text then goes through
//! `bot::command::parse`, as the core would do next (no panic). The text of
//! a message is not bounded here: Telegram bounds it, and the core refuses
//! text over `MESSAGE_TEXT_BYTES_MAX`.
#![no_main]

use bot::command::{self, ParseContext};
use bot::message::{Incoming, User};
use ledger::Currency;
use libfuzzer_sys::fuzz_target;
use paybot_telegram::fuzzing::{Inbound, inbound_from_json};
use paybot_telegram::{BotIdentity, CALLBACK_DATA_BYTES_MAX, DISPLAY_NAME_CHARS_MAX};

const BOT_USERNAME: &str = "PayBot";

const CTX: ParseContext<'static> = ParseContext {
    bot_username: Some(BOT_USERNAME),
    default_currency: Currency::EUR,
};

fuzz_target!(|body: &[u8]| {
    let me = BotIdentity {
        id: 7_000_000_001,
        username: BOT_USERNAME.to_owned(),
    };
    let Some(inbound) = inbound_from_json(body, &me) else {
        return;
    };
    match inbound {
        Inbound::Message(incoming) => check(&incoming),
        Inbound::Button(incoming) => {
            assert!(incoming.text.starts_with('/'), "{:?}", incoming.text);
            assert!(incoming.text.len() <= CALLBACK_DATA_BYTES_MAX);
            check(&incoming);
        }
        Inbound::Ignored(_) => {}
    }
});

fn check(incoming: &Incoming) {
    assert!(!incoming.sender.is_bot);
    check_display_name(&incoming.sender);
    for mention in &incoming.mentions {
        assert!(
            incoming.text.contains(&mention.token),
            "mention {:?} not in {:?}",
            mention.token,
            incoming.text
        );
        check_display_name(&mention.user);
    }
    if let Some(author) = &incoming.reply_to {
        check_display_name(author);
    }
    let _ = command::parse(&incoming.text, &CTX);
}

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
