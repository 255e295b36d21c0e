//! A biller's routes under `/api/v1/billers/me`: send an invoice to a chat
//! user, read one, cancel one. Each biller has its own token (made by
//! `paybot admin biller-add`, stored only as its SHA-256), which reaches
//! only its own invoices and nothing of the ledger's or the operator's.
//!
//! The one decision to know: sending is idempotent on the biller's
//! `reference`: the same reference with the same fields answers the stored
//! invoice (200); with other fields, 409 `invoice_exists_with_different_fields`.
//! The invoice reaches the user as a payment request with Pay and Decline
//! (see [`crate::bills`] for how its state follows the chat).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Extension, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bot::Bot;
use bot::command::Memo;
use bot::message::{Handle, Platform, PlatformUserId};
use bot::store::{Identity, Store};
use ledger::{Amount, Currency};
use paybot_store::SqlStore;
use paybot_store::bills::{Biller, Invoice};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::{ApiError, AuthThrottle, shaped};
use crate::bills::{BILLER_ID_PREFIX, InvoiceAnswer, invoice_json, token_digest};

/// The longest biller reference, in bytes.
pub const INVOICE_REFERENCE_BYTES_MAX: usize = 64;
/// The latest due date accepted, in seconds from now (about ten years).
pub const INVOICE_DUE_SECS_MAX: i64 = 10 * 366 * 24 * 3_600;

/// What a biller's routes act with.
#[derive(Debug, Clone)]
pub struct BillerApi {
    /// Billers, invoices and the bot's records.
    pub store: SqlStore,
    /// Sends the invoice to the user.
    pub bot: Arc<Bot>,
    /// Wrong biller tokens, throttled as the API's own.
    pub throttle: Arc<AuthThrottle>,
}

/// The routes, relative to the API's prefix.
pub(super) fn routes() -> OpenApiRouter<BillerApi> {
    OpenApiRouter::default()
        .routes(routes!(send_invoice))
        .routes(routes!(invoice))
        .routes(routes!(cancel_invoice))
}

/// Lets the request through only with a biller's token, and gives the
/// handlers that [`Biller`].
pub(super) async fn biller_only(
    State(api): State<BillerApi>,
    mut request: Request,
    next: Next,
) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let now = Instant::now();
    if let Err(retry_after_secs) = api.throttle.check(address, now) {
        return ApiError::Throttled { retry_after_secs }.into_response();
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credentials)| token_digest(credentials.trim().as_bytes()));
    let biller = match presented {
        Some(digest) => match api.store.biller_by_token(&digest).await {
            Ok(biller) => biller,
            Err(e) => return ApiError::Bot(e.into()).into_response(),
        },
        None => None,
    };
    match biller {
        Some(biller) => {
            api.throttle.succeeded(address, now);
            request.extensions_mut().insert(biller);
            next.run(request).await
        }
        None => {
            api.throttle.failed(address, now);
            ApiError::Unauthorized.into_response()
        }
    }
}

/// An invoice to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InvoiceRequest {
    /// The biller's own reference: sending it again is idempotent.
    #[schema(example = "INV-2026-0001", min_length = 1, max_length = 64)]
    reference: String,
    /// The payer's platform: `telegram`, `discord` or `mock`.
    #[schema(example = "telegram")]
    platform: String,
    /// The payer's id on that platform; or give `handle`.
    #[schema(example = "123456789")]
    user_id: Option<String>,
    /// The payer's handle on that platform (with or without `@`); or give
    /// `user_id`.
    #[schema(example = "@alice")]
    handle: Option<String>,
    /// In minor units of `currency`.
    #[schema(example = 4250, minimum = 1)]
    amount: i64,
    /// ISO 4217.
    #[schema(example = "USD")]
    currency: String,
    /// When it is due, Unix seconds; it expires after that.
    #[schema(example = 1_798_761_600)]
    due_at: i64,
    /// What it is for, as the user reads it (at most 140 characters).
    #[schema(example = "Electricity, November")]
    description: String,
}

fn field(field: &'static str, problem: impl Into<String>) -> ApiError {
    ApiError::Field {
        field,
        problem: problem.into(),
    }
}

fn store_failed(e: bot::store::StoreError) -> ApiError {
    ApiError::Bot(e.into())
}

