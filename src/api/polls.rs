//! `GET /sessions/{id}/messages/{messageId}/poll`: a poll's standing. Every
//! vote is also a `message.poll_vote` event (and a log row of type
//! `poll_vote`); this is the tally of each voter's current choice.

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::messages::find;
use super::sessions::parse_id;
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::messages::polls::{PollResults, results};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/sessions/{id}/messages/{message_id}/poll", get(poll))
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
    if log.message_type != "poll" {
        return Err(Error::conflict(
            "not_a_poll",
            format!("message {} is a {} message, not a poll", log.message_id, log.message_type),
        ));
    }
    if log.direction == "outgoing" && log.sent_at.is_none() {
        return Err(Error::conflict(
            "poll_not_sent",
            format!("poll {} has not been sent yet (status {})", log.message_id, log.status),
        ));
    }
    Err(Error::not_found("poll_not_found", format!("the options of poll {} were not kept", log.message_id)))
}
