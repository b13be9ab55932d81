//! The gateway's event stream: what sessions report, for webhooks and any
//! other subscriber. Publishing never blocks a session.
//!
//! Two ways out. The one durable consumer, webhook dispatch, takes every
//! event from an unbounded channel ([`EventHub::take_durable`]): it must
//! not lose one when a burst outruns its database writes, and its backlog
//! is a gauge (`wag_event_backlog`) rather than a silent drop. Any other
//! subscriber gets a broadcast receiver, which loses the oldest events when
//! it falls more than the buffer behind and is told so (`Lagged`).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

/// Receives a session's messages and receipts, in order, before the session
/// handles its next event (so a receipt is never processed before the
/// message it belongs to was recorded).
#[async_trait]
pub trait MessageSink: Send + Sync {
    async fn incoming(&self, session_id: &str, message: &crate::wa::IncomingMessage);
    async fn receipt(&self, session_id: &str, receipt: &crate::wa::Receipt);
    /// Queues a text to `chat` like any accepted message (logged, durable,
    /// paced); the message's id.
    async fn reply(&self, session_id: &str, chat: &crate::wa::Jid, text: &str) -> Result<String, String>;
    /// A chat was archived, pinned or muted on another device.
    async fn chat_changed(&self, session_id: &str, chat: &crate::wa::Jid, change: &crate::wa::ChatChange);
    /// A person was saved or renamed in the address book on another device.
    async fn contact_saved(
        &self,
        session_id: &str,
        contact: &crate::wa::Jid,
        name: &str,
        first_name: Option<&str>,
    );
    /// A label was edited, or put on or taken off a chat, on another device.
    async fn label_changed(&self, session_id: &str, change: &crate::wa::LabelChange);
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

/// The durable consumer's end of the stream.
pub type DurableEvents = mpsc::UnboundedReceiver<Arc<GatewayEvent>>;

#[derive(Clone)]
pub struct EventHub {
    tx: broadcast::Sender<Arc<GatewayEvent>>,
    durable: mpsc::UnboundedSender<Arc<GatewayEvent>>,
    /// Until the durable consumer takes it: events published before it
    /// starts wait here instead of being lost.
    durable_rx: Arc<Mutex<Option<DurableEvents>>>,
}

impl EventHub {
    pub fn new(capacity: usize) -> Self {
        let (durable, rx) = mpsc::unbounded_channel();
        Self { tx: broadcast::channel(capacity).0, durable, durable_rx: Arc::new(Mutex::new(Some(rx))) }
    }

    /// Every event from the hub's creation on, none dropped; once (the
    /// webhook dispatcher takes it). None when already taken.
    pub fn take_durable(&self) -> Option<DurableEvents> {
        self.durable_rx.lock().expect("durable receiver lock").take()
    }

    pub fn publish(&self, session_id: &str, event: &str, data: Value) {
        self.publish_with(session_id, event, data, None);
    }

    /// Publishes an event caused by the API request `request_id`.
    pub fn publish_with(&self, session_id: &str, event: &str, mut data: Value, request_id: Option<String>) {
        // Names, subjects and texts from WhatsApp may hold NUL, which the
        // delivery log (PostgreSQL JSONB) cannot store.
        crate::wa::text::clean_json(&mut data);
        let event = GatewayEvent {
            id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
            session_id: session_id.to_owned(),
            event: event.to_owned(),
            timestamp: Utc::now(),
            request_id,
            data,
        };
        metrics::counter!("wag_events_published_total", "event" => event.event.clone()).increment(1);
        let event = Arc::new(event);
        // Fails only once the durable consumer has stopped (shutdown).
        if self.durable.send(event.clone()).is_ok() {
            metrics::gauge!("wag_event_backlog").increment(1.0);
        }
        // No subscriber is not an error: nobody asked for events yet.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<GatewayEvent>> {
        self.tx.subscribe()
    }
}
