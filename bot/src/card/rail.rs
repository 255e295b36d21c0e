//! The card-rail port: [`CardRail`], and the values that cross it in the
//! core's own terms.
//!
//! The decision to know: the port speaks no network's vocabulary. A request
//! is a [`CardTransfer`] (the core's transfer id, the card's token, the
//! amount, the time of the first attempt); an answer is approved, declined
//! with a [`DeclineReason`] a user can read, or pending with an opaque
//! [`RailReference`] to ask about later. What the network calls those
//! (trace numbers, action codes, status ids) the adapter derives, encodes
//! into the opaque [`RailReference`] and [`DeclineCode`], and reads back;
//! the core only stores them as text.

use std::fmt;

use async_trait::async_trait;
use ledger::{Amount, TransferId};

use super::{
    CARD_TOKEN_BYTES_MAX, CardNumber, DECLINE_CODE_BYTES_MAX, Expiry, RAIL_REFERENCE_BYTES_MAX,
};
use crate::calendar::UtcMoment;

/// A value from (or for) the rail that does not have its shape. Names the
/// field, never quotes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {field}")]
pub struct RailFieldError {
    pub field: &'static str,
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The rail's stand-in for a card number: what paybot stores and sends for
/// a pull or push. 1 to [`CARD_TOKEN_BYTES_MAX`] ASCII letters, digits, `-`
/// or `_`. A network token may itself look like a card number, so `Debug`
/// shows only its last 4 characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardToken(String);

impl CardToken {
    pub fn new(text: &str) -> Result<CardToken, RailFieldError> {
        let ok =
            (1..=CARD_TOKEN_BYTES_MAX).contains(&text.len()) && text.bytes().all(is_token_char);
        ok.then(|| CardToken(text.to_owned()))
            .ok_or(RailFieldError {
                field: "card token",
            })
    }

    /// For the rail's request body and for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = self
            .0
            .get(self.0.len().saturating_sub(4)..)
            .unwrap_or_default();
        write!(f, "CardToken(..{tail})")
    }
}

/// Why the card's issuer said no, in words for the card's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeclineReason {
    /// The issuer declined without a reason.
    DoNotHonor,
    /// The card number is not one the issuer knows.
    InvalidCard,
    InsufficientFunds,
    ExpiredCard,
    SuspectedFraud,
    /// Over the card's amount limit.
    OverLimit,
    /// Any other reason, or none the rail names.
    Other,
}

impl DeclineReason {
    /// One sentence for the card's owner (private chat only).
    pub fn user_text(self) -> &'static str {
        match self {
            DeclineReason::DoNotHonor => {
                "your bank declined the card; ask your bank why, or use another card"
            }
            DeclineReason::InvalidCard => "your bank does not recognise this card",
            DeclineReason::InsufficientFunds => "the card does not have enough funds",
            DeclineReason::ExpiredCard => "the card has expired",
            DeclineReason::SuspectedFraud => {
                "your bank declined it as possible fraud; please contact your bank"
            }
            DeclineReason::OverLimit => "that is over the card's limit; try a smaller amount",
            DeclineReason::Other => "the card was declined",
        }
    }
}

impl fmt::Display for DeclineReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.user_text())
    }
}

