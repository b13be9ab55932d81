//! Sending: 202 at once, then queued → sent → delivered → read, forward only.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::support::{Backend, TestApp, assert_error};

/// Fast everything, pacing off, quick retries.
pub const CONFIG: &str = "[sessions]\nreconnect_base_ms = 100\n[sandbox]\ndelivered_after_ms = 20\nread_after_ms = 60\n\
[messages]\npacing_enabled = false\n[queue]\nretry_schedule_secs = [1]\npoll_interval_ms = 20\n";

pub async fn send(app: &TestApp, session: &str, body: Value) -> reqwest::Response {
    app.authed(Method::POST, &format!("/sessions/{session}/message")).json(&body).send().await.unwrap()
}

pub async fn accepted(app: &TestApp, session: &str, body: Value) -> Value {
    let res = send(app, session, body).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// Polls a message's status endpoint until `status`.
pub async fn wait_message(app: &TestApp, session: &str, id: &str, status: &str) -> Value {
    // Receipts can move a message past `status` between two polls: a later
    // delivery step counts as reached.
    const STEPS: [&str; 5] = ["queued", "sent", "delivered", "read", "played"];
    let rank = |s: &str| STEPS.iter().position(|x| *x == s);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let res = app
            .authed(Method::GET, &format!("/sessions/{session}/messages/{id}/status"))
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        let now = body["status"].as_str().unwrap_or_default();
        let reached = match (rank(now), rank(status)) {
            (Some(n), Some(want)) if want > 0 => n >= want,
            _ => now == status,
        };
        if reached {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} never became {status}: {body}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The session's incoming log once it holds `n` rows (they are written in the background).
pub async fn wait_incoming(app: &TestApp, session: &str, n: usize) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let page = get_json(app, &format!("/sessions/{session}/messages?direction=incoming")).await;
        if page["data"].as_array().unwrap().len() >= n {
            return page;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("{session} never logged {n} incoming messages; the log:\n{}", every_log(app).await);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every session's message log (direction, status, chat, error per row):
/// what a failed wait shows, to tell a send that never left from a
/// delivery that was never logged.
async fn every_log(app: &TestApp) -> String {
    let mut out = String::new();
    for session in get_json(app, "/sessions").await["data"].as_array().cloned().unwrap_or_default() {
        let id = session["id"].as_str().unwrap_or_default();
        out.push_str(&format!("{id} ({}):\n", session["status"]));
        let page = get_json(app, &format!("/sessions/{id}/messages")).await;
        for row in page["data"].as_array().cloned().unwrap_or_default() {
            let fields = ["direction", "status", "chat", "error"].map(|k| row[k].to_string());
            out.push_str(&format!("  {}\n", fields.join(" ")));
        }
    }
    out
}

async fn queued_sent_delivered_read(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, CONFIG).await else { return };
    let mut events = app.state.sessions.hub().subscribe();
    linked(&app, "alice", "491701000001").await;
    linked(&app, "bob", "491701000002").await;

    let started = std::time::Instant::now();
    let msg = accepted(&app, "alice", json!({"to": "491701000002", "text": "hello bob"})).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let id = msg["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("msg_"));
    assert_eq!(msg["status"], "queued");
    assert_eq!(msg["chat"], "491701000002@s.whatsapp.net");
    assert!(msg["request_id"].is_string(), "the request id travels with the message");

    let delivered = wait_message(&app, "alice", &id, "delivered").await;
    let wa_id = msg["wa_id"].as_str().unwrap();
    // Bob got it, and it is in his log as received.
    let bobs = wait_incoming(&app, "bob", 1).await;
    assert_eq!(bobs["data"][0]["id"], wa_id);
    assert_eq!(bobs["data"][0]["status"], "received");
    assert_eq!(bobs["data"][0]["preview"], "hello bob");
    // Bob reads it: blue ticks for alice.
    let res = app
        .authed(Method::POST, "/sessions/bob/messages/read")
        .json(&json!({"chat": "491701000001", "message_ids": [wa_id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let read = wait_message(&app, "alice", &id, "read").await;
    let steps = &read["steps"];
    let at = |k: &str| steps[k].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(
        at("queued") <= at("sent") && at("sent") <= at("delivered") && at("delivered") <= at("read"),
        "{steps}"
    );
    assert!(steps["failed"].is_null());
    assert_eq!(delivered["steps"]["read"], Value::Null);

    // The same steps went out as message.status events, in order.
    let mut seen = Vec::new();
    let mut sent_events = 0;
    while let Ok(e) = events.try_recv() {
        if e.event == "message.status" && e.data["id"] == id.as_str() {
            seen.push(e.data["status"].as_str().unwrap().to_owned());
        }
        if e.event == "message.sent" && e.data["id"] == id.as_str() {
            sent_events += 1;
        }
    }
    // `message.sent` accompanies exactly the "sent" status event.
    assert_eq!(sent_events, seen.iter().filter(|s| *s == "sent").count(), "{seen:?}");
    // Each step announced at most once; "sent" is skipped when a receipt
    // overtook the send's record, and steps recorded by different writers
    // may be announced in either order (receivers order by status).
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "a step announced twice: {seen:?}");
    assert!(seen.iter().all(|s| ["sent", "delivered", "read"].contains(&s.as_str())), "{seen:?}");
    assert!(seen.contains(&"delivered".to_owned()) && seen.contains(&"read".to_owned()), "{seen:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn queued_sent_delivered_read_on_sqlite() {
    queued_sent_delivered_read(Backend::Sqlite).await;
}

#[tokio::test]
async fn queued_sent_delivered_read_on_postgres() {
    queued_sent_delivered_read(Backend::Postgres).await;
}

#[tokio::test]
async fn a_late_receipt_never_moves_a_message_back() {
    // The contact "reads" before the "delivered" receipt arrives.
    let config = CONFIG.replace(
        "delivered_after_ms = 20\nread_after_ms = 60",
        "delivered_after_ms = 300\nread_after_ms = 30",
    );
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &config).await else { return };
    linked(&app, "s", "491702000001").await;
    let mut events = app.state.sessions.hub().subscribe();
    let msg = accepted(&app, "s", json!({"to": "491709876543", "text": "hi"})).await;
    let id = msg["id"].as_str().unwrap();
    wait_message(&app, "s", id, "read").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = wait_message(&app, "s", id, "read").await;
    assert!(after["steps"]["delivered"].is_null(), "the late delivered receipt was ignored: {after}");
    // Nor is it passed on as a receipt for a message the gateway did not send.
    let mut statuses = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.session_id != "s" {
            continue;
        }
        assert_ne!(
            e.event, "message.ack",
            "a late receipt of a known message surfaced as message.ack: {:?}",
            e.data
        );
        if e.event == "message.status" && e.data["id"] == id {
            statuses.push(e.data["status"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(statuses, ["sent", "read"], "the message's announced steps");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_same_idempotency_key_sends_once() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    linked(&app, "a", "491703000001").await;
    linked(&app, "b", "491703000002").await;
    let body = json!({"to": "491703000002", "text": "pay invoice 42"});
    let post = |body: Value| {
        app.authed(Method::POST, "/sessions/a/message")
            .header("idempotency-key", "order-42")
            .json(&body)
            .send()
    };
    let first: Value = post(body.clone()).await.unwrap().json().await.unwrap();
    let again = post(body.clone()).await.unwrap();
    assert_eq!(again.status(), 202);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"], "the retry answers with the original message");
    wait_message(&app, "a", first["id"].as_str().unwrap(), "delivered").await;
    let third: Value = post(body).await.unwrap().json().await.unwrap();
    assert_eq!(third["id"], first["id"]);
    assert_eq!(third["status"], "delivered", "a later retry shows the current state");

    let res = post(json!({"to": "491703000002", "text": "pay invoice 43"})).await.unwrap();
    assert_error(res, 422, "idempotency_key_reused").await;
    let res = app
        .authed(Method::POST, "/sessions/a/message")
        .header("idempotency-key", "")
        .json(&json!({"to": "491703000002", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_idempotency_key").await;

    tokio::time::sleep(Duration::from_millis(200)).await;
    let got: Value = get_json(&app, "/sessions/b/messages").await;
    assert_eq!(got["data"].as_array().unwrap().len(), 1, "bob received exactly one message: {got}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn bad_requests_get_stable_codes_and_field_details() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    create(&app, json!({"id": "s", "start": false})).await;
    let body =
        assert_error(send(&app, "s", json!({"to": "12", "text": ""})).await, 422, "validation_failed").await;
    assert!(
        body["error"]["details"]["to"].is_array() && body["error"]["details"]["text"].is_array(),
        "{body}"
    );
    assert_error(
        send(&app, "nope", json!({"to": "491701234567", "text": "x"})).await,
        404,
        "session_not_found",
    )
    .await;
    assert_error(
        send(&app, "s", json!({"to": "491701234567", "text": "x", "colour": "red"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        send(&app, "s", json!({"to": "491701234567", "type": "fax"})).await,
        422,
        "validation_failed",
    )
    .await;
    let res = app
        .authed(Method::POST, "/sessions/s/message")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_json").await;
    let res = app.authed(Method::POST, "/sessions/s/message").body("to=1").send().await.unwrap();
    assert_error(res, 415, "unsupported_media_type").await;
    let huge = "A".repeat(24 * 1024 * 1024);
    let res = app
        .authed(Method::POST, "/sessions/s/message")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_error(res, 413, "payload_too_large").await;
    assert_error(
        app.authed(Method::GET, "/sessions/s/messages/msg_nope").send().await.unwrap(),
        404,
        "message_not_found",
    )
    .await;
    assert_error(
        app.authed(Method::GET, "/sessions/s/messages?direction=sideways").send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    let res = app
        .authed(Method::POST, "/sessions/s/messages/read")
        .json(&json!({"chat": "491701234567", "message_ids": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "session_not_connected").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn accepted_while_offline_sent_once_connected_and_failures_have_reasons() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    linked(&app, "s", "491704000001").await;
    app.authed(Method::POST, "/sessions/s/stop").send().await.unwrap();
    let msg = accepted(&app, "s", json!({"to": "491709876543", "text": "while you were out"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let queued = wait_message(&app, "s", msg["id"].as_str().unwrap(), "queued").await;
    assert!(queued["steps"]["sent"].is_null());
    app.authed(Method::POST, "/sessions/s/start").send().await.unwrap();
    wait_message(&app, "s", msg["id"].as_str().unwrap(), "read").await;

    let bad = accepted(&app, "s", json!({"to": "999123456789", "text": "?"})).await;
    let failed = wait_message(&app, "s", bad["id"].as_str().unwrap(), "failed").await;
    assert!(failed["error"].as_str().unwrap().contains("not on WhatsApp"), "{failed}");
    assert!(failed["steps"]["failed"].is_string());
    let listed: Value = get_json(&app, "/sessions/s/messages?status=failed").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn edit_revoke_and_replies_reach_the_recipient() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    let mut events = app.state.sessions.hub().subscribe();
    linked(&app, "a", "491705000001").await;
    linked(&app, "b", "491705000002").await;
    let first = accepted(&app, "a", json!({"to": "491705000002", "text": "v1"})).await;
    let id = first["id"].as_str().unwrap();
    wait_message(&app, "a", id, "delivered").await;
    let res = app
        .authed(Method::PATCH, &format!("/sessions/a/messages/{id}"))
        .json(&json!({"text": "v2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let reply =
        accepted(&app, "b", json!({"to": "491705000001", "text": "got it", "reply_to": first["wa_id"]}))
            .await;
    wait_message(&app, "b", reply["id"].as_str().unwrap(), "delivered").await;
    let res = app.authed(Method::DELETE, &format!("/sessions/a/messages/{id}")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let react = accepted(&app, "a", json!({"to": "491705000002", "type": "reaction", "reaction": {"message_id": reply["wa_id"], "emoji": "👍"}})).await;
    wait_message(&app, "a", react["id"].as_str().unwrap(), "delivered").await;

    let mut bodies = Vec::new();
    let mut reactions = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while (bodies.len() < 5 || reactions.is_empty()) && tokio::time::Instant::now() < deadline {
        if let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(100), events.recv()).await {
            match e.event.as_str() {
                "message.received" => bodies.push((e.session_id.clone(), e.data.clone())),
                "message.reaction" => reactions.push((e.session_id.clone(), e.data.clone())),
                _ => {}
            }
        }
    }
    // The reaction also came as its own event, to the recipient only.
    assert_eq!(reactions.len(), 1, "{reactions:?}");
    assert_eq!(reactions[0].0, "b");
    assert_eq!((&reactions[0].1["target"], &reactions[0].1["emoji"]), (&reply["wa_id"], &json!("👍")));
    let to_b: Vec<&Value> = bodies.iter().filter(|(s, _)| s == "b").map(|(_, d)| d).collect();
    let kinds: Vec<&str> = to_b.iter().map(|d| d["body"]["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["text", "edited", "revoked", "reaction"]);
    let quoted = bodies.iter().find(|(s, _)| s == "a").map(|(_, d)| d).unwrap();
    assert_eq!(quoted["quoted"]["id"], first["wa_id"]);
    assert_eq!(quoted["quoted"]["from_me"], true, "a reply to our own message");
    let reaction = to_b.iter().find(|d| d["body"]["type"] == "reaction").unwrap();
    assert_eq!(reaction["body"]["target"], reply["wa_id"], "the reaction points at the WhatsApp id");

    // A message that was never sent cannot be edited.
    app.authed(Method::POST, "/sessions/a/stop").send().await.unwrap();
    let pending = accepted(&app, "a", json!({"to": "491705000002", "text": "later"})).await;
    let res = app
        .authed(Method::PATCH, &format!("/sessions/a/messages/{}", pending["id"].as_str().unwrap()))
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "message_not_sent").await;
    app.stop().await.unwrap();
}

/// A NUL character (which PostgreSQL cannot store) in one message fails that
/// request alone: the messages group-committed with it are accepted.
#[tokio::test]
async fn a_nul_character_fails_only_its_own_message() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, CONFIG).await else { return };
    create(&app, json!({"id": "s", "start": false})).await;
    let sends = (0..8).map(|i| {
        let text = if i == 3 { "bad\u{0}text".to_owned() } else { format!("fine {i}") };
        let app = &app;
        async move { send(app, "s", json!({"to": "491701234567", "text": text})).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(sends).await;
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 7, "{statuses:?}");
    assert_eq!(statuses[3], 422, "{statuses:?}");
    let res = send(&app, "s", json!({"to": "491701234567", "text": "a\u{0}b"})).await;
    assert_error(res, 422, "invalid_text").await;
    // The six characters \u0000 are text like any other.
    let res = send(&app, "s", json!({"to": "491701234567", "text": "a\\u0000b"})).await;
    assert_eq!(res.status(), 202);
    app.stop().await.unwrap();
}
