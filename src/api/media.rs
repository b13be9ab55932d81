//! `/media` and `/sessions/{id}/message/media`: file uploads (multipart),
//! kept under an expiring `media_id`, or sent at once.

use axum::Router;
use axum::extract::multipart::{Field, Multipart};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::messages::{MessageView, Origin, ensure_session, queue_one, validated};
use super::sessions::parse_id;
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::http::request_id::RequestId;
use crate::media::{MediaError, MediaInfo};
use crate::messages::ids;
use crate::messages::request::SendMessage;
use crate::state::AppState;

/// Room for the multipart framing and the text fields around the file.
const FORM_OVERHEAD: usize = 256 * 1024;

pub fn router(max_bytes: u64) -> Router<AppState> {
    let limit =
        DefaultBodyLimit::max(usize::try_from(max_bytes).unwrap_or(usize::MAX).saturating_add(FORM_OVERHEAD));
    Router::new()
        .route("/media", post(upload).layer(limit))
        .route("/media/{media_id}", get(get_one))
        .route("/sessions/{id}/message/media", post(send).layer(limit))
        .route("/sessions/{id}/messages/{message_id}/media", get(download))
}

/// The file of a received media message, fetched through the session's
/// engine (WhatsApp keeps media for a limited time; the sandbox keeps the
/// last 256 files).
#[utoipa::path(get, path = "/sessions/{id}/messages/{message_id}/media", tag = "media",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("message_id" = String, Path, description = "Gateway or WhatsApp id of a received media message")),
    responses(
        (status = 200, description = "The file, with its MIME type", content_type = "application/octet-stream"),
        (status = 404, description = "No such session or message (`message_not_found`), a message without a downloadable file (`media_not_available`), or media WhatsApp no longer keeps (`media_not_found`)", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let id = parse_id(&id)?;
    let session = id.as_str();
    let log = super::messages::find(&state, session, &message_id).await?;
    let handle = state.store.message_logs.media_handle(session, &log.message_id).await?.ok_or_else(|| {
        Error::not_found(
            "media_not_available",
            "this message has no file to download (text, or described only)",
        )
    })?;
    let file = super::messages::engine(&state, session)?.download_media(&handle).await?;
    let headers = [
        (axum::http::header::CONTENT_TYPE, file.mime_type),
        (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        // Never rendered inline: the bytes are someone else's.
        (axum::http::header::CONTENT_DISPOSITION, "attachment".to_owned()),
    ];
    Ok((StatusCode::OK, headers, file.data).into_response())
}

/// The upload form, for the OpenAPI document.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file. Its type is recognised from its bytes; a Content-Type on the
    /// part that disagrees is refused (415).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// The send form: the file plus the fields of `POST /sessions/{id}/message`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SendForm {
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    #[schema(example = "491701234567")]
    pub to: String,
    /// `image`, `video`, `audio`, `document` or `sticker`; default from the file's type.
    #[schema(example = "image")]
    pub r#type: Option<String>,
    pub caption: Option<String>,
    pub filename: Option<String>,
    /// `true` for a voice note.
    pub voice: Option<String>,
    pub reply_to: Option<String>,
}

fn media_error(e: MediaError) -> Error {
    match e {
        MediaError::TooLarge(n) => Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the file is larger than {n} bytes"),
        ),
        MediaError::Empty => Error::validation("the file is empty", json!({"file": ["the file is empty"]})),
        e @ MediaError::NotAllowed(_) => {
            Error::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "media_type_not_allowed", e.to_string())
        }
        e @ MediaError::Mismatch { .. } => {
            Error::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "media_type_mismatch", e.to_string())
        }
        MediaError::Timeout => {
            Error::new(StatusCode::REQUEST_TIMEOUT, "upload_timeout", "the upload stalled")
        }
        MediaError::Body(e) if e.contains("length limit") => {
            Error::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
        }
        MediaError::Body(e) => Error::bad_request("invalid_body", format!("the upload was interrupted: {e}")),
        e @ MediaError::NotFound(_) => Error::not_found("media_not_found", e.to_string()),
        MediaError::Io(e) => Error::Internal(anyhow::Error::new(e).context("storing an upload")),
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> Error {
    match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            Error::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
        }
        _ => Error::bad_request("invalid_multipart", e.body_text()),
    }
}

