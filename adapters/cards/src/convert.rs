//! Visa Direct's JSON, and the one place it meets paybot's types.
//!
//! The request and response bodies of the Funds Transfer API (pull, push,
//! reverse, and the status query) with the field names Visa uses, the
//! tokenization call (paybot's own shape, after Visa Token Service's
//! provisioning call), and the conversions both ways: [`CardTransfer`] →
//! request (with the trace numbers and date format of `visa.rs`),
//! `(HTTP status, body)` → [`RailOutcome`]. Pure: no I/O. Nothing here is
//! `pub` outside the crate; the client and the simulator share it.
//!
//! Choices where Visa allows several:
//! - `amount` is a JSON string of the amount in major units with exactly the
//!   currency's decimals (`"20.00"` USD, `"500"` JPY), converted from minor
//!   units by integer arithmetic. Visa's schema calls it a number; its own
//!   samples send the string, and a string never passes through a float.
//! - `senderCurrencyCode` / `transactionCurrencyCode` are ISO 4217 alpha
//!   codes (`"USD"`), which Visa accepts besides the numeric ones; paybot's
//!   `Currency` is keyed by them.
//! - `acquiringBin`, `acquirerCountryCode` (ISO 3166 numeric) and
//!   `systemsTraceAuditNumber` are strings, so leading zeros survive.
//! - `localTransactionDateTime` is the UTC time of the first attempt
//!   (`YYYY-MM-DDThh:mm:ss`), stored by the core, so a resend is identical.
//! - A reversal names its original in `originalDataElements`
//!   (`systemsTraceAuditNumber`, `acquiringBin`, `transmissionDateTime` as
//!   Visa does, plus the original's `retrievalReferenceNumber`; no
//!   `approvalCode`, which the port does not carry).

use bot::card::{CardNumber, CardTransfer, Expiry, RailError, RailOutcome, contains_card_number};
use ledger::{Amount, Currency};
use serde::{Deserialize, Serialize};

use crate::visa::{
    ActionCode, Approval, ApprovalCode, RailOperation, RetrievalReferenceNumber, StatusId,
    TraceNumbers, decline_code, decline_reason, local_date_time,
};

/// The longest part of a rail's error message copied into a [`RailError`],
/// in characters.
pub(crate) const ERROR_MESSAGE_CHARS_MAX: usize = 200;
/// The most digits before the decimal point of an amount the parser reads
/// (Visa's `amount` is at most 999 999 999.999).
const AMOUNT_INTEGER_DIGITS_MAX: usize = 12;

/// `businessApplicationId` for moving money between a person's own
/// accounts (card ↔ wallet).
pub(crate) const BUSINESS_APPLICATION_ID: &str = "AA";

// ---------------------------------------------------------------------------
// Paths

pub(crate) const PULL_PATH: &str = "/visadirect/fundstransfer/v1/pullfundstransactions";
pub(crate) const PUSH_PATH: &str = "/visadirect/fundstransfer/v1/pushfundstransactions";
pub(crate) const REVERSE_PATH: &str = "/visadirect/fundstransfer/v1/reversefundstransactions";
pub(crate) const TOKENIZE_PATH: &str = "/vts/v1/tokens";
pub(crate) const TOTALS_PATH: &str = "/simulator/totals";

/// The endpoint of an operation; its status query is `{path}/{statusId}`.
pub(crate) fn operation_path(operation: RailOperation) -> &'static str {
    match operation {
        RailOperation::Pull => PULL_PATH,
        RailOperation::Push => PUSH_PATH,
        RailOperation::Reversal => REVERSE_PATH,
    }
}

// ---------------------------------------------------------------------------
// Bodies

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CardAcceptor {
    pub(crate) name: String,
    pub(crate) terminal_id: String,
    pub(crate) id_code: String,
    pub(crate) address: CardAcceptorAddress,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CardAcceptorAddress {
    /// ISO 3166 alpha-3, e.g. `USA`.
    pub(crate) country: String,
}

/// The acquirer's side of every request, from settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AcquirerFields {
    pub(crate) acquiring_bin: String,
    pub(crate) acquirer_country_code: String,
    pub(crate) card_acceptor: CardAcceptor,
}

