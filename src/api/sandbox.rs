//! `/sandbox/sessions/{id}/…`: the control API of the simulated network.
//! It plays the phone (link), the other people (inbound messages, calls) and the
//! network's bad days (faults). Behind the same API key as everything else.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::sessions::{SessionView, parse_id, session_not_found};
use crate::engine::sandbox::{
    CallRequest, EndCall, Fault, Inbound, LinkRequest, SandboxCall, SandboxNetwork, VoteRequest,
};
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::sessions::Status;
use crate::state::AppState;
use crate::store::Session;
use crate::wa::{LabelChange, MessageId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sandbox/sessions/{id}/link", post(link))
        .route("/sandbox/sessions/{id}/inbound", post(inbound))
        .route("/sandbox/sessions/{id}/fault", post(fault))
        .route("/sandbox/sessions/{id}/calls", post(ring))
        .route("/sandbox/sessions/{id}/calls/{call_id}", get(call))
        .route("/sandbox/sessions/{id}/calls/{call_id}/end", post(end_call))
        .route("/sandbox/sessions/{id}/polls/{poll_id}/votes", post(vote))
        .route("/sandbox/sessions/{id}/chats/{chat}", post(phone_changes_chat))
        .route("/sandbox/sessions/{id}/contacts/{contact}", post(phone_saves_contact))
        .route("/sandbox/sessions/{id}/labels/{label}", post(phone_edits_label))
        .route("/sandbox/sessions/{id}/chats/{chat}/labels/{label}", post(phone_labels_chat))
}

/// How long `link` waits for the session to report `connected`.
const LINK_SETTLE: Duration = Duration::from_secs(2);

async fn sandbox_session(state: &AppState, raw_id: &str) -> ApiResult<(Arc<SandboxNetwork>, Session)> {
    let network = state.sandbox.clone().ok_or_else(|| {
        Error::not_found("sandbox_disabled", "the sandbox is disabled (sandbox.enabled = false)")
    })?;
    let id = parse_id(raw_id)?;
    let session =
        state.store.sessions.get(id.as_str()).await?.ok_or_else(|| session_not_found(id.as_str()))?;
    if session.engine != "sandbox" {
        return Err(Error::conflict(
            "not_a_sandbox_session",
            format!("session {id} runs on the {} engine", session.engine),
        ));
    }
    Ok((network, session))
}

/// Play the phone: scan the session's QR code, or type its pairing code.
#[utoipa::path(post, path = "/sandbox/sessions/{id}/link", tag = "sandbox", request_body = LinkRequest,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 200, description = "Linked; the session is connected", body = SessionView),
        (status = 404, description = "No such session, or the sandbox is disabled", body = ErrorResponse),
        (status = 409, description = "The session is not waiting to be linked, or not a sandbox session", body = ErrorResponse,
            example = json!({"error": {"code": "not_awaiting_link", "message": "the session is not waiting to be linked", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
        (status = 403, description = "The number is linked to another sandbox session", body = ErrorResponse),
        (status = 422, description = "Wrong pairing code or phone", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<LinkRequest>,
) -> ApiResult<Json<SessionView>> {
    let (network, session) = sandbox_session(&state, &id).await?;
    network.link(&session.id, &body).await?;
    // The session task handles the link asynchronously; answer with its result.
    let deadline = tokio::time::Instant::now() + LINK_SETTLE;
    while tokio::time::Instant::now() < deadline {
        if state.sessions.handle(&session.id).is_some_and(|h| h.runtime().status == Status::Connected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let session = state.store.sessions.get(&session.id).await?.ok_or_else(|| session_not_found(&id))?;
    Ok(Json(SessionView::build(session, &state.sessions)))
}

/// Someone sends the session a message (text or media, optionally a reply, optionally in a group).
#[utoipa::path(post, path = "/sandbox/sessions/{id}/inbound", tag = "sandbox", request_body = Inbound,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 201, description = "Delivered to the session; the message as the session received it", body = Object,
            example = json!({"id": "3EB0A1B2C3D4E5F60718", "chat": "491709876543@s.whatsapp.net", "sender": "491709876543@s.whatsapp.net",
                "from_me": false, "push_name": "Bob", "timestamp": "2026-11-30T12:00:00Z", "body": {"type": "text", "text": "Hello!"},
                "quoted": null, "mentions": []})),
        (status = 404, description = "No such session or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Neither text nor media", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn inbound(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Inbound>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (network, session) = sandbox_session(&state, &id).await?;
    let message = network.inject(&session.id, &body).await?;
    let value = serde_json::to_value(message).map_err(|e| Error::Internal(e.into()))?;
    Ok((StatusCode::CREATED, Json(value)))
}

/// Make something go wrong: `disconnect`, `connect_failure`, `logged_out`,
/// `temporary_ban`, `stream_replaced`; `clear` lets connections succeed again.
#[utoipa::path(post, path = "/sandbox/sessions/{id}/fault", tag = "sandbox", request_body = Fault,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 202, description = "Applied; the session reacts asynchronously", body = Object,
            example = json!({"applied": "disconnect", "fail_connects": 3})),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The fault needs a connected session", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn fault(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Fault>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (network, session) = sandbox_session(&state, &id).await?;
    network.fault(&session.id, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"applied": body.kind, "fail_connects": body.fail_connects}))))
}

