//! The operator's routes under `/api/v1/admin`, for the operator's token
//! only (see [`super::Grant::Operator`]): holds for review, a user's report
//! and tier, and the audit log. Every action is recorded in the audit log
//! as `operator:NAME`, NAME being `api.operator_name`.
//!
//! The one decision to know: these routes call the same core methods as
//! `paybot admin` (`Bot::set_tier`, `Bot::decide_hold`, ...), so the CLI and
//! the API cannot disagree on what an action does.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use bot::Bot;
use bot::command::ShortRef;
use bot::trust::holds::{HOLDS_LISTED_MAX, HoldDecision, HoldOutcome};
use bot::trust::operator::{ActorName, OperatorReason, UserTarget};
use bot::trust::{Actor, AuditFilter, AuditKind, Tier};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::{ApiError, shaped};
use crate::admin::query::{hold_json, parse_since, report_json};

/// Entries one `GET /admin/audit` answers by default.
pub const AUDIT_PAGE_DEFAULT: u32 = 100;
/// Most entries one `GET /admin/audit` answers.
pub const AUDIT_PAGE_API_MAX: u32 = 1_000;

/// What the operator's routes act with.
#[derive(Debug, Clone)]
pub struct AdminApi {
    pub bot: Arc<Bot>,
    /// Who the operator token acts as (`api.operator_name`).
    pub operator: ActorName,
}

impl AdminApi {
    fn actor(&self) -> Actor {
        Actor::Operator(self.operator.as_str().to_owned())
    }
}

/// The routes, relative to the API's prefix, each with its place in the
/// OpenAPI document.
pub(super) fn routes() -> OpenApiRouter<AdminApi> {
    OpenApiRouter::default()
        .routes(routes!(holds))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(user))
        .routes(routes!(tier))
        .routes(routes!(audit))
}

fn field(field: &'static str, problem: impl Into<String>) -> ApiError {
    ApiError::Field {
        field,
        problem: problem.into(),
    }
}

fn target(platform: &str, id: &str) -> Result<UserTarget, ApiError> {
    let platform = bot::message::Platform::from_str_opt(platform).ok_or_else(|| {
        ApiError::InvalidId(format!(
            "`{platform}` is not a platform; use telegram, discord or mock"
        ))
    })?;
    UserTarget::on(platform, id).map_err(|e| ApiError::InvalidId(e.to_string()))
}

fn reason(text: &str) -> Result<OperatorReason, ApiError> {
    OperatorReason::parse(text).map_err(|e| field("reason", e.to_string()))
}

/// `GET /admin/holds`'s answer.
#[derive(Debug, Serialize, ToSchema)]
struct HoldsAnswer {
    /// The holds waiting for review, oldest first, as `paybot admin holds
    /// --json` prints them.
    #[schema(value_type = Vec<Object>)]
    holds: Vec<Value>,
}

/// `GET /admin/holds`: `{"holds": [...]}`, oldest first.
#[utoipa::path(
    get,
    path = "/admin/holds",
    tag = "operator",
    operation_id = "list_holds",
    summary = "List the holds waiting for review",
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "The holds waiting for review.", body = HoldsAnswer),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens from this address (or everywhere); `Retry-After` says when to try again.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 403, description = "`forbidden`: not the operator's token.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn holds(State(admin): State<AdminApi>) -> Result<Json<HoldsAnswer>, ApiError> {
    let holds = admin
        .bot
        .holds(HOLDS_LISTED_MAX)
        .await
        .map_err(ApiError::Bot)?;
    Ok(Json(HoldsAnswer {
        holds: holds.iter().map(hold_json).collect(),
    }))
}

/// A decision's body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DecisionRequest {
    /// Why, for the audit log.
    #[schema(example = "checked with the user by phone", min_length = 1)]
    reason: String,
}

/// What a decision did.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum DecisionStatus {
    Approved,
    Rejected,
}

/// A decision's answer.
#[derive(Debug, Serialize, ToSchema)]
struct DecisionAnswer {
    /// The hold's reference.
    hold: String,
    status: DecisionStatus,
}

