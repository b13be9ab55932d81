//! Per-chat settings (archived, pinned, muted): recorded as set through the
//! API or reported from the phone, announced as `chat.updated`, shown in the
//! chat list.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::sessions::EventHub;
use crate::store::{ChatSettings, ChatSettingsChange, Store, StoreResult};
use crate::wa::{ChatChange, Mute};

/// WhatsApp shows at most this many pinned chats.
pub const MAX_PINNED: i64 = 3;

/// A chat's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"chat": "491709876543@s.whatsapp.net", "archived": false, "pinned": true,
    "muted": true, "muted_until": "2026-12-08T08:00:00Z"}))]
pub struct ChatSettingsView {
    pub chat: String,
    pub archived: bool,
    pub pinned: bool,
    pub muted: bool,
    /// When the mute ends; null when not muted or muted for good.
    pub muted_until: Option<DateTime<Utc>>,
}

impl ChatSettingsView {
    /// Every setting off.
    pub fn default_for(chat: &str) -> Self {
        Self { chat: chat.to_owned(), archived: false, pinned: false, muted: false, muted_until: None }
    }

    pub fn new(s: &ChatSettings, now: DateTime<Utc>) -> Self {
        let mute = Mute::from_until(s.muted_until, now);
        Self {
            chat: s.chat_jid.clone(),
            archived: s.archived,
            pinned: s.pinned,
            muted: mute != Mute::Off,
            muted_until: match mute {
                Mute::Until(at) => Some(at),
                Mute::Off | Mute::Forever => None,
            },
        }
    }
}

fn stored(change: &ChatChange) -> ChatSettingsChange {
    ChatSettingsChange {
        archived: change.archived,
        pinned: change.pinned,
        muted_until: change.mute.map(Mute::until),
    }
}

/// Records `change` to `chat` and announces the chat's settings.
pub async fn apply(
    store: &Store,
    hub: &EventHub,
    session_id: &str,
    chat: &str,
    change: &ChatChange,
    request_id: Option<String>,
) -> StoreResult<ChatSettingsView> {
    let settings = store.chats.apply(session_id, chat, &stored(change)).await?;
    let view = ChatSettingsView::new(&settings, Utc::now());
    hub.publish_with(session_id, "chat.updated", serde_json::to_value(&view).unwrap_or_default(), request_id);
    Ok(view)
}
