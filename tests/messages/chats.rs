//! Chats from the message log (newest message, unread counts, pages),
//! marking a chat read (the sender gets read receipts), typing indicators
//! and presence reaching the other side.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::{CONFIG, accepted, wait_incoming, wait_message};
use crate::support::{Backend, TestApp, assert_error};

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.authed(Method::POST, path).json(&body).send().await.unwrap()
}

async fn chats_on(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, CONFIG).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "a", "491706900001").await;
    linked(&app, "b", "491706900002").await;
    linked(&app, "c", "491706900003").await;

    // b writes to a twice, c once; a answers c last.
    let mut from_b = Vec::new();
    for text in ["one", "two"] {
        let m = accepted(&app, "b", json!({"to": "491706900001", "text": text})).await;
        from_b.push(m["id"].as_str().unwrap().to_owned());
    }
    accepted(&app, "c", json!({"to": "491706900001", "text": "hi from c"})).await;
    wait_incoming(&app, "a", 3).await;
    let reply = accepted(&app, "a", json!({"to": "491706900003", "text": "hello c"})).await;
    wait_message(&app, "a", reply["id"].as_str().unwrap(), "delivered").await;

    let page = get_json(&app, "/sessions/a/chats").await;
    let chats: Vec<(String, i64, String)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["chat"].as_str().unwrap().to_owned(),
                c["unread"].as_i64().unwrap(),
                c["last_message"]["direction"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        chats,
        [
            ("491706900003@s.whatsapp.net".into(), 1, "outgoing".into()),
            ("491706900002@s.whatsapp.net".into(), 2, "incoming".into()),
        ],
        "newest chat first, unread counts from the log"
    );
    // Pages: one chat per page, the cursor continues.
    let first = get_json(&app, "/sessions/a/chats?limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = get_json(&app, &format!("/sessions/a/chats?limit=1&cursor={cursor}")).await;
    assert_eq!(second["data"][0]["chat"], "491706900002@s.whatsapp.net");
    let res = app.authed(Method::GET, "/sessions/a/chats?cursor=abc").send().await.unwrap();
    assert_error(res, 422, "validation_failed").await;

    // Marking b's chat read: b's two messages turn read on b's side.
    let res = post(&app, "/sessions/a/chats/491706900002/read", json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["marked"], 2);
    for id in &from_b {
        wait_message(&app, "b", id, "read").await;
    }
    let page = get_json(&app, "/sessions/a/chats").await;
    assert_eq!(page["data"][1]["unread"], 0);
    let res = post(&app, "/sessions/a/chats/491706900002/read", json!({})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["marked"], 0, "nothing left to mark");

    // Typing and presence reach the other session as events.
    let res = post(&app, "/sessions/a/chats/491706900002/typing", json!({"state": "composing"})).await;
    assert_eq!(res.status(), 204);
    let res = post(&app, "/sessions/a/presence", json!({"presence": "unavailable"})).await;
    assert_eq!(res.status(), 204);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let (mut typing, mut presence) = (None, None);
    while typing.is_none() || presence.is_none() {
        let e =
            tokio::time::timeout_at(deadline, rx.recv()).await.expect("typing and presence events").unwrap();
        match (e.session_id.as_str(), e.event.as_str()) {
            ("b", "chat.state") => typing = Some(e.data.clone()),
            ("c", "presence.update") => presence = Some(e.data.clone()),
            _ => {}
        }
    }
    let (typing, presence) = (typing.unwrap(), presence.unwrap());
    assert_eq!(
        (&typing["chat"], &typing["sender"], &typing["state"]),
        (&json!("491706900001@s.whatsapp.net"), &json!("491706900001@s.whatsapp.net"), &json!("composing"))
    );
    assert_eq!(
        (&presence["from"], &presence["available"]),
        (&json!("491706900001@s.whatsapp.net"), &json!(false))
    );

    // Failures.
    let res = post(&app, "/sessions/a/chats/9991234567/typing", json!({"state": "paused"})).await;
    assert_error(res, 422, "not_on_whatsapp").await;
    let res =
        post(&app, "/sessions/a/chats/120363999999999999@g.us/typing", json!({"state": "paused"})).await;
    assert_error(res, 404, "group_not_found").await;
    let res = post(&app, "/sessions/a/chats/491706900002/typing", json!({"state": "dancing"})).await;
    assert_error(res, 422, "validation_failed").await;
    let res = post(&app, "/sessions/a/presence", json!({"presence": "away"})).await;
    assert_error(res, 422, "validation_failed").await;
    let res = post(&app, "/sessions/a/chats/not-a-chat/read", json!({})).await;
    assert_error(res, 422, "validation_failed").await;
    assert_error(
        app.authed(Method::GET, "/sessions/nope/chats").send().await.unwrap(),
        404,
        "session_not_found",
    )
    .await;
    app.authed(Method::POST, "/sessions/a/stop").send().await.unwrap();
    wait_status(&app, "a", "stopped").await;
    let res = post(&app, "/sessions/a/presence", json!({"presence": "available"})).await;
    assert_error(res, 409, "session_not_connected").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn chats_unread_read_typing_presence_on_sqlite() {
    chats_on(Backend::Sqlite).await;
}

#[tokio::test]
async fn chats_unread_read_typing_presence_on_postgres() {
    chats_on(Backend::Postgres).await;
}
