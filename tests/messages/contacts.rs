//! Contacts: number checks (cached), profiles and blocking on the sandbox.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::{CONFIG, accepted, wait_incoming, wait_message};
use crate::support::{Backend, TestApp, assert_error};

async fn check(app: &TestApp, session: &str, numbers: Value) -> reqwest::Response {
    app.authed(Method::POST, &format!("/sessions/{session}/contacts/check"))
        .json(&json!({ "numbers": numbers }))
        .send()
        .await
        .unwrap()
}

/// `wag_contact_checks_total{source=…}` from /metrics.
async fn checks(app: &TestApp, source: &str) -> u64 {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let needle = format!("wag_contact_checks_total{{source=\"{source}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&needle)).map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn checks_are_cached_and_profiles_and_blocks_work() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    linked(&app, "a", "491706600001").await;
    linked(&app, "b", "491706600002").await;

    let res = check(&app, "a", json!(["491706600002", "+999 123 4567"])).await;
    assert_eq!(res.status(), 200);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first[0]["exists"], true);
    assert_eq!(first[0]["jid"], "491706600002@s.whatsapp.net");
    assert_eq!(first[1]["exists"], false, "999… numbers are not on the sandbox's WhatsApp");
    assert_eq!(first[0]["cached"], false);
    assert_eq!(checks(&app, "engine").await, 2);

    // Again inside the TTL: no engine call; a new number costs one.
    let again: Value =
        check(&app, "a", json!(["491706600002", "9991234567", "491706600003"])).await.json().await.unwrap();
    assert_eq!(again[0]["cached"], true);
    assert_eq!(again[1]["cached"], true);
    assert_eq!(again[2]["cached"], false);
    assert_eq!(checks(&app, "engine").await, 3, "only the new number reached the engine");
    assert_eq!(checks(&app, "cache").await, 2);

    // Invalid input.
    assert_error(check(&app, "a", json!([])).await, 422, "validation_failed").await;
    let err =
        assert_error(check(&app, "a", json!(["491706600002", "12"])).await, 422, "validation_failed").await;
    assert!(err["error"]["details"]["numbers[1]"].is_array(), "{err}");
    assert_error(check(&app, "nope", json!(["491706600002"])).await, 404, "session_not_found").await;

    // Profile, and blocking: b's messages stop at sent once a blocks b.
    let profile = get_json(&app, "/sessions/a/contacts/491706600002").await;
    assert_eq!(profile["jid"], "491706600002@s.whatsapp.net");
    assert_eq!(profile["blocked"], false);
    let res = app.authed(Method::POST, "/sessions/a/contacts/491706600002/block").send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(get_json(&app, "/sessions/a/contacts/491706600002").await["blocked"], true);
    let res = app.authed(Method::DELETE, "/sessions/a/contacts/491706600002/block").send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(get_json(&app, "/sessions/a/contacts/491706600002").await["blocked"], false);
    let res = app.authed(Method::GET, "/sessions/a/contacts/120363000000000001@g.us").send().await.unwrap();
    assert_error(res, 422, "validation_failed").await;

    // Profiles of linked accounts carry the about text and a picture URL.
    assert_eq!(profile["about"], "Hey there! I am using WhatsApp.");
    assert_eq!(profile["picture_url"], "https://sandbox.wa-gateway.invalid/pp/491706600002.jpg");
    assert_eq!(get_json(&app, "/sessions/a/contacts/491706600077").await["about"], Value::Null);

    // The block list follows blocks and unblocks.
    for who in ["491706600004", "491706600003"] {
        let res =
            app.authed(Method::POST, &format!("/sessions/a/contacts/{who}/block")).send().await.unwrap();
        assert_eq!(res.status(), 204);
    }
    let list = get_json(&app, "/sessions/a/contacts/blocked").await;
    assert_eq!(list, json!(["491706600003@s.whatsapp.net", "491706600004@s.whatsapp.net"]));
    app.authed(Method::DELETE, "/sessions/a/contacts/491706600004/block").send().await.unwrap();
    assert_eq!(get_json(&app, "/sessions/a/contacts/blocked").await, json!(["491706600003@s.whatsapp.net"]));

    // Events correct the cache without asking WhatsApp: a message from a
    // number proves it exists; a send refused as "not on WhatsApp" proves
    // the opposite.
    let engine_calls = checks(&app, "engine").await;
    let res = app
        .authed(Method::POST, "/sandbox/sessions/a/inbound")
        .json(&json!({"from": "9991234567", "text": "I do exist"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    wait_incoming(&app, "a", 1).await;
    let now: Value = check(&app, "a", json!(["9991234567"])).await.json().await.unwrap();
    assert_eq!((now[0]["exists"].as_bool(), now[0]["cached"].as_bool()), (Some(true), Some(true)));
    let sent = accepted(&app, "a", json!({"to": "9991234567", "text": "hello?"})).await;
    wait_message(&app, "a", sent["id"].as_str().unwrap(), "failed").await;
    let now: Value = check(&app, "a", json!(["9991234567"])).await.json().await.unwrap();
    assert_eq!((now[0]["exists"].as_bool(), now[0]["cached"].as_bool()), (Some(false), Some(true)));
    assert_eq!(checks(&app, "engine").await, engine_calls, "no check reached the engine");

    // A session that is not connected cannot ask WhatsApp.
    app.authed(Method::POST, "/sessions/a/stop").send().await.unwrap();
    wait_status(&app, "a", "stopped").await;
    assert_error(check(&app, "a", json!(["491706600009"])).await, 409, "session_not_connected").await;
    app.stop().await.unwrap();
}
