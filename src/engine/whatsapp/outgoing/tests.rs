use std::sync::Arc;

use super::*;
use crate::wa::{MessageId, Server};

fn upload() -> Uploaded {
    Uploaded {
        url: "https://mmg.whatsapp.net/v/t62/abc".into(),
        direct_path: "/v/t62/abc".into(),
        media_key: [1; 32],
        file_enc_sha256: [2; 32],
        file_sha256: [3; 32],
        file_length: 1234,
        media_key_timestamp: 1_764_547_200,
        streaming_sidecar: Some(vec![9, 9]),
    }
}

fn media(mime: &str, name: Option<&str>) -> Media {
    Media { data: Arc::from(&b"bytes"[..]), mime_type: mime.into(), file_name: name.map(str::to_owned) }
}

fn msg(content: Content) -> OutgoingMessage {
    OutgoingMessage { id: None, content, reply_to: None, mentions: Vec::new(), status: None }
}

fn proto(plan: Result<Plan, ConvertError>) -> wa::Message {
    match plan.expect("translates") {
        Plan::Message(m) => *m,
        other => panic!("expected a protocol message, got {other:?}"),
    }
}

fn user(n: &str) -> Jid {
    Jid::new_unchecked(n, Server::User)
}

fn group() -> Jid {
    Jid::new_unchecked("120363000000000001", Server::Group)
}

#[test]
fn bare_text_is_a_conversation_and_context_makes_it_extended() {
    let m = proto(plan(&OutgoingMessage::text("hi"), None));
    assert_eq!(m.conversation.as_deref(), Some("hi"));
    assert!(m.extended_text_message.is_unset());

    let mut out = OutgoingMessage::text("hi @491701");
    out.mentions = vec![user("491701")];
    let m = proto(plan(&out, None));
    assert!(m.conversation.is_none());
    let ext = m.extended_text_message.as_option().expect("extended text");
    assert_eq!(ext.text.as_deref(), Some("hi @491701"));
    assert_eq!(ext.context_info.as_option().unwrap().mentioned_jid, vec!["491701@s.whatsapp.net".to_owned()]);
}

#[test]
fn a_reply_quotes_the_message_and_its_author() {
    let mut out = OutgoingMessage::text("yes");
    out.reply_to = Some(MessageRef {
        chat: group(),
        id: MessageId("3EB0ABC".into()),
        from_me: false,
        sender: Some(user("491702")),
    });
    let m = proto(plan(&out, None));
    let info = m.extended_text_message.as_option().unwrap().context_info.as_option().unwrap().clone();
    assert_eq!(info.stanza_id.as_deref(), Some("3EB0ABC"));
    assert_eq!(info.participant.as_deref(), Some("491702@s.whatsapp.net"));
    assert_eq!(info.remote_jid.as_deref(), Some("120363000000000001@g.us"));
    assert!(info.mentioned_jid.is_empty());
}

#[test]
fn media_kinds_carry_the_upload_references_and_their_own_fields() {
    let u = upload();
    let image = proto(plan(
        &msg(Content::Image { media: media("image/jpeg", None), caption: Some("look".into()) }),
        Some(&u),
    ));
    let i = image.image_message.as_option().expect("image");
    assert_eq!(i.url.as_deref(), Some(u.url.as_str()));
    assert_eq!(i.direct_path.as_deref(), Some("/v/t62/abc"));
    assert_eq!(i.media_key.as_deref(), Some(&[1u8; 32][..]));
    assert_eq!(i.file_enc_sha256.as_deref(), Some(&[2u8; 32][..]));
    assert_eq!(i.file_sha256.as_deref(), Some(&[3u8; 32][..]));
    assert_eq!(i.file_length, Some(1234));
    assert_eq!(i.mimetype.as_deref(), Some("image/jpeg"));
    assert_eq!(i.caption.as_deref(), Some("look"));

    let video = proto(plan(
        &msg(Content::Video { media: media("video/mp4", None), caption: None, gif: true }),
        Some(&u),
    ));
    let v = video.video_message.as_option().expect("video");
    assert_eq!(v.gif_playback, Some(true));
    assert_eq!(v.streaming_sidecar.as_deref(), Some(&[9u8, 9][..]));

    let voice = proto(plan(&msg(Content::Audio { media: media("audio/ogg", None), voice: true }), Some(&u)));
    assert_eq!(voice.audio_message.as_option().unwrap().ptt, Some(true));
    let audio =
        proto(plan(&msg(Content::Audio { media: media("audio/mpeg", None), voice: false }), Some(&u)));
    assert_eq!(audio.audio_message.as_option().unwrap().ptt, Some(false));

    let doc = proto(plan(
        &msg(Content::Document { media: media("application/pdf", Some("q3.pdf")), caption: None }),
        Some(&u),
    ));
    let d = doc.document_message.as_option().expect("document");
    assert_eq!(d.file_name.as_deref(), Some("q3.pdf"));
    assert_eq!(d.mimetype.as_deref(), Some("application/pdf"));
    let unnamed =
        proto(plan(&msg(Content::Document { media: media("text/plain", None), caption: None }), Some(&u)));
    assert_eq!(unnamed.document_message.as_option().unwrap().file_name.as_deref(), Some("file"));

    let sticker = proto(plan(&msg(Content::Sticker { media: media("image/webp", None) }), Some(&u)));
    assert_eq!(sticker.sticker_message.as_option().unwrap().mimetype.as_deref(), Some("image/webp"));
}

#[test]
fn media_without_an_upload_is_refused_and_typed_for_upload() {
    let content = Content::Image { media: media("image/png", None), caption: None };
    assert_eq!(plan(&msg(content.clone()), None), Err(ConvertError::NotUploaded("image")));
    assert!(matches!(media_type(&content), Some((MediaType::Image, _))));
    assert!(matches!(
        media_type(&Content::Audio { media: media("audio/ogg", None), voice: true }),
        Some((MediaType::Audio, _))
    ));
    assert!(media_type(&Content::Text { body: "x".into() }).is_none());
}

