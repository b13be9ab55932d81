//! `/sessions/{id}/message(s)`: send (queued, durable, idempotent), read the
//! message log and each message's delivery steps, edit, revoke, mark read.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::pagination::Paginated;
use super::sessions::{parse_id, session_not_found};
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path, Query};
use crate::http::request_id::RequestId;
use crate::messages::ids;
use crate::messages::job::{Draft, TargetRef};
use crate::messages::outgoing::Outgoing;
use crate::messages::request::{SendMessage, Validated};
use crate::queue::NewJob;
use crate::state::AppState;
use crate::store::{Direction, MessageLog, MessageLogFilter, NewMessageLog, Page, Reservation};
use crate::wa::{Jid, MessageId};

pub fn router(max_request_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/message", post(send).layer(DefaultBodyLimit::max(max_request_bytes)))
        .route("/sessions/{id}/messages", get(list))
        .route("/sessions/{id}/messages/read", post(mark_read))
        .route("/sessions/{id}/messages/{message_id}", get(get_one).patch(edit).delete(revoke))
        .route("/sessions/{id}/messages/{message_id}/status", get(status))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "msg_0192f0c46b557d1e9b8e3f1a2c4d5e6f", "wa_id": "3EB092F0C46B551B2D1B3E", "session_id": "sales",
    "direction": "outgoing", "chat": "491701234567@s.whatsapp.net", "sender": null, "type": "text", "preview": "Your order has shipped 📦",
    "status": "queued", "error": null, "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f", "created_at": "2026-11-30T12:00:00Z",
    "updated_at": "2026-11-30T12:00:00Z", "sent_at": null, "delivered_at": null, "read_at": null, "played_at": null, "failed_at": null}))]
pub struct MessageView {
    /// The gateway's id (`msg_…`) for messages sent through it; the WhatsApp id for others.
    pub id: String,
    pub wa_id: Option<String>,
    pub session_id: String,
    /// `outgoing` or `incoming`.
    pub direction: String,
    pub chat: String,
    /// Incoming group messages: the author.
    pub sender: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub preview: Option<String>,
    /// `queued`, `sent`, `delivered`, `read`, `played`, `failed`, `cancelled` (outgoing) or `received` (incoming).
    pub status: String,
    pub error: Option<String>,
    pub request_id: Option<String>,
    /// The batch the message was sent in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    /// A scheduled message: when it is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub played_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
}

impl From<MessageLog> for MessageView {
    fn from(l: MessageLog) -> Self {
        Self {
            id: l.message_id,
            wa_id: l.wa_message_id,
            session_id: l.session_id,
            direction: l.direction,
            chat: l.chat_jid,
            sender: l.sender_jid,
            kind: l.message_type,
            preview: l.content_preview,
            status: l.status,
            error: l.error,
            request_id: l.request_id,
            batch_id: l.batch_id,
            scheduled_at: l.scheduled_at,
            created_at: l.created_at,
            updated_at: l.updated_at,
            sent_at: l.sent_at,
            delivered_at: l.delivered_at,
            read_at: l.read_at,
            played_at: l.played_at,
            failed_at: l.failed_at,
        }
    }
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A JSON request body, refused unless sent as `application/json`.
pub(super) fn json_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> ApiResult<T> {
    if !crate::http::extract::json_content_type(headers) {
        return Err(Error::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json",
        ));
    }
    crate::http::extract::from_json(body)
}

/// SHA-256 of a request body, to tell a retry from a different request.
fn body_hash(body: &[u8]) -> String {
    Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else { return Ok(None) };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..0x7f).contains(&b)));
    key.map(|k| Some(k.to_owned())).ok_or_else(|| {
        Error::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-255 printable ASCII characters",
        )
    })
}

/// Resolves a message id given by the client (gateway or WhatsApp id).
async fn target(state: &AppState, session: &str, raw: &str) -> ApiResult<TargetRef> {
    let found = match state.store.message_logs.get(session, raw).await? {
        Some(log) => Some(log),
        None => state.store.message_logs.find_by_wa_id(session, raw).await?,
    };
    Ok(match found {
        Some(log) => TargetRef {
            id: log.wa_message_id.unwrap_or(log.message_id),
            from_me: log.direction == Direction::Outgoing.as_str(),
            sender: log.sender_jid,
        },
        // Not in the log (sent before the gateway, or pruned): a WhatsApp id in this chat.
        None => TargetRef { id: raw.to_owned(), from_me: false, sender: None },
    })
}