/// The payer's identity, and the biller's on the same platform.
async fn parties(
    api: &BillerApi,
    biller: &Biller,
    platform: Platform,
    user_id: Option<&str>,
    handle: Option<&str>,
) -> Result<(Identity, Identity), ApiError> {
    let payer = match (user_id, handle) {
        (Some(id), None) => {
            let id = PlatformUserId::new(id).map_err(|e| field("user_id", e.to_string()))?;
            api.store
                .identity(platform, &id)
                .await
                .map_err(store_failed)?
        }
        (None, Some(handle)) => {
            let handle = Handle::parse(handle).map_err(|e| field("handle", e.to_string()))?;
            let found = api
                .store
                .identities_with_handle(platform, &handle)
                .await
                .map_err(store_failed)?;
            match found.as_slice() {
                [one] => Some(one.clone()),
                [] => None,
                _ => return Err(ApiError::InvoicePayer("that handle names several users")),
            }
        }
        _ => {
            return Err(field(
                "user_id",
                "give exactly one of `user_id` and `handle`",
            ));
        }
    };
    let payer = payer.ok_or(ApiError::InvoicePayer(
        "no such user: they must have talked to the bot",
    ))?;
    let biller_id = PlatformUserId::new(format!("{BILLER_ID_PREFIX}{}", biller.handle))
        .map_err(|_| ApiError::InvoicePayer("the biller has no identity"))?;
    let me = api
        .store
        .identity(platform, &biller_id)
        .await
        .map_err(store_failed)?
        .ok_or(ApiError::InvoicePayer(
            "the biller has no identity on that platform",
        ))?;
    if payer.user == me.user {
        return Err(ApiError::InvoicePayer("a biller cannot bill itself"));
    }
    Ok((payer, me))
}