/// The fields every funds request opens with: its trace numbers, its time
/// and the acquirer. Flattened: on the wire they are the request's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestHeader {
    pub(crate) systems_trace_audit_number: String,
    pub(crate) retrieval_reference_number: String,
    pub(crate) local_transaction_date_time: String,
    pub(crate) acquiring_bin: String,
    pub(crate) acquirer_country_code: String,
}

/// `POST .../pullfundstransactions` (an Account Funding Transaction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PullFundsRequest {
    #[serde(flatten)]
    pub(crate) header: RequestHeader,
    /// The card token, never a card number.
    pub(crate) sender_primary_account_number: String,
    pub(crate) sender_currency_code: String,
    pub(crate) amount: String,
    pub(crate) business_application_id: String,
    pub(crate) card_acceptor: CardAcceptor,
}

/// `POST .../pushfundstransactions` (an Original Credit Transaction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushFundsRequest {
    #[serde(flatten)]
    pub(crate) header: RequestHeader,
    /// The card token, never a card number.
    pub(crate) recipient_primary_account_number: String,
    pub(crate) transaction_currency_code: String,
    pub(crate) amount: String,
    pub(crate) business_application_id: String,
    pub(crate) card_acceptor: CardAcceptor,
}

/// `POST .../reversefundstransactions`: undoes an approved pull in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReverseFundsRequest {
    #[serde(flatten)]
    pub(crate) header: RequestHeader,
    pub(crate) sender_primary_account_number: String,
    pub(crate) sender_currency_code: String,
    pub(crate) amount: String,
    pub(crate) card_acceptor: CardAcceptor,
    pub(crate) original_data_elements: OriginalDataElements,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OriginalDataElements {
    pub(crate) systems_trace_audit_number: String,
    pub(crate) retrieval_reference_number: String,
    pub(crate) acquiring_bin: String,
    pub(crate) transmission_date_time: String,
}

/// The answer to a request (HTTP 200), or to a status query once decided.
/// Read leniently: unknown fields are ignored, and only `actionCode` is
/// required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FundsTransferResponse {
    pub(crate) action_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) approval_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_identifier: Option<IdValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) response_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) transmission_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) retrieval_reference_number: Option<String>,
}

/// Visa sends `transactionIdentifier` as a number; some gateways quote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum IdValue {
    Number(u64),
    Text(String),
}

/// The answer to a request not decided in time (HTTP 202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PendingResponse {
    pub(crate) status_identifier: String,
}

/// `POST /vts/v1/tokens`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenizeRequest {
    pub(crate) primary_account_number: String,
    pub(crate) expiration_date: ExpirationDate,
}

/// Never prints the number.
impl std::fmt::Debug for TokenizeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenizeRequest")
            .field("primary_account_number", &"[REDACTED]")
            .field("expiration_date", &self.expiration_date)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExpirationDate {
    /// `01` to `12`.
    pub(crate) month: String,
    /// Four digits.
    pub(crate) year: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenizeResponse {
    pub(crate) token: String,
}

/// An error answer, shaped like Visa's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorResponse {
    pub(crate) response_status: ResponseStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResponseStatus {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) severity: String,
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) info: String,
}

// ---------------------------------------------------------------------------
// Amounts

/// `amount` for Visa: major units with exactly the currency's decimals,
/// from minor units by integer arithmetic (`2000` USD → `"20.00"`, `500`
/// JPY → `"500"`).
pub(crate) fn visa_amount(amount: Amount) -> String {
    decimal_text(amount.minor(), amount.currency())
}

/// Signed minor units as a plain decimal in major units (`-20.00`, `0`).
pub(crate) fn decimal_text(minor: i64, currency: Currency) -> String {
    let exponent = usize::try_from(currency.exponent()).unwrap_or_default();
    let digits = minor.unsigned_abs().to_string();
    let sign = if minor < 0 { "-" } else { "" };
    if exponent == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = exponent + 1);
    let split = padded.len().saturating_sub(exponent);
    let (major, fraction) = padded.split_at(split);
    format!("{sign}{major}.{fraction}")
}

