//! Poll votes on the real engine: keeping each poll's secret, reading votes.
//!
//! A vote travels encrypted with a key derived from the poll's 32-byte
//! secret, the poll's id, its creator and the voter. The engine makes the
//! secret of a poll this session sends (`KeyStore::poll_secret_for_send`),
//! and a received poll carries its own (`messageContextInfo.messageSecret`,
//! also a poll this account sent from the phone); both are kept in the key
//! store under the poll's id. A vote names its poll by a message key, from which the
//! creator follows: the key's participant in a group, else the voter when
//! the voter created it, else this account, addressed the way the voter is
//! (phone number or LID), as WhatsApp Web derives it. The session's own
//! votes are built here too (`seal_vote`), with the same secret.

use whatsapp_rust::Jid as WaJid;
use whatsapp_rust::prelude::{Client, wa};
use whatsapp_rust::wacore::proto_helpers::MessageExt;
use whatsapp_rust::wacore::types::message::MessageInfo;
use whatsapp_rust::{PollVoteCiphertext, wacore};

use super::keys::KeyStore;
use crate::wa::{IncomingBody, IncomingMessage, MessageId, MessageRef};

/// A vote as it arrives: which poll, and the encrypted choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedVote<'a> {
    pub poll_id: &'a str,
    /// Who created the poll, when the key says (`participant`).
    pub participant: Option<&'a str>,
    /// The voter created the poll.
    pub voter_is_creator: bool,
    pub payload: &'a [u8],
    pub iv: &'a [u8],
    /// The voter's clock, milliseconds (orders a voter's votes).
    pub sent_ms: Option<i64>,
}

impl EncryptedVote<'_> {
    fn ciphertext(&self) -> PollVoteCiphertext<'_> {
        PollVoteCiphertext { enc_payload: self.payload, enc_iv: self.iv }
    }
}

/// The crate's option hashes as fixed-size arrays (other lengths cannot be hashes).
fn hashes32(hashes: Vec<Vec<u8>>) -> Vec<[u8; 32]> {
    hashes.into_iter().filter_map(|h| <[u8; 32]>::try_from(h.as_slice()).ok()).collect()
}

/// The encrypted vote a message carries, if it is one.
pub fn vote_of(m: &wa::Message) -> Option<EncryptedVote<'_>> {
    let update = m.get_base_message().poll_update_message.as_option()?;
    let key = update.poll_creation_message_key.as_option()?;
    let vote = update.vote.as_option()?;
    Some(EncryptedVote {
        poll_id: key.id.as_deref().filter(|id| !id.is_empty())?,
        participant: key.participant.as_deref().filter(|p| !p.is_empty()),
        voter_is_creator: key.from_me == Some(true),
        payload: vote.enc_payload.as_deref()?,
        iv: vote.enc_iv.as_deref()?,
        sent_ms: update.sender_timestamp_ms,
    })
}

/// The secret a received poll carries: `(poll id, secret)`.
pub fn secret_of<'a>(m: &'a wa::Message, info: &'a MessageInfo) -> Option<(&'a str, &'a [u8])> {
    let base = m.get_base_message();
    let is_poll = base.poll_creation_message.is_set()
        || base.poll_creation_message_v2.is_set()
        || base.poll_creation_message_v3.is_set();
    let secret = [m, base]
        .into_iter()
        .find_map(|x| x.message_context_info.as_option().and_then(|c| c.message_secret.as_deref()))?;
    (is_poll && secret.len() == 32).then_some((info.id.as_str(), secret))
}

/// Who created the poll a vote is for, addressed for the vote's key.
pub fn creator(
    vote: &EncryptedVote<'_>,
    voter: &WaJid,
    own_pn: Option<&WaJid>,
    own_lid: Option<&WaJid>,
) -> Option<WaJid> {
    if let Some(participant) = vote.participant {
        return participant.parse::<WaJid>().ok().map(|j| j.to_non_ad());
    }
    if vote.voter_is_creator {
        return Some(voter.to_non_ad());
    }
    let own = if voter.is_lid() { own_lid.or(own_pn) } else { own_pn.or(own_lid) };
    own.map(|j| j.to_non_ad())
}

/// Who created a poll this account votes on: itself for its own poll, the
/// author in a group, the other person in a direct chat.
pub fn creator_of(poll: &MessageRef, own_pn: &WaJid) -> Result<WaJid, String> {
    let author = match (&poll.sender, poll.from_me) {
        (_, true) => return Ok(own_pn.to_non_ad()),
        (Some(sender), false) => sender.to_string(),
        (None, false) => poll.chat.to_string(),
    };
    author.parse::<WaJid>().map(|j| j.to_non_ad()).map_err(|e| format!("{author}: {e}"))
}

