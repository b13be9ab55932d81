//! Every event the gateway cares about, built from the crate's own types.

use std::sync::Arc;

use chrono::TimeZone;
use whatsapp_rust::prelude::{MessageField, wa};
use whatsapp_rust::wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};
use whatsapp_rust::wacore::types::events::{self as ev, ConnectFailureReason, Event, TempBanReason};
use whatsapp_rust::wacore::types::message::{MessageInfo, MessageSource};
use whatsapp_rust::wacore::types::presence::ReceiptType;

use super::*;

fn wjid(s: &str) -> whatsapp_rust::Jid {
    s.parse().unwrap()
}

fn gjid(s: &str) -> Jid {
    Jid::parse(s).unwrap()
}

fn cx() -> Context {
    Context {
        phone: Some(PhoneNumber::parse("491701230000").unwrap()),
        push_name: Some("Shop".into()),
        now: Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
    }
}

fn info(chat: &str, sender: &str, id: &str, from_me: bool) -> MessageInfo {
    MessageInfo {
        source: MessageSource {
            chat: wjid(chat),
            sender: wjid(sender),
            is_from_me: from_me,
            is_group: chat.ends_with("@g.us"),
            ..Default::default()
        },
        id: id.into(),
        push_name: "Alice".into(),
        timestamp: Utc.with_ymd_and_hms(2026, 12, 1, 11, 59, 0).unwrap(),
        ..Default::default()
    }
}

fn text(body: &str) -> wa::Message {
    wa::Message { conversation: Some(body.into()), ..Default::default() }
}

fn batch(messages: Vec<(wa::Message, MessageInfo)>) -> Event {
    let messages: Vec<ev::InboundMessage> = messages
        .into_iter()
        .map(|(m, i)| ev::InboundMessage::builder().message(Arc::new(m)).info(Arc::new(i)).build())
        .collect();
    Event::Messages(
        ev::MessageBatch::builder().messages(messages.into()).origin(ev::BatchOrigin::Live).build(),
    )
}

fn only(events: Vec<EngineEvent>) -> EngineEvent {
    assert_eq!(events.len(), 1, "{events:?}");
    events.into_iter().next().unwrap()
}