/// Reads `amount` back, strictly: ASCII digits, and if there is a decimal
/// point, 1 to `exponent` digits after it. A positive amount of paybot's
/// range, or `None`.
pub(crate) fn parse_visa_amount(text: &str, currency: Currency) -> Option<Amount> {
    let exponent = usize::try_from(currency.exponent()).ok()?;
    let (major, fraction) = match text.split_once('.') {
        Some((major, fraction)) if !fraction.is_empty() => (major, fraction),
        Some(_) => return None,
        None => (text, ""),
    };
    let digits_only = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if major.is_empty()
        || major.len() > AMOUNT_INTEGER_DIGITS_MAX
        || fraction.len() > exponent
        || !digits_only(major)
        || !digits_only(fraction)
    {
        return None;
    }
    let padded = format!("{major}{fraction:0<exponent$}");
    let minor: i64 = padded.parse().ok()?;
    Amount::from_minor(minor, currency).ok()
}

/// A currency code as sent: three upper-case ASCII letters, registered.
pub(crate) fn parse_currency(code: &str) -> Option<Currency> {
    let shaped = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
    shaped.then(|| Currency::from_code(code).ok()).flatten()
}

// ---------------------------------------------------------------------------
// paybot → Visa

/// A request's header under `trace`, sent at `at` (local time, as sent).
fn request_header(trace: &TraceNumbers, at: String, acquirer: &AcquirerFields) -> RequestHeader {
    RequestHeader {
        systems_trace_audit_number: trace.stan().to_string(),
        retrieval_reference_number: trace.rrn().to_string(),
        local_transaction_date_time: at,
        acquiring_bin: acquirer.acquiring_bin.clone(),
        acquirer_country_code: acquirer.acquirer_country_code.clone(),
    }
}

pub(crate) fn pull_request(transfer: &CardTransfer, acquirer: &AcquirerFields) -> PullFundsRequest {
    let trace = TraceNumbers::for_transfer(transfer.transfer_id());
    PullFundsRequest {
        header: request_header(&trace, local_date_time(transfer.initiated_at()), acquirer),
        sender_primary_account_number: transfer.token().as_str().to_owned(),
        sender_currency_code: transfer.amount().currency().code().to_owned(),
        amount: visa_amount(transfer.amount()),
        business_application_id: BUSINESS_APPLICATION_ID.to_owned(),
        card_acceptor: acquirer.card_acceptor.clone(),
    }
}

pub(crate) fn push_request(transfer: &CardTransfer, acquirer: &AcquirerFields) -> PushFundsRequest {
    let trace = TraceNumbers::for_transfer(transfer.transfer_id());
    PushFundsRequest {
        header: request_header(&trace, local_date_time(transfer.initiated_at()), acquirer),
        recipient_primary_account_number: transfer.token().as_str().to_owned(),
        transaction_currency_code: transfer.amount().currency().code().to_owned(),
        amount: visa_amount(transfer.amount()),
        business_application_id: BUSINESS_APPLICATION_ID.to_owned(),
        card_acceptor: acquirer.card_acceptor.clone(),
    }
}

/// The reversal of the pull `original`, under its own trace numbers
/// ([`TraceNumbers::for_reversal`]) and the original's time, so that the
/// reversal of one pull is always the same request.
pub(crate) fn reverse_request(
    original: &CardTransfer,
    acquirer: &AcquirerFields,
) -> ReverseFundsRequest {
    let own = TraceNumbers::for_reversal(original.transfer_id());
    let first = TraceNumbers::for_transfer(original.transfer_id());
    let at = local_date_time(original.initiated_at());
    ReverseFundsRequest {
        header: request_header(&own, at.clone(), acquirer),
        sender_primary_account_number: original.token().as_str().to_owned(),
        sender_currency_code: original.amount().currency().code().to_owned(),
        amount: visa_amount(original.amount()),
        card_acceptor: acquirer.card_acceptor.clone(),
        original_data_elements: OriginalDataElements {
            systems_trace_audit_number: first.stan().to_string(),
            retrieval_reference_number: first.rrn().to_string(),
            acquiring_bin: acquirer.acquiring_bin.clone(),
            transmission_date_time: at,
        },
    }
}

