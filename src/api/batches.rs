//! `/sessions/{id}/message/batch…`: up to 100 messages under one id,
//! validated all or nothing, sent under the session's pacing, and followed
//! together.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::messages::{
    MessageView, Origin, accept, accepted_view, claim_key, ensure_session, idempotency_key, json_body,
    prepare, validated,
};
use super::sessions::{parse_id, session_not_found};
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::http::request_id::RequestId;
use crate::messages::ids;
use crate::messages::request::SendMessage;
use crate::state::AppState;

/// Most messages in one batch.
pub const MAX_BATCH: usize = 100;

pub fn router(max_request_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/message/batch", post(create).layer(DefaultBodyLimit::max(max_request_bytes)))
        .route("/sessions/{id}/message/batch/{batch_id}", get(get_one))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"messages": [{"to": "491701234567", "text": "Your order has shipped"}, {"to": "491709876543", "type": "template", "template": "order_shipped", "variables": {"name": "Ada", "order": "A-17"}}]}))]
pub struct BatchRequest {
    /// 1–100 messages, each as for `POST /sessions/{id}/message`.
    pub messages: Vec<SendMessage>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchView {
    #[schema(example = "bat_0192f0c46b557d1e9b8e3f1a2c4d5e6f")]
    pub batch_id: String,
    pub session_id: String,
    pub total: usize,
    /// How many messages are at each status.
    #[schema(value_type = Object, example = json!({"queued": 1, "delivered": 1}))]
    pub counts: BTreeMap<String, usize>,
    /// In the order given.
    pub messages: Vec<MessageView>,
}

fn view(batch_id: String, session_id: String, messages: Vec<MessageView>) -> BatchView {
    let mut counts = BTreeMap::new();
    for m in &messages {
        *counts.entry(m.status.clone()).or_insert(0) += 1;
    }
    BatchView { batch_id, session_id, total: messages.len(), counts, messages }
}

/// Prefixes every field of a validation error with `messages[i].`.
fn prefixed(i: usize, e: Error, into: &mut Map<String, Value>) -> Result<(), Error> {
    match e {
        Error::Api {
            status: StatusCode::UNPROCESSABLE_ENTITY, details: Some(Value::Object(fields)), ..
        } => {
            for (field, problems) in fields {
                into.insert(format!("messages[{i}].{field}"), problems);
            }
            Ok(())
        }
        Error::Api { status: StatusCode::UNPROCESSABLE_ENTITY, message, .. } => {
            into.insert(format!("messages[{i}]"), json!([message]));
            Ok(())
        }
        other => Err(other),
    }
}

/// Queue up to 100 messages as one batch. Nothing is queued unless every
/// message is valid.
#[utoipa::path(post, path = "/sessions/{id}/message/batch", tag = "messages", operation_id = "create_batch", request_body = BatchRequest,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key and body answers with the same batch and queues nothing twice")),
    responses(
        (status = 202, description = "Every message queued", body = BatchView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 415, description = "Not application/json", body = ErrorResponse),
        (status = 422, description = "Empty, more than 100, or an invalid message (details per message and field), or an Idempotency-Key reused with another body", body = ErrorResponse,
            example = json!({"error": {"code": "validation_failed", "message": "the batch is invalid", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f",
                "details": {"messages[1].to": ["to must have 7 to 15 digits including the country code"]}}})),
        (status = 503, description = "The queue is unavailable", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request_id: Option<axum::Extension<RequestId>>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<BatchView>)> {
    let id = parse_id(&id)?;
    let session = id.as_str();
    let key = idempotency_key(&headers)?;
    let body: BatchRequest = json_body(&headers, &raw)?;
    ensure_session(&state, session).await?;
    if body.messages.is_empty() || body.messages.len() > MAX_BATCH {
        return Err(Error::validation(
            "the batch is invalid",
            json!({"messages": [format!("1 to {MAX_BATCH} messages")]}),
        ));
    }
    // All or nothing: every message is checked before any is queued.
    let mut problems = Map::new();
    let mut valid = Vec::with_capacity(body.messages.len());
    for (i, message) in body.messages.into_iter().enumerate() {
        match validated(&state, message).await {
            Ok(v) => valid.push(v),
            Err(e) => prefixed(i, e, &mut problems)?,
        }
    }
    if !problems.is_empty() {
        return Err(Error::validation("the batch is invalid", Value::Object(problems)));
    }
    let mut batch_id = format!("bat_{}", uuid::Uuid::now_v7().simple());
    // Messages a first attempt under the same Idempotency-Key already queued.
    let mut existing = std::collections::HashSet::new();
    if let Some(first) = claim_key(&state, session, key.as_deref(), "batch:", &raw, &batch_id).await? {
        metrics::counter!("wag_idempotent_replays_total").increment(1);
        batch_id = first;
        let rows = state.store.message_logs.list_batch(session, &batch_id).await?;
        existing = rows.into_iter().map(|r| r.message_id).collect();
    }
    let request_id = request_id.map(|r| r.0.0.to_string());
    let mut prepared = Vec::with_capacity(valid.len());
    for (i, v) in valid.into_iter().enumerate() {
        let message_id = ids::batch_message_id(&batch_id, i);
        if existing.contains(&message_id) {
            continue; // queued by the first attempt: never twice
        }
        let origin =
            Origin { request_id: request_id.clone(), batch_id: Some(batch_id.clone()), send_at: None };
        prepared.push(prepare(&state, session, v, message_id, origin).await?);
    }
    // Handed to the group commit together, so they usually share one commit.
    let results = futures_util::future::join_all(
        prepared.iter().map(|(log, job)| accept(&state, log.clone(), job.clone())),
    )
    .await;
    if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
        return Err(e);
    }
    if !existing.is_empty() {
        // A replay answers with the batch as it is now.
        let rows = state.store.message_logs.list_batch(session, &batch_id).await?;
        let views = rows.into_iter().map(Into::into).collect();
        return Ok((StatusCode::ACCEPTED, Json(view(batch_id, session.to_owned(), views))));
    }
    let views = prepared.into_iter().map(|(log, _)| accepted_view(log)).collect();
    Ok((StatusCode::ACCEPTED, Json(view(batch_id, session.to_owned(), views))))
}

/// A batch: counts per status and each message's status.
#[utoipa::path(get, path = "/sessions/{id}/message/batch/{batch_id}", tag = "messages", operation_id = "get_batch",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("batch_id" = String, Path, description = "Batch id", example = "bat_0192f0c46b557d1e9b8e3f1a2c4d5e6f")),
    responses((status = 200, description = "The batch", body = BatchView),
        (status = 404, description = "No such session or batch", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    Path((id, batch_id)): Path<(String, String)>,
) -> ApiResult<Json<BatchView>> {
    let id = parse_id(&id)?;
    let rows = state.store.message_logs.list_batch(id.as_str(), &batch_id).await?;
    if rows.is_empty() {
        if state.store.sessions.get(id.as_str()).await?.is_none() {
            return Err(session_not_found(id.as_str()));
        }
        return Err(Error::not_found("batch_not_found", format!("batch {batch_id} does not exist")));
    }
    let messages = rows.into_iter().map(Into::into).collect();
    Ok(Json(view(batch_id, id.as_str().to_owned(), messages)))
}
