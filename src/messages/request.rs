//! `POST /sessions/{id}/message`: the body and its validation. Every
//! problem is reported per field, all at once.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::job::{Draft, MediaSource, TargetRef};
use crate::wa::Jid;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    #[default]
    Text,
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Location,
    Contact,
    Reaction,
    Poll,
    /// A stored template filled in with `variables`; with `media`, the text
    /// is the caption of an image, video or document (by `media.mime_type`).
    Template,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaInput {
    /// Downloaded when the message is sent (public http(s) URLs only).
    pub url: Option<String>,
    /// The file itself, base64 (standard alphabet).
    pub base64: Option<String>,
    /// An uploaded file's `media_id` (`POST /media`).
    pub id: Option<String>,
    /// Required with base64; taken from the download otherwise.
    pub mime_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationInput {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub name: String,
    /// Builds a vCard with this number when `vcard` is absent.
    pub phone: Option<String>,
    pub vcard: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactionInput {
    /// The gateway id (`msg_…`) or WhatsApp id of the message reacted to.
    pub message_id: String,
    /// One emoji; empty removes the reaction.
    pub emoji: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PollInput {
    pub question: String,
    /// 2–12 distinct options.
    pub options: Vec<String>,
    /// How many options one person may pick (default 1).
    pub selectable: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "491701234567", "type": "text", "text": "Your order has shipped 📦"}))]
pub struct SendMessage {
    /// A phone number with country code, or a JID (`…@s.whatsapp.net`, `…@g.us`).
    #[schema(example = "491701234567")]
    pub to: String,
    #[serde(rename = "type", default)]
    pub kind: MessageType,
    /// The text (type `text`); also accepted as the caption of media.
    pub text: Option<String>,
    pub media: Option<MediaInput>,
    pub caption: Option<String>,
    /// Shown for documents.
    pub filename: Option<String>,
    /// Audio as a voice note (push-to-talk).
    #[serde(default)]
    pub voice: bool,
    /// Video shown as a GIF.
    #[serde(default)]
    pub gif: bool,
    pub location: Option<LocationInput>,
    pub contact: Option<ContactInput>,
    pub reaction: Option<ReactionInput>,
    pub poll: Option<PollInput>,
    /// Quote this message (gateway or WhatsApp id).
    pub reply_to: Option<String>,
    /// Phone numbers or JIDs mentioned (write them as @number in the text).
    #[serde(default)]
    pub mentions: Vec<String>,
    /// The template's name (type `template`).
    pub template: Option<String>,
    /// Values for the template's variables: strings, numbers or booleans.
    #[schema(value_type = Option<Object>, example = json!({"name": "Ada", "order": "A-17"}))]
    pub variables: Option<Map<String, Value>>,
}

/// A validated request; reply and reaction targets are still raw ids for
/// the caller to resolve against the message log.
#[derive(Debug, Clone)]
pub struct Validated {
    pub chat: Jid,
    pub draft: Draft,
    pub reply_to: Option<String>,
    pub mentions: Vec<Jid>,
    /// A status update's audience and look (`POST …/status` only).
    pub status: Option<super::job::StatusJob>,
}

/// Longest text WhatsApp accepts.
pub const MAX_TEXT: usize = 65_536;
const MAX_CAPTION: usize = 1024;

#[derive(Default)]
struct Problems(Map<String, Value>);

impl Problems {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        let entry = self.0.entry(field.to_owned()).or_insert_with(|| json!([]));
        if let Value::Array(list) = entry {
            list.push(Value::String(message.into()));
        }
    }
}

