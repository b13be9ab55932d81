//! Templates: CRUD with validation, and sends that fill them in.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::{CONFIG, accepted, send, wait_incoming, wait_message};
use crate::support::{Backend, TestApp, assert_error};

async fn call(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let req = app.authed(method, path);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    req.send().await.unwrap()
}

async fn templates_crud(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let body =
        json!({"name": "order_shipped", "content": "Hi {{name}}, order {{order}} ships {{when|today}}."});
    let res = call(&app, Method::POST, "/templates", Some(body.clone())).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["variables"], json!(["name", "order", "when"]));
    assert_eq!(created["required"], json!(["name", "order"]));
    assert_error(call(&app, Method::POST, "/templates", Some(body)).await, 409, "conflict").await;

    for (bad, field) in [
        (json!({"name": "Bad Name", "content": "x"}), "name"),
        (json!({"name": "open", "content": "hello {{name"}), "content"),
        (json!({"name": "blank", "content": "  "}), "content"),
        (json!({"name": "odd", "content": "{{a b}}"}), "content"),
    ] {
        let res = call(&app, Method::POST, "/templates", Some(bad.clone())).await;
        assert_eq!(res.status(), 422, "{bad}");
        let err: Value = res.json().await.unwrap();
        assert!(err["error"]["details"][field].is_array(), "{err}");
    }

    call(&app, Method::POST, "/templates", Some(json!({"name": "a_first", "content": "A"}))).await;
    let page: Value = call(&app, Method::GET, "/templates?limit=1", None).await.json().await.unwrap();
    assert_eq!(page["data"][0]["name"], "a_first");
    let next = page["next_cursor"].as_str().unwrap();
    let page: Value = call(&app, Method::GET, &format!("/templates?limit=1&cursor={next}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"][0]["name"], "order_shipped");

    let res = call(&app, Method::PUT, "/templates/a_first", Some(json!({"content": "B {{x}}"}))).await;
    assert_eq!(res.status(), 200);
    let replaced: Value = res.json().await.unwrap();
    assert_eq!(replaced["required"], json!(["x"]));
    let bad = call(&app, Method::PUT, "/templates/a_first", Some(json!({"content": "{{"}))).await;
    assert_eq!(bad.status(), 422);
    assert_eq!(call(&app, Method::DELETE, "/templates/a_first", None).await.status(), 204);
    assert_error(call(&app, Method::GET, "/templates/a_first", None).await, 404, "template_not_found").await;
    assert_error(call(&app, Method::DELETE, "/templates/a_first", None).await, 404, "template_not_found")
        .await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn templates_crud_on_sqlite() {
    templates_crud(Backend::Sqlite).await;
}

#[tokio::test]
async fn templates_crud_on_postgres() {
    templates_crud(Backend::Postgres).await;
}

#[tokio::test]
async fn a_template_send_arrives_filled_in() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    linked(&app, "a", "491707000001").await;
    linked(&app, "b", "491707000002").await;
    let t = json!({"name": "greet", "content": "Hi {{name}}, you have {{count}} new {{what|messages}}."});
    assert_eq!(call(&app, Method::POST, "/templates", Some(t)).await.status(), 201);

    let sent = accepted(
        &app,
        "a",
        json!({"to": "491707000002", "type": "template", "template": "greet", "variables": {"name": "Ada", "count": 3}}),
    )
    .await;
    assert_eq!(sent["type"], "text");
    wait_message(&app, "a", sent["id"].as_str().unwrap(), "delivered").await;
    let incoming = wait_incoming(&app, "b", 1).await;
    assert_eq!(incoming["data"][0]["preview"], "Hi Ada, you have 3 new messages.");

    // Missing variables are named; unknown templates and misuse are 422.
    let res = send(
        &app,
        "a",
        json!({"to": "491707000002", "type": "template", "template": "greet", "variables": {"count": 1}}),
    )
    .await;
    assert_eq!(res.status(), 422);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["details"]["variables"], json!(["missing: name"]));
    let res = send(&app, "a", json!({"to": "491707000002", "type": "template", "template": "nope"})).await;
    assert_error(res, 422, "validation_failed").await;
    let res = send(&app, "a", json!({"to": "491707000002", "type": "template", "template": "greet", "text": "x", "variables": {"name": "A", "count": 1}})).await;
    assert_error(res, 422, "validation_failed").await;
    let res = send(&app, "a", json!({"to": "491707000002", "text": "plain", "template": "greet"})).await;
    assert_error(res, 422, "validation_failed").await;
    let res = send(&app, "a", json!({"to": "491707000002", "type": "template", "template": "greet", "variables": {"name": {"x": 1}, "count": 1}})).await;
    assert_error(res, 422, "validation_failed").await;

    // With media, the text is the caption.
    let with_media = accepted(
        &app,
        "a",
        json!({"to": "491707000002", "type": "template", "template": "greet", "variables": {"name": "Bo", "count": 0},
               "media": {"base64": "iVBORw0KGgo=", "mime_type": "image/png"}}),
    )
    .await;
    assert_eq!(with_media["type"], "image");
    assert_eq!(with_media["preview"], "Hi Bo, you have 0 new messages.");
    app.stop().await.unwrap();
}
