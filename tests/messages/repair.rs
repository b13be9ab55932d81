//! Repair: messages stuck at `sent` are sent again (once to the recipient),
//! and rows that never got their job stop counting as queued.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::send::{CONFIG, accepted, wait_message};
use crate::support::{Backend, TestApp};

fn repair(app: &TestApp) -> wa_gateway::messages::repair::Repair {
    wa_gateway::messages::repair::Repair {
        store: app.state.store.clone(),
        queue: app.state.queue.clone(),
        hub: app.state.sessions.hub().clone(),
        config: app.state.config.messages.clone(),
    }
}

async fn status(app: &TestApp, session: &str, id: &str) -> String {
    let body = get_json(app, &format!("/sessions/{session}/messages/{id}/status")).await;
    body["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_message_without_receipts_is_resent_and_reaches_the_recipient_once() {
    // The background sweep is off (resend_after_secs = 0); the test drives it.
    let config = CONFIG.replace("[messages]\n", "[messages]\nresend_after_secs = 0\nmax_resends = 2\n");
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &config).await else { return };
    linked(&app, "a", "491706000001").await;
    linked(&app, "b", "491706000002").await;
    fault(&app, "a", json!({"kind": "drop_receipts"})).await;
    let sent = accepted(&app, "a", json!({"to": "491706000002", "text": "are you there?"})).await;
    let id = sent["id"].as_str().unwrap();
    wait_message(&app, "a", id, "sent").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(status(&app, "a", id).await, "sent", "its receipt was lost");

    let r = repair(&app);
    // Not stuck for long enough yet.
    assert_eq!(r.resend_stuck(Duration::from_secs(3600)).await.unwrap(), 0);
    // First resend: receipts are still lost, so it stays at sent.
    assert_eq!(r.resend_stuck(Duration::ZERO).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&app, "a", id).await, "sent");

    // The network recovers; the second resend brings the receipt.
    fault(&app, "a", json!({"kind": "clear"})).await;
    assert_eq!(r.resend_stuck(Duration::ZERO).await.unwrap(), 1);
    wait_message(&app, "a", id, "delivered").await;
    // max_resends = 2: no third resend even though the clock says so.
    assert_eq!(r.resend_stuck(Duration::ZERO).await.unwrap(), 0);

    // The recipient saw the message once: a resend has the same WhatsApp id.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let incoming = get_json(&app, "/sessions/b/messages?direction=incoming").await;
    let copies: Vec<_> =
        incoming["data"].as_array().unwrap().iter().filter(|m| m["wa_id"] == sent["wa_id"]).collect();
    assert_eq!(copies.len(), 1, "{incoming}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_row_that_never_got_its_job_is_failed_and_a_waiting_one_is_left_alone() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    create(&app, json!({"id": "a", "start": false})).await;
    // A message accepted while the session is stopped: its job waits.
    let waiting = accepted(&app, "a", json!({"to": "491706000009", "text": "later"})).await;
    // The row a crash between the two writes leaves: no job.
    let orphan = wa_gateway::store::NewMessageLog {
        session_id: "a".into(),
        direction: wa_gateway::store::Direction::Outgoing,
        message_id: "msg_orphan".into(),
        wa_message_id: Some("3EB0ORPHAN".into()),
        chat_jid: "491706000009@s.whatsapp.net".into(),
        message_type: "text".into(),
        content_preview: Some("lost".into()),
        status: "queued".into(),
        request_id: None,
        sender_jid: None,
        batch_id: None,
        scheduled_at: None,
    };
    app.state.store.message_logs.insert(&orphan).await.unwrap();
    let r = repair(&app);
    assert_eq!(r.fail_orphans(Duration::from_secs(3600), 0).await.unwrap().0, 0, "too young");
    assert_eq!(r.fail_orphans(Duration::ZERO, 0).await.unwrap().0, 1);

    let failed = get_json(&app, "/sessions/a/messages/msg_orphan/status").await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("never queued"), "{failed}");
    assert_eq!(status(&app, "a", waiting["id"].as_str().unwrap()).await, "queued");
    let session = get(&app, "a").await;
    assert_eq!(session["queued_messages"], 1, "{session}");
    // Once started, the waiting one goes out as usual.
    app.authed(Method::POST, "/sessions/a/start").send().await.unwrap();
    wait_status(&app, "a", "qr").await;
    app.stop().await.unwrap();
}
