//! `/sessions/{id}/labels…` and `/sessions/{id}/chats/{chat}/labels/{label}`:
//! the account's labels (WhatsApp Business labels; lists on personal
//! accounts) and the chats they are on. Changes go to WhatsApp first (the
//! phone and other devices follow), then into the gateway's record
//! (`messages::labels`); changes made on the phone arrive the same way.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::chats::chat_jid;
use super::groups::session;
use super::messages::engine;
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::http::request_id::RequestId;
use crate::messages::labels::{Applied, LabelView, Source, apply};
use crate::state::AppState;
use crate::wa::{LABEL_COLORS, LabelChange};

/// Longest label name, in characters.
const MAX_NAME: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/labels", get(list).post(create))
        .route("/sessions/{id}/labels/{label}", get(get_one).patch(update).delete(remove))
        .route("/sessions/{id}/labels/{label}/chats", get(chats))
        .route("/sessions/{id}/chats/{chat}/labels/{label}", put(label_chat).delete(unlabel_chat))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "New customer", "color": 4}))]
pub struct LabelRequest {
    /// 1–100 characters (required to create).
    pub name: Option<String>,
    /// WhatsApp's colour index, 0–19 (default 0).
    pub color: Option<i32>,
}

impl LabelRequest {
    /// The name (trimmed) and colour, or per-field problems.
    pub(super) fn checked(self) -> ApiResult<(Option<String>, Option<i32>)> {
        let mut problems = serde_json::Map::new();
        let name = self.name.map(|n| n.trim().to_owned());
        if name.as_ref().is_some_and(|n| n.is_empty() || n.chars().count() > MAX_NAME) {
            problems.insert("name".into(), json!([format!("1 to {MAX_NAME} characters")]));
        }
        if self.color.is_some_and(|c| !(0..LABEL_COLORS).contains(&c)) {
            problems.insert("color".into(), json!([format!("0 to {}", LABEL_COLORS - 1)]));
        }
        if name.is_none() && self.color.is_none() {
            problems.insert("name".into(), json!(["give a name, a color or both"]));
        }
        if !problems.is_empty() {
            return Err(Error::validation("invalid label", serde_json::Value::Object(problems)));
        }
        Ok((name, self.color))
    }
}

fn label_not_found(label: &str) -> Error {
    Error::not_found("label_not_found", format!("label {label} does not exist"))
}

fn request_id(r: Option<axum::Extension<RequestId>>) -> Option<String> {
    r.map(|r| r.0.0.to_string())
}

