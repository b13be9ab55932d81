//! `/sessions/{id}/…`: the lifecycle of one session — start, stop, logout,
//! the QR code to scan, a pairing code, and the audit of its transitions.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::pagination::{PageParams, Paginated};
use super::sessions::{SessionView, parse_id, session_not_found};
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path, Query};
use crate::sessions::{SessionError, qr};
use crate::state::AppState;
use crate::store::Page;
use crate::wa::PhoneNumber;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/start", post(start))
        .route("/sessions/{id}/stop", post(stop))
        .route("/sessions/{id}/logout", post(logout))
        .route("/sessions/{id}/qr", get(qr_code))
        .route("/sessions/{id}/pair-code", post(pair_code))
        .route("/sessions/{id}/events", get(events))
}

async fn view(state: &AppState, id: &str) -> ApiResult<Json<SessionView>> {
    let runtime = state.sessions.handle(id).map(|h| h.runtime());
    let session = state.store.sessions.get(id).await?.ok_or_else(|| session_not_found(id))?;
    Ok(Json(SessionView::with_runtime(session, runtime)))
}

/// Start (or resume) connecting. Idempotent: a running session is left as it is.
#[utoipa::path(post, path = "/sessions/{id}/start", tag = "sessions",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 202, description = "Starting; follow `status` or the session.status events", body = SessionView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 422, description = "The session's engine is not available", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    let id = parse_id(&id)?;
    state.sessions.start(id.as_str()).await?;
    Ok((StatusCode::ACCEPTED, view(&state, id.as_str()).await?))
}

/// Disconnect and keep the credentials; the session is not restored at startup.
#[utoipa::path(post, path = "/sessions/{id}/stop", tag = "sessions",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 200, description = "Stopped", body = SessionView),
        (status = 404, description = "No such session", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn stop(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<SessionView>> {
    let id = parse_id(&id)?;
    state.sessions.stop(id.as_str()).await?;
    view(&state, id.as_str()).await
}

/// Unlink the device from the account and erase the credentials. The
/// session stays; starting it again shows a new QR code.
#[utoipa::path(post, path = "/sessions/{id}/logout", tag = "sessions",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 200, description = "Logged out", body = SessionView),
        (status = 404, description = "No such session", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn logout(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<SessionView>> {
    let id = parse_id(&id)?;
    state.sessions.logout(id.as_str()).await?;
    // Another account may be linked next: its answers differ.
    state.contact_checks.forget(id.as_str());
    view(&state, id.as_str()).await
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QrFormat {
    #[default]
    Png,
    Svg,
    Text,
    Json,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QrParams {
    /// `png` (default), `svg`, `text` (terminal half blocks) or `json`.
    #[param(value_type = Option<String>, example = "png")]
    pub format: Option<QrFormat>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"qr": "2@AbC…,Zm9v…,aWRl…,YWR2…", "expires_at": "2026-11-30T12:00:20Z", "image": "data:image/png;base64,iVBORw0KGgo…"}))]
pub struct QrView {
    /// The raw payload, for rendering it yourself.
    pub qr: String,
    /// A newer code replaces this one then (a `session.qr` event announces it).
    pub expires_at: DateTime<Utc>,
    /// The PNG as a data URL.
    pub image: String,
}

/// The QR code to scan with WhatsApp › Linked devices, while the session waits for one.
#[utoipa::path(get, path = "/sessions/{id}/qr", tag = "sessions",
    params(("id" = String, Path, description = "Session id", example = "sales"), QrParams),
    responses(
        (status = 200, description = "The current QR code", content(
            (Vec<u8> = "image/png"), (String = "image/svg+xml"), (String = "text/plain"), (QrView = "application/json"))),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not waiting for a QR scan", body = ErrorResponse,
            example = json!({"error": {"code": "qr_not_available", "message": "session sales is connected, not waiting for a QR scan",
                "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f", "details": {"status": "connected"}}})),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn qr_code(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<QrParams>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let (payload, expires_at) = match state.sessions.qr(id.as_str()) {
        Ok(qr) => qr,
        Err(SessionError::WrongStatus { status, .. }) => return Err(qr_not_available(id.as_str(), status)),
        Err(SessionError::NotRunning(_)) => {
            let session =
                state.store.sessions.get(id.as_str()).await?.ok_or_else(|| session_not_found(id.as_str()))?;
            return Err(qr_not_available(id.as_str(), &session.status));
        }
        Err(e) => return Err(e.into()),
    };
    let render = |e: String| Error::Internal(anyhow::anyhow!("rendering the QR code: {e}"));
    let no_store = (header::CACHE_CONTROL, "no-store");
    Ok(match params.format.unwrap_or_default() {
        QrFormat::Png => {
            ([(header::CONTENT_TYPE, "image/png"), no_store], qr::png(&payload).map_err(render)?)
                .into_response()
        }
        QrFormat::Svg => {
            ([(header::CONTENT_TYPE, "image/svg+xml"), no_store], qr::svg(&payload).map_err(render)?)
                .into_response()
        }
        QrFormat::Text => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), no_store],
            qr::text(&payload).map_err(render)?,
        )
            .into_response(),
        QrFormat::Json => {
            let png = qr::png(&payload).map_err(render)?;
            let image =
                format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png));
            ([no_store], Json(QrView { qr: payload, expires_at, image })).into_response()
        }
    })
}

