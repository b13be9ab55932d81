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