/// This account as a voter, in the poll creator's addressing (its LID for a
/// LID-addressed poll when known), as WhatsApp Web derives the vote's key.
pub fn voter_for(creator: &WaJid, own_pn: &WaJid, own_lid: Option<&WaJid>) -> WaJid {
    match own_lid {
        Some(lid) if creator.is_lid() => lid.to_non_ad(),
        _ => own_pn.to_non_ad(),
    }
}

/// The vote message choosing `options` (empty: the vote taken back) on
/// `poll`, encrypted as WhatsApp clients (and the crate's `polls().vote`)
/// do, so it can go out under the gateway's own message id.
pub fn seal_vote(
    poll: &MessageRef,
    creator: &WaJid,
    voter: &WaJid,
    secret: &[u8],
    options: &[String],
    now_ms: i64,
) -> Result<wa::Message, String> {
    let hashes: Vec<Vec<u8>> = options.iter().map(|o| crate::wa::poll::option_hash(o).to_vec()).collect();
    let (payload, iv) = wacore::poll::encrypt_poll_vote_with_secret(
        &hashes,
        secret,
        poll.id.as_str(),
        &creator.to_non_ad_string(),
        &voter.to_non_ad_string(),
    )
    .map_err(|e| e.to_string())?;
    let update = wa::message::PollUpdateMessage {
        poll_creation_message_key: wa::MessageKey {
            remote_jid: Some(poll.chat.to_string()),
            from_me: Some(poll.from_me),
            id: Some(poll.id.as_str().to_owned()),
            participant: poll.chat.is_group().then(|| creator.to_string()),
        }
        .into(),
        vote: wa::message::PollEncValue { enc_payload: Some(payload), enc_iv: Some(iv.to_vec()) }.into(),
        // WhatsApp Web leaves it out (an empty one is a stray field on the wire).
        metadata: Default::default(),
        sender_timestamp_ms: Some(now_ms),
    };
    Ok(wa::Message { poll_update_message: update.into(), ..Default::default() })
}

/// Decrypts a vote with its poll's secret under one addressing: the option
/// hashes chosen (empty: the vote was taken back).
pub fn decrypt(
    vote: &EncryptedVote<'_>,
    secret: &[u8],
    creator: &WaJid,
    voter: &WaJid,
) -> Result<Vec<[u8; 32]>, String> {
    let hashes = wacore::poll::decrypt_poll_vote_with_secret(
        vote.ciphertext(),
        secret,
        vote.poll_id,
        &creator.to_non_ad_string(),
        &voter.to_non_ad_string(),
    )
    .map_err(|e| e.to_string())?;
    Ok(hashes32(hashes))
}

/// Keeps a received poll's secret and reads a received vote, in place of the
/// placeholder `incoming::body` left for it.
pub async fn settle(
    client: &Client,
    keys: &KeyStore,
    m: &wa::Message,
    info: &MessageInfo,
    out: &mut IncomingMessage,
) {
    if let Some((poll_id, secret)) = secret_of(m, info)
        && let Err(e) = keys.put_poll_secret(poll_id, secret).await
    {
        tracing::warn!(poll = poll_id, error = %e, "could not keep a poll's secret: its votes cannot be read");
    }
    let Some(vote) = vote_of(m) else { return };
    let voter = info.source.sender.to_non_ad();
    let outcome = read_vote(client, keys, &vote, &info.source.chat, &voter).await;
    metrics::counter!("wag_poll_votes_read_total", "outcome" => if outcome.is_ok() { "read" } else { "unreadable" })
        .increment(1);
    match outcome {
        Ok(hashes) => {
            if let Some(at) = vote.sent_ms.and_then(chrono::DateTime::from_timestamp_millis) {
                out.timestamp = at;
            }
            out.body = IncomingBody::PollVote {
                target: MessageId(vote.poll_id.to_owned()),
                hashes,
                selected: Vec::new(),
            };
        }
        Err(reason) => {
            tracing::debug!(poll = vote.poll_id, reason, "a poll vote could not be read");
            out.body =
                IncomingBody::Unsupported { reason: format!("a poll vote that could not be read: {reason}") };
        }
    }
}

async fn read_vote(
    client: &Client,
    keys: &KeyStore,
    vote: &EncryptedVote<'_>,
    chat: &WaJid,
    voter: &WaJid,
) -> Result<Vec<[u8; 32]>, String> {
    let creator = creator(vote, voter, client.pn().as_ref(), client.lid().as_ref())
        .ok_or("this account's address is not known yet")?;
    let secret = keys
        .poll_secret(vote.poll_id, &chat.to_non_ad_string(), &creator.to_non_ad_string())
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the poll is unknown to this session (sent before it was linked?)")?;
    match decrypt(vote, &secret, &creator, voter) {
        Ok(hashes) => Ok(hashes),
        // The voter may have moved between addressings (phone number, LID)
        // since the poll was made; the crate retries under the other one
        // when it knows the mapping.
        Err(_) => client
            .polls()
            .decrypt_vote(vote.ciphertext(), &secret, vote.poll_id, &creator, voter)
            .await
            .map(hashes32)
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests;
