//! The argument types of commands: each a newtype with a private field and a
//! constructor that returns a typed error, so the core never handles raw
//! text for a code, a reference, a payload or a memo.
//!
//! The decision to know: the secrets among them ([`OtpCode`], [`LinkCode`],
//! [`StartPayload`]) have no `Display` and a `Debug` that hides them.

use std::fmt;

use super::grammar::{LINK_CODE_RE, OTP_CODE_RE, SHORT_REF_RE, START_PAYLOAD_RE, is_match};
use crate::card;
use crate::otp::OTP_DIGITS;
use crate::text;

/// The longest memo, in characters, after clean-up. Longer is refused, never cut.
pub const MEMO_CHARS_MAX: usize = 140;
/// Characters in an account-link code.
pub const LINK_CODE_CHARS: usize = 8;
/// The characters of a link code: upper case letters and digits without the
/// look-alikes `I`, `O`, `0` and `1`.
pub const LINK_CODE_ALPHABET: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Shortest payment/request/split reference, in characters.
pub const SHORT_REF_CHARS_MIN: usize = 4;
/// Longest payment/request/split reference, in characters.
pub const SHORT_REF_CHARS_MAX: usize = 12;
/// Longest `/start` deep-link payload, in bytes (Telegram's limit).
pub const START_PAYLOAD_BYTES_MAX: usize = 64;

// ---------------------------------------------------------------------------
// Argument types.

/// A 6-digit one-time confirmation code. A secret: its `Debug` hides the
/// digits and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

/// Why text is not an [`OtpCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a code is exactly {OTP_DIGITS} digits 0-9")]
pub struct InvalidOtpCode;

impl OtpCode {
    /// Exactly [`OTP_DIGITS`] ASCII digits, nothing else.
    pub fn parse(text: &str) -> Result<OtpCode, InvalidOtpCode> {
        if is_match(&OTP_CODE_RE, text) {
            Ok(OtpCode(text.to_owned()))
        } else {
            Err(InvalidOtpCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(******)")
    }
}

/// An account-link code: [`LINK_CODE_CHARS`] characters of
/// [`LINK_CODE_ALPHABET`], typed in any case, held in upper case. A secret:
/// its `Debug` hides it and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkCode(String);

/// Why text is not a [`LinkCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a link code is {LINK_CODE_CHARS} letters and digits")]
pub struct InvalidLinkCode;

impl LinkCode {
    pub fn parse(text: &str) -> Result<LinkCode, InvalidLinkCode> {
        if text.len() != LINK_CODE_CHARS {
            return Err(InvalidLinkCode);
        }
        let upper = text.to_ascii_uppercase();
        if is_match(&LINK_CODE_RE, &upper) {
            Ok(LinkCode(upper))
        } else {
            Err(InvalidLinkCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LinkCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkCode(********)")
    }
}

/// A payment, request or split reference as shown to users (`P7K2QX`):
/// [`SHORT_REF_CHARS_MIN`] to [`SHORT_REF_CHARS_MAX`] ASCII letters and
/// digits, held in upper case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShortRef(String);

/// Why text is not a [`ShortRef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a reference is {SHORT_REF_CHARS_MIN} to {SHORT_REF_CHARS_MAX} letters and digits")]
pub struct InvalidShortRef;

impl ShortRef {
    pub fn parse(text: &str) -> Result<ShortRef, InvalidShortRef> {
        if is_match(&SHORT_REF_RE, text) {
            Ok(ShortRef(text.to_ascii_uppercase()))
        } else {
            Err(InvalidShortRef)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ShortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShortRef({})", self.0)
    }
}

/// The payload of `/start PAYLOAD` from a deep link: 1 to
/// [`START_PAYLOAD_BYTES_MAX`] of `A-Z a-z 0-9 _ -`. It may carry a token, so
/// its `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct StartPayload(String);

/// Why text is not a [`StartPayload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a start payload is 1 to {START_PAYLOAD_BYTES_MAX} of A-Z, a-z, 0-9, `_` and `-`")]
pub struct InvalidStartPayload;

impl StartPayload {
    pub fn parse(text: &str) -> Result<StartPayload, InvalidStartPayload> {
        if is_match(&START_PAYLOAD_RE, text) {
            Ok(StartPayload(text.to_owned()))
        } else {
            Err(InvalidStartPayload)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StartPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StartPayload({} bytes)", self.0.len())
    }
}

/// A payment's note (`pizza` in `/pay @bob 20 for pizza`): 1 to
/// [`MEMO_CHARS_MAX`] characters on one line, cleaned by
/// [`text::clean_free_text`] (nothing invisible, no double quote mark that
/// could close the bot's “ ” around it), and never holding what looks like
/// a card number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Memo(String);

/// Why text is not a [`Memo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemoError {
    #[error("The memo after `for` is empty")]
    Empty,
    #[error("The memo is {chars} characters long; the limit is {MEMO_CHARS_MAX}")]
    TooLong { chars: usize },
    /// Says nothing of the digits.
    #[error("The memo looks like it holds a card number, which I never keep or pass on")]
    CardNumber,
}

/// What a stored memo that holds a card number is shown as (memos stored
/// before they were refused).
pub const MEMO_WITHHELD_TEXT: &str = "memo withheld: it looked like a card number";

impl Memo {
    /// Cleans up what was typed after `for` ([`text::clean_free_text`]:
    /// whitespace runs become one space, invisible characters go, double
    /// quote marks become `'`, the ends are trimmed). Then it must be 1 to
    /// [`MEMO_CHARS_MAX`] characters (longer is refused, never cut) and hold
    /// nothing that looks like a card number.
    pub fn parse(text: &str) -> Result<Memo, MemoError> {
        // Bounded before any work: a command is at most
        // `COMMAND_TEXT_BYTES_MAX` bytes, a stored memo far less.
        let clean = text::clean_free_text(text);
        match clean.chars().count() {
            0 => Err(MemoError::Empty),
            chars if chars > MEMO_CHARS_MAX => Err(MemoError::TooLong { chars }),
            _ if card::contains_card_number(&clean) => Err(MemoError::CardNumber),
            _ => Ok(Memo(clean)),
        }
    }

    /// Reads a memo back from storage. One stored before card numbers were
    /// refused in memos comes back as [`MEMO_WITHHELD_TEXT`], so what holds
    /// it can still be shown; `None` when it is no memo at all.
    pub fn from_stored(text: &str) -> Option<Memo> {
        match Memo::parse(text) {
            Ok(memo) => Some(memo),
            Err(MemoError::CardNumber) => Some(Memo(MEMO_WITHHELD_TEXT.to_owned())),
            Err(MemoError::Empty | MemoError::TooLong { .. }) => None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
