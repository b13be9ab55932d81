//! The message log: incoming rows, filters, cursor pages, queue depth, pacing.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::{CONFIG, accepted, wait_message};
use crate::support::{Backend, TestApp};

#[tokio::test]
async fn incoming_messages_are_logged_and_pages_are_stable() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    linked(&app, "s", "491708000001").await;
    for i in 0..5 {
        let res = app
            .authed(Method::POST, "/sandbox/sessions/s/inbound")
            .json(&json!({"from": format!("49170800010{i}"), "text": format!("hello {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    // Incoming rows are written in the background: let them land first.
    for _ in 0..200 {
        let page = get_json(&app, "/sessions/s/messages?direction=incoming").await;
        if page["data"].as_array().unwrap().len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = accepted(&app, "s", json!({"to": "491708000100", "text": "reply"})).await;
    wait_message(&app, "s", sent["id"].as_str().unwrap(), "sent").await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/sessions/s/messages?limit=2&cursor={c}"),
            None => "/sessions/s/messages?limit=2".to_owned(),
        };
        let page: Value = get_json(&app, &url).await;
        seen.extend(
            page["data"].as_array().unwrap().iter().map(|m| m["preview"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["reply", "hello 4", "hello 3", "hello 2", "hello 1", "hello 0"],
        "newest first, each once"
    );
    let chat: Value = get_json(&app, "/sessions/s/messages?chat=491708000100").await;
    assert_eq!(chat["data"].as_array().unwrap().len(), 2, "both directions of one chat");
    let incoming: Value = get_json(&app, "/sessions/s/messages?direction=incoming&status=received").await;
    assert_eq!(incoming["data"].as_array().unwrap().len(), 5);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn pacing_spaces_one_sessions_sends_without_blocking_another() {
    // 4 per second after a burst of 2; the other session is not paced.
    let config = CONFIG.replace(
        "pacing_enabled = false",
        "pacing_enabled = true\npacing_per_second = 4.0\npacing_burst = 2\npacing_jitter_ms = 0",
    );
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &config).await else { return };
    linked(&app, "bulk", "491709000001").await;
    let res = app
        .authed(Method::POST, "/sessions")
        .json(&json!({"id": "vip", "metadata": {"pacing": {"enabled": false}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    wait_status(&app, "vip", "qr").await;
    app.authed(Method::POST, "/sandbox/sessions/vip/link")
        .json(&json!({"phone": "491709000002"}))
        .send()
        .await
        .unwrap();
    wait_status(&app, "vip", "connected").await;

    let mut ids = Vec::new();
    for i in 0..10 {
        let m =
            accepted(&app, "bulk", json!({"to": format!("4917090001{i:02}"), "text": format!("promo {i}")}))
                .await;
        ids.push(m["id"].as_str().unwrap().to_owned());
    }
    let vip = accepted(&app, "vip", json!({"to": "491709000200", "text": "urgent"})).await;
    let vip_sent = wait_message(&app, "vip", vip["id"].as_str().unwrap(), "sent").await;
    // The first step recorded: a receipt may land before the send's own mark.
    let steps = &vip_sent["steps"];
    let first = ["sent", "delivered", "read"].iter().find_map(|k| steps[*k].as_str()).unwrap();
    let vip_sent = first.parse::<chrono::DateTime<chrono::Utc>>().unwrap();

    let mut sent_at = Vec::new();
    for id in &ids {
        let s = wait_message_past(&app, "bulk", id).await;
        sent_at.push(s["steps"]["sent"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    }
    sent_at.sort();
    assert!(vip_sent < sent_at[9], "the unpaced session is not stuck behind the bulk one");
    let span = (sent_at[9] - sent_at[0]).num_milliseconds();
    // 2 at once, then 8 more at 4/s: at least ~2 s from first to last.
    assert!(span >= 1_800, "10 sends took only {span} ms");
    let session: Value = get_json(&app, "/sessions/bulk").await;
    assert_eq!(session["queued_messages"], 0);
    app.stop().await.unwrap();
}

async fn wait_message_past(app: &TestApp, session: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let body: Value = get_json(app, &format!("/sessions/{session}/messages/{id}/status")).await;
        if body["steps"]["sent"].is_string() {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} never sent: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