pub(crate) fn tokenize_request(card: &CardNumber, expiry: Expiry) -> TokenizeRequest {
    TokenizeRequest {
        primary_account_number: card.expose().to_owned(),
        expiration_date: ExpirationDate {
            month: format!("{:02}", expiry.month()),
            year: format!("{:04}", expiry.year()),
        },
    }
}

// ---------------------------------------------------------------------------
// Visa → paybot

/// The class of an HTTP status that is not a decision.
pub(crate) fn http_error(status: u16, body: &[u8], what: &str) -> RailError {
    let message = error_message(body);
    let text = if message.is_empty() {
        format!("HTTP {status} from {what}")
    } else {
        format!("HTTP {status} from {what}: {message}")
    };
    if status == 408 || status == 429 || status >= 500 {
        RailError::Transient(text)
    } else {
        RailError::Permanent(text)
    }
}

/// The rail's own message from an error body, at most
/// [`ERROR_MESSAGE_CHARS_MAX`] characters, and withheld entirely if it
/// contains something that looks like a card number (a rail may echo a
/// field back).
fn error_message(body: &[u8]) -> String {
    let Ok(error) = serde_json::from_slice::<ErrorResponse>(body) else {
        return String::new();
    };
    let message: String = error
        .response_status
        .message
        .chars()
        .filter(|c| !c.is_control())
        .take(ERROR_MESSAGE_CHARS_MAX)
        .collect();
    if contains_card_number(&message) {
        "[message withheld: it contains a card-like number]".to_owned()
    } else {
        message
    }
}

/// The decision in a pull, push, reversal or status answer.
///
/// 200 → by `actionCode` (00 approved, its [`Approval`] as the reference;
/// anything else declined with its reason and code); 202 → pending, its
/// [`StatusId`] (at `statusIdentifier`) as the reference; 408, 429, 5xx → transient;
/// any other status → permanent. A 200 or 202 whose body cannot be read is
/// transient: the money may have moved, so the same request must be asked
/// again, not given up on. `request_rrn` is the request's retrieval
/// reference number, used when the answer does not echo it.
pub(crate) fn outcome(
    operation: RailOperation,
    status: u16,
    body: &[u8],
    request_rrn: &RetrievalReferenceNumber,
) -> Result<RailOutcome, RailError> {
    let what = operation_path(operation);
    match status {
        200 => {
            let response: FundsTransferResponse = serde_json::from_slice(body).map_err(|e| {
                RailError::Transient(format!("unreadable HTTP 200 answer from {what}: {e}"))
            })?;
            let action_code = ActionCode::new(&response.action_code).map_err(|_| {
                RailError::Transient(format!(
                    "HTTP 200 answer from {what} without a valid actionCode"
                ))
            })?;
            if action_code == ActionCode::APPROVED {
                let retrieval_reference = response
                    .retrieval_reference_number
                    .as_deref()
                    .and_then(|rrn| RetrievalReferenceNumber::new(rrn).ok())
                    .unwrap_or_else(|| request_rrn.clone());
                let approval = Approval::new(
                    retrieval_reference,
                    response
                        .approval_code
                        .as_deref()
                        .and_then(|code| ApprovalCode::new(code).ok()),
                );
                Ok(RailOutcome::Approved {
                    reference: approval.to_reference().map_err(|_| {
                        RailError::Transient(format!(
                            "HTTP 200 approval from {what} without a usable reference"
                        ))
                    })?,
                })
            } else {
                Ok(RailOutcome::Declined {
                    reason: decline_reason(action_code),
                    code: decline_code(action_code).map_err(|_| {
                        RailError::Transient(format!(
                            "HTTP 200 answer from {what} without a valid actionCode"
                        ))
                    })?,
                })
            }
        }
        202 => {
            let pending: PendingResponse = serde_json::from_slice(body).map_err(|e| {
                RailError::Transient(format!("unreadable HTTP 202 answer from {what}: {e}"))
            })?;
            let reference =
                StatusId::new(operation, &pending.status_identifier, request_rrn.clone())
                    .and_then(|status_id| status_id.to_reference())
                    .map_err(|_| {
                        RailError::Transient(format!(
                            "HTTP 202 answer from {what} without a usable statusIdentifier"
                        ))
                    })?;
            Ok(RailOutcome::Pending { reference })
        }
        _ => Err(http_error(status, body, what)),
    }
}

