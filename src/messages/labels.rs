//! Labels: recorded as changed through the API or reported from the phone,
//! announced as `label.updated` (created, changed, deleted) and
//! `chat.labels` (put on or taken off a chat); a change that changes
//! nothing is neither.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::sessions::EventHub;
use crate::store::{Label, Store, StoreError, StoreResult};
use crate::wa::LabelChange;

/// A label as the API and events show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"id": "3", "name": "New customer", "color": 4, "chats": 12, "updated_at": "2026-12-07T21:30:00Z"}))]
pub struct LabelView {
    pub id: String,
    pub name: String,
    /// WhatsApp's colour index, 0–19.
    pub color: i32,
    /// How many chats carry it.
    pub chats: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<Label> for LabelView {
    fn from(l: Label) -> Self {
        Self { id: l.label_id, name: l.name, color: l.color, chats: l.chats, updated_at: l.updated_at }
    }
}

/// Where a change came from (a metric label).
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Api,
    Phone,
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The label as it now is.
    Label(LabelView),
    Deleted,
    /// A chat's labels changed (or already were so: false).
    Chat(bool),
    /// The label does not exist (a rename, delete or chat change of a label
    /// the session does not have).
    Unknown,
}

fn counted(source: Source) {
    let source = match source {
        Source::Api => "api",
        Source::Phone => "phone",
    };
    metrics::counter!("wag_label_changes_total", "source" => source).increment(1);
}

/// Records `change` and announces it.
pub async fn apply(
    store: &Store,
    hub: &EventHub,
    session_id: &str,
    change: &LabelChange,
    (source, request_id): (Source, Option<String>),
) -> StoreResult<Applied> {
    let publish = |event: &str, data: serde_json::Value| {
        counted(source);
        hub.publish_with(session_id, event, data, request_id.clone());
    };
    Ok(match change {
        LabelChange::Edited { label, deleted: true, .. } => {
            if !store.labels.delete(session_id, label).await? {
                return Ok(Applied::Unknown);
            }
            publish("label.updated", json!({"id": label, "deleted": true}));
            Applied::Deleted
        }
        LabelChange::Edited { label, name, color, .. } => {
            match store.labels.put(session_id, label, name.as_deref(), *color).await? {
                Some(saved) => {
                    let view = LabelView::from(saved);
                    let mut data = serde_json::to_value(&view).unwrap_or_default();
                    data["deleted"] = false.into();
                    publish("label.updated", data);
                    Applied::Label(view)
                }
                None => Applied::Unknown,
            }
        }
        LabelChange::Chat { label, chat, labeled } => {
            match store.labels.set_chat(session_id, label, &chat.to_string(), *labeled).await {
                Ok(true) => {
                    publish("chat.labels", json!({"chat": chat, "label": label, "labeled": labeled}));
                    Applied::Chat(true)
                }
                Ok(false) => Applied::Chat(false),
                Err(StoreError::MissingReference) => Applied::Unknown,
                Err(e) => return Err(e),
            }
        }
    })
}
