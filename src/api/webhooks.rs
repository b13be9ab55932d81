//! `/sessions/{id}/webhooks…`: subscriptions, their deliveries, retries and
//! replays.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::pagination::Paginated;
use super::sessions::{WebhookSpec, parse_id, session_not_found};
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::store::{
    DeliveryFilter, NewWebhook, Page, Webhook, WebhookAttempt, WebhookDelivery, WebhookPatch,
};
use crate::webhooks::dispatch::Dispatcher;
use crate::webhooks::signing::Secret;
use crate::webhooks::{CATALOGUE, guard};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/webhooks", get(list).post(create))
        .route("/sessions/{id}/webhooks/deliveries", get(deliveries))
        .route("/sessions/{id}/webhooks/deliveries/replay", post(replay))
        .route("/sessions/{id}/webhooks/deliveries/{delivery_id}", get(delivery))
        .route("/sessions/{id}/webhooks/deliveries/{delivery_id}/retry", post(retry))
        .route("/sessions/{id}/webhooks/{webhook_id}", get(get_one).patch(update).delete(remove))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "wh_0192f0c46b557d1e9b8e3f1a2c4d5e6f", "url": "https://example.com/hooks/whatsapp",
    "events": ["message.*", "session.status"], "headers": {}, "enabled": true,
    "created_at": "2026-11-30T12:00:00Z", "updated_at": "2026-11-30T12:00:00Z"}))]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    #[schema(value_type = Object)]
    pub headers: Value,
    /// False after a `410 Gone` from the receiver, or when disabled by PATCH.
    pub enabled: bool,
    /// Only in the answer to POST: the signing secret(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id,
            url: w.url,
            events: w.events.0,
            headers: w.headers.0,
            enabled: w.enabled,
            secret: None,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// Validates a subscription (URL guard, events, headers, secret).
pub(crate) fn validate(state: &AppState, field: &str, spec: WebhookSpec) -> ApiResult<NewWebhook> {
    let bad = |msg: String| Error::validation(format!("{field}: {msg}"), json!({ field: [msg] }));
    guard::check(&state.webhook_client, &state.config.webhooks, &spec.url).map_err(|(code, msg)| {
        Error::new(StatusCode::UNPROCESSABLE_ENTITY, code, format!("{field}.url: {msg}"))
    })?;
    let events = spec.events.unwrap_or_else(|| vec!["*".to_owned()]);
    let known = |e: &String| {
        e == "*"
            || CATALOGUE.contains(&e.as_str())
            || e.strip_suffix(".*").is_some_and(|p| CATALOGUE.iter().any(|c| c.starts_with(&format!("{p}."))))
    };
    if events.is_empty() || !events.iter().all(known) {
        return Err(bad(format!(
            "events must name events of the catalogue ({}), `*` or `family.*`",
            CATALOGUE.join(", ")
        )));
    }
    let headers = spec.headers.unwrap_or_else(|| json!({}));
    if !headers.as_object().is_some_and(|h| h.len() <= 20 && h.values().all(Value::is_string)) {
        return Err(bad("headers must be an object of at most 20 strings".into()));
    }
    let secret = match spec.secret {
        Some(s) => {
            Secret::parse(&s).map_err(|e| bad(format!("secret {e}")))?;
            s
        }
        None => Secret::generate(),
    };
    let id = format!("wh_{}", uuid::Uuid::now_v7().simple());
    Ok(NewWebhook { id, session_id: String::new(), url: spec.url, events, secret, headers })
}

async fn session(state: &AppState, raw: &str) -> ApiResult<String> {
    let id = parse_id(raw)?;
    if state.store.sessions.get(id.as_str()).await?.is_none() {
        return Err(session_not_found(id.as_str()));
    }
    Ok(id.as_str().to_owned())
}

fn webhook_not_found(id: &str) -> Error {
    Error::not_found("webhook_not_found", format!("webhook {id} does not exist"))
}

