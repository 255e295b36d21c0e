//! The API's OpenAPI 3.1 document, `GET /api/v1/openapi.json`, generated
//! from the code by utoipa.
//!
//! The one decision to know: **the router and the document come from one
//! list**. Every route under `/api/v1` is added with utoipa-axum's
//! `routes!(handler)`, which takes the path, the method and the
//! description from the handler's `#[utoipa::path]` and gives both the
//! axum route and its entry in the document. What the document does not
//! list is not served: [`documented_only`] answers any route it does not
//! find there (one added with a plain `.route(`) with 404 `no_such_route`
//! (or 405 for a method the document does not give), and logs an error
//! naming it. So the document is exactly what this server answers: the
//! operator's routes appear only where `api.operator_token` is set, the
//! verification callback only where `trust.verification.secret` is.
//!
//! The document is served behind the same tokens as the API (any ledger
//! token or the operator's): a server with the API on is production (its
//! token makes it so, see [`crate::deployment`]), and there nothing is
//! answered to callers who hold no token. The same document with every
//! part included is [`super::full_document`], built without a database.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use tracing::error;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, PathItem};
use utoipa::{Modify, ToSchema};

use super::ApiError;

/// Where the document is served, under [`super::API_PREFIX`].
pub const OPENAPI_PATH: &str = "/openapi.json";
/// The security scheme of the ledger's tokens (`api.token`,
/// `api.read_token`, ...).
pub const LEDGER_TOKEN_SCHEME: &str = "ledger_token";
/// The security scheme of the operator's token (`api.operator_token`).
pub const OPERATOR_TOKEN_SCHEME: &str = "operator_token";
/// The security scheme of a biller's token (`paybot admin biller-add`).
pub const BILLER_TOKEN_SCHEME: &str = "biller_token";
/// The security scheme of the verification provider's signed callback.
pub const SIGNATURE_SCHEME: &str = "verification_signature";

/// The document's fixed part: what it is, its security schemes and the
/// error body every route answers with.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    info(
        title = "paybot API",
        description = "The ledger's accounts and transfers, the operator's routes and the \
                       verification provider's callback. Amounts are JSON integers counting \
                       the currency's minor units (cents for USD, yen for JPY), never \
                       decimals; each sits next to its ISO 4217 `currency` code. Transfer ids \
                       are 32 hexadecimal digits (a client-chosen 128-bit number: the \
                       idempotency key). Every answer that is not a success is an `ErrorBody` \
                       with a stable snake_case `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody, ErrorDetail)),
)]
pub struct BaseDocument;

/// Adds the security schemes to the document.
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            LEDGER_TOKEN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A ledger token (`api.token`: scope `issuance`; `api.transfer_token`: \
                         `transfer`; `api.read_token`: `read`), as `Authorization: Bearer \
                         <token>`. `read` reaches the GET routes; `transfer` also opens user \
                         wallets and moves money between them; `issuance` also opens and \
                         moves money on system accounts. A scope that does not cover a \
                         request is answered 403 `forbidden`; no or a wrong token 401 \
                         `unauthorized`; too many wrong tokens 429 `too_many_attempts` with \
                         `Retry-After`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            OPERATOR_TOKEN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator's token (`api.operator_token`), as `Authorization: \
                         Bearer <token>`: the `/admin` routes only, nothing of the ledger's.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            BILLER_TOKEN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A biller's token (printed once by `paybot admin biller-add`), as \
                         `Authorization: Bearer <token>`: that biller's `/billers/me` routes \
                         only. No or a wrong token 401 `unauthorized`; too many wrong tokens \
                         429 `too_many_attempts` with `Retry-After`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SIGNATURE_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                super::verification::SIGNATURE_HEADER,
                "`t=UNIX_SECONDS,v1=HEX`: HMAC-SHA256 under `trust.verification.secret` over \
                 the timestamp, a dot and the exact body bytes; the timestamp within \
                 `trust.verification.tolerance_secs` of paybot's clock.",
            ))),
        );
    }
}

/// Every answer that is not a success.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case: what a program matches on (`unauthorized`,
    /// `forbidden`, `no_such_route`, `malformed_json`, `invalid_field`,
    /// `insufficient_funds`, `unavailable`, ...).
    #[schema(value_type = String, example = "insufficient_funds")]
    pub code: &'static str,
    /// For people; its wording may change.
    pub message: String,
    /// For a refused linked group: the place of the transfer that was
    /// refused (from 0). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub index: Option<usize>,
}

/// The served document, filled in once the routes are all added.
#[derive(Debug, Clone, Default)]
pub struct Served(Arc<OnceLock<Value>>);

impl Served {
    /// Keeps `document` as what [`document`] answers.
    pub fn set(&self, document: &OpenApi) {
        let _ = self.0.set(to_json(document));
    }
}

