//! What an engine reports, in the order it happened. Sessions consume these
//! one at a time, so a receipt can never overtake the message it is for.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::call::{CallEnded, CallOffer};
use super::chat::ChatChange;
use super::jid::{Jid, PhoneNumber};
use super::label::LabelChange;
use super::message::{ChatState, GroupInfo, IncomingMessage, Receipt};

/// Why the connection closed, as far as the gateway cares: only
/// `Network`-like causes are worth reconnecting for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DisconnectReason {
    /// The socket dropped or timed out: reconnect.
    Network { detail: String },
    /// The account removed this device, or its credentials are invalid.
    LoggedOut { detail: String },
    /// Another client connected with the same credentials.
    StreamReplaced,
    /// WhatsApp banned the account for a while.
    TemporaryBan { code: u32, expires_at: Option<DateTime<Utc>> },
}

impl DisconnectReason {
    /// Whether reconnecting can possibly help.
    pub fn retryable(&self) -> bool {
        matches!(self, DisconnectReason::Network { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A QR payload to show until it expires; replaced by the next one.
    Qr {
        code: String,
        expires_at: DateTime<Utc>,
    },
    /// The phone accepted the link; credentials are stored.
    PairSuccess {
        phone: PhoneNumber,
        push_name: Option<String>,
    },
    /// Linking failed (wrong code, QR expired for good, …).
    PairError {
        reason: String,
    },
    /// Logged in and ready to send.
    Connected {
        phone: PhoneNumber,
        push_name: Option<String>,
    },
    /// The connection ended.
    Disconnected {
        reason: DisconnectReason,
    },
    Message(IncomingMessage),
    Receipt(Receipt),
    /// Group created, subject changed, participants changed, …
    GroupUpdate {
        group: GroupInfo,
        action: String,
        actor: Option<Jid>,
    },
    /// Our own display name changed.
    PushName {
        push_name: String,
    },
    /// A contact came online or went offline.
    Presence {
        from: Jid,
        available: bool,
    },
    /// Someone is typing, recording or stopped, in a chat with this account.
    ChatState {
        chat: Jid,
        sender: Jid,
        state: ChatState,
    },
    /// Someone is calling this account.
    Call(CallOffer),
    /// A call stopped ringing (missed, or taken or declined on the phone).
    CallEnded(CallEnded),
    /// A chat was archived, pinned or muted (or the reverse) on another
    /// device of the account.
    ChatChanged {
        chat: Jid,
        change: ChatChange,
    },
    /// A person was saved or renamed in the account's address book on
    /// another device.
    ContactSaved {
        contact: Jid,
        name: String,
        first_name: Option<String>,
    },
    /// A label was edited, or put on or taken off a chat, on another device.
    Label(LabelChange),
}

impl EngineEvent {
    /// The webhook event name this maps to.
    pub fn name(&self) -> &'static str {
        match self {
            EngineEvent::Qr { .. } => "session.qr",
            EngineEvent::PairSuccess { .. } => "session.paired",
            EngineEvent::PairError { .. } => "session.pair_failed",
            EngineEvent::Connected { .. } => "session.connected",
            EngineEvent::Disconnected { .. } => "session.disconnected",
            EngineEvent::Message(_) => "message",
            EngineEvent::Receipt(_) => "message.ack",
            EngineEvent::GroupUpdate { .. } => "group.updated",
            EngineEvent::PushName { .. } => "session.push_name",
            EngineEvent::ChatState { .. } => "chat.state",
            EngineEvent::Presence { .. } => "presence.update",
            EngineEvent::Call(_) => "call.received",
            EngineEvent::CallEnded(_) => "call.ended",
            EngineEvent::ChatChanged { .. } => "chat.updated",
            EngineEvent::ContactSaved { .. } => "contact.updated",
            EngineEvent::Label(LabelChange::Edited { .. }) => "label.updated",
            EngineEvent::Label(LabelChange::Chat { .. }) => "chat.labels",
        }
    }
}
