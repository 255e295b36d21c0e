//! A simulator of the rail: the endpoints [`crate::VisaDirectClient`] calls,
//! answering as Visa Direct would, with outcomes decided by test cards
//! ([`test_cards`]), for development (in-process, or standalone through
//! [`serve`]) and tests.
//!
//! It keeps in memory, behind one mutex, what a network keeps: the cards it
//! tokenized (token → card number; requests carry tokens only), every
//! request by its trace numbers (`systemsTraceAuditNumber`,
//! `retrievalReferenceNumber`, `acquiringBin`), and the totals of money it
//! moved, which `GET /simulator/totals` reports. The design decision to
//! know: it is idempotent the way the core relies on a network being. A
//! request resent with the same trace numbers and the same fields gets the
//! first answer (or, if that was "pending", the current one) and moves
//! nothing again; the same trace numbers with any other field are refused
//! (409). A pull is reversed at most once. Every map is bounded
//! ([`SIM_CARDS_MAX`], [`SIM_TRANSACTIONS_MAX`]); when one is full, new
//! requests get a 503 and nothing already recorded is forgotten.
//!
//! Every endpoint, totals included, wants the API key in
//! [`crate::API_KEY_HEADER`]; without it the answer is a 401 with a JSON
//! error body.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bot::card::{CARD_DIGITS_MAX, CARD_DIGITS_MIN, luhn_valid};
use ledger::{Amount, Currency};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{API_KEY_HEADER, ApiKey};
use crate::convert::{
    ErrorResponse, FundsTransferResponse, IdValue, PULL_PATH, PUSH_PATH, PendingResponse,
    PullFundsRequest, PushFundsRequest, REVERSE_PATH, RequestHeader, ResponseStatus,
    ReverseFundsRequest, TOKENIZE_PATH, TOTALS_PATH, TokenizeRequest, TokenizeResponse,
    decimal_text, parse_currency, parse_visa_amount,
};
use crate::visa::{ActionCode, RailOperation, RetrievalReferenceNumber, SystemsTraceAuditNumber};

/// Cards the simulator tokenizes before it answers 503.
pub const SIM_CARDS_MAX: usize = 10_000;
/// Requests (pulls, pushes, reversals) it records before it answers 503.
pub const SIM_TRANSACTIONS_MAX: usize = 100_000;
/// The largest request body it reads, in bytes.
pub const SIM_REQUEST_BYTES_MAX: usize = 16 * 1024;

/// The cards whose number decides the outcome. Any other card that passes
/// the Luhn check is approved.
pub mod test_cards {
    /// Approved.
    pub const APPROVE_VISA: &str = "4111111111111111";
    /// Approved.
    pub const APPROVE_MASTERCARD: &str = "5555555555554444";
    /// Declined, 05 (do not honor).
    pub const DO_NOT_HONOR: &str = "4000000000000002";
    /// Declined, 51 (insufficient funds).
    pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";
    /// Declined, 54 (expired card).
    pub const EXPIRED_CARD: &str = "4000000000000069";
    /// Declined, 59 (suspected fraud).
    pub const SUSPECTED_FRAUD: &str = "4000000000000598";
    /// Declined, 61 (over the amount limit).
    pub const OVER_LIMIT: &str = "4000000000000614";
    /// 202 first; approved on the status query.
    pub const SLOW_APPROVE: &str = "4000000000000119";
    /// 202 first; declined (05) on the status query.
    pub const SLOW_DECLINE: &str = "4000000000000259";
}

/// What the simulator does with a card's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Approve,
    Decline(ActionCode),
    SlowApprove,
    SlowDecline,
}

impl Behaviour {
    fn of(pan: &str) -> Behaviour {
        match pan {
            test_cards::DO_NOT_HONOR => Behaviour::Decline(ActionCode::DO_NOT_HONOR),
            test_cards::INSUFFICIENT_FUNDS => Behaviour::Decline(ActionCode::INSUFFICIENT_FUNDS),
            test_cards::EXPIRED_CARD => Behaviour::Decline(ActionCode::EXPIRED_CARD),
            test_cards::SUSPECTED_FRAUD => Behaviour::Decline(ActionCode::SUSPECTED_FRAUD),
            test_cards::OVER_LIMIT => Behaviour::Decline(ActionCode::OVER_LIMIT),
            test_cards::SLOW_APPROVE => Behaviour::SlowApprove,
            test_cards::SLOW_DECLINE => Behaviour::SlowDecline,
            _ => Behaviour::Approve,
        }
    }
}