/// Declares a text newtype for a rail's field: a private `String` whose
/// `new` admits a length within `$lengths` bytes, each byte passing
/// `$char_ok`, and otherwise refuses with a [`RailFieldError`] naming
/// `$field`; with `as_str`, `Display` (the text) and `Debug` (`Name(text)`).
/// The core's opaque texts use it, and so does an adapter for its network's
/// own fields, which stay in the adapter.
#[macro_export]
macro_rules! rail_text {
    ($(#[$doc:meta])* $name:ident, $field:literal, |$b:ident| $char_ok:expr, $lengths:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The text if its length and every byte fit the field.
            pub fn new(text: &str) -> Result<$name, $crate::card::RailFieldError> {
                let ok = ($lengths).contains(&text.len()) && text.bytes().all(|$b| $char_ok);
                ok.then(|| $name(text.to_owned()))
                    .ok_or($crate::card::RailFieldError { field: $field })
            }

            /// For storage and for the rail that made it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

crate::rail_text!(
    /// The rail's own name for a request it approved or has not decided
    /// yet: opaque to the core, which stores a pending one as text and hands
    /// it back to [`CardRail::status`]. 1 to [`RAIL_REFERENCE_BYTES_MAX`]
    /// bytes of printable ASCII.
    RailReference,
    "rail reference",
    |b| b.is_ascii_graphic(),
    1..=RAIL_REFERENCE_BYTES_MAX
);
crate::rail_text!(
    /// The rail's own code for a decline, kept with the operation for the
    /// operator (the [`DeclineReason`] is what the user reads). 1 to
    /// [`DECLINE_CODE_BYTES_MAX`] bytes of printable ASCII.
    DeclineCode,
    "decline code",
    |b| b.is_ascii_graphic(),
    1..=DECLINE_CODE_BYTES_MAX
);

/// One pull (card → wallet) or push (wallet → card) as the core asks the
/// rail for it, and the original of a reversal.
///
/// Its identity is the core's transfer id: the rail derives whatever the
/// network needs to recognise a resend from it, and `initiated_at` is the
/// time of the first attempt (stored with the request, so that a resend is
/// the same request, field for field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardTransfer {
    transfer_id: TransferId,
    token: CardToken,
    amount: Amount,
    initiated_at: UtcMoment,
}

impl CardTransfer {
    pub fn new(
        transfer_id: TransferId,
        token: CardToken,
        amount: Amount,
        initiated_at: UtcMoment,
    ) -> CardTransfer {
        CardTransfer {
            transfer_id,
            token,
            amount,
            initiated_at,
        }
    }

    pub fn transfer_id(&self) -> TransferId {
        self.transfer_id
    }

    pub fn token(&self) -> &CardToken {
        &self.token
    }

    pub fn amount(&self) -> Amount {
        self.amount
    }

    pub fn initiated_at(&self) -> UtcMoment {
        self.initiated_at
    }
}

/// What the rail decided about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RailOutcome {
    /// The money moved. `reference` is the rail's name for the approval.
    Approved { reference: RailReference },
    /// The money did not move, and will not for this request: `reason` for
    /// the user, `code` (the rail's own) for the record.
    Declined {
        reason: DeclineReason,
        code: DeclineCode,
    },
    /// Accepted, not yet decided: ask again with [`CardRail::status`] and
    /// `reference` (or resend the same request, which answers the same).
    Pending { reference: RailReference },
}

/// A rail call that produced no decision. The text is for the log and never
/// holds a card number or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RailError {
    /// The rail could not be reached or failed (timeout, connection, 5xx):
    /// whether the money moved is unknown. Resend the same
    /// [`CardTransfer`] (same transfer id, so it cannot move twice) or ask
    /// for its status later; never make a new one.
    #[error("card rail unavailable, try again with the same request: {0}")]
    Transient(String),
    /// The rail refused the request itself (bad key, bad request, unknown
    /// reference, the same request id with other fields): sending it again
    /// will not help. Nothing moved.
    #[error("card rail refused the request: {0}")]
    Permanent(String),
}

/// The port to a card network: linking a card, moving money between a card
/// and the wallet, and asking about a slow request. Implemented by
/// `paybot-cards` (an HTTP client shaped like Visa Direct, and its
/// simulator); the core never sees the network's own types.
///
/// Every money-moving call is idempotent by the [`CardTransfer`]'s transfer
/// id: calling it again with the same transfer returns the first decision
/// (or the current one, if it was pending), never a second movement.
#[async_trait]
pub trait CardRail: Send + Sync + fmt::Debug {
    /// Trades a card number and expiry for a token. The number goes to the
    /// rail and nowhere else.
    async fn tokenize(&self, card: &CardNumber, expiry: Expiry) -> Result<CardToken, RailError>;

    /// Pulls `transfer.amount()` from the card into paybot (a top-up).
    async fn pull(&self, transfer: &CardTransfer) -> Result<RailOutcome, RailError>;

    /// Pushes `transfer.amount()` from paybot to the card (a cash-out).
    async fn push(&self, transfer: &CardTransfer) -> Result<RailOutcome, RailError>;

    /// Reverses an approved pull in full (`original` is that pull, as it
    /// was sent). A pull is reversed at most once.
    async fn reverse(&self, original: &CardTransfer) -> Result<RailOutcome, RailError>;

    /// The decision on a request that was [`RailOutcome::Pending`], by the
    /// reference the rail gave then.
    async fn status(&self, reference: &RailReference) -> Result<RailOutcome, RailError>;
}
