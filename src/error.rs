//! The one error type every handler returns, and its JSON shape.
//!
//! Every error response, whoever produced it, reads
//! `{"error": {"code", "message", "request_id", "details"}}`. Handlers return
//! `Error`; its `IntoResponse` attaches an [`ErrorBody`] to an empty response
//! and the request-id middleware renders it, because only that middleware
//! knows the request id. Responses that fail outside our code (axum's 405,
//! tower's timeouts) are given the same shape there too.

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::StoreError;

/// What a client may see of a failure.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, snake_case; clients branch on it.
    #[schema(example = "validation_failed")]
    pub code: Cow<'static, str>,
    /// For humans; may change between versions.
    #[schema(example = "the request body is invalid")]
    pub message: String,
    /// The request's id, as in the `X-Request-ID` response header.
    #[schema(example = "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f")]
    pub request_id: Option<String>,
    /// Structured detail, e.g. one entry per invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// The envelope of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// Marker carried from `IntoResponse` to the renderer.
#[derive(Debug, Clone)]
pub(crate) struct PendingError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A failure the client can understand, with its status and code.
    #[error("{message}")]
    Api { status: StatusCode, code: &'static str, message: String, details: Option<Value> },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else: logged with context, answered as an opaque 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, Error>;

impl Error {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Error::Api { status, code, message: message.into(), details: None }
    }

    pub fn with_details(mut self, value: Value) -> Self {
        if let Error::Api { details, .. } = &mut self {
            *details = Some(value);
        }
        self
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn validation(message: impl Into<String>, details: Value) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message).with_details(details)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Api { status, .. } => *status,
            Error::Store(StoreError::Conflict { .. }) => StatusCode::CONFLICT,
            Error::Store(StoreError::MissingReference) => StatusCode::NOT_FOUND,
            Error::Store(StoreError::InvalidText(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Store(StoreError::Other(_)) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> ErrorBody {
        let (code, message, details) = match self {
            Error::Api { code, message, details, .. } => (*code, message.clone(), details.clone()),
            Error::Store(StoreError::Conflict { .. }) => {
                ("conflict", "the resource already exists".to_owned(), None)
            }
            Error::Store(StoreError::MissingReference) => {
                ("not_found", "a referenced resource does not exist".to_owned(), None)
            }
            Error::Store(StoreError::InvalidText(_)) => {
                ("invalid_text", "the request holds a character that cannot be stored (NUL)".to_owned(), None)
            }
            Error::Store(StoreError::Unavailable(_)) => {
                ("database_unavailable", "the database is unavailable, retry later".to_owned(), None)
            }
            Error::Store(StoreError::Other(_)) | Error::Internal(_) => {
                ("internal_error", "an internal error occurred".to_owned(), None)
            }
        };
        ErrorBody { code: Cow::Borrowed(code), message, request_id: None, details }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // The detail stays in the log (with the request id from the span),
            // never in the response.
            tracing::error!(error = ?self, "request failed");
        }
        let mut res = status.into_response();
        res.extensions_mut().insert(PendingError { status, body: self.body() });
        res
    }
}

/// Renders an error body into a response. `request_id` is filled in by the
/// caller, which knows it.
pub(crate) fn render(status: StatusCode, mut body: ErrorBody, request_id: Option<&str>) -> Response {
    body.request_id = request_id.map(str::to_owned);
    (status, Json(ErrorResponse { error: body })).into_response()
}

/// The error for a response that left the stack without one of ours.
pub(crate) fn for_bare_status(status: StatusCode) -> ErrorBody {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no route matches this path"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this path does not accept that method"),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "unsupported content type"),
        StatusCode::BAD_REQUEST => ("bad_request", "the request is malformed"),
        StatusCode::UNAUTHORIZED => ("unauthorized", "authentication is required"),
        StatusCode::SERVICE_UNAVAILABLE => ("service_unavailable", "the service is unavailable"),
        s if s.is_server_error() => ("internal_error", "an internal error occurred"),
        _ => ("http_error", "the request failed"),
    };
    ErrorBody { code: Cow::Borrowed(code), message: message.to_owned(), request_id: None, details: None }
}

impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        let (status, code) = match &rejection {
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            _ => (rejection.status(), "invalid_body"),
        };
        Error::new(status, code, rejection.body_text())
    }
}

impl From<PathRejection> for Error {
    fn from(rejection: PathRejection) -> Self {
        Error::bad_request("invalid_path", rejection.body_text())
    }
}

impl From<QueryRejection> for Error {
    fn from(rejection: QueryRejection) -> Self {
        Error::bad_request("invalid_query", rejection.body_text())
    }
}

impl From<validator::ValidationErrors> for Error {
    fn from(errors: validator::ValidationErrors) -> Self {
        let details: serde_json::Map<String, Value> = errors
            .field_errors()
            .into_iter()
            .map(|(field, errs)| {
                let messages: Vec<Value> = errs
                    .iter()
                    .map(|e| {
                        Value::String(
                            e.message.as_ref().map(|m| m.to_string()).unwrap_or_else(|| e.code.to_string()),
                        )
                    })
                    .collect();
                (field.to_string(), Value::Array(messages))
            })
            .collect();
        Error::validation("the request is invalid", Value::Object(details))
    }
}

impl From<crate::engine::EngineError> for Error {
    fn from(e: crate::engine::EngineError) -> Self {
        use crate::engine::EngineError as E;
        let message = e.to_string();
        match e {
            E::NotConnected => Error::conflict("session_not_connected", message),
            E::NotAwaitingLink => Error::conflict("not_awaiting_link", message),
            E::NotLinked => Error::conflict("session_not_linked", message),
            E::ConnectFailed(_) => Error::new(StatusCode::BAD_GATEWAY, "connect_failed", message),
            E::NotOnWhatsApp(_) => Error::new(StatusCode::UNPROCESSABLE_ENTITY, "not_on_whatsapp", message),
            E::NotFound(what) => {
                let code = match what.as_str() {
                    "group" => "group_not_found",
                    "message" => "message_not_found",
                    "contact" => "contact_not_found",
                    "invite" => "invite_not_found",
                    "media" => "media_not_found",
                    "call" => "call_not_found",
                    "poll" => "poll_not_found",
                    _ => "not_found",
                };
                Error::not_found(code, message)
            }
            E::Forbidden(_) => Error::new(StatusCode::FORBIDDEN, "forbidden", message),
            E::Invalid(detail) => Error::validation(message, serde_json::json!({ "request": [detail] })),
            E::Conflict(_) => Error::conflict("conflict", message),
            E::Unsupported(_) => Error::new(StatusCode::NOT_IMPLEMENTED, "unsupported", message),
            E::Timeout => {
                Error::new(StatusCode::GATEWAY_TIMEOUT, "engine_timeout", "WhatsApp did not answer in time")
            }
            E::Internal(detail) => Error::Internal(anyhow::anyhow!("engine failure: {detail}")),
        }
    }
}

impl From<crate::sessions::SessionError> for Error {
    fn from(e: crate::sessions::SessionError) -> Self {
        use crate::sessions::SessionError as S;
        let message = e.to_string();
        match e {
            S::NotFound(_) => Error::not_found("session_not_found", message),
            S::EngineUnavailable(_) => {
                Error::new(StatusCode::UNPROCESSABLE_ENTITY, "engine_unavailable", message)
            }
            S::NotRunning(_) => Error::conflict("session_not_running", message),
            S::WrongStatus { status, .. } => Error::conflict("session_wrong_status", message)
                .with_details(serde_json::json!({ "status": status })),
            S::Engine(e) => e.into(),
            S::Store(e) => e.into(),
        }
    }
}
