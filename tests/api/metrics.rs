use reqwest::{Method, StatusCode};

use crate::support::{self, Backend, TestApp};

#[tokio::test]
async fn metrics_are_prometheus_text_labelled_by_route_pattern() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let res = app
        .authed(Method::POST, "/sessions")
        .json(&serde_json::json!({"id": "m1", "start": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.authed(Method::GET, "/sessions/raw-path-secret-7").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    for needle in [
        "wag_build_info{version=\"",
        "wag_http_requests_total{method=\"GET\",route=\"/sessions/{id}\",status=\"4xx\"}",
        "wag_http_requests_total{method=\"POST\",route=\"/sessions\",status=\"2xx\"}",
        "wag_http_request_duration_seconds_bucket{method=\"POST\",route=\"/sessions\",le=\"0.005\"}",
        "wag_db_pool_connections{state=\"idle\"}",
        "wag_sessions{status=\"created\"}",
        "wag_process_resident_memory_bytes",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    assert!(!text.contains("raw-path-secret-7"), "raw paths must never become labels");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_metrics_token_guards_the_endpoint() {
    let token = "scrape-token-0123456789";
    let app =
        TestApp::spawn_with(Backend::Sqlite, &format!("[metrics]\ntoken = \"{token}\"\n")).await.unwrap();
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    support::assert_error(res, 401, "invalid_metrics_token").await;
    let res = app.client.get(app.url("/metrics")).bearer_auth("wrong").send().await.unwrap();
    support::assert_error(res, 401, "invalid_metrics_token").await;
    let res = app.client.get(app.url("/metrics")).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_status_nobody_is_in_reads_zero() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.state
        .store
        .sessions
        .create(&wa_gateway::store::NewSession {
            id: "z".into(),
            engine: "sandbox".into(),
            metadata: serde_json::json!({}),
        })
        .await
        .unwrap();
    app.state.store.sessions.set_status("z", "zeroed_status_probe").await.unwrap();
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("wag_sessions{status=\"zeroed_status_probe\"} 1"), "{text}");
    app.state.store.sessions.delete("z").await.unwrap();
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("wag_sessions{status=\"zeroed_status_probe\"} 0"), "{text}");
    app.stop().await.unwrap();
}
