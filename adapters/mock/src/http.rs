//! The mock chat over HTTP, mounted on the paybot server when
//! `mock.enabled` is on:
//!
//! - `POST /mock/messages` with `{"from": "alice", "chat": "dm" | "<group>",
//!   "text": "/pay @bob 5", "id": "optional event id", "reply_to": "optional
//!   author"}` answers `{"message": "m7", "deliveries": [{"to", "chat",
//!   "text"}, ...], "deleted": ["m7"]}`: the message's id and everything it
//!   caused (`deleted`: messages the bot deleted, such as this one when it
//!   held a card number in a group). An `id` belongs to its sender: the
//!   same `id` again from the same sender for the same message is a
//!   redelivery (the same answer, with the core's redacted texts: a
//!   one-time code is not in it; nothing new happens; but a first answer
//!   that said nothing, the core's "still in progress" after a crash, is
//!   asked again, so a client resends until answered); for another message
//!   it is a 409 `id_reused`; from another sender it is another message.
//!   Different users' messages are handled at once, each user's in order;
//!   notifications to others are in the answer when no other message was
//!   handled at the same time (always in the recipients' inboxes).
//! - `GET /mock/users/{name}/messages` answers `{"messages": [...]}`: what
//!   that user received, oldest first, with the core's redacted texts (no
//!   live code; only the answer to the message that asked for one holds it).
//! - `GET /mock/chats/{group}/messages` answers `{"messages": [{"id",
//!   "from", "text", "deleted"}, ...]}`: what the group's members see in
//!   it, users' messages included, oldest first; a deleted message keeps
//!   its place with `"deleted": true` and no text.
//!
//! Every refusal is a 4xx with `{"error": {"code", "message"}}`, never a 500;
//! a new user, group or group member over the mock's bounds is a 422
//! (`too_many_users`, `too_many_groups`, `too_many_members`).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::{Delivery, MockChat, MockError, Outgoing};

/// The largest request body, in bytes.
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    from: String,
    chat: String,
    text: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    reply_to: Option<String>,
}

/// The mock chat's routes, to merge into the server's router.
pub fn router(chat: Arc<MockChat>) -> Router {
    Router::new()
        .route("/mock/messages", post(send))
        .route("/mock/users/{name}/messages", get(messages))
        .route("/mock/chats/{group}/messages", get(chat_messages))
        .layer(axum::extract::DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .with_state(chat)
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

impl IntoResponse for MockError {
    fn into_response(self) -> Response {
        let status = match self {
            MockError::IdReused => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        error(status, self.code(), self.to_string())
    }
}

async fn send(
    State(chat): State<Arc<MockChat>>,
    body: Result<Json<MessageBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => {
            let code = match &rejection {
                JsonRejection::MissingJsonContentType(_) => "not_json",
                JsonRejection::JsonSyntaxError(_) => "bad_json",
                JsonRejection::JsonDataError(_) => "bad_fields",
                _ => "bad_body",
            };
            return error(rejection.status(), code, rejection.body_text());
        }
    };
    let out = Outgoing {
        from: body.from,
        chat: body.chat,
        text: body.text,
        id: body.id,
        reply_to: body.reply_to,
    };
    match chat.send_message(&out).await {
        Ok(sent) => Json(sent).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn messages(State(chat): State<Arc<MockChat>>, Path(name): Path<String>) -> Response {
    match chat.messages_of(&name) {
        Ok(messages) => {
            let messages: Vec<Delivery> = messages;
            Json(json!({ "messages": messages })).into_response()
        }
        Err(e) => error(StatusCode::NOT_FOUND, e.code(), e.to_string()),
    }
}

async fn chat_messages(State(chat): State<Arc<MockChat>>, Path(group): Path<String>) -> Response {
    match chat.chat_messages(&group) {
        Ok(messages) => Json(json!({ "messages": messages })).into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, e.code(), e.to_string()),
    }
}
