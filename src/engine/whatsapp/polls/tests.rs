//! Votes built the way whatsapp-rust's own `polls().vote` builds them, read
//! back offline.

use whatsapp_rust::prelude::{MessageField, wa};
use whatsapp_rust::wacore::types::message::{MessageInfo, MessageSource};

use super::*;
use crate::wa::poll::{chosen, option_hash};

const SECRET: [u8; 32] = [7; 32];

fn wjid(s: &str) -> WaJid {
    s.parse().unwrap()
}

/// A vote message as a voter's client sends it.
fn vote_message(
    poll_id: &str,
    participant: Option<&str>,
    from_me: bool,
    creator: &str,
    voter: &str,
    picks: &[&str],
) -> wa::Message {
    let hashes: Vec<Vec<u8>> = picks.iter().map(|p| wacore::poll::compute_option_hash(p).to_vec()).collect();
    let (payload, iv) =
        wacore::poll::encrypt_poll_vote_with_secret(&hashes, &SECRET, poll_id, creator, voter).unwrap();
    wa::Message {
        poll_update_message: MessageField::some(wa::message::PollUpdateMessage {
            poll_creation_message_key: MessageField::some(wa::MessageKey {
                remote_jid: Some("120363025246125486@g.us".into()),
                from_me: Some(from_me),
                id: Some(poll_id.into()),
                participant: participant.map(Into::into),
            }),
            vote: MessageField::some(wa::message::PollEncValue {
                enc_payload: Some(payload),
                enc_iv: Some(iv.to_vec()),
            }),
            metadata: MessageField::none(),
            sender_timestamp_ms: Some(1_796_000_000_123),
        }),
        ..Default::default()
    }
}

#[test]
fn our_option_hash_is_whatsapps() {
    for option in ["Pizza", "Sushi", "Ünïcode 🍕", ""] {
        assert_eq!(option_hash(option), wacore::poll::compute_option_hash(option));
    }
}

#[test]
fn a_group_vote_is_read_with_the_participant_as_creator() {
    let options = vec!["Pizza".to_owned(), "Sushi".to_owned(), "Tacos".to_owned()];
    let m = vote_message(
        "3EB0POLL1",
        Some("491701230000@s.whatsapp.net"),
        false,
        "491701230000@s.whatsapp.net",
        "491709876543@s.whatsapp.net",
        &["Tacos", "Pizza"],
    );
    let vote = vote_of(&m).expect("a vote");
    assert_eq!(vote.poll_id, "3EB0POLL1");
    assert_eq!(vote.sent_ms, Some(1_796_000_000_123));
    let voter = wjid("491709876543:3@s.whatsapp.net");
    let creator = creator(&vote, &voter, None, None).unwrap();
    assert_eq!(creator.to_string(), "491701230000@s.whatsapp.net");
    let hashes = decrypt(&vote, &SECRET, &creator, &voter).unwrap();
    assert_eq!(chosen(&options, &hashes), ["Pizza", "Tacos"]);
    // Another secret, or another voter, does not open it.
    assert!(decrypt(&vote, &[8; 32], &creator, &voter).is_err());
    assert!(decrypt(&vote, &SECRET, &creator, &wjid("491700000000@s.whatsapp.net")).is_err());
}

#[test]
fn a_direct_chat_vote_names_its_creator_by_the_key() {
    let own_pn = wjid("491701230000@s.whatsapp.net");
    let own_lid = wjid("100000000000001@lid");
    // On our poll, from a voter addressed by LID: we are the creator, by LID.
    let m = vote_message("P1", None, false, "100000000000001@lid", "200000000000002@lid", &["yes"]);
    let vote = vote_of(&m).unwrap();
    let voter = wjid("200000000000002@lid");
    let creator_jid = creator(&vote, &voter, Some(&own_pn), Some(&own_lid)).unwrap();
    assert_eq!(creator_jid, own_lid);
    assert_eq!(decrypt(&vote, &SECRET, &creator_jid, &voter).unwrap(), [option_hash("yes")]);
    // By phone number: our number.
    let voter = wjid("491709876543@s.whatsapp.net");
    assert_eq!(creator(&vote, &voter, Some(&own_pn), Some(&own_lid)), Some(own_pn.clone()));
    // Not linked yet: nobody to derive.
    assert_eq!(creator(&vote, &voter, None, None), None);
    // On the voter's own poll: the voter.
    let m = vote_message("P2", None, true, "491709876543@s.whatsapp.net", "491709876543@s.whatsapp.net", &[]);
    let vote = vote_of(&m).unwrap();
    let creator_jid = creator(&vote, &voter, Some(&own_pn), None).unwrap();
    assert_eq!(creator_jid, voter);
    // An empty choice: the vote was taken back.
    assert!(decrypt(&vote, &SECRET, &creator_jid, &voter).unwrap().is_empty());
}

#[test]
fn only_votes_with_a_poll_id_and_ciphertext_are_votes() {
    let mut m = vote_message("P1", None, false, "a@s.whatsapp.net", "b@s.whatsapp.net", &["x"]);
    assert!(vote_of(&m).is_some());
    m.poll_update_message.as_option_mut().unwrap().vote = MessageField::none();
    assert!(vote_of(&m).is_none());
    let text = wa::Message { conversation: Some("hi".into()), ..Default::default() };
    assert!(vote_of(&text).is_none());
}