/// `POST /billers/me/invoices`.
#[utoipa::path(
    post,
    path = "/billers/me/invoices",
    tag = "billers",
    operation_id = "send_invoice",
    summary = "Send an invoice to a chat user",
    description = "The user gets it privately with Pay and Decline. Idempotent on `reference`: \
                   the same fields answer the stored invoice (200); other fields 409.",
    security(("biller_token" = [])),
    request_body = InvoiceRequest,
    responses(
        (status = 201, description = "Sent.", body = InvoiceAnswer),
        (status = 200, description = "Sent before with the same fields.", body = InvoiceAnswer),
        (status = 400, description = "`malformed_json` or `invalid_field`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 404, description = "`unknown_payer`.", body = ErrorBody),
        (status = 409, description = "`invoice_exists_with_different_fields`.", body = ErrorBody),
        (status = 413, description = "`body_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn send_invoice(
    State(api): State<BillerApi>,
    Extension(biller): Extension<Biller>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body: InvoiceRequest = shaped(body)?;
    if body.reference.is_empty()
        || body.reference.len() > INVOICE_REFERENCE_BYTES_MAX
        || !body.reference.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(field(
            "reference",
            format!("1 to {INVOICE_REFERENCE_BYTES_MAX} printable ASCII characters"),
        ));
    }
    let platform = Platform::from_str_opt(&body.platform)
        .ok_or_else(|| field("platform", "use telegram, discord or mock"))?;
    let currency =
        Currency::from_code(&body.currency).map_err(|e| field("currency", e.to_string()))?;
    let amount =
        Amount::from_minor(body.amount, currency).map_err(|e| field("amount", e.to_string()))?;
    if body.amount <= 0 {
        return Err(field("amount", "must be positive"));
    }
    let description =
        Memo::parse(&body.description).map_err(|e| field("description", e.to_string()))?;
    let now_ms = api.bot.now_ms();
    let now_secs = now_ms.div_euclid(1_000);
    if body.due_at <= now_secs || body.due_at > now_secs.saturating_add(INVOICE_DUE_SECS_MAX) {
        return Err(field(
            "due_at",
            "must be in the future, within about ten years",
        ));
    }
    let (payer, me) = parties(
        &api,
        &biller,
        platform,
        body.user_id.as_deref(),
        body.handle.as_deref(),
    )
    .await?;
    let key = format!("{}:{}", biller.id, body.reference);
    let wanted = Invoice {
        biller_id: biller.id,
        reference: body.reference.clone(),
        request_ref: String::new(),
        platform: platform.as_str().to_owned(),
        platform_user_id: payer.id.as_str().to_owned(),
        amount_minor: body.amount,
        currency: currency.code().to_owned(),
        due_at_ms: body.due_at.saturating_mul(1_000),
        description: description.as_str().to_owned(),
        state: "open".to_owned(),
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    };
    if let Some(existing) = api
        .store
        .invoice_of(biller.id, &body.reference)
        .await
        .map_err(store_failed)?
    {
        return same_or_conflict(&existing, &wanted);
    }
    // The request's reference is known before it is sent, so the invoice
    // is written in the commit that writes its request and the user's
    // notice: a crash leaves all three or none.
    let request_ref = Bot::invoice_reference(&key).map_err(ApiError::Bot)?;
    let mut invoice = wanted.clone();
    invoice.request_ref = request_ref.to_string();
    let sent = api
        .bot
        .send_invoice_with(
            &me,
            &payer,
            amount,
            description,
            body.due_at.saturating_mul(1_000),
            &key,
            vec![api.store.invoice_write(&invoice)],
        )
        .await
        .map_err(ApiError::Bot)?;
    if sent.is_none() {
        // Sent meanwhile by a call racing this one, or this key's request
        // exists with other fields.
        return match api
            .store
            .invoice_of(biller.id, &body.reference)
            .await
            .map_err(store_failed)?
        {
            Some(existing) => same_or_conflict(&existing, &wanted),
            None => Err(ApiError::InvoiceConflict(body.reference.clone())),
        };
    }
    // Written with its request; or, for a request an earlier version wrote
    // without its invoice (it stopped in between), written now: adopted.
    let stored = api
        .store
        .insert_invoice(&invoice)
        .await
        .map_err(store_failed)?;
    if stored.created_at_ms != invoice.created_at_ms || stored.request_ref != invoice.request_ref {
        return same_or_conflict(&stored, &wanted);
    }
    Ok((StatusCode::CREATED, Json(invoice_json(&stored))).into_response())
}

fn same_or_conflict(existing: &Invoice, wanted: &Invoice) -> Result<Response, ApiError> {
    let same = existing.platform == wanted.platform
        && existing.platform_user_id == wanted.platform_user_id
        && existing.amount_minor == wanted.amount_minor
        && existing.currency == wanted.currency
        && existing.due_at_ms == wanted.due_at_ms
        && existing.description == wanted.description;
    if same {
        Ok((StatusCode::OK, Json(invoice_json(existing))).into_response())
    } else {
        Err(ApiError::InvoiceConflict(existing.reference.clone()))
    }
}

/// `GET /billers/me/invoices/{reference}`.
#[utoipa::path(
    get,
    path = "/billers/me/invoices/{reference}",
    tag = "billers",
    operation_id = "get_invoice",
    summary = "Read one of the biller's invoices",
    description = "Its state follows the chat within a round of the bill pay worker (every 200 ms; \
                   at most 500 state changes a round, more in the next rounds, none skipped).",
    security(("biller_token" = [])),
    params(("reference" = String, Path, description = "The biller's reference.")),
    responses(
        (status = 200, description = "The invoice.", body = InvoiceAnswer),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 404, description = "`invoice_not_found`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn invoice(
    State(api): State<BillerApi>,
    Extension(biller): Extension<Biller>,
    Path(reference): Path<String>,
) -> Result<Json<InvoiceAnswer>, ApiError> {
    let invoice = api
        .store
        .invoice_of(biller.id, &reference)
        .await
        .map_err(store_failed)?
        .ok_or(ApiError::InvoiceNotFound(reference))?;
    Ok(Json(invoice_json(&invoice)))
}

/// `POST /billers/me/invoices/{reference}/cancel`.
#[utoipa::path(
    post,
    path = "/billers/me/invoices/{reference}/cancel",
    tag = "billers",
    operation_id = "cancel_invoice",
    summary = "Cancel an open invoice",
    description = "Only an open invoice whose payment is not waiting for the user's code; \
                   the user can no longer pay it, and an `invoice.cancelled` event follows.",
    security(("biller_token" = [])),
    params(("reference" = String, Path, description = "The biller's reference.")),
    responses(
        (status = 200, description = "Cancelled.", body = InvoiceAnswer),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 404, description = "`invoice_not_found`.", body = ErrorBody),
        (status = 409, description = "`invoice_not_open`: its state now.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn cancel_invoice(
    State(api): State<BillerApi>,
    Extension(biller): Extension<Biller>,
    Path(reference): Path<String>,
) -> Result<Json<InvoiceAnswer>, ApiError> {
    let invoice = api
        .store
        .invoice_of(biller.id, &reference)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| ApiError::InvoiceNotFound(reference.clone()))?;
    let now_ms = api.bot.now_ms();
    let event = crate::bills::event_for(&invoice, "cancelled", now_ms);
    let withdrawn = invoice.state == "open"
        && api
            .store
            .withdraw_invoice(&invoice, "cancelled", &event, now_ms)
            .await
            .map_err(store_failed)?;
    let now = api
        .store
        .invoice_of(biller.id, &reference)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| ApiError::InvoiceNotFound(reference.clone()))?;
    if !withdrawn {
        let state = if now.state == "open" {
            "being paid".to_owned()
        } else {
            now.state.clone()
        };
        return Err(ApiError::InvoiceNotOpen { reference, state });
    }
    Ok(Json(invoice_json(&now)))
}
