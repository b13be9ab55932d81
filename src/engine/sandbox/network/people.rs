//! The sandbox's people: profiles, blocking, presence and typing.
//!
//! Sandbox profiles are made up but stable: a linked account's "about"
//! starts as WhatsApp's default text and its picture URL names its number,
//! so the API's shape can be tried without real profiles; an account changes
//! its own name, about and picture like on WhatsApp.

use super::*;

/// WhatsApp's "about" for an account that never set one.
const DEFAULT_ABOUT: &str = "Hey there! I am using WhatsApp.";

/// What an account set on its own profile (kept across engine instances).
pub(super) struct OwnProfile {
    /// None: the default text.
    about: Option<String>,
    /// The picture's version (in its URL, so a new picture is a new URL);
    /// None: removed.
    picture: Option<u32>,
}

impl Default for OwnProfile {
    fn default() -> Self {
        Self { about: None, picture: Some(0) }
    }
}

impl SandboxNetwork {
    pub(crate) fn contact(&self, session: &str, jid: &Jid) -> EngineResult<ContactInfo> {
        let world = self.world();
        Self::online(&world, session)?;
        let phone = jid.phone().ok_or_else(|| EngineError::Invalid("contacts are people".into()))?;
        if phone.as_str().starts_with("999") {
            return Err(EngineError::NotOnWhatsApp(phone.to_string()));
        }
        let push_name =
            world.accounts.get(&phone).and_then(|s| world.slots.get(s)).and_then(|s| match &s.conn {
                Conn::Online { push_name, .. } => Some(push_name.clone()),
                _ => None,
            });
        let blocked = world.slots.get(session).is_some_and(|s| s.blocked.contains(jid));
        // Only accounts linked to the sandbox have a profile to show.
        let profile = world.accounts.get(&phone).and_then(|s| world.slots.get(s)).map(|s| &s.profile);
        Ok(ContactInfo {
            jid: jid.clone(),
            name: None,
            push_name,
            blocked,
            about: profile.map(|p| p.about.clone().unwrap_or_else(|| DEFAULT_ABOUT.to_owned())),
            picture_url: profile.and_then(|p| p.picture).map(|v| {
                let version = if v == 0 { String::new() } else { format!("?v={v}") };
                format!("https://sandbox.wa-gateway.invalid/pp/{}.jpg{version}", phone.as_str())
            }),
        })
    }

    pub(crate) fn blocklist(&self, session: &str) -> EngineResult<Vec<Jid>> {
        let world = self.world();
        Self::online(&world, session)?;
        let mut list: Vec<Jid> =
            world.slots.get(session).map(|s| s.blocked.iter().cloned().collect()).unwrap_or_default();
        list.sort();
        Ok(list)
    }

    /// Every other online account sees this one come and go.
    pub(crate) async fn set_presence(&self, session: &str, available: bool) -> EngineResult<()> {
        let mut out = Outbox::default();
        {
            let world = self.world();
            let (me, _) = Self::online(&world, session)?;
            for (id, slot) in &world.slots {
                if id != session
                    && matches!(slot.conn, Conn::Online { .. })
                    && !slot.blocked.contains(&me.to_jid())
                {
                    out.push(
                        &slot.events,
                        EngineEvent::Presence { from: me.to_jid(), available },
                        Duration::ZERO,
                    );
                }
            }
        }
        out.flush().await;
        Ok(())
    }

    /// Typing shows in the recipient's chat, or to every other member of a group.
    pub(crate) async fn set_chat_state(
        &self,
        session: &str,
        chat: &Jid,
        state: ChatState,
    ) -> EngineResult<()> {
        let mut out = Outbox::default();
        {
            let world = self.world();
            let (me, _) = Self::online(&world, session)?;
            let (shown_in, to): (Jid, Vec<PhoneNumber>) = match chat.server() {
                Server::User => {
                    let phone = chat.phone().ok_or_else(|| EngineError::Invalid("bad chat".into()))?;
                    if phone.as_str().starts_with("999") {
                        return Err(EngineError::NotOnWhatsApp(phone.to_string()));
                    }
                    (me.to_jid(), vec![phone])
                }
                Server::Group => {
                    let group = world.groups.get(chat).ok_or_else(|| not_found("group"))?;
                    if !group.members.contains_key(&me) {
                        return Err(EngineError::Forbidden("the session is not in this group".into()));
                    }
                    (chat.clone(), group.members.keys().filter(|p| **p != me).cloned().collect())
                }
                _ => return Err(EngineError::Unsupported("sandbox")),
            };
            for phone in to {
                let Some(slot) = world.accounts.get(&phone).and_then(|s| world.slots.get(s)) else {
                    continue;
                };
                if matches!(slot.conn, Conn::Online { .. }) && !slot.blocked.contains(&me.to_jid()) {
                    let event = EngineEvent::ChatState { chat: shown_in.clone(), sender: me.to_jid(), state };
                    out.push(&slot.events, event, Duration::ZERO);
                }
            }
        }
        out.flush().await;
        Ok(())
    }

