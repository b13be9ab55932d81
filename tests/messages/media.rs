//! Media by base64 and by URL, the URL going through the SSRF guard.

use std::net::SocketAddr;

use axum::routing::get;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::{CONFIG, accepted, wait_message};
use crate::support::{Backend, TestApp, assert_error};

const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0fake-jpeg-bytes";

/// A local file server: what a customer's CDN would be.
async fn file_server() -> SocketAddr {
    let app = axum::Router::new()
        .route("/photo.jpg", get(|| async { ([("content-type", "image/jpeg")], JPEG) }))
        .route("/big.bin", get(|| async { vec![0u8; 64 * 1024] }))
        .route("/gone", get(|| async { (axum::http::StatusCode::NOT_FOUND, "no") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn received_media(app: &TestApp, session: &str) -> Value {
    let got = crate::send::wait_incoming(app, session, 1).await;
    got["data"][0].clone()
}

#[tokio::test]
async fn media_by_url_and_base64_with_the_guard_lifted_for_local_files() {
    let config =
        format!("{CONFIG}[outbound]\nallow_private_networks = true\n[messages]\nmax_media_bytes = 32768\n")
            .replace("[messages]\npacing_enabled = false\n", "")
            .replace("max_media_bytes = 32768\n", "max_media_bytes = 32768\npacing_enabled = false\n");
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &config).await else { return };
    let files = file_server().await;
    let mut events = app.state.sessions.hub().subscribe();
    linked(&app, "a", "491706000001").await;
    linked(&app, "b", "491706000002").await;

    let url = format!("http://{files}/photo.jpg");
    let m = accepted(
        &app,
        "a",
        json!({"to": "491706000002", "type": "image", "media": {"url": url}, "caption": "look"}),
    )
    .await;
    assert_eq!(m["type"], "image");
    wait_message(&app, "a", m["id"].as_str().unwrap(), "delivered").await;
    let got = loop {
        let e = events.recv().await.unwrap();
        if e.event == "message.received" && e.session_id == "b" {
            break e.data.clone();
        }
    };
    assert_eq!(
        got["body"],
        json!({"type": "media", "kind": "image", "mime_type": "image/jpeg", "caption": "look",
        "file_name": "photo.jpg", "size": JPEG.len()})
    );
    assert_eq!(received_media(&app, "b").await["type"], "image");

    let b64 = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 tiny");
    let d = accepted(
        &app,
        "a",
        json!({"to": "491706000002", "type": "document", "filename": "invoice.pdf",
        "media": {"base64": b64, "mime_type": "application/pdf"}}),
    )
    .await;
    wait_message(&app, "a", d["id"].as_str().unwrap(), "delivered").await;

    // The recipient downloads the file it received, by the message's id.
    let incoming = get_json(&app, "/sessions/b/messages?direction=incoming&limit=10").await;
    let pdf = incoming["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "document")
        .expect("document logged");
    let res = app
        .authed(Method::GET, &format!("/sessions/b/messages/{}/media", pdf["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.headers()["content-disposition"], "attachment");
    assert_eq!(&res.bytes().await.unwrap()[..], b"%PDF-1.4 tiny");
    // Text has no file; described-only inbound media has none either.
    let text = accepted(&app, "a", json!({"to": "491706000002", "text": "no file"})).await;
    wait_message(&app, "a", text["id"].as_str().unwrap(), "delivered").await;
    let res = app
        .authed(Method::GET, &format!("/sessions/b/messages/{}/media", text["wa_id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "media_not_available").await;
    let res = app.authed(Method::GET, "/sessions/b/messages/msg_nope/media").send().await.unwrap();
    assert_error(res, 404, "message_not_found").await;

    // Too large, or not there: failed with the reason.
    let big = accepted(&app, "a", json!({"to": "491706000002", "type": "document", "media": {"url": format!("http://{files}/big.bin"), "mime_type": "application/octet-stream"}})).await;
    let failed = wait_message(&app, "a", big["id"].as_str().unwrap(), "failed").await;
    assert!(failed["error"].as_str().unwrap().contains("larger than 32768"), "{failed}");
    let gone = accepted(
        &app,
        "a",
        json!({"to": "491706000002", "type": "image", "media": {"url": format!("http://{files}/gone")}}),
    )
    .await;
    let failed = wait_message(&app, "a", gone["id"].as_str().unwrap(), "failed").await;
    assert!(failed["error"].as_str().unwrap().contains("404"), "{failed}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_ssrf_guard_refuses_local_and_private_urls() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    let files = file_server().await;
    linked(&app, "a", "491707000001").await;
    for url in [
        format!("http://{files}/photo.jpg"),
        format!("http://localhost:{}/photo.jpg", files.port()),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::1]/x.jpg".to_owned(),
        "http://10.0.0.1/x.jpg".to_owned(),
    ] {
        let m = accepted(
            &app,
            "a",
            json!({"to": "491706000002", "type": "image", "media": {"url": url, "mime_type": "image/jpeg"}}),
        )
        .await;
        let failed = wait_message(&app, "a", m["id"].as_str().unwrap(), "failed").await;
        assert!(failed["error"].as_str().unwrap().contains("private or local"), "{url}: {failed}");
    }
    app.stop().await.unwrap();
}
