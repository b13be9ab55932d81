//! `/sessions/{id}/calls…`: incoming calls. The gateway cannot take a call
//! (no media); it lists the ones ringing and rejects them on request, or
//! at once by policy (`sessions.reject_calls`, session metadata `calls`).
//! Every call is also a `call.received` event, and its end a `call.ended`
//! or `call.rejected` event.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::groups::session;
use super::messages::not_connected;
use crate::error::{ApiResult, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::state::AppState;
use crate::wa::CallOffer;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/calls", get(list))
        .route("/sessions/{id}/calls/{call_id}/reject", post(reject))
}

/// A call ringing on the session.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "5A1C0FFEE0DDF00D5A1C0FFEE0DDF00D", "from": "491709876543@s.whatsapp.net",
    "video": false, "group": null, "timestamp": "2026-12-07T09:30:00Z"}))]
pub struct CallView {
    pub id: String,
    /// Who is calling.
    pub from: String,
    pub video: bool,
    /// The group, for a group call.
    pub group: Option<String>,
    pub timestamp: DateTime<Utc>,
}

impl From<CallOffer> for CallView {
    fn from(c: CallOffer) -> Self {
        Self {
            id: c.id,
            from: c.from.to_string(),
            video: c.video,
            group: c.group.map(|g| g.to_string()),
            timestamp: c.timestamp,
        }
    }
}

/// Calls ringing now, oldest first (a call rings for at most a few minutes).
#[utoipa::path(get, path = "/sessions/{id}/calls", tag = "calls",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 200, description = "Ringing calls", body = Vec<CallView>),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not running", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vec<CallView>>> {
    let session = session(&state, &id).await?;
    let calls = state.sessions.ringing_calls(&session).map_err(not_connected(&session))?;
    Ok(Json(calls.into_iter().map(CallView::from).collect()))
}

/// Decline a ringing call: the caller sees it declined (`call.rejected`
/// follows, with `automatic: false`).
#[utoipa::path(post, path = "/sessions/{id}/calls/{call_id}/reject", tag = "calls",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("call_id" = String, Path, description = "Call id", example = "5A1C0FFEE0DDF00D5A1C0FFEE0DDF00D")),
    responses((status = 200, description = "Rejected; the call", body = CallView),
        (status = 404, description = "No such session, or the call is not ringing", body = ErrorResponse,
            example = json!({"error": {"code": "call_not_found", "message": "call not found", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn reject(
    State(state): State<AppState>,
    Path((id, call_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<CallView>)> {
    let session = session(&state, &id).await?;
    let call = state.sessions.reject_call(&session, &call_id).await.map_err(not_connected(&session))?;
    Ok((StatusCode::OK, Json(call.into())))
}
