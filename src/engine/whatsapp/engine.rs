//! The `Engine` for real WhatsApp accounts: each call maps onto
//! whatsapp-rust through the pure translations in `outgoing`, `incoming`
//! and `groups`; `connection` owns the client's life.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::Mutex;
use whatsapp_rust::features::{
    ChatStateType, GroupCreateOptions, GroupDescription, GroupParticipantOptions, GroupSubject,
    JoinGroupResult, PreviousDescription, StatusSendOptions,
};
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::prelude::Client;
use whatsapp_rust::send::RevokeType;
use whatsapp_rust::upload::UploadOptions;

use super::connection::{self, Live, Settings};
use super::groups::{group_info, participant_result};
use super::keys::KeyStore;
use super::outgoing::{self, Plan, Uploaded};
use super::polls;
use crate::engine::{Engine, EngineContext, EngineError, EngineFactory, EngineResult};
use crate::store::Pool;
use crate::wa::*;

/// Builds WhatsApp engines on the gateway's pool.
pub struct WhatsAppFactory {
    pub pool: Pool,
    pub settings: Settings,
}

impl EngineFactory for WhatsAppFactory {
    fn create(&self, ctx: EngineContext) -> Arc<dyn Engine> {
        Arc::new(WhatsAppEngine {
            ctx,
            pool: self.pool.clone(),
            settings: self.settings.clone(),
            live: Mutex::new(None),
        })
    }
}

pub struct WhatsAppEngine {
    ctx: EngineContext,
    pool: Pool,
    settings: Settings,
    live: Mutex<Option<Live>>,
}

/// The crate's JID for a gateway JID (always representable).
fn wjid(j: &Jid) -> EngineResult<whatsapp_rust::Jid> {
    j.to_string().parse().map_err(|_| EngineError::Invalid(format!("{j} is not a WhatsApp address")))
}

fn profile_error(e: whatsapp_rust::ProfileError) -> EngineError {
    use whatsapp_rust::ClientError;
    use whatsapp_rust::ProfileError as P;
    match e {
        P::InvalidArgument(detail) => EngineError::Invalid(detail),
        P::Client(ClientError::NotConnected | ClientError::NotLoggedIn) => EngineError::NotConnected,
        other => internal(other),
    }
}

fn internal(e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(e.to_string())
}

impl WhatsAppEngine {
    /// The client, when logged in.
    async fn client(&self) -> EngineResult<Arc<Client>> {
        let live = self.live.lock().await;
        match live.as_ref() {
            Some(l) if l.client.is_logged_in() => Ok(l.client.clone()),
            _ => Err(EngineError::NotConnected),
        }
    }

    async fn upload(&self, client: &Client, message: &OutgoingMessage) -> EngineResult<Option<Uploaded>> {
        let Some((kind, media)) = outgoing::media_type(&message.content) else { return Ok(None) };
        let r = client.upload(media.data.to_vec(), kind, UploadOptions::default()).await.map_err(internal)?;
        Ok(Some(Uploaded {
            url: r.url,
            direct_path: r.direct_path,
            media_key: r.media_key,
            file_enc_sha256: r.file_enc_sha256,
            file_sha256: r.file_sha256,
            file_length: r.file_length,
            media_key_timestamp: r.media_key_timestamp,
            streaming_sidecar: r.streaming_sidecar,
        }))
    }
}

#[async_trait]
impl Engine for WhatsAppEngine {
    async fn connect(&self) -> EngineResult<()> {
        let mut live = self.live.lock().await;
        // Never two clients on one key store: the old one goes first.
        if let Some(old) = live.take() {
            old.close().await;
        }
        *live = Some(connection::open(&self.ctx, &self.pool, &self.settings).await?);
        Ok(())
    }

    async fn disconnect(&self) {
        if let Some(old) = self.live.lock().await.take() {
            old.close().await;
        }
    }

    async fn logout(&self) -> EngineResult<()> {
        if let Some(old) = self.live.lock().await.take() {
            // Tells WhatsApp to drop this device when connected; local either way.
            old.client.logout().await;
            old.close().await;
        }
        KeyStore::new(&self.pool, self.ctx.session_id.as_str()).erase().await.map(drop).map_err(internal)
    }

    async fn request_pair_code(&self, phone: &PhoneNumber) -> EngineResult<String> {
        let client = match self.live.lock().await.as_ref() {
            Some(l) if !l.client.is_logged_in() => l.client.clone(),
            Some(_) => return Err(EngineError::NotAwaitingLink),
            None => return Err(EngineError::NotConnected),
        };
        let options = PairCodeOptions { phone_number: phone.as_str().to_owned(), ..Default::default() };
        client.pair_with_code(options).await.map_err(|e| EngineError::Invalid(e.to_string()))
    }

