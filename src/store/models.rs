//! Rows as the repositories return them, and the inputs they accept.
//!
//! Column types are chosen so one Rust type decodes on both backends:
//! timestamps are `TIMESTAMPTZ` on PostgreSQL and RFC 3339 text on SQLite,
//! JSON is `JSONB` on PostgreSQL and text on SQLite.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::FromRow;
use sqlx::types::Json;

/// Keyset pagination: rows strictly after `after` in the listing's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<C> {
    pub after: Option<C>,
    pub limit: u32,
}

impl<C> Page<C> {
    /// Largest page any listing returns, whatever the caller asks for.
    pub const MAX_LIMIT: u32 = 500;

    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }

    pub fn after(after: C, limit: u32) -> Self {
        Self { after: Some(after), limit }
    }

    pub(crate) fn sql_limit(&self) -> i64 {
        i64::from(self.limit.clamp(1, Self::MAX_LIMIT))
    }
}

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct Session {
    pub id: String,
    pub engine: String,
    pub status: String,
    pub phone: Option<String>,
    pub push_name: Option<String>,
    pub metadata: Json<Value>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// `running` when the operator started it (restored at startup), else `stopped`.
    pub desired_state: String,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub engine: String,
    pub metadata: Value,
}

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct Template {
    pub name: String,
    pub content: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewTemplate {
    pub name: String,
    pub content: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl Direction {
    /// The value stored in `message_logs.direction`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incoming => "incoming",
            Self::Outgoing => "outgoing",
        }
    }
}

/// A chat as the message log knows it.
#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct ChatSummary {
    /// Its newest message, either direction.
    #[sqlx(flatten)]
    pub last: MessageLog,
    /// Received messages not marked read yet.
    pub unread: i64,
}

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct MessageLog {
    pub id: i64,
    pub session_id: String,
    pub direction: String,
    pub message_id: String,
    pub wa_message_id: Option<String>,
    pub chat_jid: String,
    pub message_type: String,
    pub content_preview: Option<String>,
    pub status: String,
    pub error: Option<String>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sender_jid: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub played_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    /// The batch the message was sent in, if any.
    pub batch_id: Option<String>,
    /// A scheduled message: when it is due.
    pub scheduled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewMessageLog {
    pub session_id: String,
    pub direction: Direction,
    pub message_id: String,
    pub wa_message_id: Option<String>,
    pub chat_jid: String,
    pub message_type: String,
    pub content_preview: Option<String>,
    pub status: String,
    pub request_id: Option<String>,
    /// Incoming: the author, when it is not the chat itself (groups).
    pub sender_jid: Option<String>,
    pub batch_id: Option<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// Delivery steps of an outgoing message, in order; a receipt only ever
/// moves a message forward.
pub const ACK_STEPS: [&str; 4] = ["sent", "delivered", "read", "played"];

/// What an idempotency-key reservation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new: it now belongs to this request's message.
    New,
    /// The key was used before (and has not expired).
    Existing { request_hash: String, message_id: String },
}

/// Optional filters of a message-log listing; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct MessageLogFilter {
    pub direction: Option<Direction>,
    pub chat_jid: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct Webhook {
    pub id: String,
    pub session_id: String,
    pub url: String,
    pub events: Json<Vec<String>>,
    #[serde(skip)]
    pub secret: String,
    pub headers: Json<Value>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub id: String,
    pub session_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub headers: Value,
}

/// Fields of a webhook to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub secret: Option<String>,
    pub headers: Option<Value>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct WebhookDelivery {
    pub id: i64,
    pub session_id: String,
    pub webhook_id: Option<String>,
    pub webhook_url: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: Json<Value>,
    pub status: String,
    pub attempts: i32,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewWebhookDelivery {
    pub session_id: String,
    pub webhook_id: Option<String>,
    pub webhook_url: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: Value,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone)]
pub struct DeliveryAttempt {
    /// `pending` (will retry), `delivered`, `failed` or `dead`.
    pub status: String,
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub session_id: Option<String>,
    pub webhook_id: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct SessionEvent {
    pub id: i64,
    pub session_id: String,
    pub event_type: String,
    pub details: Json<Value>,
    pub created_at: DateTime<Utc>,
}

/// An engine's credentials for one session: engine-defined JSON.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct Credentials {
    pub session_id: String,
    pub engine: String,
    pub data: Json<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A lifecycle transition to record: the new status and the audit row.
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    pub status: &'a str,
    /// Kept in `sessions.last_error`; `None` clears it.
    pub error: Option<&'a str>,
    /// `session_events.event_type`.
    pub event_type: &'a str,
    pub details: &'a Value,
}

/// One delivery attempt as recorded.
#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct WebhookAttempt {
    pub id: i64,
    pub delivery_id: i64,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewWebhookAttempt {
    pub delivery_id: i64,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}
