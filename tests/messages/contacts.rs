//! Contacts: number checks (cached), profiles and blocking on the sandbox.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::CONFIG;
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

    // A session that is not connected cannot ask WhatsApp.
    app.authed(Method::POST, "/sessions/a/stop").send().await.unwrap();
    wait_status(&app, "a", "stopped").await;
    assert_error(check(&app, "a", json!(["491706600009"])).await, 409, "session_not_connected").await;
    app.stop().await.unwrap();
}
