//! The simulated world: sessions' connection states, linked accounts,
//! groups, mailboxes for offline accounts, and faults.
//!
//! All state sits behind one `std::sync::Mutex` that is never held across an
//! `.await`: operations decide under the lock what to emit (`Outbox`), then
//! send after releasing it, so the ordered event channels keep their order
//! without blocking the world.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use super::ids;

mod calls;
mod groups;
mod media;
mod people;
mod polls;
mod sent;

use crate::config::SandboxConfig;
use crate::engine::{EngineContext, EngineError, EngineResult};
use crate::store::CredentialRepo;
use crate::wa::*;
pub use calls::{CallEndKind, CallRequest, CallState, EndCall, SandboxCall};
use groups::Group;
use polls::PollMemory;
pub use polls::{InboundPoll, VoteRequest};
use sent::SentMemory;

/// Messages kept for an offline account; the oldest are dropped beyond it.
const MAILBOX_LIMIT: usize = 1024;

/// The phone's side of linking: `POST /sandbox/sessions/{id}/link`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "491701234567", "push_name": "Alice"}))]
pub struct LinkRequest {
    /// The number of the phone that scans the QR code or types the code.
    #[schema(value_type = String, example = "491701234567")]
    pub phone: PhoneNumber,
    pub push_name: Option<String>,
    /// When the session asked for a pairing code: the code typed on the phone.
    pub code: Option<String>,
}

/// Media described by an injected inbound message.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundMedia {
    /// image, video, audio, voice, document or sticker.
    pub kind: String,
    pub mime_type: String,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    #[serde(default)]
    pub size: u64,
}

/// A message someone sends to a sandbox session: `POST /sandbox/sessions/{id}/inbound`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "491709876543", "push_name": "Bob", "text": "Hello!"}))]
pub struct Inbound {
    #[schema(value_type = String, example = "491709876543")]
    pub from: PhoneNumber,
    pub push_name: Option<String>,
    pub text: Option<String>,
    pub media: Option<InboundMedia>,
    /// Id of an earlier message in the same chat this one replies to.
    #[schema(value_type = Option<String>)]
    pub reply_to: Option<MessageId>,
    /// A group the message is posted in (it must exist in the sandbox).
    #[schema(value_type = Option<String>, example = "120363025246125486@g.us")]
    pub group: Option<Jid>,
    /// A poll instead of text or media.
    pub poll: Option<InboundPoll>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The connection drops; it may reconnect.
    Disconnect,
    /// The connection drops and connecting fails until `clear`
    /// (or `fail_connects` times).
    ConnectFailure,
    /// The phone removed this device: credentials are gone.
    LoggedOut,
    TemporaryBan,
    /// Another client took over the connection.
    StreamReplaced,
    /// Receipts for the messages this session sends are lost (a flaky
    /// network, a receipt missed while the gateway was down) until `clear`.
    DropReceipts,
    /// Connecting works again, and receipts arrive again.
    Clear,
}

/// `POST /sandbox/sessions/{id}/fault`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "disconnect", "fail_connects": 3}))]
pub struct Fault {
    pub kind: FaultKind,
    /// How many following connection attempts fail. Default: 0 for
    /// `disconnect`, unlimited (until `clear`) for `connect_failure`.
    pub fail_connects: Option<u32>,
}

enum Conn {
    Offline,
    AwaitingLink { qr: String, pairing: Option<(PhoneNumber, String)> },
    Online { phone: PhoneNumber, push_name: String },
}

struct Slot {
    instance: u64,
    events: mpsc::Sender<EngineEvent>,
    credentials: Arc<dyn CredentialRepo>,
    conn: Conn,
    /// Bumped on every connect/disconnect so stale QR rotations stop.
    generation: u64,
    fail_connects: u32,
    connect_attempts: u64,
    blocked: HashSet<Jid>,
    mailbox: VecDeque<IncomingMessage>,
    sent: SentMemory,
    drop_receipts: bool,
    profile: people::OwnProfile,
    /// Polls sent or received, for votes on them.
    polls: PollMemory,
    last_vote_ms: i64,
}

#[derive(Default)]
struct World {
    slots: HashMap<String, Slot>,
    /// Linked sandbox accounts: phone -> session id.
    accounts: HashMap<PhoneNumber, String>,
    groups: HashMap<Jid, Group>,
    /// Connection failures set before the session's engine exists.
    preset_failures: HashMap<String, u32>,
    /// Media files delivered, for download by their recipients.
    media: media::Kept,
    /// Calls rung through the control API, by call id.
    calls: HashMap<String, SandboxCall>,
}