/// The money the simulator moved, per currency (ISO code): what
/// `GET /simulator/totals` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulatorTotals {
    pub currencies: BTreeMap<String, CurrencyTotals>,
}

/// Approved movements of one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyTotals {
    /// Card → paybot (top-ups).
    pub pulls: Movement,
    /// paybot → card (cash-outs).
    pub pushes: Movement,
    /// Pulls given back.
    pub reversals: Movement,
    /// `pulls - reversals - pushes`, in minor units: what paybot's
    /// card-clearing account should show as net money taken in.
    pub net_minor: i64,
    /// `net_minor` as a decimal in major units (`-12.50`).
    pub net_amount: String,
}

/// A count of approved requests and their sum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    pub count: u64,
    /// The sum in minor units.
    pub minor: i64,
    /// The sum as a decimal in major units (`20.00`, `500`).
    pub amount: String,
}

/// The simulated rail. Cheap to clone (one shared state).
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    key_digest: [u8; 32],
    state: Mutex<Records>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Simulator { .. }")
    }
}

#[derive(Default)]
struct Records {
    /// Token → card.
    cards: HashMap<String, SimCard>,
    /// SHA-256 of a card number → its token, so a card tokenized twice
    /// keeps one token.
    tokens_by_pan: HashMap<[u8; 32], String>,
    transactions: HashMap<TraceKey, Transaction>,
    /// Status id → the request it answers.
    status_ids: HashMap<String, TraceKey>,
    totals: BTreeMap<Currency, Sums>,
    /// Numbers tokens, status ids, approval codes, transaction ids.
    serial: u64,
}

struct SimCard {
    /// Kept as a network keeps it (it decides the outcome); never logged
    /// or answered.
    pan: SecretString,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TraceKey {
    stan: String,
    rrn: String,
    acquiring_bin: String,
}

struct Transaction {
    operation: RailOperation,
    /// The request as sent, to tell a resend from a different request.
    request: serde_json::Value,
    amount: Amount,
    token: String,
    transmission_date_time: String,
    rrn: String,
    decision: Decision,
    /// For pulls: whether a reversal gave it back.
    reversed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Approved {
        approval_code: String,
        transaction_id: u64,
    },
    Declined {
        action_code: ActionCode,
        transaction_id: u64,
    },
    /// Decided on the first status query, keeping its transaction id.
    Pending {
        status_id: String,
        resolves_to: Behaviour,
        transaction_id: u64,
    },
}

#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    pulls: (u64, i64),
    pushes: (u64, i64),
    reversals: (u64, i64),
}

/// One answer of the simulator.
enum Answer {
    Decided(FundsTransferResponse),
    Pending(PendingResponse),
    Token(TokenizeResponse),
    Totals(SimulatorTotals),
    Error(StatusCode, ErrorResponse),
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match self {
            Answer::Decided(body) => (StatusCode::OK, Json(body)).into_response(),
            Answer::Pending(body) => (StatusCode::ACCEPTED, Json(body)).into_response(),
            Answer::Token(body) => (StatusCode::OK, Json(body)).into_response(),
            Answer::Totals(body) => (StatusCode::OK, Json(body)).into_response(),
            Answer::Error(status, body) => (status, Json(body)).into_response(),
        }
    }
}

/// An error answer. `message` never quotes a card number or token.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Answer {
    Answer::Error(
        status,
        ErrorResponse {
            response_status: ResponseStatus {
                status: status.as_u16(),
                code: code.to_owned(),
                severity: "ERROR".to_owned(),
                message: message.into(),
                info: String::new(),
            },
        },
    )
}

fn bad_request(message: impl Into<String>) -> Answer {
    error(StatusCode::BAD_REQUEST, "9125", message)
}

/// A request refused before any state was looked at (a small error, so
/// the helpers that make it stay cheap to return).
struct Refusal(String);

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal(message.into())
}

impl From<Refusal> for Answer {
    fn from(refusal: Refusal) -> Answer {
        bad_request(refusal.0)
    }
}

fn full(what: &str) -> Answer {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "9500",
        format!("the simulator holds as many {what} as it can"),
    )
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The fields pull, push and reversal requests share, checked.
struct Common {
    key: TraceKey,
    transmission_date_time: String,
    token: String,
    amount: Amount,
}

