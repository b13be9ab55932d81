//! WhatsApp event → gateway events, as pure functions.
//!
//! whatsapp-rust reports everything as one `Event` enum; the session only
//! understands `EngineEvent`. Each translation here takes the crate's event
//! and what it cannot know by itself (the account, the clock) and returns
//! zero or more gateway events, so it is tested offline by building the
//! crate's own types. Events the gateway has no use for (other app-state sync,
//! newsletter updates, history sync) map to nothing; history sync is not
//! imported into the message log. Of the app-state changes, archive, pin and
//! mute of a chat, saved contacts and labels are translated. Calls are translated in `calls.rs`.

use chrono::{DateTime, Duration, Utc};
use whatsapp_rust::prelude::wa;
use whatsapp_rust::wacore::proto_helpers::MessageExt;
use whatsapp_rust::wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};
use whatsapp_rust::wacore::types::events::{self as ev, Event};
use whatsapp_rust::wacore::types::message::MessageInfo;
use whatsapp_rust::wacore::types::presence::{ChatPresence, ChatPresenceMedia, ReceiptType};

use crate::wa::*;

/// What a translation needs beyond the event itself.
#[derive(Debug, Clone)]
pub struct Context {
    /// The linked account, once known.
    pub phone: Option<PhoneNumber>,
    pub push_name: Option<String>,
    pub now: DateTime<Utc>,
}

/// The crate's JID in the gateway's form; `None` for servers the gateway
/// does not model (bots, hosted devices, interop).
pub fn jid(j: &whatsapp_rust::Jid) -> Option<Jid> {
    Jid::parse(&j.to_string()).ok()
}