/// Events to send once the lock is released: (channel, event, delay).
#[derive(Default)]
struct Outbox(Vec<(mpsc::Sender<EngineEvent>, EngineEvent, Duration)>);

impl Outbox {
    fn push(&mut self, to: &mpsc::Sender<EngineEvent>, event: EngineEvent, after: Duration) {
        self.0.push((to.clone(), event, after));
    }

    /// Immediate events go out in order, now; delayed ones from a timer each.
    /// A closed channel means the session stopped: dropping is correct.
    async fn flush(self) {
        for (tx, event, after) in self.0 {
            if after.is_zero() {
                let _ = tx.send(event).await;
            } else {
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let _ = tx.send(event).await;
                });
            }
        }
    }
}

pub struct SandboxNetwork {
    world: Mutex<World>,
    config: SandboxConfig,
    instances: AtomicU64,
}

fn not_found(what: &str) -> EngineError {
    EngineError::NotFound(what.to_owned())
}

impl SandboxNetwork {
    pub fn new(config: SandboxConfig) -> Arc<Self> {
        Arc::new(Self { world: Mutex::new(World::default()), config, instances: AtomicU64::new(0) })
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn delivered_after(&self) -> Duration {
        Duration::from_millis(self.config.delivered_after_ms)
    }

    fn read_after(&self) -> Duration {
        Duration::from_millis(self.config.read_after_ms)
    }

    /// Attaches a new engine instance for a session, keeping faults set on
    /// an earlier instance. Returns the instance number.
    pub(super) fn attach(&self, ctx: &EngineContext) -> u64 {
        let instance = self.instances.fetch_add(1, Ordering::Relaxed) + 1;
        let mut world = self.world();
        let id = ctx.session_id.as_str().to_owned();
        // What the account keeps across engine instances: faults, blocks,
        // unread mail, its profile, its polls.
        let (fail_connects, blocked, mailbox, profile, polls, last_vote_ms) = match world.slots.remove(&id) {
            Some(old) => {
                (old.fail_connects, old.blocked, old.mailbox, old.profile, old.polls, old.last_vote_ms)
            }
            None => (
                world.preset_failures.remove(&id).unwrap_or(0),
                HashSet::new(),
                VecDeque::new(),
                people::OwnProfile::default(),
                PollMemory::default(),
                0,
            ),
        };
        world.slots.insert(
            id,
            Slot {
                instance,
                events: ctx.events.clone(),
                credentials: ctx.credentials.clone(),
                conn: Conn::Offline,
                generation: 0,
                fail_connects,
                connect_attempts: 0,
                blocked,
                mailbox,
                sent: SentMemory::default(),
                drop_receipts: false,
                profile,
                polls,
                last_vote_ms,
            },
        );
        instance
    }

    /// The engine instance is gone: go offline, unless a newer instance took over.
    pub(super) fn detach(&self, session: &str, instance: u64) {
        let mut world = self.world();
        if world.slots.get(session).is_some_and(|s| s.instance == instance) {
            Self::go_offline(&mut world, session);
        }
    }

    fn go_offline(world: &mut World, session: &str) {
        if let Some(slot) = world.slots.get_mut(session) {
            slot.generation += 1;
            if let Conn::Online { phone, .. } = std::mem::replace(&mut slot.conn, Conn::Offline) {
                // The account stays known while linked so messages wait in its mailbox.
                world.accounts.entry(phone).or_insert_with(|| session.to_owned());
            }
        }
    }

    fn slot<'a>(world: &'a mut World, session: &str) -> EngineResult<&'a mut Slot> {
        world.slots.get_mut(session).ok_or_else(|| EngineError::Internal("sandbox slot missing".into()))
    }

    /// Connection attempts since the engine instance was made (for tests of backoff).
    pub fn connect_attempts(&self, session: &str) -> u64 {
        self.world().slots.get(session).map_or(0, |s| s.connect_attempts)
    }

    pub(super) async fn connect(self: &Arc<Self>, session: &str) -> EngineResult<()> {
        let credentials = {
            let mut world = self.world();
            let slot = Self::slot(&mut world, session)?;
            slot.connect_attempts += 1;
            if slot.fail_connects > 0 {
                if slot.fail_connects != u32::MAX {
                    slot.fail_connects -= 1;
                }
                return Err(EngineError::ConnectFailed("sandbox: connection refused (fault)".into()));
            }
            slot.credentials.clone()
        };
        let creds = credentials.get(session).await.map_err(|e| EngineError::Internal(e.to_string()))?;
        let linked = creds.and_then(|c| {
            let phone = PhoneNumber::parse(c.data.0.get("phone")?.as_str()?).ok()?;
            let push_name = c.data.0.get("push_name").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            Some((phone, push_name))
        });
        let mut out = Outbox::default();
        let rotate = {
            let mut world = self.world();
            let world = &mut *world;
            let slot = Self::slot(world, session)?;
            slot.generation += 1;
            match linked {
                Some((phone, push_name)) => {
                    if let Some(other) = world.accounts.get(&phone).filter(|s| s.as_str() != session) {
                        let other = other.clone();
                        return Err(EngineError::ConnectFailed(format!(
                            "sandbox: {phone} is linked to session {other}"
                        )));
                    }
                    let slot = Self::slot(world, session)?;
                    out.push(
                        &slot.events,
                        EngineEvent::Connected { phone: phone.clone(), push_name: Some(push_name.clone()) },
                        Duration::ZERO,
                    );
                    let mail: Vec<IncomingMessage> = slot.mailbox.drain(..).collect();
                    slot.conn = Conn::Online { phone: phone.clone(), push_name };
                    world.accounts.insert(phone.clone(), session.to_owned());
                    self.receive_mail(world, session, &phone, mail, &mut out);
                    None
                }
                None => {
                    let qr = ids::qr_payload();
                    let expires_at = Utc::now() + self.qr_interval();
                    out.push(&slot.events, EngineEvent::Qr { code: qr.clone(), expires_at }, Duration::ZERO);
                    slot.conn = Conn::AwaitingLink { qr, pairing: None };
                    Some(slot.generation)
                }
            }
        };
        if let Some(generation) = rotate {
            self.spawn_qr_rotation(session.to_owned(), generation);
        }
        // Mail may be long: send it from a task so `connect` returns at once
        // even while the session's consumer is waiting on this very call.
        tokio::spawn(out.flush());
        Ok(())
    }

    fn qr_interval(&self) -> Duration {
        Duration::from_secs(self.config.qr_interval_secs.max(1))
    }

    fn spawn_qr_rotation(self: &Arc<Self>, session: String, generation: u64) {
        let net = Arc::downgrade(self);
        let every = self.qr_interval();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(net) = net.upgrade() else { return };
                let sent = {
                    let mut world = net.world();
                    let Some(slot) = world.slots.get_mut(&session) else { return };
                    if slot.generation != generation {
                        return;
                    }
                    let Conn::AwaitingLink { qr, .. } = &mut slot.conn else { return };
                    *qr = ids::qr_payload();
                    (
                        slot.events.clone(),
                        EngineEvent::Qr { code: qr.clone(), expires_at: Utc::now() + every },
                    )
                };
                if sent.0.send(sent.1).await.is_err() {
                    return;
                }
            }
        });
    }

    /// Delivered mail: the messages go to the session, receipts to senders.
    fn receive_mail(
        &self,
        world: &World,
        session: &str,
        me: &PhoneNumber,
        mail: Vec<IncomingMessage>,
        out: &mut Outbox,
    ) {
        let Some(slot) = world.slots.get(session) else { return };
        for message in mail {
            if let Some(sender_slot) =
                message.sender.phone().and_then(|p| world.accounts.get(&p)).and_then(|s| world.slots.get(s))
            {
                let chat = if message.chat.is_group() { message.chat.clone() } else { me.to_jid() };
                out.push(
                    &sender_slot.events,
                    receipt(chat, vec![message.id.clone()], Ack::Delivered, me.to_jid()),
                    Duration::ZERO,
                );
            }
            out.push(&slot.events, EngineEvent::Message(message), Duration::ZERO);
        }
    }

    pub(super) fn disconnect(&self, session: &str) {
        Self::go_offline(&mut self.world(), session);
    }

    pub(super) async fn logout(&self, session: &str) -> EngineResult<()> {
        let credentials = {
            let mut world = self.world();
            let slot = Self::slot(&mut world, session)?;
            slot.credentials.clone()
        };
        credentials.delete(session).await.map_err(|e| EngineError::Internal(e.to_string()))?;
        let mut world = self.world();
        Self::go_offline(&mut world, session);
        world.accounts.retain(|_, s| s != session);
        Ok(())
    }

    pub(super) fn request_pair_code(&self, session: &str, phone: &PhoneNumber) -> EngineResult<String> {
        let mut world = self.world();
        if world.accounts.get(phone).is_some_and(|s| s != session) {
            return Err(EngineError::Forbidden(format!("{phone} is linked to another sandbox session")));
        }
        let slot = Self::slot(&mut world, session)?;
        let Conn::AwaitingLink { pairing, .. } = &mut slot.conn else {
            return Err(EngineError::NotAwaitingLink);
        };
        let code = ids::pair_code();
        *pairing = Some((phone.clone(), code.clone()));
        Ok(code)
    }

    /// The phone links the session (scans the QR code or types the pairing code).
    pub async fn link(&self, session: &str, req: &LinkRequest) -> EngineResult<()> {
        let push_name = req.push_name.clone().unwrap_or_else(|| {
            let digits = req.phone.as_str();
            format!("Sandbox {}", &digits[digits.len() - 4..])
        });
        let credentials = {
            let mut world = self.world();
            self.check_link(&mut world, session, req)?;
            Self::slot(&mut world, session)?.credentials.clone()
        };
        let data = json!({"phone": req.phone.as_str(), "push_name": push_name, "device": 1});
        credentials.put(session, "sandbox", &data).await.map_err(|e| EngineError::Internal(e.to_string()))?;
        let mut out = Outbox::default();
        {
            let mut world = self.world();
            let world = &mut *world;
            // Checked again: the world may have moved while credentials were written.
            self.check_link(world, session, req)?;
            let slot = Self::slot(world, session)?;
            slot.generation += 1;
            slot.conn = Conn::Online { phone: req.phone.clone(), push_name: push_name.clone() };
            let events = slot.events.clone();
            let mail: Vec<IncomingMessage> = slot.mailbox.drain(..).collect();
            out.push(
                &events,
                EngineEvent::PairSuccess { phone: req.phone.clone(), push_name: Some(push_name.clone()) },
                Duration::ZERO,
            );
            out.push(
                &events,
                EngineEvent::Connected { phone: req.phone.clone(), push_name: Some(push_name) },
                Duration::ZERO,
            );
            world.accounts.insert(req.phone.clone(), session.to_owned());
            self.receive_mail(world, session, &req.phone, mail, &mut out);
        }
        out.flush().await;
        Ok(())
    }

    fn check_link(&self, world: &mut World, session: &str, req: &LinkRequest) -> EngineResult<()> {
        if world.accounts.get(&req.phone).is_some_and(|s| s != session) {
            return Err(EngineError::Forbidden(format!(
                "{} is linked to another sandbox session",
                req.phone
            )));
        }
        let slot = world.slots.get(session).ok_or(EngineError::NotConnected)?;
        match &slot.conn {
            Conn::AwaitingLink { pairing: Some((phone, code)), .. } => {
                if *phone != req.phone {
                    return Err(EngineError::Invalid(format!("the pairing code was requested for {phone}")));
                }
                if req.code.as_deref().is_some_and(|c| !c.eq_ignore_ascii_case(code)) {
                    return Err(EngineError::Invalid("wrong pairing code".into()));
                }
                Ok(())
            }
            Conn::AwaitingLink { pairing: None, .. } if req.code.is_some() => {
                Err(EngineError::Invalid("no pairing code was requested".into()))
            }
            Conn::AwaitingLink { .. } => Ok(()),
            _ => Err(EngineError::NotAwaitingLink),
        }
    }

    /// The QR payload a session shows right now.
    pub fn current_qr(&self, session: &str) -> Option<String> {
        match &self.world().slots.get(session)?.conn {
            Conn::AwaitingLink { qr, .. } => Some(qr.clone()),
            _ => None,
        }
    }

    pub async fn fault(&self, session: &str, fault: &Fault) -> EngineResult<()> {
        let mut out = Outbox::default();
        let forget_credentials = {
            let mut world = self.world();
            if !world.slots.contains_key(session) {
                // Not started yet: connection faults apply to its first attempts.
                return match fault.kind {
                    FaultKind::Clear => {
                        world.preset_failures.remove(session);
                        Ok(())
                    }
                    FaultKind::ConnectFailure | FaultKind::Disconnect => {
                        let n = fault.fail_connects.unwrap_or(if fault.kind == FaultKind::Disconnect {
                            0
                        } else {
                            u32::MAX
                        });
                        world.preset_failures.insert(session.to_owned(), n);
                        Ok(())
                    }
                    _ => Err(EngineError::NotConnected),
                };
            }
            let slot = world.slots.get_mut(session).ok_or(EngineError::NotConnected)?;
            let online = !matches!(slot.conn, Conn::Offline);
            let reason = match fault.kind {
                FaultKind::Clear => {
                    slot.fail_connects = 0;
                    slot.drop_receipts = false;
                    None
                }
                FaultKind::DropReceipts => {
                    slot.drop_receipts = true;
                    None
                }
                FaultKind::Disconnect => {
                    slot.fail_connects = fault.fail_connects.unwrap_or(0);
                    Some(DisconnectReason::Network { detail: "sandbox fault: connection lost".into() })
                }
                FaultKind::ConnectFailure => {
                    slot.fail_connects = fault.fail_connects.unwrap_or(u32::MAX);
                    Some(DisconnectReason::Network { detail: "sandbox fault: connection lost".into() })
                }
                FaultKind::LoggedOut => Some(DisconnectReason::LoggedOut {
                    detail: "sandbox fault: device removed from the phone".into(),
                }),
                FaultKind::TemporaryBan => Some(DisconnectReason::TemporaryBan {
                    code: 402,
                    expires_at: Some(Utc::now() + chrono::Duration::hours(1)),
                }),
                FaultKind::StreamReplaced => Some(DisconnectReason::StreamReplaced),
            };
            if let Some(reason) = reason.filter(|_| online) {
                out.push(&slot.events, EngineEvent::Disconnected { reason }, Duration::ZERO);
                Self::go_offline(&mut world, session);
            }
            if fault.kind == FaultKind::LoggedOut {
                world.accounts.retain(|_, s| s != session);
                Some(world.slots.get(session).map(|s| s.credentials.clone()))
            } else {
                None
            }
        };
        if let Some(Some(credentials)) = forget_credentials {
            credentials.delete(session).await.map_err(|e| EngineError::Internal(e.to_string()))?;
        }
        out.flush().await;
        Ok(())
    }

    fn online(world: &World, session: &str) -> EngineResult<(PhoneNumber, String)> {
        match world.slots.get(session).map(|s| &s.conn) {
            Some(Conn::Online { phone, push_name }) => Ok((phone.clone(), push_name.clone())),
            _ => Err(EngineError::NotConnected),
        }
    }

    /// A chat the session can have: a group it is in, or someone on WhatsApp.
    pub fn chat_exists(&self, session: &str, chat: &Jid) -> EngineResult<()> {
        let world = self.world();
        let (me, _) = Self::online(&world, session)?;
        match chat.server() {
            Server::Group => {
                let group = world.groups.get(chat).ok_or_else(|| not_found("group"))?;
                if !group.members.contains_key(&me) {
                    return Err(EngineError::Forbidden("the session is not in this group".into()));
                }
                Ok(())
            }
            Server::User => match chat.phone() {
                Some(phone) if phone.as_str().starts_with("999") => {
                    Err(EngineError::NotOnWhatsApp(phone.to_string()))
                }
                _ => Ok(()),
            },
            _ => Err(EngineError::Unsupported("sandbox")),
        }
    }

    /// The account's phone archives, pins or mutes a chat: the session
    /// hears it as WhatsApp's app-state sync tells linked devices.
    pub async fn phone_changes_chat(
        &self,
        session: &str,
        chat: &Jid,
        change: ChatChange,
    ) -> EngineResult<()> {
        self.chat_exists(session, chat)?;
        let events = Self::slot(&mut self.world(), session)?.events.clone();
        let _ = events.send(EngineEvent::ChatChanged { chat: chat.clone(), change }).await;
        Ok(())
    }

    /// Someone messages the session.
    pub async fn inject(&self, session: &str, inbound: &Inbound) -> EngineResult<IncomingMessage> {
        let body = if let Some(poll) = &inbound.poll {
            poll.body()?
        } else {
            match (&inbound.text, &inbound.media) {
                (_, Some(m)) => {
                    const KINDS: [&str; 6] = ["image", "video", "audio", "voice", "document", "sticker"];
                    if !KINDS.contains(&m.kind.as_str()) {
                        return Err(EngineError::Invalid(format!(
                            "media kind must be one of {}",
                            KINDS.join(", ")
                        )));
                    }
                    IncomingBody::Media {
                        kind: m.kind.clone(),
                        mime_type: m.mime_type.clone(),
                        caption: m.caption.clone().or_else(|| inbound.text.clone()),
                        file_name: m.file_name.clone(),
                        size: m.size,
                        // Described only: the phone sent no bytes.
                        handle: None,
                    }
                }
                (Some(text), None) => IncomingBody::Text { text: text.clone() },
                (None, None) => return Err(EngineError::Invalid("give text, media or a poll".into())),
            }
        };
        let (events, message) = {
            let mut world = self.world();
            let (me, _) = Self::online(&world, session)?;
            let chat = match &inbound.group {
                Some(g) => {
                    let group = world.groups.get(g).ok_or_else(|| not_found("group"))?;
                    if !group.members.contains_key(&me) {
                        return Err(EngineError::Forbidden("the session is not in this group".into()));
                    }
                    g.clone()
                }
                None => inbound.from.to_jid(),
            };
            let slot = Self::slot(&mut world, session)?;
            if slot.blocked.contains(&inbound.from.to_jid()) {
                return Err(EngineError::Forbidden(format!("{} is blocked", inbound.from)));
            }
            let message = IncomingMessage {
                id: MessageId(ids::message_id()),
                chat: chat.clone(),
                sender: inbound.from.to_jid(),
                from_me: false,
                push_name: inbound.push_name.clone(),
                timestamp: Utc::now(),
                body,
                quoted: inbound.reply_to.clone().map(|id| MessageRef {
                    from_me: slot.sent.knows(&id),
                    chat,
                    id,
                    sender: None,
                }),
                mentions: Vec::new(),
            };
            slot.polls.remember(&message.id, &message.chat, &message.body);
            (slot.events.clone(), message)
        };
        let _ = events.send(EngineEvent::Message(message.clone())).await;
        Ok(message)
    }

    pub(super) async fn send(
        &self,
        session: &str,
        to: &Jid,
        message: &OutgoingMessage,
    ) -> EngineResult<SentMessage> {
        let id = message.id.clone().unwrap_or_else(|| MessageId(ids::message_id()));
        let sent = SentMessage { id, timestamp: Utc::now() };
        let handle = media_of(&message.content).map(|m| self.world().media.keep(m));
        let body = body_of(&message.content, handle);
        let mut out = Outbox::default();
        {
            let mut world = self.world();
            let (me, push_name) = Self::online(&world, session)?;
            // Like WhatsApp: the same id to the same chat is the same message.
            // A repeat is not delivered again, but its receipts come again
            // (the first ones may have been lost with the sender's process).
            let repeat = Self::slot(&mut world, session)?.sent.sent_to(&sent.id, to);
            let quoted = message.reply_to.clone();
            let incoming = |chat: Jid, recipient: &PhoneNumber| IncomingMessage {
                id: sent.id.clone(),
                sender: me.to_jid(),
                from_me: false,
                push_name: Some(push_name.clone()),
                timestamp: sent.timestamp,
                body: body.clone(),
                quoted: quoted.as_ref().map(|q| quoted_for(q, &me, recipient, &chat)),
                chat,
                mentions: message.mentions.clone(),
            };
            let recipients: Vec<PhoneNumber> = match to.server() {
                Server::User => {
                    let phone = to.phone().ok_or_else(|| EngineError::Invalid("bad recipient".into()))?;
                    if phone.as_str().starts_with("999") {
                        return Err(EngineError::NotOnWhatsApp(phone.to_string()));
                    }
                    vec![phone]
                }
                Server::Group => {
                    let group = world.groups.get(to).ok_or_else(|| not_found("group"))?;
                    if !group.members.contains_key(&me) {
                        return Err(EngineError::Forbidden("the session is not in this group".into()));
                    }
                    if group.announce && !group.is_admin(&me) {
                        return Err(EngineError::Forbidden("only admins can send to this group".into()));
                    }
                    group.members.keys().filter(|p| **p != me).cloned().collect()
                }
                // A status update reaches whom it names (people not on
                // WhatsApp simply never see it).
                Server::Broadcast if to.to_string() == STATUS_BROADCAST => {
                    let audience = message
                        .status
                        .as_ref()
                        .ok_or_else(|| EngineError::Invalid("a status update needs its recipients".into()))?;
                    audience
                        .recipients
                        .iter()
                        .filter_map(Jid::phone)
                        .filter(|p| !p.as_str().starts_with("999") && *p != me)
                        .collect()
                }
                _ => return Err(EngineError::Unsupported("sandbox")),
            };
            let mine = Self::slot(&mut world, session)?;
            let (my_events, drop_receipts) = (mine.events.clone(), mine.drop_receipts);
            for phone in recipients {
                let chat_for_them = if to.server() == Server::User { me.to_jid() } else { to.clone() };
                let receipt_chat = to.clone();
                match world.accounts.get(&phone).cloned() {
                    Some(their_session) => {
                        let Some(theirs) = world.slots.get_mut(&their_session) else { continue };
                        if theirs.blocked.contains(&me.to_jid()) {
                            continue; // blocked senders see "sent" and nothing more
                        }
                        if let Conn::Online { .. } = theirs.conn {
                            if !repeat {
                                out.push(
                                    &theirs.events,
                                    EngineEvent::Message(incoming(chat_for_them, &phone)),
                                    Duration::ZERO,
                                );
                            }
                            if !drop_receipts {
                                out.push(
                                    &my_events,
                                    receipt(
                                        receipt_chat,
                                        vec![sent.id.clone()],
                                        Ack::Delivered,
                                        phone.to_jid(),
                                    ),
                                    self.delivered_after(),
                                );
                            }
                        } else if !repeat {
                            if theirs.mailbox.len() >= MAILBOX_LIMIT {
                                theirs.mailbox.pop_front();
                            }
                            theirs.mailbox.push_back(incoming(chat_for_them, &phone));
                        }
                    }
                    None if drop_receipts => {}
                    None => {
                        // A virtual contact: its phone is always on and reads everything.
                        out.push(
                            &my_events,
                            receipt(
                                receipt_chat.clone(),
                                vec![sent.id.clone()],
                                Ack::Delivered,
                                phone.to_jid(),
                            ),
                            self.delivered_after(),
                        );
                        out.push(
                            &my_events,
                            receipt(receipt_chat, vec![sent.id.clone()], Ack::Read, phone.to_jid()),
                            self.read_after(),
                        );
                    }
                }
            }
            let slot = Self::slot(&mut world, session)?;
            if !repeat {
                slot.sent.remember(sent.id.clone(), to.clone());
                slot.polls.remember(&sent.id, to, &body);
            }
        }
        out.flush().await;
        Ok(sent)
    }

    /// Edits and revokes reach the sandbox accounts that got the original.
    pub(super) async fn amend(
        &self,
        session: &str,
        chat: &Jid,
        target: &MessageId,
        body: IncomingBody,
    ) -> EngineResult<SentMessage> {
        let sent = SentMessage { id: MessageId(ids::message_id()), timestamp: Utc::now() };
        let mut out = Outbox::default();
        {
            let mut world = self.world();
            let (me, push_name) = Self::online(&world, session)?;
            let slot = Self::slot(&mut world, session)?;
            if !slot.sent.sent_to(target, chat) {
                return Err(not_found("message"));
            }
            let phones: Vec<PhoneNumber> = match (chat.phone(), world.groups.get(chat)) {
                (Some(p), _) => vec![p],
                (None, Some(g)) => g.members.keys().filter(|p| **p != me).cloned().collect(),
                (None, None) => Vec::new(),
            };
            for phone in phones {
                let Some(theirs) = world.accounts.get(&phone).and_then(|s| world.slots.get(s)) else {
                    continue;
                };
                if matches!(theirs.conn, Conn::Online { .. }) {
                    let message = IncomingMessage {
                        id: sent.id.clone(),
                        chat: if chat.is_group() { chat.clone() } else { me.to_jid() },
                        sender: me.to_jid(),
                        from_me: false,
                        push_name: Some(push_name.clone()),
                        timestamp: sent.timestamp,
                        body: body.clone(),
                        quoted: None,
                        mentions: Vec::new(),
                    };
                    out.push(&theirs.events, EngineEvent::Message(message), Duration::ZERO);
                }
            }
        }
        out.flush().await;
        Ok(sent)
    }

    pub(super) async fn mark_read(
        &self,
        session: &str,
        chat: &Jid,
        sender: Option<&Jid>,
        ids: &[MessageId],
    ) -> EngineResult<()> {
        let mut out = Outbox::default();
        {
            let world = self.world();
            let (me, _) = Self::online(&world, session)?;
            let author = match sender {
                Some(s) => s.phone(),
                None => chat.phone(),
            };
            let Some(author) = author else {
                return Err(EngineError::Invalid("in groups, give the sender".into()));
            };
            if let Some(theirs) = world.accounts.get(&author).and_then(|s| world.slots.get(s)) {
                let their_chat = if chat.is_group() { chat.clone() } else { me.to_jid() };
                out.push(
                    &theirs.events,
                    receipt(their_chat, ids.to_vec(), Ack::Read, me.to_jid()),
                    Duration::ZERO,
                );
            }
        }
        out.flush().await;
        Ok(())
    }

    pub(super) fn ensure_online(&self, session: &str) -> EngineResult<PhoneNumber> {
        Self::online(&self.world(), session).map(|(p, _)| p)
    }

    pub(super) fn check_numbers(
        &self,
        session: &str,
        phones: &[PhoneNumber],
    ) -> EngineResult<Vec<NumberCheck>> {
        self.ensure_online(session)?;
        Ok(phones
            .iter()
            .map(|p| {
                let exists = !p.as_str().starts_with("999");
                NumberCheck { phone: p.to_string(), exists, jid: exists.then(|| p.to_jid()) }
            })
            .collect())
    }
}