impl SendMessage {
    /// Checks everything that can be checked without the network.
    pub fn validate(self, max_media_bytes: u64) -> Result<Validated, Value> {
        let mut p = Problems::default();
        let chat = Jid::parse(&self.to).map_err(|e| p.add("to", format!("to {e}"))).ok().filter(|j| {
            let ok = matches!(
                j.server(),
                crate::wa::Server::User | crate::wa::Server::Group | crate::wa::Server::Lid
            );
            if !ok {
                p.add("to", "must be a person or a group");
            }
            ok
        });
        let mentions: Vec<Jid> = self
            .mentions
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                Jid::parse(m).map_err(|e| p.add(&format!("mentions[{i}]"), format!("mention {e}"))).ok()
            })
            .collect();
        if self.mentions.len() > 256 {
            p.add("mentions", "at most 256");
        }
        let caption = self.caption(&mut p);
        let draft = self.draft(&mut p, caption, max_media_bytes);
        if let Some(r) = &self.reply_to
            && (r.is_empty() || r.len() > 128)
        {
            p.add("reply_to", "must be a message id");
        }
        match (chat, draft) {
            (Some(chat), Some(draft)) if p.0.is_empty() => {
                Ok(Validated { chat, draft, reply_to: self.reply_to, mentions, status: None })
            }
            _ => Err(Value::Object(p.0)),
        }
    }

    /// The caption (or the text given as one), at most `MAX_CAPTION`.
    fn caption(&self, p: &mut Problems) -> Option<String> {
        let caption = self.caption.clone().or_else(|| match self.kind {
            MessageType::Text => None,
            _ => self.text.clone(),
        });
        if caption.as_ref().is_some_and(|c| c.chars().count() > MAX_CAPTION) {
            p.add("caption", format!("at most {MAX_CAPTION} characters"));
        }
        caption
    }

    /// Checks only the content, for messages with no `to` of their own (a
    /// status update).
    pub fn validate_content(self, max_media_bytes: u64) -> Result<Draft, Value> {
        let mut p = Problems::default();
        let caption = self.caption(&mut p);
        match self.draft(&mut p, caption, max_media_bytes) {
            Some(draft) if p.0.is_empty() => Ok(draft),
            _ => Err(Value::Object(p.0)),
        }
    }

    fn media(&self, p: &mut Problems, max_bytes: u64, prefix: Option<&str>) -> Option<MediaSource> {
        let Some(m) = &self.media else {
            p.add("media", "required for this type: give media.url or media.base64");
            return None;
        };
        let mime = m.mime_type.clone().map(|t| t.trim().to_ascii_lowercase());
        if let (Some(mime), Some(prefix)) = (&mime, prefix)
            && !mime.starts_with(prefix)
        {
            p.add("media.mime_type", format!("must be {prefix}* for this type"));
        }
        if mime.as_ref().is_some_and(|t| !t.contains('/') || t.len() > 127) {
            p.add("media.mime_type", "must be a MIME type like image/jpeg");
        }
        match (&m.url, &m.base64, &m.id) {
            (Some(_), None, None) => {}
            (None, Some(_), None) => {}
            (None, None, Some(id)) => {
                if mime.is_none() {
                    p.add("media.id", format!("no upload {id}: it does not exist or has expired"));
                }
            }
            _ => p.add("media", "give exactly one of url, base64 and id"),
        }
        match (&m.url, &m.base64) {
            (Some(_), Some(_)) | (None, None) => {}
            (Some(url), None) => {
                let ok = url::Url::parse(url)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
                if !ok || url.len() > 2048 {
                    p.add("media.url", "must be an http(s) URL, at most 2048 characters");
                }
            }
            (None, Some(b64)) => {
                if mime.is_none() {
                    p.add("media.mime_type", "required with base64");
                }
                // Decoded size = 3/4 of the text: check before decoding.
                if (b64.len() as u64) / 4 * 3 > max_bytes {
                    p.add("media.base64", format!("the file is larger than {max_bytes} bytes"));
                } else if base64::engine::general_purpose::STANDARD.decode(b64.trim()).is_err() {
                    p.add("media.base64", "is not valid base64");
                }
            }
        }
        Some(MediaSource {
            url: m.url.clone(),
            base64: m.base64.clone(),
            media_id: m.id.clone(),
            mime_type: mime,
            file_name: self.filename.clone(),
        })
    }

    fn draft(&self, p: &mut Problems, caption: Option<String>, max_media: u64) -> Option<Draft> {
        Some(match self.kind {
            MessageType::Text => {
                let body = self.text.clone().unwrap_or_default();
                if body.trim().is_empty() {
                    p.add("text", "required and not blank for type text");
                } else if body.chars().count() > MAX_TEXT {
                    p.add("text", format!("at most {MAX_TEXT} characters"));
                }
                Draft::Text { body }
            }
            MessageType::Image => Draft::Image { media: self.media(p, max_media, Some("image/"))?, caption },
            MessageType::Video => {
                Draft::Video { media: self.media(p, max_media, Some("video/"))?, caption, gif: self.gif }
            }
            MessageType::Audio => {
                Draft::Audio { media: self.media(p, max_media, Some("audio/"))?, voice: self.voice }
            }
            MessageType::Document => Draft::Document { media: self.media(p, max_media, None)?, caption },
            MessageType::Sticker => Draft::Sticker { media: self.media(p, max_media, Some("image/webp"))? },
            MessageType::Location => {
                let Some(l) = &self.location else {
                    p.add("location", "required for type location");
                    return None;
                };
                if !(-90.0..=90.0).contains(&l.latitude) {
                    p.add("location.latitude", "must be between -90 and 90");
                }
                if !(-180.0..=180.0).contains(&l.longitude) {
                    p.add("location.longitude", "must be between -180 and 180");
                }
                Draft::Location {
                    latitude: l.latitude,
                    longitude: l.longitude,
                    name: l.name.clone(),
                    address: l.address.clone(),
                }
            }
            MessageType::Contact => {
                let Some(c) = &self.contact else {
                    p.add("contact", "required for type contact");
                    return None;
                };
                if c.name.trim().is_empty() {
                    p.add("contact.name", "required");
                }
                let vcard = match (&c.vcard, &c.phone) {
                    (Some(v), _) if v.starts_with("BEGIN:VCARD") => v.clone(),
                    (Some(_), _) => {
                        p.add("contact.vcard", "must start with BEGIN:VCARD");
                        String::new()
                    }
                    (None, Some(phone)) => match crate::wa::PhoneNumber::parse(phone) {
                        Ok(n) => format!(
                            "BEGIN:VCARD\nVERSION:3.0\nFN:{}\nTEL;type=CELL;waid={n}:+{n}\nEND:VCARD",
                            c.name.replace(['\r', '\n'], " ")
                        ),
                        Err(e) => {
                            p.add("contact.phone", format!("phone number {e}"));
                            String::new()
                        }
                    },
                    (None, None) => {
                        p.add("contact", "give phone or vcard");
                        String::new()
                    }
                };
                Draft::Contact { display_name: c.name.clone(), vcard }
            }
            MessageType::Template => {
                // Filled in (and given its real type) before validation.
                p.add("template", "could not be filled in");
                return None;
            }
            MessageType::Reaction => {
                let Some(r) = &self.reaction else {
                    p.add("reaction", "required for type reaction");
                    return None;
                };
                if r.message_id.is_empty() || r.message_id.len() > 128 {
                    p.add("reaction.message_id", "must be a message id");
                }
                if r.emoji.chars().count() > 10 {
                    p.add("reaction.emoji", "must be one emoji (or empty to remove)");
                }
                let target = TargetRef { id: r.message_id.clone(), from_me: false, sender: None };
                Draft::Reaction { target, emoji: r.emoji.clone() }
            }
            MessageType::Poll => {
                let Some(poll) = &self.poll else {
                    p.add("poll", "required for type poll");
                    return None;
                };
                if poll.question.trim().is_empty() || poll.question.chars().count() > 255 {
                    p.add("poll.question", "1 to 255 characters");
                }
                let mut seen = std::collections::HashSet::new();
                if !(2..=12).contains(&poll.options.len())
                    || poll
                        .options
                        .iter()
                        .any(|o| o.trim().is_empty() || o.chars().count() > 100 || !seen.insert(o))
                {
                    p.add("poll.options", "2 to 12 distinct options of 1 to 100 characters");
                }
                let selectable = poll.selectable.unwrap_or(1);
                if selectable == 0 || selectable as usize > poll.options.len() {
                    p.add("poll.selectable", "between 1 and the number of options");
                }
                Draft::Poll { question: poll.question.clone(), options: poll.options.clone(), selectable }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> Result<Validated, Value> {
        serde_json::from_value::<SendMessage>(v).unwrap().validate(1000)
    }

    #[test]
    fn text_to_a_phone_number() {
        let ok = req(json!({"to": "+49 170 1234567", "text": "hi"})).unwrap();
        assert_eq!(ok.chat.to_string(), "491701234567@s.whatsapp.net");
        assert_eq!(ok.draft, Draft::Text { body: "hi".into() });
    }

    #[test]
    fn every_problem_is_reported_by_field() {
        let err = req(json!({"to": "12", "type": "text", "text": " ", "mentions": ["x"], "reply_to": ""}))
            .unwrap_err();
        for field in ["to", "text", "mentions[0]", "reply_to"] {
            assert!(err.get(field).is_some(), "{field} missing in {err}");
        }
    }

    #[test]
    fn media_rules() {
        let err = req(json!({"to": "491701234567", "type": "image"})).unwrap_err();
        assert!(err.get("media").is_some());
        let err =
            req(json!({"to": "491701234567", "type": "image", "media": {"base64": "aGVsbG8="}})).unwrap_err();
        assert!(err.get("media.mime_type").is_some(), "{err}");
        let err = req(json!({"to": "491701234567", "type": "image", "media": {"base64": "!!!", "mime_type": "image/png"}})).unwrap_err();
        assert!(err.get("media.base64").is_some(), "{err}");
        let big = "A".repeat(2000);
        let err = req(json!({"to": "491701234567", "type": "document", "media": {"base64": big, "mime_type": "application/pdf"}})).unwrap_err();
        assert!(err["media.base64"][0].as_str().unwrap().contains("larger"), "{err}");
        let err = req(json!({"to": "491701234567", "type": "video", "media": {"url": "ftp://x/y", "mime_type": "image/png"}})).unwrap_err();
        assert!(err.get("media.url").is_some() && err.get("media.mime_type").is_some(), "{err}");
        let ok = req(json!({"to": "491701234567", "type": "image", "media": {"url": "https://cdn.test/a.jpg"}, "text": "cap"})).unwrap();
        assert!(matches!(ok.draft, Draft::Image { caption: Some(ref c), .. } if c == "cap"));
    }

    #[test]
    fn structured_kinds() {
        assert!(req(json!({"to": "491701234567", "type": "location", "location": {"latitude": 91, "longitude": 0}})).is_err());
        let ok = req(json!({"to": "491701234567", "type": "contact", "contact": {"name": "Ann", "phone": "+44 20 7946 0958"}})).unwrap();
        let Draft::Contact { vcard, .. } = ok.draft else { panic!() };
        assert!(vcard.contains("waid=442079460958"));
        let err = req(
            json!({"to": "491701234567", "type": "poll", "poll": {"question": "?", "options": ["a", "a"]}}),
        )
        .unwrap_err();
        assert!(err.get("poll.options").is_some());
        let ok = req(json!({"to": "120363025246125486@g.us", "type": "poll", "poll": {"question": "Lunch?", "options": ["yes", "no"], "selectable": 1}})).unwrap();
        assert!(ok.chat.is_group());
        assert!(req(json!({"to": "491701234567", "type": "reaction", "reaction": {"message_id": "msg_1", "emoji": "👍"}})).is_ok());
        assert!(req(json!({"to": "status@broadcast", "text": "x"})).is_err());
    }
}