#[utoipa::path(
    post,
    path = "/admin/holds/{id}/approve",
    tag = "operator",
    operation_id = "approve_hold",
    summary = "Approve a hold",
    description = "Lets a held payment or cash-out go through; recorded in the audit log.",
    security(("operator_token" = [])),
    params(("id" = String, Path, description = "The hold's reference.")),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "Approved.", body = DecisionAnswer),
        (status = 400, description = "`invalid_id`, `malformed_json` or `invalid_field`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens from this address (or everywhere); `Retry-After` says when to try again.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 403, description = "`forbidden`.", body = ErrorBody),
        (status = 404, description = "`hold_not_found`.", body = ErrorBody),
        (status = 409, description = "`hold_already_decided`.", body = ErrorBody),
        (status = 413, description = "`body_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn approve(
    State(admin): State<AdminApi>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<DecisionAnswer>, ApiError> {
    decide(admin, &id, HoldDecision::Approve, body).await
}

#[utoipa::path(
    post,
    path = "/admin/holds/{id}/reject",
    tag = "operator",
    operation_id = "reject_hold",
    summary = "Reject a hold",
    description = "Refuses a held payment or cash-out: the reserved money goes back to the \
                   payer; recorded in the audit log.",
    security(("operator_token" = [])),
    params(("id" = String, Path, description = "The hold's reference.")),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "Rejected.", body = DecisionAnswer),
        (status = 400, description = "`invalid_id`, `malformed_json` or `invalid_field`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens from this address (or everywhere); `Retry-After` says when to try again.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 403, description = "`forbidden`.", body = ErrorBody),
        (status = 404, description = "`hold_not_found`.", body = ErrorBody),
        (status = 409, description = "`hold_already_decided`.", body = ErrorBody),
        (status = 413, description = "`body_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn reject(
    State(admin): State<AdminApi>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<DecisionAnswer>, ApiError> {
    decide(admin, &id, HoldDecision::Reject, body).await
}

/// `POST /admin/holds/{id}/approve|reject` with `{"reason": "..."}`.
async fn decide(
    admin: AdminApi,
    id: &str,
    decision: HoldDecision,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<DecisionAnswer>, ApiError> {
    let hold = ShortRef::parse(id).map_err(|e| ApiError::InvalidId(e.to_string()))?;
    let request: DecisionRequest = shaped(body)?;
    let reason = reason(&request.reason)?;
    let outcome = admin
        .bot
        .decide_hold(&hold, decision, admin.actor(), reason.as_str())
        .await
        .map_err(ApiError::Bot)?;
    let status = match outcome {
        HoldOutcome::Approved => DecisionStatus::Approved,
        HoldOutcome::Rejected => DecisionStatus::Rejected,
        HoldOutcome::NotFound => return Err(ApiError::HoldNotFound(hold.to_string())),
        HoldOutcome::AlreadyEnded(state) => {
            return Err(ApiError::HoldEnded {
                id: hold.to_string(),
                state,
            });
        }
        HoldOutcome::InvalidReason => {
            return Err(field(
                "reason",
                format!(
                    "must be 1 to {} characters",
                    bot::trust::holds::HOLD_REASON_CHARS_MAX
                ),
            ));
        }
    };
    Ok(Json(DecisionAnswer {
        hold: hold.as_str().to_owned(),
        status,
    }))
}

/// `GET /admin/users/{platform}/{id}` (`id`: the platform's user id, or
/// `@handle`): the user's report.
#[utoipa::path(
    get,
    path = "/admin/users/{platform}/{id}",
    tag = "operator",
    operation_id = "get_user",
    summary = "A user's report",
    description = "A user's report (tier, limits, identities, recent activity), as `paybot \
                   admin user --json` prints it.",
    security(("operator_token" = [])),
    params(
        ("platform" = String, Path, description = "`telegram`, `discord` or `mock`."),
        ("id" = String, Path, description = "The user's id on the platform, or `@handle`."),
    ),
    responses(
        (status = 200, description = "The user's report.", body = Object),
        (status = 400, description = "`invalid_id`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens from this address (or everywhere); `Retry-After` says when to try again.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 403, description = "`forbidden`.", body = ErrorBody),
        (status = 404, description = "`unknown_user`.", body = ErrorBody),
        (status = 409, description = "`ambiguous_handle`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn user(
    State(admin): State<AdminApi>,
    Path((platform, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let target = target(&platform, &id)?;
    let report = admin
        .bot
        .user_report(&target)
        .await
        .map_err(ApiError::Bot)?
        .map_err(ApiError::Operator)?;
    Ok(Json(report_json(&report)))
}

/// A tier change's body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TierRequest {
    /// The new verification tier.
    #[schema(example = 1)]
    tier: u8,
    /// Why, for the audit log.
    #[schema(min_length = 1)]
    reason: String,
}

/// A tier change's answer.
#[derive(Debug, Serialize, ToSchema)]
struct TierAnswer {
    /// paybot's user id.
    user: i64,
    previous_tier: u8,
    tier: u8,
    /// The audit log entry that records the change.
    audit_id: i64,
    /// Whether the user was sent a message about it.
    told: bool,
}

/// `PUT /admin/users/{platform}/{id}/tier` with `{"tier": 1, "reason":
/// "..."}`.
#[utoipa::path(
    put,
    path = "/admin/users/{platform}/{id}/tier",
    tag = "operator",
    operation_id = "set_tier",
    summary = "Set a user's tier",
    description = "Sets a user's verification tier; recorded in the audit log.",
    security(("operator_token" = [])),
    params(
        ("platform" = String, Path, description = "`telegram`, `discord` or `mock`."),
        ("id" = String, Path, description = "The user's id on the platform, or `@handle`."),
    ),
    request_body = TierRequest,
    responses(
        (status = 200, description = "The change.", body = TierAnswer),
        (status = 400, description = "`invalid_id`, `malformed_json` or `invalid_field`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens from this address (or everywhere); `Retry-After` says when to try again.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 403, description = "`forbidden`.", body = ErrorBody),
        (status = 404, description = "`unknown_user`.", body = ErrorBody),
        (status = 409, description = "`ambiguous_handle`.", body = ErrorBody),
        (status = 413, description = "`body_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 422, description = "`tier_not_configured`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn tier(
    State(admin): State<AdminApi>,
    Path((platform, id)): Path<(String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<TierAnswer>, ApiError> {
    let target = target(&platform, &id)?;
    let request: TierRequest = shaped(body)?;
    let tier = Tier::new(request.tier)
        .ok_or_else(|| field("tier", format!("a tier is 0 to {}", bot::trust::TIER_MAX)))?;
    let reason = reason(&request.reason)?;
    let change = admin
        .bot
        .set_tier(&target, tier, &reason, admin.actor())
        .await
        .map_err(ApiError::Bot)?
        .map_err(ApiError::Operator)?;
    Ok(Json(TierAnswer {
        user: change.user.0,
        previous_tier: change.from.get(),
        tier: change.to.get(),
        audit_id: change.audit_id,
        told: change.told,
    }))
}

/// `GET /admin/audit` query: each optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// `@handle`, `PLATFORM:@handle` or `PLATFORM:ID`.
    #[param(min_length = 1)]
    user: Option<String>,
    /// A duration back (`24h`) or a UTC date or date and time.
    #[param(min_length = 1)]
    since: Option<String>,
    /// One kind of entry (`payment`, `tier`, ...).
    kind: Option<String>,
    /// Only entries after this id (the previous page's `next_after`).
    after: Option<i64>,
    /// Entries per page: 1 to 1000, 100 when absent.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// `GET /admin/audit`'s answer.
#[derive(Debug, Serialize, ToSchema)]
struct AuditAnswer {
    /// Oldest first, as `paybot admin audit --json` prints them.
    #[schema(value_type = Vec<Object>)]
    entries: Vec<Value>,
    /// Set when more may follow: pass it as `after`.
    #[schema(required = true)]
    next_after: Option<i64>,
}

/// `GET /admin/audit?user=&since=&kind=&after=&limit=`: one JSON object,
/// `{"entries": [...], "next_after": ID|null}`, entries oldest first as
/// `paybot admin audit --json` prints them; `next_after` is set when more
/// may follow (pass it as `after`).
#[utoipa::path(
    get,
    path = "/admin/audit",
    tag = "operator",
    operation_id = "audit_log",
    summary = "Read the audit log",
    description = "The audit log, a page at a time.",
    security(("operator_token" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries.", body = AuditAnswer),
        (status = 400, description = "`malformed_json` (an unknown parameter) or `invalid_field`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens from this address (or everywhere); `Retry-After` says when to try again.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 403, description = "`forbidden`.", body = ErrorBody),
        (status = 404, description = "`unknown_user`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    ),
)]
async fn audit(
    State(admin): State<AdminApi>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditAnswer>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::Shape(e.body_text()))?;
    let limit = query.limit.unwrap_or(AUDIT_PAGE_DEFAULT);
    if !(1..=AUDIT_PAGE_API_MAX).contains(&limit) {
        return Err(field("limit", format!("1 to {AUDIT_PAGE_API_MAX} entries")));
    }
    let user = match &query.user {
        None => None,
        Some(text) => {
            let target = UserTarget::parse(text).map_err(|e| field("user", e.to_string()))?;
            let identity = admin
                .bot
                .resolve_target(&target)
                .await
                .map_err(ApiError::Bot)?
                .map_err(ApiError::Operator)?;
            Some(identity.user)
        }
    };
    let since_ms = query
        .since
        .as_deref()
        .map(|text| parse_since(text, admin.bot.now_ms()))
        .transpose()
        .map_err(|e| field("since", e))?;
    let kind = query
        .kind
        .as_deref()
        .map(|text| {
            AuditKind::parse(text).ok_or_else(|| {
                let kinds: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
                field("kind", format!("one of {}", kinds.join(", ")))
            })
        })
        .transpose()?;
    let filter = AuditFilter {
        user,
        since_ms,
        after_id: query.after,
        kind,
        subject: None,
        limit,
    };
    let entries = admin.bot.audit_log(&filter).await.map_err(ApiError::Bot)?;
    let full = u32::try_from(entries.len()).is_ok_and(|n| n >= limit);
    let next_after = entries.last().filter(|_| full).map(|record| record.id);
    Ok(Json(AuditAnswer {
        entries: entries
            .iter()
            .map(bot::trust::AuditRecord::to_json)
            .collect(),
        next_after,
    }))
}
