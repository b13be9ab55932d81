//! The gateway's event stream: what sessions report, for webhooks and any
//! other subscriber. Publishing never blocks a session; a subscriber that
//! falls more than the buffer behind loses the oldest events and is told so
//! (`RecvError::Lagged`), which is why durable consumers (webhook delivery)
//! turn events into queue jobs as they arrive.

use std::sync::Arc;

use async_trait::async_trait;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

/// Receives a session's messages and receipts, in order, before the session
/// handles its next event (so a receipt is never processed before the
/// message it belongs to was recorded).
#[async_trait]
pub trait MessageSink: Send + Sync {
    async fn incoming(&self, session_id: &str, message: &crate::wa::IncomingMessage);
    async fn receipt(&self, session_id: &str, receipt: &crate::wa::Receipt);
}

/// One event, as webhooks receive it.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayEvent {
    /// `evt_` + UUIDv7: unique, time-ordered; the webhook idempotency key.
    pub id: String,
    pub session_id: String,
    /// e.g. `session.status`, `session.qr`, `session.failed`, `message`, `message.ack`.
    pub event: String,
    pub timestamp: DateTime<Utc>,
    /// The API request that caused it, when one did.
    pub request_id: Option<String>,
    pub data: Value,
}

#[derive(Clone)]
pub struct EventHub {
    tx: broadcast::Sender<Arc<GatewayEvent>>,
}

impl EventHub {
    pub fn new(capacity: usize) -> Self {
        Self { tx: broadcast::channel(capacity).0 }
    }

    pub fn publish(&self, session_id: &str, event: &str, data: Value) {
        self.publish_with(session_id, event, data, None);
    }

    /// Publishes an event caused by the API request `request_id`.
    pub fn publish_with(&self, session_id: &str, event: &str, data: Value, request_id: Option<String>) {
        let event = GatewayEvent {
            id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
            session_id: session_id.to_owned(),
            event: event.to_owned(),
            timestamp: Utc::now(),
            request_id,
            data,
        };
        metrics::counter!("wag_events_published_total", "event" => event.event.clone()).increment(1);
        // No subscriber is not an error: nobody asked for events yet.
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<GatewayEvent>> {
        self.tx.subscribe()
    }
}
