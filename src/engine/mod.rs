//! The engine seam: one WhatsApp connection for one session, behind a trait
//! that speaks only the gateway's types (`crate::wa`).
//!
//! Contract every engine keeps:
//! - `connect` opens the connection once and does **not** reconnect by
//!   itself: the session manager owns retries, backoff and the breaker.
//! - everything the network reports goes out through the session's ordered
//!   event channel (`EngineContext::events`), never through spawned tasks;
//! - credentials live in the gateway store (`EngineContext::credentials`).
//!
//! Layout: `mod.rs` the trait, its errors and the factory; `sandbox/` the
//! simulated network; `whatsapp/` the real engine on whatsapp-rust.

pub mod sandbox;
pub mod whatsapp;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::ids::SessionId;
use crate::store::CredentialRepo;
use crate::wa::*;

/// Why an engine call failed, in terms the API maps to stable codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The session is not logged in and connected right now.
    #[error("the session is not connected")]
    NotConnected,
    /// A link (QR or pairing code) is only possible while the session waits for one.
    #[error("the session is not waiting to be linked")]
    NotAwaitingLink,
    #[error("the session is not linked to an account")]
    NotLinked,
    #[error("could not connect: {0}")]
    ConnectFailed(String),
    #[error("{0} is not on WhatsApp")]
    NotOnWhatsApp(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The change is already in place (a member joining again, …).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the {0} engine does not support this")]
    Unsupported(&'static str),
    #[error("timed out")]
    Timeout,
    #[error("engine failure: {0}")]
    Internal(String),
}

pub type EngineResult<T> = Result<T, EngineError>;

/// One session's connection to WhatsApp.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Opens the connection. Linked sessions log in (`Connected` follows);
    /// unlinked ones wait for a link (`Qr` events follow).
    async fn connect(&self) -> EngineResult<()>;
    /// Closes the connection, keeping credentials.
    async fn disconnect(&self);
    /// Unlinks the device at WhatsApp and erases the credentials.
    async fn logout(&self) -> EngineResult<()>;
    /// Asks for an 8-character code to type on the phone of `phone`.
    async fn request_pair_code(&self, phone: &PhoneNumber) -> EngineResult<String>;

    async fn send(&self, to: &Jid, message: &OutgoingMessage) -> EngineResult<SentMessage>;
    async fn edit(&self, chat: &Jid, id: &MessageId, text: &str) -> EngineResult<SentMessage>;
    async fn revoke(&self, chat: &Jid, id: &MessageId) -> EngineResult<()>;
    async fn mark_read(&self, chat: &Jid, sender: Option<&Jid>, ids: &[MessageId]) -> EngineResult<()>;
    async fn set_chat_state(&self, chat: &Jid, state: ChatState) -> EngineResult<()>;

    async fn check_numbers(&self, phones: &[PhoneNumber]) -> EngineResult<Vec<NumberCheck>>;
    async fn contact(&self, jid: &Jid) -> EngineResult<ContactInfo>;
    async fn set_blocked(&self, jid: &Jid, blocked: bool) -> EngineResult<()>;

    async fn create_group(&self, subject: &str, participants: &[Jid]) -> EngineResult<GroupInfo>;
    async fn group(&self, group: &Jid) -> EngineResult<GroupInfo>;
    async fn groups(&self) -> EngineResult<Vec<GroupInfo>>;
    async fn update_participants(
        &self,
        group: &Jid,
        action: ParticipantAction,
        participants: &[Jid],
    ) -> EngineResult<Vec<ParticipantResult>>;
    async fn leave_group(&self, group: &Jid) -> EngineResult<()>;
    /// Changes subject, description or settings (admins only when locked).
    async fn update_group(&self, group: &Jid, change: &GroupChange) -> EngineResult<GroupInfo>;
    /// The group's invite code (`https://chat.whatsapp.com/<code>`); `reset`
    /// revokes the current one and returns its replacement. Admins only.
    async fn group_invite(&self, group: &Jid, reset: bool) -> EngineResult<String>;
    /// Joins by invite code; the group as it is after joining.
    async fn join_group(&self, code: &str) -> EngineResult<GroupInfo>;
    /// Everyone this account blocked.
    async fn blocklist(&self) -> EngineResult<Vec<Jid>>;
    /// Shows this account as online ("available") or not to its contacts.
    async fn set_presence(&self, available: bool) -> EngineResult<()>;
    /// Fetches a received media file by the handle its message came with.
    async fn download_media(&self, handle: &str) -> EngineResult<DownloadedMedia>;
    /// Declines a ringing call: the caller sees it declined, as if the
    /// phone's red button was pressed. NotFound when it no longer rings.
    async fn reject_call(&self, call: &CallOffer) -> EngineResult<()>;
    /// Changes this account's display name, about text or picture, in
    /// that order (a failure leaves the earlier parts changed). A name
    /// change is also reported as a `PushName` event.
    async fn set_profile(&self, change: &ProfileChange) -> EngineResult<()>;
    /// Archives, pins or mutes a chat (or the reverse) for the account, as
    /// on the phone; the other devices of the account follow.
    async fn set_chat(&self, chat: &Jid, change: &ChatChange) -> EngineResult<()>;
    /// Saves a person in the account's address book under `name` (or
    /// renames them); the other devices of the account follow.
    async fn save_contact(&self, contact: &Jid, name: &str, first_name: Option<&str>) -> EngineResult<()>;
    /// Creates, changes or deletes a label, or puts one on a chat or takes
    /// it off; the other devices of the account follow.
    async fn change_label(&self, change: &LabelChange) -> EngineResult<()>;
}

/// What an engine gets from the session that owns it.
#[derive(Clone)]
pub struct EngineContext {
    pub session_id: SessionId,
    /// The ordered event channel; bounded, so a stalled consumer slows the
    /// engine instead of growing memory.
    pub events: mpsc::Sender<EngineEvent>,
    pub credentials: Arc<dyn CredentialRepo>,
}

/// Builds engines of one kind.
pub trait EngineFactory: Send + Sync {
    fn create(&self, ctx: EngineContext) -> Arc<dyn Engine>;
}
