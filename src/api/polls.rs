//! `GET /sessions/{id}/messages/{messageId}/poll`: a poll's standing. Every
//! vote is also a `message.poll_vote` event (and a log row of type
//! `poll_vote`); this is the tally of each voter's current choice.
//! `POST …/{messageId}/vote`: the session votes, as a message like any other
//! (queued, durable, idempotent), counted in the tally once sent.

use std::collections::HashSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::messages::{MessageView, Origin, Reserved, find, idempotency_key, json_body, queue_one, reserve};
use super::sessions::parse_id;
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::http::request_id::RequestId;
use crate::messages::job::{Draft, TargetRef};
use crate::messages::polls::{PollResults, results};
use crate::messages::request::Validated;
use crate::state::AppState;
use crate::store::{Direction, MessageLog, Poll};
use crate::wa::{Jid, PhoneNumber};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/messages/{message_id}/poll", get(poll))
        .route("/sessions/{id}/messages/{message_id}/vote", post(vote))
}

/// A poll sent or received by the session, with each option's votes.
#[utoipa::path(get, path = "/sessions/{id}/messages/{message_id}/poll", tag = "messages",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("message_id" = String, Path, description = "Gateway or WhatsApp id of the poll")),
    responses(
        (status = 200, description = "The poll and its votes", body = PollResults),
        (status = 404, description = "No such session or message, or a poll whose options were not kept", body = ErrorResponse),
        (status = 409, description = "The message is not a poll, or the poll has not been sent yet", body = ErrorResponse,
            example = json!({"error": {"code": "poll_not_sent", "message": "poll 0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f has not been sent yet", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn poll(
    State(state): State<AppState>,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<PollResults>> {
    let id = parse_id(&id)?;
    let log = find(&state, id.as_str(), &message_id).await?;
    if let Some(r) = results(&state.store, id.as_str(), &log.message_id).await? {
        return Ok(Json(r));
    }
    Err(no_poll(&log))
}

/// Why `log` has no poll kept: not a poll, not sent yet, or its options
/// were never kept.
fn no_poll(log: &MessageLog) -> Error {
    if log.message_type != "poll" {
        return Error::conflict(
            "not_a_poll",
            format!("message {} is a {} message, not a poll", log.message_id, log.message_type),
        );
    }
    if log.direction == "outgoing" && log.sent_at.is_none() {
        return Error::conflict(
            "poll_not_sent",
            format!("poll {} has not been sent yet (status {})", log.message_id, log.status),
        );
    }
    Error::not_found("poll_not_found", format!("the options of poll {} were not kept", log.message_id))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"options": ["Pizza"]}))]
pub struct VoteRequest {
    /// The chosen options' text, each once, at most the poll's `selectable`;
    /// empty takes the session's vote back.
    pub options: Vec<String>,
}

/// 422 unless `picked` is a choice WhatsApp's clients could make on `poll`.
fn check_ballot(poll: &Poll, picked: &[String]) -> ApiResult<()> {
    let mut problems = serde_json::Map::new();
    let mut seen = HashSet::new();
    for (i, option) in picked.iter().enumerate() {
        if !poll.poll.options.contains(option) {
            problems.insert(format!("options[{i}]"), json!([format!("the poll has no option {option:?}")]));
        } else if !seen.insert(option) {
            problems.insert(format!("options[{i}]"), json!(["chosen twice"]));
        }
    }
    if picked.len() > poll.poll.selectable as usize {
        problems.insert("options".into(), json!([format!("at most {} option(s)", poll.poll.selectable)]));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::validation("invalid vote", serde_json::Value::Object(problems)))
}

/// Vote on a poll the session sent or received (or change or take back its
/// vote). The vote is a message: answered 202 once durable, sent in the
/// poll's chat, and counted in the poll's tally once sent.
#[utoipa::path(post, path = "/sessions/{id}/messages/{message_id}/vote", tag = "messages", request_body = VoteRequest,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("message_id" = String, Path, description = "Gateway or WhatsApp id of the poll"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key and body returns the first answer instead of voting again")),
    responses(
        (status = 202, description = "The vote, queued", body = MessageView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = ErrorResponse),
        (status = 404, description = "No such session or message, or a poll whose options were not kept", body = ErrorResponse),
        (status = 409, description = "The message is not a poll, or the poll has not been sent yet", body = ErrorResponse),
        (status = 422, description = "An option the poll lacks, one chosen twice, more than the poll allows, or an Idempotency-Key reused with another body", body = ErrorResponse,
            example = json!({"error": {"code": "validation_failed", "message": "invalid vote", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f",
                "details": {"options[0]": ["the poll has no option \"Burgers\""]}}})),
        (status = 503, description = "The queue is unavailable; nothing was accepted", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn vote(
    State(state): State<AppState>,
    Path((id, message_id)): Path<(String, String)>,
    request_id: Option<axum::Extension<RequestId>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    let id = parse_id(&id)?;
    let session = id.as_str();
    let key = idempotency_key(&headers)?;
    let request: VoteRequest = json_body(&headers, &body)?;
    let log = find(&state, session, &message_id).await?;
    let poll = state.store.polls.get(session, &log.message_id).await?.ok_or_else(|| no_poll(&log))?;
    check_ballot(&poll, &request.options)?;
    let chat = Jid::parse(&poll.poll.chat_jid)
        .map_err(|e| Error::Internal(anyhow::anyhow!("poll {} has chat {e}", log.message_id)))?;
    // The account's own address, to count its vote; unknown before linking.
    let voter = state
        .store
        .sessions
        .get(session)
        .await?
        .and_then(|s| s.phone)
        .and_then(|p| PhoneNumber::parse(&p).ok())
        .map(|p| p.to_jid().to_string());
    // The key covers the poll too: the same key on another poll is another request.
    let keyed = serde_json::to_vec(&json!({"poll": log.message_id, "options": request.options}))
        .map_err(|e| Error::Internal(e.into()))?;
    let message_id = match reserve(&state, session, key.as_deref(), "vote:", &keyed).await? {
        Reserved::Fresh(id) => id,
        Reserved::Replay(log) => return Ok((StatusCode::ACCEPTED, Json((*log).into()))),
    };
    let target = TargetRef {
        id: poll.poll.wa_message_id.clone(),
        from_me: log.direction == Direction::Outgoing.as_str(),
        sender: log.sender_jid.clone(),
    };
    let draft = Draft::PollVote { target, poll: log.message_id, voter, options: request.options };
    let valid = Validated { chat, draft, reply_to: None, mentions: Vec::new(), status: None };
    let origin = Origin { request_id: request_id.map(|r| r.0.0.to_string()), ..Default::default() };
    Ok((StatusCode::ACCEPTED, Json(queue_one(&state, session, valid, message_id, origin).await?)))
}
