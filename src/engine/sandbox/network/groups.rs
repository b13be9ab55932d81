//! The sandbox's groups: create, read, members, settings, invites, leave.
//! Every change is announced to every member's session, as WhatsApp does.

use super::*;

pub(super) struct Group {
    pub jid: Jid,
    subject: String,
    description: Option<String>,
    owner: PhoneNumber,
    /// phone -> admin
    pub members: BTreeMap<PhoneNumber, bool>,
    created_at: chrono::DateTime<Utc>,
    /// Only admins may send.
    pub announce: bool,
    /// Only admins may edit the subject and description.
    locked: bool,
    /// The current invite code, once an admin asked for one.
    invite: Option<String>,
}

impl Group {
    fn info(&self) -> GroupInfo {
        GroupInfo {
            jid: self.jid.clone(),
            subject: self.subject.clone(),
            description: self.description.clone(),
            owner: Some(self.owner.to_jid()),
            participants: self
                .members
                .iter()
                .map(|(p, admin)| GroupParticipant {
                    jid: p.to_jid(),
                    admin: *admin,
                    super_admin: *p == self.owner,
                })
                .collect(),
            created_at: Some(self.created_at),
            announce: self.announce,
            locked: self.locked,
        }
    }

    pub(super) fn is_admin(&self, phone: &PhoneNumber) -> bool {
        self.members.get(phone) == Some(&true)
    }
}

fn check_subject(subject: &str) -> EngineResult<()> {
    if subject.trim().is_empty() || subject.chars().count() > 100 {
        return Err(EngineError::Invalid("the subject must be 1 to 100 characters".into()));
    }
    Ok(())
}

impl SandboxNetwork {
    pub(crate) async fn create_group(
        &self,
        session: &str,
        subject: &str,
        participants: &[Jid],
    ) -> EngineResult<GroupInfo> {
        check_subject(subject)?;
        let mut out = Outbox::default();
        let info = {
            let mut world = self.world();
            let (me, _) = Self::online(&world, session)?;
            let mut members = BTreeMap::from([(me.clone(), true)]);
            for p in participants {
                let phone = p.phone().ok_or_else(|| EngineError::Invalid(format!("{p} is not a person")))?;
                if !phone.as_str().starts_with("999") {
                    members.insert(phone, false);
                }
            }
            let jid = Jid::new_unchecked(ids::group_user(), Server::Group);
            let group = Group {
                jid: jid.clone(),
                subject: subject.to_owned(),
                description: None,
                owner: me.clone(),
                members,
                created_at: Utc::now(),
                announce: false,
                locked: false,
                invite: None,
            };
            let info = group.info();
            self.announce(&world, &group, "create", &me, &mut out);
            world.groups.insert(jid, group);
            info
        };
        out.flush().await;
        Ok(info)
    }

    fn announce(&self, world: &World, group: &Group, action: &str, actor: &PhoneNumber, out: &mut Outbox) {
        for phone in group.members.keys() {
            if let Some(slot) = world.accounts.get(phone).and_then(|s| world.slots.get(s)) {
                let event = EngineEvent::GroupUpdate {
                    group: group.info(),
                    action: action.to_owned(),
                    actor: Some(actor.to_jid()),
                };
                out.push(&slot.events, event, Duration::ZERO);
            }
        }
    }

    pub(crate) fn group(&self, session: &str, jid: &Jid) -> EngineResult<GroupInfo> {
        let world = self.world();
        let (me, _) = Self::online(&world, session)?;
        let group = world.groups.get(jid).ok_or_else(|| not_found("group"))?;
        if !group.members.contains_key(&me) {
            return Err(EngineError::Forbidden("the session is not in this group".into()));
        }
        Ok(group.info())
    }

    pub(crate) fn groups(&self, session: &str) -> EngineResult<Vec<GroupInfo>> {
        let world = self.world();
        let (me, _) = Self::online(&world, session)?;
        let mut groups: Vec<GroupInfo> =
            world.groups.values().filter(|g| g.members.contains_key(&me)).map(Group::info).collect();
        groups.sort_by(|a, b| a.jid.cmp(&b.jid));
        Ok(groups)
    }

