//! The sandbox's polls: the ones a session sent or was sent are remembered,
//! and someone in the poll's chat votes on one (`POST
//! /sandbox/sessions/{id}/polls/{pollId}/votes`). As on WhatsApp, a vote is
//! the voter's whole choice (empty takes it back), may pick at most the
//! poll's `selectable` options, and names them by the SHA-256 of their text.

use super::*;
use crate::wa::poll::option_hash;

/// Polls remembered per session; the oldest are forgotten beyond it.
const POLLS_KEPT: usize = 1024;

/// `POST /sandbox/sessions/{id}/polls/{pollId}/votes`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "491709876543", "options": ["Pizza"]}))]
pub struct VoteRequest {
    /// Who votes: the other person of a direct chat, or a group member.
    #[schema(value_type = String, example = "491709876543")]
    pub from: PhoneNumber,
    /// The chosen options' text; empty takes the vote back.
    pub options: Vec<String>,
}

/// A poll someone sends the session.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"question": "Lunch?", "options": ["Pizza", "Sushi"], "selectable": 1}))]
pub struct InboundPoll {
    pub question: String,
    /// 2 to 12 distinct options.
    pub options: Vec<String>,
    /// How many options a voter may pick (default 1).
    pub selectable: Option<u32>,
}

impl InboundPoll {
    /// The poll as the session receives it, if a WhatsApp client could send it.
    pub(super) fn body(&self) -> EngineResult<IncomingBody> {
        let distinct: HashSet<&String> = self.options.iter().collect();
        if !(2..=12).contains(&self.options.len()) || distinct.len() != self.options.len() {
            return Err(EngineError::Invalid("a poll has 2 to 12 distinct options".into()));
        }
        let selectable = self.selectable.unwrap_or(1);
        if selectable == 0 || selectable as usize > self.options.len() {
            return Err(EngineError::Invalid("selectable is between 1 and the number of options".into()));
        }
        Ok(IncomingBody::Poll { question: self.question.clone(), options: self.options.clone(), selectable })
    }
}

/// A poll as the network knows it.
#[derive(Debug, Clone)]
pub(super) struct KnownPoll {
    chat: Jid,
    options: Vec<String>,
    selectable: u32,
}

#[derive(Default)]
pub(super) struct PollMemory {
    order: VecDeque<MessageId>,
    polls: HashMap<MessageId, KnownPoll>,
}

impl PollMemory {
    /// Remembers the poll in `body`, if it is one.
    pub(super) fn remember(&mut self, id: &MessageId, chat: &Jid, body: &IncomingBody) {
        let IncomingBody::Poll { options, selectable, .. } = body else { return };
        if self.polls.contains_key(id) {
            return;
        }
        if self.order.len() >= POLLS_KEPT
            && let Some(old) = self.order.pop_front()
        {
            self.polls.remove(&old);
        }
        self.order.push_back(id.clone());
        self.polls.insert(
            id.clone(),
            KnownPoll { chat: chat.clone(), options: options.clone(), selectable: *selectable },
        );
    }
}

/// The vote's hashes, or why WhatsApp's clients would not send it.
fn ballot(poll: &KnownPoll, picked: &[String]) -> EngineResult<Vec<[u8; 32]>> {
    if let Some(unknown) = picked.iter().find(|o| !poll.options.contains(o)) {
        return Err(EngineError::Invalid(format!("the poll has no option {unknown:?}")));
    }
    let distinct: HashSet<&String> = picked.iter().collect();
    if distinct.len() != picked.len() {
        return Err(EngineError::Invalid("an option is chosen twice".into()));
    }
    if picked.len() > poll.selectable as usize {
        return Err(EngineError::Invalid(format!("the poll allows at most {} option(s)", poll.selectable)));
    }
    Ok(picked.iter().map(|o| option_hash(o)).collect())
}

impl SandboxNetwork {
    /// `from` votes on poll `poll` (its WhatsApp id) of the session.
    pub async fn vote(
        &self,
        session: &str,
        poll: &MessageId,
        req: &VoteRequest,
    ) -> EngineResult<IncomingMessage> {
        let (events, message) = {
            let mut world = self.world();
            let (me, _) = Self::online(&world, session)?;
            let voter = req.from.to_jid();
            let known = Self::slot(&mut world, session)?
                .polls
                .polls
                .get(poll)
                .cloned()
                .ok_or_else(|| not_found("poll"))?;
            // Only someone in the poll's chat sees it.
            let in_chat = if known.chat.is_group() {
                let group = world.groups.get(&known.chat).ok_or_else(|| not_found("group"))?;
                group.members.contains_key(&req.from) && group.members.contains_key(&me)
            } else {
                known.chat == voter
            };
            if !in_chat || req.from == me {
                return Err(EngineError::Forbidden(format!("{} cannot see this poll", req.from)));
            }
            let hashes = ballot(&known, &req.options)?;
            let slot = Self::slot(&mut world, session)?;
            if slot.blocked.contains(&voter) {
                return Err(EngineError::Forbidden(format!("{} is blocked", req.from)));
            }
            // A voter's clock moves forward: two votes never share a millisecond.
            let now = Utc::now().timestamp_millis().max(slot.last_vote_ms + 1);
            slot.last_vote_ms = now;
            let message = IncomingMessage {
                id: MessageId(ids::message_id()),
                chat: known.chat.clone(),
                sender: voter,
                from_me: false,
                push_name: None,
                timestamp: chrono::DateTime::from_timestamp_millis(now).unwrap_or_else(Utc::now),
                body: IncomingBody::PollVote { target: poll.clone(), hashes, selected: Vec::new() },
                quoted: None,
                mentions: Vec::new(),
            };
            (slot.events.clone(), message)
        };
        let _ = events.send(EngineEvent::Message(message.clone())).await;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ballot_picks_known_distinct_options_within_the_limit() {
        let poll = KnownPoll {
            chat: Jid::parse("491709876543").unwrap(),
            options: vec!["a".into(), "b".into(), "c".into()],
            selectable: 2,
        };
        let pick = |o: &[&str]| ballot(&poll, &o.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(pick(&["c", "a"]).unwrap(), [option_hash("c"), option_hash("a")]);
        assert!(pick(&[]).unwrap().is_empty(), "an empty ballot takes the vote back");
        assert!(pick(&["d"]).is_err());
        assert!(pick(&["a", "a"]).is_err());
        assert!(pick(&["a", "b", "c"]).is_err());
    }

    #[test]
    fn memory_keeps_polls_only_and_forgets_the_oldest() {
        let chat = Jid::parse("491709876543").unwrap();
        let poll =
            IncomingBody::Poll { question: "?".into(), options: vec!["x".into(), "y".into()], selectable: 1 };
        let mut memory = PollMemory::default();
        memory.remember(&MessageId("T".into()), &chat, &IncomingBody::Text { text: "hi".into() });
        assert!(memory.polls.is_empty());
        for n in 0..=POLLS_KEPT {
            memory.remember(&MessageId(format!("P{n}")), &chat, &poll);
        }
        assert_eq!(memory.polls.len(), POLLS_KEPT);
        assert!(!memory.polls.contains_key(&MessageId("P0".into())));
        assert!(memory.polls.contains_key(&MessageId(format!("P{POLLS_KEPT}"))));
    }
}
