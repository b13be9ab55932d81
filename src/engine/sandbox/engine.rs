//! One sandbox session's `Engine`: a thin handle on the shared network.

use std::sync::Arc;

use async_trait::async_trait;

use super::network::SandboxNetwork;
use crate::engine::{Engine, EngineContext, EngineFactory, EngineResult};
use crate::wa::*;

pub struct SandboxFactory {
    pub network: Arc<SandboxNetwork>,
}

impl EngineFactory for SandboxFactory {
    fn create(&self, ctx: EngineContext) -> Arc<dyn Engine> {
        let instance = self.network.attach(&ctx);
        Arc::new(SandboxEngine {
            network: self.network.clone(),
            session: ctx.session_id.as_str().to_owned(),
            instance,
        })
    }
}

struct SandboxEngine {
    network: Arc<SandboxNetwork>,
    session: String,
    instance: u64,
}

impl Drop for SandboxEngine {
    fn drop(&mut self) {
        self.network.detach(&self.session, self.instance);
    }
}

#[async_trait]
impl Engine for SandboxEngine {
    async fn connect(&self) -> EngineResult<()> {
        self.network.connect(&self.session).await
    }

    async fn disconnect(&self) {
        self.network.disconnect(&self.session);
    }

    async fn logout(&self) -> EngineResult<()> {
        self.network.logout(&self.session).await
    }

    async fn request_pair_code(&self, phone: &PhoneNumber) -> EngineResult<String> {
        self.network.request_pair_code(&self.session, phone)
    }

    async fn send(&self, to: &Jid, message: &OutgoingMessage) -> EngineResult<SentMessage> {
        self.network.send(&self.session, to, message).await
    }

    async fn edit(&self, chat: &Jid, id: &MessageId, text: &str) -> EngineResult<SentMessage> {
        let body = IncomingBody::Edited { target: id.clone(), text: text.to_owned() };
        self.network.amend(&self.session, chat, id, body).await
    }

    async fn revoke(&self, chat: &Jid, id: &MessageId) -> EngineResult<()> {
        let body = IncomingBody::Revoked { target: id.clone() };
        self.network.amend(&self.session, chat, id, body).await.map(drop)
    }

    async fn mark_read(&self, chat: &Jid, sender: Option<&Jid>, ids: &[MessageId]) -> EngineResult<()> {
        self.network.mark_read(&self.session, chat, sender, ids).await
    }

    async fn set_chat_state(&self, chat: &Jid, state: ChatState) -> EngineResult<()> {
        self.network.set_chat_state(&self.session, chat, state).await
    }

    async fn check_numbers(&self, phones: &[PhoneNumber]) -> EngineResult<Vec<NumberCheck>> {
        self.network.check_numbers(&self.session, phones)
    }

    async fn contact(&self, jid: &Jid) -> EngineResult<ContactInfo> {
        self.network.contact(&self.session, jid)
    }

    async fn set_blocked(&self, jid: &Jid, blocked: bool) -> EngineResult<()> {
        self.network.set_blocked(&self.session, jid, blocked)
    }

    async fn create_group(&self, subject: &str, participants: &[Jid]) -> EngineResult<GroupInfo> {
        self.network.create_group(&self.session, subject, participants).await
    }

    async fn group(&self, group: &Jid) -> EngineResult<GroupInfo> {
        self.network.group(&self.session, group)
    }

    async fn groups(&self) -> EngineResult<Vec<GroupInfo>> {
        self.network.groups(&self.session)
    }

    async fn update_participants(
        &self,
        group: &Jid,
        action: ParticipantAction,
        participants: &[Jid],
    ) -> EngineResult<Vec<ParticipantResult>> {
        self.network.update_participants(&self.session, group, action, participants).await
    }

    async fn leave_group(&self, group: &Jid) -> EngineResult<()> {
        self.network.leave_group(&self.session, group).await
    }

    async fn update_group(&self, group: &Jid, change: &GroupChange) -> EngineResult<GroupInfo> {
        self.network.update_group(&self.session, group, change).await
    }

    async fn group_invite(&self, group: &Jid, reset: bool) -> EngineResult<String> {
        self.network.group_invite(&self.session, group, reset)
    }

    async fn join_group(&self, code: &str) -> EngineResult<GroupInfo> {
        self.network.join_group(&self.session, code).await
    }

    async fn blocklist(&self) -> EngineResult<Vec<Jid>> {
        self.network.blocklist(&self.session)
    }

    async fn set_presence(&self, available: bool) -> EngineResult<()> {
        self.network.set_presence(&self.session, available).await
    }

    async fn download_media(&self, handle: &str) -> EngineResult<DownloadedMedia> {
        self.network.download_media(&self.session, handle)
    }

    async fn reject_call(&self, call: &CallOffer) -> EngineResult<()> {
        self.network.reject_call(&self.session, call)
    }

    async fn set_profile(&self, change: &ProfileChange) -> EngineResult<()> {
        self.network.set_profile(&self.session, change).await
    }

    async fn set_chat(&self, chat: &Jid, _change: &ChatChange) -> EngineResult<()> {
        self.network.chat_exists(&self.session, chat)
    }

    async fn save_contact(&self, contact: &Jid, _name: &str, _first_name: Option<&str>) -> EngineResult<()> {
        self.network.can_save_contact(&self.session, contact)
    }

    async fn change_label(&self, change: &LabelChange) -> EngineResult<()> {
        self.network.can_change_label(&self.session, change)
    }
}
