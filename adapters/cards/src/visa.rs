//! Visa's vocabulary, and the one place it meets the core's card port: the
//! ISO 8583 trace numbers ([`TraceNumbers`]: STAN and RRN), the issuer's
//! [`ApprovalCode`], the [`ActionCode`] of an answer and the
//! [`DeclineReason`] it gives, the [`StatusId`] of a slow request, and
//! `localTransactionDateTime`'s format.
//!
//! The decision to know: the core's port speaks only of approvals,
//! declines and pending requests, with opaque [`RailReference`]s and
//! [`DeclineCode`]s; this module derives the network's numbers from the
//! core's transfer id (so a resend after a crash carries the numbers of the
//! first, and the network answers it with its first decision), and encodes
//! what it must find again into those opaque texts: a pending request as
//! `pull:ID:RRN` (its [`StatusId`]), an approval as `RRN` or
//! `RRN:APPROVALCODE` (its [`Approval`]), a decline as its action code.
//! The bot's database keeps the pending reference and the decline code,
//! in the same text as before the port spoke domain terms; an approval's
//! reference is not kept.

use std::fmt;
use std::str::FromStr;

use bot::calendar::UtcMoment;
use bot::card::{DeclineCode, DeclineReason, RailFieldError, RailReference};
use ledger::TransferId;
use sha2::{Digest, Sha256};

/// The longest [`StatusId`] (the rail's part), in bytes.
pub const STATUS_ID_BYTES_MAX: usize = 64;
/// Digits of a [`SystemsTraceAuditNumber`].
pub const STAN_DIGITS: usize = 6;
/// Characters of a [`RetrievalReferenceNumber`].
pub const RRN_CHARS: usize = 12;
/// The longest [`ApprovalCode`], in characters (ISO 8583 field 38).
pub const APPROVAL_CODE_CHARS_MAX: usize = 6;

/// Domain labels of the trace-number derivation (see [`TraceNumbers`]).
const TRACE_DOMAIN_TRANSFER: &[u8] = b"paybot.card.trace.transfer";
const TRACE_DOMAIN_REVERSAL: &[u8] = b"paybot.card.trace.reversal";
/// `10^STAN_DIGITS - 1`: trace numbers run 000001..=999999 (000000 is the
/// value a forgotten field has).
const STAN_VALUES_COUNT: u64 = 999_999;
/// `10^RRN_CHARS`.
const RRN_VALUES_COUNT: u64 = 1_000_000_000_000;
const _: () = assert!(STAN_DIGITS == 6 && RRN_CHARS == 12);

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

bot::rail_text!(
    /// ISO 8583 field 11: [`STAN_DIGITS`] ASCII digits.
    SystemsTraceAuditNumber,
    "systems trace audit number",
    |b| b.is_ascii_digit(),
    STAN_DIGITS..=STAN_DIGITS
);
bot::rail_text!(
    /// ISO 8583 field 37: [`RRN_CHARS`] ASCII letters or digits.
    RetrievalReferenceNumber,
    "retrieval reference number",
    |b| b.is_ascii_alphanumeric(),
    RRN_CHARS..=RRN_CHARS
);
bot::rail_text!(
    /// ISO 8583 field 38, the issuer's authorisation code: 1 to
    /// [`APPROVAL_CODE_CHARS_MAX`] ASCII letters or digits.
    ApprovalCode,
    "approval code",
    |b| b.is_ascii_alphanumeric(),
    1..=APPROVAL_CODE_CHARS_MAX
);

/// ISO 8583 field 39, the network's answer: two ASCII letters or digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActionCode([u8; 2]);

impl ActionCode {
    pub const APPROVED: ActionCode = ActionCode(*b"00");
    pub const DO_NOT_HONOR: ActionCode = ActionCode(*b"05");
    pub const INVALID_CARD: ActionCode = ActionCode(*b"14");
    pub const INSUFFICIENT_FUNDS: ActionCode = ActionCode(*b"51");
    pub const EXPIRED_CARD: ActionCode = ActionCode(*b"54");
    pub const SUSPECTED_FRAUD: ActionCode = ActionCode(*b"59");
    pub const OVER_LIMIT: ActionCode = ActionCode(*b"61");

    pub fn new(text: &str) -> Result<ActionCode, RailFieldError> {
        let bytes: Option<[u8; 2]> = text.as_bytes().try_into().ok();
        bytes
            .filter(|bytes| bytes.iter().all(u8::is_ascii_alphanumeric))
            .map(ActionCode)
            .ok_or(RailFieldError {
                field: "action code",
            })
    }
}

