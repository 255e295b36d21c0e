//! [`VisaDirectClient`]: the core's [`CardRail`] port over HTTP shaped like
//! Visa Direct's Funds Transfer API.
//!
//! Endpoints, under the rail URL (`cards.rail_url`):
//! - `POST /vts/v1/tokens`: tokenization (paybot's shape, after Visa Token
//!   Service's provisioning call): `{primaryAccountNumber, expirationDate:
//!   {month, year}}` → `{token}`;
//! - `POST /visadirect/fundstransfer/v1/pullfundstransactions` (top-up),
//!   `.../pushfundstransactions` (cash-out), `.../reversefundstransactions`;
//! - `GET .../pullfundstransactions/{statusIdentifier}` (and `push...`,
//!   `reverse...`): the decision on a request answered with 202.
//!
//! Every call carries the API key in [`crate::API_KEY_HEADER`] (production
//! Visa also wants mutual TLS, which a TLS-terminating proxy or a later
//! client option provides). The key is marked sensitive and never logged;
//! neither are card numbers, tokens or bodies. What an answer means is
//! decided in `convert::outcome`: 200 by `actionCode`, 202 pending, 408, 429,
//! 5xx, timeouts and connection failures transient, other statuses permanent.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use bot::card::{
    CardNumber, CardRail, CardToken, CardTransfer, Expiry, RailError, RailOutcome, RailReference,
};
use reqwest::header::HeaderValue;
use serde::Serialize;
use tower::ServiceExt;
use url::Url;

use crate::config::{API_KEY_HEADER, Acquirer, ApiKey, ConfigError};
use crate::convert::{
    TOKENIZE_PATH, TokenizeResponse, http_error, operation_path, outcome, pull_request,
    push_request, reverse_request, tokenize_request,
};
use crate::simulator::Simulator;
use crate::visa::{RailOperation, RetrievalReferenceNumber, StatusId, TraceNumbers};

/// How long connecting to the rail may take, in milliseconds.
pub const RAIL_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// How long one call may take in all, in milliseconds. Visa answers 202
/// after 30 s by default, so this waits a little longer than that.
pub const RAIL_REQUEST_TIMEOUT_MS: u64 = 35_000;
/// The largest answer read, in bytes.
pub const RAIL_RESPONSE_BYTES_MAX: usize = 64 * 1024;

/// The rail client. Cheap to clone.
#[derive(Clone)]
pub struct VisaDirectClient {
    transport: Transport,
    api_key: ApiKey,
    acquirer: Acquirer,
}

#[derive(Clone)]
enum Transport {
    /// A rail at a URL (Visa, or a standalone simulator).
    Http {
        client: reqwest::Client,
        /// The rail URL without a trailing `/`; paths are appended.
        base: String,
    },
    /// The simulator in this process, called through its router without a
    /// socket: the same requests and answers, byte for byte.
    InProcess(Router),
}

impl fmt::Debug for VisaDirectClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rail = match &self.transport {
            Transport::Http { base, .. } => base.as_str(),
            Transport::InProcess(_) => "in-process simulator",
        };
        f.debug_struct("VisaDirectClient")
            .field("rail", &rail)
            .field("acquiring_bin", &self.acquirer.bin())
            .field("api_key", &self.api_key)
            .finish()
    }
}

impl VisaDirectClient {
    /// A client of the rail at `rail_url` (see [`crate::parse_rail_url`]).
    /// Redirects are not followed (the key would go with them).
    pub fn new(
        rail_url: &Url,
        api_key: ApiKey,
        acquirer: Acquirer,
    ) -> Result<VisaDirectClient, ConfigError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(RAIL_CONNECT_TIMEOUT_MS))
            .timeout(Duration::from_millis(RAIL_REQUEST_TIMEOUT_MS))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        Ok(VisaDirectClient {
            transport: Transport::Http {
                client,
                base: rail_url.as_str().trim_end_matches('/').to_owned(),
            },
            api_key,
            acquirer,
        })
    }

    /// A client of `simulator` in this process (what `paybot serve` uses
    /// when no rail URL is set). `api_key` must be the simulator's.
    pub fn in_process(
        simulator: &Simulator,
        api_key: ApiKey,
        acquirer: Acquirer,
    ) -> VisaDirectClient {
        VisaDirectClient {
            transport: Transport::InProcess(simulator.router()),
            api_key,
            acquirer,
        }
    }

    /// One call: the HTTP status and the body (at most
    /// [`RAIL_RESPONSE_BYTES_MAX`] bytes).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), RailError> {
        let mut key = HeaderValue::from_str(self.api_key.expose()).map_err(|_| {
            RailError::Permanent("the API key is not a valid header value".to_owned())
        })?;
        key.set_sensitive(true);
        match &self.transport {
            Transport::Http { client, base } => {
                let mut request = client
                    .request(method, format!("{base}{path}"))
                    .header(API_KEY_HEADER, key)
                    .header(header::ACCEPT, "application/json");
                if let Some(body) = body {
                    request = request
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(body);
                }
                let mut response = request
                    .send()
                    .await
                    .map_err(|e| transport_error(&e, path))?;
                let status = response.status().as_u16();
                let mut bytes = Vec::new();
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .map_err(|e| transport_error(&e, path))?
                {
                    if bytes.len().saturating_add(chunk.len()) > RAIL_RESPONSE_BYTES_MAX {
                        return Err(too_large(path));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok((status, bytes))
            }
            Transport::InProcess(router) => {
                let mut request = Request::builder()
                    .method(method)
                    .uri(path)
                    .header(API_KEY_HEADER, key)
                    .header(header::ACCEPT, "application/json");
                if body.is_some() {
                    request = request.header(header::CONTENT_TYPE, "application/json");
                }
                let request = request
                    .body(Body::from(body.unwrap_or_default()))
                    .map_err(|e| {
                        RailError::Permanent(format!("could not build a request to {path}: {e}"))
                    })?;
                let timeout = Duration::from_millis(RAIL_REQUEST_TIMEOUT_MS);
                let response =
                    match tokio::time::timeout(timeout, router.clone().oneshot(request)).await {
                        Ok(Ok(response)) => response,
                        Ok(Err(never)) => match never {},
                        Err(_) => return Err(RailError::Transient(format!("{path} timed out"))),
                    };
                let status = response.status().as_u16();
                let bytes = axum::body::to_bytes(response.into_body(), RAIL_RESPONSE_BYTES_MAX)
                    .await
                    .map_err(|_| too_large(path))?;
                Ok((status, bytes.to_vec()))
            }
        }
    }

    /// A pull, push or reversal, and its answer.
    async fn move_funds(
        &self,
        operation: RailOperation,
        request: &impl Serialize,
        rrn: &RetrievalReferenceNumber,
    ) -> Result<RailOutcome, RailError> {
        let path = operation_path(operation);
        let body = serde_json::to_vec(request).map_err(|e| {
            RailError::Permanent(format!("could not encode the {path} request: {e}"))
        })?;
        let answer = self.call(Method::POST, path, Some(body)).await;
        let decided = answer.and_then(|(status, bytes)| outcome(operation, status, &bytes, rrn));
        log(operation, rrn, &decided);
        decided
    }
}