fn common(
    header: &RequestHeader,
    token: &str,
    currency: &str,
    amount: &str,
) -> Result<Common, Refusal> {
    let RequestHeader {
        systems_trace_audit_number: stan,
        retrieval_reference_number: rrn,
        local_transaction_date_time: local_date_time,
        acquiring_bin,
        acquirer_country_code: _,
    } = header;
    if SystemsTraceAuditNumber::new(stan).is_err() {
        return Err(invalid("systemsTraceAuditNumber must be 6 digits"));
    }
    if RetrievalReferenceNumber::new(rrn).is_err() {
        return Err(invalid(
            "retrievalReferenceNumber must be 12 letters or digits",
        ));
    }
    if !(6..=11).contains(&acquiring_bin.len())
        || !acquiring_bin.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid("acquiringBin must be 6 to 11 digits"));
    }
    if local_date_time.len() != 19 {
        return Err(invalid(
            "localTransactionDateTime must be YYYY-MM-DDThh:mm:ss",
        ));
    }
    let currency = parse_currency(currency)
        .ok_or_else(|| invalid("the currency code is not a known ISO 4217 alpha code"))?;
    let amount = parse_visa_amount(amount, currency).ok_or_else(|| {
        invalid("amount must be a positive decimal with at most the currency's decimals")
    })?;
    Ok(Common {
        key: TraceKey {
            stan: stan.to_owned(),
            rrn: rrn.to_owned(),
            acquiring_bin: acquiring_bin.to_owned(),
        },
        transmission_date_time: local_date_time.to_owned(),
        token: token.to_owned(),
        amount,
    })
}