/// A quote as the recipient sees it: "from me" means written by the
/// recipient, and in groups the author is named.
fn quoted_for(q: &MessageRef, sender: &PhoneNumber, recipient: &PhoneNumber, chat: &Jid) -> MessageRef {
    let author = match (q.from_me, &q.sender) {
        (true, _) => Some(sender.to_jid()),
        (false, Some(s)) => Some(s.clone()),
        (false, None) if !chat.is_group() => Some(recipient.to_jid()),
        (false, None) => None,
    };
    MessageRef {
        chat: chat.clone(),
        id: q.id.clone(),
        from_me: author.as_ref() == Some(&recipient.to_jid()),
        sender: author.filter(|_| chat.is_group()),
    }
}

fn receipt(chat: Jid, ids: Vec<MessageId>, ack: Ack, by: Jid) -> EngineEvent {
    EngineEvent::Receipt(Receipt { chat, ids, ack, by, timestamp: Utc::now() })
}

/// The file a message carries, if any.
fn media_of(content: &Content) -> Option<&Media> {
    match content {
        Content::Image { media, .. }
        | Content::Video { media, .. }
        | Content::Audio { media, .. }
        | Content::Document { media, .. }
        | Content::Sticker { media } => Some(media),
        _ => None,
    }
}

/// The chat status updates are sent to.
const STATUS_BROADCAST: &str = "status@broadcast";

