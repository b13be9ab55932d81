//! What a session is doing right now, kept in memory by its task and read
//! by `GET /sessions/{id}` without touching the database.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::backoff::BreakerState;
use super::status::Status;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"status": "reconnecting", "reconnect_attempts": 2, "reconnects": 1, "breaker": "closed",
    "next_retry_at": "2026-11-30T12:00:02Z", "connected_since": null, "last_activity_at": "2026-11-30T11:59:58Z",
    "last_error": "could not connect: connection refused"}))]
pub struct Runtime {
    pub status: Status,
    /// Consecutive failed connection attempts (0 while connected).
    pub reconnect_attempts: u32,
    /// Successful reconnections since the session was started.
    pub reconnects: u64,
    pub breaker: BreakerState,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub connected_since: Option<DateTime<Utc>>,
    /// Last event on the connection (message, receipt, status change).
    pub last_activity_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    #[serde(skip)]
    pub qr: Option<(String, DateTime<Utc>)>,
}

impl Runtime {
    pub fn new() -> Self {
        Self {
            status: Status::Starting,
            reconnect_attempts: 0,
            reconnects: 0,
            breaker: BreakerState::Closed,
            next_retry_at: None,
            connected_since: None,
            last_activity_at: None,
            last_error: None,
            qr: None,
        }
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}