fn parse_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<(T, serde_json::Value), Refusal> {
    // The error names the place, not the content: a body may hold a card
    // number.
    let malformed = |e: serde_json::Error| {
        invalid(format!(
            "not a valid {what} request (line {}, column {})",
            e.line(),
            e.column()
        ))
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(malformed)?;
    let typed = serde_json::from_value(value.clone()).map_err(|_| {
        invalid(format!(
            "not a valid {what} request (a field is missing or has the wrong type)"
        ))
    })?;
    Ok((typed, value))
}

impl Simulator {
    /// A simulator with nothing recorded, answering calls that carry
    /// `api_key`.
    pub fn new(api_key: &ApiKey) -> Simulator {
        Simulator {
            inner: Arc::new(Inner {
                key_digest: digest(api_key.expose().as_bytes()),
                state: Mutex::new(Records::default()),
            }),
        }
    }

    /// Its endpoints, to serve on their own ([`serve`]) or merge into
    /// paybot's server.
    pub fn router(&self) -> Router {
        Router::new()
            .route(TOKENIZE_PATH, post(tokenize_handler))
            .route(PULL_PATH, post(pull_handler))
            .route(PUSH_PATH, post(push_handler))
            .route(REVERSE_PATH, post(reverse_handler))
            .route(
                &format!("{PULL_PATH}/{{status_id}}"),
                get(pull_status_handler),
            )
            .route(
                &format!("{PUSH_PATH}/{{status_id}}"),
                get(push_status_handler),
            )
            .route(
                &format!("{REVERSE_PATH}/{{status_id}}"),
                get(reverse_status_handler),
            )
            .route(TOTALS_PATH, get(totals_handler))
            .layer(DefaultBodyLimit::max(SIM_REQUEST_BYTES_MAX))
            .with_state(self.clone())
    }

    /// What `GET /simulator/totals` answers.
    pub fn totals(&self) -> SimulatorTotals {
        let state = self.lock();
        let movement = |(count, minor): (u64, i64), currency| Movement {
            count,
            minor,
            amount: decimal_text(minor, currency),
        };
        let currencies = state
            .totals
            .iter()
            .map(|(&currency, sums)| {
                let net_minor = sums
                    .pulls
                    .1
                    .saturating_sub(sums.reversals.1)
                    .saturating_sub(sums.pushes.1);
                let totals = CurrencyTotals {
                    pulls: movement(sums.pulls, currency),
                    pushes: movement(sums.pushes, currency),
                    reversals: movement(sums.reversals, currency),
                    net_minor,
                    net_amount: decimal_text(net_minor, currency),
                };
                (currency.code().to_owned(), totals)
            })
            .collect();
        SimulatorTotals { currencies }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        // A panic while holding the lock leaves maps that are each still
        // consistent (every change is one insert or one field write), so a
        // poisoned lock is used as is.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        headers
            .get(API_KEY_HEADER)
            .is_some_and(|given| bool::from(digest(given.as_bytes()).ct_eq(&self.inner.key_digest)))
    }

    fn tokenize(&self, body: &[u8]) -> Answer {
        let (request, _) = match parse_body::<TokenizeRequest>(body, "tokenize") {
            Ok(parsed) => parsed,
            Err(refusal) => return refusal.into(),
        };
        let pan = request.primary_account_number.as_str();
        let shaped = (CARD_DIGITS_MIN..=CARD_DIGITS_MAX).contains(&pan.len())
            && pan.bytes().all(|b| b.is_ascii_digit());
        if !shaped || !luhn_valid(pan) {
            return bad_request(
                "primaryAccountNumber is not a card number (length or check digit)",
            );
        }
        let month_ok = request.expiration_date.month.len() == 2
            && matches!(request.expiration_date.month.parse::<u8>(), Ok(1..=12));
        let year_ok = request.expiration_date.year.len() == 4
            && request
                .expiration_date
                .year
                .bytes()
                .all(|b| b.is_ascii_digit());
        if !month_ok || !year_ok {
            return bad_request("expirationDate must be a month 01 to 12 and a 4-digit year");
        }
        let pan_digest = digest(pan.as_bytes());
        let mut state = self.lock();
        if let Some(token) = state.tokens_by_pan.get(&pan_digest) {
            return Answer::Token(TokenizeResponse {
                token: token.clone(),
            });
        }
        if state.cards.len() >= SIM_CARDS_MAX {
            return full("cards");
        }
        state.serial = state.serial.saturating_add(1);
        let token = format!("tok_sim_{:012}", state.serial);
        state.cards.insert(
            token.clone(),
            SimCard {
                pan: SecretString::from(pan.to_owned()),
            },
        );
        state.tokens_by_pan.insert(pan_digest, token.clone());
        tracing::info!(token_serial = state.serial, "simulator tokenized a card");
        Answer::Token(TokenizeResponse { token })
    }

    /// A pull or a push.
    fn funds(&self, operation: RailOperation, body: &[u8]) -> Answer {
        let parsed = match operation {
            RailOperation::Pull => {
                parse_body::<PullFundsRequest>(body, "pull funds").and_then(|(r, value)| {
                    let common = common(
                        &r.header,
                        &r.sender_primary_account_number,
                        &r.sender_currency_code,
                        &r.amount,
                    )?;
                    Ok((common, value))
                })
            }
            RailOperation::Push => {
                parse_body::<PushFundsRequest>(body, "push funds").and_then(|(r, value)| {
                    let common = common(
                        &r.header,
                        &r.recipient_primary_account_number,
                        &r.transaction_currency_code,
                        &r.amount,
                    )?;
                    Ok((common, value))
                })
            }
            RailOperation::Reversal => return self.reverse(body),
        };
        let (common, request) = match parsed {
            Ok(parsed) => parsed,
            Err(refusal) => return refusal.into(),
        };
        let mut state = self.lock();
        if let Some(answer) = state.resend(&common.key, operation, &request) {
            return answer;
        }
        if state.transactions.len() >= SIM_TRANSACTIONS_MAX {
            return full("requests");
        }
        let behaviour = state
            .cards
            .get(&common.token)
            .map(|card| Behaviour::of(card.pan.expose_secret()));
        let serial = state.next_serial();
        let decision = match behaviour {
            None => Decision::Declined {
                action_code: ActionCode::INVALID_CARD,
                transaction_id: serial,
            },
            Some(Behaviour::Approve) => approved(serial),
            Some(Behaviour::Decline(action_code)) => Decision::Declined {
                action_code,
                transaction_id: serial,
            },
            Some(resolves_to @ (Behaviour::SlowApprove | Behaviour::SlowDecline)) => {
                Decision::Pending {
                    status_id: format!("sim-{}-{serial:012}", operation.code()),
                    resolves_to,
                    transaction_id: serial,
                }
            }
        };
        if let Decision::Approved { .. } = decision {
            state.count(operation, common.amount);
        }
        if let Decision::Pending { status_id, .. } = &decision {
            state
                .status_ids
                .insert(status_id.clone(), common.key.clone());
        }
        let transaction = Transaction {
            operation,
            request,
            amount: common.amount,
            token: common.token,
            transmission_date_time: common.transmission_date_time,
            rrn: common.key.rrn.clone(),
            decision,
            reversed: false,
        };
        let answer = transaction.answer();
        tracing::info!(
            operation = operation.code(),
            stan = %common.key.stan,
            decision = transaction.decision.name(),
            "simulator answered"
        );
        state.transactions.insert(common.key, transaction);
        answer
    }

    fn reverse(&self, body: &[u8]) -> Answer {
        let (request, value) = match parse_body::<ReverseFundsRequest>(body, "reverse funds") {
            Ok(parsed) => parsed,
            Err(refusal) => return refusal.into(),
        };
        let common = match common(
            &request.header,
            &request.sender_primary_account_number,
            &request.sender_currency_code,
            &request.amount,
        ) {
            Ok(common) => common,
            Err(refusal) => return refusal.into(),
        };
        let original_key = TraceKey {
            stan: request
                .original_data_elements
                .systems_trace_audit_number
                .clone(),
            rrn: request
                .original_data_elements
                .retrieval_reference_number
                .clone(),
            acquiring_bin: request.original_data_elements.acquiring_bin.clone(),
        };
        let mut state = self.lock();
        if let Some(answer) = state.resend(&common.key, RailOperation::Reversal, &value) {
            return answer;
        }
        if state.transactions.len() >= SIM_TRANSACTIONS_MAX {
            return full("requests");
        }
        let Some(original) = state.transactions.get_mut(&original_key) else {
            return error(
                StatusCode::NOT_FOUND,
                "9404",
                "originalDataElements name no pull",
            );
        };
        if original.operation != RailOperation::Pull
            || original.transmission_date_time
                != request.original_data_elements.transmission_date_time
        {
            return error(
                StatusCode::NOT_FOUND,
                "9404",
                "originalDataElements name no pull",
            );
        }
        if !matches!(original.decision, Decision::Approved { .. }) {
            return bad_request("only an approved pull can be reversed");
        }
        if original.reversed {
            return error(
                StatusCode::CONFLICT,
                "9409",
                "that pull was already reversed",
            );
        }
        if original.amount != common.amount || original.token != common.token {
            return bad_request(
                "a reversal gives back the whole pull: same card, amount and currency",
            );
        }
        original.reversed = true;
        let serial = state.next_serial();
        state.count(RailOperation::Reversal, common.amount);
        let transaction = Transaction {
            operation: RailOperation::Reversal,
            request: value,
            amount: common.amount,
            token: common.token,
            transmission_date_time: common.transmission_date_time,
            rrn: common.key.rrn.clone(),
            decision: approved(serial),
            reversed: false,
        };
        let answer = transaction.answer();
        tracing::info!(stan = %common.key.stan, "simulator reversed a pull");
        state.transactions.insert(common.key, transaction);
        answer
    }

    fn status(&self, operation: RailOperation, status_id: &str) -> Answer {
        let mut state = self.lock();
        let Some(key) = state.status_ids.get(status_id).cloned() else {
            return error(StatusCode::NOT_FOUND, "9404", "no such statusIdentifier");
        };
        let Some(transaction) = state.transactions.get_mut(&key) else {
            return error(StatusCode::NOT_FOUND, "9404", "no such statusIdentifier");
        };
        if transaction.operation != operation {
            return error(
                StatusCode::NOT_FOUND,
                "9404",
                "no such statusIdentifier here",
            );
        }
        let mut approved_now = None;
        if let Decision::Pending {
            resolves_to,
            transaction_id,
            ..
        } = transaction.decision
        {
            transaction.decision = if resolves_to == Behaviour::SlowApprove {
                approved_now = Some(transaction.amount);
                approved(transaction_id)
            } else {
                Decision::Declined {
                    action_code: ActionCode::DO_NOT_HONOR,
                    transaction_id,
                }
            };
            tracing::info!(
                operation = operation.code(),
                stan = %key.stan,
                decision = transaction.decision.name(),
                "simulator decided a pending request"
            );
        }
        let answer = transaction.answer();
        if let Some(amount) = approved_now {
            state.count(operation, amount);
        }
        answer
    }
}

fn approved(serial: u64) -> Decision {
    Decision::Approved {
        approval_code: format!("S{:05}", serial % 100_000),
        transaction_id: serial,
    }
}

impl Decision {
    fn name(&self) -> &'static str {
        match self {
            Decision::Approved { .. } => "approved",
            Decision::Declined { .. } => "declined",
            Decision::Pending { .. } => "pending",
        }
    }
}