    async fn send(&self, to: &Jid, message: &OutgoingMessage) -> EngineResult<SentMessage> {
        let client = self.client().await?;
        let upload = self.upload(&client, message).await?;
        let plan = outgoing::plan(message, upload.as_ref()).map_err(internal)?;
        let id = match plan {
            Plan::Message(m) if message.status.is_some() => {
                let audience = message.status.as_ref().expect("a status");
                let recipients: Vec<_> = audience.recipients.iter().map(wjid).collect::<Result<_, _>>()?;
                let options = StatusSendOptions {
                    message_id: message.id.as_ref().map(|id| id.as_str().to_owned()),
                    ..Default::default()
                };
                let status = outgoing::as_status(*m, audience);
                client.status().send_raw(status, &recipients, options).await.map_err(internal)?.message_id
            }
            Plan::Message(m) => {
                let options = connection::send_options(message.id.as_ref());
                client.send_message_with_options(wjid(to)?, *m, options).await.map_err(internal)?.message_id
            }
            Plan::Poll(poll) => {
                let keys = KeyStore::new(&self.pool, self.ctx.session_id.as_str());
                let secret = match &message.id {
                    Some(id) => keys.poll_secret_for_send(id.as_str()).await.map_err(internal)?,
                    None => rand::random(),
                };
                let options = connection::send_options(message.id.as_ref());
                let poll = outgoing::seal_poll(*poll, &secret);
                let id = client
                    .send_message_with_options(wjid(to)?, poll, options)
                    .await
                    .map_err(internal)?
                    .message_id;
                if message.id.is_none()
                    && let Err(e) = keys.put_poll_secret(&id, &secret).await
                {
                    // The poll is out; only its votes cannot be read.
                    tracing::warn!(poll = %id, error = %e, "could not keep a poll's secret");
                }
                id
            }
            Plan::Vote { poll, options: picked } => {
                let own_pn = client.pn().ok_or(EngineError::NotConnected)?;
                let creator = polls::creator_of(&poll, &own_pn).map_err(EngineError::Invalid)?;
                let chat = wjid(to)?;
                let secret = KeyStore::new(&self.pool, self.ctx.session_id.as_str())
                    .poll_secret(poll.id.as_str(), &chat.to_non_ad_string(), &creator.to_non_ad_string())
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| EngineError::NotFound("the poll's secret".into()))?;
                let voter = polls::voter_for(&creator, &own_pn, client.lid().as_ref());
                let vote = polls::seal_vote(
                    &poll,
                    &creator,
                    &voter,
                    &secret,
                    &picked,
                    Utc::now().timestamp_millis(),
                )
                .map_err(EngineError::Internal)?;
                let options = connection::send_options(message.id.as_ref());
                client.send_message_with_options(chat, vote, options).await.map_err(internal)?.message_id
            }
        };
        Ok(SentMessage { id: MessageId(id), timestamp: Utc::now() })
    }

    async fn edit(&self, chat: &Jid, id: &MessageId, text: &str) -> EngineResult<SentMessage> {
        let client = self.client().await?;
        let content =
            whatsapp_rust::prelude::wa::Message { conversation: Some(text.to_owned()), ..Default::default() };
        let edit_id = client.edit_message(wjid(chat)?, id.as_str(), content).await.map_err(internal)?;
        Ok(SentMessage { id: MessageId(edit_id), timestamp: Utc::now() })
    }

    async fn revoke(&self, chat: &Jid, id: &MessageId) -> EngineResult<()> {
        let client = self.client().await?;
        client.revoke_message(wjid(chat)?, id.as_str(), RevokeType::Sender).await.map_err(internal)
    }

    async fn mark_read(&self, chat: &Jid, sender: Option<&Jid>, ids: &[MessageId]) -> EngineResult<()> {
        let client = self.client().await?;
        let sender = sender.map(wjid).transpose()?;
        let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
        client.mark_as_read(&wjid(chat)?, sender.as_ref(), &ids).await.map_err(internal)
    }

    async fn set_chat_state(&self, chat: &Jid, state: ChatState) -> EngineResult<()> {
        let client = self.client().await?;
        client.chatstate().send(&wjid(chat)?, chat_state(state)).await.map_err(internal)
    }

    async fn check_numbers(&self, phones: &[PhoneNumber]) -> EngineResult<Vec<NumberCheck>> {
        let client = self.client().await?;
        let jids = phones.iter().map(|p| wjid(&p.to_jid())).collect::<EngineResult<Vec<_>>>()?;
        let found = client.contacts().is_on_whatsapp(&jids).await.map_err(internal)?;
        let answers = found.iter().map(|r| Answer {
            users: [Some(r.jid.user.to_string()), r.pn_jid.as_ref().map(|j| j.user.to_string())],
            registered: r.is_registered,
        });
        Ok(number_checks(phones, answers.collect()))
    }

    async fn contact(&self, who: &Jid) -> EngineResult<ContactInfo> {
        let client = self.client().await?;
        let target = wjid(who)?;
        let blocked = client.blocking().is_blocked(&target).await.map_err(internal)?;
        let about = client
            .contacts()
            .get_user_info(std::slice::from_ref(&target))
            .await
            .map_err(internal)?
            .into_values()
            .next()
            .and_then(|u| u.status);
        // No picture (or hidden by privacy settings) is not an error.
        let picture_url =
            client.contacts().get_profile_picture(&target, false).await.ok().flatten().map(|p| p.url);
        // Names come from the address book sync, which the gateway does not keep.
        Ok(ContactInfo { jid: who.clone(), name: None, push_name: None, blocked, about, picture_url })
    }

    async fn set_blocked(&self, who: &Jid, blocked: bool) -> EngineResult<()> {
        let client = self.client().await?;
        let target = wjid(who)?;
        let r = if blocked {
            client.blocking().block(&target).await
        } else {
            client.blocking().unblock(&target).await
        };
        r.map_err(internal)
    }

    async fn create_group(&self, subject: &str, participants: &[Jid]) -> EngineResult<GroupInfo> {
        let client = self.client().await?;
        let mut options = GroupCreateOptions::new(subject);
        for p in participants {
            options = options.with_participant(GroupParticipantOptions::new(wjid(p)?));
        }
        let created = client.groups().create_group(options).await.map_err(internal)?;
        group_info(&created.metadata)
            .ok_or_else(|| internal("WhatsApp answered with an unknown group address"))
    }

    async fn group(&self, group: &Jid) -> EngineResult<GroupInfo> {
        let client = self.client().await?;
        let m = client.groups().get_metadata(&wjid(group)?).await.map_err(|e| match e.to_string() {
            s if s.contains("404") || s.contains("item-not-found") => {
                EngineError::NotFound(format!("group {group}"))
            }
            s if s.contains("403") || s.contains("forbidden") => {
                EngineError::Forbidden("not a participant".into())
            }
            s => EngineError::Internal(s),
        })?;
        group_info(&m).ok_or_else(|| internal("WhatsApp answered with an unknown group address"))
    }

    async fn groups(&self) -> EngineResult<Vec<GroupInfo>> {
        let client = self.client().await?;
        let all = client.groups().get_participating().await.map_err(internal)?;
        let mut groups: Vec<GroupInfo> = all.values().filter_map(group_info).collect();
        groups.sort_by(|a, b| a.jid.cmp(&b.jid));
        Ok(groups)
    }

    async fn update_participants(
        &self,
        group: &Jid,
        action: ParticipantAction,
        participants: &[Jid],
    ) -> EngineResult<Vec<ParticipantResult>> {
        let client = self.client().await?;
        let group = wjid(group)?;
        let who = participants.iter().map(wjid).collect::<EngineResult<Vec<_>>>()?;
        let groups = client.groups();
        let r = match action {
            ParticipantAction::Add => groups.add_participants(group, &who).await,
            ParticipantAction::Remove => groups.remove_participants(group, &who).await,
            ParticipantAction::Promote => groups.promote_participants(group, &who).await,
            ParticipantAction::Demote => groups.demote_participants(group, &who).await,
        };
        Ok(r.map_err(internal)?.iter().filter_map(participant_result).collect())
    }

    async fn leave_group(&self, group: &Jid) -> EngineResult<()> {
        let client = self.client().await?;
        client.groups().leave(wjid(group)?).await.map_err(internal)
    }

    async fn update_group(&self, group: &Jid, change: &GroupChange) -> EngineResult<GroupInfo> {
        let client = self.client().await?;
        let jid = wjid(group)?;
        let groups = client.groups();
        if let Some(subject) = &change.subject {
            let subject =
                GroupSubject::new(subject.as_str()).map_err(|e| EngineError::Invalid(e.to_string()))?;
            groups.set_subject(jid.clone(), subject).await.map_err(internal)?;
        }
        if let Some(description) = &change.description {
            let description = match description.as_str() {
                "" => None,
                d => Some(GroupDescription::new(d).map_err(|e| EngineError::Invalid(e.to_string()))?),
            };
            groups
                .set_description(jid.clone(), description, PreviousDescription::Resolve)
                .await
                .map_err(internal)?;
        }
        if let Some(announce) = change.announce {
            groups.set_announce(jid.clone(), announce).await.map_err(internal)?;
        }
        if let Some(locked) = change.locked {
            groups.set_locked(jid.clone(), locked).await.map_err(internal)?;
        }
        self.group(group).await
    }

    async fn group_invite(&self, group: &Jid, reset: bool) -> EngineResult<String> {
        let client = self.client().await?;
        let link = client.groups().get_invite_link(wjid(group)?, reset).await.map_err(internal)?;
        // The API hands out codes; WhatsApp answers with the code or the link.
        Ok(link.rsplit('/').next().unwrap_or(&link).to_owned())
    }

    async fn join_group(&self, code: &str) -> EngineResult<GroupInfo> {
        let client = self.client().await?;
        let joined = client.groups().join_with_invite_code(code).await.map_err(internal)?;
        match joined {
            JoinGroupResult::Joined(jid) => {
                let jid = super::incoming::jid(&jid)
                    .ok_or_else(|| internal("joined a group with an unknown address"))?;
                self.group(&jid).await
            }
            JoinGroupResult::PendingApproval(_) => {
                Err(EngineError::Conflict("the group's admins must approve this request first".into()))
            }
        }
    }

    async fn blocklist(&self) -> EngineResult<Vec<Jid>> {
        let client = self.client().await?;
        let list = client.blocking().get_blocklist().await.map_err(internal)?;
        let mut jids: Vec<Jid> = list.iter().filter_map(|e| super::incoming::jid(&e.jid)).collect();
        jids.sort();
        Ok(jids)
    }

    async fn download_media(&self, handle: &str) -> EngineResult<DownloadedMedia> {
        let part = super::media::part(handle).ok_or_else(|| EngineError::NotFound("media".into()))?;
        let client = self.client().await?;
        let data = client.download(part.downloadable()).await.map_err(|e| match e.to_string() {
            // Expired on WhatsApp's CDN: gone for good.
            s if s.contains("404") || s.contains("410") => EngineError::NotFound("media".into()),
            s => EngineError::Internal(s),
        })?;
        Ok(DownloadedMedia { data, mime_type: part.mime_type() })
    }

    async fn set_presence(&self, available: bool) -> EngineResult<()> {
        let client = self.client().await?;
        let presence = client.presence();
        let r = if available { presence.set_available().await } else { presence.set_unavailable().await };
        r.map_err(internal)
    }

    async fn reject_call(&self, call: &CallOffer) -> EngineResult<()> {
        let (peer, creator) = super::calls::route(&call.route)?;
        let client = self.client().await?;
        client.voip().reject_call(&call.id, &peer, &creator).await.map_err(super::calls::reject_error)
    }

    async fn set_profile(&self, change: &ProfileChange) -> EngineResult<()> {
        let client = self.client().await?;
        let profile = client.profile();
        if let Some(name) = &change.push_name {
            profile.set_push_name(name).await.map_err(profile_error)?;
            // The crate keeps the name without announcing it to this client.
            let _ = self.ctx.events.send(EngineEvent::PushName { push_name: name.clone() }).await;
        }
        if let Some(about) = &change.about {
            profile.set_status_text(about).await.map_err(profile_error)?;
        }
        match &change.picture {
            Some(PictureChange::Set(jpeg)) => {
                profile.set_profile_picture(jpeg.clone()).await.map_err(profile_error)?;
            }
            Some(PictureChange::Remove) => {
                profile.remove_profile_picture().await.map_err(profile_error)?;
            }
            None => {}
        }
        Ok(())
    }

    async fn set_chat(&self, chat: &Jid, change: &ChatChange) -> EngineResult<()> {
        let client = self.client().await?;
        let actions = client.chat_actions();
        let target = wjid(chat)?;
        let failed = |e: whatsapp_rust::AppStateError| EngineError::Internal(e.to_string());
        match change.archived {
            Some(true) => actions.archive_chat(&target, None).await.map_err(failed)?,
            Some(false) => actions.unarchive_chat(&target, None).await.map_err(failed)?,
            None => {}
        }
        match change.pinned {
            Some(true) => actions.pin_chat(&target).await.map_err(failed)?,
            Some(false) => actions.unpin_chat(&target).await.map_err(failed)?,
            None => {}
        }
        match change.mute {
            Some(Mute::Off) => actions.unmute_chat(&target).await.map_err(failed)?,
            Some(Mute::Forever) => actions.mute_chat(&target).await.map_err(failed)?,
            Some(Mute::Until(at)) => {
                actions.mute_chat_until(&target, at.timestamp_millis()).await.map_err(failed)?
            }
            None => {}
        }
        Ok(())
    }

    async fn save_contact(&self, contact: &Jid, name: &str, first_name: Option<&str>) -> EngineResult<()> {
        let client = self.client().await?;
        let target = wjid(contact)?;
        client
            .chat_actions()
            .save_contact(&target, Some(name.to_owned()), first_name.map(str::to_owned), true)
            .await
            .map_err(app_state_error)
    }

    async fn change_label(&self, change: &LabelChange) -> EngineResult<()> {
        let client = self.client().await?;
        let labels = client.labels();
        match change {
            LabelChange::Edited { label, deleted: true, .. } => labels.delete_label(label).await,
            LabelChange::Edited { label, name, color, .. } => {
                // WhatsApp's edit is a whole label: the gateway fills in what is kept.
                let name =
                    name.as_deref().ok_or_else(|| EngineError::Invalid("a label needs its name".into()))?;
                labels.create_label(label, name, color.unwrap_or(0)).await
            }
            LabelChange::Chat { label, chat, labeled: true } => {
                labels.add_chat_label(label, &wjid(chat)?).await
            }
            LabelChange::Chat { label, chat, labeled: false } => {
                labels.remove_chat_label(label, &wjid(chat)?).await
            }
        }
        .map_err(app_state_error)
    }
}

