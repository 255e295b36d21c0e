//! The ledger HTTP API under `/api/v1`: open and read accounts, submit and
//! read transfers, as JSON, for programs rather than chat users (the bank
//! test drives the ledger through it).
//!
//! The one design decision to know: **every answer that is not a success is
//! an [`ApiError`], and [`ApiError::status_and_code`] is the only place that
//! turns one into an HTTP status and a stable snake_case code**. Each
//! `ledger::TransferError` and `ledger::LedgerError` variant has its code
//! there; a store failure's detail goes to the log, never to the caller.
//!
//! Wire formats, chosen once: a transfer id is 32 hexadecimal digits (a
//! 128-bit number, answered in lowercase; zero is refused); an account id is
//! the JSON integer the ledger assigned; an amount is an integer count of
//! the currency's minor units next to its ISO 4217 `currency` code. The API
//! is mounted only when at least one token is set, and every route (unknown
//! ones too) asks for `Authorization: Bearer <token>`, compared as SHA-256
//! digests in constant time.
//!
//! Each ledger token has a [`Scope`]: `read` (the GET routes), `transfer`
//! (also transfers and opening wallets, between user wallets only) or
//! `issuance` (everything, including any transfer that touches a system
//! account: issuance, card clearing, fees, escrow). The operator's token
//! ([`Grant::Operator`]) reaches the operator's routes under `/admin`
//! ([`admin`]) and nothing of the ledger's, and no ledger token reaches
//! those: running the service and moving money are separate powers. The
//! verification provider's callback ([`verification`]) is not behind a
//! token: it is signed. Wrong tokens are throttled per
//! client address and globally ([`AuthThrottle`], 429 with `Retry-After`)
//! and logged at most once per [`AUTH_FAILURE_LOG_INTERVAL_SECS`], with a
//! count and never the token.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Extension, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use ledger::{
    Account, AccountId, AccountKind, Amount, Currency, Ledger, LedgerError, NewAccount,
    NewTransfer, Outcome, OwnerRef, SubmitError, Transfer, TransferError, TransferId, TransferKind,
    TransferOp,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::{error, warn};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::logging::EveryInterval;

pub mod admin;
pub mod billers;
pub mod openapi;
pub mod verification;

use openapi::{ErrorBody, ErrorDetail};

/// Where the API is mounted.
pub const API_PREFIX: &str = "/api/v1";
/// The largest request body, in bytes: a full linked group of
/// [`ledger::LINKED_TRANSFERS_MAX`] transfers fits with room to spare.
pub const API_BODY_BYTES_MAX: usize = 64 * 1024;
/// The shortest `api.token`, in bytes.
pub const API_TOKEN_BYTES_MIN: usize = 32;
/// The longest `api.token`, in bytes.
pub const API_TOKEN_BYTES_MAX: usize = 256;
/// A transfer id's length on the wire, in hexadecimal digits.
pub const TRANSFER_ID_HEX_DIGITS: usize = 32;
/// The window wrong tokens are counted in, in seconds.
pub const AUTH_FAILURE_WINDOW_SECS: u64 = 60;
/// Wrong tokens one client address may send per window; then 429.
pub const AUTH_FAILURES_PER_ADDRESS_MAX: u32 = 10;
/// Wrong tokens from all addresses together per window; then 429 for every
/// address that has not authenticated recently.
pub const AUTH_FAILURES_GLOBAL_MAX: u32 = 100;
/// How long an address that authenticated stays exempt from the global
/// throttle, in seconds.
pub const AUTH_TRUSTED_SECS: u64 = 600;
/// Client addresses the throttle remembers at most.
pub const AUTH_ADDRESSES_TRACKED_MAX: usize = 4_096;
/// At most one warning about wrong tokens per this many seconds.
pub const AUTH_FAILURE_LOG_INTERVAL_SECS: u64 = 10;

/// What a token may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// `GET` accounts and transfers.
    Read,
    /// Also open user wallets and submit transfers between user wallets.
    Transfer,
    /// Also open system accounts and submit transfers that touch one
    /// (issuance, card clearing, fees, escrow): these create money or move
    /// what the bot holds for others.
    Issuance,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Transfer => "transfer",
            Scope::Issuance => "issuance",
        }
    }
}

/// What a token grants: one of the ledger's scopes, or the operator's
/// routes. The two do not include each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Ledger(Scope),
    /// `/api/v1/admin/...`: holds, users' tiers, the audit log.
    Operator,
}

impl Grant {
    pub fn name(self) -> &'static str {
        match self {
            Grant::Ledger(scope) => scope.name(),
            Grant::Operator => "operator",
        }
    }
}

impl From<Scope> for Grant {
    fn from(scope: Scope) -> Grant {
        Grant::Ledger(scope)
    }
}

/// The configured tokens, each with what it grants (only digests kept).
#[derive(Debug, Clone)]
pub struct ApiTokens {
    tokens: Vec<(ApiToken, Grant)>,
}

impl ApiTokens {
    /// `None` when no token is given (the API is off).
    pub fn new(tokens: Vec<(ApiToken, Grant)>) -> Option<ApiTokens> {
        (!tokens.is_empty()).then_some(ApiTokens { tokens })
    }

    /// The widest ledger scope of the tokens `presented` matches; every
    /// token is compared, each in constant time.
    pub fn scope_of(&self, presented: &[u8]) -> Option<Scope> {
        self.matches(presented)
            .filter_map(|grant| match grant {
                Grant::Ledger(scope) => Some(scope),
                Grant::Operator => None,
            })
            .max()
    }

    /// What the token `presented` grants: its widest ledger scope, else
    /// the operator's routes (settings give every key its own token, so
    /// one token never grants both).
    pub fn grant_of(&self, presented: &[u8]) -> Option<Grant> {
        let operator = self.matches(presented).any(|g| g == Grant::Operator);
        self.scope_of(presented)
            .map(Grant::Ledger)
            .or(operator.then_some(Grant::Operator))
    }

    /// What each token that matches `presented` grants.
    fn matches(&self, presented: &[u8]) -> impl Iterator<Item = Grant> + '_ {
        let presented = digest(presented);
        self.tokens
            .iter()
            .filter(move |(token, _)| bool::from(presented.ct_eq(&token.digest)))
            .map(|(_, grant)| *grant)
    }
}

/// Throttles wrong tokens: per client address, and globally (then only
/// addresses that authenticated in the last [`AUTH_TRUSTED_SECS`] pass).
#[derive(Debug, Default)]
pub struct AuthThrottle {
    state: Mutex<ThrottleState>,
}

#[derive(Debug, Default)]
struct ThrottleState {
    global: Window,
    addresses: HashMap<IpAddr, AddressState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    started: Option<Instant>,
    failures: u32,
}

impl Window {
    fn length() -> Duration {
        Duration::from_secs(AUTH_FAILURE_WINDOW_SECS)
    }

    /// Seconds until the window ends, when `max` failures are in it.
    fn blocked(&self, max: u32, now: Instant) -> Option<u64> {
        let started = self.started?;
        let ends = started + Window::length();
        (self.failures >= max && now < ends).then(|| ends.duration_since(now).as_secs().max(1))
    }

    fn fail(&mut self, now: Instant) {
        match self.started {
            Some(started) if now < started + Window::length() => {
                self.failures = self.failures.saturating_add(1);
            }
            _ => {
                *self = Window {
                    started: Some(now),
                    failures: 1,
                }
            }
        }
    }

    fn over(&self, now: Instant) -> bool {
        self.started
            .is_none_or(|started| now >= started + Window::length())
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct AddressState {
    window: Window,
    trusted_until: Option<Instant>,
}

impl AddressState {
    fn trusted(&self, now: Instant) -> bool {
        self.trusted_until.is_some_and(|until| now < until)
    }
}

impl AuthThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, ThrottleState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `Err(seconds to wait)` when `address` must wait before trying.
    pub fn check(&self, address: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        let state = self.lock();
        let known = address.and_then(|a| state.addresses.get(&a)).copied();
        if let Some(wait) = known.and_then(|k| k.window.blocked(AUTH_FAILURES_PER_ADDRESS_MAX, now))
        {
            return Err(wait);
        }
        if known.is_some_and(|k| k.trusted(now)) {
            return Ok(());
        }
        match state.global.blocked(AUTH_FAILURES_GLOBAL_MAX, now) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a wrong (or missing) token from `address`.
    pub fn failed(&self, address: Option<IpAddr>, now: Instant) {
        let mut state = self.lock();
        state.global.fail(now);
        if let Some(address) = address
            && let Some(entry) = Self::entry(&mut state, address, now)
        {
            entry.window.fail(now);
        }
    }

    /// Notes that `address` presented a valid token.
    pub fn succeeded(&self, address: Option<IpAddr>, now: Instant) {
        let mut state = self.lock();
        if let Some(address) = address
            && let Some(entry) = Self::entry(&mut state, address, now)
        {
            entry.trusted_until = Some(now + Duration::from_secs(AUTH_TRUSTED_SECS));
        }
    }

    /// The address's entry, made room for by forgetting addresses whose
    /// window is over and that are not trusted; `None` when full anyway.
    fn entry(
        state: &mut ThrottleState,
        address: IpAddr,
        now: Instant,
    ) -> Option<&mut AddressState> {
        if !state.addresses.contains_key(&address)
            && state.addresses.len() >= AUTH_ADDRESSES_TRACKED_MAX
        {
            state
                .addresses
                .retain(|_, known| !known.window.over(now) || known.trusted(now));
            if state.addresses.len() >= AUTH_ADDRESSES_TRACKED_MAX {
                return None;
            }
        }
        Some(state.addresses.entry(address).or_default())
    }
}

/// What the authorization layer holds.
#[derive(Debug)]
struct Auth {
    tokens: ApiTokens,
    throttle: AuthThrottle,
    failures_log: EveryInterval,
}

/// The API's bearer token. Only its SHA-256 digest is kept, so neither
/// Debug nor a memory dump of this value shows the token.
#[derive(Clone)]
pub struct ApiToken {
    digest: [u8; 32],
}

/// Why a text is not an [`ApiToken`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiTokenError {
    #[error(
        "must be {API_TOKEN_BYTES_MIN} to {API_TOKEN_BYTES_MAX} bytes, e.g. the output of `openssl rand -hex 32`"
    )]
    Length,
    #[error("must be printable ASCII without spaces (it travels in an HTTP header)")]
    Characters,
}