async fn store_file(state: &AppState, field: Field<'_>) -> ApiResult<MediaInfo> {
    let declared = field.content_type().map(str::to_owned);
    let name = field.file_name().map(str::to_owned);
    state.media.save(field, declared.as_deref(), name.as_deref()).await.map_err(media_error)
}

/// Upload a file once, send it many times by its `media_id`.
#[utoipa::path(post, path = "/media", tag = "media",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = MediaInfo),
        (status = 400, description = "Not a multipart form with a `file`", body = ErrorResponse),
        (status = 413, description = "Larger than media.max_bytes (or its type's cap)", body = ErrorResponse),
        (status = 415, description = "A type that is not accepted, or a declared type that disagrees with the bytes", body = ErrorResponse,
            example = json!({"error": {"code": "media_type_mismatch", "message": "the file is image/png, not image/jpeg as declared", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f"}})),
        (status = 422, description = "An empty file", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    mut form: Multipart,
) -> ApiResult<(StatusCode, Json<MediaInfo>)> {
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        if field.name() == Some("file") {
            let info = store_file(&state, field).await?;
            return Ok((StatusCode::CREATED, Json(info)));
        }
    }
    Err(Error::bad_request("missing_file", "the form has no `file` field"))
}

/// An upload's metadata.
#[utoipa::path(get, path = "/media/{media_id}", tag = "media",
    params(("media_id" = String, Path, description = "The upload's id", example = "med_0192f0c46b557d1e9b8e3f1a2c4d5e6f")),
    responses((status = 200, description = "The upload", body = MediaInfo),
        (status = 404, description = "No such upload, or it expired", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_one(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<MediaInfo>> {
    Ok(Json(state.media.info(&id).await.map_err(media_error)?))
}

/// Upload a file and send it in one request.
#[utoipa::path(post, path = "/sessions/{id}/message/media", tag = "messages", operation_id = "send_upload",
    request_body(content = SendForm, content_type = "multipart/form-data"),
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses(
        (status = 202, description = "Queued", body = MessageView),
        (status = 400, description = "Not a multipart form with a `file`", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 413, description = "Larger than media.max_bytes", body = ErrorResponse),
        (status = 415, description = "A type that is not accepted, or a declared type that disagrees with the bytes", body = ErrorResponse),
        (status = 422, description = "Invalid message fields", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn send(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request_id: Option<axum::Extension<RequestId>>,
    mut form: Multipart,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    let id = parse_id(&id)?;
    let session = id.as_str();
    ensure_session(&state, session).await?;
    let mut fields = Map::new();
    let mut file: Option<MediaInfo> = None;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => file = Some(store_file(&state, field).await?),
            "to" | "type" | "caption" | "filename" | "reply_to" => {
                let text = field.text().await.map_err(multipart_error)?;
                fields.insert(name, Value::String(text));
            }
            "voice" | "gif" => {
                let text = field.text().await.map_err(multipart_error)?;
                fields.insert(name, Value::Bool(matches!(text.trim(), "true" | "1" | "on")));
            }
            other => {
                return Err(Error::validation(
                    format!("unknown field {other}"),
                    json!({ other: ["not a field of this form"] }),
                ));
            }
        }
    }
    let file = file.ok_or_else(|| Error::bad_request("missing_file", "the form has no `file` field"))?;
    if !fields.contains_key("type") {
        let kind = match file.mime_type.split('/').next() {
            Some("image") => "image",
            Some("video") => "video",
            Some("audio") => "audio",
            _ => "document",
        };
        fields.insert("type".into(), json!(kind));
    }
    fields.insert("media".into(), json!({"id": file.id}));
    let request: SendMessage = serde_json::from_value(Value::Object(fields))
        .map_err(|e| Error::validation("the message is invalid", json!({"form": [e.to_string()]})))?;
    let valid = validated(&state, request).await?;
    let origin = Origin { request_id: request_id.map(|r| r.0.0.to_string()), ..Default::default() };
    let view = queue_one(&state, session, valid, ids::new_message_id(), origin).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}