/// `document` as served: its JSON, with the bounds that live in the
/// ledger's constants rather than in attributes written into it (the
/// currencies the ledger knows, the size of a linked group, a pending
/// transfer's longest timeout).
pub fn to_json(document: &OpenApi) -> Value {
    let mut value = serde_json::to_value(document).unwrap_or_else(|e| {
        error!(error = %e, "the OpenAPI document cannot be written as JSON");
        Value::Null
    });
    let codes: Vec<Value> = ledger::Currency::all()
        .map(|c| Value::from(c.code()))
        .collect();
    for schema in [
        "AccountRequest",
        "AccountBody",
        "TransferBody",
        "TransferRequest",
    ] {
        let pointer = format!("/components/schemas/{schema}/properties/currency");
        if let Some(Value::Object(currency)) = value.pointer_mut(&pointer) {
            let mut allowed = codes.clone();
            if currency.get("type").is_some_and(Value::is_array) {
                allowed.push(Value::Null);
            }
            currency.insert("enum".to_owned(), Value::Array(allowed));
        }
    }
    // The mock chat's play money is an account kind answered, never
    // opened through the API.
    let kinds = value
        .pointer("/components/schemas/KindName/enum")
        .and_then(Value::as_array)
        .map(|kinds| {
            kinds
                .iter()
                .filter(|k| k.as_str() != Some("play_issuance"))
                .cloned()
                .collect::<Vec<_>>()
        });
    if let (Some(kinds), Some(Value::Object(kind))) = (
        kinds,
        value.pointer_mut("/components/schemas/AccountRequest/properties/kind"),
    ) {
        kind.clear();
        kind.insert("type".to_owned(), Value::from("string"));
        kind.insert("enum".to_owned(), Value::Array(kinds));
    }
    refine_parameters(&mut value);
    let bounds: [(&str, &str, Value); 6] = [
        (
            "/components/schemas/TransferRequest/properties/code",
            "maximum",
            Value::from(u16::MAX),
        ),
        (
            "/components/schemas/TierRequest/properties/tier",
            "maximum",
            Value::from(bot::trust::TIER_MAX),
        ),
        (
            "/components/schemas/CallbackBody/properties/tier",
            "maximum",
            Value::from(bot::trust::TIER_MAX),
        ),
        (
            "/components/schemas/TransferGroup/properties/transfers",
            "maxItems",
            Value::from(ledger::LINKED_TRANSFERS_MAX),
        ),
        (
            "/components/schemas/TransferGroup/properties/transfers",
            "minItems",
            Value::from(1),
        ),
        (
            "/components/schemas/TransferRequest/properties/timeout_secs",
            "maximum",
            Value::from(ledger::PENDING_TIMEOUT_SECS_MAX),
        ),
    ];
    for (pointer, key, bound) in bounds {
        if let Some(Value::Object(schema)) = value.pointer_mut(pointer) {
            schema.insert(key.to_owned(), bound);
        }
    }
    // Last: from the flat schema's properties, bounds included.
    per_kind_transfer_requests(&mut value);
    value
}

/// `TransferRequest` as one schema per kind (`oneOf`), each with exactly
/// the fields [`super::TRANSFER_FIELDS`] gives it, not nullable, and no
/// others: what the parser accepts, rather than the flat struct's
/// optional everything.
fn per_kind_transfer_requests(document: &mut Value) {
    let pointer = "/components/schemas/TransferRequest";
    let Some(Value::Object(flat)) = document.pointer(pointer).cloned() else {
        return;
    };
    let Some(Value::Object(properties)) = flat.get("properties") else {
        return;
    };
    let variants: Vec<Value> = super::TRANSFER_FIELDS
        .iter()
        .map(|fields| {
            let mut variant = serde_json::Map::new();
            for name in fields.required.iter().chain(fields.optional) {
                let property = if *name == "kind" {
                    serde_json::json!({ "type": "string", "const": fields.kind })
                } else {
                    not_null(properties.get(*name).cloned().unwrap_or(Value::Null))
                };
                variant.insert((*name).to_owned(), property);
            }
            let mut schema = serde_json::json!({
                "title": fields.kind,
                "type": "object",
                "additionalProperties": false,
                "required": fields.required,
                "properties": variant,
            });
            if let (Some(first), Value::Object(object)) = (fields.together.first(), &mut schema) {
                let others: Vec<&str> = fields.together.iter().skip(1).copied().collect();
                object.insert(
                    "dependentRequired".to_owned(),
                    serde_json::json!({ *first: others, others.first().copied().unwrap_or(first): [first] }),
                );
            }
            schema
        })
        .collect();
    let mut combined = serde_json::Map::new();
    if let Some(description) = flat.get("description") {
        combined.insert("description".to_owned(), description.clone());
    }
    combined.insert("oneOf".to_owned(), Value::Array(variants));
    if let Some(slot) = document.pointer_mut(pointer) {
        *slot = Value::Object(combined);
    }
}