impl ApiToken {
    /// Accepts [`API_TOKEN_BYTES_MIN`] to [`API_TOKEN_BYTES_MAX`] bytes of
    /// printable ASCII without spaces.
    pub fn parse(text: &str) -> Result<ApiToken, ApiTokenError> {
        if !(API_TOKEN_BYTES_MIN..=API_TOKEN_BYTES_MAX).contains(&text.len()) {
            return Err(ApiTokenError::Length);
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiTokenError::Characters);
        }
        Ok(ApiToken {
            digest: digest(text.as_bytes()),
        })
    }

    /// True when `presented` is the token; constant time in its content.
    pub fn matches(&self, presented: &[u8]) -> bool {
        bool::from(digest(presented).ct_eq(&self.digest))
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([REDACTED])")
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The ledger API behind its tokens: what [`router`] mounts when an
/// `api.*token` is set.
#[derive(Debug, Clone)]
pub struct LedgerApi {
    /// The ledger the routes read and write.
    pub ledger: Ledger,
    /// The tokens that reach the API, each with its grant.
    pub tokens: ApiTokens,
    /// The operator's routes, when `api.operator_token` is set.
    pub admin: Option<admin::AdminApi>,
}

/// Everything under [`API_PREFIX`]: the ledger's routes, the operator's
/// and the document (`openapi.json`) behind the tokens when `api` is
/// given; the verification callback (signed, no token) when `callback`
/// is. Every route comes from [`documented`], so each is in the document
/// and nothing else is answered ([`openapi::documented_only`]).
pub fn router(
    api: Option<LedgerApi>,
    callback: Option<verification::Callback>,
    billers: Option<billers::BillerApi>,
) -> Router {
    let callback_on = callback.is_some();
    let served = openapi::Served::default();
    let (routes, document) = documented(api, callback, billers, &served).split_for_parts();
    served.set(&document);
    let routes = openapi::documented_only(routes, &document);
    if callback_on {
        routes
    } else {
        // Without a secret the callback's path answers 404 in the API's
        // format rather than the API's 401: it serves nothing, so the
        // document need not list it.
        routes.merge(verification::off())
    }
}

/// The OpenAPI document of everything [`router`] can mount (the operator's
/// routes and the callback included), as served, built without a database:
/// what the tests compare the served document with.
pub fn full_document() -> Value {
    let mut inner = utoipa::openapi::OpenApi::default();
    inner.merge(ledger_routes().into_openapi());
    inner.merge(document_route().into_openapi());
    inner.merge(admin::routes().into_openapi());
    inner.merge(verification::routes().into_openapi());
    inner.merge(billers::routes().into_openapi());
    openapi::to_json(&openapi_base().nest(API_PREFIX, inner))
}

/// The document's fixed part (title, security schemes, error body).
fn openapi_base() -> utoipa::openapi::OpenApi {
    let mut base = <openapi::BaseDocument as utoipa::OpenApi>::openapi();
    base.info.version = env!("CARGO_PKG_VERSION").to_owned();
    base
}

/// The list of routes under [`API_PREFIX`]: each added with `routes!`,
/// which gives the route and its place in the document at once. A new
/// route (billers, invoices, ...) is added here the same way.
fn documented(
    api: Option<LedgerApi>,
    callback: Option<verification::Callback>,
    billers: Option<billers::BillerApi>,
    served: &openapi::Served,
) -> OpenApiRouter {
    let mut inner = OpenApiRouter::default();
    if let Some(api) = api {
        let auth = Auth {
            tokens: api.tokens,
            throttle: AuthThrottle::default(),
            failures_log: EveryInterval::new(Duration::from_secs(AUTH_FAILURE_LOG_INTERVAL_SECS)),
        };
        let mut guarded = ledger_routes()
            .with_state(api.ledger)
            .layer(middleware::from_fn(ledger_scope));
        if let Some(admin) = api.admin {
            guarded = guarded.merge(
                admin::routes()
                    .with_state(admin)
                    .layer(middleware::from_fn(operator_only)),
            );
        }
        guarded = guarded.merge(document_route().with_state(served.clone()));
        // axum's own methods, on the routes above (the fallbacks are not
        // routes: they answer what no route matches).
        let (guarded, document) = guarded.split_for_parts();
        let guarded = guarded
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(API_BODY_BYTES_MAX))
            .layer(middleware::from_fn_with_state(Arc::new(auth), authorize));
        inner = OpenApiRouter::with_openapi(document).merge(OpenApiRouter::from(guarded));
    }
    if let Some(callback) = callback {
        // Merged after the tokens' layer: the callback is signed instead.
        inner = inner.merge(verification::routes().with_state(verification::receiver(callback)));
    }
    if let Some(billers) = billers {
        // Merged after the tokens' layer: each biller's token is in the
        // database, checked by its own layer.
        inner = inner.merge(
            billers::routes()
                .layer(middleware::from_fn_with_state(
                    billers.clone(),
                    billers::biller_only,
                ))
                .with_state(billers),
        );
    }
    OpenApiRouter::with_openapi(openapi_base()).nest(API_PREFIX, inner)
}

/// The ledger's routes.
fn ledger_routes() -> OpenApiRouter<Ledger> {
    OpenApiRouter::default()
        .routes(routes!(open_account))
        .routes(routes!(account))
        .routes(routes!(submit))
        .routes(routes!(transfer))
}

/// `GET /openapi.json`.
fn document_route() -> OpenApiRouter<openapi::Served> {
    OpenApiRouter::default().routes(routes!(openapi::document))
}

/// Lets the request through only with a known bearer token, and gives the
/// handlers its [`Grant`]; throttles and logs wrong ones.
async fn authorize(State(auth): State<Arc<Auth>>, mut request: Request, next: Next) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let now = Instant::now();
    if let Err(retry_after_secs) = auth.throttle.check(address, now) {
        return ApiError::Throttled { retry_after_secs }.into_response();
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credentials)| credentials.trim());
    match presented.and_then(|presented| auth.tokens.grant_of(presented.as_bytes())) {
        Some(grant) => {
            auth.throttle.succeeded(address, now);
            request.extensions_mut().insert(grant);
            next.run(request).await
        }
        None => {
            auth.throttle.failed(address, now);
            if let Some(failures) = auth.failures_log.hit() {
                let client = address.map(|a| a.to_string()).unwrap_or_default();
                warn!(
                    failures,
                    interval_secs = AUTH_FAILURE_LOG_INTERVAL_SECS,
                    client,
                    "ledger API: requests with no or a wrong token refused"
                );
            }
            ApiError::Unauthorized.into_response()
        }
    }
}

/// The ledger's routes: only for a ledger token, whose [`Scope`] the
/// handlers get.
async fn ledger_scope(mut request: Request, next: Next) -> Response {
    match request.extensions().get::<Grant>().copied() {
        Some(Grant::Ledger(scope)) => {
            request.extensions_mut().insert(scope);
            next.run(request).await
        }
        other => ApiError::Forbidden {
            has: other.unwrap_or(Grant::Operator),
            needed: Grant::Ledger(Scope::Read),
        }
        .into_response(),
    }
}

/// The operator's routes: only for the operator's token.
async fn operator_only(request: Request, next: Next) -> Response {
    match request.extensions().get::<Grant>().copied() {
        Some(Grant::Operator) => next.run(request).await,
        other => ApiError::Forbidden {
            has: other.unwrap_or(Grant::Ledger(Scope::Read)),
            needed: Grant::Operator,
        }
        .into_response(),
    }
}

/// `Ok` when `scope` includes `needed`.
fn require(scope: Scope, needed: Scope) -> Result<(), ApiError> {
    if scope >= needed {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            has: scope.into(),
            needed: needed.into(),
        })
    }
}

