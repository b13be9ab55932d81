//! Group settings, invites and joining on the sandbox: who may change
//! what, announce-only groups refusing non-admin sends, invite codes that
//! stop working once reset, and the notifications members receive.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::broadcast::Receiver;
use wa_gateway::sessions::GatewayEvent;

use crate::helpers::*;
use crate::send::{CONFIG, accepted, wait_message};
use crate::support::{Backend, TestApp, assert_error};

async fn call(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let req = app.authed(method, path);
    match body {
        Some(b) => req.json(&b).send().await.unwrap(),
        None => req.send().await.unwrap(),
    }
}

/// The next `group.updated` event for `session` with this action.
async fn updated(rx: &mut Receiver<std::sync::Arc<GatewayEvent>>, session: &str, action: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no group.updated {action} for {session}"))
            .unwrap();
        if event.session_id == session && event.event == "group.updated" && event.data["action"] == action {
            return event.data.clone();
        }
    }
}

#[tokio::test]
async fn settings_invites_and_joining() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "a", "491706800001").await;
    linked(&app, "b", "491706800002").await;
    linked(&app, "c", "491706800003").await;
    let res = call(
        &app,
        Method::POST,
        "/sessions/a/groups",
        Some(json!({"subject": "Team", "participants": ["491706800002"]})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let gid = res.json::<Value>().await.unwrap()["jid"].as_str().unwrap().to_owned();
    let group = format!("/sessions/a/groups/{gid}");
    assert_eq!(get_json(&app, &group).await["settings"], json!({"announce": false, "locked": false}));

    // Any member may rename an unlocked group; members hear of it.
    let res = call(
        &app,
        Method::PATCH,
        &format!("/sessions/b/groups/{gid}"),
        Some(json!({"subject": "Team B", "description": "plans"})),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let seen = updated(&mut rx, "a", "subject").await;
    assert_eq!(seen["group"]["subject"], "Team B");
    assert_eq!(seen["actor"], "491706800002@s.whatsapp.net");
    assert_eq!(get_json(&app, &group).await["description"], "plans");

    // Settings need an admin; once locked, so does the subject.
    let res =
        call(&app, Method::PATCH, &format!("/sessions/b/groups/{gid}"), Some(json!({"announce": true})))
            .await;
    assert_error(res, 403, "forbidden").await;
    let res =
        call(&app, Method::PATCH, &group, Some(json!({"locked": true, "announce": true, "description": ""})))
            .await;
    assert_eq!(res.status(), 200);
    let g: Value = res.json().await.unwrap();
    assert_eq!(
        (g["settings"].clone(), g["description"].clone()),
        (json!({"announce": true, "locked": true}), Value::Null)
    );
    updated(&mut rx, "b", "announcement").await;
    let res =
        call(&app, Method::PATCH, &format!("/sessions/b/groups/{gid}"), Some(json!({"subject": "Mine"})))
            .await;
    assert_error(res, 403, "forbidden").await;

    // Announce-only: a member's message fails with the reason; the admin's goes out.
    let refused = accepted(&app, "b", json!({"to": gid, "text": "can I?"})).await;
    let failed = wait_message(&app, "b", refused["id"].as_str().unwrap(), "failed").await;
    assert!(failed["error"].as_str().unwrap().contains("only admins"), "{failed}");
    let ok = accepted(&app, "a", json!({"to": gid, "text": "announcement"})).await;
    wait_message(&app, "a", ok["id"].as_str().unwrap(), "sent").await;

    // Invites: admins only; a reset code replaces the old one.
    assert_error(
        call(&app, Method::GET, &format!("/sessions/b/groups/{gid}/invite"), None).await,
        403,
        "forbidden",
    )
    .await;
    let first: Value = call(&app, Method::GET, &format!("{group}/invite"), None).await.json().await.unwrap();
    let code = first["code"].as_str().unwrap().to_owned();
    assert_eq!(first["url"], format!("https://chat.whatsapp.com/{code}"));
    let again: Value = call(&app, Method::GET, &format!("{group}/invite"), None).await.json().await.unwrap();
    assert_eq!(again["code"], code.as_str(), "asking again gives the same link");
    let reset: Value =
        call(&app, Method::POST, &format!("{group}/invite/reset"), None).await.json().await.unwrap();
    let new_code = reset["code"].as_str().unwrap().to_owned();
    assert_ne!(new_code, code);

    // Not a participant (yet): no changes, no typing into it.
    let res =
        call(&app, Method::PATCH, &format!("/sessions/c/groups/{gid}"), Some(json!({"subject": "Mine"})))
            .await;
    assert_error(res, 403, "forbidden").await;
    let res = call(
        &app,
        Method::POST,
        &format!("/sessions/c/chats/{gid}/typing"),
        Some(json!({"state": "composing"})),
    )
    .await;
    assert_error(res, 403, "forbidden").await;

    // Joining: the revoked code is unknown, the new link works once.
    let res = call(&app, Method::POST, "/sessions/c/groups/join", Some(json!({"code": code}))).await;
    assert_error(res, 404, "invite_not_found").await;
    let link = format!("https://chat.whatsapp.com/{new_code}");
    let res = call(&app, Method::POST, "/sessions/c/groups/join", Some(json!({"code": link}))).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let joined: Value = res.json().await.unwrap();
    assert_eq!(joined["jid"], gid.as_str());
    assert!(
        joined["participants"].as_array().unwrap().iter().any(|p| p["jid"] == "491706800003@s.whatsapp.net")
    );
    let seen = updated(&mut rx, "a", "participants.add").await;
    assert_eq!(seen["actor"], "491706800003@s.whatsapp.net");
    let res = call(&app, Method::POST, "/sessions/c/groups/join", Some(json!({"code": new_code}))).await;
    assert_error(res, 409, "conflict").await;

    // Bad input and unknown groups.
    assert_error(
        call(&app, Method::POST, "/sessions/c/groups/join", Some(json!({"code": "x"}))).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(call(&app, Method::PATCH, &group, Some(json!({}))).await, 422, "validation_failed").await;
    assert_error(
        call(&app, Method::PATCH, &group, Some(json!({"subject": " "}))).await,
        422,
        "validation_failed",
    )
    .await;
    let unknown = "/sessions/a/groups/120363999999999999@g.us";
    assert_error(
        call(&app, Method::PATCH, unknown, Some(json!({"subject": "x"}))).await,
        404,
        "group_not_found",
    )
    .await;
    assert_error(call(&app, Method::GET, &format!("{unknown}/invite"), None).await, 404, "group_not_found")
        .await;
    app.stop().await.unwrap();
}
