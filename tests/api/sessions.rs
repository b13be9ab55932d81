use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Backend, TestApp};

async fn crud(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let res = app
        .authed(Method::POST, "/sessions")
        .json(&json!({"id": "sales", "metadata": {"team": "emea"}, "start": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let mut created: Value = res.json().await.unwrap();
    assert_eq!(
        created["webhooks"],
        json!([]),
        "the secrets of registered webhooks are shown once, on creation"
    );
    created.as_object_mut().unwrap().remove("webhooks");
    assert_eq!(created["id"], "sales");
    assert_eq!(created["engine"], "sandbox");
    assert_eq!(created["status"], "created");
    assert_eq!(created["metadata"], json!({"team": "emea"}));

    let mut got: Value =
        app.authed(Method::GET, "/sessions/sales").send().await.unwrap().json().await.unwrap();
    assert_eq!(got["queued_messages"], 0, "the single view counts the session's queued messages");
    got.as_object_mut().unwrap().remove("queued_messages");
    assert_eq!(got, created);

    let res = app.authed(Method::DELETE, "/sessions/sales").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.authed(Method::GET, "/sessions/sales").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn crud_on_sqlite() {
    crud(Backend::Sqlite).await;
}

#[tokio::test]
async fn crud_on_postgres() {
    crud(Backend::Postgres).await;
}

#[tokio::test]
async fn list_paginates_with_a_cursor() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    for id in ["d", "a", "c", "b", "e"] {
        let res = app.authed(Method::POST, "/sessions").json(&json!({"id": id})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/sessions?limit=2&cursor={c}"),
            None => "/sessions?limit=2".to_owned(),
        };
        let page: Value = app.authed(Method::GET, &path).send().await.unwrap().json().await.unwrap();
        seen.extend(page["data"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(seen.len() <= 5, "pagination does not terminate");
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);

    let res = app.authed(Method::GET, "/sessions?limit=lots").send().await.unwrap();
    crate::support::assert_error(res, 400, "invalid_query").await;
    app.stop().await.unwrap();
}
