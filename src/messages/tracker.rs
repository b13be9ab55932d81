//! Receipts and incoming messages: into the message log, out as events.

use std::borrow::Cow;

use async_trait::async_trait;
use serde_json::json;

use crate::sessions::{EventHub, MessageSink};
use crate::store::{Direction, MessageLog, NewMessageLog};
use crate::wa::{Ack, IncomingBody, IncomingMessage, Jid, Receipt};

pub struct Tracker {
    pub writer: super::writer::LogWriter,
    pub hub: EventHub,
    pub preview_chars: usize,
    /// A message from a number proves it is on WhatsApp.
    pub checks: std::sync::Arc<crate::contacts::CheckCache>,
    /// Where received media handles are kept.
    pub store: crate::store::Store,
    /// For messages the gateway sends by itself (a call's reject message).
    pub max_attempts: u32,
    /// People's names, as their messages carry them.
    pub push_names: crate::contacts::book::PushNames,
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

fn text(t: &str) -> Option<Cow<'_, str>> {
    Some(Cow::Borrowed(t))
}

fn kind_and_preview(body: &IncomingBody) -> (String, Option<Cow<'_, str>>) {
    match body {
        IncomingBody::Text { text: t } => ("text".into(), text(t)),
        IncomingBody::Media { kind, caption, .. } => (kind.clone(), caption.as_deref().and_then(text)),
        IncomingBody::Location { name, .. } => ("location".into(), name.as_deref().and_then(text)),
        IncomingBody::Contact { display_name, .. } => ("contact".into(), text(display_name)),
        IncomingBody::Reaction { emoji, .. } => ("reaction".into(), text(emoji)),
        IncomingBody::Poll { question, .. } => ("poll".into(), text(question)),
        IncomingBody::PollVote { selected, .. } => {
            ("poll_vote".into(), Some(Cow::Owned(selected.join(", "))))
        }
        IncomingBody::Edited { text: t, .. } => ("edit".into(), text(t)),
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
        if let Some(phone) = m.sender.phone().filter(|_| !m.from_me) {
            self.checks.learn(session_id, &phone, true);
        }
        if let Some(name) = m.push_name.as_deref().filter(|n| !m.from_me && !n.is_empty()) {
            self.push_names.note(&self.store, &self.hub, session_id, &m.sender.to_string(), name).await;
        }
        // A vote is read against its poll before it is logged or announced.
        let (vote, read) = match &m.body {
            IncomingBody::PollVote { .. } => {
                let (read, poll) = super::polls::resolve(&self.store, session_id, m).await;
                (poll, Some(read))
            }
            _ => (None, None),
        };
        let m = read.as_ref().unwrap_or(m);
        let (kind, preview) = kind_and_preview(&m.body);
        metrics::counter!("wag_messages_received_total", "type" => kind.clone()).increment(1);
        let new = NewMessageLog {
            session_id: session_id.to_owned(),
            direction: if m.from_me { Direction::Outgoing } else { Direction::Incoming },
            message_id: m.id.as_str().to_owned(),
            wa_message_id: Some(m.id.as_str().to_owned()),
            chat_jid: m.chat.to_string(),
            message_type: kind,
            content_preview: cap_preview(preview.as_deref(), self.preview_chars),
            status: if m.from_me { "sent".into() } else { "received".into() },
            request_id: None,
            sender_jid: (m.sender != m.chat).then(|| m.sender.to_string()),
            batch_id: None,
            scheduled_at: None,
        };
        match &m.body {
            IncomingBody::Media { handle: Some(handle), .. } => {
                // The handle refers to the row: it must be committed first.
                let message_id = new.message_id.clone();
                self.writer.incoming_committed(new).await;
                if let Err(e) =
                    self.store.message_logs.put_media_handle(session_id, &message_id, handle).await
                {
                    tracing::warn!(session = session_id, error = %e, "could not keep the media's download handle");
                }
            }
            IncomingBody::Poll { question, options, selectable } => {
                // Votes name the options by hash: the poll must be kept to read them.
                let poll = crate::store::NewPoll {
                    session_id: session_id.to_owned(),
                    message_id: new.message_id.clone(),
                    wa_message_id: m.id.as_str().to_owned(),
                    chat_jid: new.chat_jid.clone(),
                    question: question.clone(),
                    options: options.clone(),
                    selectable: *selectable,
                };
                self.writer.incoming_committed(new).await;
                super::polls::keep(&self.store, poll).await;
            }
            _ => self.writer.incoming(new).await,
        }
        if let Some(poll) = vote {
            super::polls::record(&self.store, &self.hub, session_id, m, &poll).await;
        }
        let data = serde_json::to_value(m).unwrap_or_default();
        // Reactions also come as their own event, for subscribers that want only them.
        if let IncomingBody::Reaction { target, emoji } = &m.body {
            let reaction = serde_json::json!({
                "id": m.id, "chat": m.chat, "sender": m.sender, "from_me": m.from_me,
                "target": target, "emoji": emoji, "removed": emoji.is_empty(), "timestamp": m.timestamp,
            });
            self.hub.publish(session_id, "message.reaction", reaction);
        }
        self.hub.publish(session_id, "message.received", data);
    }

    async fn receipt(&self, session_id: &str, r: &Receipt) {
        if r.ack == Ack::Sent {
            return;
        }
        // One item per id: each message's row moves on its own.
        for id in &r.ids {
            self.writer.receipt(session_id, Receipt { ids: vec![id.clone()], ..r.clone() }).await;
        }
    }

    async fn chat_changed(&self, session_id: &str, chat: &Jid, change: &crate::wa::ChatChange) {
        let chat = chat.to_string();
        if let Err(e) =
            super::chat_settings::apply(&self.store, &self.hub, session_id, &chat, change, None).await
        {
            tracing::warn!(session = session_id, chat, error = %e, "could not record a chat's settings");
        }
    }

    async fn contact_saved(&self, session_id: &str, contact: &Jid, name: &str, first_name: Option<&str>) {
        use crate::contacts::book;
        let change = crate::store::ContactChange::Saved {
            name: name.to_owned(),
            first_name: first_name.map(str::to_owned),
        };
        let source = (book::Source::Phone, None);
        if let Err(e) =
            book::apply(&self.store, &self.hub, session_id, &contact.to_string(), &change, source).await
        {
            tracing::warn!(session = session_id, error = %e, "could not record a saved contact");
        }
    }

    async fn label_changed(&self, session_id: &str, change: &crate::wa::LabelChange) {
        let source = (super::labels::Source::Phone, None);
        if let Err(e) = super::labels::apply(&self.store, &self.hub, session_id, change, source).await {
            tracing::warn!(session = session_id, error = %e, "could not record a label change");
        }
    }

    async fn reply(&self, session_id: &str, chat: &Jid, text: &str) -> Result<String, String> {
        let outgoing = super::outgoing::Outgoing::text(session_id, &chat.to_string(), text);
        let (log, job) =
            outgoing.into_rows(self.preview_chars, self.max_attempts).map_err(|e| e.to_string())?;
        let id = log.message_id.clone();
        self.writer.accept(log, job).await?;
        metrics::counter!("wag_messages_total", "result" => "queued").increment(1);
        Ok(id)
    }
}
