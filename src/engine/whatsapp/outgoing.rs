//! Gateway message → WhatsApp protocol message, as a pure function.
//!
//! Media is uploaded first (encrypted by whatsapp-rust); the upload's
//! references then go into the protocol message, so the translation itself
//! never touches the network. A poll also needs its secret (the key its
//! votes are encrypted with), which the engine keeps per poll: it comes out
//! as a [`Plan`] of its own, sealed with the secret by [`seal_poll`]. A
//! status update is a planned message reshaped by [`as_status`].

use whatsapp_rust::download::MediaType;
use whatsapp_rust::prelude::{MessageField, wa};

use wa::message::extended_text_message::FontType;

use crate::wa::{Content, Jid, Media, MessageRef, OutgoingMessage, StatusAudience};

/// The references of an uploaded media file (whatsapp-rust's
/// `UploadResponse`, without its network types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub url: String,
    pub direct_path: String,
    pub media_key: [u8; 32],
    pub file_enc_sha256: [u8; 32],
    pub file_sha256: [u8; 32],
    pub file_length: u64,
    pub media_key_timestamp: i64,
    /// Seek table for audio and video.
    pub streaming_sidecar: Option<Vec<u8>>,
}

/// How a message goes out.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// A finished protocol message for `send_message`.
    Message(Box<wa::Message>),
    /// A poll, to be sealed with its secret ([`seal_poll`]) and sent as a message.
    Poll(Box<wa::Message>),
    /// A vote, encrypted with its poll's secret (`polls::seal_vote`).
    Vote { poll: MessageRef, options: Vec<String> },
}

/// Why a message cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("a {0} message needs its media uploaded first")]
    NotUploaded(&'static str),
}

/// The upload class of a message's media, if it has any.
pub fn media_type(content: &Content) -> Option<(MediaType, &Media)> {
    match content {
        Content::Image { media, .. } => Some((MediaType::Image, media)),
        Content::Video { media, .. } => Some((MediaType::Video, media)),
        Content::Audio { media, .. } => Some((MediaType::Audio, media)),
        Content::Document { media, .. } => Some((MediaType::Document, media)),
        Content::Sticker { media } => Some((MediaType::Sticker, media)),
        _ => None,
    }
}

/// A media message with the upload's references, the MIME type and the
/// context filled in; the other fields as given.
macro_rules! with_upload {
    ($ty:ident, $u:expr, $media:expr, $context:expr, { $($field:ident: $value:expr),* $(,)? }) => {
        wa::message::$ty {
            url: Some($u.url.clone()),
            direct_path: Some($u.direct_path.clone()),
            media_key: Some($u.media_key.to_vec()),
            file_enc_sha256: Some($u.file_enc_sha256.to_vec()),
            file_sha256: Some($u.file_sha256.to_vec()),
            file_length: Some($u.file_length),
            media_key_timestamp: Some($u.media_key_timestamp),
            mimetype: Some($media.mime_type.clone()),
            context_info: $context.into(),
            $($field: $value,)*
            ..Default::default()
        }
    };
}