impl fmt::Display for ActionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0
            .iter()
            .try_for_each(|&b| fmt::Write::write_char(f, char::from(b)))
    }
}

impl fmt::Debug for ActionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionCode({self})")
    }
}

/// The reason an ISO 8583 action code (field 39) gives for a decline.
pub fn decline_reason(code: ActionCode) -> DeclineReason {
    match code {
        ActionCode::DO_NOT_HONOR => DeclineReason::DoNotHonor,
        ActionCode::INVALID_CARD => DeclineReason::InvalidCard,
        ActionCode::INSUFFICIENT_FUNDS => DeclineReason::InsufficientFunds,
        ActionCode::EXPIRED_CARD => DeclineReason::ExpiredCard,
        ActionCode::SUSPECTED_FRAUD => DeclineReason::SuspectedFraud,
        ActionCode::OVER_LIMIT => DeclineReason::OverLimit,
        _ => DeclineReason::Other,
    }
}

/// The core's opaque form of an action code (the text stored with a
/// declined operation).
pub fn decline_code(code: ActionCode) -> Result<DeclineCode, RailFieldError> {
    DeclineCode::new(&code.to_string())
}

/// What an approval carries: the retrieval reference number (the
/// request's, or the one the answer echoed) and the issuer's approval code
/// when the network sent one (some push approvals leave it out).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Approval {
    retrieval_reference: RetrievalReferenceNumber,
    approval_code: Option<ApprovalCode>,
}

impl Approval {
    pub fn new(
        retrieval_reference: RetrievalReferenceNumber,
        approval_code: Option<ApprovalCode>,
    ) -> Approval {
        Approval {
            retrieval_reference,
            approval_code,
        }
    }

    pub fn retrieval_reference(&self) -> &RetrievalReferenceNumber {
        &self.retrieval_reference
    }

    pub fn approval_code(&self) -> Option<&ApprovalCode> {
        self.approval_code.as_ref()
    }

    /// The core's opaque form: `RRN`, or `RRN:APPROVALCODE`.
    pub fn to_reference(&self) -> Result<RailReference, RailFieldError> {
        match &self.approval_code {
            Some(code) => RailReference::new(&format!("{}:{code}", self.retrieval_reference)),
            None => RailReference::new(self.retrieval_reference.as_str()),
        }
    }

    /// Reads back [`Approval::to_reference`].
    pub fn from_reference(reference: &RailReference) -> Result<Approval, RailFieldError> {
        let (rrn, code) = match reference.as_str().split_once(':') {
            Some((rrn, code)) => (rrn, Some(ApprovalCode::new(code)?)),
            None => (reference.as_str(), None),
        };
        Ok(Approval::new(RetrievalReferenceNumber::new(rrn)?, code))
    }
}

/// The kind of rail request: which endpoint, and where a status is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RailOperation {
    /// Card → wallet (top-up).
    Pull,
    /// Wallet → card (cash-out).
    Push,
    /// Undoing an approved pull.
    Reversal,
}

impl RailOperation {
    pub const ALL: [RailOperation; 3] = [
        RailOperation::Pull,
        RailOperation::Push,
        RailOperation::Reversal,
    ];

    /// `pull`, `push`, `reversal`: the stable name to store.
    pub fn code(self) -> &'static str {
        match self {
            RailOperation::Pull => "pull",
            RailOperation::Push => "push",
            RailOperation::Reversal => "reversal",
        }
    }

    pub fn from_code(code: &str) -> Option<RailOperation> {
        RailOperation::ALL.into_iter().find(|op| op.code() == code)
    }
}

/// Where to ask about a request the rail accepted but has not decided
/// (HTTP 202): the operation it was, the rail's id for it (1 to
/// [`STATUS_ID_BYTES_MAX`] ASCII letters, digits, `-`, `_`), and the
/// request's retrieval reference number (echoed in the eventual approval).
/// Handed to the core as the opaque [`RailReference`] of a pending
/// outcome, in its `Display` form `pull:ID:RRN` (the text the core stores),
/// and read back with `FromStr`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StatusId {
    operation: RailOperation,
    id: String,
    retrieval_reference: RetrievalReferenceNumber,
}