#[cfg(test)]
mod tests {
    use bot::calendar::UtcMoment;
    use bot::card::{CardToken, DeclineReason};
    use ledger::TransferId;

    use super::*;

    fn amount(minor: i64, currency: Currency) -> Amount {
        Amount::from_minor(minor, currency).unwrap()
    }

    #[test]
    fn amounts_are_exact_decimal_strings() {
        assert_eq!(visa_amount(amount(2_000, Currency::USD)), "20.00");
        assert_eq!(visa_amount(amount(1, Currency::USD)), "0.01");
        assert_eq!(
            visa_amount(amount(123_456_789, Currency::EUR)),
            "1234567.89"
        );
        assert_eq!(visa_amount(amount(500, Currency::JPY)), "500");
        let bhd = Currency::from_code("BHD").unwrap();
        assert_eq!(visa_amount(amount(12_345, bhd)), "12.345");
        assert_eq!(decimal_text(0, Currency::USD), "0.00");
        assert_eq!(decimal_text(-5, Currency::USD), "-0.05");
        assert_eq!(decimal_text(-500, Currency::JPY), "-500");
        let max = Currency::USD.max_minor();
        assert_eq!(visa_amount(amount(max, Currency::USD)), "1000000000.00");
        for minor in [1, 9, 10, 99, 100, 101, 2_000, 999_999, max] {
            let usd = amount(minor, Currency::USD);
            assert_eq!(
                parse_visa_amount(&visa_amount(usd), Currency::USD),
                Some(usd)
            );
        }
    }

    #[test]
    fn amounts_are_read_back_strictly() {
        assert_eq!(
            parse_visa_amount("20", Currency::USD),
            Some(amount(2_000, Currency::USD))
        );
        assert_eq!(
            parse_visa_amount("20.5", Currency::USD),
            Some(amount(2_050, Currency::USD))
        );
        assert_eq!(
            parse_visa_amount("500", Currency::JPY),
            Some(amount(500, Currency::JPY))
        );
        for bad in [
            "",
            ".5",
            "20.",
            "20.001",
            "-20",
            "+20",
            "20,00",
            "2e3",
            " 20",
            "0",
            "0.00",
            "1e9",
            "9999999999999",
        ] {
            assert_eq!(parse_visa_amount(bad, Currency::USD), None, "{bad}");
        }
        assert_eq!(parse_visa_amount("500.0", Currency::JPY), None);
        assert_eq!(parse_currency("USD"), Some(Currency::USD));
        assert_eq!(parse_currency("usd"), None);
        assert_eq!(parse_currency("XXX"), None);
    }

    fn acquirer() -> AcquirerFields {
        AcquirerFields {
            acquiring_bin: "408999".to_owned(),
            acquirer_country_code: "840".to_owned(),
            card_acceptor: CardAcceptor {
                name: "paybot".to_owned(),
                terminal_id: "PAYBOT01".to_owned(),
                id_code: "PAYBOT-WALLET".to_owned(),
                address: CardAcceptorAddress {
                    country: "USA".to_owned(),
                },
            },
        }
    }

    fn transfer(minor: i64, currency: Currency) -> CardTransfer {
        CardTransfer::new(
            TransferId::new(42).unwrap(),
            CardToken::new("tok_sim_000001").unwrap(),
            amount(minor, currency),
            UtcMoment::from_unix_ms(1_767_225_600_000).unwrap(),
        )
    }

    fn trace(transfer: &CardTransfer) -> TraceNumbers {
        TraceNumbers::for_transfer(transfer.transfer_id())
    }

