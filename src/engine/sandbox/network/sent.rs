//! What a sandbox session sent, for repeats, edits, revokes and replies:
//! the last `SENT_MEMORY` (id, chat) pairs, looked up by id in constant
//! time (every send asks whether it repeats an earlier one).

use std::collections::{HashMap, VecDeque};

use crate::wa::{Jid, MessageId};

/// Sent ids remembered per session.
const SENT_MEMORY: usize = 4096;

#[derive(Default)]
pub(super) struct SentMemory {
    order: VecDeque<(MessageId, Jid)>,
    /// The chats each remembered id went to (almost always one).
    chats: HashMap<MessageId, Vec<Jid>>,
}

impl SentMemory {
    /// Whether `id` went to `chat`.
    pub(super) fn sent_to(&self, id: &MessageId, chat: &Jid) -> bool {
        self.chats.get(id).is_some_and(|chats| chats.contains(chat))
    }

    /// Whether `id` is one of ours.
    pub(super) fn knows(&self, id: &MessageId) -> bool {
        self.chats.contains_key(id)
    }

    /// Remembers `id` to `chat`, forgetting the oldest beyond the limit.
    pub(super) fn remember(&mut self, id: MessageId, chat: Jid) {
        if self.sent_to(&id, &chat) {
            return;
        }
        if self.order.len() >= SENT_MEMORY
            && let Some((old, old_chat)) = self.order.pop_front()
            && let Some(chats) = self.chats.get_mut(&old)
        {
            chats.retain(|c| *c != old_chat);
            if chats.is_empty() {
                self.chats.remove(&old);
            }
        }
        self.chats.entry(id.clone()).or_default().push(chat.clone());
        self.order.push_back((id, chat));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> MessageId {
        MessageId(format!("3EB0{n:08}"))
    }

    fn chat(phone: &str) -> Jid {
        format!("{phone}@s.whatsapp.net").parse().unwrap()
    }

    #[test]
    fn remembers_by_id_and_chat_and_forgets_the_oldest() {
        let mut sent = SentMemory::default();
        let (a, b) = (chat("491700000001"), chat("491700000002"));
        sent.remember(id(0), a.clone());
        sent.remember(id(0), b.clone());
        assert!(sent.sent_to(&id(0), &a) && sent.sent_to(&id(0), &b));
        assert!(!sent.sent_to(&id(1), &a) && !sent.knows(&id(1)));
        // A repeat is not remembered twice, so it does not push others out.
        sent.remember(id(0), a.clone());
        for n in 1..SENT_MEMORY - 1 {
            sent.remember(id(n), a.clone());
        }
        assert!(sent.sent_to(&id(0), &a), "4096 pairs fit");
        sent.remember(id(SENT_MEMORY), a.clone());
        assert!(!sent.sent_to(&id(0), &a), "the oldest pair goes first");
        assert!(sent.sent_to(&id(0), &b) && sent.knows(&id(0)));
        sent.remember(id(SENT_MEMORY + 1), a.clone());
        assert!(!sent.knows(&id(0)), "an id with no chat left is forgotten");
        assert!(sent.sent_to(&id(SENT_MEMORY + 1), &a) && sent.sent_to(&id(1), &a));
    }
}
