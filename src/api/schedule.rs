//! `/sessions/{id}/message/schedule…`: messages sent at a later time, given
//! as an instant with an offset or as a wall-clock time in an IANA time
//! zone. A scheduled message is a queued job due at that time, so it is as
//! durable as any other send, survives restarts and can be cancelled until
//! it starts.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::messages::{
    MessageView, Origin, Reserved, ensure_session, idempotency_key, json_body, queue_one, reserve, validated,
};
use super::pagination::{PageParams, Paginated};
use super::sessions::{parse_id, session_not_found};
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path, Query};
use crate::http::request_id::RequestId;
use crate::messages::QUEUE;
use crate::messages::request::SendMessage;
use crate::messages::tracker::status_event;
use crate::queue::CancelResult;
use crate::state::AppState;
use crate::store::Page;

/// How far ahead a message may be scheduled.
const MAX_AHEAD_DAYS: i64 = 366;

pub fn router(max_request_bytes: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/sessions/{id}/message/schedule",
            get(list).post(create).layer(DefaultBodyLimit::max(max_request_bytes)),
        )
        .route("/sessions/{id}/message/schedule/{message_id}", delete(cancel))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"local_time": "2026-12-24T09:00", "timezone": "Europe/Berlin",
    "message": {"to": "491701234567", "text": "Merry Christmas!"}}))]
pub struct ScheduleRequest {
    /// An instant in RFC 3339 with an offset, e.g. `2026-12-24T09:00:00+01:00`.
    pub send_at: Option<String>,
    /// A wall-clock time, `YYYY-MM-DDTHH:MM[:SS]`, in `timezone` (instead of `send_at`).
    pub local_time: Option<String>,
    /// An IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: Option<String>,
    /// The message, as for `POST /sessions/{id}/message`.
    pub message: SendMessage,
}

fn invalid(field: &str, problem: impl Into<String>) -> Error {
    let problem = problem.into();
    Error::validation(format!("{field}: {problem}"), json!({ field: [problem] }))
}

/// When the message is due, from either form; in the future, within a year.
pub fn due_time(req: &ScheduleRequest, now: DateTime<Utc>) -> ApiResult<DateTime<Utc>> {
    let at = match (&req.send_at, &req.local_time, &req.timezone) {
        (Some(at), None, None) => DateTime::parse_from_rfc3339(at)
            .map_err(|_| {
                invalid("send_at", "must be RFC 3339 with an offset, e.g. 2026-12-24T09:00:00+01:00")
            })?
            .to_utc(),
        (None, Some(local), Some(zone)) => {
            let tz: chrono_tz::Tz = zone
                .parse()
                .map_err(|_| invalid("timezone", "must be an IANA time zone, e.g. Europe/Berlin"))?;
            let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S")
                .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M"))
                .map_err(|_| invalid("local_time", "must be YYYY-MM-DDTHH:MM[:SS] without an offset"))?;
            // A time that occurs twice (clocks going back) means the first.
            tz.from_local_datetime(&naive)
                .earliest()
                .ok_or_else(|| {
                    invalid("local_time", format!("does not exist in {zone} (clocks go forward)"))
                })?
                .to_utc()
        }
        _ => {
            return Err(invalid("send_at", "give send_at, or local_time with timezone"));
        }
    };
    if at <= now {
        return Err(invalid("send_at", "is in the past"));
    }
    if at > now + chrono::Duration::days(MAX_AHEAD_DAYS) {
        return Err(invalid("send_at", format!("is more than {MAX_AHEAD_DAYS} days ahead")));
    }
    Ok(at)
}