/// Someone calls the session: it rings there (a `call.received` event)
/// until the session rejects it or the call is ended here.
#[utoipa::path(post, path = "/sandbox/sessions/{id}/calls", tag = "sandbox", request_body = CallRequest,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 201, description = "Ringing at the session", body = SandboxCall),
        (status = 403, description = "The session blocked the caller", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse,
            example = json!({"error": {"code": "session_not_connected", "message": "the session is not connected", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
        (status = 422, description = "The caller is not on WhatsApp, or is the session's own number", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn ring(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<CallRequest>,
) -> ApiResult<(StatusCode, Json<SandboxCall>)> {
    let (network, session) = sandbox_session(&state, &id).await?;
    Ok((StatusCode::CREATED, Json(network.ring(&session.id, &body).await?)))
}

/// A call rung through the sandbox, as its caller sees it (`ringing`,
/// `rejected`, `missed`, `answered`).
#[utoipa::path(get, path = "/sandbox/sessions/{id}/calls/{call_id}", tag = "sandbox",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("call_id" = String, Path, description = "Call id", example = "5A1C0FFEE0DDF00D5A1C0FFEE0DDF00D")),
    responses(
        (status = 200, description = "The call", body = SandboxCall),
        (status = 404, description = "No such session or call", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn call(
    State(state): State<AppState>,
    Path((id, call_id)): Path<(String, String)>,
) -> ApiResult<Json<SandboxCall>> {
    let (network, session) = sandbox_session(&state, &id).await?;
    Ok(Json(network.call(&session.id, &call_id)?))
}

/// The caller hangs up (`hang_up`: the session sees a missed call) or the
/// account's phone answers (`answer_on_phone`: answered elsewhere).
#[utoipa::path(post, path = "/sandbox/sessions/{id}/calls/{call_id}/end", tag = "sandbox", request_body = EndCall,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("call_id" = String, Path, description = "Call id", example = "5A1C0FFEE0DDF00D5A1C0FFEE0DDF00D")),
    responses(
        (status = 200, description = "The call, ended", body = SandboxCall),
        (status = 404, description = "No such session or call", body = ErrorResponse),
        (status = 409, description = "The call is not ringing any more", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn end_call(
    State(state): State<AppState>,
    Path((id, call_id)): Path<(String, String)>,
    Json(body): Json<EndCall>,
) -> ApiResult<Json<SandboxCall>> {
    let (network, session) = sandbox_session(&state, &id).await?;
    Ok(Json(network.end_call(&session.id, &call_id, body.how).await?))
}

/// Someone in the poll's chat votes: the session receives the vote (a
/// `message.poll_vote` event; `GET …/messages/{pollId}/poll` counts it). The
/// vote is the voter's whole choice; an empty one takes it back.
#[utoipa::path(post, path = "/sandbox/sessions/{id}/polls/{poll_id}/votes", tag = "sandbox", request_body = VoteRequest,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("poll_id" = String, Path, description = "Gateway or WhatsApp id of a poll the session sent or received")),
    responses(
        (status = 201, description = "Delivered to the session", body = Object,
            example = json!({"id": "3EB0A1B2C3D4E5F60718", "poll": "3EB0C0FFEE0123456789AB", "chat": "491709876543@s.whatsapp.net",
                "from": "491709876543@s.whatsapp.net", "options": ["Pizza"], "timestamp": "2026-12-07T12:00:00Z"})),
        (status = 403, description = "The voter is not in the poll's chat, or is blocked", body = ErrorResponse),
        (status = 404, description = "No such session, message or poll", body = ErrorResponse),
        (status = 409, description = "The session is not connected, or the poll has not been sent yet", body = ErrorResponse),
        (status = 422, description = "An option the poll does not have, twice, or more than it allows", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn vote(
    State(state): State<AppState>,
    Path((id, poll_id)): Path<(String, String)>,
    Json(body): Json<VoteRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (network, session) = sandbox_session(&state, &id).await?;
    let log = super::messages::find(&state, &session.id, &poll_id).await?;
    // An outgoing message has its WhatsApp id before it leaves; nobody has seen it yet.
    let wa_id =
        log.wa_message_id.filter(|_| log.direction == "incoming" || log.sent_at.is_some()).ok_or_else(
            || Error::conflict("poll_not_sent", format!("poll {} has not been sent yet", log.message_id)),
        )?;
    let vote = network.vote(&session.id, &MessageId(wa_id.clone()), &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": vote.id, "poll": wa_id, "chat": vote.chat, "from": vote.sender,
            "options": body.options, "timestamp": vote.timestamp})),
    ))
}

/// The account's phone archives, pins or mutes a chat: the session records
/// it and announces `chat.updated`, as when WhatsApp syncs the change.
#[utoipa::path(post, path = "/sandbox/sessions/{id}/chats/{chat}", tag = "sandbox", request_body = super::chat_settings::ChatUpdate,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("chat" = String, Path, description = "Phone number, person's JID or group JID", example = "491701234567")),
    responses(
        (status = 202, description = "Sent to the session", body = Object, example = json!({"chat": "491701234567@s.whatsapp.net"})),
        (status = 404, description = "No such session or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid chat or change", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn phone_changes_chat(
    State(state): State<AppState>,
    Path((id, chat)): Path<(String, String)>,
    Json(body): Json<super::chat_settings::ChatUpdate>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (network, session) = sandbox_session(&state, &id).await?;
    let chat = super::chats::chat_jid(&chat)?;
    let change = body.change(chrono::Utc::now())?;
    network.phone_changes_chat(&session.id, &chat, change).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"chat": chat}))))
}

/// The account's phone saves someone in its address book (or renames
/// them): the session records the name and announces `contact.updated`, as
/// when WhatsApp syncs the change.
#[utoipa::path(post, path = "/sandbox/sessions/{id}/contacts/{contact}", tag = "sandbox", request_body = super::contacts::SaveRequest,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("contact" = String, Path, description = "Phone number or person's JID", example = "491701234567")),
    responses(
        (status = 202, description = "Sent to the session", body = Object, example = json!({"contact": "491701234567@s.whatsapp.net"})),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid contact or name, or not on WhatsApp", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn phone_saves_contact(
    State(state): State<AppState>,
    Path((id, contact)): Path<(String, String)>,
    Json(body): Json<super::contacts::SaveRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (network, session) = sandbox_session(&state, &id).await?;
    let contact = super::contacts::contact_jid(&contact)?;
    let (name, first_name) = body.validate()?;
    network.phone_saves_contact(&session.id, &contact, &name, first_name.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"contact": contact}))))
}