async fn not_found() -> ApiError {
    ApiError::NoSuchRoute
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Every way a request can fail.
#[derive(Debug)]
pub enum ApiError {
    /// No or a wrong bearer token.
    Unauthorized,
    /// Too many wrong tokens: wait this long.
    Throttled {
        retry_after_secs: u64,
    },
    /// The token's scope does not cover the request.
    Forbidden {
        has: Grant,
        needed: Grant,
    },
    NoSuchRoute,
    MethodNotAllowed,
    /// The body could not be read as JSON; `status` is what axum found
    /// (400 syntax, 413 too large, 415 not JSON).
    Body {
        status: StatusCode,
        message: String,
    },
    /// The JSON does not have the request's shape (unknown or mistyped
    /// field).
    Shape(String),
    /// One field's value is invalid, missing, or not used by this kind.
    Field {
        field: &'static str,
        problem: String,
    },
    /// A path id that is not an id.
    InvalidId(String),
    AccountNotFound(AccountId),
    TransferNotFound(TransferId),
    /// The ledger refused a transfer; `index` is its place in the group.
    Refused {
        index: usize,
        error: TransferError,
    },
    /// The store failed (logged); the outcome of a submission is unknown.
    Ledger(LedgerError),
    /// The operator's action was refused (nothing changed).
    Operator(bot::trust::operator::OperatorRefusal),
    /// No hold has this id.
    HoldNotFound(String),
    /// The hold was decided already, or timed out: its state now.
    HoldEnded {
        id: String,
        state: String,
    },
    /// A verification callback without a valid signature, or one whose
    /// timestamp is too far from paybot's clock (never says which part).
    BadSignature,
    /// A verification callback's event id came before with another body.
    EventConflict(String),
    /// Another delivery of this event is being handled right now.
    EventInProgress(String),
    /// The verification callback is off (no `trust.verification.secret`).
    CallbackOff,
    /// The core failed (logged); nothing is known to have changed.
    Bot(bot::service::BotError),
    /// The biller has no invoice with this reference.
    InvoiceNotFound(String),
    /// The biller sent this reference before with other fields.
    InvoiceConflict(String),
    /// The invoice is not open (its state now), so it cannot be cancelled.
    InvoiceNotOpen {
        reference: String,
        state: String,
    },
    /// The invoice's payer cannot be billed: why.
    InvoicePayer(&'static str),
}

impl ApiError {
    /// The one mapping from an error to its HTTP status and stable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::Unauthorized => (S::UNAUTHORIZED, "unauthorized"),
            ApiError::Throttled { .. } => (S::TOO_MANY_REQUESTS, "too_many_attempts"),
            ApiError::Forbidden { .. } => (S::FORBIDDEN, "forbidden"),
            ApiError::NoSuchRoute => (S::NOT_FOUND, "no_such_route"),
            ApiError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Body { status, .. } => match *status {
                S::PAYLOAD_TOO_LARGE => (S::PAYLOAD_TOO_LARGE, "body_too_large"),
                S::UNSUPPORTED_MEDIA_TYPE => (S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
                _ => (S::BAD_REQUEST, "malformed_json"),
            },
            ApiError::Shape(_) => (S::BAD_REQUEST, "malformed_json"),
            ApiError::Field { .. } => (S::BAD_REQUEST, "invalid_field"),
            ApiError::InvalidId(_) => (S::BAD_REQUEST, "invalid_id"),
            ApiError::AccountNotFound(_) => (S::NOT_FOUND, "account_not_found"),
            ApiError::TransferNotFound(_) => (S::NOT_FOUND, "transfer_not_found"),
            ApiError::Refused { error, .. } => match error {
                TransferError::ExistsWithDifferentField { .. } => {
                    (S::CONFLICT, "exists_with_different_fields")
                }
                TransferError::UnknownAccount(_) => (S::UNPROCESSABLE_ENTITY, "unknown_account"),
                TransferError::SameAccount => (S::UNPROCESSABLE_ENTITY, "same_account"),
                TransferError::CurrencyMismatch => (S::UNPROCESSABLE_ENTITY, "currency_mismatch"),
                TransferError::InsufficientFunds => (S::UNPROCESSABLE_ENTITY, "insufficient_funds"),
                TransferError::CreditBalanceExceeded => {
                    (S::UNPROCESSABLE_ENTITY, "credit_balance_exceeded")
                }
                TransferError::Overflow => (S::UNPROCESSABLE_ENTITY, "overflow"),
                TransferError::PendingNotFound(_) => (S::UNPROCESSABLE_ENTITY, "pending_not_found"),
                TransferError::NotPending(_) => (S::UNPROCESSABLE_ENTITY, "not_pending"),
                TransferError::AlreadyPosted => (S::CONFLICT, "pending_already_posted"),
                TransferError::AlreadyVoided => (S::CONFLICT, "pending_already_voided"),
                TransferError::AlreadyExpired => (S::CONFLICT, "pending_already_expired"),
                TransferError::NotExpiredYet => (S::UNPROCESSABLE_ENTITY, "pending_not_expired"),
                TransferError::ExceedsPendingAmount => {
                    (S::UNPROCESSABLE_ENTITY, "exceeds_pending_amount")
                }
                TransferError::InvalidTimeout => (S::UNPROCESSABLE_ENTITY, "invalid_timeout"),
                TransferError::LinkedEventFailed(_) => {
                    (S::UNPROCESSABLE_ENTITY, "linked_transfer_failed")
                }
                TransferError::InvalidBatchSize { .. } => {
                    (S::UNPROCESSABLE_ENTITY, "invalid_batch_size")
                }
                TransferError::DuplicateIdInBatch => {
                    (S::UNPROCESSABLE_ENTITY, "duplicate_id_in_batch")
                }
            },
            ApiError::Ledger(error) => match error {
                LedgerError::InvalidOwner => (S::BAD_REQUEST, "invalid_field"),
                LedgerError::Storage(_)
                | LedgerError::Batch(_)
                | LedgerError::ShutDown
                | LedgerError::NoDatabase(_)
                | LedgerError::NotMigrated => (S::SERVICE_UNAVAILABLE, "unavailable"),
                LedgerError::Corrupt(_)
                | LedgerError::UnsupportedUrl
                | LedgerError::NoStorageEngine
                | LedgerError::InvalidOutbox(_)
                | LedgerError::InvalidRecord(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
            },
            ApiError::Operator(refusal) => {
                use bot::trust::operator::OperatorRefusal as R;
                match refusal {
                    R::UnknownUser(_) => (S::NOT_FOUND, "unknown_user"),
                    R::AmbiguousHandle { .. } => (S::CONFLICT, "ambiguous_handle"),
                    R::TierNotConfigured { .. } => (S::UNPROCESSABLE_ENTITY, "tier_not_configured"),
                }
            }
            ApiError::HoldNotFound(_) => (S::NOT_FOUND, "hold_not_found"),
            ApiError::HoldEnded { .. } => (S::CONFLICT, "hold_already_decided"),
            ApiError::BadSignature => (S::UNAUTHORIZED, "invalid_signature"),
            ApiError::EventConflict(_) => (S::CONFLICT, "event_id_reused"),
            ApiError::EventInProgress(_) => (S::CONFLICT, "event_in_progress"),
            ApiError::CallbackOff => (S::NOT_FOUND, "no_such_route"),
            ApiError::Bot(_) => (S::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::InvoiceNotFound(_) => (S::NOT_FOUND, "invoice_not_found"),
            ApiError::InvoiceConflict(_) => (S::CONFLICT, "invoice_exists_with_different_fields"),
            ApiError::InvoiceNotOpen { .. } => (S::CONFLICT, "invoice_not_open"),
            ApiError::InvoicePayer(_) => (S::NOT_FOUND, "unknown_payer"),
        }
    }

    /// What the caller is told: never a store's own error text.
    fn message(&self) -> String {
        match self {
            ApiError::Unauthorized => {
                "send the API token as `Authorization: Bearer <token>`".to_owned()
            }
            ApiError::Throttled { retry_after_secs } => {
                format!("too many requests with a wrong token; try again in {retry_after_secs} s")
            }
            ApiError::Forbidden { has, needed } => format!(
                "this token's scope is `{}`; this request needs `{}`",
                has.name(),
                needed.name()
            ),
            ApiError::NoSuchRoute => "no such route in the ledger API".to_owned(),
            ApiError::MethodNotAllowed => "this route does not take that method".to_owned(),
            ApiError::Body { message, .. } | ApiError::Shape(message) => message.clone(),
            ApiError::Field { field, problem } => format!("`{field}`: {problem}"),
            ApiError::InvalidId(problem) => problem.clone(),
            ApiError::AccountNotFound(id) => format!("no account {id}"),
            ApiError::TransferNotFound(id) => format!("no transfer {}", hex_id(*id)),
            ApiError::Refused { error, .. } => match error {
                TransferError::PendingNotFound(id) => {
                    format!("pending transfer {} does not exist", hex_id(*id))
                }
                TransferError::NotPending(id) => {
                    format!("transfer {} is not a pending transfer", hex_id(*id))
                }
                other => other.to_string(),
            },
            ApiError::Ledger(LedgerError::InvalidOwner) => {
                format!("`owner`: {}", LedgerError::InvalidOwner)
            }
            ApiError::Ledger(_) => match self.status_and_code().0 {
                StatusCode::SERVICE_UNAVAILABLE => {
                    "the ledger is unavailable; retry with the same ids".to_owned()
                }
                _ => "internal error".to_owned(),
            },
            ApiError::Operator(refusal) => refusal.to_string(),
            ApiError::HoldNotFound(id) => format!("no hold {id}"),
            ApiError::HoldEnded { id, state } => format!("hold {id} is {state} already"),
            ApiError::BadSignature => format!(
                "sign the body as `{}: t=UNIX_SECONDS,v1=HEX` (HMAC-SHA256 over t + \".\" + body) with a current timestamp",
                verification::SIGNATURE_HEADER
            ),
            ApiError::EventConflict(id) => {
                format!("event {id} was sent before with another body; use a new event id")
            }
            ApiError::EventInProgress(id) => {
                format!("event {id} is being handled; send it again in a minute")
            }
            ApiError::CallbackOff => "the verification callback is off".to_owned(),
            ApiError::Bot(_) => "paybot is unavailable; send the same request again".to_owned(),
            ApiError::InvoiceNotFound(reference) => format!("no invoice {reference}"),
            ApiError::InvoiceConflict(reference) => format!(
                "invoice {reference} was sent before with other fields; use a new reference"
            ),
            ApiError::InvoiceNotOpen { reference, state } => {
                format!("invoice {reference} is {state}")
            }
            ApiError::InvoicePayer(why) => (*why).to_owned(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Ledger(e) = &self
            && !matches!(e, LedgerError::InvalidOwner)
        {
            error!(error = %e, code, "ledger API: the store failed");
        }
        if let ApiError::Bot(e) = &self {
            error!(error = %e, code, "API: the core failed");
        }
        let index = match &self {
            ApiError::Refused { index, .. } => Some(*index),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.message(),
                index,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::Throttled { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::Body {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::Rejected { index, error } => ApiError::Refused { index, error },
            SubmitError::Ledger(e) => ApiError::Ledger(e),
            // The API writes no records with its transfers.
            SubmitError::RecordConflict { .. } => {
                ApiError::Ledger(LedgerError::InvalidRecord("an unexpected record conflict"))
            }
        }
    }
}

/// A transfer id on the wire: 32 hexadecimal digits.
pub fn hex_id(id: TransferId) -> String {
    format!("{:032x}", id.as_u128())
}

/// Parses [`hex_id`]'s form (either case). Zero is refused.
pub fn parse_hex_id(text: &str) -> Result<TransferId, String> {
    let refused =
        || format!("a transfer id is {TRANSFER_ID_HEX_DIGITS} hexadecimal digits, not zero");
    if text.len() != TRANSFER_ID_HEX_DIGITS || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refused());
    }
    u128::from_str_radix(text, 16)
        .ok()
        .and_then(TransferId::new)
        .ok_or_else(refused)
}

/// `POST /accounts`: the account to open.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AccountRequest {
    /// Who the account is for: a non-empty name (`system` for system
    /// accounts).
    #[schema(example = "alice", min_length = 1)]
    owner: String,
    kind: KindName,
    /// ISO 4217 code.
    #[schema(example = "USD")]
    currency: String,
}

/// An account kind on the wire. `play_issuance` (the mock chat's play
/// money) is answered but never opened nor moved through the API.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum KindName {
    UserWallet,
    Issuance,
    CardClearing,
    Fees,
    Escrow,
    PlayIssuance,
    Allowance,
    AllowanceSource,
}

impl From<KindName> for AccountKind {
    fn from(kind: KindName) -> Self {
        match kind {
            KindName::UserWallet => AccountKind::UserWallet,
            KindName::Issuance => AccountKind::Issuance,
            KindName::CardClearing => AccountKind::CardClearing,
            KindName::Fees => AccountKind::Fees,
            KindName::Escrow => AccountKind::Escrow,
            KindName::PlayIssuance => AccountKind::PlayIssuance,
            KindName::Allowance => AccountKind::Allowance,
            KindName::AllowanceSource => AccountKind::AllowanceSource,
        }
    }
}

impl From<AccountKind> for KindName {
    fn from(kind: AccountKind) -> Self {
        match kind {
            AccountKind::UserWallet => KindName::UserWallet,
            AccountKind::Issuance => KindName::Issuance,
            AccountKind::CardClearing => KindName::CardClearing,
            AccountKind::Fees => KindName::Fees,
            AccountKind::Escrow => KindName::Escrow,
            AccountKind::PlayIssuance => KindName::PlayIssuance,
            AccountKind::Allowance => KindName::Allowance,
            AccountKind::AllowanceSource => KindName::AllowanceSource,
        }
    }
}

/// What both account routes answer.
#[derive(Debug, Serialize, ToSchema)]
struct AccountAnswer {
    account: AccountBody,
}

/// An account as answered. Every amount is an integer count of the
/// currency's minor units.
#[derive(Debug, Serialize, ToSchema)]
struct AccountBody {
    /// The id the ledger assigned.
    #[schema(minimum = 1)]
    id: i64,
    owner: String,
    kind: KindName,
    /// ISO 4217 code.
    #[schema(value_type = String, example = "USD")]
    currency: &'static str,
    /// A user wallet may not go below zero.
    no_overdraft: bool,
    debits_posted: i64,
    credits_posted: i64,
    debits_pending: i64,
    credits_pending: i64,
    balance: BalanceBody,
}

/// The account's balance, from its four totals.
#[derive(Debug, Serialize, ToSchema)]
struct BalanceBody {
    /// Credits posted minus debits posted.
    posted: i64,
    /// Reserved by pending transfers out of the account.
    pending_out: i64,
    /// Reserved by pending transfers into the account.
    pending_in: i64,
    /// What may be spent now: posted minus pending_out.
    available: i64,
}

impl From<&Account> for AccountBody {
    fn from(a: &Account) -> Self {
        let balance = a.balance();
        AccountBody {
            id: a.id.0,
            owner: a.owner.as_str().to_owned(),
            kind: a.kind.into(),
            currency: a.currency.code(),
            no_overdraft: a.flags.no_overdraft(),
            debits_posted: a.debits_posted,
            credits_posted: a.credits_posted,
            debits_pending: a.debits_pending,
            credits_pending: a.credits_pending,
            balance: BalanceBody {
                posted: balance.posted,
                pending_out: balance.pending_out,
                pending_in: balance.pending_in,
                available: balance.available(),
            },
        }
    }
}

/// Parses a JSON body into `T`, with the body's own errors kept apart from
/// the shape's.
fn shaped<T: serde::de::DeserializeOwned>(
    body: Result<Json<Value>, JsonRejection>,
) -> Result<T, ApiError> {
    let Json(value) = body?;
    serde_json::from_value(value).map_err(|e| ApiError::Shape(e.to_string()))
}

fn currency_field(code: &str) -> Result<Currency, ApiError> {
    Currency::from_code(code).map_err(|e| ApiError::Field {
        field: "currency",
        problem: e.to_string(),
    })
}

/// `POST /api/v1/accounts`: opens the account for (owner, kind, currency),
/// or answers the one that exists (opening is idempotent on those three).
#[utoipa::path(
    post,
    path = "/accounts",
    tag = "ledger",
    operation_id = "open_account",
    summary = "Open an account",
    description = "Opens the account for (owner, kind, currency), or answers the one that \
                   exists: opening is idempotent on those three. A user wallet needs scope \
                   `transfer`; any other kind `issuance`.",
    security(("ledger_token" = [])),
    request_body = AccountRequest,
    responses(
        (status = 200, description = "The account, new or as it was.", body = AccountAnswer),
        (status = 400, description = "`malformed_json` or `invalid_field`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens from this address (or everywhere); `Retry-After` says when to try again.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 403, description = "`forbidden`: the token's scope is too narrow.", body = ErrorBody),
        (status = 413, description = "`body_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `Content-Type: application/json`.", body = ErrorBody),
        (status = 503, description = "`unavailable`: the ledger's store failed.", body = ErrorBody),
    ),
)]
async fn open_account(
    State(ledger): State<Ledger>,
    Extension(scope): Extension<Scope>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<AccountAnswer>, ApiError> {
    require(scope, Scope::Transfer)?;
    let request: AccountRequest = shaped(body)?;
    if matches!(request.kind, KindName::PlayIssuance) {
        return Err(play_money_refused());
    }
    if !matches!(request.kind, KindName::UserWallet) {
        require(scope, Scope::Issuance)?;
    }
    let new = NewAccount {
        owner: OwnerRef::new(request.owner).map_err(|e| ApiError::Field {
            field: "owner",
            problem: e.to_string(),
        })?,
        kind: request.kind.into(),
        currency: currency_field(&request.currency)?,
    };
    let account = ledger.open_account(&new).await.map_err(ApiError::Ledger)?;
    Ok(Json(AccountAnswer {
        account: AccountBody::from(&account),
    }))
}

/// `GET /api/v1/accounts/{id}`.
#[utoipa::path(
    get,
    path = "/accounts/{id}",
    tag = "ledger",
    operation_id = "get_account",
    summary = "Get an account",
    description = "One account with its totals and balance. Any ledger scope.",
    security(("ledger_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "The account's id.")),
    responses(
        (status = 200, description = "The account.", body = AccountAnswer),
        (status = 400, description = "`invalid_id`: not a positive integer.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens from this address (or everywhere); `Retry-After` says when to try again.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 404, description = "`account_not_found`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn account(
    State(ledger): State<Ledger>,
    Path(id): Path<String>,
) -> Result<Json<AccountAnswer>, ApiError> {
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(AccountId)
        .ok_or_else(|| ApiError::InvalidId("an account id is a positive integer".to_owned()))?;
    let account = ledger
        .account(id)
        .await
        .map_err(ApiError::Ledger)?
        .ok_or(ApiError::AccountNotFound(id))?;
    Ok(Json(AccountAnswer {
        account: AccountBody::from(&account),
    }))
}

/// One transfer to submit, as sent. Which fields a kind takes:
/// `single`: debit_account_id, credit_account_id, amount, currency;
/// `pending`: those and timeout_secs; `post`: pending_id and optionally
/// amount with currency (the whole pending amount when absent); `void`:
/// pending_id. `id` and `kind` always; `code` optionally (default 0).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    description = "One transfer to submit. `id` and `kind` always. `single`: \
    debit_account_id, credit_account_id, amount, currency. `pending`: those and timeout_secs. \
    `post`: pending_id, and optionally amount with currency (the whole pending amount when \
    absent). `void`: pending_id. `code` optionally (default 0). A field a kind does not use is \
    refused (400 `invalid_field`)."
)]
struct TransferRequest {
    /// The client-chosen id, 32 hexadecimal digits, not zero: the
    /// idempotency key.
    #[schema(
        example = "0000000000000000000000000000002a",
        pattern = "^(?!0{32}$)[0-9a-fA-F]{32}$"
    )]
    id: String,
    kind: TransferKindName,
    #[serde(default)]
    #[schema(minimum = 1)]
    debit_account_id: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1)]
    credit_account_id: Option<i64>,
    /// An integer count of the currency's minor units, more than zero
    /// (2050 is 20.50 USD).
    #[serde(default)]
    #[schema(minimum = 1, example = 2050)]
    amount: Option<i64>,
    /// ISO 4217 code, with `amount`.
    #[serde(default)]
    #[schema(example = "USD")]
    currency: Option<String>,
    /// How long a pending transfer reserves the money before it expires.
    #[serde(default)]
    #[schema(minimum = 1)]
    timeout_secs: Option<u32>,
    /// The pending transfer a post or void resolves (32 hexadecimal
    /// digits).
    #[serde(default)]
    #[schema(pattern = "^(?!0{32}$)[0-9a-fA-F]{32}$")]
    pending_id: Option<String>,
    /// A number of the client's own, kept with the transfer.
    #[serde(default)]
    code: Option<u16>,
}

/// The fields each transfer kind takes, as [`TransferRequest::parse`]
/// accepts them: (kind, required, optional, required together). The
/// document's per-kind schemas of a transfer request are built from it
/// ([`openapi::to_json`]), and a unit test holds it to the parser.
const TRANSFER_FIELDS: [TransferFields; 4] = [
    TransferFields {
        kind: "single",
        required: &[
            "id",
            "kind",
            "debit_account_id",
            "credit_account_id",
            "amount",
            "currency",
        ],
        optional: &["code"],
        together: &[],
    },
    TransferFields {
        kind: "pending",
        required: &[
            "id",
            "kind",
            "debit_account_id",
            "credit_account_id",
            "amount",
            "currency",
            "timeout_secs",
        ],
        optional: &["code"],
        together: &[],
    },
    TransferFields {
        kind: "post",
        required: &["id", "kind", "pending_id"],
        optional: &["amount", "currency", "code"],
        together: &["amount", "currency"],
    },
    TransferFields {
        kind: "void",
        required: &["id", "kind", "pending_id"],
        optional: &["code"],
        together: &[],
    },
];

/// One row of [`TRANSFER_FIELDS`].
#[derive(Debug, Clone, Copy)]
struct TransferFields {
    kind: &'static str,
    required: &'static [&'static str],
    optional: &'static [&'static str],
    /// Optional fields given all or none.
    together: &'static [&'static str],
}

