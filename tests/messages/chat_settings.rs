//! Archived, pinned and muted chats on the sandbox: set through the API or
//! on the phone, kept, listed with the chats, announced as `chat.updated`;
//! at most three pinned; changes a phone could not make are refused.

use chrono::SubsecRound;
use reqwest::Method;
use serde_json::{Value, json};

use crate::calls::next_event;
use crate::helpers::*;
use crate::send::{CONFIG, accepted, wait_message};
use crate::support::{Backend, TestApp, assert_error};

async fn patch(app: &TestApp, session: &str, chat: &str, body: Value) -> reqwest::Response {
    app.authed(Method::PATCH, &format!("/sessions/{session}/chats/{chat}")).json(&body).send().await.unwrap()
}

async fn changed(app: &TestApp, session: &str, chat: &str, body: Value) -> Value {
    let res = patch(app, session, chat, body).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// (archived, pinned, muted) of a settings view or a chat list row.
fn flags(v: &Value) -> (bool, bool, bool) {
    (v["archived"].as_bool().unwrap(), v["pinned"].as_bool().unwrap(), v["muted"].as_bool().unwrap())
}

async fn chats_keep_their_settings(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, CONFIG).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "a", "491706950001").await;
    let chats: Vec<String> = (2..=5).map(|n| format!("49170695000{n}@s.whatsapp.net")).collect();
    for chat in &chats {
        let id =
            accepted(&app, "a", json!({"to": chat, "text": "hi"})).await["id"].as_str().unwrap().to_owned();
        wait_message(&app, "a", &id, "sent").await;
    }
    let (c1, c2, c3, c4) = (&chats[0], &chats[1], &chats[2], &chats[3]);
    let fresh = get_json(&app, &format!("/sessions/a/chats/{c1}")).await;
    assert_eq!((flags(&fresh), &fresh["muted_until"]), ((false, false, false), &Value::Null));

    // One setting at a time; the others stay.
    assert_eq!(flags(&changed(&app, "a", c1, json!({"archived": true})).await), (true, false, false));
    let event = next_event(&mut rx, "a", "chat.updated").await;
    assert_eq!((&event["chat"], &event["archived"]), (&json!(c1), &json!(true)));
    let until = (chrono::Utc::now() + chrono::Duration::hours(8)).trunc_subsecs(0);
    let muted = changed(&app, "a", c1, json!({"muted_until": until})).await;
    assert_eq!(flags(&muted), (true, false, true));
    let shown: chrono::DateTime<chrono::Utc> = serde_json::from_value(muted["muted_until"].clone()).unwrap();
    assert_eq!(shown, until);
    let forever = changed(&app, "a", c2, json!({"muted": true})).await;
    assert_eq!((flags(&forever), &forever["muted_until"]), ((false, false, true), &Value::Null));

    // Three pinned at most; pinning a pinned chat again is fine.
    for chat in [c1, c2, c3] {
        assert!(changed(&app, "a", chat, json!({"pinned": true})).await["pinned"].as_bool().unwrap());
    }
    assert_error(patch(&app, "a", c4, json!({"pinned": true})).await, 409, "too_many_pinned").await;
    changed(&app, "a", c1, json!({"pinned": true})).await;
    changed(&app, "a", c3, json!({"pinned": false})).await;
    changed(&app, "a", c4, json!({"pinned": true})).await;

    // The chat list shows them.
    let list = get_json(&app, "/sessions/a/chats").await;
    let listed: Vec<(String, (bool, bool, bool))> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["chat"].as_str().unwrap().to_owned(), flags(c)))
        .collect();
    for (chat, expected) in [
        (c1, (true, true, true)),
        (c2, (false, true, true)),
        (c3, (false, false, false)),
        (c4, (false, true, false)),
    ] {
        assert!(listed.contains(&(chat.clone(), expected)), "{chat} {expected:?} in {listed:?}");
    }

    // The phone unmutes and unarchives: recorded and announced the same way.
    let res = app
        .authed(Method::POST, &format!("/sandbox/sessions/a/chats/{c1}"))
        .json(&json!({"muted": false, "archived": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    loop {
        let event = next_event(&mut rx, "a", "chat.updated").await;
        if event["chat"] == c1.as_str() && event["muted"] == false {
            assert_eq!(flags(&event), (false, true, false));
            break;
        }
    }
    assert_eq!(flags(&get_json(&app, &format!("/sessions/a/chats/{c1}")).await), (false, true, false));
}

#[tokio::test]
async fn chat_settings_on_sqlite() {
    chats_keep_their_settings(Backend::Sqlite).await;
}

#[tokio::test]
async fn chat_settings_on_postgres() {
    chats_keep_their_settings(Backend::Postgres).await;
}

#[tokio::test]
async fn chat_changes_a_phone_could_not_make_are_refused() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    linked(&app, "a", "491706960001").await;
    let chat = "491706960002";
    assert_error(patch(&app, "a", chat, json!({})).await, 422, "validation_failed").await;
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    assert_error(patch(&app, "a", chat, json!({"muted_until": past})).await, 422, "validation_failed").await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let both = json!({"muted": false, "muted_until": later});
    assert_error(patch(&app, "a", chat, both).await, 422, "validation_failed").await;
    assert_error(patch(&app, "a", chat, json!({"pinned": "yes"})).await, 422, "validation_failed").await;
    assert_error(patch(&app, "a", "not-a-chat", json!({"pinned": true})).await, 422, "validation_failed")
        .await;
    assert_error(patch(&app, "a", "9991234567", json!({"pinned": true})).await, 422, "not_on_whatsapp").await;
    let group = "120363025246125486@g.us";
    assert_error(patch(&app, "a", group, json!({"archived": true})).await, 404, "group_not_found").await;
    assert_error(patch(&app, "nobody", chat, json!({"archived": true})).await, 404, "session_not_found")
        .await;
    // Not connected: nothing is recorded.
    create(&app, json!({"id": "idle"})).await;
    assert_error(patch(&app, "idle", chat, json!({"archived": true})).await, 409, "session_not_connected")
        .await;
    let settings = get_json(&app, &format!("/sessions/a/chats/{chat}")).await;
    assert_eq!(flags(&settings), (false, false, false));
}