    #[test]
    fn requests_carry_visa_field_names() {
        let pull = serde_json::to_value(pull_request(&transfer(2_000, Currency::USD), &acquirer()))
            .unwrap();
        for field in [
            "systemsTraceAuditNumber",
            "retrievalReferenceNumber",
            "localTransactionDateTime",
            "acquiringBin",
            "acquirerCountryCode",
            "senderPrimaryAccountNumber",
            "senderCurrencyCode",
            "amount",
            "businessApplicationId",
            "cardAcceptor",
        ] {
            assert!(pull.get(field).is_some(), "{field}");
        }
        assert_eq!(pull["amount"], "20.00");
        assert_eq!(pull["senderCurrencyCode"], "USD");
        assert_eq!(pull["businessApplicationId"], "AA");
        assert_eq!(pull["localTransactionDateTime"], "2026-01-01T00:00:00");
        assert_eq!(pull["cardAcceptor"]["terminalId"], "PAYBOT01");
        assert_eq!(pull["cardAcceptor"]["idCode"], "PAYBOT-WALLET");
        assert_eq!(pull["cardAcceptor"]["address"]["country"], "USA");
        let push =
            serde_json::to_value(push_request(&transfer(500, Currency::JPY), &acquirer())).unwrap();
        assert_eq!(push["recipientPrimaryAccountNumber"], "tok_sim_000001");
        assert_eq!(push["transactionCurrencyCode"], "JPY");
        assert_eq!(push["amount"], "500");
        let original = transfer(2_000, Currency::USD);
        let reverse = serde_json::to_value(reverse_request(&original, &acquirer())).unwrap();
        assert_eq!(
            reverse["originalDataElements"]["systemsTraceAuditNumber"],
            trace(&original).stan().as_str()
        );
        assert_ne!(
            reverse["systemsTraceAuditNumber"],
            trace(&original).stan().as_str()
        );
    }

    #[test]
    fn answers_become_outcomes() {
        let rrn = RetrievalReferenceNumber::new("000000000042").unwrap();
        let pull = RailOperation::Pull;
        let approved = br#"{"actionCode":"00","approvalCode":"20304B","transactionIdentifier":381228649430015,"extra":1}"#;
        assert_eq!(
            outcome(pull, 200, approved, &rrn).unwrap(),
            RailOutcome::Approved {
                reference: Approval::new(rrn.clone(), Some(ApprovalCode::new("20304B").unwrap()))
                    .to_reference()
                    .unwrap(),
            }
        );
        for (code, reason) in [
            ("05", DeclineReason::DoNotHonor),
            ("51", DeclineReason::InsufficientFunds),
            ("54", DeclineReason::ExpiredCard),
            ("59", DeclineReason::SuspectedFraud),
            ("61", DeclineReason::OverLimit),
            ("N7", DeclineReason::Other),
        ] {
            let body = format!(r#"{{"actionCode":"{code}","transactionIdentifier":"1"}}"#);
            assert_eq!(
                outcome(pull, 200, body.as_bytes(), &rrn).unwrap(),
                RailOutcome::Declined {
                    reason,
                    code: decline_code(ActionCode::new(code).unwrap()).unwrap(),
                }
            );
        }
        let pending = outcome(
            RailOperation::Push,
            202,
            br#"{"statusIdentifier":"st_1"}"#,
            &rrn,
        )
        .unwrap();
        let RailOutcome::Pending { reference } = pending else {
            panic!("{pending:?}")
        };
        assert_eq!(reference.to_string(), "push:st_1:000000000042");
        assert!(matches!(
            outcome(pull, 200, b"not json", &rrn),
            Err(RailError::Transient(_))
        ));
        assert!(matches!(
            outcome(pull, 200, br#"{"actionCode":"000"}"#, &rrn),
            Err(RailError::Transient(_))
        ));
        assert!(matches!(
            outcome(pull, 202, b"{}", &rrn),
            Err(RailError::Transient(_))
        ));
        for status in [500, 502, 503, 504, 408, 429] {
            assert!(
                matches!(
                    outcome(pull, status, b"", &rrn),
                    Err(RailError::Transient(_))
                ),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 409, 413] {
            assert!(
                matches!(
                    outcome(pull, status, b"", &rrn),
                    Err(RailError::Permanent(_))
                ),
                "{status}"
            );
        }
        let echoed = br#"{"responseStatus":{"status":400,"code":"1","severity":"ERROR","message":"bad PAN 4111111111111111","info":""}}"#;
        let error = outcome(pull, 400, echoed, &rrn).unwrap_err().to_string();
        assert!(!error.contains("4111"), "{error}");
        assert!(error.contains("withheld"), "{error}");
    }
}