fn only_message(event: Event) -> IncomingMessage {
    match only(translate(&event, &cx())) {
        EngineEvent::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn qr_codes_expire_after_their_timeout() {
    let qr = ev::PairingQrCode::builder()
        .code("2@abc,def".into())
        .timeout(std::time::Duration::from_secs(20))
        .build();
    let got = only(translate(&Event::PairingQrCode(qr), &cx()));
    assert_eq!(
        got,
        EngineEvent::Qr { code: "2@abc,def".into(), expires_at: cx().now + Duration::seconds(20) }
    );
}

#[test]
fn pairing_success_names_the_phone_and_failures_say_why() {
    let ok = ev::PairSuccess::builder()
        .id(wjid("491709990000:7@s.whatsapp.net"))
        .lid(wjid("100000012345678:7@lid"))
        .business_name(String::new())
        .platform("android".into())
        .build();
    assert_eq!(
        only(translate(&Event::PairSuccess(ok), &cx())),
        EngineEvent::PairSuccess { phone: PhoneNumber::parse("491709990000").unwrap(), push_name: None }
    );
    let exhausted = ev::PairingQrCodesExhausted::builder().disconnected(true).build();
    assert!(matches!(
        only(translate(&Event::PairingQrCodesExhausted(exhausted), &cx())),
        EngineEvent::PairError { reason } if reason.contains("in time")
    ));
}

#[test]
fn connected_reports_the_account_or_refuses_without_one() {
    let connected = || Event::Connected(ev::Connected::builder().build());
    assert_eq!(
        only(translate(&connected(), &cx())),
        EngineEvent::Connected {
            phone: PhoneNumber::parse("491701230000").unwrap(),
            push_name: Some("Shop".into())
        }
    );
    let unknown = Context { phone: None, ..cx() };
    assert!(matches!(
        only(translate(&connected(), &unknown)),
        EngineEvent::Disconnected { reason: DisconnectReason::Network { .. } }
    ));
}

#[test]
fn disconnects_are_classified_by_whether_retrying_can_help() {
    let reason = |e: Event| match only(translate(&e, &cx())) {
        EngineEvent::Disconnected { reason } => reason,
        other => panic!("{other:?}"),
    };
    let logged_out =
        ev::LoggedOut::builder().on_connect(true).reason(ConnectFailureReason::LoggedOut).build();
    assert!(matches!(reason(Event::LoggedOut(logged_out)), DisconnectReason::LoggedOut { .. }));
    assert_eq!(
        reason(Event::StreamReplaced(ev::StreamReplaced::builder().build())),
        DisconnectReason::StreamReplaced
    );
    let ban =
        ev::TemporaryBan::builder().code(TempBanReason::BlockedByUsers).expire(Duration::hours(24)).build();
    assert_eq!(
        reason(Event::TemporaryBan(ban)),
        DisconnectReason::TemporaryBan { code: 102, expires_at: Some(cx().now + Duration::hours(24)) }
    );
    let locked = ev::ConnectFailure::builder().reason(ConnectFailureReason::AccountLocked).build();
    assert!(matches!(reason(Event::ConnectFailure(locked)), DisconnectReason::LoggedOut { .. }));
    let busy = ev::ConnectFailure::builder()
        .reason(ConnectFailureReason::ServiceUnavailable)
        .message("try later".into())
        .build();
    let busy = reason(Event::ConnectFailure(busy));
    assert!(busy.retryable(), "{busy:?}");
    let dropped =
        ev::Disconnected::builder().reason(whatsapp_rust::wacore::net::DisconnectReason::StreamEnded).build();
    assert!(matches!(
        reason(Event::Disconnected(dropped)),
        DisconnectReason::Network { detail } if detail.contains("stream ended")
    ));
}

#[test]
fn text_replies_keep_the_quote_and_mentions() {
    let m = wa::Message {
        extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
            text: Some("see above @4917".into()),
            context_info: MessageField::some(wa::ContextInfo {
                stanza_id: Some("3EB0QUOTED".into()),
                participant: Some("491702220000@s.whatsapp.net".into()),
                mentioned_jid: vec!["491703330000@s.whatsapp.net".into(), "not a jid".into()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let got = only_message(batch(vec![(
        m,
        info("120363000000000001@g.us", "491702220000:3@s.whatsapp.net", "ID1", false),
    )]));
    assert_eq!(got.chat, gjid("120363000000000001@g.us"));
    assert_eq!(got.sender, gjid("491702220000@s.whatsapp.net"), "device suffix dropped");
    assert_eq!(got.body, IncomingBody::Text { text: "see above @4917".into() });
    assert_eq!(got.push_name.as_deref(), Some("Alice"));
    let quoted = got.quoted.unwrap();
    assert_eq!((quoted.id.as_str(), &quoted.chat), ("3EB0QUOTED", &gjid("120363000000000001@g.us")));
    assert_eq!(quoted.sender, Some(gjid("491702220000@s.whatsapp.net")));
    assert_eq!(got.mentions, vec![gjid("491703330000@s.whatsapp.net")]);
}

#[test]
fn a_batch_becomes_one_event_per_message_in_order() {
    let events = translate(
        &batch(vec![
            (text("one"), info("491702220000@s.whatsapp.net", "491702220000@s.whatsapp.net", "A", false)),
            (text("two"), info("491702220000@s.whatsapp.net", "491701230000@s.whatsapp.net", "B", true)),
        ]),
        &cx(),
    );
    let ids: Vec<_> = events
        .iter()
        .map(|e| match e {
            EngineEvent::Message(m) => (m.id.as_str().to_owned(), m.from_me),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, [("A".to_owned(), false), ("B".to_owned(), true)]);
}

#[test]
fn media_kinds_are_described_not_downloaded() {
    let cases: Vec<(wa::Message, IncomingBody)> = vec![
        (
            wa::Message {
                image_message: MessageField::some(wa::message::ImageMessage {
                    mimetype: Some("image/jpeg".into()),
                    caption: Some("look".into()),
                    file_length: Some(1234),
                    ..Default::default()
                }),
                ..Default::default()
            },
            IncomingBody::Media {
                kind: "image".into(),
                mime_type: "image/jpeg".into(),
                caption: Some("look".into()),
                file_name: None,
                size: 1234,
                handle: None,
            },
        ),
        (
            wa::Message {
                audio_message: MessageField::some(wa::message::AudioMessage {
                    mimetype: Some("audio/ogg; codecs=opus".into()),
                    ptt: Some(true),
                    file_length: Some(99),
                    ..Default::default()
                }),
                ..Default::default()
            },
            IncomingBody::Media {
                kind: "voice".into(),
                mime_type: "audio/ogg; codecs=opus".into(),
                caption: None,
                file_name: None,
                size: 99,
                handle: None,
            },
        ),
        (
            wa::Message {
                document_message: MessageField::some(wa::message::DocumentMessage {
                    mimetype: Some("application/pdf".into()),
                    file_name: Some("invoice.pdf".into()),
                    file_length: Some(5),
                    ..Default::default()
                }),
                ..Default::default()
            },
            IncomingBody::Media {
                kind: "document".into(),
                mime_type: "application/pdf".into(),
                caption: None,
                file_name: Some("invoice.pdf".into()),
                size: 5,
                handle: None,
            },
        ),
        (
            wa::Message {
                video_message: MessageField::some(wa::message::VideoMessage {
                    gif_playback: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            },
            IncomingBody::Media {
                kind: "gif".into(),
                mime_type: String::new(),
                caption: None,
                file_name: None,
                size: 0,
                handle: None,
            },
        ),
    ];
    for (m, want) in cases {
        let mut got = body(&m);
        if let IncomingBody::Media { handle, .. } = &mut got {
            assert!(
                handle.take().is_some_and(|h| h.starts_with("wa:")),
                "media comes with a download handle"
            );
        }
        assert_eq!(got, want);
    }
}

#[test]
fn locations_contacts_reactions_polls_edits_and_revokes() {
    let location = wa::Message {
        location_message: MessageField::some(wa::message::LocationMessage {
            degrees_latitude: Some(52.52),
            degrees_longitude: Some(13.405),
            name: Some("Berlin".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        body(&location),
        IncomingBody::Location { latitude: 52.52, longitude: 13.405, name: Some("Berlin".into()) }
    );

    let contact = wa::Message {
        contact_message: MessageField::some(wa::message::ContactMessage {
            display_name: Some("Bob".into()),
            vcard: Some("BEGIN:VCARD".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        body(&contact),
        IncomingBody::Contact { display_name: "Bob".into(), vcard: "BEGIN:VCARD".into() }
    );

    let key = |id: &str| MessageField::some(wa::MessageKey { id: Some(id.into()), ..Default::default() });
    let reaction = wa::Message {
        reaction_message: MessageField::some(wa::message::ReactionMessage {
            key: key("3EB0TARGET"),
            text: Some("👍".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        body(&reaction),
        IncomingBody::Reaction { target: MessageId("3EB0TARGET".into()), emoji: "👍".into() }
    );

    let poll = wa::Message {
        poll_creation_message_v3: MessageField::some(wa::message::PollCreationMessage {
            name: Some("Lunch?".into()),
            options: vec![
                wa::message::poll_creation_message::Option {
                    option_name: Some("Pizza".into()),
                    ..Default::default()
                },
                wa::message::poll_creation_message::Option {
                    option_name: Some("Sushi".into()),
                    ..Default::default()
                },
            ],
            selectable_options_count: Some(2),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        body(&poll),
        IncomingBody::Poll {
            question: "Lunch?".into(),
            options: vec!["Pizza".into(), "Sushi".into()],
            selectable: 2
        }
    );

    use wa::message::protocol_message::Type;
    let edit = wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: key("3EB0OLD"),
            r#type: Some(Type::MESSAGE_EDIT),
            edited_message: MessageField::some(text("fixed typo")),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        body(&edit),
        IncomingBody::Edited { target: MessageId("3EB0OLD".into()), text: "fixed typo".into() }
    );
    let revoke = wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: key("3EB0GONE"),
            r#type: Some(Type::REVOKE),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(body(&revoke), IncomingBody::Revoked { target: MessageId("3EB0GONE".into()) });
    assert!(matches!(body(&wa::Message::default()), IncomingBody::Unsupported { .. }));
}

#[test]
fn ephemeral_wrappers_are_unwrapped() {
    let wrapped = wa::Message {
        ephemeral_message: MessageField::some(wa::message::FutureProofMessage {
            message: MessageField::some(text("vanishing")),
        }),
        ..Default::default()
    };
    assert_eq!(body(wrapped.get_base_message()), IncomingBody::Text { text: "vanishing".into() });
    let got = only_message(batch(vec![(
        wrapped,
        info("491702220000@s.whatsapp.net", "491702220000@s.whatsapp.net", "E", false),
    )]));
    assert_eq!(got.body, IncomingBody::Text { text: "vanishing".into() });
}

#[test]
fn receipts_map_to_acks_and_protocol_receipts_are_dropped() {
    let r = |t: ReceiptType| {
        let source = MessageSource {
            chat: wjid("120363000000000001@g.us"),
            sender: wjid("491702220000:4@s.whatsapp.net"),
            is_group: true,
            ..Default::default()
        };
        let receipt = ev::Receipt::builder()
            .source(source)
            .message_ids(vec!["ID1".into(), "ID2".into()])
            .timestamp(cx().now)
            .r#type(t)
            .offline(false)
            .build();
        translate(&Event::Receipt(receipt), &cx())
    };
    for (t, ack) in [
        (ReceiptType::Delivered, Ack::Delivered),
        (ReceiptType::Read, Ack::Read),
        (ReceiptType::Played, Ack::Played),
    ] {
        assert_eq!(
            only(r(t)),
            EngineEvent::Receipt(Receipt {
                chat: gjid("120363000000000001@g.us"),
                ids: vec![MessageId("ID1".into()), MessageId("ID2".into())],
                ack,
                by: gjid("491702220000@s.whatsapp.net"),
                timestamp: cx().now,
            })
        );
    }
    for t in [ReceiptType::ReadSelf, ReceiptType::Retry, ReceiptType::ServerError, ReceiptType::Sender] {
        assert!(r(t.clone()).is_empty(), "{t:?}");
    }
}

#[test]
fn undecryptable_messages_are_announced_without_content() {
    let u = ev::UndecryptableMessage::builder()
        .info(Arc::new(info("491702220000@s.whatsapp.net", "491702220000@s.whatsapp.net", "BAD", false)))
        .is_unavailable(false)
        .unavailable_type(Default::default())
        .decrypt_fail_mode(Default::default())
        .build();
    let got = only_message(Event::UndecryptableMessage(u));
    assert_eq!(got.body, IncomingBody::Unsupported { reason: "could not decrypt".into() });
    assert_eq!(got.id.as_str(), "BAD");
}

#[test]
fn group_notifications_name_the_change_and_who_made_it() {
    let participant = |j: &str| GroupParticipantInfo {
        jid: wjid(j),
        phone_number: Some(wjid("491704440000@s.whatsapp.net")),
        display_name: None,
        r#type: None,
        lid: None,
        username: None,
        join_time: None,
        group_history_sent_state: None,
    };
    let update = |action| {
        ev::GroupUpdate::builder()
            .group_jid(wjid("120363000000000001@g.us"))
            .participant(wjid("100000000000001@lid"))
            .participant_pn(wjid("491702220000@s.whatsapp.net"))
            .timestamp(cx().now)
            .is_lid_addressing_mode(true)
            .action(action)
            .build()
    };
    let add = update(GroupNotificationAction::Add {
        participants: vec![participant("100000000000009@lid")],
        reason: None,
    });
    match only(translate(&Event::GroupUpdate(add), &cx())) {
        EngineEvent::GroupUpdate { group, action, actor } => {
            assert_eq!(action, "participants.add");
            assert_eq!(group.jid, gjid("120363000000000001@g.us"));
            assert_eq!(
                group.participants[0].jid,
                gjid("491704440000@s.whatsapp.net"),
                "phone number preferred"
            );
            assert_eq!(actor, Some(gjid("491702220000@s.whatsapp.net")));
        }
        other => panic!("{other:?}"),
    }
    let subject = update(GroupNotificationAction::Subject {
        subject: "Team".into(),
        subject_owner: None,
        subject_time: None,
    });
    match only(translate(&Event::GroupUpdate(subject), &cx())) {
        EngineEvent::GroupUpdate { group, action, .. } => {
            assert_eq!((action.as_str(), group.subject.as_str()), ("subject", "Team"))
        }
        other => panic!("{other:?}"),
    }
    let announce = update(GroupNotificationAction::Announce);
    assert!(matches!(
        only(translate(&Event::GroupUpdate(announce), &cx())),
        EngineEvent::GroupUpdate { action, .. } if action == "announcement"
    ));
}

#[test]
fn jids_the_gateway_does_not_model_are_skipped() {
    assert_eq!(jid(&wjid("491702220000:5@s.whatsapp.net")), Some(gjid("491702220000@s.whatsapp.net")));
    assert_eq!(jid(&wjid("100000012345678:3@lid")), Some(gjid("100000012345678@lid")));
    let bot = info("867051314767696@bot", "867051314767696@bot", "X", false);
    assert!(translate(&batch(vec![(text("hi"), bot)]), &cx()).is_empty());
}

#[test]
fn typing_recording_and_presence() {
    use whatsapp_rust::wacore::types::presence::{ChatPresence, ChatPresenceMedia};
    let typing = |state, media| {
        let source = MessageSource {
            chat: wjid("491702220000@s.whatsapp.net"),
            sender: wjid("491702220000:2@s.whatsapp.net"),
            ..Default::default()
        };
        let update = ev::ChatPresenceUpdate::builder().source(source).state(state).media(media).build();
        only(translate(&Event::ChatPresence(update), &cx()))
    };
    let expect = |state| EngineEvent::ChatState {
        chat: gjid("491702220000@s.whatsapp.net"),
        sender: gjid("491702220000@s.whatsapp.net"),
        state,
    };
    assert_eq!(typing(ChatPresence::Composing, ChatPresenceMedia::Text), expect(ChatState::Composing));
    assert_eq!(typing(ChatPresence::Composing, ChatPresenceMedia::Audio), expect(ChatState::Recording));
    assert_eq!(typing(ChatPresence::Paused, ChatPresenceMedia::Audio), expect(ChatState::Paused));
    let online =
        ev::PresenceUpdate::builder().from(wjid("491702220000@s.whatsapp.net")).unavailable(false).build();
    assert_eq!(
        only(translate(&Event::Presence(online), &cx())),
        EngineEvent::Presence { from: gjid("491702220000@s.whatsapp.net"), available: true }
    );
}

#[test]
fn archive_pin_and_mute_from_the_phone() {
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
    let chat = "491709876543@s.whatsapp.net";
    let changed = |event: Event| match only(translate(&event, &cx())) {
        EngineEvent::ChatChanged { chat: c, change } => {
            assert_eq!(c, gjid(chat));
            change
        }
        other => panic!("{other:?}"),
    };
    let archive = ev::ArchiveUpdate::builder()
        .jid(wjid(chat))
        .timestamp(at)
        .action(Box::new(wa::sync_action_value::ArchiveChatAction {
            archived: Some(true),
            ..Default::default()
        }))
        .from_full_sync(false)
        .build();
    assert_eq!(
        changed(Event::ArchiveUpdate(archive)),
        ChatChange { archived: Some(true), ..Default::default() }
    );
    let pin = ev::PinUpdate::builder()
        .jid(wjid(chat))
        .timestamp(at)
        .action(Box::new(wa::sync_action_value::PinAction { pinned: Some(false) }))
        .from_full_sync(false)
        .build();
    assert_eq!(changed(Event::PinUpdate(pin)), ChatChange { pinned: Some(false), ..Default::default() });
    let mute = |muted: Option<bool>, end: Option<i64>| {
        let update = ev::MuteUpdate::builder()
            .jid(wjid(chat))
            .timestamp(at)
            .action(Box::new(wa::sync_action_value::MuteAction {
                muted,
                mute_end_timestamp: end,
                ..Default::default()
            }))
            .from_full_sync(false)
            .build();
        changed(Event::MuteUpdate(update)).mute.unwrap()
    };
    let end = at + Duration::hours(8);
    assert_eq!(mute(Some(true), Some(end.timestamp_millis())), Mute::Until(end));
    assert_eq!(mute(Some(true), Some(-1)), Mute::Forever);
    assert_eq!(mute(Some(true), None), Mute::Forever);
    assert_eq!(mute(Some(false), Some(0)), Mute::Off);
    assert_eq!(mute(Some(false), Some(end.timestamp_millis())), Mute::Off);
    // An archive that says nothing is no change.
    let silent = ev::ArchiveUpdate::builder()
        .jid(wjid(chat))
        .timestamp(at)
        .action(Box::new(wa::sync_action_value::ArchiveChatAction::default()))
        .from_full_sync(true)
        .build();
    assert!(translate(&Event::ArchiveUpdate(silent), &cx()).is_empty());
}

#[test]
fn contacts_saved_on_the_phone() {
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
    let saved = |contact: &str, action: wa::sync_action_value::ContactAction| {
        let update = ev::ContactUpdate::builder()
            .jid(wjid(contact))
            .timestamp(at)
            .action(Box::new(action))
            .from_full_sync(true)
            .build();
        translate(&Event::ContactUpdate(update), &cx())
    };
    let action =
        |full: Option<&str>, first: Option<&str>, pn: Option<&str>| wa::sync_action_value::ContactAction {
            full_name: full.map(str::to_owned),
            first_name: first.map(str::to_owned),
            pn_jid: pn.map(str::to_owned),
            ..Default::default()
        };
    let ada = "491709876543@s.whatsapp.net";
    assert_eq!(
        only(saved(ada, action(Some(" Ada Lovelace "), Some("Ada"), None))),
        EngineEvent::ContactSaved {
            contact: gjid(ada),
            name: "Ada Lovelace".into(),
            first_name: Some("Ada".into())
        }
    );
    // Only a first name: it is the name too.
    assert_eq!(
        only(saved(ada, action(None, Some("Ada"), None))),
        EngineEvent::ContactSaved { contact: gjid(ada), name: "Ada".into(), first_name: Some("Ada".into()) }
    );
    // Synced under the person's LID: kept under their phone number.
    assert_eq!(
        only(saved("100000012345678@lid", action(Some("Ada Lovelace"), None, Some(ada)))),
        EngineEvent::ContactSaved { contact: gjid(ada), name: "Ada Lovelace".into(), first_name: None }
    );
    // No name (a username-only contact) is nothing to record.
    assert!(saved(ada, action(None, Some("  "), None)).is_empty());
}

#[test]
fn labels_changed_on_the_phone() {
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
    let edit = |action: wa::sync_action_value::LabelEditAction| {
        let u = ev::LabelEditUpdate::builder()
            .label_id("3".into())
            .timestamp(at)
            .action(Box::new(action))
            .from_full_sync(false)
            .build();
        only(translate(&Event::LabelEditUpdate(u), &cx()))
    };
    assert_eq!(
        edit(wa::sync_action_value::LabelEditAction {
            name: Some("VIP".into()),
            color: Some(4),
            deleted: Some(false),
            ..Default::default()
        }),
        EngineEvent::Label(LabelChange::Edited {
            label: "3".into(),
            name: Some("VIP".into()),
            color: Some(4),
            deleted: false
        })
    );
    assert_eq!(
        edit(wa::sync_action_value::LabelEditAction { deleted: Some(true), ..Default::default() }),
        EngineEvent::Label(LabelChange::Edited { label: "3".into(), name: None, color: None, deleted: true })
    );
    let chat = "491709876543@s.whatsapp.net";
    let assoc = |labeled: Option<bool>| {
        let u = ev::LabelAssociationUpdate::builder()
            .label_id("3".into())
            .chat_jid(wjid(chat))
            .timestamp(at)
            .action(Box::new(wa::sync_action_value::LabelAssociationAction { labeled, ..Default::default() }))
            .from_full_sync(true)
            .build();
        only(translate(&Event::LabelAssociationUpdate(u), &cx()))
    };
    assert_eq!(
        assoc(Some(true)),
        EngineEvent::Label(LabelChange::Chat { label: "3".into(), chat: gjid(chat), labeled: true })
    );
    assert_eq!(
        assoc(None),
        EngineEvent::Label(LabelChange::Chat { label: "3".into(), chat: gjid(chat), labeled: false })
    );
}