/// Translates `msg`; `upload` must be given for media kinds.
pub fn plan(msg: &OutgoingMessage, upload: Option<&Uploaded>) -> Result<Plan, ConvertError> {
    let context = context(msg.reply_to.as_ref(), &msg.mentions);
    let uploaded = || upload.ok_or(ConvertError::NotUploaded(msg.content.kind()));
    let mut m = wa::Message::default();
    match &msg.content {
        Content::Text { body } => match context {
            // WhatsApp Web sends bare text as `conversation`, and switches to
            // an extended text message once a quote or mentions are attached.
            None => m.conversation = Some(body.clone()),
            Some(context) => {
                m.extended_text_message = MessageField::some(wa::message::ExtendedTextMessage {
                    text: Some(body.clone()),
                    context_info: MessageField::some(context),
                    ..Default::default()
                })
            }
        },
        Content::Image { media, caption } => {
            let u = uploaded()?;
            m.image_message = MessageField::some(with_upload!(ImageMessage, u, media, context, {
                caption: caption.clone(),
            }));
        }
        Content::Video { media, caption, gif } => {
            let u = uploaded()?;
            m.video_message = MessageField::some(with_upload!(VideoMessage, u, media, context, {
                streaming_sidecar: u.streaming_sidecar.clone(),
                caption: caption.clone(),
                gif_playback: gif.then_some(true),
            }));
        }
        Content::Audio { media, voice } => {
            let u = uploaded()?;
            m.audio_message = MessageField::some(with_upload!(AudioMessage, u, media, context, {
                streaming_sidecar: u.streaming_sidecar.clone(),
                // A voice note is a push-to-talk audio.
                ptt: Some(*voice),
            }));
        }
        Content::Document { media, caption } => {
            let u = uploaded()?;
            let name = media.file_name.clone().unwrap_or_else(|| "file".into());
            m.document_message = MessageField::some(with_upload!(DocumentMessage, u, media, context, {
                title: Some(name.clone()),
                file_name: Some(name),
                caption: caption.clone(),
            }));
        }
        Content::Sticker { media } => {
            let u = uploaded()?;
            m.sticker_message = MessageField::some(with_upload!(StickerMessage, u, media, context, {}));
        }
        Content::Location { latitude, longitude, name, address } => {
            m.location_message = MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(*latitude),
                degrees_longitude: Some(*longitude),
                name: name.clone(),
                address: address.clone(),
                context_info: context.into(),
                ..Default::default()
            });
        }
        Content::Contact { display_name, vcard } => {
            m.contact_message = MessageField::some(wa::message::ContactMessage {
                display_name: Some(display_name.clone()),
                vcard: Some(vcard.clone()),
                context_info: context.into(),
                ..Default::default()
            });
        }
        Content::Reaction { target, emoji } => {
            m.reaction_message = MessageField::some(wa::message::ReactionMessage {
                key: MessageField::some(key(target)),
                // An empty reaction removes an earlier one.
                text: Some(emoji.clone()),
                sender_timestamp_ms: Some(chrono::Utc::now().timestamp_millis()),
                ..Default::default()
            });
        }
        Content::Poll { question, options, selectable } => {
            let poll = wa::message::PollCreationMessage {
                name: Some(question.clone()),
                options: options
                    .iter()
                    .map(|o| wa::message::poll_creation_message::Option {
                        option_name: Some(o.clone()),
                        option_hash: None,
                    })
                    .collect(),
                selectable_options_count: Some(*selectable),
                context_info: context.into(),
                // WhatsApp Web always sets it (TEXT for a plain poll).
                poll_content_type: Some(wa::message::PollContentType::TEXT),
                ..Default::default()
            };
            // As WhatsApp Web (and the crate's poll API): the v3 message for
            // single choice, the original one for several.
            if *selectable == 1 {
                m.poll_creation_message_v3 = MessageField::some(poll);
            } else {
                m.poll_creation_message = MessageField::some(poll);
            }
            return Ok(Plan::Poll(Box::new(m)));
        }
        Content::PollVote { poll, options } => {
            return Ok(Plan::Vote { poll: poll.clone(), options: options.clone() });
        }
    }
    Ok(Plan::Message(Box::new(m)))
}

/// WhatsApp's default background of a text status (its dark green).
const STATUS_BACKGROUND: u32 = 0xFF1E_6E4F;

/// A planned message made a status update: a text becomes the extended text
/// WhatsApp shows full-screen, with its background and font.
pub fn as_status(mut m: wa::Message, audience: &StatusAudience) -> wa::Message {
    if let Some(text) = m.conversation.take() {
        m.extended_text_message =
            MessageField::some(wa::message::ExtendedTextMessage { text: Some(text), ..Default::default() });
    }
    if let Some(text) = m.extended_text_message.as_option_mut() {
        text.background_argb = Some(audience.background_argb.unwrap_or(STATUS_BACKGROUND));
        text.font = Some(audience.font.and_then(status_font).unwrap_or(FontType::SYSTEM));
    }
    m
}

fn status_font(n: i32) -> Option<FontType> {
    Some(match n {
        0 => FontType::SYSTEM,
        1 => FontType::SYSTEM_TEXT,
        2 => FontType::FB_SCRIPT,
        6 => FontType::SYSTEM_BOLD,
        7 => FontType::MORNINGBREEZE_REGULAR,
        8 => FontType::CALISTOGA_REGULAR,
        9 => FontType::EXO2_EXTRABOLD,
        10 => FontType::COURIERPRIME_BOLD,
        _ => return None,
    })
}

/// A poll with its 32-byte secret, which every voter's client derives the
/// vote's key from.
pub fn seal_poll(mut poll: wa::Message, secret: &[u8; 32]) -> wa::Message {
    poll.message_context_info = MessageField::some(wa::MessageContextInfo {
        message_secret: Some(secret.to_vec()),
        ..Default::default()
    });
    poll
}

/// The protocol key naming an earlier message.
pub fn key(target: &MessageRef) -> wa::MessageKey {
    wa::MessageKey {
        remote_jid: Some(target.chat.to_string()),
        from_me: Some(target.from_me),
        id: Some(target.id.as_str().to_owned()),
        // In groups the key names who wrote the message.
        participant: target.sender.as_ref().filter(|_| target.chat.is_group()).map(Jid::to_string),
    }
}

/// Quote and mentions, or None when there is neither.
fn context(reply_to: Option<&MessageRef>, mentions: &[Jid]) -> Option<wa::ContextInfo> {
    if reply_to.is_none() && mentions.is_empty() {
        return None;
    }
    let mut info = wa::ContextInfo {
        mentioned_jid: mentions.iter().map(Jid::to_string).collect(),
        ..Default::default()
    };
    if let Some(quoted) = reply_to {
        info.stanza_id = Some(quoted.id.as_str().to_owned());
        info.remote_jid = Some(quoted.chat.to_string());
        info.participant = quoted.sender.as_ref().map(Jid::to_string);
        // The quoted text is not known here; WhatsApp shows the quote from
        // the recipient's own copy of the message.
        info.quoted_message = MessageField::some(wa::Message::default());
    }
    Some(info)
}

#[cfg(test)]
mod tests;