/// `POST /transfers`: a linked group, recorded all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TransferGroup {
    /// 1 to `ledger::LINKED_TRANSFERS_MAX` transfers.
    transfers: Vec<TransferRequest>,
}

/// `POST /transfers`'s body: one transfer, or a linked group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
enum SubmitBody {
    Linked(TransferGroup),
    One(TransferRequest),
}

/// A transfer kind on the wire. `expire` is written by the ledger's sweeper
/// only, so a request cannot ask for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum TransferKindName {
    #[default]
    Single,
    Pending,
    Post,
    Void,
}

/// A recorded transfer's kind: a request's kinds, and `expire` (written by
/// the ledger when a pending transfer times out).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum TransferKindAnswer {
    Single,
    Pending,
    Post,
    Void,
    Expire,
}

impl From<TransferKind> for TransferKindAnswer {
    fn from(kind: TransferKind) -> Self {
        match kind {
            TransferKind::Single => TransferKindAnswer::Single,
            TransferKind::Pending => TransferKindAnswer::Pending,
            TransferKind::Post => TransferKindAnswer::Post,
            TransferKind::Void => TransferKindAnswer::Void,
            TransferKind::Expire => TransferKindAnswer::Expire,
        }
    }
}

impl TransferRequest {
    /// The ledger's transfer, or the first field that is wrong.
    fn parse(self) -> Result<NewTransfer, ApiError> {
        let field = |field: &'static str, problem: &str| ApiError::Field {
            field,
            problem: problem.to_owned(),
        };
        let id = parse_hex_id(&self.id).map_err(|p| field("id", &p))?;
        let account = |name: &'static str, value: Option<i64>| {
            value
                .filter(|id| *id > 0)
                .map(AccountId)
                .ok_or_else(|| field(name, "required: a positive account id"))
        };
        let amount = |minor: i64, currency: &Option<String>| -> Result<Amount, ApiError> {
            let code = currency
                .as_deref()
                .ok_or_else(|| field("currency", "required with an amount"))?;
            Amount::from_minor(minor, currency_field(code)?)
                .map_err(|e| field("amount", &e.to_string()))
        };
        let unused = |name: &'static str, given: bool| {
            if given {
                Err(field(name, "not used by this kind of transfer"))
            } else {
                Ok(())
            }
        };
        let pending_id = |value: &Option<String>| {
            let text = value
                .as_deref()
                .ok_or_else(|| field("pending_id", "required: the pending transfer's id"))?;
            parse_hex_id(text).map_err(|p| field("pending_id", &p))
        };
        let transfer = match self.kind {
            TransferKindName::Single | TransferKindName::Pending => {
                unused("pending_id", self.pending_id.is_some())?;
                let debit = account("debit_account_id", self.debit_account_id)?;
                let credit = account("credit_account_id", self.credit_account_id)?;
                let minor = self
                    .amount
                    .ok_or_else(|| field("amount", "required: minor units, more than zero"))?;
                let amount = amount(minor, &self.currency)?;
                if self.kind == TransferKindName::Single {
                    unused("timeout_secs", self.timeout_secs.is_some())?;
                    NewTransfer::single(id, debit, credit, amount)
                } else {
                    let timeout = self
                        .timeout_secs
                        .ok_or_else(|| field("timeout_secs", "required for a pending transfer"))?;
                    NewTransfer::pending(id, debit, credit, amount, timeout)
                }
            }
            TransferKindName::Post | TransferKindName::Void => {
                unused("debit_account_id", self.debit_account_id.is_some())?;
                unused("credit_account_id", self.credit_account_id.is_some())?;
                unused("timeout_secs", self.timeout_secs.is_some())?;
                let pending = pending_id(&self.pending_id)?;
                if self.kind == TransferKindName::Post {
                    let posted = self
                        .amount
                        .map(|minor| amount(minor, &self.currency))
                        .transpose()?;
                    if posted.is_none() {
                        unused("currency", self.currency.is_some())?;
                    }
                    NewTransfer::post(id, pending, posted)
                } else {
                    unused("amount", self.amount.is_some())?;
                    unused("currency", self.currency.is_some())?;
                    NewTransfer::void(id, pending)
                }
            }
        };
        Ok(transfer.with_code(self.code.unwrap_or(0)))
    }
}

