//! Polls: what is kept of a poll sent or received, what a vote means, and
//! the tally `GET /sessions/{id}/messages/{msgId}/poll` answers with.
//!
//! Engines report a vote as the hashes WhatsApp carries (SHA-256 of each
//! chosen option's text); the options are kept with the poll
//! (`store::PollRepo`), so a vote is read here, recorded as the voter's
//! latest choice and announced as `message.poll_vote`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::sessions::EventHub;
use crate::store::{NewPoll, Poll, PollVote, Store, StoreResult};
use crate::wa::poll::chosen;
use crate::wa::{IncomingBody, IncomingMessage, Jid, MessageId, SentMessage};

/// Keeps a poll; a failure costs the reading of its votes, not the message.
pub async fn keep(store: &Store, poll: NewPoll) {
    if let Err(e) = store.polls.put(&poll).await {
        tracing::warn!(session = %poll.session_id, message_id = %poll.message_id, error = %e,
            "could not keep a poll: its votes cannot be read");
    }
}

fn counted(outcome: &'static str) {
    metrics::counter!("wag_poll_votes_total", "outcome" => outcome).increment(1);
}

/// The vote `m` with its options named, and the poll it is for when this
/// session knows it (a poll from before the session was linked is not).
pub async fn resolve(
    store: &Store,
    session_id: &str,
    m: &IncomingMessage,
) -> (IncomingMessage, Option<Poll>) {
    let IncomingBody::PollVote { target, hashes, .. } = &m.body else { return (m.clone(), None) };
    match store.polls.by_wa_id(session_id, target.as_str()).await {
        Ok(Some(poll)) => {
            let body = IncomingBody::PollVote {
                target: target.clone(),
                hashes: hashes.clone(),
                selected: chosen(&poll.poll.options, hashes),
            };
            (IncomingMessage { body, ..m.clone() }, Some(poll))
        }
        Ok(None) => {
            // Without the options the choice cannot be named, and an empty
            // choice would read as a vote taken back.
            counted("unknown_poll");
            let reason = format!("a vote on poll {target}, which this session does not know");
            (IncomingMessage { body: IncomingBody::Unsupported { reason }, ..m.clone() }, None)
        }
        Err(e) => {
            counted("failed");
            tracing::warn!(session = session_id, error = %e, "could not look up a vote's poll");
            (m.clone(), None)
        }
    }
}

/// Records a read vote as the voter's choice and announces it, unless a
/// newer vote of theirs is already recorded (a late or repeated delivery).
pub async fn record(store: &Store, hub: &EventHub, session_id: &str, m: &IncomingMessage, poll: &Poll) {
    let IncomingBody::PollVote { selected, .. } = &m.body else { return };
    let voter = m.sender.to_string();
    match store.polls.vote(session_id, &poll.poll.message_id, &voter, selected, m.timestamp).await {
        Ok(true) => {
            counted("recorded");
            let event = json!({
                "id": m.id,
                "poll": {"id": poll.poll.message_id, "wa_id": poll.poll.wa_message_id, "question": poll.poll.question},
                "chat": m.chat,
                "voter": voter,
                "from_me": m.from_me,
                "selected": selected,
                "retracted": selected.is_empty(),
                "timestamp": m.timestamp,
            });
            hub.publish(session_id, "message.poll_vote", event);
        }
        Ok(false) => counted("stale"),
        Err(e) => {
            counted("failed");
            tracing::warn!(session = session_id, error = %e, "could not record a poll vote");
        }
    }
}

/// Records the session's own vote, once WhatsApp took it, in its poll's
/// tally and announces it like anyone's (`from_me` true).
pub async fn record_own(
    store: &Store,
    hub: &EventHub,
    session_id: &str,
    (poll_message_id, voter): (&str, &str),
    options: &[String],
    chat: &Jid,
    sent: &SentMessage,
) {
    let poll = match store.polls.get(session_id, poll_message_id).await {
        Ok(Some(poll)) => poll,
        Ok(None) => return,
        Err(e) => {
            counted("failed");
            tracing::warn!(session = session_id, error = %e, "could not look up the poll of an own vote");
            return;
        }
    };
    let Ok(voter) = Jid::parse(voter) else { return };
    let m = IncomingMessage {
        id: sent.id.clone(),
        chat: chat.clone(),
        sender: voter,
        from_me: true,
        push_name: None,
        timestamp: sent.timestamp,
        body: IncomingBody::PollVote {
            target: MessageId(poll.poll.wa_message_id.clone()),
            hashes: Vec::new(),
            selected: options.to_vec(),
        },
        quoted: None,
        mentions: Vec::new(),
    };
    record(store, hub, session_id, &m, &poll).await;
}

