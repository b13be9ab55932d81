//! Receipts and incoming messages: into the message log, out as events.

use async_trait::async_trait;
use serde_json::json;

use crate::sessions::{EventHub, MessageSink};
use crate::store::{Direction, MessageLog, NewMessageLog, Store};
use crate::wa::{Ack, IncomingBody, IncomingMessage, Receipt};

pub struct Tracker {
    pub store: Store,
    pub hub: EventHub,
    pub preview_chars: usize,
}

/// The `message.status` event of a log row.
pub fn status_event(log: &MessageLog) -> serde_json::Value {
    json!({
        "id": log.message_id,
        "wa_id": log.wa_message_id,
        "chat": log.chat_jid,
        "status": log.status,
        "error": log.error,
        "at": log.updated_at,
    })
}

fn kind_and_preview(body: &IncomingBody) -> (String, Option<&str>) {
    match body {
        IncomingBody::Text { text } => ("text".into(), Some(text)),
        IncomingBody::Media { kind, caption, .. } => (kind.clone(), caption.as_deref()),
        IncomingBody::Location { name, .. } => ("location".into(), name.as_deref()),
        IncomingBody::Contact { display_name, .. } => ("contact".into(), Some(display_name)),
        IncomingBody::Reaction { emoji, .. } => ("reaction".into(), Some(emoji)),
        IncomingBody::Poll { question, .. } => ("poll".into(), Some(question)),
        IncomingBody::Edited { text, .. } => ("edit".into(), Some(text)),
        IncomingBody::Revoked { .. } => ("revoke".into(), None),
        IncomingBody::Unsupported { .. } => ("unsupported".into(), None),
    }
}

pub fn cap_preview(text: Option<&str>, chars: usize) -> Option<String> {
    text.filter(|_| chars > 0).map(|t| t.chars().take(chars).collect())
}

#[async_trait]
impl MessageSink for Tracker {
    async fn incoming(&self, session_id: &str, m: &IncomingMessage) {
        let (kind, preview) = kind_and_preview(&m.body);
        let new = NewMessageLog {
            session_id: session_id.to_owned(),
            direction: if m.from_me { Direction::Outgoing } else { Direction::Incoming },
            message_id: m.id.as_str().to_owned(),
            wa_message_id: Some(m.id.as_str().to_owned()),
            chat_jid: m.chat.to_string(),
            message_type: kind,
            content_preview: cap_preview(preview, self.preview_chars),
            status: if m.from_me { "sent".into() } else { "received".into() },
            request_id: None,
            sender_jid: (m.sender != m.chat).then(|| m.sender.to_string()),
        };
        if let Err(e) = self.store.message_logs.insert_ignore(&new).await {
            tracing::warn!(session = session_id, error = %e, "could not log an incoming message");
        }
        metrics::counter!("wag_messages_received_total").increment(1);
        self.hub.publish(session_id, "message.received", serde_json::to_value(m).unwrap_or_default());
    }

    async fn receipt(&self, session_id: &str, r: &Receipt) {
        let step = match r.ack {
            Ack::Delivered => "delivered",
            Ack::Read => "read",
            Ack::Played => "played",
            Ack::Sent => return,
        };
        let mut unmatched = Vec::new();
        for id in &r.ids {
            match self.store.message_logs.advance(session_id, id.as_str(), step).await {
                Ok(Some(log)) => {
                    metrics::counter!("wag_message_receipts_total", "status" => step).increment(1);
                    self.hub.publish(session_id, "message.status", status_event(&log));
                }
                Ok(None) => match self.store.message_logs.find_by_wa_id(session_id, id.as_str()).await {
                    Ok(Some(_)) => {} // known, and already as far or further: a late receipt
                    Ok(None) => unmatched.push(id.clone()),
                    Err(e) => {
                        tracing::warn!(session = session_id, error = %e, "could not look up a receipt's message")
                    }
                },
                Err(e) => tracing::warn!(session = session_id, error = %e, "could not apply a receipt"),
            }
        }
        if !unmatched.is_empty() {
            // Messages the gateway did not send (e.g. from the phone): pass the receipt on as is.
            let raw = Receipt { ids: unmatched, ..r.clone() };
            self.hub.publish(session_id, "message.ack", serde_json::to_value(raw).unwrap_or_default());
        }
    }
}