/// A transport failure: always transient (timeouts, refused connections,
/// a body cut short); the request may or may not have reached the rail.
fn transport_error(error: &reqwest::Error, path: &str) -> RailError {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    RailError::Transient(format!("{path} {kind}: {error}"))
}

fn too_large(path: &str) -> RailError {
    RailError::Transient(format!(
        "the answer from {path} is over {RAIL_RESPONSE_BYTES_MAX} bytes"
    ))
}

fn log(
    operation: RailOperation,
    rrn: &RetrievalReferenceNumber,
    decided: &Result<RailOutcome, RailError>,
) {
    match decided {
        Ok(RailOutcome::Approved { .. }) => {
            tracing::info!(operation = operation.code(), %rrn, "card rail approved");
        }
        Ok(RailOutcome::Declined { code, .. }) => {
            tracing::info!(operation = operation.code(), %rrn, action_code = %code, "card rail declined");
        }
        Ok(RailOutcome::Pending { reference }) => {
            let status_id = StatusId::from_reference(reference);
            let status_id = status_id.as_ref().map_or("", StatusId::id);
            tracing::info!(operation = operation.code(), %rrn, status_id, "card rail pending");
        }
        Err(error) => {
            tracing::warn!(operation = operation.code(), %rrn, %error, "card rail call failed");
        }
    }
}

#[async_trait]
impl CardRail for VisaDirectClient {
    async fn tokenize(&self, card: &CardNumber, expiry: Expiry) -> Result<CardToken, RailError> {
        let body = serde_json::to_vec(&tokenize_request(card, expiry)).map_err(|_| {
            RailError::Permanent("could not encode the tokenize request".to_owned())
        })?;
        let (status, bytes) = self.call(Method::POST, TOKENIZE_PATH, Some(body)).await?;
        if !matches!(status, 200 | 201) {
            let error = http_error(status, &bytes, TOKENIZE_PATH);
            tracing::warn!(brand = card.brand().code(), %error, "tokenization refused");
            return Err(error);
        }
        let response: TokenizeResponse = serde_json::from_slice(&bytes)
            .map_err(|_| RailError::Transient(format!("unreadable answer from {TOKENIZE_PATH}")))?;
        let token = CardToken::new(&response.token).map_err(|_| {
            RailError::Permanent(format!("{TOKENIZE_PATH} answered with an unusable token"))
        })?;
        tracing::info!(brand = card.brand().code(), "card tokenized");
        Ok(token)
    }

    async fn pull(&self, transfer: &CardTransfer) -> Result<RailOutcome, RailError> {
        let request = pull_request(transfer, self.acquirer.fields());
        let trace = TraceNumbers::for_transfer(transfer.transfer_id());
        self.move_funds(RailOperation::Pull, &request, trace.rrn())
            .await
    }

    async fn push(&self, transfer: &CardTransfer) -> Result<RailOutcome, RailError> {
        let request = push_request(transfer, self.acquirer.fields());
        let trace = TraceNumbers::for_transfer(transfer.transfer_id());
        self.move_funds(RailOperation::Push, &request, trace.rrn())
            .await
    }

    async fn reverse(&self, original: &CardTransfer) -> Result<RailOutcome, RailError> {
        let request = reverse_request(original, self.acquirer.fields());
        let own = TraceNumbers::for_reversal(original.transfer_id());
        self.move_funds(RailOperation::Reversal, &request, own.rrn())
            .await
    }

    async fn status(&self, reference: &RailReference) -> Result<RailOutcome, RailError> {
        // Only a reference this rail made for a pending request names a
        // status to ask about; anything else is refused, as the rail would
        // refuse an unknown status id.
        let status_id = StatusId::from_reference(reference).map_err(|_| {
            RailError::Permanent("not a pending-request reference of this rail".to_owned())
        })?;
        let operation = status_id.operation();
        let path = format!("{}/{}", operation_path(operation), status_id.id());
        let rrn = status_id.retrieval_reference();
        let answer = self.call(Method::GET, &path, None).await;
        let decided = answer.and_then(|(status, bytes)| outcome(operation, status, &bytes, rrn));
        log(operation, rrn, &decided);
        decided
    }
}