/// A transfer as recorded.
#[derive(Debug, Serialize, ToSchema)]
struct TransferBody {
    /// 32 lowercase hexadecimal digits.
    #[schema(
        example = "0000000000000000000000000000002a",
        pattern = "^[0-9a-f]{32}$"
    )]
    id: String,
    kind: TransferKindAnswer,
    debit_account_id: i64,
    credit_account_id: i64,
    /// An integer count of the currency's minor units (2050 is 20.50 USD).
    #[schema(example = 2050)]
    amount: i64,
    /// ISO 4217 code.
    #[schema(value_type = String, example = "USD")]
    currency: &'static str,
    /// The pending transfer this post, void or expiry resolves; `null`
    /// for the other kinds.
    #[schema(required = true, pattern = "^[0-9a-f]{32}$")]
    pending_id: Option<String>,
    /// A pending transfer's timeout (0 for the other kinds).
    timeout_secs: u32,
    code: u16,
    /// When the ledger recorded it, in Unix milliseconds.
    timestamp_ms: i64,
}

impl From<&Transfer> for TransferBody {
    fn from(t: &Transfer) -> Self {
        TransferBody {
            id: hex_id(t.id),
            kind: t.kind.into(),
            debit_account_id: t.debit_account_id.0,
            credit_account_id: t.credit_account_id.0,
            amount: t.amount.minor(),
            currency: t.amount.currency().code(),
            pending_id: t.pending_id.map(hex_id),
            timeout_secs: t.timeout_secs,
            code: t.code,
            timestamp_ms: t.timestamp_ms,
        }
    }
}

/// Whether a submission recorded something now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum SubmitStatus {
    /// Recorded now (201).
    Created,
    /// Recorded before with the same fields; nothing changed (200).
    Exists,
}

/// One transfer's outcome.
#[derive(Debug, Serialize, ToSchema)]
struct OutcomeBody {
    status: SubmitStatus,
    transfer: TransferBody,
}

/// A linked group's outcome: `created` when any transfer was recorded now.
#[derive(Debug, Serialize, ToSchema)]
struct LinkedOutcomeBody {
    status: SubmitStatus,
    transfers: Vec<OutcomeBody>,
}

/// `POST /transfers`'s answer: one outcome for one transfer, the group's
/// for a linked group.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
enum SubmitAnswer {
    One(OutcomeBody),
    Linked(LinkedOutcomeBody),
}

/// `GET /transfers/{id}`'s answer.
#[derive(Debug, Serialize, ToSchema)]
struct TransferAnswer {
    transfer: TransferBody,
    /// For a pending transfer only: the post, void or expiry that resolved
    /// it, `null` while it is open. Absent for the other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<TransferBody>, required = false)]
    resolution: Option<Option<TransferBody>>,
}

fn outcome_body(outcome: &Outcome) -> OutcomeBody {
    let status = match outcome {
        Outcome::Created(_) => SubmitStatus::Created,
        Outcome::Exists(_) => SubmitStatus::Exists,
    };
    OutcomeBody {
        status,
        transfer: outcome.transfer().into(),
    }
}

