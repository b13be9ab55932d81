//! Labels on the sandbox: created, changed and deleted through the API or on
//! the phone, put on chats and taken off, counted, shown in the chat list,
//! announced as `label.updated` and `chat.labels` only on real changes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::calls::next_event;
use crate::helpers::*;
use crate::send::{CONFIG, accepted, wait_message};
use crate::support::{Backend, TestApp, assert_error};

async fn call(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let req = app.authed(method, path);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    req.send().await.unwrap()
}

async fn ok(app: &TestApp, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
    let res = call(app, method, path, body).await;
    assert_eq!(res.status(), status, "{}", res.text().await.unwrap());
    res.json().await.unwrap_or(Value::Null)
}

/// (id, name, color, chats) of every label.
async fn labels(app: &TestApp) -> Vec<(String, String, i64, i64)> {
    let list = get_json(app, "/sessions/a/labels").await;
    list.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap().to_owned();
            (s("id"), s("name"), l["color"].as_i64().unwrap(), l["chats"].as_i64().unwrap())
        })
        .collect()
}

/// The labels the chat list shows on `chat`.
async fn chat_labels(app: &TestApp, chat: &str) -> Value {
    let list = get_json(app, "/sessions/a/chats").await;
    list["data"].as_array().unwrap().iter().find(|c| c["chat"] == chat).unwrap()["labels"].clone()
}

/// `wag_label_changes_total{source="api"}` from /metrics.
async fn api_changes(app: &TestApp) -> u64 {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let needle = "wag_label_changes_total{source=\"api\"} ";
    text.lines().find_map(|l| l.strip_prefix(needle)).map_or(0, |v| v.trim().parse().unwrap())
}

fn row(id: &str, name: &str, color: i64, chats: i64) -> (String, String, i64, i64) {
    (id.into(), name.into(), color, chats)
}