    pub(crate) async fn update_participants(
        &self,
        session: &str,
        jid: &Jid,
        action: ParticipantAction,
        participants: &[Jid],
    ) -> EngineResult<Vec<ParticipantResult>> {
        let mut out = Outbox::default();
        let results = {
            let mut world = self.world();
            let (me, _) = Self::online(&world, session)?;
            let group = world.groups.get_mut(jid).ok_or_else(|| not_found("group"))?;
            if group.members.get(&me) != Some(&true) {
                return Err(EngineError::Forbidden("only group admins can change participants".into()));
            }
            let mut results = Vec::with_capacity(participants.len());
            for p in participants {
                let status = match (p.phone(), action) {
                    (None, _) => "not_found",
                    (Some(phone), _) if phone.as_str().starts_with("999") => "not_found",
                    (Some(phone), ParticipantAction::Add) => match group.members.contains_key(&phone) {
                        true => "conflict",
                        false => {
                            group.members.insert(phone, false);
                            "ok"
                        }
                    },
                    (Some(phone), ParticipantAction::Remove) => match group.members.remove(&phone) {
                        Some(_) => "ok",
                        None => "conflict",
                    },
                    (Some(phone), ParticipantAction::Promote | ParticipantAction::Demote) => {
                        match group.members.get_mut(&phone) {
                            Some(admin) => {
                                *admin = action == ParticipantAction::Promote;
                                "ok"
                            }
                            None => "not_found",
                        }
                    }
                };
                results.push(ParticipantResult { jid: p.clone(), status: status.to_owned() });
            }
            let action_name = format!("{action:?}").to_lowercase();
            let group = &world.groups[jid];
            self.announce(&world, group, &action_name, &me, &mut out);
            results
        };
        out.flush().await;
        Ok(results)
    }

    pub(crate) async fn leave_group(&self, session: &str, jid: &Jid) -> EngineResult<()> {
        let mut out = Outbox::default();
        {
            let mut world = self.world();
            let (me, _) = Self::online(&world, session)?;
            let group = world.groups.get_mut(jid).ok_or_else(|| not_found("group"))?;
            if group.members.remove(&me).is_none() {
                return Err(EngineError::Forbidden("the session is not in this group".into()));
            }
            let group = &world.groups[jid];
            self.announce(&world, group, "leave", &me, &mut out);
        }
        out.flush().await;
        Ok(())
    }

    pub(crate) async fn update_group(
        &self,
        session: &str,
        jid: &Jid,
        change: &GroupChange,
    ) -> EngineResult<GroupInfo> {
        if let Some(subject) = &change.subject {
            check_subject(subject)?;
        }
        if change.description.as_ref().is_some_and(|d| d.chars().count() > 2048) {
            return Err(EngineError::Invalid("the description is at most 2048 characters".into()));
        }
        let mut out = Outbox::default();
        let info = {
            let mut world = self.world();
            let (me, _) = Self::online(&world, session)?;
            let group = world.groups.get_mut(jid).ok_or_else(|| not_found("group"))?;
            if !group.members.contains_key(&me) {
                return Err(EngineError::Forbidden("the session is not in this group".into()));
            }
            let admin = group.is_admin(&me);
            let settings = change.announce.is_some() || change.locked.is_some();
            if !admin && (settings || group.locked) {
                return Err(EngineError::Forbidden("only group admins can change this".into()));
            }
            let mut actions = Vec::new();
            if let Some(subject) = &change.subject {
                group.subject = subject.clone();
                actions.push("subject");
            }
            if let Some(description) = &change.description {
                group.description = Some(description.clone()).filter(|d| !d.is_empty());
                actions.push("description");
            }
            if let Some(announce) = change.announce {
                group.announce = announce;
                actions.push(if announce { "announcement" } else { "not_announcement" });
            }
            if let Some(locked) = change.locked {
                group.locked = locked;
                actions.push(if locked { "locked" } else { "unlocked" });
            }
            let group = &world.groups[jid];
            for action in actions {
                self.announce(&world, group, action, &me, &mut out);
            }
            group.info()
        };
        out.flush().await;
        Ok(info)
    }

    pub(crate) fn group_invite(&self, session: &str, jid: &Jid, reset: bool) -> EngineResult<String> {
        let mut world = self.world();
        let (me, _) = Self::online(&world, session)?;
        let group = world.groups.get_mut(jid).ok_or_else(|| not_found("group"))?;
        if !group.is_admin(&me) {
            return Err(EngineError::Forbidden("only group admins can see or reset the invite link".into()));
        }
        if reset || group.invite.is_none() {
            group.invite = Some(ids::invite_code());
        }
        Ok(group.invite.clone().unwrap_or_default())
    }

    pub(crate) async fn join_group(&self, session: &str, code: &str) -> EngineResult<GroupInfo> {
        let mut out = Outbox::default();
        let info = {
            let mut world = self.world();
            let (me, _) = Self::online(&world, session)?;
            let group = world
                .groups
                .values_mut()
                .find(|g| g.invite.as_deref() == Some(code))
                .ok_or_else(|| not_found("invite"))?;
            if group.members.contains_key(&me) {
                return Err(EngineError::Conflict("already a member of this group".into()));
            }
            group.members.insert(me.clone(), false);
            let jid = group.jid.clone();
            let group = &world.groups[&jid];
            self.announce(&world, group, "participants.add", &me, &mut out);
            group.info()
        };
        out.flush().await;
        Ok(info)
    }
}
