//! Every error the API can produce has the standard shape with the request id.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{self, API_KEY, Backend, TestApp};

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let res = app
        .authed(Method::POST, "/sessions")
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    support::assert_error(res, 400, "invalid_json").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let res = app.authed(Method::POST, "/sessions").body("id=x").send().await.unwrap();
    support::assert_error(res, 415, "unsupported_media_type").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_types_unknown_fields_and_bad_ids_are_422() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    for body in [
        json!({"id": 5}),
        json!({"id": "ok", "surprise": true}),
        json!({"id": "../../etc"}),
        json!({"id": "ok", "engine": "telegram"}),
        json!({"id": "ok", "metadata": [1, 2]}),
    ] {
        let res = app.authed(Method::POST, "/sessions").json(&body).send().await.unwrap();
        support::assert_error(res, 422, "validation_failed").await;
    }
    let res = app.authed(Method::GET, "/sessions/bad.id").send().await.unwrap();
    let body = support::assert_error(res, 422, "validation_failed").await;
    assert!(body["error"]["details"]["id"].is_array(), "{body}");
    assert!(app.state.store.sessions.list(&wa_gateway::store::Page::first(10)).await.unwrap().is_empty());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_is_405() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let res = app.authed(Method::GET, "/no/such/route").send().await.unwrap();
    support::assert_error(res, 404, "not_found").await;
    let res = app.authed(Method::PUT, "/sessions").send().await.unwrap();
    let allow = res.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
    support::assert_error(res, 405, "method_not_allowed").await;
    assert!(allow.is_some_and(|a| a.contains("GET") && a.contains("POST")));
    let res = app.client.post(app.url("/health/live")).send().await.unwrap();
    support::assert_error(res, 405, "method_not_allowed").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = TestApp::spawn_with(Backend::Sqlite, "[server]\nbody_limit_bytes = 1024\n").await.unwrap();
    let big = json!({"id": "big", "metadata": {"blob": "x".repeat(4096)}});
    let res = app.authed(Method::POST, "/sessions").json(&big).send().await.unwrap();
    support::assert_error(res, 413, "payload_too_large").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn duplicate_session_is_409() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let create = || app.authed(Method::POST, "/sessions").json(&json!({"id": "dup"})).send();
    assert_eq!(create().await.unwrap().status(), 201);
    support::assert_error(create().await.unwrap(), 409, "session_exists").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn missing_session_is_404_with_its_own_code() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    support::assert_error(
        app.authed(Method::GET, "/sessions/ghost").send().await.unwrap(),
        404,
        "session_not_found",
    )
    .await;
    support::assert_error(
        app.authed(Method::DELETE, "/sessions/ghost").send().await.unwrap(),
        404,
        "session_not_found",
    )
    .await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn database_outage_is_503_not_500() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.state.store.close().await;
    let res = app.authed(Method::GET, "/sessions").send().await.unwrap();
    support::assert_error(res, 503, "database_unavailable").await;
}

#[tokio::test]
async fn request_ids_are_echoed_when_safe_and_minted_otherwise() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let res = app.client.get(app.url("/nope")).header("x-request-id", "client-abc.123").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-abc.123");
    support::assert_error(res, 404, "not_found").await;

    let res =
        app.client.get(app.url("/health/live")).header("x-request-id", "evil\tid").send().await.unwrap();
    let minted = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&minted).unwrap().get_version_num(), 7);

    let long = "a".repeat(129);
    let res = app.client.get(app.url("/health/live")).header("x-request-id", &long).send().await.unwrap();
    assert_ne!(res.headers()["x-request-id"].to_str().unwrap(), long);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn slow_request_is_408_in_the_standard_shape() {
    let app = TestApp::spawn_with(Backend::Sqlite, "[server]\nrequest_timeout_secs = 1\n").await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /sessions HTTP/1.1\r\nhost: x\r\nx-api-key: {API_KEY}\r\nx-request-id: slow-1\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"id\""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            response.extend_from_slice(&buf[..n]);
            if n == 0 || String::from_utf8_lossy(&response).contains("}}") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no response within 10 s");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":\"request_timeout\""), "{text}");
    assert!(text.contains("\"request_id\":\"slow-1\""), "{text}");
    app.stop().await.unwrap();
}
