//! `/sessions`: create, list, get and delete sessions. Lifecycle operations
//! (start, stop, QR, pairing code, audit) are in `session_control.rs`.

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
use crate::sessions::{Runtime, SessionError, SessionManager};
use crate::state::AppState;
use crate::store::{NewSession, NewWebhook, Page, Session, StoreError};

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

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "sales", "engine": "sandbox", "metadata": {"team": "sales"},
    "webhooks": [{"url": "https://example.com/hooks/whatsapp", "events": ["message", "session.status"]}]}))]
pub struct CreateSession {
    /// 1–64 characters of `A-Z a-z 0-9 _ -`; generated when absent.
    #[schema(value_type = Option<String>, example = "sales")]
    pub id: Option<SessionId>,
    #[serde(default)]
    pub engine: Engine,
    /// Free-form JSON object kept with the session.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Option<Value>,
    /// Start connecting right away (default true).
    #[serde(default = "yes")]
    pub start: bool,
    /// Webhooks to register for this session's events (at most 10).
    #[serde(default)]
    pub webhooks: Vec<WebhookSpec>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// http(s) URL receiving signed POSTs.
    #[schema(example = "https://example.com/hooks/whatsapp")]
    pub url: String,
    /// Event names, or `*` for all (the default).
    pub events: Option<Vec<String>>,
    /// Standard Webhooks signing secret (`whsec_…`); generated when absent.
    pub secret: Option<String>,
    /// Extra headers sent with every delivery.
    #[schema(value_type = Option<Object>)]
    pub headers: Option<Value>,
}

/// A webhook registered with the session; the secret is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreated {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "sales", "engine": "sandbox", "status": "connected", "phone": "491701234567", "push_name": "Alice",
    "metadata": {}, "desired_state": "running", "last_error": null, "last_seen_at": "2026-11-30T12:00:00Z",
    "created_at": "2026-11-30T12:00:00Z", "updated_at": "2026-11-30T12:00:00Z",
    "runtime": {"status": "connected", "reconnect_attempts": 0, "reconnects": 1, "breaker": "closed", "next_retry_at": null,
        "connected_since": "2026-11-30T12:00:00Z", "last_activity_at": "2026-11-30T12:00:05Z", "last_error": null}}))]
pub struct SessionView {
    pub id: String,
    pub engine: String,
    /// See the status vocabulary in the README (created, starting, qr, pairing,
    /// connected, reconnecting, stopped, logged_out, banned, replaced, failed).
    pub status: String,
    pub phone: Option<String>,
    pub push_name: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// `running`: the gateway keeps it connected and restores it at startup.
    pub desired_state: String,
    pub last_error: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Live connection state, while the session has run in this process.
    pub runtime: Option<Runtime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<Vec<WebhookCreated>>,
    /// Messages waiting to be sent (in `GET /sessions/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_messages: Option<i64>,
}

impl SessionView {
    pub(crate) fn build(s: Session, manager: &SessionManager) -> Self {
        let runtime = manager.handle(&s.id).map(|h| h.runtime());
        Self::with_runtime(s, runtime)
    }

    /// `runtime` read before `s`: the record is then at least as new as the
    /// live status (transitions write the record first).
    pub(crate) fn with_runtime(s: Session, runtime: Option<Runtime>) -> Self {
        Self {
            status: runtime.as_ref().map_or(s.status, |r| r.status.as_str().to_owned()),
            last_error: match &runtime {
                Some(r) => r.last_error.clone(),
                None => s.last_error,
            },
            id: s.id,
            engine: s.engine,
            phone: s.phone,
            push_name: s.push_name,
            metadata: s.metadata.0,
            desired_state: s.desired_state,
            last_seen_at: s.last_seen_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
            runtime,
            webhooks: None,
            queued_messages: None,
        }
    }
}

pub(crate) fn parse_id(raw: &str) -> ApiResult<SessionId> {
    SessionId::parse(raw)
        .map_err(|e| Error::validation("invalid session id", json!({ "id": [format!("session id {e}")] })))
}

pub(crate) fn session_not_found(id: &str) -> Error {
    Error::not_found("session_not_found", format!("session {id} does not exist"))
}

/// Create a session and (unless `start` is false) start linking it.
#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = CreateSession,
    responses(
        (status = 201, description = "Created", body = SessionView),
        (status = 409, description = "A session with this id exists", body = ErrorResponse,
            example = json!({"error": {"code": "session_exists", "message": "session sales already exists", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
        (status = 422, description = "Invalid body, or an engine this gateway does not run", body = ErrorResponse,
            example = json!({"error": {"code": "engine_unavailable", "message": "the whatsapp engine is not available in this gateway (whatsapp.enabled = false)", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
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
    let engine = body.engine.as_str();
    if !state.sessions.has_engine(engine) {
        return Err(SessionError::EngineUnavailable(engine.to_owned()).into());
    }
    let hooks = validate_webhooks(&state, body.webhooks)?;
    let id = match body.id {
        Some(id) => id.as_str().to_owned(),
        None => format!("ses_{}", uuid::Uuid::now_v7().simple()),
    };
    let new = NewSession { id: id.clone(), engine: engine.to_owned(), metadata };
    let session = match state.store.sessions.create(&new).await {
        Ok(session) => session,
        Err(StoreError::Conflict { .. }) => {
            return Err(Error::conflict("session_exists", format!("session {id} already exists")));
        }
        Err(e) => return Err(e.into()),
    };
    let mut created = Vec::with_capacity(hooks.len());
    for hook in hooks {
        let new = NewWebhook { session_id: id.clone(), ..hook };
        state.store.webhooks.create(&new).await?;
        created.push(WebhookCreated { id: new.id, url: new.url, events: new.events, secret: new.secret });
    }
    let session = match body.start {
        true => {
            state.sessions.start(&id).await?;
            state.store.sessions.get(&id).await?.unwrap_or(session)
        }
        false => session,
    };
    let mut view = SessionView::build(session, &state.sessions);
    view.webhooks = Some(created);
    Ok((StatusCode::CREATED, Json(view)))
}

const MAX_WEBHOOKS: usize = 10;

/// Checks webhook specs up front so a session is never half created.
fn validate_webhooks(state: &AppState, specs: Vec<WebhookSpec>) -> ApiResult<Vec<NewWebhook>> {
    if specs.len() > MAX_WEBHOOKS {
        return Err(Error::validation(
            "too many webhooks",
            json!({ "webhooks": [format!("at most {MAX_WEBHOOKS}")] }),
        ));
    }
    specs
        .into_iter()
        .enumerate()
        .map(|(i, spec)| super::webhooks::validate(state, &format!("webhooks[{i}]"), spec))
        .collect()
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
    let views: Vec<SessionView> =
        sessions.into_iter().map(|s| SessionView::build(s, &state.sessions)).collect();
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
    let runtime = state.sessions.handle(id.as_str()).map(|h| h.runtime());
    match state.store.sessions.get(id.as_str()).await? {
        Some(session) => {
            let mut view = SessionView::with_runtime(session, runtime);
            view.queued_messages = Some(state.store.message_logs.count_queued(id.as_str()).await?);
            Ok(Json(view))
        }
        None => Err(session_not_found(id.as_str())),
    }
}

/// Log out (when linked), erase the credentials, and delete the session
/// with its message log and webhooks.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such session", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    state.contact_checks.forget(id.as_str());
    if state.sessions.delete(id.as_str()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(session_not_found(id.as_str()))
    }
}
