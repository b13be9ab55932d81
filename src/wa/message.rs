//! Messages as the gateway sends and receives them, independent of engine.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::jid::{Jid, MessageId};

/// Media bytes already fetched and checked by the gateway. Cheap to clone so
/// a retried send does not copy the file.
#[derive(Clone, PartialEq, Eq)]
pub struct Media {
    pub data: Arc<[u8]>,
    pub mime_type: String,
    pub file_name: Option<String>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("bytes", &self.data.len())
            .field("mime_type", &self.mime_type)
            .field("file_name", &self.file_name)
            .finish()
    }
}

/// What can be sent. Every engine maps every variant or answers
/// `EngineError::Unsupported`.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text {
        body: String,
    },
    Image {
        media: Media,
        caption: Option<String>,
    },
    Video {
        media: Media,
        caption: Option<String>,
        gif: bool,
    },
    /// `voice` sends a push-to-talk note rather than an audio file.
    Audio {
        media: Media,
        voice: bool,
    },
    Document {
        media: Media,
        caption: Option<String>,
    },
    Sticker {
        media: Media,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    Contact {
        display_name: String,
        vcard: String,
    },
    /// An empty `emoji` removes the reaction.
    Reaction {
        target: MessageRef,
        emoji: String,
    },
    Poll {
        question: String,
        options: Vec<String>,
        selectable: u32,
    },
    /// This account's whole choice on a poll; empty takes its vote back.
    PollVote {
        poll: MessageRef,
        options: Vec<String>,
    },
}

impl Content {
    /// The stable name of the kind, as stored in the message log.
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text { .. } => "text",
            Content::Image { .. } => "image",
            Content::Video { .. } => "video",
            Content::Audio { voice: true, .. } => "voice",
            Content::Audio { .. } => "audio",
            Content::Document { .. } => "document",
            Content::Sticker { .. } => "sticker",
            Content::Location { .. } => "location",
            Content::Contact { .. } => "contact",
            Content::Reaction { .. } => "reaction",
            Content::Poll { .. } => "poll",
            Content::PollVote { .. } => "poll_vote",
        }
    }

    /// A short human-readable preview for logs and listings.
    pub fn preview(&self) -> Option<String> {
        let text = match self {
            Content::Text { body } => Some(body.as_str()),
            Content::Image { caption, .. }
            | Content::Video { caption, .. }
            | Content::Document { caption, .. } => caption.as_deref(),
            Content::Location { name, .. } => name.as_deref(),
            Content::Contact { display_name, .. } => Some(display_name.as_str()),
            Content::Reaction { emoji, .. } => Some(emoji.as_str()),
            Content::Poll { question, .. } => Some(question.as_str()),
            Content::PollVote { options, .. } => return Some(options.join(", ").chars().take(120).collect()),
            Content::Audio { .. } | Content::Sticker { .. } => None,
        }?;
        Some(text.chars().take(120).collect())
    }
}

/// A message being pointed at: by a reply, a reaction, an edit or a revoke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageRef {
    pub chat: Jid,
    pub id: MessageId,
    /// Whether the referenced message was sent by this session.
    pub from_me: bool,
    /// Who sent it, in groups (the participant).
    pub sender: Option<Jid>,
}

/// One message to send: content plus context.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    /// The WhatsApp message id to use. WhatsApp ids are chosen by the
    /// sender, so a message re-sent after a crash with the same id is the
    /// same message to the network, not a second one. None: the engine picks.
    pub id: Option<MessageId>,
    pub content: Content,
    pub reply_to: Option<MessageRef>,
    pub mentions: Vec<Jid>,
    /// A status update (story): sent to `status@broadcast`, seen by these.
    pub status: Option<StatusAudience>,
}

impl OutgoingMessage {
    pub fn text(body: impl Into<String>) -> Self {
        Self {
            id: None,
            content: Content::Text { body: body.into() },
            reply_to: None,
            mentions: Vec::new(),
            status: None,
        }
    }
}

/// Who sees a status update, and how a text status looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusAudience {
    /// WhatsApp sends a status to a list of people (its clients use the
    /// address book), never to "everyone".
    pub recipients: Vec<Jid>,
    /// A text status's background, 0xAARRGGBB.
    pub background_argb: Option<u32>,
    /// A text status's font (WhatsApp's `FontType` number).
    pub font: Option<i32>,
}

/// What the network answered to a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentMessage {
    pub id: MessageId,
    pub timestamp: DateTime<Utc>,
}

/// A message received, or sent by this account from another device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncomingMessage {
    pub id: MessageId,
    pub chat: Jid,
    /// The author: the chat itself in a direct chat, the participant in a group.
    pub sender: Jid,
    pub from_me: bool,
    pub push_name: Option<String>,
    pub timestamp: DateTime<Utc>,
    pub body: IncomingBody,
    pub quoted: Option<MessageRef>,
    pub mentions: Vec<Jid>,
}