    pub(crate) fn set_blocked(&self, session: &str, jid: &Jid, blocked: bool) -> EngineResult<()> {
        let mut world = self.world();
        Self::online(&world, session)?;
        let slot = Self::slot(&mut world, session)?;
        if blocked {
            slot.blocked.insert(jid.clone());
        } else {
            slot.blocked.remove(jid);
        }
        Ok(())
    }

    /// Only people on WhatsApp can be saved (WhatsApp keys its contact sync
    /// by phone number).
    pub(crate) fn can_save_contact(&self, session: &str, jid: &Jid) -> EngineResult<()> {
        let world = self.world();
        Self::online(&world, session)?;
        let phone =
            jid.phone().ok_or_else(|| EngineError::Invalid("only phone numbers can be saved".into()))?;
        if phone.as_str().starts_with("999") {
            return Err(EngineError::NotOnWhatsApp(phone.to_string()));
        }
        Ok(())
    }

    /// Labels live in the account's app state: any chat it can have may
    /// carry one.
    pub(crate) fn can_change_label(&self, session: &str, change: &LabelChange) -> EngineResult<()> {
        match change {
            LabelChange::Edited { .. } => Self::online(&self.world(), session).map(drop),
            LabelChange::Chat { chat, .. } => self.chat_exists(session, chat),
        }
    }

    /// The account's phone changes a label: the session hears it as
    /// WhatsApp's app-state sync tells linked devices.
    pub async fn phone_changes_label(&self, session: &str, change: LabelChange) -> EngineResult<()> {
        self.can_change_label(session, &change)?;
        let events = Self::slot(&mut self.world(), session)?.events.clone();
        let _ = events.send(EngineEvent::Label(change)).await;
        Ok(())
    }

    /// The account's phone saves or renames someone: the session hears it
    /// as WhatsApp's app-state sync tells linked devices.
    pub async fn phone_saves_contact(
        &self,
        session: &str,
        contact: &Jid,
        name: &str,
        first_name: Option<&str>,
    ) -> EngineResult<()> {
        self.can_save_contact(session, contact)?;
        let events = Self::slot(&mut self.world(), session)?.events.clone();
        let event = EngineEvent::ContactSaved {
            contact: contact.clone(),
            name: name.to_owned(),
            first_name: first_name.map(str::to_owned),
        };
        let _ = events.send(event).await;
        Ok(())
    }

    /// The account changes its own profile; a new name is kept with its
    /// credentials (it survives restarts) and reported as `PushName`.
    pub(crate) async fn set_profile(&self, session: &str, change: &ProfileChange) -> EngineResult<()> {
        if change.push_name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(EngineError::Invalid("push name cannot be empty".into()));
        }
        let (credentials, phone) = {
            let mut world = self.world();
            let (phone, _) = Self::online(&world, session)?;
            let slot = Self::slot(&mut world, session)?;
            if let Some(about) = &change.about {
                slot.profile.about = Some(about.clone());
            }
            match &change.picture {
                Some(PictureChange::Set(_)) => {
                    slot.profile.picture = Some(slot.profile.picture.map_or(1, |v| v + 1));
                }
                Some(PictureChange::Remove) => slot.profile.picture = None,
                None => {}
            }
            (slot.credentials.clone(), phone)
        };
        let Some(name) = &change.push_name else { return Ok(()) };
        let data = json!({"phone": phone.as_str(), "push_name": name, "device": 1});
        credentials.put(session, "sandbox", &data).await.map_err(|e| EngineError::Internal(e.to_string()))?;
        let events = {
            let mut world = self.world();
            let slot = Self::slot(&mut world, session)?;
            if let Conn::Online { push_name, .. } = &mut slot.conn {
                push_name.clone_from(name);
            }
            slot.events.clone()
        };
        let _ = events.send(EngineEvent::PushName { push_name: name.clone() }).await;
        Ok(())
    }
}