#[test]
fn location_contact_and_reaction() {
    let loc = proto(plan(
        &msg(Content::Location {
            latitude: 52.52,
            longitude: 13.405,
            name: Some("Berlin".into()),
            address: None,
        }),
        None,
    ));
    let l = loc.location_message.as_option().unwrap();
    assert_eq!((l.degrees_latitude, l.degrees_longitude), (Some(52.52), Some(13.405)));
    assert_eq!(l.name.as_deref(), Some("Berlin"));

    let vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Ada\nEND:VCARD";
    let c = proto(plan(&msg(Content::Contact { display_name: "Ada".into(), vcard: vcard.into() }), None));
    assert_eq!(c.contact_message.as_option().unwrap().vcard.as_deref(), Some(vcard));

    let target = MessageRef {
        chat: group(),
        id: MessageId("3EB0X".into()),
        from_me: false,
        sender: Some(user("4917")),
    };
    let r = proto(plan(&msg(Content::Reaction { target, emoji: "👍".into() }), None));
    let r = r.reaction_message.as_option().unwrap();
    assert_eq!(r.text.as_deref(), Some("👍"));
    let k = r.key.as_option().unwrap();
    assert_eq!(k.id.as_deref(), Some("3EB0X"));
    assert_eq!(k.participant.as_deref(), Some("4917@s.whatsapp.net"));
    assert_eq!(k.from_me, Some(false));
}

#[test]
fn direct_chat_keys_name_no_participant() {
    let target = MessageRef {
        chat: user("4917"),
        id: MessageId("A".into()),
        from_me: true,
        sender: Some(user("4918")),
    };
    let k = key(&target);
    assert_eq!(k.remote_jid.as_deref(), Some("4917@s.whatsapp.net"));
    assert_eq!(k.participant, None);
    assert_eq!(k.from_me, Some(true));
}

#[test]
fn polls_are_v3_for_one_choice_and_carry_their_secret_once_sealed() {
    let poll = |selectable| {
        plan(
            &OutgoingMessage {
                reply_to: Some(MessageRef {
                    chat: user("4917"),
                    id: MessageId("3EB0Q".into()),
                    from_me: false,
                    sender: None,
                }),
                ..msg(Content::Poll {
                    question: "Lunch?".into(),
                    options: vec!["yes".into(), "no".into()],
                    selectable,
                })
            },
            None,
        )
    };
    let Ok(Plan::Poll(single)) = poll(1) else { panic!("a poll plan") };
    assert!(single.poll_creation_message.is_unset() && single.message_context_info.is_unset());
    let p = single.poll_creation_message_v3.as_option().expect("v3 for one choice");
    assert_eq!(p.name.as_deref(), Some("Lunch?"));
    let names: Vec<_> = p.options.iter().map(|o| o.option_name.as_deref().unwrap()).collect();
    assert_eq!(names, ["yes", "no"]);
    assert_eq!(p.selectable_options_count, Some(1));
    assert_eq!(p.poll_content_type, Some(wa::message::PollContentType::TEXT));
    assert_eq!(p.context_info.as_option().and_then(|c| c.stanza_id.as_deref()), Some("3EB0Q"));

    let Ok(Plan::Poll(multi)) = poll(2) else { panic!("a poll plan") };
    assert!(multi.poll_creation_message_v3.is_unset());
    assert_eq!(multi.poll_creation_message.as_option().unwrap().selectable_options_count, Some(2));
    let sealed = seal_poll(*multi, &[9; 32]);
    let secret = sealed.message_context_info.as_option().and_then(|c| c.message_secret.clone());
    assert_eq!(secret, Some(vec![9; 32]));
}

#[test]
fn a_vote_is_planned_for_its_polls_secret() {
    let poll = MessageRef { chat: user("4917"), id: MessageId("3EB0P".into()), from_me: false, sender: None };
    let vote = Content::PollVote { poll: poll.clone(), options: vec!["yes".into()] };
    assert_eq!(vote.kind(), "poll_vote");
    assert_eq!(vote.preview().as_deref(), Some("yes"));
    assert_eq!(plan(&msg(vote), None), Ok(Plan::Vote { poll, options: vec!["yes".into()] }));
}

#[test]
fn a_text_status_is_an_extended_text_with_its_look() {
    let audience =
        |background_argb, font| StatusAudience { recipients: vec![user("4917")], background_argb, font };
    let text = proto(plan(&OutgoingMessage::text("Open today"), None));
    let status = as_status(text.clone(), &audience(Some(0x801E_6E4F), Some(6)));
    assert!(status.conversation.is_none());
    let ext = status.extended_text_message.as_option().expect("an extended text");
    assert_eq!(ext.text.as_deref(), Some("Open today"));
    assert_eq!((ext.background_argb, ext.font), (Some(0x801E_6E4F), Some(FontType::SYSTEM_BOLD)));
    // Defaults: WhatsApp's green, the system font (also for a number it lacks).
    let plain = as_status(text, &audience(None, Some(3)));
    let ext = plain.extended_text_message.as_option().unwrap();
    assert_eq!((ext.background_argb, ext.font), (Some(0xFF1E_6E4F), Some(FontType::SYSTEM)));
    // Media keep their own shape.
    let media = Content::Image { media: media("image/jpeg", None), caption: Some("menu".into()) };
    let image_status = as_status(proto(plan(&msg(media), Some(&upload()))), &audience(None, None));
    assert!(image_status.image_message.is_set() && image_status.extended_text_message.is_unset());
}