fn info(id: &str) -> MessageInfo {
    MessageInfo {
        source: MessageSource {
            chat: wjid("491709876543@s.whatsapp.net"),
            sender: wjid("491709876543@s.whatsapp.net"),
            ..Default::default()
        },
        id: id.into(),
        ..Default::default()
    }
}

#[test]
fn a_received_poll_leaves_its_secret() {
    let context = |secret: Vec<u8>| {
        MessageField::some(wa::MessageContextInfo { message_secret: Some(secret), ..Default::default() })
    };
    let poll = wa::Message {
        poll_creation_message_v3: MessageField::some(wa::message::PollCreationMessage {
            name: Some("Lunch?".into()),
            ..Default::default()
        }),
        message_context_info: context(SECRET.to_vec()),
        ..Default::default()
    };
    let info = info("3EB0POLL2");
    assert_eq!(secret_of(&poll, &info), Some(("3EB0POLL2", &SECRET[..])));
    // Not a poll, or not a 32-byte secret: nothing to keep.
    let text = wa::Message {
        conversation: Some("hi".into()),
        message_context_info: context(SECRET.to_vec()),
        ..Default::default()
    };
    assert_eq!(secret_of(&text, &info), None);
    let short = wa::Message { message_context_info: context(vec![1; 31]), ..poll.clone() };
    assert_eq!(secret_of(&short, &info), None);
    // Undecrypted, a vote is reported as such, naming its poll.
    let vote = vote_message("3EB0POLL2", None, false, "a@s.whatsapp.net", "b@s.whatsapp.net", &["x"]);
    match super::super::incoming::body(&vote) {
        IncomingBody::Unsupported { reason } => assert!(reason.contains("3EB0POLL2"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

fn poll_ref(chat: &str, from_me: bool, sender: Option<&str>) -> MessageRef {
    MessageRef {
        chat: crate::wa::Jid::parse(chat).unwrap(),
        id: MessageId("3EB0POLL9".into()),
        from_me,
        sender: sender.map(|s| crate::wa::Jid::parse(s).unwrap()),
    }
}

#[test]
fn own_votes_are_read_back_by_the_polls_creator() {
    let own_pn = wjid("491701230000:7@s.whatsapp.net");
    let options = vec!["Pizza".to_owned(), "Sushi".to_owned(), "Tacos".to_owned()];
    // On someone's group poll: the author is the creator, named in the key.
    let poll = poll_ref("120363025246125486@g.us", false, Some("491709876543@s.whatsapp.net"));
    let creator = creator_of(&poll, &own_pn).unwrap();
    assert_eq!(creator.to_string(), "491709876543@s.whatsapp.net");
    let voter = voter_for(&creator, &own_pn, Some(&wjid("100000012345678:7@lid")));
    assert_eq!(voter.to_string(), "491701230000@s.whatsapp.net", "a phone-number poll: the phone number");
    let picked = vec!["Tacos".to_owned(), "Pizza".to_owned()];
    let m = seal_vote(&poll, &creator, &voter, &SECRET, &picked, 1_796_000_000_999).unwrap();
    let vote = vote_of(&m).expect("a vote");
    assert_eq!(
        (vote.poll_id, vote.participant, vote.voter_is_creator),
        ("3EB0POLL9", Some("491709876543@s.whatsapp.net"), false)
    );
    assert_eq!(vote.sent_ms, Some(1_796_000_000_999));
    // The creator's client reads it as it reads anyone's vote.
    let read_creator = super::creator(&vote, &voter, None, None).unwrap();
    let hashes = decrypt(&vote, &SECRET, &read_creator, &voter).unwrap();
    assert_eq!(chosen(&options, &hashes), ["Pizza", "Tacos"]);
    assert!(decrypt(&vote, &[8; 32], &read_creator, &voter).is_err());

    // On its own direct-chat poll: this account created it; no participant.
    let own = poll_ref("491709876543@s.whatsapp.net", true, None);
    let creator = creator_of(&own, &own_pn).unwrap();
    assert_eq!(creator.to_string(), "491701230000@s.whatsapp.net");
    let m = seal_vote(&own, &creator, &voter, &SECRET, &[], 1).unwrap();
    let vote = vote_of(&m).unwrap();
    assert_eq!((vote.participant, vote.voter_is_creator), (None, true));
    assert!(decrypt(&vote, &SECRET, &creator, &voter).unwrap().is_empty(), "an empty vote takes it back");

    // On a direct-chat poll of the other person: they created it.
    let theirs = poll_ref("491709876543@s.whatsapp.net", false, None);
    assert_eq!(creator_of(&theirs, &own_pn).unwrap().to_string(), "491709876543@s.whatsapp.net");
    // A LID-addressed poll: this account votes as its LID when it knows it.
    let lid_creator = wjid("100000099999999@lid");
    assert_eq!(
        voter_for(&lid_creator, &own_pn, Some(&wjid("100000012345678:7@lid"))).to_string(),
        "100000012345678@lid"
    );
    assert_eq!(voter_for(&lid_creator, &own_pn, None).to_string(), "491701230000@s.whatsapp.net");
}