/// Schedule a message.
#[utoipa::path(post, path = "/sessions/{id}/message/schedule", tag = "messages", operation_id = "create_scheduled", request_body = ScheduleRequest,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key and body answers with the first scheduled message")),
    responses(
        (status = 202, description = "Scheduled (status queued, with scheduled_at)", body = MessageView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 422, description = "A time in the past, an unknown time zone, or an invalid message", body = ErrorResponse,
            example = json!({"error": {"code": "validation_failed", "message": "send_at: is in the past", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f", "details": {"send_at": ["is in the past"]}}})),
        (status = 503, description = "The queue is unavailable", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request_id: Option<axum::Extension<RequestId>>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    let id = parse_id(&id)?;
    let session = id.as_str();
    let key = idempotency_key(&headers)?;
    let body: ScheduleRequest = json_body(&headers, &raw)?;
    ensure_session(&state, session).await?;
    let at = due_time(&body, Utc::now())?;
    let valid = validated(&state, body.message).await?;
    let message_id = match reserve(&state, session, key.as_deref(), "schedule:", &raw).await? {
        Reserved::Fresh(id) => id,
        Reserved::Replay(log) => return Ok((StatusCode::ACCEPTED, Json((*log).into()))),
    };
    let origin =
        Origin { request_id: request_id.map(|r| r.0.0.to_string()), batch_id: None, send_at: Some(at) };
    let view = queue_one(&state, session, valid, message_id, origin).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Scheduled messages not sent yet.
#[utoipa::path(get, path = "/sessions/{id}/message/schedule", tag = "messages", operation_id = "list_scheduled",
    params(("id" = String, Path, description = "Session id", example = "sales"), PageParams),
    responses((status = 200, description = "Pending scheduled messages, oldest scheduling first", body = Paginated<MessageView>),
        (status = 404, description = "No such session", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Paginated<MessageView>>> {
    let id = parse_id(&id)?;
    if state.store.sessions.get(id.as_str()).await?.is_none() {
        return Err(session_not_found(id.as_str()));
    }
    let limit = params.limit();
    let page = match params.cursor.as_deref().map(str::parse::<i64>) {
        Some(Ok(after)) => Page::after(after, limit),
        Some(Err(_)) => {
            return Err(Error::bad_request("invalid_cursor", "cursor is not a cursor of this list"));
        }
        None => Page::first(limit),
    };
    let rows = state.store.message_logs.list_scheduled(id.as_str(), &page).await?;
    // The cursor is the row id, which the view does not carry.
    let next_cursor = rows.last().filter(|_| rows.len() >= limit as usize).map(|r| r.id.to_string());
    Ok(Json(Paginated { data: rows.into_iter().map(Into::into).collect(), next_cursor }))
}

/// Cancel a scheduled message that has not started.
#[utoipa::path(delete, path = "/sessions/{id}/message/schedule/{message_id}", tag = "messages", operation_id = "cancel_scheduled",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("message_id" = String, Path, description = "The scheduled message's id")),
    responses((status = 204, description = "Cancelled: it will never be sent"),
        (status = 404, description = "No such session or message", body = ErrorResponse),
        (status = 409, description = "Not a scheduled message, or already sending or sent", body = ErrorResponse,
            example = json!({"error": {"code": "already_sent", "message": "the message was already sent", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}}))),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    let session = id.as_str();
    let Some(log) = state.store.message_logs.get(session, &message_id).await? else {
        if state.store.sessions.get(session).await?.is_none() {
            return Err(session_not_found(session));
        }
        return Err(Error::not_found("message_not_found", format!("message {message_id} does not exist")));
    };
    if log.scheduled_at.is_none() {
        return Err(Error::conflict("not_scheduled", "the message is not a scheduled message"));
    }
    if log.status != "queued" {
        return Err(Error::conflict("already_sent", "the message was already sent or cancelled"));
    }
    match state.queue.cancel(QUEUE, &message_id).await.map_err(|e| Error::Internal(e.into()))? {
        CancelResult::Cancelled | CancelResult::NotFound => {}
        CancelResult::Running => return Err(Error::conflict("already_sending", "the message is being sent")),
        CancelResult::Finished => {
            return Err(Error::conflict("already_sent", "the message was already sent or cancelled"));
        }
    }
    if let Some(row) = state
        .store
        .message_logs
        .set_status(session, &message_id, "cancelled", Some("cancelled by the client"))
        .await?
    {
        state.sessions.hub().publish_with(
            session,
            "message.status",
            status_event(&row),
            row.request_id.clone(),
        );
    }
    metrics::counter!("wag_messages_total", "result" => "cancelled").increment(1);
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(send_at: Option<&str>, local: Option<&str>, tz: Option<&str>) -> ScheduleRequest {
        ScheduleRequest {
            send_at: send_at.map(str::to_owned),
            local_time: local.map(str::to_owned),
            timezone: tz.map(str::to_owned),
            message: serde_json::from_value(json!({"to": "491701234567", "text": "x"})).unwrap(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z").unwrap().to_utc()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn instants_and_local_times_in_a_zone() {
        assert_eq!(
            due_time(&req(Some("2026-12-24T09:00:00+01:00"), None, None), now()).unwrap(),
            at("2026-12-24T08:00:00Z")
        );
        // Berlin is UTC+1 in winter and UTC+2 in summer.
        let winter = due_time(&req(None, Some("2026-12-24T09:00"), Some("Europe/Berlin")), now()).unwrap();
        assert_eq!(winter, at("2026-12-24T08:00:00Z"));
        let summer = due_time(&req(None, Some("2027-07-01T09:00:00"), Some("Europe/Berlin")), now()).unwrap();
        assert_eq!(summer, at("2027-07-01T07:00:00Z"));
        let tokyo = due_time(&req(None, Some("2026-12-02T09:00"), Some("Asia/Tokyo")), now()).unwrap();
        assert_eq!(tokyo, at("2026-12-02T00:00:00Z"));
    }

    #[test]
    fn daylight_saving_edges() {
        // 2027-03-28 02:30 does not exist in Berlin (clocks jump 02:00 → 03:00).
        assert!(due_time(&req(None, Some("2027-03-28T02:30"), Some("Europe/Berlin")), now()).is_err());
        // 2027-10-31 02:30 happens twice: the first (summer time, UTC+2) is taken.
        let twice = due_time(&req(None, Some("2027-10-31T02:30"), Some("Europe/Berlin")), now()).unwrap();
        assert_eq!(twice, at("2027-10-31T00:30:00Z"));
    }

    #[test]
    fn bad_times_are_refused() {
        for r in [
            req(Some("2026-11-30T12:00:00Z"), None, None),             // past
            req(Some("2026-12-24 09:00"), None, None),                 // no offset
            req(Some("2028-01-01T00:00:00Z"), None, None),             // too far ahead
            req(None, Some("2026-12-24T09:00"), Some("Mars/Olympus")), // unknown zone
            req(None, Some("2026-12-24T09:00+01:00"), Some("Europe/Berlin")), // offset in local time
            req(None, Some("2026-12-24T09:00"), None),                 // zone missing
            req(Some("2026-12-24T09:00:00Z"), Some("2026-12-24T09:00"), Some("UTC")), // both
            req(None, None, None),
        ] {
            let e = due_time(&r, now()).unwrap_err();
            assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
        }
    }
}