/// `POST /api/v1/transfers`: one transfer (a transfer object), or a linked
/// group (`{"transfers": [...]}`) recorded all or nothing. 201 when
/// something was recorded now; 200 with status `exists` when every
/// transfer had been recorded before with the same fields.
#[utoipa::path(
    post,
    path = "/transfers",
    tag = "ledger",
    operation_id = "submit_transfers",
    summary = "Submit a transfer or a linked group",
    description = "One transfer, or a linked group (`{\"transfers\": [...]}`) recorded all or \
                   nothing. The id is the idempotency key: the same id with the same fields \
                   answers `exists` and changes nothing; with other fields, 409 \
                   `exists_with_different_fields`. Scope `transfer` between user wallets; \
                   `issuance` for any transfer that touches a system account.",
    security(("ledger_token" = [])),
    request_body = SubmitBody,
    responses(
        (status = 201, description = "Recorded now (`status: created`).", body = SubmitAnswer),
        (status = 200, description = "Recorded before with the same fields (`status: exists`).", body = SubmitAnswer),
        (status = 400, description = "`malformed_json` or `invalid_field`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens from this address (or everywhere); `Retry-After` says when to try again.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 403, description = "`forbidden`: the token's scope is too narrow.", body = ErrorBody),
        (status = 409, description = "`exists_with_different_fields`, `pending_already_posted`, \
                                      `pending_already_voided`, `pending_already_expired`.", body = ErrorBody),
        (status = 413, description = "`body_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "Refused by the ledger, nothing recorded: \
                                      `insufficient_funds`, `unknown_account`, `same_account`, \
                                      `currency_mismatch`, `pending_not_found`, `invalid_batch_size`, \
                                      ... `index` names the refused transfer of a group.", body = ErrorBody),
        (status = 503, description = "`unavailable`: the outcome is unknown; send the same ids again.", body = ErrorBody),
    ),
)]
async fn submit(
    State(ledger): State<Ledger>,
    Extension(scope): Extension<Scope>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<SubmitAnswer>), ApiError> {
    require(scope, Scope::Transfer)?;
    let Json(value) = body?;
    let linked = value.get("transfers").is_some();
    // Which shape is decided by the `transfers` key, so each shape's own
    // error is reported rather than "matches no variant".
    let shape = |e: serde_json::Error| ApiError::Shape(e.to_string());
    let body = if linked {
        SubmitBody::Linked(serde_json::from_value(value).map_err(shape)?)
    } else {
        SubmitBody::One(serde_json::from_value(value).map_err(shape)?)
    };
    let requests = match body {
        SubmitBody::Linked(group) => group.transfers,
        SubmitBody::One(one) => vec![one],
    };
    if requests.is_empty() || requests.len() > ledger::LINKED_TRANSFERS_MAX {
        return Err(ApiError::Refused {
            index: 0,
            error: TransferError::InvalidBatchSize {
                max: ledger::LINKED_TRANSFERS_MAX,
            },
        });
    }
    let group = requests
        .into_iter()
        .map(TransferRequest::parse)
        .collect::<Result<Vec<_>, _>>()?;
    match touches(&ledger, &group).await? {
        Touches::UserWalletsOnly => {}
        Touches::PlayMoney => return Err(play_money_refused()),
        Touches::SystemAccounts if scope < Scope::Issuance => {
            return Err(ApiError::Forbidden {
                has: scope.into(),
                needed: Scope::Issuance.into(),
            });
        }
        Touches::SystemAccounts => {}
    }
    let outcomes = ledger.submit_linked(group).await?;
    let created = outcomes.iter().any(|o| matches!(o, Outcome::Created(_)));
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = match outcomes.as_slice() {
        [one] if !linked => SubmitAnswer::One(outcome_body(one)),
        many => SubmitAnswer::Linked(LinkedOutcomeBody {
            status: if created {
                SubmitStatus::Created
            } else {
                SubmitStatus::Exists
            },
            transfers: many.iter().map(outcome_body).collect(),
        }),
    };
    Ok((status, Json(body)))
}

/// Which accounts a group of transfers moves money on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touches {
    UserWalletsOnly,
    /// An account that is not a user wallet, or a pending transfer that
    /// cannot be found (it might be created before this group lands).
    SystemAccounts,
    /// The mock chat's play-money account: never through the API.
    PlayMoney,
}

/// The mock chat's play money stays in the mock chat: the API neither
/// opens its account nor moves money on it, whatever the token's scope.
fn play_money_refused() -> ApiError {
    ApiError::Field {
        field: "kind",
        problem: "play_issuance is the mock chat's play money (development only) and is not reachable through the API".to_owned(),
    }
}

/// Which accounts a transfer of `group` debits or credits, or those of the
/// pending transfer it resolves. Account kinds never change, so this read
/// cannot go stale.
async fn touches(ledger: &Ledger, group: &[NewTransfer]) -> Result<Touches, ApiError> {
    let mut accounts = Vec::new();
    for transfer in group {
        match &transfer.op {
            TransferOp::Single { debit, credit, .. }
            | TransferOp::Pending { debit, credit, .. } => {
                accounts.extend([*debit, *credit]);
            }
            TransferOp::Post { pending_id, .. }
            | TransferOp::Void { pending_id }
            | TransferOp::Expire { pending_id } => {
                let in_group = group.iter().find_map(|t| match &t.op {
                    TransferOp::Pending { debit, credit, .. } if t.id == *pending_id => {
                        Some((*debit, *credit))
                    }
                    _ => None,
                });
                let found = match in_group {
                    Some(pair) => Some(pair),
                    None => ledger
                        .transfer(*pending_id)
                        .await
                        .map_err(ApiError::Ledger)?
                        .map(|t| (t.debit_account_id, t.credit_account_id)),
                };
                let Some((debit, credit)) = found else {
                    return Ok(Touches::SystemAccounts);
                };
                accounts.extend([debit, credit]);
            }
        }
    }
    accounts.sort();
    accounts.dedup();
    let mut touches = Touches::UserWalletsOnly;
    for id in accounts {
        let kind = ledger
            .account(id)
            .await
            .map_err(ApiError::Ledger)?
            .map(|account| account.kind);
        // An unknown account is refused by the ledger itself.
        match kind {
            Some(AccountKind::PlayIssuance) => return Ok(Touches::PlayMoney),
            Some(AccountKind::UserWallet) | None => {}
            Some(_) => touches = Touches::SystemAccounts,
        }
    }
    Ok(touches)
}

