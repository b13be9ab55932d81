//! Groups on the sandbox: create, read, members with per-member results,
//! admin rules, sending to a group, leaving.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::{CONFIG, accepted, wait_incoming, wait_message};
use crate::support::{Backend, TestApp, assert_error};

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.authed(Method::POST, path).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn groups_end_to_end_with_their_main_failures() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    linked(&app, "a", "491706700001").await;
    linked(&app, "b", "491706700002").await;
    linked(&app, "c", "491706700003").await;

    let res =
        post(&app, "/sessions/a/groups", json!({"subject": "Team", "participants": ["491706700002"]})).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let group: Value = res.json().await.unwrap();
    let gid = group["jid"].as_str().unwrap().to_owned();
    assert!(gid.ends_with("@g.us"));
    let roles: Vec<(String, bool)> = group["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["jid"].as_str().unwrap().to_owned(), p["admin"].as_bool().unwrap()))
        .collect();
    assert!(roles.contains(&("491706700001@s.whatsapp.net".into(), true)), "{roles:?}");
    assert!(roles.contains(&("491706700002@s.whatsapp.net".into(), false)), "{roles:?}");
    let listed = get_json(&app, "/sessions/b/groups").await;
    assert!(listed.as_array().unwrap().iter().any(|g| g["jid"] == gid.as_str()));
    assert_eq!(get_json(&app, &format!("/sessions/b/groups/{gid}")).await["subject"], "Team");

    // Per-member results: added, not on WhatsApp, already in.
    let res = post(
        &app,
        &format!("/sessions/a/groups/{gid}/participants"),
        json!({"action": "add", "participants": ["491706700003", "9991234567", "491706700002"]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let results: Value = res.json().await.unwrap();
    let statuses: Vec<&str> =
        results.as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["ok", "not_found", "conflict"], "{results}");

    // Not an admin: refused.
    let res = post(
        &app,
        &format!("/sessions/b/groups/{gid}/participants"),
        json!({"action": "remove", "participants": ["491706700003"]}),
    )
    .await;
    assert_error(res, 403, "forbidden").await;

    // Sending to the group goes through the normal send API.
    let m = accepted(&app, "a", json!({"to": gid, "text": "hello team"})).await;
    wait_message(&app, "a", m["id"].as_str().unwrap(), "delivered").await;
    let got = wait_incoming(&app, "c", 1).await;
    assert_eq!(got["data"][0]["chat"], gid.as_str());

    // Leaving; then the group is not ours to read.
    let res = app.authed(Method::POST, &format!("/sessions/c/groups/{gid}/leave")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(
        !get_json(&app, "/sessions/c/groups")
            .await
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["jid"] == gid.as_str())
    );

    // Unknown groups, bad input.
    let res = app.authed(Method::GET, "/sessions/a/groups/120363999999999999@g.us").send().await.unwrap();
    assert_error(res, 404, "group_not_found").await;
    let res = app.authed(Method::GET, "/sessions/a/groups/491706700002").send().await.unwrap();
    assert_error(res, 422, "validation_failed").await;
    let res =
        post(&app, "/sessions/a/groups", json!({"subject": " ", "participants": ["491706700002"]})).await;
    assert_error(res, 422, "validation_failed").await;
    let res = post(&app, "/sessions/a/groups", json!({"subject": "x", "participants": ["12"]})).await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert!(err["error"]["details"]["participants[0]"].is_array(), "{err}");
    app.stop().await.unwrap();
}
