//! The queued form of a message: everything needed to send it, as JSON.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::wa::{Content, Jid, Media, MessageId, MessageRef, OutgoingMessage, StatusAudience};

/// Where a media file comes from. Downloads happen at send time, through
/// the SSRF guard, so the queue holds a URL rather than the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// An upload (`POST /media`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    pub mime_type: Option<String>,
    pub file_name: Option<String>,
}

/// A message a send points at (reply, reaction), resolved at request time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRef {
    /// The WhatsApp id.
    pub id: String,
    pub from_me: bool,
    pub sender: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Draft {
    Text {
        body: String,
    },
    Image {
        media: MediaSource,
        caption: Option<String>,
    },
    Video {
        media: MediaSource,
        caption: Option<String>,
        gif: bool,
    },
    Audio {
        media: MediaSource,
        voice: bool,
    },
    Document {
        media: MediaSource,
        caption: Option<String>,
    },
    Sticker {
        media: MediaSource,
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
    Reaction {
        target: TargetRef,
        emoji: String,
    },
    Poll {
        question: String,
        options: Vec<String>,
        selectable: u32,
    },
    /// The session's vote on `poll` (a message of the log), from `voter`
    /// (the account's own JID, to record the vote in its tally once sent).
    PollVote {
        target: TargetRef,
        poll: String,
        voter: Option<String>,
        options: Vec<String>,
    },
}

impl Draft {
    pub fn media(&self) -> Option<&MediaSource> {
        match self {
            Draft::Image { media, .. }
            | Draft::Video { media, .. }
            | Draft::Audio { media, .. }
            | Draft::Document { media, .. }
            | Draft::Sticker { media } => Some(media),
            _ => None,
        }
    }

    /// The kind stored in the log (`voice` for voice notes).
    pub fn kind(&self) -> &'static str {
        match self {
            Draft::Text { .. } => "text",
            Draft::Image { .. } => "image",
            Draft::Video { .. } => "video",
            Draft::Audio { voice: true, .. } => "voice",
            Draft::Audio { .. } => "audio",
            Draft::Document { .. } => "document",
            Draft::Sticker { .. } => "sticker",
            Draft::Location { .. } => "location",
            Draft::Contact { .. } => "contact",
            Draft::Reaction { .. } => "reaction",
            Draft::Poll { .. } => "poll",
            Draft::PollVote { .. } => "poll_vote",
        }
    }

    pub fn preview(&self) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow::Borrowed;
        Some(match self {
            Draft::Text { body } => Borrowed(body.as_str()),
            Draft::Image { caption, .. } | Draft::Video { caption, .. } | Draft::Document { caption, .. } => {
                Borrowed(caption.as_deref()?)
            }
            Draft::Location { name, .. } => Borrowed(name.as_deref()?),
            Draft::Contact { display_name, .. } => Borrowed(display_name.as_str()),
            Draft::Reaction { emoji, .. } => Borrowed(emoji.as_str()),
            Draft::Poll { question, .. } => Borrowed(question.as_str()),
            Draft::PollVote { options, .. } => std::borrow::Cow::Owned(options.join(", ")),
            Draft::Audio { .. } | Draft::Sticker { .. } => return None,
        })
    }
}

/// The payload of a `messages` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendJob {
    pub session_id: String,
    pub message_id: String,
    pub wa_id: String,
    pub chat: String,
    pub draft: Draft,
    pub reply_to: Option<TargetRef>,
    #[serde(default)]
    pub mentions: Vec<String>,
    pub request_id: Option<String>,
    /// A repeat of a message stuck at `sent` (see `repair.rs`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resend: bool,
    /// A status update: who sees it and its look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusJob>,
}

/// The audience and look of a status update, as queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusJob {
    pub recipients: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_argb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font: Option<i32>,
}

/// Media bytes for the draft's file, resolved by the sender.
pub struct ResolvedMedia {
    pub data: Arc<[u8]>,
    pub mime_type: String,
    pub file_name: Option<String>,
}

fn jid(raw: &str) -> Result<Jid, String> {
    Jid::parse(raw).map_err(|e| format!("{raw}: {e}"))
}

