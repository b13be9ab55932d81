//! The account's own profile: name, about and picture changed through the
//! API, seen by other accounts, kept across restarts; bad input refused.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::CONFIG;
use crate::support::{Backend, TestApp, assert_error};

async fn patch(app: &TestApp, body: Value) -> reqwest::Response {
    app.authed(Method::PATCH, "/sessions/a/profile").json(&body).send().await.unwrap()
}

async fn put_picture(app: &TestApp, bytes: Vec<u8>) -> reqwest::Response {
    app.authed(Method::PUT, "/sessions/a/profile/picture")
        .header("content-type", "image/jpeg")
        .body(bytes)
        .send()
        .await
        .unwrap()
}

fn jpeg() -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00];
    bytes.resize(2048, 0x42);
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

#[tokio::test]
async fn own_profile_changes_are_seen_by_others_and_kept() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "a", "491706930001").await;
    linked(&app, "b", "491706930002").await;
    let seen_by_b = || get_json(&app, "/sessions/b/contacts/491706930001");

    let before = get_json(&app, "/sessions/a/profile").await;
    assert_eq!(before["phone"], "491706930001");
    assert_eq!(before["push_name"], "Sandbox 0001");
    let first_picture = before["picture_url"].as_str().unwrap().to_owned();

    let res = patch(&app, json!({"push_name": "  Acme Support ", "about": "Open 9-17, Mon-Fri"})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let after: Value = res.json().await.unwrap();
    assert_eq!(
        (&after["push_name"], &after["about"]),
        (&json!("Acme Support"), &json!("Open 9-17, Mon-Fri"))
    );
    assert_eq!(get(&app, "a").await["push_name"], "Acme Support", "the session row has the new name");
    let b = seen_by_b().await;
    assert_eq!((&b["push_name"], &b["about"]), (&json!("Acme Support"), &json!("Open 9-17, Mon-Fri")));
    // Announced once, though the API and the engine both report it.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    let mut names = Vec::new();
    while let Ok(Ok(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if e.session_id == "a" && e.event == "session.push_name" {
            names.push(e.data["push_name"].clone());
        }
    }
    assert_eq!(names, [json!("Acme Support")]);

    // A new picture is a new URL for everyone; removing it leaves none.
    let res = put_picture(&app, jpeg()).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let with_picture: Value = res.json().await.unwrap();
    let url = with_picture["picture_url"].as_str().unwrap().to_owned();
    assert_ne!(url, first_picture);
    assert_eq!(seen_by_b().await["picture_url"], url.as_str());
    let res = app.authed(Method::DELETE, "/sessions/a/profile/picture").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["picture_url"], Value::Null);
    assert_eq!(seen_by_b().await["picture_url"], Value::Null);

    // Kept across a restart of the session.
    app.authed(Method::POST, "/sessions/a/stop").send().await.unwrap();
    wait_status(&app, "a", "stopped").await;
    let res = app.authed(Method::GET, "/sessions/a/profile").send().await.unwrap();
    assert_error(res, 409, "session_not_connected").await;
    app.authed(Method::POST, "/sessions/a/start").send().await.unwrap();
    wait_status(&app, "a", "connected").await;
    let again = get_json(&app, "/sessions/a/profile").await;
    assert_eq!(
        (&again["push_name"], &again["about"]),
        (&json!("Acme Support"), &json!("Open 9-17, Mon-Fri"))
    );
    assert_eq!(again["picture_url"], Value::Null);

    // Refused input changes nothing.
    assert_error(patch(&app, json!({})).await, 422, "validation_failed").await;
    assert_error(patch(&app, json!({"push_name": "   "})).await, 422, "validation_failed").await;
    assert_error(patch(&app, json!({"push_name": "x".repeat(26)})).await, 422, "validation_failed").await;
    assert_error(patch(&app, json!({"about": "y".repeat(140)})).await, 422, "validation_failed").await;
    assert_error(put_picture(&app, b"GIF89a not a jpeg".to_vec()).await, 422, "validation_failed").await;
    assert_error(put_picture(&app, vec![0xFF; 3 * 1024 * 1024]).await, 413, "payload_too_large").await;
    assert_eq!(get_json(&app, "/sessions/a/profile").await["push_name"], "Acme Support");
    let res = app.authed(Method::GET, "/sessions/nope/profile").send().await.unwrap();
    assert_error(res, 404, "session_not_found").await;
    app.stop().await.unwrap();
}