/// The account's labels, by id.
#[utoipa::path(get, path = "/sessions/{id}/labels", tag = "labels",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 200, description = "Labels", body = Vec<LabelView>),
        (status = 404, description = "No such session", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vec<LabelView>>> {
    let session = session(&state, &id).await?;
    Ok(Json(state.store.labels.list(&session).await?.into_iter().map(LabelView::from).collect()))
}

/// One label.
#[utoipa::path(get, path = "/sessions/{id}/labels/{label}", tag = "labels",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("label" = String, Path, description = "Label id", example = "3")),
    responses((status = 200, description = "The label", body = LabelView),
        (status = 404, description = "No such session or label", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
) -> ApiResult<Json<LabelView>> {
    let session = session(&state, &id).await?;
    let found = state.store.labels.get(&session, &label).await?.ok_or_else(|| label_not_found(&label))?;
    Ok(Json(found.into()))
}

/// Create a label; its id is the next free number, as WhatsApp's clients pick.
#[utoipa::path(post, path = "/sessions/{id}/labels", tag = "labels", request_body = LabelRequest,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 201, description = "Created", body = LabelView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "No name, or an invalid name or colour", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    rid: Option<axum::Extension<RequestId>>,
    Json(body): Json<LabelRequest>,
) -> ApiResult<(StatusCode, Json<LabelView>)> {
    let session = session(&state, &id).await?;
    let (name, color) = body.checked()?;
    let Some(name) = name else {
        return Err(Error::validation("invalid label", json!({"name": ["required to create a label"]})));
    };
    // Two creates at once would pick the same id (and the second would
    // rename the first's label): one at a time in this process.
    static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = CREATING.lock().await;
    let existing = state.store.labels.list(&session).await?;
    let next = existing.iter().filter_map(|l| l.label_id.parse::<u64>().ok()).max().unwrap_or(0) + 1;
    let change = LabelChange::Edited { label: next.to_string(), name: Some(name), color, deleted: false };
    engine(&state, &session)?.change_label(&change).await?;
    match apply(&state.store, state.sessions.hub(), &session, &change, (Source::Api, request_id(rid))).await?
    {
        Applied::Label(view) => Ok((StatusCode::CREATED, Json(view))),
        other => Err(Error::Internal(anyhow::anyhow!("creating a label gave {other:?}"))),
    }
}

/// Rename or recolour a label.
#[utoipa::path(patch, path = "/sessions/{id}/labels/{label}", tag = "labels", request_body = LabelRequest,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("label" = String, Path, description = "Label id", example = "3")),
    responses((status = 200, description = "Changed; the label now", body = LabelView),
        (status = 404, description = "No such session or label", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Nothing to change, or an invalid name or colour", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
    rid: Option<axum::Extension<RequestId>>,
    Json(body): Json<LabelRequest>,
) -> ApiResult<Json<LabelView>> {
    let session = session(&state, &id).await?;
    let (name, color) = body.checked()?;
    let current = state.store.labels.get(&session, &label).await?.ok_or_else(|| label_not_found(&label))?;
    // WhatsApp's edit carries the whole label.
    let whole = LabelChange::Edited {
        label: label.clone(),
        name: Some(name.unwrap_or(current.name)),
        color: Some(color.unwrap_or(current.color)),
        deleted: false,
    };
    engine(&state, &session)?.change_label(&whole).await?;
    match apply(&state.store, state.sessions.hub(), &session, &whole, (Source::Api, request_id(rid))).await? {
        Applied::Label(view) => Ok(Json(view)),
        _ => Err(label_not_found(&label)),
    }
}

/// Delete a label; the chats it was on lose it.
#[utoipa::path(delete, path = "/sessions/{id}/labels/{label}", tag = "labels",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("label" = String, Path, description = "Label id", example = "3")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such session or label", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
    rid: Option<axum::Extension<RequestId>>,
) -> ApiResult<StatusCode> {
    let session = session(&state, &id).await?;
    state.store.labels.get(&session, &label).await?.ok_or_else(|| label_not_found(&label))?;
    let change = LabelChange::Edited { label: label.clone(), name: None, color: None, deleted: true };
    engine(&state, &session)?.change_label(&change).await?;
    match apply(&state.store, state.sessions.hub(), &session, &change, (Source::Api, request_id(rid))).await?
    {
        Applied::Deleted => Ok(StatusCode::NO_CONTENT),
        _ => Err(label_not_found(&label)),
    }
}

/// The chats a label is on, sorted.
#[utoipa::path(get, path = "/sessions/{id}/labels/{label}/chats", tag = "labels",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("label" = String, Path, description = "Label id", example = "3")),
    responses((status = 200, description = "Chat JIDs", body = Vec<String>, example = json!(["491709876543@s.whatsapp.net"])),
        (status = 404, description = "No such session or label", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn chats(
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
) -> ApiResult<Json<Vec<String>>> {
    let session = session(&state, &id).await?;
    state.store.labels.get(&session, &label).await?.ok_or_else(|| label_not_found(&label))?;
    Ok(Json(state.store.labels.chats(&session, &label).await?))
}

async fn set_chat_label(
    state: &AppState,
    (id, chat, label): (String, String, String),
    labeled: bool,
    rid: Option<axum::Extension<RequestId>>,
) -> ApiResult<StatusCode> {
    let session = session(state, &id).await?;
    let chat = chat_jid(&chat)?;
    state.store.labels.get(&session, &label).await?.ok_or_else(|| label_not_found(&label))?;
    let change = LabelChange::Chat { label: label.clone(), chat, labeled };
    engine(state, &session)?.change_label(&change).await?;
    match apply(&state.store, state.sessions.hub(), &session, &change, (Source::Api, request_id(rid))).await?
    {
        Applied::Chat(_) => Ok(StatusCode::NO_CONTENT),
        _ => Err(label_not_found(&label)),
    }
}

/// Put a label on a chat (again is fine).
#[utoipa::path(put, path = "/sessions/{id}/chats/{chat}/labels/{label}", tag = "labels",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("chat" = String, Path, description = "Phone number, person's JID or group JID", example = "491701234567"),
        ("label" = String, Path, description = "Label id", example = "3")),
    responses((status = 204, description = "The chat carries the label"),
        (status = 403, description = "Not a participant of the group", body = ErrorResponse),
        (status = 404, description = "No such session, label or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid chat, or not on WhatsApp", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn label_chat(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    rid: Option<axum::Extension<RequestId>>,
) -> ApiResult<StatusCode> {
    set_chat_label(&state, path, true, rid).await
}

/// Take a label off a chat (when it has none, nothing changes).
#[utoipa::path(delete, path = "/sessions/{id}/chats/{chat}/labels/{label}", tag = "labels",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("chat" = String, Path, description = "Phone number, person's JID or group JID", example = "491701234567"),
        ("label" = String, Path, description = "Label id", example = "3")),
    responses((status = 204, description = "The chat does not carry the label"),
        (status = 404, description = "No such session, label or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid chat", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn unlabel_chat(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    rid: Option<axum::Extension<RequestId>>,
) -> ApiResult<StatusCode> {
    set_chat_label(&state, path, false, rid).await
}