/// A property's schema without `null` among its types or values.
fn not_null(mut property: Value) -> Value {
    if let Some(Value::Array(types)) = property.get("type") {
        let types: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        if let (Some(only), true, Value::Object(object)) =
            (types.first().cloned(), types.len() == 1, &mut property)
        {
            object.insert("type".to_owned(), only);
        }
    }
    if let Some(Value::Array(values)) = property.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    property
}

/// The operator's parameters, from the core's own lists and bounds: a
/// platform's name, a hold's reference, an audit entry's kind.
fn refine_parameters(document: &mut Value) {
    let platforms: Vec<Value> = bot::trust::operator::PLATFORMS
        .iter()
        .map(|p| Value::from(p.as_str()))
        .collect();
    let kinds: Vec<Value> = bot::trust::AuditKind::ALL
        .iter()
        .map(|k| Value::from(k.as_str()))
        .collect();
    let hold = format!(
        "^[A-Za-z0-9]{{{},{}}}$",
        bot::command::SHORT_REF_CHARS_MIN,
        bot::command::SHORT_REF_CHARS_MAX
    );
    let Some(Value::Object(paths)) = document.get_mut("paths") else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Value::Object(item) = item else { continue };
        for operation in item.values_mut() {
            let Some(Value::Array(parameters)) = operation.get_mut("parameters") else {
                continue;
            };
            for parameter in parameters {
                let name = parameter.get("name").and_then(Value::as_str);
                let refinement = match name {
                    Some("platform") => Some(("enum", Value::Array(platforms.clone()))),
                    Some("kind") => Some(("enum", Value::Array(kinds.clone()))),
                    Some("id") if path.starts_with("/api/v1/admin/holds/") => {
                        Some(("pattern", Value::from(hold.clone())))
                    }
                    _ => None,
                };
                if let (Some((key, bound)), Some(Value::Object(schema))) =
                    (refinement, parameter.get_mut("schema"))
                {
                    schema.insert(key.to_owned(), bound);
                }
            }
        }
    }
}

/// `GET /api/v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    summary = "This document",
    description = "The OpenAPI 3.1 document of the routes this server answers, for any \
                   ledger token or the operator's.",
    security(("ledger_token" = []), ("operator_token" = [])),
    responses(
        (status = 200, description = "This document: the routes this server answers.", body = Object),
        (status = 401, description = "No or a wrong token: `unauthorized`.", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many wrong tokens from this address (or everywhere); `Retry-After` says when to try again.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ),
)]
pub(super) async fn document(State(served): State<Served>) -> Response {
    match served.0.get() {
        Some(Value::Null) | None => ApiError::NoSuchRoute.into_response(),
        Some(value) => Json(value.clone()).into_response(),
    }
}

/// The (method, path) pairs `document` lists, HEAD under GET.
#[derive(Debug, Default)]
struct Documented {
    routes: HashSet<(Method, String)>,
    paths: HashSet<String>,
}

impl Documented {
    fn of(document: &OpenApi) -> Documented {
        let mut documented = Documented::default();
        for (path, item) in &document.paths.paths {
            documented.paths.insert(path.clone());
            for method in methods(item) {
                documented.routes.insert((method, path.clone()));
            }
        }
        documented
    }
}

/// The methods a path item has operations for.
pub fn methods(item: &PathItem) -> Vec<Method> {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::OPTIONS, &item.options),
        (Method::HEAD, &item.head),
        (Method::PATCH, &item.patch),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter(|(_, operation)| operation.is_some())
    .map(|(method, _)| method)
    .collect()
}

/// `router` answering only the routes `document` lists; see the module's
/// docs. Routes only: the fallbacks (404, 405) stay as they are.
pub fn documented_only(router: Router, document: &OpenApi) -> Router {
    let documented = Documented::of(document);
    if documented.routes.is_empty() {
        // axum refuses a route layer on a router without routes; with
        // nothing documented, nothing may be served.
        return Router::new();
    }
    router.route_layer(middleware::from_fn_with_state(Arc::new(documented), gate))
}