impl StatusId {
    pub fn new(
        operation: RailOperation,
        id: &str,
        retrieval_reference: RetrievalReferenceNumber,
    ) -> Result<StatusId, RailFieldError> {
        let ok = (1..=STATUS_ID_BYTES_MAX).contains(&id.len()) && id.bytes().all(is_id_char);
        ok.then(|| StatusId {
            operation,
            id: id.to_owned(),
            retrieval_reference,
        })
        .ok_or(RailFieldError { field: "status id" })
    }

    pub fn operation(&self) -> RailOperation {
        self.operation
    }

    /// The rail's id, safe to put in a URL path as is.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn retrieval_reference(&self) -> &RetrievalReferenceNumber {
        &self.retrieval_reference
    }

    /// The core's opaque form of this id.
    pub fn to_reference(&self) -> Result<RailReference, RailFieldError> {
        RailReference::new(&self.to_string())
    }

    /// Reads back [`StatusId::to_reference`].
    pub fn from_reference(reference: &RailReference) -> Result<StatusId, RailFieldError> {
        reference.as_str().parse()
    }
}

impl fmt::Display for StatusId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.operation.code(),
            self.id,
            self.retrieval_reference
        )
    }
}

impl fmt::Debug for StatusId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusId({self})")
    }
}

impl FromStr for StatusId {
    type Err = RailFieldError;
    fn from_str(text: &str) -> Result<StatusId, RailFieldError> {
        let refused = RailFieldError { field: "status id" };
        let mut parts = text.split(':');
        let (Some(operation), Some(id), Some(rrn), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refused);
        };
        let operation = RailOperation::from_code(operation).ok_or(refused)?;
        StatusId::new(operation, id, RetrievalReferenceNumber::new(rrn)?)
    }
}

/// The trace numbers that identify one rail request to the network: the
/// systems trace audit number and the retrieval reference number. With the
/// acquirer's BIN they are how the network recognises a resend.
///
/// Derived, never drawn: `SHA-256(domain || 0x00 || transfer id, 16 bytes
/// big-endian)`, whose first 8 bytes (big-endian, mod 999 999, plus 1) give
/// the STAN, `000001` to `999999`, and whose next 8 bytes (mod 10^12) give
/// the RRN, 12 digits. So the same transfer id always gives the same
/// numbers: a request resent after a crash carries the numbers of the
/// first. Two different transfers share both numbers with probability
/// about 10^-18.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceNumbers {
    stan: SystemsTraceAuditNumber,
    rrn: RetrievalReferenceNumber,
}

impl TraceNumbers {
    /// The trace numbers of the pull or push of `transfer_id`.
    pub fn for_transfer(transfer_id: TransferId) -> TraceNumbers {
        TraceNumbers::derive(TRACE_DOMAIN_TRANSFER, transfer_id)
    }

    /// The trace numbers of the reversal of the pull `transfer_id`:
    /// derived from the same transfer id in another domain, so a pull has
    /// exactly one reversal request, and resending it is recognised too.
    pub fn for_reversal(transfer_id: TransferId) -> TraceNumbers {
        TraceNumbers::derive(TRACE_DOMAIN_REVERSAL, transfer_id)
    }

    fn derive(domain: &[u8], id: TransferId) -> TraceNumbers {
        let mut hasher = Sha256::new();
        hasher.update(domain);
        hasher.update([0x00]);
        hasher.update(id.as_u128().to_be_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        let mut first = [0_u8; 8];
        let mut second = [0_u8; 8];
        first
            .iter_mut()
            .zip(digest.iter())
            .for_each(|(slot, b)| *slot = *b);
        second
            .iter_mut()
            .zip(digest.iter().skip(8))
            .for_each(|(slot, b)| *slot = *b);
        let stan = u64::from_be_bytes(first) % STAN_VALUES_COUNT + 1;
        let rrn = u64::from_be_bytes(second) % RRN_VALUES_COUNT;
        TraceNumbers {
            stan: SystemsTraceAuditNumber(format!("{stan:06}")),
            rrn: RetrievalReferenceNumber(format!("{rrn:012}")),
        }
    }

    pub fn stan(&self) -> &SystemsTraceAuditNumber {
        &self.stan
    }

    pub fn rrn(&self) -> &RetrievalReferenceNumber {
        &self.rrn
    }
}

/// `localTransactionDateTime`: `YYYY-MM-DDThh:mm:ss`, the UTC time of the
/// first attempt.
pub fn local_date_time(at: UtcMoment) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests;
