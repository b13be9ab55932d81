//! `POST /sessions/{id}/status`: a status update (story), text on a
//! coloured background, an image or a video. WhatsApp sends a status to a
//! list of people, never to "everyone": the request names them, or the
//! session's address book (everyone saved with a name) is used. A status is
//! a message like any other: durable before the 202, idempotent, logged in
//! the chat `status@broadcast`, followed to `delivered`.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::messages::{
    MessageView, Origin, Reserved, ensure_session, idempotency_key, json_body, queue_one, reserve, resolved,
};
use super::sessions::parse_id;
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::http::request_id::RequestId;
use crate::messages::job::StatusJob;
use crate::messages::request::{MediaInput, MessageType, SendMessage, Validated};
use crate::state::AppState;
use crate::wa::{Jid, Server};

/// Where status updates go.
pub const STATUS_CHAT: &str = "status@broadcast";
/// Most people one status update names.
const MAX_RECIPIENTS: usize = 5_000;

pub fn router(max_request_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/status", post(post_status).layer(DefaultBodyLimit::max(max_request_bytes)))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusType {
    #[default]
    Text,
    Image,
    Video,
}

/// The fonts WhatsApp offers for a text status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusFont {
    System,
    SystemText,
    FbScript,
    SystemBold,
    MorningBreeze,
    Calistoga,
    Exo2,
    CourierPrime,
}

impl StatusFont {
    /// WhatsApp's `FontType` number.
    fn number(self) -> i32 {
        match self {
            StatusFont::System => 0,
            StatusFont::SystemText => 1,
            StatusFont::FbScript => 2,
            StatusFont::SystemBold => 6,
            StatusFont::MorningBreeze => 7,
            StatusFont::Calistoga => 8,
            StatusFont::Exo2 => 9,
            StatusFont::CourierPrime => 10,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "text", "text": "Open today 9–17 ☀️", "background": "#1E6E4F", "font": "system_bold",
    "recipients": ["491701234567", "491709876543"]}))]
pub struct StatusRequest {
    #[serde(rename = "type", default)]
    pub kind: StatusType,
    /// The text (type `text`); the caption of an image or video otherwise.
    pub text: Option<String>,
    pub media: Option<MediaInput>,
    pub caption: Option<String>,
    /// A text status's background, `#RRGGBB` or `#AARRGGBB` (default WhatsApp's green).
    #[schema(example = "#1E6E4F")]
    pub background: Option<String>,
    pub font: Option<StatusFont>,
    /// Who sees it: phone numbers or people's JIDs (1–5,000). Default: everyone
    /// saved in the session's address book.
    pub recipients: Option<Vec<String>>,
}

/// `#RRGGBB` (opaque) or `#AARRGGBB` as 0xAARRGGBB.
fn argb(raw: &str) -> Option<u32> {
    let hex = raw.strip_prefix('#')?;
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let value = u32::from_str_radix(hex, 16).ok()?;
    match hex.len() {
        6 => Some(0xFF00_0000 | value),
        8 => Some(value),
        _ => None,
    }
}

/// The people a status names, each once, in order.
fn recipients(raw: &[String]) -> Result<Vec<String>, serde_json::Value> {
    let mut problems = serde_json::Map::new();
    if raw.is_empty() || raw.len() > MAX_RECIPIENTS {
        problems.insert("recipients".into(), json!([format!("1 to {MAX_RECIPIENTS} people")]));
    }
    let mut seen = BTreeSet::new();
    let mut people = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        match Jid::parse(r) {
            Ok(j) if matches!(j.server(), Server::User | Server::Lid) => {
                if seen.insert(j.to_string()) {
                    people.push(j.to_string());
                }
            }
            Ok(_) => {
                problems.insert(format!("recipients[{i}]"), json!(["must be a person"]));
            }
            Err(e) => {
                problems.insert(format!("recipients[{i}]"), json!([format!("recipient {e}")]));
            }
        }
    }
    if problems.is_empty() { Ok(people) } else { Err(serde_json::Value::Object(problems)) }
}

