//! Labels (WhatsApp Business labels; lists on personal accounts): named,
//! coloured tags on chats, kept in WhatsApp's app state and synced between
//! the phone and linked devices.

use serde::Serialize;

/// Colours WhatsApp's clients offer (an index into their palette).
pub const LABEL_COLORS: i32 = 20;

/// A change to the account's labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum LabelChange {
    /// Created, renamed or recoloured (None: unchanged), or deleted.
    Edited { label: String, name: Option<String>, color: Option<i32>, deleted: bool },
    /// Put on a chat, or taken off it.
    Chat { label: String, chat: super::Jid, labeled: bool },
}