fn app_state_error(e: whatsapp_rust::AppStateError) -> EngineError {
    match e {
        whatsapp_rust::AppStateError::InvalidRequest(detail) => EngineError::Invalid(detail),
        e => EngineError::Internal(e.to_string()),
    }
}

fn chat_state(state: ChatState) -> ChatStateType {
    match state {
        ChatState::Composing => ChatStateType::Composing,
        ChatState::Recording => ChatStateType::Recording,
        ChatState::Paused => ChatStateType::Paused,
    }
}

/// One entry of WhatsApp's "is on WhatsApp" answer: the user parts it names
/// (its JID, and the phone-number JID when it answered with a LID).
struct Answer {
    users: [Option<String>; 2],
    registered: bool,
}

/// One check per asked phone, in the order asked; a phone WhatsApp did not
/// mention, or mentioned as unregistered, is not on WhatsApp.
fn number_checks(phones: &[PhoneNumber], answers: Vec<Answer>) -> Vec<NumberCheck> {
    phones
        .iter()
        .map(|phone| {
            let exists =
                answers.iter().any(|a| a.registered && a.users.iter().flatten().any(|u| u == phone.as_str()));
            NumberCheck { phone: phone.as_str().to_owned(), exists, jid: exists.then(|| phone.to_jid()) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_errors_map_to_the_gateways() {
        use whatsapp_rust::ProfileError as P;
        let invalid = profile_error(P::InvalidArgument("push name cannot be empty".into()));
        assert_eq!(invalid, EngineError::Invalid("push name cannot be empty".into()));
        assert_eq!(
            profile_error(P::Client(whatsapp_rust::ClientError::NotLoggedIn)),
            EngineError::NotConnected
        );
        assert!(
            matches!(profile_error(P::Internal(anyhow::anyhow!("boom"))), EngineError::Internal(m) if m == "boom")
        );
    }

    #[test]
    fn number_checks_follow_the_asked_order_and_match_lid_answers_by_phone() {
        let phones: Vec<PhoneNumber> = ["491701110000", "491702220000", "491703330000"]
            .iter()
            .map(|p| PhoneNumber::parse(p).unwrap())
            .collect();
        let answers = vec![
            // Answered by LID with the phone number beside it.
            Answer { users: [Some("100000000000001".into()), Some("491703330000".into())], registered: true },
            Answer { users: [Some("491702220000".into()), None], registered: false },
        ];
        let got: Vec<(String, bool, Option<String>)> = number_checks(&phones, answers)
            .into_iter()
            .map(|c| (c.phone, c.exists, c.jid.map(|j| j.to_string())))
            .collect();
        assert_eq!(
            got,
            [
                ("491701110000".into(), false, None),
                ("491702220000".into(), false, None),
                ("491703330000".into(), true, Some("491703330000@s.whatsapp.net".into())),
            ]
        );
    }

    #[test]
    fn chat_states_map_one_to_one() {
        assert_eq!(chat_state(ChatState::Composing), ChatStateType::Composing);
        assert_eq!(chat_state(ChatState::Recording), ChatStateType::Recording);
        assert_eq!(chat_state(ChatState::Paused), ChatStateType::Paused);
    }
}