/// The content of a received message, media described rather than downloaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IncomingBody {
    Text {
        text: String,
    },
    Media {
        kind: String,
        mime_type: String,
        caption: Option<String>,
        file_name: Option<String>,
        size: u64,
        /// How the engine downloads it later (engine-defined). Never in
        /// events: for WhatsApp it holds the media's decryption key.
        #[serde(skip)]
        handle: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
    },
    Contact {
        display_name: String,
        vcard: String,
    },
    Reaction {
        target: MessageId,
        emoji: String,
    },
    Poll {
        question: String,
        options: Vec<String>,
        /// How many options a voter may pick.
        selectable: u32,
    },
    /// A vote in a poll: the voter's whole current choice (empty when the
    /// vote is taken back).
    PollVote {
        /// The poll's WhatsApp id.
        target: MessageId,
        /// The choices as WhatsApp names them: the SHA-256 of each option's
        /// text. Engines fill this; the gateway reads it as `selected`.
        #[serde(skip)]
        hashes: Vec<[u8; 32]>,
        /// The chosen options' text, once the poll is known.
        selected: Vec<String>,
    },
    Edited {
        target: MessageId,
        text: String,
    },
    Revoked {
        target: MessageId,
    },
    /// A message the engine could not decrypt or does not understand.
    Unsupported {
        reason: String,
    },
}

impl IncomingMessage {
    /// The message with NUL characters replaced in every text it carries
    /// (see `text.rs`): anyone can send one.
    pub fn clean(&mut self) {
        use super::text::clean;
        clean(&mut self.id.0);
        if let Some(name) = &mut self.push_name {
            clean(name);
        }
        if let Some(q) = &mut self.quoted {
            clean(&mut q.id.0);
        }
        match &mut self.body {
            IncomingBody::Text { text } | IncomingBody::Edited { text, .. } => clean(text),
            IncomingBody::Media { kind, mime_type, caption, file_name, .. } => {
                for s in [kind, mime_type].into_iter().chain(caption).chain(file_name) {
                    clean(s);
                }
            }
            IncomingBody::Location { name, .. } => name.iter_mut().for_each(clean),
            IncomingBody::Contact { display_name, vcard } => {
                clean(display_name);
                clean(vcard);
            }
            IncomingBody::Reaction { emoji, .. } => clean(emoji),
            IncomingBody::Poll { question, options, .. } => {
                clean(question);
                options.iter_mut().for_each(clean);
            }
            IncomingBody::PollVote { selected, .. } => selected.iter_mut().for_each(clean),
            IncomingBody::Revoked { .. } => {}
            IncomingBody::Unsupported { reason } => clean(reason),
        }
        match &mut self.body {
            IncomingBody::Reaction { target, .. }
            | IncomingBody::PollVote { target, .. }
            | IncomingBody::Edited { target, .. }
            | IncomingBody::Revoked { target } => clean(&mut target.0),
            _ => {}
        }
    }
}

/// A received media file, fetched through its engine.
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadedMedia {
    pub data: Vec<u8>,
    pub mime_type: String,
}

/// Delivery state of a sent message, in the order WhatsApp reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ack {
    Sent,
    Delivered,
    Read,
    Played,
}

/// A receipt for messages this session sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    pub chat: Jid,
    pub ids: Vec<MessageId>,
    pub ack: Ack,
    /// Who delivered/read it: in groups, the participant.
    pub by: Jid,
    pub timestamp: DateTime<Utc>,
}

/// Typing indicator state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChatState {
    Composing,
    Recording,
    Paused,
}

/// Whether a number has WhatsApp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberCheck {
    pub phone: String,
    pub exists: bool,
    pub jid: Option<Jid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupParticipant {
    pub jid: Jid,
    pub admin: bool,
    pub super_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    pub jid: Jid,
    pub subject: String,
    pub description: Option<String>,
    pub owner: Option<Jid>,
    pub participants: Vec<GroupParticipant>,
    pub created_at: Option<DateTime<Utc>>,
    /// Only admins may send messages.
    pub announce: bool,
    /// Only admins may change the subject, description and settings.
    pub locked: bool,
}

/// A change to a group's info or settings; `None` leaves a field as is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChange {
    pub subject: Option<String>,
    /// `Some("")` clears the description.
    pub description: Option<String>,
    pub announce: Option<bool>,
    pub locked: Option<bool>,
}

impl GroupChange {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantAction {
    Add,
    Remove,
    Promote,
    Demote,
}

/// Per-participant outcome of a group membership change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParticipantResult {
    pub jid: Jid,
    /// `ok`, `not_found` (no WhatsApp), `forbidden` (privacy), `conflict` (already in / not in).
    pub status: String,
}

/// A change to this account's own profile; `None` leaves a part as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange {
    pub push_name: Option<String>,
    pub about: Option<String>,
    pub picture: Option<PictureChange>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PictureChange {
    /// A JPEG image (WhatsApp shows it at 640x640).
    Set(Vec<u8>),
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactInfo {
    pub jid: Jid,
    pub name: Option<String>,
    pub push_name: Option<String>,
    pub blocked: bool,
    /// The profile's "about" text, when the contact's privacy settings show it.
    pub about: Option<String>,
    /// A short-lived URL of the profile picture, when visible.
    pub picture_url: Option<String>,
}