fn seconds(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

/// Translates one event.
pub fn translate(event: &Event, cx: &Context) -> Vec<EngineEvent> {
    let one = |e| vec![e];
    match event {
        Event::PairingQrCode(qr) => {
            one(EngineEvent::Qr { code: qr.code.clone(), expires_at: cx.now + seconds(qr.timeout) })
        }
        Event::PairSuccess(p) => match jid(&p.id).and_then(|j| j.phone()) {
            Some(phone) => one(EngineEvent::PairSuccess {
                phone,
                push_name: Some(p.business_name.clone()).filter(|n| !n.is_empty()),
            }),
            None => {
                one(EngineEvent::PairError { reason: format!("paired with an unexpected address {}", p.id) })
            }
        },
        Event::PairError(p) => one(EngineEvent::PairError { reason: p.error.clone() }),
        Event::PairingCodeError(e) => {
            one(EngineEvent::PairError { reason: format!("pairing code failed: {e:?}") })
        }
        Event::PairingQrCodesExhausted(_) => {
            one(EngineEvent::PairError { reason: "no phone scanned the QR codes in time".into() })
        }
        Event::QrScannedWithoutMultidevice(_) => one(EngineEvent::PairError {
            reason: "the phone that scanned the code has multi-device turned off".into(),
        }),
        Event::Connected(_) => match &cx.phone {
            Some(phone) => {
                one(EngineEvent::Connected { phone: phone.clone(), push_name: cx.push_name.clone() })
            }
            // Logged in without a known account cannot happen after a pairing;
            // say so instead of reporting a connected session with no number.
            None => one(network("connected without a linked account")),
        },
        Event::LoggedOut(l) => one(EngineEvent::Disconnected {
            reason: DisconnectReason::LoggedOut { detail: format!("logged out ({:?})", l.reason) },
        }),
        Event::StreamReplaced(_) => {
            one(EngineEvent::Disconnected { reason: DisconnectReason::StreamReplaced })
        }
        Event::TemporaryBan(b) => one(EngineEvent::Disconnected {
            reason: DisconnectReason::TemporaryBan {
                code: u32::try_from(b.code.code()).unwrap_or(0),
                expires_at: Some(cx.now + b.expire),
            },
        }),
        Event::ConnectFailure(f) if f.reason.is_logged_out() => one(EngineEvent::Disconnected {
            reason: DisconnectReason::LoggedOut { detail: format!("connection refused: {:?}", f.reason) },
        }),
        Event::ConnectFailure(f) => one(network(&format!(
            "connection refused: {:?}{}",
            f.reason,
            f.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
        ))),
        Event::ClientOutdated(_) => one(network("WhatsApp says this client version is outdated")),
        Event::StreamError(e) => one(network(&format!("stream error {}", e.code))),
        Event::Disconnected(d) => one(network(&d.reason.to_string())),
        Event::Messages(batch) => batch
            .messages
            .iter()
            .filter_map(|m| message(&m.message, &m.info))
            .map(EngineEvent::Message)
            .collect(),
        Event::UndecryptableMessage(u) => undecryptable(u).map(EngineEvent::Message).into_iter().collect(),
        Event::Receipt(r) => receipt(r).map(EngineEvent::Receipt).into_iter().collect(),
        Event::GroupUpdate(g) => group_update(g).into_iter().collect(),
        Event::SelfPushNameUpdated(p) => one(EngineEvent::PushName { push_name: p.new_name.clone() }),
        Event::ChatPresence(c) => chat_state(c).into_iter().collect(),
        Event::Presence(p) => jid(&p.from)
            .map(|from| EngineEvent::Presence { from, available: !p.unavailable })
            .into_iter()
            .collect(),
        Event::ArchiveUpdate(u) => {
            chat_changed(&u.jid, ChatChange { archived: u.action.archived, ..Default::default() })
        }
        Event::PinUpdate(u) => {
            chat_changed(&u.jid, ChatChange { pinned: u.action.pinned, ..Default::default() })
        }
        Event::MuteUpdate(u) => {
            chat_changed(&u.jid, ChatChange { mute: Some(mute(&u.action)), ..Default::default() })
        }
        Event::ContactUpdate(u) => contact_saved(&u.jid, &u.action).into_iter().collect(),
        Event::LabelEditUpdate(u) => one(EngineEvent::Label(LabelChange::Edited {
            label: u.label_id.clone(),
            name: u.action.name.clone().filter(|n| !n.is_empty()),
            color: u.action.color,
            deleted: u.action.deleted == Some(true),
        })),
        Event::LabelAssociationUpdate(u) => match jid(&u.chat_jid) {
            Some(chat) => one(EngineEvent::Label(LabelChange::Chat {
                label: u.label_id.clone(),
                chat,
                labeled: u.action.labeled == Some(true),
            })),
            None => Vec::new(),
        },
        Event::IncomingCall(c) => super::calls::offer(c).into_iter().collect(),
        Event::MissedCall(c) => super::calls::missed(c).into_iter().collect(),
        Event::CallEndedElsewhere(c) => super::calls::ended_elsewhere(c).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// A chat setting changed on another device; nothing when nothing is said
/// or the chat is not one the gateway models.
fn chat_changed(chat: &whatsapp_rust::Jid, change: ChatChange) -> Vec<EngineEvent> {
    match jid(chat) {
        Some(chat) if !change.is_empty() => vec![EngineEvent::ChatChanged { chat, change }],
        _ => Vec::new(),
    }
}

/// A contact saved or renamed on another device, under its phone-number
/// address when the sync names both; nothing without a name (a contact
/// known only by username) or for an address the gateway does not model.
fn contact_saved(
    contact: &whatsapp_rust::Jid,
    action: &wa::sync_action_value::ContactAction,
) -> Option<EngineEvent> {
    let nonempty =
        |n: &Option<String>| n.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    let name = nonempty(&action.full_name).or_else(|| nonempty(&action.first_name))?;
    let pn = action.pn_jid.as_deref().filter(|_| contact.is_lid()).and_then(|pn| Jid::parse(pn).ok());
    let contact = pn.or_else(|| jid(contact)).filter(|j| !j.is_group())?;
    Some(EngineEvent::ContactSaved { contact, name, first_name: nonempty(&action.first_name) })
}

/// WhatsApp's mute: an end time in milliseconds, -1 for always, 0 (or
/// `muted` false) for not muted.
fn mute(action: &wa::sync_action_value::MuteAction) -> Mute {
    match (action.muted, action.mute_end_timestamp) {
        (Some(false), _) | (_, Some(0)) => Mute::Off,
        (_, Some(end)) if end < 0 => Mute::Forever,
        (_, Some(end)) => DateTime::from_timestamp_millis(end).map_or(Mute::Forever, Mute::Until),
        (Some(true), None) => Mute::Forever,
        (None, None) => Mute::Off,
    }
}

fn network(detail: &str) -> EngineEvent {
    EngineEvent::Disconnected { reason: DisconnectReason::Network { detail: detail.to_owned() } }
}

/// A decrypted message; `None` when its chat is not one the gateway models.
pub fn message(msg: &wa::Message, info: &MessageInfo) -> Option<IncomingMessage> {
    let chat = jid(&info.source.chat)?;
    let sender = jid(&info.source.sender).unwrap_or_else(|| chat.clone());
    let base = msg.get_base_message();
    let context = context_info(base);
    Some(IncomingMessage {
        id: MessageId(info.id.to_string()),
        quoted: context.and_then(|c| quoted(c, &chat)),
        mentions: context
            .map(|c| c.mentioned_jid.iter().filter_map(|j| Jid::parse(j).ok()).collect())
            .unwrap_or_default(),
        chat,
        sender,
        from_me: info.source.is_from_me,
        push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
        timestamp: info.timestamp,
        body: body(base),
    })
}

/// A message that could not be decrypted: logged and announced so the
/// operator sees it, with no content.
fn undecryptable(u: &ev::UndecryptableMessage) -> Option<IncomingMessage> {
    let chat = jid(&u.info.source.chat)?;
    Some(IncomingMessage {
        id: MessageId(u.info.id.to_string()),
        sender: jid(&u.info.source.sender).unwrap_or_else(|| chat.clone()),
        chat,
        from_me: u.info.source.is_from_me,
        push_name: Some(u.info.push_name.clone()).filter(|n| !n.is_empty()),
        timestamp: u.info.timestamp,
        body: IncomingBody::Unsupported {
            reason: if u.is_unavailable {
                "the message is unavailable".into()
            } else {
                "could not decrypt".into()
            },
        },
        quoted: None,
        mentions: Vec::new(),
    })
}

/// The content, unwrapped from ephemeral/view-once wrappers.
pub fn body(m: &wa::Message) -> IncomingBody {
    if let Some(text) = m.text_content() {
        return IncomingBody::Text { text: text.to_owned() };
    }
    macro_rules! media {
        ($field:ident, $kind:expr, $caption:expr, $name:expr) => {
            if let Some(x) = m.$field.as_option() {
                return IncomingBody::Media {
                    kind: $kind(x).to_owned(),
                    mime_type: x.mimetype.clone().unwrap_or_default(),
                    caption: $caption(x),
                    file_name: $name(x),
                    size: x.file_length.unwrap_or(0),
                    handle: Some(super::media::handle(stringify!($field), x)),
                };
            }
        };
    }
    media!(image_message, |_| "image", |x: &wa::message::ImageMessage| x.caption.clone(), |_| None);
    media!(
        video_message,
        |x: &wa::message::VideoMessage| if x.gif_playback == Some(true) { "gif" } else { "video" },
        |x: &wa::message::VideoMessage| x.caption.clone(),
        |_| None
    );
    media!(
        audio_message,
        |x: &wa::message::AudioMessage| if x.ptt == Some(true) { "voice" } else { "audio" },
        |_| None,
        |_| None
    );
    media!(
        document_message,
        |_| "document",
        |x: &wa::message::DocumentMessage| x.caption.clone(),
        |x: &wa::message::DocumentMessage| x.file_name.clone()
    );
    media!(sticker_message, |_| "sticker", |_| None, |_| None);
    if let Some(l) = m.location_message.as_option() {
        return IncomingBody::Location {
            latitude: l.degrees_latitude.unwrap_or(0.0),
            longitude: l.degrees_longitude.unwrap_or(0.0),
            name: l.name.clone(),
        };
    }
    if let Some(l) = m.live_location_message.as_option() {
        return IncomingBody::Location {
            latitude: l.degrees_latitude.unwrap_or(0.0),
            longitude: l.degrees_longitude.unwrap_or(0.0),
            name: None,
        };
    }
    if let Some(c) = m.contact_message.as_option() {
        return IncomingBody::Contact {
            display_name: c.display_name.clone().unwrap_or_default(),
            vcard: c.vcard.clone().unwrap_or_default(),
        };
    }
    if let Some(r) = m.reaction_message.as_option() {
        return IncomingBody::Reaction {
            target: MessageId(r.key.as_option().and_then(|k| k.id.clone()).unwrap_or_default()),
            emoji: r.text.clone().unwrap_or_default(),
        };
    }
    let poll = [&m.poll_creation_message, &m.poll_creation_message_v2, &m.poll_creation_message_v3]
        .into_iter()
        .find_map(|p| p.as_option());
    if let Some(p) = poll {
        return IncomingBody::Poll {
            question: p.name.clone().unwrap_or_default(),
            options: p.options.iter().filter_map(|o| o.option_name.clone()).collect(),
            selectable: p.selectable_options_count.filter(|&n| n > 0).unwrap_or(1),
        };
    }
    if let Some(v) = m.poll_update_message.as_option() {
        // Votes are encrypted with the poll's secret; `polls::open` decrypts
        // them where the key store is at hand. Undecrypted, a vote says only this.
        let target = v.poll_creation_message_key.as_option().and_then(|k| k.id.clone());
        return IncomingBody::Unsupported {
            reason: format!("a poll vote that could not be read (poll {})", target.unwrap_or_default()),
        };
    }
    if let Some(p) = m.protocol_message.as_option() {
        use wa::message::protocol_message::Type;
        let target = MessageId(p.key.as_option().and_then(|k| k.id.clone()).unwrap_or_default());
        match p.r#type {
            Some(Type::REVOKE) => return IncomingBody::Revoked { target },
            Some(Type::MESSAGE_EDIT) => {
                let text = p.edited_message.as_option().map(body).and_then(|b| match b {
                    IncomingBody::Text { text } => Some(text),
                    IncomingBody::Media { caption, .. } => caption,
                    _ => None,
                });
                return IncomingBody::Edited { target, text: text.unwrap_or_default() };
            }
            _ => {}
        }
    }
    IncomingBody::Unsupported { reason: "a message kind the gateway does not translate".into() }
}

/// The context (quote, mentions) of whichever part carries one.
fn context_info(m: &wa::Message) -> Option<&wa::ContextInfo> {
    [
        m.extended_text_message.as_option().and_then(|x| x.context_info.as_option()),
        m.image_message.as_option().and_then(|x| x.context_info.as_option()),
        m.video_message.as_option().and_then(|x| x.context_info.as_option()),
        m.audio_message.as_option().and_then(|x| x.context_info.as_option()),
        m.document_message.as_option().and_then(|x| x.context_info.as_option()),
        m.sticker_message.as_option().and_then(|x| x.context_info.as_option()),
        m.location_message.as_option().and_then(|x| x.context_info.as_option()),
        m.contact_message.as_option().and_then(|x| x.context_info.as_option()),
    ]
    .into_iter()
    .flatten()
    .next()
}

/// The message a reply quotes. A quote without a chat is in this chat.
fn quoted(c: &wa::ContextInfo, chat: &Jid) -> Option<MessageRef> {
    let id = c.stanza_id.clone().filter(|s| !s.is_empty())?;
    Some(MessageRef {
        chat: c.remote_jid.as_deref().and_then(|j| Jid::parse(j).ok()).unwrap_or_else(|| chat.clone()),
        id: MessageId(id),
        // The phone does not say; the message log knows (it is matched by id).
        from_me: false,
        sender: c.participant.as_deref().and_then(|j| Jid::parse(j).ok()),
    })
}

/// Receipts for messages this session sent; our own devices' read marks and
/// protocol-level receipts (retry, server error, …) are not acks.
pub fn receipt(r: &ev::Receipt) -> Option<Receipt> {
    let ack = match r.r#type {
        ReceiptType::Delivered => Ack::Delivered,
        ReceiptType::Read => Ack::Read,
        ReceiptType::Played => Ack::Played,
        _ => return None,
    };
    let chat = jid(&r.source.chat)?;
    Some(Receipt {
        by: jid(&r.source.sender).unwrap_or_else(|| chat.clone()),
        chat,
        ids: r.message_ids.iter().map(|id| MessageId(id.to_string())).collect(),
        ack,
        timestamp: r.timestamp,
    })
}

/// Typing or recording in a chat ("paused" when they stopped).
fn chat_state(c: &ev::ChatPresenceUpdate) -> Option<EngineEvent> {
    let state = match (&c.state, c.media) {
        (ChatPresence::Paused, _) => ChatState::Paused,
        (ChatPresence::Composing, ChatPresenceMedia::Audio) => ChatState::Recording,
        (ChatPresence::Composing, ChatPresenceMedia::Text) => ChatState::Composing,
    };
    let chat = jid(&c.source.chat)?;
    Some(EngineEvent::ChatState {
        sender: jid(&c.source.sender).unwrap_or_else(|| chat.clone()),
        chat,
        state,
    })
}

/// A group notification; the group's info carries only what changed.
pub fn group_update(g: &ev::GroupUpdate) -> Option<EngineEvent> {
    let group = jid(&g.group_jid)?;
    let mut info = GroupInfo {
        jid: group,
        subject: String::new(),
        description: None,
        owner: None,
        participants: Vec::new(),
        created_at: None,
        announce: false,
        locked: false,
    };
    let members = |list: &[GroupParticipantInfo], admin: bool| -> Vec<GroupParticipant> {
        list.iter()
            .filter_map(|p| p.phone_number.as_ref().and_then(jid).or_else(|| jid(&p.jid)))
            .map(|jid| GroupParticipant { jid, admin, super_admin: false })
            .collect()
    };
    let action = match &g.action {
        GroupNotificationAction::Add { participants, .. } => {
            info.participants = members(participants, false);
            "participants.add"
        }
        GroupNotificationAction::Remove { participants, .. } => {
            info.participants = members(participants, false);
            "participants.remove"
        }
        GroupNotificationAction::Promote { participants } => {
            info.participants = members(participants, true);
            "participants.promote"
        }
        GroupNotificationAction::Demote { participants } => {
            info.participants = members(participants, false);
            "participants.demote"
        }
        GroupNotificationAction::Subject { subject, .. } => {
            info.subject = subject.clone();
            "subject"
        }
        GroupNotificationAction::Description { description, .. } => {
            info.description = description.clone();
            "description"
        }
        GroupNotificationAction::Announce => {
            info.announce = true;
            "announcement"
        }
        GroupNotificationAction::Locked { .. } => {
            info.locked = true;
            "locked"
        }
        other => other.tag_name(),
    };
    Some(EngineEvent::GroupUpdate {
        group: info,
        action: action.to_owned(),
        actor: g.participant_pn.as_ref().and_then(jid).or_else(|| g.participant.as_ref().and_then(jid)),
    })
}

#[cfg(test)]
mod tests;
