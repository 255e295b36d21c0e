//! Every sentence the core says to a chat user, gathered per command
//! family (one file each), so they can be read, reviewed and later
//! translated in one place, and the small pieces they share (a memo, a
//! duration, tries left).
//!
//! The design decision to know: a text is a function of named arguments
//! that returns the finished sentence (or a `const` when it takes none);
//! the families decide who sees it and when, never its wording.

pub(crate) mod account;
pub(crate) mod autopay;
pub(crate) mod cards;
pub(crate) mod escrow;
pub(crate) mod holds;
pub(crate) mod inbox;
pub(crate) mod limits;
pub(crate) mod link;
pub(crate) mod notices;
pub(crate) mod operator;
pub(crate) mod pay;
pub(crate) mod pay_many;
pub(crate) mod requests;
pub(crate) mod resolve;
pub(crate) mod rules;
pub(crate) mod second_factor;
pub(crate) mod settle;
pub(crate) mod splits;
pub(crate) mod standing;
pub(crate) mod tab;
pub(crate) mod turn;

use crate::command::Memo;
use crate::message::Platform;

/// How a platform is named to people.
pub(crate) fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Mock => "mock",
        Platform::Telegram => "Telegram",
        Platform::Discord => "Discord",
    }
}

/// ` for “memo”`, or nothing without a memo.
pub(crate) fn with_memo(memo: Option<&Memo>) -> String {
    memo.map(|m| format!(" for \u{201c}{m}\u{201d}"))
        .unwrap_or_default()
}

/// A duration in the largest whole unit: "5 minutes", "7 days".
pub(crate) fn minutes(secs: u32) -> String {
    match secs {
        s if s % 86_400 == 0 && s >= 86_400 => plural(s / 86_400, "day"),
        s if s % 3_600 == 0 && s >= 3_600 => plural(s / 3_600, "hour"),
        s if s % 60 == 0 && s >= 60 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

/// "1 try", "3 tries": what is left of a code's wrong attempts.
pub(crate) fn tries(n: u8) -> String {
    if n == 1 {
        "1 try".to_owned()
    } else {
        format!("{n} tries")
    }
}

pub(crate) fn plural(n: u32, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}