/// Queue a message. Answers 202 as soon as the message is durable; follow it
/// with `GET …/messages/{id}/status` or the `message.status` events.
#[utoipa::path(post, path = "/sessions/{id}/message", tag = "messages", request_body = SendMessage,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key and body returns the first answer instead of sending again")),
    responses(
        (status = 202, description = "Queued", body = MessageView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 413, description = "Body larger than messages.max_request_bytes", body = ErrorResponse),
        (status = 422, description = "Invalid message (per-field details), or an Idempotency-Key reused with another body", body = ErrorResponse,
            example = json!({"error": {"code": "validation_failed", "message": "the message is invalid", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f",
                "details": {"to": ["to must have 7 to 15 digits including the country code"], "text": ["required and not blank for type text"]}}})),
        (status = 503, description = "The queue is unavailable; nothing was accepted", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn send(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request_id: Option<axum::Extension<RequestId>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    let id = parse_id(&id)?;
    let session = id.as_str();
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            Error::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
        }
        status => Error::new(status, "invalid_body", e.body_text()),
    })?;
    let key = idempotency_key(&headers)?;
    let request: SendMessage = json_body(&headers, &body)?;
    ensure_session(&state, session).await?;
    let valid = validated(&state, request).await?;
    let message_id = match reserve(&state, session, key.as_deref(), "", &body).await? {
        Reserved::Fresh(id) => id,
        Reserved::Replay(log) => return Ok((StatusCode::ACCEPTED, Json((*log).into()))),
    };
    let request_id = request_id.map(|r| r.0.0.to_string());
    let origin = Origin { request_id, ..Default::default() };
    Ok((StatusCode::ACCEPTED, Json(queue_one(&state, session, valid, message_id, origin).await?)))
}

/// What an Idempotency-Key makes of a one-message request.
pub(super) enum Reserved {
    /// Queue the message under this id (new, or re-created after a first
    /// attempt died before writing it).
    Fresh(String),
    /// The same request was accepted before: answer with its message.
    Replay(Box<MessageLog>),
}

/// Claims `key` (within `namespace`, so the same key on another endpoint is
/// another request) for this request body and `fresh_id`. `None`: no key, or
/// a new one now naming `fresh_id`. `Some(id)`: the same request came before
/// and named `id`. A different body under the key is 422.
pub(super) async fn claim_key(
    state: &AppState,
    session: &str,
    key: Option<&str>,
    namespace: &str,
    body: &[u8],
    fresh_id: &str,
) -> ApiResult<Option<String>> {
    let Some(key) = key else { return Ok(None) };
    let hash = body_hash(body);
    let ttl = Duration::from_secs(state.config.messages.idempotency_ttl_hours * 3600);
    let key = format!("{namespace}{key}");
    match state.store.idempotency.reserve(session, &key, &hash, fresh_id, ttl).await? {
        Reservation::New => Ok(None),
        Reservation::Existing { request_hash, message_id: first } if request_hash == hash => Ok(Some(first)),
        Reservation::Existing { .. } => Err(Error::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        )),
    }
}

/// `claim_key` for one-message requests: a repeat answers with the first
/// message, or re-creates it under its id when the first attempt died
/// before writing it.
pub(super) async fn reserve(
    state: &AppState,
    session: &str,
    key: Option<&str>,
    namespace: &str,
    body: &[u8],
) -> ApiResult<Reserved> {
    let message_id = ids::new_message_id();
    let Some(first) = claim_key(state, session, key, namespace, body, &message_id).await? else {
        return Ok(Reserved::Fresh(message_id));
    };
    Ok(match state.store.message_logs.get(session, &first).await? {
        Some(log) => {
            metrics::counter!("wag_idempotent_replays_total").increment(1);
            Reserved::Replay(Box::new(log))
        }
        None => Reserved::Fresh(first),
    })
}

/// Prepares, accepts and answers for one message.
pub(super) async fn queue_one(
    state: &AppState,
    session: &str,
    valid: Validated,
    message_id: String,
    origin: Origin,
) -> ApiResult<MessageView> {
    let (log, job) = prepare(state, session, valid, message_id, origin).await?;
    accept(state, log.clone(), job).await?;
    Ok(accepted_view(log))
}

/// 404 unless the session exists; a running one costs no lookup.
pub(super) async fn ensure_session(state: &AppState, session: &str) -> ApiResult<()> {
    if state.sessions.handle(session).is_none() && state.store.sessions.get(session).await?.is_none() {
        return Err(session_not_found(session));
    }
    Ok(())
}

/// Fills in a template and checks everything that needs no network.
pub(super) async fn validated(state: &AppState, request: SendMessage) -> ApiResult<Validated> {
    resolved(state, request)
        .await?
        .validate(state.config.messages.max_media_bytes)
        .map_err(|details| Error::validation("the message is invalid", details))
}

