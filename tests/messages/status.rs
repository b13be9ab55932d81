//! Status updates (stories) on the sandbox: posted to the people named or
//! to everyone saved in the address book, received in `status@broadcast`,
//! followed to `delivered`; invalid ones refused with field details.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::{CONFIG, wait_incoming, wait_message};
use crate::support::{Backend, TestApp, assert_error};

async fn post(app: &TestApp, session: &str, body: Value, key: Option<&str>) -> reqwest::Response {
    let mut req = app.authed(Method::POST, &format!("/sessions/{session}/status")).json(&body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    req.send().await.unwrap()
}

async fn posted(app: &TestApp, session: &str, body: Value) -> Value {
    let res = post(app, session, body, None).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["chat"], "status@broadcast");
    view
}

async fn statuses(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, CONFIG).await else { return };
    linked(&app, "a", "491706950101").await;
    linked(&app, "b", "491706950102").await;
    linked(&app, "c", "491706950103").await;

    // Nobody named and nobody saved: there is no one to show it to.
    let err =
        assert_error(post(&app, "a", json!({"text": "hello"}), None).await, 422, "validation_failed").await;
    assert!(err["error"]["details"]["recipients"].is_array(), "{err}");

    // A text status to b only: b sees it, from a, in status@broadcast; c does not.
    let text = posted(
        &app,
        "a",
        json!({"type": "text", "text": "Open today 9–17", "background": "#1E6E4F",
        "font": "system_bold", "recipients": ["491706950102", "491706950102@s.whatsapp.net"]}),
    )
    .await;
    assert_eq!((&text["type"], &text["preview"]), (&json!("text"), &json!("Open today 9–17")));
    wait_message(&app, "a", text["id"].as_str().unwrap(), "delivered").await;
    let seen = wait_incoming(&app, "b", 1).await["data"][0].clone();
    assert_eq!(
        (&seen["chat"], &seen["sender"], &seen["preview"]),
        (&json!("status@broadcast"), &json!("491706950101@s.whatsapp.net"), &json!("Open today 9–17"))
    );

    // By default, everyone saved in the address book: c, once saved.
    let res = app
        .authed(Method::PUT, "/sessions/a/contacts/491706950103")
        .json(&json!({"name": "Carol"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let image = posted(
        &app,
        "a",
        json!({"type": "image", "caption": "New menu",
        "media": {"base64": "iVBORw0KGgo=", "mime_type": "image/png"}}),
    )
    .await;
    wait_message(&app, "a", image["id"].as_str().unwrap(), "delivered").await;
    let seen = wait_incoming(&app, "c", 1).await["data"][0].clone();
    assert_eq!(
        (&seen["chat"], &seen["type"], &seen["preview"]),
        (&json!("status@broadcast"), &json!("image"), &json!("New menu"))
    );
    assert_eq!(wait_incoming(&app, "b", 1).await["data"].as_array().unwrap().len(), 1, "b is not saved");
    // Status updates are not a chat; the log lists them by their chat.
    assert_eq!(get_json(&app, "/sessions/c/chats").await["data"], json!([]));
    assert_eq!(get_json(&app, "/sessions/a/chats").await["data"].as_array().unwrap().len(), 0);
    let listed = get_json(&app, "/sessions/a/messages?chat=status@broadcast").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);

    // The same Idempotency-Key posts once.
    let body = json!({"text": "once", "recipients": ["491706950102"]});
    let first: Value = post(&app, "a", body.clone(), Some("s1")).await.json().await.unwrap();
    let again: Value = post(&app, "a", body, Some("s1")).await.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    wait_message(&app, "a", first["id"].as_str().unwrap(), "delivered").await;
    assert_eq!(wait_incoming(&app, "b", 2).await["data"].as_array().unwrap().len(), 2);

    // Invalid content, look or audience.
    for (body, field) in [
        (json!({"text": "", "recipients": ["491706950102"]}), "text"),
        (json!({"text": "x", "background": "green", "recipients": ["491706950102"]}), "background"),
        (
            json!({"type": "image", "media": {"base64": "iVBORw0KGgo=", "mime_type": "image/png"}, "font": "serif"}),
            "",
        ),
        (
            json!({"type": "image", "media": {"base64": "iVBORw0KGgo=", "mime_type": "image/png"}, "background": "#000000",
            "recipients": ["491706950102"]}),
            "background",
        ),
        (json!({"text": "x", "recipients": []}), "recipients"),
        (json!({"text": "x", "recipients": ["120363025246125486@g.us"]}), "recipients[0]"),
        (json!({"type": "location", "text": "x"}), ""),
        (json!({"type": "image", "recipients": ["491706950102"]}), "media"),
    ] {
        let err = assert_error(post(&app, "a", body.clone(), None).await, 422, "validation_failed").await;
        if !field.is_empty() {
            assert!(err["error"]["details"][field].is_array(), "{body}: {err}");
        }
    }
    assert_error(post(&app, "nope", json!({"text": "x"}), None).await, 404, "session_not_found").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn statuses_on_sqlite() {
    statuses(Backend::Sqlite).await;
}

#[tokio::test]
async fn statuses_on_postgres() {
    statuses(Backend::Postgres).await;
}