async fn labels_on_chats(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, CONFIG).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "a", "491706960001").await;
    let (c1, c2) = ("491706960002@s.whatsapp.net", "491706960003@s.whatsapp.net");
    for chat in [c1, c2] {
        let id =
            accepted(&app, "a", json!({"to": chat, "text": "hi"})).await["id"].as_str().unwrap().to_owned();
        wait_message(&app, "a", &id, "sent").await;
    }
    assert!(labels(&app).await.is_empty());

    // Created with the next free id; renamed or recoloured one field at a time.
    let vip =
        ok(&app, Method::POST, "/sessions/a/labels", Some(json!({"name": " VIP ", "color": 2})), 201).await;
    assert_eq!((&vip["id"], &vip["name"], &vip["color"]), (&json!("1"), &json!("VIP"), &json!(2)));
    let event = next_event(&mut rx, "a", "label.updated").await;
    assert_eq!((&event["id"], &event["deleted"]), (&json!("1"), &json!(false)));
    ok(&app, Method::POST, "/sessions/a/labels", Some(json!({"name": "New"})), 201).await;
    let recoloured = ok(&app, Method::PATCH, "/sessions/a/labels/1", Some(json!({"color": 5})), 200).await;
    assert_eq!((&recoloured["name"], &recoloured["color"]), (&json!("VIP"), &json!(5)));
    assert_eq!(labels(&app).await, [row("1", "VIP", 5, 0), row("2", "New", 0, 0)]);

    // On chats: again is no change and no event.
    for (chat, label) in [(c1, "1"), (c2, "1"), (c1, "2")] {
        ok(&app, Method::PUT, &format!("/sessions/a/chats/{chat}/labels/{label}"), None, 204).await;
    }
    let event = next_event(&mut rx, "a", "chat.labels").await;
    assert_eq!((&event["chat"], &event["label"], &event["labeled"]), (&json!(c1), &json!("1"), &json!(true)));
    let before = api_changes(&app).await;
    ok(&app, Method::PUT, &format!("/sessions/a/chats/{c1}/labels/1"), None, 204).await;
    assert_eq!(api_changes(&app).await, before, "labelling again changes nothing");
    assert_eq!(labels(&app).await, [row("1", "VIP", 5, 2), row("2", "New", 0, 1)]);
    assert_eq!(get_json(&app, "/sessions/a/labels/1/chats").await, json!([c1, c2]));
    assert_eq!(chat_labels(&app, c1).await, json!(["1", "2"]));
    ok(&app, Method::DELETE, &format!("/sessions/a/chats/{c2}/labels/1"), None, 204).await;
    assert_eq!(chat_labels(&app, c2).await, json!([]));

    // The phone makes, changes and deletes labels too; ids sort as numbers.
    let phone = |path: String, body: Value| {
        let app = &app;
        async move { ok(app, Method::POST, &path, Some(body), 202).await }
    };
    phone("/sandbox/sessions/a/labels/10".into(), json!({"name": "Phone", "color": 3})).await;
    assert_eq!(next_event(&mut rx, "a", "label.updated").await["id"], "10");
    phone(format!("/sandbox/sessions/a/chats/{c2}/labels/10"), json!({"labeled": true})).await;
    assert_eq!(next_event(&mut rx, "a", "chat.labels").await["label"], "10");
    phone("/sandbox/sessions/a/labels/2".into(), json!({"deleted": true})).await;
    let event = next_event(&mut rx, "a", "label.updated").await;
    assert_eq!((&event["id"], &event["deleted"]), (&json!("2"), &json!(true)));
    assert_eq!(labels(&app).await, [row("1", "VIP", 5, 1), row("10", "Phone", 3, 1)]);
    assert_eq!(chat_labels(&app, c1).await, json!(["1"]), "a deleted label leaves its chats");
    assert_eq!(chat_labels(&app, c2).await, json!(["10"]));
    let next = ok(&app, Method::POST, "/sessions/a/labels", Some(json!({"name": "Later"})), 201).await;
    assert_eq!(next["id"], "11");

    // Labels created at once get ids of their own.
    let creates = (0..4).map(|i| {
        let app = &app;
        async move {
            ok(app, Method::POST, "/sessions/a/labels", Some(json!({"name": format!("Batch {i}")})), 201)
                .await
        }
    });
    let mut ids: Vec<String> = futures_util::future::join_all(creates)
        .await
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["12", "13", "14", "15"]);
    for id in &ids {
        ok(&app, Method::DELETE, &format!("/sessions/a/labels/{id}"), None, 204).await;
    }

    // Deleting through the API.
    ok(&app, Method::DELETE, "/sessions/a/labels/1", None, 204).await;
    assert_eq!(chat_labels(&app, c1).await, json!([]));
    assert_error(call(&app, Method::GET, "/sessions/a/labels/1", None).await, 404, "label_not_found").await;

    // Refusals change nothing.
    let refusals = [
        (Method::POST, "/sessions/a/labels".to_owned(), Some(json!({"color": 1})), 422, "validation_failed"),
        (Method::POST, "/sessions/a/labels".to_owned(), Some(json!({"name": ""})), 422, "validation_failed"),
        (
            Method::POST,
            "/sessions/a/labels".to_owned(),
            Some(json!({"name": "x", "color": 20})),
            422,
            "validation_failed",
        ),
        (Method::PATCH, "/sessions/a/labels/10".to_owned(), Some(json!({})), 422, "validation_failed"),
        (
            Method::PATCH,
            "/sessions/a/labels/99".to_owned(),
            Some(json!({"name": "x"})),
            404,
            "label_not_found",
        ),
        (Method::DELETE, "/sessions/a/labels/99".to_owned(), None, 404, "label_not_found"),
        (Method::GET, "/sessions/a/labels/99/chats".to_owned(), None, 404, "label_not_found"),
        (Method::PUT, format!("/sessions/a/chats/{c1}/labels/99"), None, 404, "label_not_found"),
        (Method::PUT, "/sessions/a/chats/9991234567/labels/10".to_owned(), None, 422, "not_on_whatsapp"),
        (Method::GET, "/sessions/nope/labels".to_owned(), None, 404, "session_not_found"),
    ];
    for (method, path, body, status, code) in refusals {
        assert_error(call(&app, method, &path, body).await, status, code).await;
    }
    assert_eq!(labels(&app).await, [row("10", "Phone", 3, 1), row("11", "Later", 0, 0)]);

    // Stopped: nothing changes, the labels can still be read.
    app.authed(Method::POST, "/sessions/a/stop").send().await.unwrap();
    wait_status(&app, "a", "stopped").await;
    let res = call(&app, Method::POST, "/sessions/a/labels", Some(json!({"name": "x"}))).await;
    assert_error(res, 409, "session_not_connected").await;
    assert_eq!(labels(&app).await.len(), 2);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn labels_on_sqlite() {
    labels_on_chats(Backend::Sqlite).await;
}

#[tokio::test]
async fn labels_on_postgres() {
    labels_on_chats(Backend::Postgres).await;
}
