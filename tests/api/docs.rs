use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Backend, TestApp};

#[tokio::test]
async fn openapi_document_lists_the_routes_and_error_schema() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let doc: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/health", "/health/live", "/health/ready", "/sessions", "/sessions/{id}"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the spec");
    }
    assert!(doc["components"]["schemas"].get("ErrorResponse").is_some());
    assert!(doc["components"]["securitySchemes"].get("api_key").is_some());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn swagger_ui_is_served_from_vendored_assets() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let html = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(html.status(), StatusCode::OK);
    assert!(html.text().await.unwrap().contains("swagger-ui"));
    let js = app.client.get(app.url("/docs/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.bytes().await.unwrap().len() > 100_000, "the bundle is in the binary, not on a CDN");
    app.stop().await.unwrap();
}

/// The committed `openapi.json` is what the code generates; regenerate with
/// `cargo run -- openapi > openapi.json`.
#[test]
fn committed_openapi_json_is_current() {
    let committed = include_str!("../../openapi.json");
    let generated = serde_json::to_string_pretty(&wa_gateway::api::openapi()).unwrap();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi.json is stale: run `cargo run -- openapi > openapi.json`"
    );
}

/// Operation ids are unique (clients generated from the document need it;
/// two handlers of the same name under one tag would collide).
#[test]
fn operation_ids_are_unique() {
    let doc = serde_json::to_value(wa_gateway::api::openapi()).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId").and_then(|v| v.as_str()) {
                assert!(seen.insert(id.to_owned()), "{method} {path}: operationId {id} is used twice");
            }
        }
    }
    assert!(seen.len() > 80, "{} operations", seen.len());
}

/// Every documented operation is served (no 404 or 405 from the router).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let doc = wa_gateway::api::openapi();
    let mut checked = 0;
    for (path, item) in &doc.paths.paths {
        let url = app.url(&path.replace("{id}", "probe"));
        let ops = [
            (reqwest::Method::GET, item.get.is_some()),
            (reqwest::Method::POST, item.post.is_some()),
            (reqwest::Method::PUT, item.put.is_some()),
            (reqwest::Method::PATCH, item.patch.is_some()),
            (reqwest::Method::DELETE, item.delete.is_some()),
        ];
        for (method, documented) in ops {
            if !documented {
                continue;
            }
            let res = app
                .client
                .request(method.clone(), &url)
                .header("x-api-key", crate::support::API_KEY)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            let code = body["error"]["code"].as_str().unwrap_or("");
            assert!(
                code != "method_not_allowed" && code != "not_found",
                "{method} {path} is documented but not routed ({code})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} operations checked");
    app.stop().await.unwrap();
}
