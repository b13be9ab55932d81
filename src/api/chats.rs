//! `/sessions/{id}/chats…` and presence: the chats an account has (from the
//! message log: newest message and unread count, with each chat's settings
//! from `chat_settings.rs`, its labels and the person's name from the
//! address book),
//! marking a chat read,
//! typing indicators, and online/offline presence.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::groups::session;
use super::messages::{MessageView, engine};
use super::pagination::{PageParams, Paginated};
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path, Query};
use crate::messages::chat_settings::ChatSettingsView;
use crate::state::AppState;
use crate::store::{ChatSummary, Page};
use crate::wa::{ChatState, Jid, MessageId};

/// Most messages one "mark chat read" acknowledges.
const READ_BATCH: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/chats", get(list))
        .route("/sessions/{id}/chats/{chat}/read", post(read))
        .route("/sessions/{id}/chats/{chat}/typing", post(typing))
        .route("/sessions/{id}/presence", post(presence))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatView {
    #[schema(example = "491701234567@s.whatsapp.net")]
    pub chat: String,
    /// The person's name as saved in the address book, else the name they
    /// chose (see `/sessions/{id}/contacts`); null when unknown and for groups.
    #[schema(example = "Ada Lovelace")]
    pub name: Option<String>,
    /// Received messages not marked read yet.
    pub unread: i64,
    /// Ids of the labels on the chat (`/sessions/{id}/labels`).
    #[schema(example = json!(["3"]))]
    pub labels: Vec<String>,
    pub archived: bool,
    pub pinned: bool,
    pub muted: bool,
    /// When the mute ends; null when not muted or muted for good.
    pub muted_until: Option<chrono::DateTime<chrono::Utc>>,
    pub last_message: MessageView,
}

impl ChatView {
    fn new(c: ChatSummary, settings: ChatSettingsView, name: Option<String>, labels: Vec<String>) -> Self {
        Self {
            chat: c.last.chat_jid.clone(),
            name,
            labels,
            unread: c.unread,
            archived: settings.archived,
            pinned: settings.pinned,
            muted: settings.muted,
            muted_until: settings.muted_until,
            last_message: c.last.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"marked": 3}))]
pub struct ReadView {
    /// Messages marked read (blue ticks sent).
    pub marked: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"state": "composing"}))]
pub struct TypingRequest {
    pub state: ChatState,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Available,
    Unavailable,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"presence": "available"}))]
pub struct PresenceRequest {
    pub presence: Presence,
}

pub(super) fn chat_jid(raw: &str) -> ApiResult<Jid> {
    Jid::parse(raw).map_err(|e| Error::validation("invalid chat", json!({"chat": [format!("chat {e}")]})))
}

/// The account's chats, the one with the newest message first.
#[utoipa::path(get, path = "/sessions/{id}/chats", tag = "chats",
    params(("id" = String, Path, description = "Session id", example = "sales"), PageParams),
    responses((status = 200, description = "Chats", body = Paginated<ChatView>),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 422, description = "Bad cursor", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Paginated<ChatView>>> {
    let session = session(&state, &id).await?;
    let after = params.row_cursor()?;
    let limit = params.limit();
    let rows = state.store.message_logs.chats(&session, &Page { after, limit }).await?;
    let page = Paginated::new(rows, limit, |c| c.last.id.to_string());
    let chats: Vec<String> = page.data.iter().map(|c| c.last.chat_jid.clone()).collect();
    let now = chrono::Utc::now();
    let mut settings: std::collections::HashMap<String, ChatSettingsView> = state
        .store
        .chats
        .get_many(&session, &chats)
        .await?
        .iter()
        .map(|s| (s.chat_jid.clone(), ChatSettingsView::new(s, now)))
        .collect();
    let mut names: std::collections::HashMap<String, String> = state
        .store
        .contacts
        .get_many(&session, &chats)
        .await?
        .into_iter()
        .filter_map(|c| c.name.or(c.push_name).map(|n| (c.jid, n)))
        .collect();
    let mut labels: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (chat, label) in state.store.labels.of_chats(&session, &chats).await? {
        labels.entry(chat).or_default().push(label);
    }
    let data = page
        .data
        .into_iter()
        .map(|c| {
            let s = settings
                .remove(&c.last.chat_jid)
                .unwrap_or_else(|| ChatSettingsView::default_for(&c.last.chat_jid));
            let name = names.remove(&c.last.chat_jid);
            let labels = labels.remove(&c.last.chat_jid).unwrap_or_default();
            ChatView::new(c, s, name, labels)
        })
        .collect();
    Ok(Json(Paginated { data, next_cursor: page.next_cursor }))
}

/// Mark every unread received message of a chat read.
#[utoipa::path(post, path = "/sessions/{id}/chats/{chat}/read", tag = "chats",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("chat" = String, Path, description = "Phone number, person's JID or group JID", example = "491701234567")),
    responses((status = 200, description = "Marked read", body = ReadView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid chat", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn read(
    State(state): State<AppState>,
    Path((id, chat)): Path<(String, String)>,
) -> ApiResult<Json<ReadView>> {
    let session = session(&state, &id).await?;
    let chat = chat_jid(&chat)?;
    let chat_key = chat.to_string();
    let unread = state.store.message_logs.unread(&session, &chat_key, READ_BATCH).await?;
    if unread.is_empty() {
        return Ok(Json(ReadView { marked: 0 }));
    }
    let engine = engine(&state, &session)?;
    // A read receipt names one sender: in groups, one call per author.
    let mut by_sender: Vec<(Option<String>, Vec<MessageId>)> = Vec::new();
    for (wa_id, sender) in &unread {
        match by_sender.iter_mut().find(|(s, _)| s == sender) {
            Some((_, ids)) => ids.push(MessageId(wa_id.clone())),
            None => by_sender.push((sender.clone(), vec![MessageId(wa_id.clone())])),
        }
    }
    for (sender, ids) in &by_sender {
        let sender = sender.as_deref().and_then(|s| Jid::parse(s).ok());
        engine.mark_read(&chat, sender.as_ref(), ids).await?;
    }
    let ids: Vec<String> = unread.into_iter().map(|(id, _)| id).collect();
    let marked = state.store.message_logs.mark_read(&session, &chat_key, &ids).await?;
    Ok(Json(ReadView { marked }))
}

/// Show typing or recording in a chat, or stop (`paused`).
#[utoipa::path(post, path = "/sessions/{id}/chats/{chat}/typing", tag = "chats", request_body = TypingRequest,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("chat" = String, Path, description = "Phone number, person's JID or group JID", example = "491701234567")),
    responses((status = 204, description = "Sent"),
        (status = 403, description = "Not a participant of the group", body = ErrorResponse),
        (status = 404, description = "No such session or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid chat or state, or not on WhatsApp", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn typing(
    State(state): State<AppState>,
    Path((id, chat)): Path<(String, String)>,
    Json(body): Json<TypingRequest>,
) -> ApiResult<StatusCode> {
    let session = session(&state, &id).await?;
    let chat = chat_jid(&chat)?;
    engine(&state, &session)?.set_chat_state(&chat, body.state).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Appear online (`available`) or offline to contacts.
#[utoipa::path(post, path = "/sessions/{id}/presence", tag = "chats", request_body = PresenceRequest,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 204, description = "Set"),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid presence", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn presence(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<PresenceRequest>,
) -> ApiResult<StatusCode> {
    let session = session(&state, &id).await?;
    engine(&state, &session)?.set_presence(matches!(body.presence, Presence::Available)).await?;
    Ok(StatusCode::NO_CONTENT)
}