impl Transaction {
    fn answer(&self) -> Answer {
        let decided =
            |action_code: ActionCode, approval_code: Option<String>, transaction_id: u64| {
                Answer::Decided(FundsTransferResponse {
                    action_code: action_code.to_string(),
                    approval_code,
                    transaction_identifier: Some(IdValue::Number(transaction_id)),
                    response_code: Some("5".to_owned()),
                    transmission_date_time: Some(self.transmission_date_time.clone()),
                    retrieval_reference_number: Some(self.rrn.clone()),
                })
            };
        match &self.decision {
            Decision::Approved {
                approval_code,
                transaction_id,
            } => decided(
                ActionCode::APPROVED,
                Some(approval_code.clone()),
                *transaction_id,
            ),
            Decision::Declined {
                action_code,
                transaction_id,
            } => decided(*action_code, None, *transaction_id),
            Decision::Pending { status_id, .. } => Answer::Pending(PendingResponse {
                status_identifier: status_id.clone(),
            }),
        }
    }
}

impl Records {
    fn next_serial(&mut self) -> u64 {
        self.serial = self.serial.saturating_add(1);
        self.serial
    }

    /// The answer to a request whose trace numbers were seen before: the
    /// recorded one if it is the same request, a refusal if not. `None` for
    /// new trace numbers.
    fn resend(
        &self,
        key: &TraceKey,
        operation: RailOperation,
        request: &serde_json::Value,
    ) -> Option<Answer> {
        let seen = self.transactions.get(key)?;
        if seen.operation == operation && &seen.request == request {
            tracing::info!(operation = operation.code(), stan = %key.stan, "simulator recognised a resend");
            Some(seen.answer())
        } else {
            Some(error(
                StatusCode::CONFLICT,
                "9409",
                "these systemsTraceAuditNumber and retrievalReferenceNumber belong to a different request",
            ))
        }
    }

