use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{self, Backend, TestApp, TestDb};

#[tokio::test]
async fn live_and_ready_on_embedded_sqlite_without_a_key() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    // No API key at all: health stays reachable.
    let config = support::app_config(&db, "[auth]\napi_key = \"\"\n");
    let app = TestApp::start(db, config).await;

    let live = app.client.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(live.json::<Value>().await.unwrap()["status"], "ok");

    let ready = app.client.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert!(body["checks"].get("redis").is_none(), "no redis configured: {body}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn ready_checks_postgres_and_redis_when_configured() {
    let Some(redis) = support::redis_url() else { return };
    let Some(app) = TestApp::spawn_with(Backend::Postgres, &format!("[redis]\nurl = \"{redis}\"\n")).await
    else {
        return;
    };
    let ready = app.client.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["redis"]["status"], "ok");

    let summary: Value = app.client.get(app.url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(summary["database"], "postgres");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn ready_is_503_naming_the_failing_database() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.state.store.close().await;
    let res = app.client.get(app.url("/health/ready")).send().await.unwrap();
    let body = support::assert_error(res, 503, "not_ready").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("database"), "{body}");
    assert_eq!(body["error"]["details"]["checks"]["database"]["status"], "error");
    // Liveness does not depend on the database.
    let live = app.client.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
}

#[tokio::test]
async fn summary_reports_version_uptime_memory_and_sessions() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    for id in ["a", "b"] {
        let res = app
            .authed(reqwest::Method::POST, "/sessions")
            .json(&serde_json::json!({ "id": id, "start": false }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let body: Value = app.client.get(app.url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["database"], "sqlite");
    assert!(body["uptime_secs"].is_u64());
    assert!(body["memory_rss_bytes"].as_u64().unwrap() > 1_000_000);
    assert_eq!(body["sessions"]["created"], 2);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn startup_fails_naming_an_unreachable_redis() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    // Port 1 on loopback: nothing listens there.
    let config = support::app_config(&db, "[redis]\nurl = \"redis://127.0.0.1:1\"\n");
    let err = wa_gateway::AppState::build(config).await.err().expect("must fail");
    assert!(format!("{err:#}").contains("Redis"), "{err:#}");
}