/// A request with its template filled in and an upload's type and name.
pub(super) async fn resolved(state: &AppState, request: SendMessage) -> ApiResult<SendMessage> {
    let mut request = super::templates::fill(state, request).await?;
    // An upload brings its type (from its bytes) and its file name.
    if let Some(media) = &mut request.media
        && let Some(id) = &media.id
        && let Ok(info) = state.media.info(id).await
    {
        if media.mime_type.as_deref().is_some_and(|m| !m.eq_ignore_ascii_case(&info.mime_type)) {
            return Err(Error::validation(
                "media.mime_type: the upload is of another type",
                json!({"media.mime_type": [format!("the upload is {}", info.mime_type)]}),
            ));
        }
        media.mime_type = Some(info.mime_type);
        if request.filename.is_none() {
            request.filename = info.file_name;
        }
    }
    Ok(request)
}

/// Where a message comes from besides its body.
#[derive(Debug, Clone, Default)]
pub(super) struct Origin {
    pub request_id: Option<String>,
    pub batch_id: Option<String>,
    /// A scheduled message: when to send it.
    pub send_at: Option<DateTime<Utc>>,
}

/// The message's log row and its job, reply and reaction targets resolved.
pub(super) async fn prepare(
    state: &AppState,
    session: &str,
    valid: Validated,
    message_id: String,
    origin: Origin,
) -> ApiResult<(NewMessageLog, NewJob)> {
    let Origin { request_id, batch_id, send_at } = origin;
    let config = &state.config.messages;
    let mut draft = valid.draft;
    if let Draft::Reaction { target: t, .. } = &mut draft {
        *t = target(state, session, &t.id.clone()).await?;
    }
    let reply_to = match &valid.reply_to {
        Some(raw) => Some(target(state, session, raw).await?),
        None => None,
    };
    let outgoing = Outgoing {
        session_id: session.to_owned(),
        message_id,
        chat: valid.chat.to_string(),
        draft,
        reply_to,
        mentions: valid.mentions.iter().map(Jid::to_string).collect(),
        request_id,
        batch_id,
        send_at,
        status: valid.status,
    };
    outgoing.into_rows(config.preview_chars, config.max_attempts).map_err(|e| Error::Internal(e.into()))
}

/// Writes the row and the job in one group commit: on a database queue in
/// one transaction; with Redis the row first, so the job can never run
/// before its row exists (a crash between the two leaves a queued row the
/// client was never told about, which the repair sweep fails).
pub(super) async fn accept(state: &AppState, log: NewMessageLog, job: NewJob) -> ApiResult<()> {
    let message_id = log.message_id.clone();
    if let Err(e) = state.log_writer.accept(log, job).await {
        tracing::error!(error = %e, message_id, "could not accept a message");
        return Err(Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_unavailable",
            "the message could not be stored or queued; retry later",
        ));
    }
    metrics::counter!("wag_messages_total", "result" => "queued").increment(1);
    Ok(())
}

