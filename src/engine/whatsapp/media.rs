//! Received media, downloadable later: the media part of a WhatsApp message
//! (CDN path, key, hashes) is kept as an opaque handle — `wa:<field>:` and
//! the part's protobuf bytes in base64 — and turned back into the part the
//! crate's downloader decrypts. Handles hold decryption keys: they are
//! stored apart from the message log and never put in events.

use base64::Engine as _;
use whatsapp_rust::buffa::Message as _;
use whatsapp_rust::prelude::wa;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// The handle of a media part found in `field` of a message.
pub fn handle(field: &str, part: &impl whatsapp_rust::buffa::Message) -> String {
    format!("wa:{field}:{}", B64.encode(part.encode_to_vec()))
}

/// A media part ready for the crate's downloader, with its MIME type.
pub enum Part {
    Image(wa::message::ImageMessage),
    Video(wa::message::VideoMessage),
    Audio(wa::message::AudioMessage),
    Document(wa::message::DocumentMessage),
    Sticker(wa::message::StickerMessage),
}

impl Part {
    pub fn mime_type(&self) -> String {
        match self {
            Part::Image(p) => p.mimetype.clone(),
            Part::Video(p) => p.mimetype.clone(),
            Part::Audio(p) => p.mimetype.clone(),
            Part::Document(p) => p.mimetype.clone(),
            Part::Sticker(p) => p.mimetype.clone(),
        }
        .unwrap_or_else(|| "application/octet-stream".into())
    }

    pub fn downloadable(&self) -> &dyn whatsapp_rust::download::Downloadable {
        match self {
            Part::Image(p) => p,
            Part::Video(p) => p,
            Part::Audio(p) => p,
            Part::Document(p) => p,
            Part::Sticker(p) => p,
        }
    }
}

/// The part a handle names; `None` for a handle this engine did not make.
pub fn part(handle: &str) -> Option<Part> {
    let rest = handle.strip_prefix("wa:")?;
    let (field, data) = rest.split_once(':')?;
    let bytes = B64.decode(data).ok()?;
    Some(match field {
        "image_message" => Part::Image(wa::message::ImageMessage::decode_from_slice(&bytes).ok()?),
        "video_message" => Part::Video(wa::message::VideoMessage::decode_from_slice(&bytes).ok()?),
        "audio_message" => Part::Audio(wa::message::AudioMessage::decode_from_slice(&bytes).ok()?),
        "document_message" => Part::Document(wa::message::DocumentMessage::decode_from_slice(&bytes).ok()?),
        "sticker_message" => Part::Sticker(wa::message::StickerMessage::decode_from_slice(&bytes).ok()?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_round_trips_the_media_references() {
        let image = wa::message::ImageMessage {
            direct_path: Some("/v/t62.7118-24/abc".into()),
            media_key: Some(vec![7; 32]),
            file_enc_sha256: Some(vec![1; 32]),
            file_sha256: Some(vec![2; 32]),
            file_length: Some(1234),
            mimetype: Some("image/jpeg".into()),
            ..Default::default()
        };
        let h = handle("image_message", &image);
        assert!(h.starts_with("wa:image_message:"));
        let Some(Part::Image(back)) = part(&h) else { panic!("not an image") };
        assert_eq!(back, image);
        assert_eq!(Part::Image(back).mime_type(), "image/jpeg");
        assert!(part("sbx_3EB0").is_none());
        assert!(part("wa:image_message:!!!").is_none());
        assert!(part("wa:location_message:AAAA").is_none());
    }
}