    fn count(&mut self, operation: RailOperation, amount: Amount) {
        let sums = self.totals.entry(amount.currency()).or_default();
        let slot = match operation {
            RailOperation::Pull => &mut sums.pulls,
            RailOperation::Push => &mut sums.pushes,
            RailOperation::Reversal => &mut sums.reversals,
        };
        slot.0 = slot.0.saturating_add(1);
        slot.1 = slot.1.saturating_add(amount.minor());
    }
}

// ---------------------------------------------------------------------------
// HTTP

fn unauthorised() -> Answer {
    error(
        StatusCode::UNAUTHORIZED,
        "9124",
        format!(
            "Expected input credential was not present: send the API key in `{API_KEY_HEADER}`"
        ),
    )
}

macro_rules! guarded {
    ($sim:expr, $headers:expr, $body:expr) => {
        if $sim.authorised(&$headers) {
            $body
        } else {
            unauthorised()
        }
    };
}

async fn tokenize_handler(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Answer {
    guarded!(sim, headers, sim.tokenize(&body))
}

async fn pull_handler(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Answer {
    guarded!(sim, headers, sim.funds(RailOperation::Pull, &body))
}

async fn push_handler(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Answer {
    guarded!(sim, headers, sim.funds(RailOperation::Push, &body))
}

async fn reverse_handler(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Answer {
    guarded!(sim, headers, sim.reverse(&body))
}

async fn pull_status_handler(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Path(status_id): Path<String>,
) -> Answer {
    guarded!(sim, headers, sim.status(RailOperation::Pull, &status_id))
}

async fn push_status_handler(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Path(status_id): Path<String>,
) -> Answer {
    guarded!(sim, headers, sim.status(RailOperation::Push, &status_id))
}

async fn reverse_status_handler(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Path(status_id): Path<String>,
) -> Answer {
    guarded!(
        sim,
        headers,
        sim.status(RailOperation::Reversal, &status_id)
    )
}

async fn totals_handler(State(sim): State<Simulator>, headers: HeaderMap) -> Answer {
    guarded!(sim, headers, Answer::Totals(sim.totals()))
}

/// Serves a fresh simulator on `addr` until `shutdown` completes: the
/// standalone `paybot card-sim --addr ...`. Logs the address it bound (port
/// 0 picks a free one).
pub async fn serve(
    addr: SocketAddr,
    api_key: &ApiKey,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    // The address last, as `paybot serve` logs its own: with port 0,
    // this line is how a caller learns the port.
    tracing::info!("card rail simulator listening on {bound}");
    axum::serve(listener, Simulator::new(api_key).router())
        .with_graceful_shutdown(shutdown)
        .await
}
