//! Linking by pairing code instead of QR.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::support::{Backend, TestApp, assert_error};

#[tokio::test]
async fn pairing_code_links_only_the_right_phone_with_the_right_code() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, FAST).await else { return };
    create(&app, json!({"id": "pc"})).await;
    wait_status(&app, "pc", "qr").await;

    let res = app
        .authed(Method::POST, "/sessions/pc/pair-code")
        .json(&json!({"phone": "+49 170 5550001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let code = body["code"].as_str().unwrap().to_owned();
    assert_eq!(body["phone"], "491705550001");
    assert!(code.len() == 9 && code.as_bytes()[4] == b'-', "XXXX-XXXX: {code}");
    wait_status(&app, "pc", "pairing").await;
    // While pairing, the QR code is not what the user should use.
    assert_error(app.authed(Method::GET, "/sessions/pc/qr").send().await.unwrap(), 409, "qr_not_available")
        .await;

    let link = |body: Value| app.authed(Method::POST, "/sandbox/sessions/pc/link").json(&body).send();
    assert_error(
        link(json!({"phone": "491705550002", "code": code})).await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        link(json!({"phone": "491705550001", "code": "AAAA-AAAA"})).await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    let res = link(json!({"phone": "491705550001", "code": code.to_lowercase(), "push_name": "Pat"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let s: Value = res.json().await.unwrap();
    assert_eq!(s["status"], "connected");
    assert_eq!(s["push_name"], "Pat");

    let rows = events(&app, "pc").await;
    assert!(
        rows.iter().any(|r| r["event_type"] == "session.paired" && r["details"]["phone"] == "491705550001")
    );
    let path: Vec<String> = statuses(&rows).into_iter().map(|(s, _)| s).collect();
    assert_eq!(path, ["starting", "qr", "pairing", "connected"]);

    let res = app
        .authed(Method::POST, "/sessions/pc/pair-code")
        .json(&json!({"phone": "491705550001"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, 409, "not_awaiting_link").await;
    assert_eq!(body["error"]["details"]["status"], "connected");
    let res = app
        .authed(Method::POST, "/sandbox/sessions/pc/link")
        .json(&json!({"phone": "491705550001"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "not_awaiting_link").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn one_number_cannot_be_linked_to_two_sandbox_sessions() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, FAST).await else { return };
    linked(&app, "first", "491706660001").await;
    create(&app, json!({"id": "second"})).await;
    wait_status(&app, "second", "qr").await;
    let res = app
        .authed(Method::POST, "/sandbox/sessions/second/link")
        .json(&json!({"phone": "491706660001"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
    assert_eq!(get(&app, "second").await["status"], "qr");
    app.stop().await.unwrap();
}
