//! The operator's routes under `/api/v1/admin`, for the operator's token
//! only (see [`super::Grant::Operator`]): holds for review, a user's report
//! and tier, and the audit log. Every action is recorded in the audit log
//! as `operator:NAME`, NAME being `api.operator_name`.
//!
//! The one decision to know: these routes call the same core methods as
//! `paybot admin` (`Bot::set_tier`, `Bot::decide_hold`, ...), so the CLI and
//! the API cannot disagree on what an action does.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bot::Bot;
use bot::command::ShortRef;
use bot::trust::holds::{HOLDS_LISTED_MAX, HoldDecision, HoldOutcome};
use bot::trust::operator::{ActorName, OperatorReason, UserTarget};
use bot::trust::{Actor, AuditFilter, AuditKind, Tier};
use serde::Deserialize;
use serde_json::{Value, json};

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

/// The routes, relative to the API's prefix.
pub(super) fn routes(admin: AdminApi) -> Router {
    Router::new()
        .route("/admin/holds", get(holds))
        .route("/admin/holds/{id}/approve", post(approve))
        .route("/admin/holds/{id}/reject", post(reject))
        .route("/admin/users/{platform}/{id}", get(user))
        .route("/admin/users/{platform}/{id}/tier", put(tier))
        .route("/admin/audit", get(audit))
        .with_state(admin)
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

/// `GET /admin/holds`: `{"holds": [...]}`, oldest first.
async fn holds(State(admin): State<AdminApi>) -> Result<Json<Value>, ApiError> {
    let holds = admin
        .bot
        .holds(HOLDS_LISTED_MAX)
        .await
        .map_err(ApiError::Bot)?;
    Ok(Json(
        json!({ "holds": holds.iter().map(hold_json).collect::<Vec<_>>() }),
    ))
}

/// A decision's body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionRequest {
    reason: String,
}

async fn approve(
    State(admin): State<AdminApi>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    decide(admin, &id, HoldDecision::Approve, body).await
}

async fn reject(
    State(admin): State<AdminApi>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    decide(admin, &id, HoldDecision::Reject, body).await
}

/// `POST /admin/holds/{id}/approve|reject` with `{"reason": "..."}`.
async fn decide(
    admin: AdminApi,
    id: &str,
    decision: HoldDecision,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let hold = ShortRef::parse(id).map_err(|e| ApiError::InvalidId(e.to_string()))?;
    let request: DecisionRequest = shaped(body)?;
    let reason = reason(&request.reason)?;
    let outcome = admin
        .bot
        .decide_hold(&hold, decision, admin.actor(), reason.as_str())
        .await
        .map_err(ApiError::Bot)?;
    let status = match outcome {
        HoldOutcome::Approved => "approved",
        HoldOutcome::Rejected => "rejected",
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
    Ok(Json(json!({ "hold": hold.as_str(), "status": status })))
}

/// `GET /admin/users/{platform}/{id}` (`id`: the platform's user id, or
/// `@handle`): the user's report.
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TierRequest {
    tier: u8,
    reason: String,
}

/// `PUT /admin/users/{platform}/{id}/tier` with `{"tier": 1, "reason":
/// "..."}`.
async fn tier(
    State(admin): State<AdminApi>,
    Path((platform, id)): Path<(String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({
        "user": change.user.0,
        "previous_tier": change.from.get(),
        "tier": change.to.get(),
        "audit_id": change.audit_id,
        "told": change.told,
    })))
}

/// `GET /admin/audit` query: each optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// `@handle`, `PLATFORM:@handle` or `PLATFORM:ID`.
    user: Option<String>,
    /// A duration back (`24h`) or a UTC date or date and time.
    since: Option<String>,
    kind: Option<String>,
    /// Only entries after this id (the previous page's `next_after`).
    after: Option<i64>,
    limit: Option<u32>,
}

/// `GET /admin/audit?user=&since=&kind=&after=&limit=`: one JSON object,
/// `{"entries": [...], "next_after": ID|null}`, entries oldest first as
/// `paybot admin audit --json` prints them; `next_after` is set when more
/// may follow (pass it as `after`).
async fn audit(
    State(admin): State<AdminApi>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({
        "entries": entries.iter().map(bot::trust::AuditRecord::to_json).collect::<Vec<_>>(),
        "next_after": next_after,
    })))
}