fn qr_not_available(id: &str, status: &str) -> Error {
    Error::conflict("qr_not_available", format!("session {id} is {status}, not waiting for a QR scan"))
        .with_details(json!({ "status": status }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "491701234567"}))]
pub struct PairCodeRequest {
    /// The number of the phone that will enter the code, with country code.
    #[schema(value_type = String, example = "491701234567")]
    pub phone: PhoneNumber,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"code": "ABCD-EFGH", "phone": "491701234567"}))]
pub struct PairCodeView {
    /// Type it on the phone: WhatsApp › Linked devices › Link with phone number.
    pub code: String,
    pub phone: String,
}

/// Link by phone number instead of QR: returns the code to type on the phone.
#[utoipa::path(post, path = "/sessions/{id}/pair-code", tag = "sessions", request_body = PairCodeRequest,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 200, description = "The pairing code", body = PairCodeView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not waiting to be linked", body = ErrorResponse,
            example = json!({"error": {"code": "not_awaiting_link", "message": "session sales is connected, not waiting to be linked",
                "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f", "details": {"status": "connected"}}})),
        (status = 422, description = "Invalid phone number", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn pair_code(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<PairCodeRequest>,
) -> ApiResult<Json<PairCodeView>> {
    let id = parse_id(&id)?;
    let not_awaiting = |status: &str| {
        Error::conflict("not_awaiting_link", format!("session {id} is {status}, not waiting to be linked"))
            .with_details(json!({ "status": status }))
    };
    match state.sessions.pair_code(id.as_str(), &body.phone).await {
        Ok(code) => Ok(Json(PairCodeView { code, phone: body.phone.to_string() })),
        Err(SessionError::WrongStatus { status, .. }) => Err(not_awaiting(status)),
        Err(SessionError::NotRunning(_)) => {
            let session =
                state.store.sessions.get(id.as_str()).await?.ok_or_else(|| session_not_found(id.as_str()))?;
            Err(not_awaiting(&session.status))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 42, "event_type": "session.status", "created_at": "2026-11-30T12:00:00Z",
    "details": {"status": "reconnecting", "previous": "connected", "reason": "connection_lost", "retry_in_ms": 0}}))]
pub struct SessionEventView {
    pub id: i64,
    /// `session.status`, `session.paired`, `session.pair_failed`, `session.restore_failed`.
    pub event_type: String,
    #[schema(value_type = Object)]
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

/// The session's lifecycle audit, newest first.
#[utoipa::path(get, path = "/sessions/{id}/events", tag = "sessions",
    params(("id" = String, Path, description = "Session id", example = "sales"), PageParams),
    responses(
        (status = 200, description = "One page of events", body = Paginated<SessionEventView>),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 422, description = "Bad cursor", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Paginated<SessionEventView>>> {
    let id = parse_id(&id)?;
    if state.store.sessions.get(id.as_str()).await?.is_none() {
        return Err(session_not_found(id.as_str()));
    }
    let after = match &params.cursor {
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            Error::validation(
                "invalid cursor",
                json!({ "cursor": ["must be the next_cursor of a previous page"] }),
            )
        })?),
        None => None,
    };
    let limit = params.limit();
    let rows = state.store.session_events.list(id.as_str(), &Page { after, limit }).await?;
    let views = rows
        .into_iter()
        .map(|e| SessionEventView {
            id: e.id,
            event_type: e.event_type,
            details: e.details.0,
            created_at: e.created_at,
        })
        .collect();
    Ok(Json(Paginated::new(views, limit, |e| e.id.to_string())))
}