/// `GET /api/v1/transfers/{id}`: the transfer and, for a pending one, the
/// post, void or expiry that resolved it (`null` while open).
#[utoipa::path(
    get,
    path = "/transfers/{id}",
    tag = "ledger",
    operation_id = "get_transfer",
    summary = "Get a transfer",
    description = "One transfer and, for a pending one, the post, void or expiry that \
                   resolved it (`null` while open). Any ledger scope.",
    security(("ledger_token" = [])),
    params(("id" = String, Path, pattern = "^(?!0{32}$)[0-9a-fA-F]{32}$",
            description = "The transfer's id: 32 hexadecimal digits, not zero.")),
    responses(
        (status = 200, description = "The transfer.", body = TransferAnswer),
        (status = 400, description = "`invalid_id`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens from this address (or everywhere); `Retry-After` says when to try again.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 404, description = "`transfer_not_found`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn transfer(
    State(ledger): State<Ledger>,
    Path(id): Path<String>,
) -> Result<Json<TransferAnswer>, ApiError> {
    let id = parse_hex_id(&id).map_err(ApiError::InvalidId)?;
    let transfer = ledger
        .transfer(id)
        .await
        .map_err(ApiError::Ledger)?
        .ok_or(ApiError::TransferNotFound(id))?;
    let resolution = if transfer.kind == TransferKind::Pending {
        let resolution = ledger.resolution_of(id).await.map_err(ApiError::Ledger)?;
        Some(resolution.as_ref().map(TransferBody::from))
    } else {
        None
    };
    Ok(Json(TransferAnswer {
        transfer: TransferBody::from(&transfer),
        resolution,
    }))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use ledger::testing::{TestBackend, TestDb};
    use serde_json::json;
    use tower::ServiceExt;

    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    const READ_TOKEN: &str = "read-token-0123456789abcdef012345";
    const TRANSFER_TOKEN: &str = "transfer-token-0123456789abcdef01";

    #[test]
    fn wrong_tokens_are_throttled_per_address_and_globally() {
        let throttle = AuthThrottle::default();
        let start = Instant::now();
        let attacker = Some(IpAddr::from([192, 0, 2, 1]));
        let client = Some(IpAddr::from([192, 0, 2, 2]));
        throttle.succeeded(client, start);
        for _ in 0..AUTH_FAILURES_PER_ADDRESS_MAX {
            assert_eq!(throttle.check(attacker, start), Ok(()));
            throttle.failed(attacker, start);
        }
        assert_eq!(
            throttle.check(attacker, start),
            Err(AUTH_FAILURE_WINDOW_SECS)
        );
        // Another address is not blocked by this one.
        assert_eq!(
            throttle.check(Some(IpAddr::from([192, 0, 2, 3])), start),
            Ok(())
        );
        // Many addresses, a few tries each: the global bound.
        for n in 0..AUTH_FAILURES_GLOBAL_MAX {
            let address = IpAddr::from([
                10,
                0,
                u8::try_from(n / 256).unwrap(),
                u8::try_from(n % 256).unwrap(),
            ]);
            throttle.failed(Some(address), start);
        }
        let later = start + Duration::from_secs(30);
        assert_eq!(
            throttle.check(Some(IpAddr::from([198, 51, 100, 9])), later),
            Err(AUTH_FAILURE_WINDOW_SECS - 30)
        );
        assert_eq!(
            throttle.check(None, later),
            Err(AUTH_FAILURE_WINDOW_SECS - 30)
        );
        // A client that authenticated recently still gets through.
        assert_eq!(throttle.check(client, later), Ok(()));
        // The window ends.
        let after = start + Duration::from_secs(AUTH_FAILURE_WINDOW_SECS);
        assert_eq!(throttle.check(attacker, after), Ok(()));
        assert_eq!(throttle.check(None, after), Ok(()));
    }

    #[tokio::test]
    async fn each_scope_does_only_what_it_allows() {
        let api = Api::new().await;
        let alice = api.open("alice", "user_wallet").await;
        let bob = api.open("bob", "user_wallet").await;
        let issuance = api.open("system", "issuance").await;
        let fees = api.open("system", "fees").await;
        api.post("/transfers", &single(1, issuance, alice, 1_000))
            .await;
        let as_token = |token: &str, path: &str, body: &Value| {
            Request::post(format!("{API_PREFIX}{path}"))
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        // Read: reads only.
        let request = Request::get(format!("{API_PREFIX}/accounts/{alice}"))
            .header("authorization", format!("Bearer {READ_TOKEN}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(api.call(request).await.0, StatusCode::OK);
        let (status, body) = api
            .call(as_token(
                READ_TOKEN,
                "/transfers",
                &single(2, alice, bob, 100),
            ))
            .await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
        // Transfer: between wallets, never from or to a system account.
        let (status, _) = api
            .call(as_token(
                TRANSFER_TOKEN,
                "/transfers",
                &single(2, alice, bob, 100),
            ))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        for (id, debit, credit) in [(3, issuance, alice), (4, alice, fees), (5, fees, bob)] {
            let (status, body) = api
                .call(as_token(
                    TRANSFER_TOKEN,
                    "/transfers",
                    &single(id, debit, credit, 100),
                ))
                .await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{body}"
            );
        }
        let open = |kind: &str| json!({"owner": "mallory", "kind": kind, "currency": "USD"});
        let (status, _) = api
            .call(as_token(TRANSFER_TOKEN, "/accounts", &open("user_wallet")))
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = api
            .call(as_token(TRANSFER_TOKEN, "/accounts", &open("issuance")))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // A pending mint made with the issuance scope cannot be posted
        // with the transfer scope; nor can a post of an unknown transfer.
        let pending = json!({"id": format!("{:032x}", 6), "kind": "pending",
            "debit_account_id": issuance, "credit_account_id": alice, "amount": 50,
            "currency": "USD", "timeout_secs": 60});
        assert_eq!(
            api.post("/transfers", &pending).await.0,
            StatusCode::CREATED
        );
        for pending_id in [6_u128, 99] {
            let post = json!({"id": format!("{:032x}", 7), "kind": "post",
                "pending_id": format!("{pending_id:032x}")});
            let (status, _) = api
                .call(as_token(TRANSFER_TOKEN, "/transfers", &post))
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{pending_id}");
        }
        let (_, body) = api.get(&format!("/accounts/{alice}")).await;
        assert_eq!(body["account"]["balance"]["posted"], 900);
        api.cleanup().await;
    }

    #[test]
    fn token_is_bounded_printable_and_matched_exactly() {
        assert_eq!(
            ApiToken::parse(&"x".repeat(31)).unwrap_err(),
            ApiTokenError::Length
        );
        assert_eq!(
            ApiToken::parse(&"x".repeat(257)).unwrap_err(),
            ApiTokenError::Length
        );
        let spaced = format!("{} x", "y".repeat(32));
        assert_eq!(
            ApiToken::parse(&spaced).unwrap_err(),
            ApiTokenError::Characters
        );
        let token = ApiToken::parse(TOKEN).unwrap();
        assert!(token.matches(TOKEN.as_bytes()));
        assert!(!token.matches(b"0123456789abcdef0123456789abcdeF"));
        assert!(!token.matches(b""));
        assert_eq!(format!("{token:?}"), "ApiToken([REDACTED])");
    }

    #[test]
    fn each_kind_takes_the_fields_the_document_says() {
        let sample = |field: &str| match field {
            "id" => json!(format!("{:032x}", 0x2a)),
            "pending_id" => json!(format!("{:032x}", 0x2b)),
            "debit_account_id" => json!(1),
            "credit_account_id" => json!(2),
            "amount" => json!(5),
            "currency" => json!("USD"),
            "timeout_secs" => json!(60),
            "code" => json!(7),
            other => panic!("no sample for {other}"),
        };
        let all = [
            "id",
            "kind",
            "debit_account_id",
            "credit_account_id",
            "amount",
            "currency",
            "timeout_secs",
            "pending_id",
            "code",
        ];
        let parses = |fields: &[&str], kind: &str| {
            let mut body = serde_json::Map::new();
            for field in fields {
                let value = if *field == "kind" {
                    json!(kind)
                } else {
                    sample(field)
                };
                body.insert((*field).to_owned(), value);
            }
            // A missing `id` is refused by the shape, the rest by `parse`.
            serde_json::from_value::<TransferRequest>(Value::Object(body))
                .is_ok_and(|request| request.parse().is_ok())
        };
        for fields in TRANSFER_FIELDS {
            let required = fields.required.to_vec();
            assert!(parses(&required, fields.kind), "{fields:?}");
            let mut everything = required.clone();
            everything.extend(fields.optional);
            assert!(parses(&everything, fields.kind), "{fields:?}");
            for missing in fields.required.iter().filter(|f| **f != "kind") {
                let fewer: Vec<&str> = required.iter().copied().filter(|f| f != missing).collect();
                assert!(!parses(&fewer, fields.kind), "{fields:?} without {missing}");
            }
            for alone in fields.together {
                let mut one = required.clone();
                one.push(alone);
                assert!(!parses(&one, fields.kind), "{fields:?} with {alone} alone");
            }
            for other in all
                .iter()
                .filter(|f| !fields.required.contains(f) && !fields.optional.contains(f))
            {
                let mut more = required.clone();
                more.push(other);
                assert!(!parses(&more, fields.kind), "{fields:?} with {other}");
            }
        }
    }

    #[test]
    fn transfer_ids_are_32_hex_digits_and_never_zero() {
        let id = parse_hex_id("0000000000000000000000000000002A").unwrap();
        assert_eq!(id.as_u128(), 42);
        assert_eq!(hex_id(id), "0000000000000000000000000000002a");
        for bad in ["", "2a", &"0".repeat(32), &"g".repeat(32), &"1".repeat(33)] {
            assert!(parse_hex_id(bad).is_err(), "{bad:?}");
        }
        // The hyphenated UUID form is not this API's form.
        assert!(parse_hex_id("00000000-0000-0000-0000-00000000002a").is_err());
    }

    /// The API on a fresh SQLite ledger, driven in-process.
    struct Api {
        db: TestDb,
    }

    impl Api {
        async fn new() -> Api {
            Api {
                db: TestDb::fresh(TestBackend::Sqlite).await.unwrap(),
            }
        }

        async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
            let tokens = ApiTokens::new(vec![
                (ApiToken::parse(TOKEN).unwrap(), Scope::Issuance.into()),
                (ApiToken::parse(READ_TOKEN).unwrap(), Scope::Read.into()),
                (
                    ApiToken::parse(TRANSFER_TOKEN).unwrap(),
                    Scope::Transfer.into(),
                ),
            ])
            .unwrap();
            let app = router(
                Some(LedgerApi {
                    ledger: self.db.ledger.clone(),
                    tokens,
                    admin: None,
                }),
                None,
                None,
            );
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let value = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&body)));
            (status, value)
        }

        async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
            self.post_raw(path, &body.to_string()).await
        }

        async fn post_raw(&self, path: &str, body: &str) -> (StatusCode, Value) {
            let request = Request::post(format!("{API_PREFIX}{path}"))
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::from(body.to_owned()))
                .unwrap();
            self.call(request).await
        }

        async fn get(&self, path: &str) -> (StatusCode, Value) {
            let request = Request::get(format!("{API_PREFIX}{path}"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap();
            self.call(request).await
        }

        async fn open(&self, owner: &str, kind: &str) -> i64 {
            let (status, body) = self
                .post(
                    "/accounts",
                    &json!({"owner": owner, "kind": kind, "currency": "USD"}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["account"]["id"].as_i64().unwrap()
        }

        async fn cleanup(self) {
            self.db.cleanup().await;
        }
    }

    fn code(body: &Value) -> &str {
        body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {body}"))
    }

    fn single(id: u128, debit: i64, credit: i64, amount: i64) -> Value {
        json!({"id": format!("{id:032x}"), "kind": "single", "debit_account_id": debit,
               "credit_account_id": credit, "amount": amount, "currency": "USD"})
    }

    #[tokio::test]
    async fn accounts_open_idempotently_and_show_their_balance() {
        let api = Api::new().await;
        let alice = api.open("alice", "user_wallet").await;
        assert_eq!(api.open("alice", "user_wallet").await, alice);
        let issuance = api.open("system", "issuance").await;
        let (status, _) = api
            .post("/transfers", &single(1, issuance, alice, 2_500))
            .await;
        assert_eq!(status, StatusCode::CREATED);

        let (status, body) = api.get(&format!("/accounts/{alice}")).await;
        assert_eq!(status, StatusCode::OK);
        let account = &body["account"];
        assert_eq!(account["kind"], "user_wallet");
        assert_eq!(account["currency"], "USD");
        assert_eq!(account["no_overdraft"], true);
        assert_eq!(account["credits_posted"], 2_500);
        assert_eq!(account["balance"]["available"], 2_500);

        let (status, body) = api.get("/accounts/999").await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "account_not_found")
        );
        let (status, body) = api.get("/accounts/abc").await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_id")
        );
        let (status, body) = api
            .post(
                "/accounts",
                &json!({"owner": "", "kind": "user_wallet", "currency": "USD"}),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_field")
        );
        let (status, body) = api
            .post(
                "/accounts",
                &json!({"owner": "bob", "kind": "user_wallet", "currency": "XXX"}),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_field")
        );
        api.cleanup().await;
    }

    #[tokio::test]
    async fn play_money_is_not_reachable_through_the_api() {
        let api = Api::new().await;
        let alice = api.open("alice", "user_wallet").await;
        let body = json!({"owner": "system", "kind": "play_issuance", "currency": "USD"});
        let (status, answer) = api.post("/accounts", &body).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::BAD_REQUEST, "invalid_field"),
            "{answer}"
        );
        // The mock chat's play-money account, opened by the bot in
        // development: the full-access token moves nothing from it.
        let play = api
            .db
            .ledger
            .open_account(&NewAccount {
                owner: OwnerRef::system(),
                kind: AccountKind::PlayIssuance,
                currency: Currency::USD,
            })
            .await
            .unwrap()
            .id;
        let (status, answer) = api
            .post("/transfers", &single(9, play.0, alice, 1_000))
            .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::BAD_REQUEST, "invalid_field"),
            "{answer}"
        );
        let (_, answer) = api.get(&format!("/accounts/{alice}")).await;
        assert_eq!(answer["account"]["balance"]["posted"], 0);
        api.cleanup().await;
    }

    #[tokio::test]
    async fn a_resubmitted_transfer_exists_and_a_changed_one_conflicts() {
        let api = Api::new().await;
        let alice = api.open("alice", "user_wallet").await;
        let bob = api.open("bob", "user_wallet").await;
        let issuance = api.open("system", "issuance").await;
        let (status, body) = api
            .post("/transfers", &single(7, issuance, alice, 1_000))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["status"], "created");
        assert_eq!(body["transfer"]["id"], format!("{:032x}", 7));

        let (status, body) = api
            .post("/transfers", &single(7, issuance, alice, 1_000))
            .await;
        assert_eq!(
            (status, &body["status"]),
            (StatusCode::OK, &json!("exists"))
        );
        let (status, body) = api
            .post("/transfers", &single(7, issuance, alice, 1_001))
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::CONFLICT, "exists_with_different_fields")
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("amount")
        );

        // Applied once: alice holds 10.00, not 20.00.
        let (_, body) = api.get(&format!("/accounts/{alice}")).await;
        assert_eq!(body["account"]["balance"]["posted"], 1_000);

        let (status, body) = api.post("/transfers", &single(8, alice, bob, 1_001)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds")
        );
        let (status, body) = api.get(&format!("/transfers/{:032x}", 8)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "transfer_not_found")
        );
        api.cleanup().await;
    }

    #[tokio::test]
    async fn two_phase_transfers_resolve_once() {
        let api = Api::new().await;
        let alice = api.open("alice", "user_wallet").await;
        let bob = api.open("bob", "user_wallet").await;
        let issuance = api.open("system", "issuance").await;
        api.post("/transfers", &single(1, issuance, alice, 1_000))
            .await;

        let pending = |id: u128, amount: i64| {
            json!({"id": format!("{id:032x}"), "kind": "pending", "debit_account_id": alice,
                   "credit_account_id": bob, "amount": amount, "currency": "USD",
                   "timeout_secs": 3600})
        };
        let resolve = |id: u128, kind: &str, pending: u128| json!({"id": format!("{id:032x}"), "kind": kind, "pending_id": format!("{pending:032x}")});
        assert_eq!(
            api.post("/transfers", &pending(10, 600)).await.0,
            StatusCode::CREATED
        );
        // The reservation counts: 600 of 1000 are held.
        let (status, body) = api.post("/transfers", &pending(11, 500)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds")
        );

        // A partial post: 400 of the 600 move, 200 go back.
        let mut post = resolve(12, "post", 10);
        post["amount"] = json!(400);
        post["currency"] = json!("USD");
        let (status, body) = api.post("/transfers", &post).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["transfer"]["amount"], 400);
        // Resolved once: a void after the post is refused; the post again exists.
        let (status, body) = api.post("/transfers", &resolve(13, "void", 10)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::CONFLICT, "pending_already_posted")
        );
        assert_eq!(api.post("/transfers", &post).await.0, StatusCode::OK);

        let (status, body) = api.get(&format!("/transfers/{:032x}", 10)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["transfer"]["kind"], "pending");
        assert_eq!(body["resolution"]["id"], format!("{:032x}", 12));
        let (_, body) = api.get(&format!("/accounts/{bob}")).await;
        assert_eq!(body["account"]["balance"]["posted"], 400);

        // A void releases everything, once.
        assert_eq!(
            api.post("/transfers", &pending(20, 300)).await.0,
            StatusCode::CREATED
        );
        assert_eq!(
            api.post("/transfers", &resolve(21, "void", 20)).await.0,
            StatusCode::CREATED
        );
        let (status, body) = api.post("/transfers", &resolve(22, "void", 20)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::CONFLICT, "pending_already_voided")
        );
        let (status, body) = api.post("/transfers", &resolve(23, "post", 99)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "pending_not_found")
        );
        let (_, body) = api.get(&format!("/accounts/{alice}")).await;
        assert_eq!(body["account"]["balance"]["available"], 600);
        api.cleanup().await;
    }

    #[tokio::test]
    async fn a_linked_group_is_all_or_nothing() {
        let api = Api::new().await;
        let alice = api.open("alice", "user_wallet").await;
        let bob = api.open("bob", "user_wallet").await;
        let carol = api.open("carol", "user_wallet").await;
        let issuance = api.open("system", "issuance").await;
        api.post("/transfers", &single(1, issuance, alice, 1_000))
            .await;

        let group =
            json!({"transfers": [single(2, alice, bob, 600), single(3, alice, carol, 600)]});
        let (status, body) = api.post("/transfers", &group).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds")
        );
        assert_eq!(body["error"]["index"], 1);
        assert_eq!(
            api.get(&format!("/transfers/{:032x}", 2)).await.0,
            StatusCode::NOT_FOUND
        );

        let group =
            json!({"transfers": [single(2, alice, bob, 400), single(3, alice, carol, 600)]});
        let (status, body) = api.post("/transfers", &group).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["transfers"].as_array().unwrap().len(), 2);
        let (status, body) = api.post("/transfers", &group).await;
        assert_eq!(
            (status, &body["status"]),
            (StatusCode::OK, &json!("exists"))
        );
        let (_, body) = api.get(&format!("/accounts/{alice}")).await;
        assert_eq!(body["account"]["balance"]["posted"], 0);

        let (status, body) = api.post("/transfers", &json!({"transfers": []})).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_batch_size")
        );
        api.cleanup().await;
    }

    #[tokio::test]
    async fn bad_requests_get_a_code_and_never_an_internal_error() {
        let api = Api::new().await;
        let cases: &[(&str, StatusCode, &str)] = &[
            ("{", StatusCode::BAD_REQUEST, "malformed_json"),
            ("[1, 2]", StatusCode::BAD_REQUEST, "malformed_json"),
            (
                r#"{"id": "01", "kind": "teleport"}"#,
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                r#"{"id": 5, "kind": "single"}"#,
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                r#"{"id": "0000000000000000000000000000000a", "kind": "single", "colour": 1}"#,
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                r#"{"id": "zz", "kind": "single"}"#,
                StatusCode::BAD_REQUEST,
                "invalid_field",
            ),
            (
                r#"{"id": "0000000000000000000000000000000a", "kind": "single",
                    "debit_account_id": 1, "credit_account_id": 2, "amount": -5, "currency": "USD"}"#,
                StatusCode::BAD_REQUEST,
                "invalid_field",
            ),
            (
                r#"{"id": "0000000000000000000000000000000a", "kind": "void",
                    "pending_id": "0000000000000000000000000000000b", "amount": 5}"#,
                StatusCode::BAD_REQUEST,
                "invalid_field",
            ),
            (
                r#"{"id": "0000000000000000000000000000000a", "kind": "single",
                    "debit_account_id": 1, "credit_account_id": 2, "amount": 5, "currency": "USD"}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_account",
            ),
        ];
        for (body, status, expected) in cases {
            let (got, answer) = api.post_raw("/transfers", body).await;
            assert_eq!(
                (got, code(&answer)),
                (*status, *expected),
                "{body}: {answer}"
            );
        }

        let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(API_BODY_BYTES_MAX));
        let (status, body) = api.post_raw("/transfers", &huge).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
        );

        let request = Request::post(format!("{API_PREFIX}/transfers"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::from("{}"))
            .unwrap();
        let (status, body) = api.call(request).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        );

        let (status, body) = api.get("/nowhere").await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "no_such_route")
        );
        let request = Request::delete(format!("{API_PREFIX}/transfers"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let (status, body) = api.call(request).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        );
        api.cleanup().await;
    }

    #[tokio::test]
    async fn every_route_wants_the_token() {
        let api = Api::new().await;
        for authorization in [None, Some("Bearer wrong"), Some(TOKEN), Some("Basic x")] {
            for path in [
                "/accounts/1",
                "/transfers/0000000000000000000000000000000a",
                "/nowhere",
            ] {
                let mut request = Request::get(format!("{API_PREFIX}{path}"));
                if let Some(value) = authorization {
                    request = request.header("authorization", value);
                }
                let (status, body) = api.call(request.body(Body::empty()).unwrap()).await;
                assert_eq!(
                    (status, code(&body)),
                    (StatusCode::UNAUTHORIZED, "unauthorized")
                );
            }
        }
        // The scheme is case-insensitive, as HTTP says.
        let request = Request::get(format!("{API_PREFIX}/accounts/1"))
            .header("authorization", format!("bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(api.call(request).await.0, StatusCode::NOT_FOUND);
        api.cleanup().await;
    }

    #[tokio::test]
    async fn a_store_failure_is_503_without_its_text() {
        let api = Api::new().await;
        api.db.ledger.close().await;
        let (status, body) = api.get("/accounts/1").await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert_eq!(
            message,
            "the ledger is unavailable; retry with the same ids"
        );
        api.cleanup().await;
    }
}
