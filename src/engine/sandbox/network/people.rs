//! The sandbox's people: profiles, blocking, presence and typing.
//!
//! Sandbox profiles are made up but stable: every linked account's "about"
//! is WhatsApp's default text and its picture URL names its number, so the
//! API's shape can be tried without real profiles.

use super::*;

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
        let linked = world.accounts.contains_key(&phone);
        Ok(ContactInfo {
            jid: jid.clone(),
            name: None,
            push_name,
            blocked,
            about: linked.then(|| "Hey there! I am using WhatsApp.".to_owned()),
            picture_url: linked
                .then(|| format!("https://sandbox.wa-gateway.invalid/pp/{}.jpg", phone.as_str())),
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
}