/// How a sent message looks to its recipient; `handle` downloads its file.
fn body_of(content: &Content, handle: Option<String>) -> IncomingBody {
    let media = |kind: &str, m: &Media, caption: &Option<String>| IncomingBody::Media {
        handle: handle.clone(),
        kind: kind.to_owned(),
        mime_type: m.mime_type.clone(),
        caption: caption.clone(),
        file_name: m.file_name.clone(),
        size: m.data.len() as u64,
    };
    match content {
        Content::Text { body } => IncomingBody::Text { text: body.clone() },
        Content::Image { media: m, caption } => media("image", m, caption),
        Content::Video { media: m, caption, .. } => media("video", m, caption),
        Content::Audio { media: m, voice } => media(if *voice { "voice" } else { "audio" }, m, &None),
        Content::Document { media: m, caption } => media("document", m, caption),
        Content::Sticker { media: m } => media("sticker", m, &None),
        Content::Location { latitude, longitude, name, .. } => {
            IncomingBody::Location { latitude: *latitude, longitude: *longitude, name: name.clone() }
        }
        Content::Contact { display_name, vcard } => {
            IncomingBody::Contact { display_name: display_name.clone(), vcard: vcard.clone() }
        }
        Content::Reaction { target, emoji } => {
            IncomingBody::Reaction { target: target.id.clone(), emoji: emoji.clone() }
        }
        Content::Poll { question, options, selectable } => IncomingBody::Poll {
            question: question.clone(),
            options: options.clone(),
            selectable: *selectable,
        },
        // As on WhatsApp, a vote names its options by their hashes.
        Content::PollVote { poll, options } => IncomingBody::PollVote {
            target: poll.id.clone(),
            hashes: options.iter().map(|o| crate::wa::poll::option_hash(o)).collect(),
            selected: Vec::new(),
        },
    }
}