/// How the phone changes a label.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "VIP", "color": 2}))]
pub struct PhoneLabel {
    pub name: Option<String>,
    pub color: Option<i32>,
    /// Deletes the label.
    #[serde(default)]
    pub deleted: bool,
}

/// The account's phone creates, changes or deletes a label: the session
/// records it and announces `label.updated`, as when WhatsApp syncs it.
#[utoipa::path(post, path = "/sandbox/sessions/{id}/labels/{label}", tag = "sandbox", request_body = PhoneLabel,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("label" = String, Path, description = "Label id", example = "3")),
    responses(
        (status = 202, description = "Sent to the session", body = Object, example = json!({"label": "3"})),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid name or colour", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn phone_edits_label(
    State(state): State<AppState>,
    Path((id, label)): Path<(String, String)>,
    Json(body): Json<PhoneLabel>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (network, session) = sandbox_session(&state, &id).await?;
    let change = if body.deleted {
        LabelChange::Edited { label: label.clone(), name: None, color: None, deleted: true }
    } else {
        let (name, color) = super::labels::LabelRequest { name: body.name, color: body.color }.checked()?;
        LabelChange::Edited { label: label.clone(), name, color, deleted: false }
    };
    network.phone_changes_label(&session.id, change).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"label": label}))))
}

/// `POST /sandbox/sessions/{id}/chats/{chat}/labels/{label}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"labeled": true}))]
pub struct PhoneChatLabel {
    pub labeled: bool,
}

/// The account's phone puts a label on a chat or takes it off: recorded
/// and announced as `chat.labels`, as when WhatsApp syncs it.
#[utoipa::path(post, path = "/sandbox/sessions/{id}/chats/{chat}/labels/{label}", tag = "sandbox", request_body = PhoneChatLabel,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("chat" = String, Path, description = "Phone number, person's JID or group JID", example = "491701234567"),
        ("label" = String, Path, description = "Label id", example = "3")),
    responses(
        (status = 202, description = "Sent to the session", body = Object, example = json!({"chat": "491701234567@s.whatsapp.net", "label": "3"})),
        (status = 404, description = "No such session or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid chat", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn phone_labels_chat(
    State(state): State<AppState>,
    Path((id, chat, label)): Path<(String, String, String)>,
    Json(body): Json<PhoneChatLabel>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (network, session) = sandbox_session(&state, &id).await?;
    let chat = super::chats::chat_jid(&chat)?;
    let change = LabelChange::Chat { label: label.clone(), chat: chat.clone(), labeled: body.labeled };
    network.phone_changes_label(&session.id, change).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"chat": chat, "label": label}))))
}