impl StatusRequest {
    /// The content as a message request (a status has no `to` of its own).
    fn content(&self) -> SendMessage {
        SendMessage {
            to: STATUS_CHAT.into(),
            kind: match self.kind {
                StatusType::Text => MessageType::Text,
                StatusType::Image => MessageType::Image,
                StatusType::Video => MessageType::Video,
            },
            text: self.text.clone(),
            media: self.media.clone(),
            caption: self.caption.clone(),
            filename: None,
            voice: false,
            gif: false,
            location: None,
            contact: None,
            reaction: None,
            poll: None,
            reply_to: None,
            mentions: Vec::new(),
            template: None,
            variables: None,
        }
    }

    /// The look of a text status; 422 details when it is not one WhatsApp has.
    fn look(&self) -> Result<(Option<u32>, Option<i32>), serde_json::Value> {
        let background = match &self.background {
            Some(raw) => Some(argb(raw).ok_or_else(|| json!({"background": ["#RRGGBB or #AARRGGBB"]}))?),
            None => None,
        };
        if self.kind != StatusType::Text && (background.is_some() || self.font.is_some()) {
            return Err(json!({"background": ["only a text status has a background and a font"]}));
        }
        Ok((background, self.font.map(StatusFont::number)))
    }
}

/// Post a status update (story) to the given people, or to everyone saved
/// in the address book.
#[utoipa::path(post, path = "/sessions/{id}/status", tag = "messages", request_body = StatusRequest,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key and body returns the first answer instead of posting again")),
    responses(
        (status = 202, description = "Queued; its chat is status@broadcast", body = MessageView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 422, description = "Invalid content, look or recipients, no recipients and no saved contact, or an Idempotency-Key reused with another body", body = ErrorResponse,
            example = json!({"error": {"code": "validation_failed", "message": "the status is invalid", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f",
                "details": {"recipients": ["none given, and no contact is saved in the address book"]}}})),
        (status = 503, description = "The queue is unavailable; nothing was accepted", body = ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn post_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request_id: Option<axum::Extension<RequestId>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    let id = parse_id(&id)?;
    let session = id.as_str();
    let key = idempotency_key(&headers)?;
    let request: StatusRequest = json_body(&headers, &body)?;
    ensure_session(&state, session).await?;
    let invalid = |details| Error::validation("the status is invalid", details);
    let (background_argb, font) = request.look().map_err(invalid)?;
    let draft = resolved(&state, request.content())
        .await?
        .validate_content(state.config.messages.max_media_bytes)
        .map_err(invalid)?;
    let recipients = match &request.recipients {
        Some(raw) => recipients(raw).map_err(invalid)?,
        None => state.store.contacts.saved(session).await?,
    };
    if recipients.is_empty() {
        return Err(invalid(
            json!({"recipients": ["none given, and no contact is saved in the address book"]}),
        ));
    }
    let message_id = match reserve(&state, session, key.as_deref(), "status:", &body).await? {
        Reserved::Fresh(id) => id,
        Reserved::Replay(log) => return Ok((StatusCode::ACCEPTED, Json((*log).into()))),
    };
    let chat = Jid::parse(STATUS_CHAT).map_err(|e| Error::Internal(anyhow::anyhow!("{STATUS_CHAT}: {e}")))?;
    let status = Some(StatusJob { recipients, background_argb, font });
    let valid = Validated { chat, draft, reply_to: None, mentions: Vec::new(), status };
    let origin = Origin { request_id: request_id.map(|r| r.0.0.to_string()), ..Default::default() };
    Ok((StatusCode::ACCEPTED, Json(queue_one(&state, session, valid, message_id, origin).await?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backgrounds_are_argb() {
        assert_eq!(argb("#1E6E4F"), Some(0xFF1E_6E4F));
        assert_eq!(argb("#801E6E4F"), Some(0x801E_6E4F));
        for bad in ["1E6E4F", "#1E6E4", "#GGGGGG", "#+1E6E4F", "#1E6E4F00FF"] {
            assert_eq!(argb(bad), None, "{bad}");
        }
    }

    #[test]
    fn recipients_are_people_each_once() {
        let people =
            recipients(&["491701234567".into(), "+49 170 1234567".into(), "100000012345678@lid".into()]);
        assert_eq!(people.unwrap(), ["491701234567@s.whatsapp.net", "100000012345678@lid"]);
        let err = recipients(&["120363025246125486@g.us".into(), "12".into()]).unwrap_err();
        assert!(err["recipients[0]"].is_array() && err["recipients[1]"].is_array(), "{err}");
        assert!(recipients(&[]).unwrap_err()["recipients"].is_array());
    }
}