/// Subscribe a URL to this session's events.
#[utoipa::path(post, path = "/sessions/{id}/webhooks", tag = "webhooks", request_body = WebhookSpec,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 201, description = "Subscribed; the secret is shown only here", body = WebhookView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 422, description = "Invalid, or a private/local/reserved receiver", body = ErrorResponse,
            example = json!({"error": {"code": "webhook_url_forbidden", "message": "url: the URL points to a private, local or reserved address", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<WebhookSpec>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    let session = session(&state, &id).await?;
    let new = NewWebhook { session_id: session, ..validate(&state, "webhook", body)? };
    let created = state.store.webhooks.create(&new).await?;
    let mut view = WebhookView::from(created);
    view.secret = Some(new.secret);
    Ok((StatusCode::CREATED, Json(view)))
}

/// The session's webhooks.
#[utoipa::path(get, path = "/sessions/{id}/webhooks", tag = "webhooks",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 200, description = "Subscriptions", body = Vec<WebhookView>), (status = 404, description = "No such session", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<WebhookView>>> {
    let session = session(&state, &id).await?;
    Ok(Json(state.store.webhooks.list(&session).await?.into_iter().map(Into::into).collect()))
}

/// One webhook.
#[utoipa::path(get, path = "/sessions/{id}/webhooks/{webhook_id}", tag = "webhooks",
    params(("id" = String, Path, description = "Session id", example = "sales"), ("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 200, description = "The webhook", body = WebhookView), (status = 404, description = "No such session or webhook", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    Path((id, hook)): Path<(String, String)>,
) -> ApiResult<Json<WebhookView>> {
    let session = session(&state, &id).await?;
    let found = state.store.webhooks.get(&session, &hook).await?.ok_or_else(|| webhook_not_found(&hook))?;
    Ok(Json(found.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"events": ["*"], "enabled": true}))]
pub struct WebhookUpdate {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// Replaces the secret(s). Give two space-separated `whsec_` secrets to
    /// rotate: both signatures are sent until you PATCH the old one away.
    pub secret: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub headers: Option<Value>,
    pub enabled: Option<bool>,
}

/// Change a webhook; applies to the next delivery.
#[utoipa::path(patch, path = "/sessions/{id}/webhooks/{webhook_id}", tag = "webhooks", request_body = WebhookUpdate,
    params(("id" = String, Path, description = "Session id", example = "sales"), ("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 200, description = "Updated", body = WebhookView), (status = 404, description = "No such session or webhook", body = ErrorResponse),
        (status = 422, description = "Invalid change", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Path((id, hook)): Path<(String, String)>,
    Json(body): Json<WebhookUpdate>,
) -> ApiResult<Json<WebhookView>> {
    let session = session(&state, &id).await?;
    let current = state.store.webhooks.get(&session, &hook).await?.ok_or_else(|| webhook_not_found(&hook))?;
    if let Some(secrets) = &body.secret {
        let parts: Vec<&str> = secrets.split_whitespace().collect();
        if parts.is_empty() || parts.len() > 2 || parts.iter().any(|p| Secret::parse(p).is_err()) {
            return Err(Error::validation(
                "invalid secret",
                json!({"secret": ["one or two whsec_ secrets, space-separated"]}),
            ));
        }
    }
    // Re-validate the merged subscription the same way as a new one.
    let spec = WebhookSpec {
        url: body.url.clone().unwrap_or(current.url),
        events: Some(body.events.clone().unwrap_or(current.events.0)),
        secret: None,
        headers: Some(body.headers.clone().unwrap_or(current.headers.0)),
    };
    let checked = validate(&state, "webhook", spec)?;
    let patch = WebhookPatch {
        url: body.url.map(|_| checked.url),
        events: body.events.map(|_| checked.events),
        secret: body.secret.map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")),
        headers: body.headers.map(|_| checked.headers),
        enabled: body.enabled,
    };
    let updated = state
        .store
        .webhooks
        .update(&session, &hook, &patch)
        .await?
        .ok_or_else(|| webhook_not_found(&hook))?;
    Ok(Json(updated.into()))
}

/// Unsubscribe.
#[utoipa::path(delete, path = "/sessions/{id}/webhooks/{webhook_id}", tag = "webhooks",
    params(("id" = String, Path, description = "Session id", example = "sales"), ("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such session or webhook", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Path((id, hook)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let session = session(&state, &id).await?;
    if state.store.webhooks.delete(&session, &hook).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(webhook_not_found(&hook))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<WebhookAttempt> for AttemptView {
    fn from(a: WebhookAttempt) -> Self {
        Self {
            attempt: a.attempt,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            error: a.error,
            response_excerpt: a.response_excerpt,
            at: a.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 42, "webhook_id": "wh_0192f0c46b557d1e9b8e3f1a2c4d5e6f", "url": "https://example.com/hooks/whatsapp",
    "event_id": "evt_0192f0c46b557d1e9b8e3f1a2c4d5e6f", "event_type": "message.status", "status": "delivered", "attempts": 2,
    "last_status_code": 200, "last_error": null, "created_at": "2026-11-30T12:00:00Z", "updated_at": "2026-11-30T12:00:06Z"}))]
pub struct DeliveryView {
    pub id: i64,
    /// None for the global webhook from config.
    pub webhook_id: Option<String>,
    pub url: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `failed` (will retry), `delivered` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every attempt, in `GET …/deliveries/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<AttemptView>>,
    /// The signed body, in `GET …/deliveries/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            id: d.id,
            webhook_id: d.webhook_id,
            url: d.webhook_url,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            created_at: d.created_at,
            updated_at: d.updated_at,
            attempt_log: None,
            payload: None,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    /// `pending`, `failed`, `delivered` or `dead`.
    pub status: Option<String>,
    pub webhook_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// The session's webhook deliveries, newest first.
#[utoipa::path(get, path = "/sessions/{id}/webhooks/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Session id", example = "sales"), DeliveryParams),
    responses((status = 200, description = "One page", body = Paginated<DeliveryView>), (status = 404, description = "No such session", body = ErrorResponse),
        (status = 422, description = "Bad filter", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<DeliveryParams>,
) -> ApiResult<Json<Paginated<DeliveryView>>> {
    let session = session(&state, &id).await?;
    if params.status.as_deref().is_some_and(|s| !["pending", "failed", "delivered", "dead"].contains(&s)) {
        return Err(Error::validation(
            "invalid status",
            json!({"status": ["pending, failed, delivered or dead"]}),
        ));
    }
    let after = match params.cursor.as_deref().map(str::parse::<i64>) {
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => {
            return Err(Error::validation("invalid cursor", json!({"cursor": ["must be a next_cursor"]})));
        }
        None => None,
    };
    let limit = super::pagination::page_limit(params.limit);
    let filter =
        DeliveryFilter { session_id: Some(session), webhook_id: params.webhook_id, status: params.status };
    let rows = state.store.deliveries.list(&filter, &Page { after, limit }).await?;
    let views: Vec<DeliveryView> = rows.into_iter().map(Into::into).collect();
    Ok(Json(Paginated::new(views, limit, |d| d.id.to_string())))
}

async fn find_delivery(state: &AppState, session: &str, raw: &str) -> ApiResult<WebhookDelivery> {
    let not_found = || Error::not_found("delivery_not_found", format!("delivery {raw} does not exist"));
    let id: i64 = raw.parse().map_err(|_| not_found())?;
    state.store.deliveries.get(id).await?.filter(|d| d.session_id == session).ok_or_else(not_found)
}

/// One delivery with every attempt and the signed body.
#[utoipa::path(get, path = "/sessions/{id}/webhooks/deliveries/{delivery_id}", tag = "webhooks",
    params(("id" = String, Path, description = "Session id", example = "sales"), ("delivery_id" = i64, Path, description = "Delivery id")),
    responses((status = 200, description = "The delivery", body = DeliveryView), (status = 404, description = "No such session or delivery", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn delivery(
    State(state): State<AppState>,
    Path((id, raw)): Path<(String, String)>,
) -> ApiResult<Json<DeliveryView>> {
    let session = session(&state, &id).await?;
    let d = find_delivery(&state, &session, &raw).await?;
    let attempts = state.store.deliveries.attempts(d.id).await?;
    let payload = d.payload.0.clone();
    let mut view = DeliveryView::from(d);
    view.attempt_log = Some(attempts.into_iter().map(Into::into).collect());
    view.payload = Some(payload);
    Ok(Json(view))
}

fn dispatcher(state: &AppState) -> Dispatcher {
    Dispatcher {
        store: state.store.clone(),
        queue: state.queue.clone(),
        config: state.config.webhooks.clone(),
    }
}

async fn requeue(state: &AppState, d: &WebhookDelivery) -> ApiResult<()> {
    state.store.deliveries.reset(d.id).await?;
    // A fresh job id per replay: the earlier job is finished or dead.
    let round = u32::try_from(d.attempts).unwrap_or(u32::MAX).saturating_add(1);
    dispatcher(state).enqueue(d.id, d.webhook_id.as_deref(), round).await.map_err(|e| {
        Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_unavailable",
            format!("could not queue the delivery: {e}"),
        )
    })
}

/// Deliver again now (any delivery that is not pending).
#[utoipa::path(post, path = "/sessions/{id}/webhooks/deliveries/{delivery_id}/retry", tag = "webhooks",
    params(("id" = String, Path, description = "Session id", example = "sales"), ("delivery_id" = i64, Path, description = "Delivery id")),
    responses((status = 202, description = "Queued again", body = DeliveryView), (status = 404, description = "No such session or delivery", body = ErrorResponse),
        (status = 409, description = "Already pending", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    Path((id, raw)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    let session = session(&state, &id).await?;
    let d = find_delivery(&state, &session, &raw).await?;
    if d.status == "pending" {
        return Err(Error::conflict("delivery_pending", "the delivery is already queued"));
    }
    requeue(&state, &d).await?;
    let d = find_delivery(&state, &session, &raw).await?;
    Ok((StatusCode::ACCEPTED, Json(d.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "2026-11-30T00:00:00Z", "to": "2026-12-01T00:00:00Z"}))]
pub struct ReplayRequest {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayView {
    /// Dead deliveries queued again (at most 10,000 per call).
    pub replayed: usize,
}

/// Deliver again every dead delivery created in `[from, to)`.
#[utoipa::path(post, path = "/sessions/{id}/webhooks/deliveries/replay", tag = "webhooks", request_body = ReplayRequest,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 202, description = "Queued again", body = ReplayView), (status = 404, description = "No such session", body = ErrorResponse),
        (status = 422, description = "from is not before to", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<ReplayRequest>,
) -> ApiResult<(StatusCode, Json<ReplayView>)> {
    let session = session(&state, &id).await?;
    if body.from >= body.to {
        return Err(Error::validation("empty range", json!({"to": ["must be after from"]})));
    }
    let ids = state.store.deliveries.dead_between(&session, body.from, body.to, 10_000).await?;
    for id in &ids {
        if let Some(d) = state.store.deliveries.get(*id).await? {
            requeue(&state, &d).await?;
        }
    }
    Ok((StatusCode::ACCEPTED, Json(ReplayView { replayed: ids.len() })))
}
