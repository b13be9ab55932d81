//! The sandbox network through the engine seam: sessions message each
//! other and virtual contacts, receipts arrive, groups work, inbound
//! messages can be injected.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use wa_gateway::sessions::GatewayEvent;
use wa_gateway::wa::*;

use crate::helpers::*;
use crate::support::{Backend, TestApp};

/// The next event named `name` for `session`, within 5 s.
async fn next(rx: &mut broadcast::Receiver<Arc<GatewayEvent>>, session: &str, name: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {name} event for {session}"))
            .unwrap();
        if event.session_id == session && event.event == name {
            return event.data.clone();
        }
    }
}

fn jid(raw: &str) -> Jid {
    Jid::parse(raw).unwrap()
}

#[tokio::test]
async fn sessions_message_each_other_and_virtual_contacts() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, FAST).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "alice", "491704440001").await;
    linked(&app, "bob", "491704440002").await;
    let alice = app.state.sessions.connected_engine("alice").unwrap();
    let bob = app.state.sessions.connected_engine("bob").unwrap();

    // Session to session: bob receives, alice gets delivered, then read once bob reads.
    let sent = alice.send(&jid("491704440002"), &OutgoingMessage::text("hi bob")).await.unwrap();
    let got = next(&mut rx, "bob", "message.received").await;
    assert_eq!(got["id"], sent.id.as_str());
    assert_eq!(got["chat"], "491704440001@s.whatsapp.net");
    assert_eq!(got["body"], json!({"type": "text", "text": "hi bob"}));
    let ack = next(&mut rx, "alice", "message.ack").await;
    assert_eq!((ack["ack"].as_str(), ack["ids"][0].as_str()), (Some("delivered"), Some(sent.id.as_str())));
    bob.mark_read(&jid("491704440001"), None, std::slice::from_ref(&sent.id)).await.unwrap();
    let ack = next(&mut rx, "alice", "message.ack").await;
    assert_eq!(ack["ack"], "read");
    assert_eq!(ack["by"], "491704440002@s.whatsapp.net");

    // A reply quotes; an edit and a revoke reach the recipient.
    let reply = OutgoingMessage {
        reply_to: Some(MessageRef {
            chat: jid("491704440001"),
            id: MessageId(got["id"].as_str().unwrap().into()),
            from_me: false,
            sender: None,
        }),
        ..OutgoingMessage::text("hello alice")
    };
    bob.send(&jid("491704440001"), &reply).await.unwrap();
    let quoted = next(&mut rx, "alice", "message.received").await;
    assert_eq!(quoted["quoted"]["id"], sent.id.as_str());
    alice.edit(&jid("491704440002"), &sent.id, "hi bob!").await.unwrap();
    let edit = next(&mut rx, "bob", "message.received").await;
    assert_eq!(edit["body"], json!({"type": "edited", "target": sent.id.as_str(), "text": "hi bob!"}));
    alice.revoke(&jid("491704440002"), &sent.id).await.unwrap();
    assert_eq!(next(&mut rx, "bob", "message.received").await["body"]["type"], "revoked");
    let unknown = alice.edit(&jid("491704440002"), &MessageId("3EB0NOPE".into()), "x").await;
    assert!(matches!(unknown, Err(wa_gateway::engine::EngineError::NotFound(_))));

    // A virtual contact delivers, then reads.
    let sent = alice.send(&jid("491709990000"), &OutgoingMessage::text("hello stranger")).await.unwrap();
    let delivered = next(&mut rx, "alice", "message.ack").await;
    assert_eq!(
        (delivered["ack"].as_str(), delivered["ids"][0].as_str()),
        (Some("delivered"), Some(sent.id.as_str()))
    );
    assert_eq!(next(&mut rx, "alice", "message.ack").await["ack"], "read");

    // Numbers starting with 999 are not on WhatsApp.
    let err = alice.send(&jid("999123456789"), &OutgoingMessage::text("?")).await.unwrap_err();
    assert!(matches!(err, wa_gateway::engine::EngineError::NotOnWhatsApp(_)));
    let checks = alice
        .check_numbers(&[
            PhoneNumber::parse("999123456789").unwrap(),
            PhoneNumber::parse("491704440002").unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(checks.iter().map(|c| c.exists).collect::<Vec<_>>(), [false, true]);

    // Blocking: bob blocks alice, her messages stop at "sent".
    bob.set_blocked(&jid("491704440001"), true).await.unwrap();
    alice.send(&jid("491704440002"), &OutgoingMessage::text("are you there?")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Ok(e) = rx.try_recv() {
        assert!(
            !(e.session_id == "bob" && e.event == "message.received"),
            "a blocked sender's message arrived"
        );
    }

    // Messages to an offline sandbox account wait in its mailbox.
    bob.set_blocked(&jid("491704440001"), false).await.unwrap();
    app.authed(Method::POST, "/sessions/bob/stop").send().await.unwrap();
    let queued =
        alice.send(&jid("491704440002"), &OutgoingMessage::text("while you were away")).await.unwrap();
    app.authed(Method::POST, "/sessions/bob/start").send().await.unwrap();
    let got = next(&mut rx, "bob", "message.received").await;
    assert_eq!(got["id"], queued.id.as_str());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn groups_and_injected_inbound_messages() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, FAST).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "owner", "491705550101").await;
    linked(&app, "member", "491705550102").await;
    let owner = app.state.sessions.connected_engine("owner").unwrap();

    let group = owner
        .create_group("Team", &[jid("491705550102"), jid("491705550103"), jid("999000111222")])
        .await
        .unwrap();
    assert!(group.jid.is_group());
    assert_eq!(group.participants.len(), 3, "the number not on WhatsApp is left out");
    let update = next(&mut rx, "member", "group.updated").await;
    assert_eq!(update["action"], "create");
    assert_eq!(update["group"]["subject"], "Team");

    owner.send(&group.jid, &OutgoingMessage::text("welcome")).await.unwrap();
    let got = next(&mut rx, "member", "message.received").await;
    assert_eq!(got["chat"], group.jid.to_string());
    assert_eq!(got["sender"], "491705550101@s.whatsapp.net");

    let results = owner
        .update_participants(&group.jid, ParticipantAction::Add, &[jid("491705550103"), jid("491705550104")])
        .await
        .unwrap();
    let statuses: Vec<&str> = results.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["conflict", "ok"]);
    let member = app.state.sessions.connected_engine("member").unwrap();
    let denied =
        member.update_participants(&group.jid, ParticipantAction::Remove, &[jid("491705550101")]).await;
    assert!(matches!(denied, Err(wa_gateway::engine::EngineError::Forbidden(_))));
    assert_eq!(member.groups().await.unwrap().len(), 1);

    // Someone in the group writes; the member sees it in the group chat.
    let res = app
        .authed(Method::POST, "/sandbox/sessions/member/inbound")
        .json(&json!({"from": "491705550103", "push_name": "Carol", "text": "hi all", "group": group.jid.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let injected: Value = res.json().await.unwrap();
    let got = next(&mut rx, "member", "message.received").await;
    assert_eq!(got, injected);
    assert_eq!(got["push_name"], "Carol");

    // A media message replying to an earlier one.
    let res = app
        .authed(Method::POST, "/sandbox/sessions/owner/inbound")
        .json(&json!({"from": "491705550199", "media": {"kind": "image", "mime_type": "image/jpeg", "caption": "look", "size": 2048},
            "reply_to": "3EB0ABCDEF0123456789"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let got = next(&mut rx, "owner", "message.received").await;
    assert_eq!(got["body"]["type"], "media");
    assert_eq!(got["body"]["caption"], "look");
    assert_eq!(got["quoted"]["id"], "3EB0ABCDEF0123456789");

    member.leave_group(&group.jid).await.unwrap();
    assert!(member.groups().await.unwrap().is_empty());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_repeated_message_id_is_one_message_with_its_receipts_again() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, FAST).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "x", "491707770001").await;
    linked(&app, "y", "491707770002").await;
    let x = app.state.sessions.connected_engine("x").unwrap();
    let message = OutgoingMessage {
        id: Some(MessageId("3EB0FEEDFACE00000001".into())),
        ..OutgoingMessage::text("once")
    };
    let first = x.send(&jid("491707770002"), &message).await.unwrap();
    let again = x.send(&jid("491707770002"), &message).await.unwrap();
    assert_eq!((first.id.as_str(), again.id.as_str()), ("3EB0FEEDFACE00000001", "3EB0FEEDFACE00000001"));
    let (mut received, mut delivered) = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(Ok(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        match (e.session_id.as_str(), e.event.as_str()) {
            ("y", "message.received") => received += 1,
            ("x", "message.ack") if e.data["ack"] == "delivered" => delivered += 1,
            _ => {}
        }
    }
    assert_eq!(received, 1, "the recipient gets the message once");
    assert_eq!(delivered, 2, "the sender gets the receipt for each attempt");
    app.stop().await.unwrap();
}