impl SendJob {
    /// Builds the engine's message. Pure: `media` is the already resolved
    /// file of a media draft.
    pub fn to_outgoing(&self, media: Option<ResolvedMedia>) -> Result<(Jid, OutgoingMessage), String> {
        let chat = jid(&self.chat)?;
        let file = || -> Result<Media, String> {
            let m = media.as_ref().ok_or("media was not resolved")?;
            Ok(Media { data: m.data.clone(), mime_type: m.mime_type.clone(), file_name: m.file_name.clone() })
        };
        let target = |t: &TargetRef| -> Result<MessageRef, String> {
            Ok(MessageRef {
                chat: chat.clone(),
                id: MessageId(t.id.clone()),
                from_me: t.from_me,
                sender: t.sender.as_deref().map(jid).transpose()?,
            })
        };
        let content = match &self.draft {
            Draft::Text { body } => Content::Text { body: body.clone() },
            Draft::Image { caption, .. } => Content::Image { media: file()?, caption: caption.clone() },
            Draft::Video { caption, gif, .. } => {
                Content::Video { media: file()?, caption: caption.clone(), gif: *gif }
            }
            Draft::Audio { voice, .. } => Content::Audio { media: file()?, voice: *voice },
            Draft::Document { caption, .. } => Content::Document { media: file()?, caption: caption.clone() },
            Draft::Sticker { .. } => Content::Sticker { media: file()? },
            Draft::Location { latitude, longitude, name, address } => Content::Location {
                latitude: *latitude,
                longitude: *longitude,
                name: name.clone(),
                address: address.clone(),
            },
            Draft::Contact { display_name, vcard } => {
                Content::Contact { display_name: display_name.clone(), vcard: vcard.clone() }
            }
            Draft::Reaction { target: t, emoji } => {
                Content::Reaction { target: target(t)?, emoji: emoji.clone() }
            }
            Draft::Poll { question, options, selectable } => Content::Poll {
                question: question.clone(),
                options: options.clone(),
                selectable: *selectable,
            },
            Draft::PollVote { target: t, options, .. } => {
                Content::PollVote { poll: target(t)?, options: options.clone() }
            }
        };
        let message = OutgoingMessage {
            id: Some(MessageId(self.wa_id.clone())),
            content,
            reply_to: self.reply_to.as_ref().map(target).transpose()?,
            mentions: self.mentions.iter().map(|m| jid(m)).collect::<Result<_, _>>()?,
            status: match &self.status {
                Some(s) => Some(StatusAudience {
                    recipients: s.recipients.iter().map(|r| jid(r)).collect::<Result<_, _>>()?,
                    background_argb: s.background_argb,
                    font: s.font,
                }),
                None => None,
            },
        };
        Ok((chat, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(draft: Draft) -> SendJob {
        SendJob {
            session_id: "s".into(),
            message_id: "msg_1".into(),
            wa_id: "3EB0AA".into(),
            chat: "491701234567@s.whatsapp.net".into(),
            draft,
            reply_to: Some(TargetRef { id: "3EB0BB".into(), from_me: true, sender: None }),
            mentions: vec!["491709999999@s.whatsapp.net".into()],
            request_id: None,
            resend: false,
            status: None,
        }
    }

    #[test]
    fn jobs_round_trip_through_json_and_map_to_engine_messages() {
        let j = job(Draft::Text { body: "hi".into() });
        let back: SendJob = serde_json::from_value(serde_json::to_value(&j).unwrap()).unwrap();
        assert_eq!(back, j);
        let (chat, msg) = j.to_outgoing(None).unwrap();
        assert_eq!(chat.to_string(), "491701234567@s.whatsapp.net");
        assert_eq!(msg.id.unwrap().as_str(), "3EB0AA");
        assert_eq!(msg.reply_to.unwrap().id.as_str(), "3EB0BB");
        assert_eq!(msg.mentions.len(), 1);
        assert_eq!(msg.content, Content::Text { body: "hi".into() });
    }

    #[test]
    fn media_drafts_need_their_file() {
        let source = MediaSource {
            url: Some("https://x.test/a.jpg".into()),
            base64: None,
            media_id: None,
            mime_type: None,
            file_name: None,
        };
        let j = job(Draft::Image { media: source, caption: Some("c".into()) });
        assert!(j.to_outgoing(None).is_err());
        let media =
            ResolvedMedia { data: Arc::from(&b"jpeg"[..]), mime_type: "image/jpeg".into(), file_name: None };
        let (_, msg) = j.to_outgoing(Some(media)).unwrap();
        assert_eq!(msg.content.kind(), "image");
        assert_eq!(j.draft.kind(), "image");
        assert_eq!(j.draft.preview().as_deref(), Some("c"));
    }
}
