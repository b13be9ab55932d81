//! `/sessions`: the session records. Linking, status and reconnection are
//! added by the sessions subsystem on top of these records.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::pagination::{PageParams, Paginated};
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path, Query};
use crate::ids::SessionId;
use crate::state::AppState;
use crate::store::{NewSession, Page, Session, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions", get(list).post(create))
        .route("/sessions/{id}", get(get_one).delete(delete))
}

/// The engines a session can run on.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// The simulated WhatsApp network inside the gateway.
    #[default]
    Sandbox,
    /// Real WhatsApp, through whatsapp-rust.
    Whatsapp,
}

impl Engine {
    fn as_str(self) -> &'static str {
        match self {
            Engine::Sandbox => "sandbox",
            Engine::Whatsapp => "whatsapp",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "sales", "engine": "sandbox", "metadata": {"team": "sales"}}))]
pub struct CreateSession {
    /// 1–64 characters of `A-Z a-z 0-9 _ -`.
    #[schema(value_type = String, example = "sales")]
    pub id: SessionId,
    #[serde(default)]
    pub engine: Engine,
    /// Free-form JSON object kept with the session.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "sales", "engine": "sandbox", "status": "created", "phone": null, "push_name": null,
    "metadata": {}, "last_seen_at": null, "created_at": "2026-11-30T12:00:00Z", "updated_at": "2026-11-30T12:00:00Z"}))]
pub struct SessionView {
    pub id: String,
    pub engine: String,
    pub status: String,
    pub phone: Option<String>,
    pub push_name: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        Self {
            id: s.id,
            engine: s.engine,
            status: s.status,
            phone: s.phone,
            push_name: s.push_name,
            metadata: s.metadata.0,
            last_seen_at: s.last_seen_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

fn parse_id(raw: &str) -> ApiResult<SessionId> {
    SessionId::parse(raw)
        .map_err(|e| Error::validation("invalid session id", json!({ "id": [format!("session id {e}")] })))
}

fn session_not_found(id: &str) -> Error {
    Error::not_found("session_not_found", format!("session {id} does not exist"))
}

/// Create a session record.
#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = CreateSession,
    responses(
        (status = 201, description = "Created", body = SessionView),
        (status = 409, description = "A session with this id exists", body = ErrorResponse,
            example = json!({"error": {"code": "session_exists", "message": "session sales already exists", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
        (status = 422, description = "Invalid body", body = ErrorResponse,
            example = json!({"error": {"code": "validation_failed", "message": "metadata must be a JSON object", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<CreateSession>,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    let metadata = body.metadata.unwrap_or_else(|| json!({}));
    if !metadata.is_object() {
        return Err(Error::validation(
            "metadata must be a JSON object",
            json!({ "metadata": ["must be a JSON object"] }),
        ));
    }
    let new =
        NewSession { id: body.id.as_str().to_owned(), engine: body.engine.as_str().to_owned(), metadata };
    match state.store.sessions.create(&new).await {
        Ok(session) => Ok((StatusCode::CREATED, Json(session.into()))),
        Err(StoreError::Conflict { .. }) => {
            Err(Error::conflict("session_exists", format!("session {} already exists", new.id)))
        }
        Err(e) => Err(e.into()),
    }
}

/// List sessions, ordered by id.
#[utoipa::path(get, path = "/sessions", tag = "sessions", params(PageParams),
    responses((status = 200, description = "One page of sessions", body = Paginated<SessionView>)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Paginated<SessionView>>> {
    let limit = params.limit();
    let page = Page { after: params.cursor.clone(), limit };
    let sessions = state.store.sessions.list(&page).await?;
    let views: Vec<SessionView> = sessions.into_iter().map(Into::into).collect();
    Ok(Json(Paginated::new(views, limit, |s| s.id.clone())))
}

/// Get one session.
#[utoipa::path(get, path = "/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 200, description = "The session", body = SessionView),
        (status = 404, description = "No such session", body = ErrorResponse,
            example = json!({"error": {"code": "session_not_found", "message": "session sales does not exist", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_one(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<SessionView>> {
    let id = parse_id(&id)?;
    match state.store.sessions.get(id.as_str()).await? {
        Some(session) => Ok(Json(session.into())),
        None => Err(session_not_found(id.as_str())),
    }
}

/// Delete a session with its message log and webhooks.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such session", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    if state.store.sessions.delete(id.as_str()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(session_not_found(id.as_str()))
    }
}
