use reqwest::{Method, StatusCode};

use crate::support::{self, API_KEY, Backend, TestApp, TestDb};

#[tokio::test]
async fn no_key_configured_fails_closed_with_503() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let config = support::app_config(&db, "[auth]\napi_key = \"\"\n");
    let app = TestApp::start(db, config).await;
    for (method, path) in
        [(Method::GET, "/sessions"), (Method::POST, "/sessions"), (Method::GET, "/sessions/x")]
    {
        let res =
            app.client.request(method, app.url(path)).header("x-api-key", API_KEY).send().await.unwrap();
        support::assert_error(res, 503, "auth_not_configured").await;
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn missing_and_wrong_keys_are_401() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let res = app.client.get(app.url("/sessions")).send().await.unwrap();
    assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
    support::assert_error(res, 401, "missing_api_key").await;

    let wrong = app.client.get(app.url("/sessions")).header("x-api-key", "not-the-key").send().await.unwrap();
    support::assert_error(wrong, 401, "invalid_api_key").await;

    let longer = format!("{API_KEY}x");
    let res = app.client.get(app.url("/sessions")).bearer_auth(longer).send().await.unwrap();
    support::assert_error(res, 401, "invalid_api_key").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn right_key_in_either_header_is_accepted() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let res = app.client.get(app.url("/sessions")).header("x-api-key", API_KEY).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.client.get(app.url("/sessions")).bearer_auth(API_KEY).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn public_routes_need_no_key() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    for path in ["/health", "/health/live", "/health/ready", "/metrics", "/openapi.json", "/docs/"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn unauthenticated_requests_touch_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let res = app
        .client
        .post(app.url("/sessions"))
        .header("x-api-key", "wrong")
        .json(&serde_json::json!({"id": "intruder"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(app.state.store.sessions.get("intruder").await.unwrap().is_none());
    let _ = app.authed(Method::GET, "/sessions").send().await.unwrap();
    app.stop().await.unwrap();
}