/// One option's standing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OptionTally {
    pub name: String,
    pub votes: u32,
    /// Who chose it (JIDs), earliest vote first.
    pub voters: Vec<String>,
}

/// A poll and its votes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "message_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f", "wa_id": "3EB0C0FFEE0123456789AB", "chat": "491709876543@s.whatsapp.net",
    "question": "Lunch?", "selectable": 1,
    "options": [{"name": "Pizza", "votes": 1, "voters": ["491709876543@s.whatsapp.net"]}, {"name": "Sushi", "votes": 0, "voters": []}],
    "voters": 1, "updated_at": "2026-12-07T12:00:00Z"}))]
pub struct PollResults {
    pub message_id: String,
    pub wa_id: String,
    pub chat: String,
    pub question: String,
    /// How many options one voter may pick.
    pub selectable: u32,
    pub options: Vec<OptionTally>,
    /// People whose current vote chooses something.
    pub voters: u32,
    /// The latest vote counted (or when the poll was kept).
    pub updated_at: DateTime<Utc>,
}

/// Counts each voter's current choice.
pub fn tally(poll: &Poll, votes: &[PollVote]) -> PollResults {
    let mut options: Vec<OptionTally> = poll
        .poll
        .options
        .iter()
        .map(|name| OptionTally { name: name.clone(), votes: 0, voters: Vec::new() })
        .collect();
    let mut voters = 0;
    for vote in votes {
        let mut counted = false;
        for option in options.iter_mut().filter(|o| vote.selected.contains(&o.name)) {
            option.votes += 1;
            option.voters.push(vote.voter_jid.clone());
            counted = true;
        }
        voters += u32::from(counted);
    }
    PollResults {
        message_id: poll.poll.message_id.clone(),
        wa_id: poll.poll.wa_message_id.clone(),
        chat: poll.poll.chat_jid.clone(),
        question: poll.poll.question.clone(),
        selectable: poll.poll.selectable,
        options,
        voters,
        updated_at: votes.iter().map(|v| v.voted_at).fold(poll.created_at, DateTime::max),
    }
}

/// The results of poll `message_id`, if it is a poll this session keeps.
pub async fn results(store: &Store, session_id: &str, message_id: &str) -> StoreResult<Option<PollResults>> {
    let Some(poll) = store.polls.get(session_id, message_id).await? else { return Ok(None) };
    let votes = store.polls.votes(session_id, message_id).await?;
    Ok(Some(tally(&poll, &votes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll() -> Poll {
        Poll {
            poll: NewPoll {
                session_id: "s".into(),
                message_id: "m".into(),
                wa_message_id: "W".into(),
                chat_jid: "c".into(),
                question: "Lunch?".into(),
                options: vec!["Pizza".into(), "Sushi".into(), "Tacos".into()],
                selectable: 2,
            },
            created_at: DateTime::from_timestamp(1_000, 0).unwrap(),
        }
    }

    fn vote(voter: &str, selected: &[&str], at: i64) -> PollVote {
        PollVote {
            voter_jid: voter.into(),
            selected: selected.iter().map(|s| s.to_string()).collect(),
            voted_at: DateTime::from_timestamp(at, 0).unwrap(),
        }
    }

    #[test]
    fn a_tally_counts_each_voters_current_choice() {
        let votes =
            [vote("a", &["Pizza", "Tacos"], 2_000), vote("b", &["Tacos"], 3_000), vote("c", &[], 4_000)];
        let r = tally(&poll(), &votes);
        let counts: Vec<_> = r.options.iter().map(|o| (o.name.as_str(), o.votes)).collect();
        assert_eq!(counts, [("Pizza", 1), ("Sushi", 0), ("Tacos", 2)]);
        assert_eq!(r.options[2].voters, ["a", "b"]);
        // c took the vote back: not a voter.
        assert_eq!(r.voters, 2);
        assert_eq!(r.updated_at, DateTime::from_timestamp(4_000, 0).unwrap());
        let empty = tally(&poll(), &[]);
        assert_eq!((empty.voters, empty.updated_at), (0, poll().created_at));
    }
}