/// What the client sees of a message just accepted.
pub(super) fn accepted_view(log: NewMessageLog) -> MessageView {
    let now = Utc::now();
    MessageView {
        id: log.message_id,
        wa_id: log.wa_message_id,
        session_id: log.session_id,
        direction: log.direction.as_str().to_owned(),
        chat: log.chat_jid,
        sender: log.sender_jid,
        kind: log.message_type,
        preview: log.content_preview,
        status: log.status,
        error: None,
        request_id: log.request_id,
        batch_id: log.batch_id,
        scheduled_at: log.scheduled_at,
        created_at: now,
        updated_at: now,
        sent_at: None,
        delivered_at: None,
        read_at: None,
        played_at: None,
        failed_at: None,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// `incoming` or `outgoing`.
    pub direction: Option<String>,
    /// A status, e.g. `failed`.
    pub status: Option<String>,
    /// A chat JID or phone number.
    pub chat: Option<String>,
    /// The `next_cursor` of the previous page (messages older than it).
    #[serde(alias = "before")]
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
}

/// The message log, newest first.
#[utoipa::path(get, path = "/sessions/{id}/messages", tag = "messages",
    params(("id" = String, Path, description = "Session id", example = "sales"), ListParams),
    responses(
        (status = 200, description = "One page of messages", body = Paginated<MessageView>),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 422, description = "Bad filter or cursor", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Paginated<MessageView>>> {
    let id = parse_id(&id)?;
    if state.store.sessions.get(id.as_str()).await?.is_none() {
        return Err(session_not_found(id.as_str()));
    }
    let mut problems = serde_json::Map::new();
    let direction = match params.direction.as_deref() {
        None => None,
        Some("incoming") => Some(Direction::Incoming),
        Some("outgoing") => Some(Direction::Outgoing),
        Some(_) => {
            problems.insert("direction".into(), json!(["must be incoming or outgoing"]));
            None
        }
    };
    const STATUSES: [&str; 7] = ["queued", "sent", "delivered", "read", "played", "failed", "received"];
    if params.status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        problems.insert("status".into(), json!([format!("must be one of {}", STATUSES.join(", "))]));
    }
    let chat = match params.chat.as_deref().map(Jid::parse) {
        Some(Ok(j)) => Some(j.to_string()),
        Some(Err(e)) => {
            problems.insert("chat".into(), json!([format!("chat {e}")]));
            None
        }
        None => None,
    };
    let after = match params.cursor.as_deref().map(str::parse::<i64>) {
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => {
            problems.insert("cursor".into(), json!(["must be the next_cursor of a previous page"]));
            None
        }
        None => None,
    };
    if !problems.is_empty() {
        return Err(Error::validation("invalid filters", Value::Object(problems)));
    }
    let limit = super::pagination::page_limit(params.limit);
    let filter = MessageLogFilter { direction, chat_jid: chat, status: params.status };
    let rows = state.store.message_logs.list(id.as_str(), &filter, &Page { after, limit }).await?;
    // The cursor is the row id, which the view does not carry: page the rows, then map.
    let page = Paginated::new(rows, limit, |r| r.id.to_string());
    Ok(Json(Paginated {
        data: page.data.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

pub(super) async fn find(state: &AppState, session: &str, message_id: &str) -> ApiResult<MessageLog> {
    if state.store.sessions.get(session).await?.is_none() {
        return Err(session_not_found(session));
    }
    let found = match state.store.message_logs.get(session, message_id).await? {
        Some(log) => Some(log),
        None => state.store.message_logs.find_by_wa_id(session, message_id).await?,
    };
    found.ok_or_else(|| {
        Error::not_found("message_not_found", format!("message {message_id} is not in the log"))
    })
}

/// One message from the log.
#[utoipa::path(get, path = "/sessions/{id}/messages/{message_id}", tag = "messages",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("message_id" = String, Path, description = "Gateway or WhatsApp id")),
    responses(
        (status = 200, description = "The message", body = MessageView),
        (status = 404, description = "No such session or message", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<MessageView>> {
    let id = parse_id(&id)?;
    Ok(Json(find(&state, id.as_str(), &message_id).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "msg_0192f0c46b557d1e9b8e3f1a2c4d5e6f", "status": "read", "error": null,
    "steps": {"queued": "2026-11-30T12:00:00Z", "sent": "2026-11-30T12:00:01Z", "delivered": "2026-11-30T12:00:02Z",
        "read": "2026-11-30T12:00:09Z", "played": null, "failed": null}}))]
pub struct StatusView {
    pub id: String,
    pub status: String,
    pub error: Option<String>,
    /// When each step happened; null for steps not (yet) reached.
    #[schema(value_type = Object)]
    pub steps: Value,
}

/// A message's delivery steps with their times.
#[utoipa::path(get, path = "/sessions/{id}/messages/{message_id}/status", tag = "messages",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("message_id" = String, Path, description = "Gateway or WhatsApp id")),
    responses(
        (status = 200, description = "Status and step times", body = StatusView),
        (status = 404, description = "No such session or message", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn status(
    State(state): State<AppState>,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<StatusView>> {
    let id = parse_id(&id)?;
    let l = find(&state, id.as_str(), &message_id).await?;
    let steps = json!({"queued": l.created_at, "sent": l.sent_at, "delivered": l.delivered_at,
        "read": l.read_at, "played": l.played_at, "failed": l.failed_at});
    Ok(Json(StatusView { id: l.message_id, status: l.status, error: l.error, steps }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Your order has shipped (tracking: 1Z999)"}))]
pub struct EditRequest {
    pub text: String,
}

/// The engine of the session, connected, or 409.
pub(super) fn engine(
    state: &AppState,
    session: &str,
) -> ApiResult<std::sync::Arc<dyn crate::engine::Engine>> {
    state.sessions.connected_engine(session).map_err(not_connected(session))
}

/// A session that is not running, or not connected, is 409
/// `session_not_connected` to a client; other session errors map as usual.
pub(super) fn not_connected(session: &str) -> impl FnOnce(crate::sessions::SessionError) -> Error + '_ {
    move |e| match e {
        crate::sessions::SessionError::NotRunning(_) | crate::sessions::SessionError::WrongStatus { .. } => {
            Error::conflict("session_not_connected", format!("session {session} is not connected"))
        }
        other => other.into(),
    }
}

fn sent_by_us(l: &MessageLog) -> ApiResult<(Jid, MessageId)> {
    if l.direction != "outgoing"
        || l.wa_message_id.is_none()
        || matches!(l.status.as_str(), "queued" | "failed")
    {
        return Err(Error::conflict("message_not_sent", "only messages this account sent can be changed"));
    }
    let chat = Jid::parse(&l.chat_jid)
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored chat {}: {e}", l.chat_jid)))?;
    Ok((chat, MessageId(l.wa_message_id.clone().unwrap_or_default())))
}

/// Edit the text of a sent message (WhatsApp allows this for 15 minutes).
#[utoipa::path(patch, path = "/sessions/{id}/messages/{message_id}", tag = "messages", request_body = EditRequest,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("message_id" = String, Path, description = "Gateway or WhatsApp id")),
    responses(
        (status = 200, description = "Edited", body = MessageView),
        (status = 404, description = "No such session or message", body = ErrorResponse),
        (status = 409, description = "Not sent by this account yet, or the session is not connected", body = ErrorResponse),
        (status = 422, description = "Empty text", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn edit(
    State(state): State<AppState>,
    Path((id, message_id)): Path<(String, String)>,
    Json(body): Json<EditRequest>,
) -> ApiResult<Json<MessageView>> {
    let id = parse_id(&id)?;
    if body.text.trim().is_empty() || body.text.chars().count() > crate::messages::request::MAX_TEXT {
        return Err(Error::validation("invalid text", json!({"text": ["1 to 65536 characters, not blank"]})));
    }
    let log = find(&state, id.as_str(), &message_id).await?;
    let (chat, wa_id) = sent_by_us(&log)?;
    engine(&state, id.as_str())?.edit(&chat, &wa_id, &body.text).await?;
    state.sessions.hub().publish(
        id.as_str(),
        "message.edited",
        json!({"id": log.message_id, "wa_id": wa_id, "text": body.text}),
    );
    Ok(Json(log.into()))
}

/// Delete a sent message for everyone.
#[utoipa::path(delete, path = "/sessions/{id}/messages/{message_id}", tag = "messages",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("message_id" = String, Path, description = "Gateway or WhatsApp id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such session or message", body = ErrorResponse),
        (status = 409, description = "Not sent by this account yet, or the session is not connected", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    let log = find(&state, id.as_str(), &message_id).await?;
    let (chat, wa_id) = sent_by_us(&log)?;
    engine(&state, id.as_str())?.revoke(&chat, &wa_id).await?;
    state.sessions.hub().publish(
        id.as_str(),
        "message.revoked",
        json!({"id": log.message_id, "wa_id": wa_id}),
    );
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"chat": "491709876543", "message_ids": ["3EB0A1B2C3D4E5F60718"]}))]
pub struct ReadRequest {
    pub chat: String,
    /// WhatsApp ids of received messages (1–100).
    pub message_ids: Vec<String>,
    /// In groups: the author of the messages.
    pub sender: Option<String>,
}

/// Mark received messages as read (blue ticks for the sender).
#[utoipa::path(post, path = "/sessions/{id}/messages/read", tag = "messages", request_body = ReadRequest,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 204, description = "Marked read"),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid chat, sender or ids", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn mark_read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<ReadRequest>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    let mut problems = serde_json::Map::new();
    let chat =
        Jid::parse(&body.chat).map_err(|e| problems.insert("chat".into(), json!([format!("chat {e}")]))).ok();
    let sender = match body.sender.as_deref().map(Jid::parse) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            problems.insert("sender".into(), json!([format!("sender {e}")]));
            None
        }
        None => None,
    };
    if body.message_ids.is_empty()
        || body.message_ids.len() > 100
        || body.message_ids.iter().any(|m| m.is_empty() || m.len() > 128)
    {
        problems.insert("message_ids".into(), json!(["1 to 100 message ids"]));
    }
    let Some(chat) = chat.filter(|_| problems.is_empty()) else {
        return Err(Error::validation("invalid read request", Value::Object(problems)));
    };
    if state.store.sessions.get(id.as_str()).await?.is_none() {
        return Err(session_not_found(id.as_str()));
    }
    let ids: Vec<MessageId> = body.message_ids.into_iter().map(MessageId).collect();
    engine(&state, id.as_str())?.mark_read(&chat, sender.as_ref(), &ids).await?;
    Ok(StatusCode::NO_CONTENT)
}
