//! `/sessions/{id}/chats/{chat}`: archive, pin or mute a chat, as on the
//! phone (the account's other devices follow), and read those settings.
//! Changes made on the phone arrive as `chat.updated` events too.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::chats::chat_jid;
use super::groups::session;
use super::messages::engine;
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::http::request_id::RequestId;
use crate::messages::chat_settings::{ChatSettingsView, MAX_PINNED, apply};
use crate::state::AppState;
use crate::wa::{ChatChange, Mute};

pub fn router() -> Router<AppState> {
    Router::new().route("/sessions/{id}/chats/{chat}", get(get_one).patch(update))
}

/// What to change; fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"pinned": true, "muted_until": "2026-12-08T08:00:00Z"}))]
pub struct ChatUpdate {
    pub archived: Option<bool>,
    /// At most 3 chats are pinned.
    pub pinned: Option<bool>,
    /// `true` mutes for good (or until `muted_until`), `false` unmutes.
    pub muted: Option<bool>,
    /// Mutes until then (a time in the future).
    pub muted_until: Option<DateTime<Utc>>,
}

impl ChatUpdate {
    pub(super) fn change(&self, now: DateTime<Utc>) -> ApiResult<ChatChange> {
        let invalid =
            |field: &str, why: &str| Error::validation(format!("{field}: {why}"), json!({ field: [why] }));
        let mute = match (self.muted, self.muted_until) {
            (Some(false), Some(_)) => {
                return Err(invalid("muted_until", "cannot be given with muted: false"));
            }
            (_, Some(at)) if at <= now => return Err(invalid("muted_until", "is in the past")),
            (_, Some(at)) => Some(Mute::Until(at)),
            (Some(true), None) => Some(Mute::Forever),
            (Some(false), None) => Some(Mute::Off),
            (None, None) => None,
        };
        let change = ChatChange { archived: self.archived, pinned: self.pinned, mute };
        if change.is_empty() {
            return Err(Error::validation(
                "nothing to change",
                json!({"request": ["give archived, pinned, muted or muted_until"]}),
            ));
        }
        Ok(change)
    }
}

/// A chat's settings (every one off for a chat never changed).
#[utoipa::path(get, path = "/sessions/{id}/chats/{chat}", tag = "chats",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("chat" = String, Path, description = "Phone number, person's JID or group JID", example = "491701234567")),
    responses((status = 200, description = "The chat's settings", body = ChatSettingsView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 422, description = "Invalid chat", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    Path((id, chat)): Path<(String, String)>,
) -> ApiResult<Json<ChatSettingsView>> {
    let session = session(&state, &id).await?;
    let chat = chat_jid(&chat)?.to_string();
    let found = state.store.chats.get_many(&session, std::slice::from_ref(&chat)).await?;
    Ok(Json(match found.first() {
        Some(s) => ChatSettingsView::new(s, Utc::now()),
        None => ChatSettingsView::default_for(&chat),
    }))
}

/// Archive, pin or mute a chat (or the reverse).
#[utoipa::path(patch, path = "/sessions/{id}/chats/{chat}", tag = "chats", request_body = ChatUpdate,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("chat" = String, Path, description = "Phone number, person's JID or group JID", example = "491701234567")),
    responses((status = 200, description = "Changed; the chat's settings now", body = ChatSettingsView),
        (status = 403, description = "Not a participant of the group", body = ErrorResponse),
        (status = 404, description = "No such session or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected, or 3 chats are pinned already", body = ErrorResponse,
            example = json!({"error": {"code": "too_many_pinned", "message": "3 chats are pinned already: unpin one first", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
        (status = 422, description = "Invalid chat, nothing to change, a mute end in the past, or not on WhatsApp", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Path((id, chat)): Path<(String, String)>,
    request_id: Option<axum::Extension<RequestId>>,
    Json(body): Json<ChatUpdate>,
) -> ApiResult<Json<ChatSettingsView>> {
    let session = session(&state, &id).await?;
    let jid = chat_jid(&chat)?;
    let chat = jid.to_string();
    let change = body.change(Utc::now())?;
    if change.pinned == Some(true) {
        let current = state.store.chats.get_many(&session, std::slice::from_ref(&chat)).await?;
        let already = current.first().is_some_and(|s| s.pinned);
        if !already && state.store.chats.count_pinned(&session).await? >= MAX_PINNED {
            return Err(Error::conflict(
                "too_many_pinned",
                format!("{MAX_PINNED} chats are pinned already: unpin one first"),
            ));
        }
    }
    engine(&state, &session)?.set_chat(&jid, &change).await?;
    let view = apply(
        &state.store,
        state.sessions.hub(),
        &session,
        &chat,
        &change,
        request_id.map(|r| r.0.0.to_string()),
    )
    .await?;
    Ok(Json(view))
}