async fn gate(State(documented): State<Arc<Documented>>, request: Request, next: Next) -> Response {
    let Some(path) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(request).await;
    };
    let method = match request.method() {
        &Method::HEAD => Method::GET,
        other => other.clone(),
    };
    if documented.routes.contains(&(method, path.clone())) {
        return next.run(request).await;
    }
    if documented.paths.contains(&path) {
        // A method the document does not give this path: what axum
        // answers to a method no handler takes, and also to one a plain
        // `.route(` added.
        return ApiError::MethodNotAllowed.into_response();
    }
    error!(
        method = %request.method(),
        path,
        "a route under /api/v1 is not in the OpenAPI document: refused (add it with routes!)"
    );
    ApiError::NoSuchRoute.into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::{delete, get};
    use tower::ServiceExt;
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;

    use super::*;

    #[utoipa::path(get, path = "/documented", responses((status = 200)))]
    async fn documented_handler() -> &'static str {
        "documented"
    }

    async fn undocumented_handler() -> &'static str {
        "undocumented"
    }

    async fn call(router: &Router, method: Method, path: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_route_added_without_its_document_is_not_served() {
        // A plain `.route(` beside the documented one: a new path, and a
        // new method on a documented path.
        let (router, document) = OpenApiRouter::<()>::default()
            .routes(routes!(documented_handler))
            .route("/undocumented", get(undocumented_handler))
            .route("/documented", delete(undocumented_handler))
            .split_for_parts();
        let router = documented_only(router, &document);

        assert_eq!(
            call(&router, Method::GET, "/documented").await,
            (StatusCode::OK, "documented".to_owned())
        );
        assert_eq!(
            call(&router, Method::HEAD, "/documented").await.0,
            StatusCode::OK
        );
        let (status, body) = call(&router, Method::GET, "/undocumented").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(body.contains("no_such_route"), "{body}");
        let (status, body) = call(&router, Method::DELETE, "/documented").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
        assert!(body.contains("method_not_allowed"), "{body}");
    }

    #[test]
    fn the_full_document_lists_every_route_with_its_security() {
        let document = crate::api::full_document();
        assert!(
            document["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            document["openapi"]
        );
        let mut listed: Vec<String> = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let schemes: Vec<&str> = operation["security"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|s| s.as_object().unwrap().keys().map(String::as_str))
                    .collect();
                listed.push(format!("{method} {path} {}", schemes.join("|")));
            }
        }
        listed.sort();
        assert_eq!(
            listed,
            [
                "get /api/v1/accounts/{id} ledger_token",
                "get /api/v1/admin/audit operator_token",
                "get /api/v1/admin/holds operator_token",
                "get /api/v1/admin/users/{platform}/{id} operator_token",
                "get /api/v1/billers/me/invoices/{reference} biller_token",
                "get /api/v1/openapi.json ledger_token|operator_token",
                "get /api/v1/transfers/{id} ledger_token",
                "post /api/v1/accounts ledger_token",
                "post /api/v1/admin/holds/{id}/approve operator_token",
                "post /api/v1/admin/holds/{id}/reject operator_token",
                "post /api/v1/billers/me/invoices biller_token",
                "post /api/v1/billers/me/invoices/{reference}/cancel biller_token",
                "post /api/v1/transfers ledger_token",
                "post /api/v1/verification/callback verification_signature",
                "put /api/v1/admin/users/{platform}/{id}/tier operator_token",
            ]
        );
        let schemes = document["components"]["securitySchemes"]
            .as_object()
            .unwrap();
        assert_eq!(schemes["ledger_token"]["scheme"], "bearer");
        assert_eq!(schemes["operator_token"]["scheme"], "bearer");
        assert_eq!(schemes["biller_token"]["scheme"], "bearer");
        assert_eq!(schemes["verification_signature"]["in"], "header");
        assert_eq!(
            schemes["verification_signature"]["name"],
            crate::api::verification::SIGNATURE_HEADER
        );
        // The callback's path in the document is the one it is served at.
        assert!(
            document["paths"]
                .get(format!(
                    "{}{}",
                    crate::api::API_PREFIX,
                    crate::api::verification::CALLBACK_PATH
                ))
                .is_some()
        );
        // Amounts are integers of minor units, never decimals or strings.
        let transfer = &document["components"]["schemas"]["TransferBody"]["properties"];
        assert_eq!(transfer["amount"]["type"], "integer");
        assert_eq!(transfer["amount"]["format"], "int64");
        // Bounds from the ledger's own constants.
        let schemas = &document["components"]["schemas"];
        let currencies = schemas["AccountRequest"]["properties"]["currency"]["enum"]
            .as_array()
            .unwrap();
        assert!(currencies.contains(&Value::from("USD")), "{currencies:?}");
        assert!(currencies.contains(&Value::from("JPY")), "{currencies:?}");
        assert_eq!(
            schemas["TransferGroup"]["properties"]["transfers"]["maxItems"],
            ledger::LINKED_TRANSFERS_MAX
        );
        let kinds = schemas["AccountRequest"]["properties"]["kind"]["enum"]
            .as_array()
            .unwrap();
        assert!(kinds.contains(&Value::from("user_wallet")), "{kinds:?}");
        assert!(!kinds.contains(&Value::from("play_issuance")), "{kinds:?}");
    }
}
