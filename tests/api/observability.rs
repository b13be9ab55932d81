//! Operations: the metrics pass `promtool`, the Grafana dashboard uses only
//! exported metrics, every route is documented, `/docs` needs no internet,
//! and the compose file and Dockerfile name only real configuration keys.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use wa_gateway::metrics::{CATALOGUE, Kind};

use crate::helpers::linked;
use crate::support::{API_KEY, Backend, TestApp};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let res = app.authed(Method::POST, path).json(&body).send().await.unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_scrape_after_a_sandbox_send_passes_promtool() {
    let config = "[sandbox]\ndelivered_after_ms = 20\nread_after_ms = 40\n";
    let app = TestApp::spawn_with(Backend::Sqlite, config).await.unwrap();
    linked(&app, "m1", "491707700001").await;
    linked(&app, "m2", "491707700002").await;
    let sent = post(&app, "/sessions/m1/message", json!({"to": "491707700002", "text": "metrics"})).await;
    let path = format!("/sessions/m1/messages/{}/status", sent["id"].as_str().unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status: Value = app.authed(Method::GET, &path).send().await.unwrap().json().await.unwrap();
        if status["status"] == "delivered" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never delivered: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for family in ["wag_messages_total", "wag_message_receipts_total", "wag_queue_jobs_total", "wag_sessions"]
    {
        assert!(text.contains(&format!("# HELP {family} ")), "{family} has no help text");
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`; .ci/run installs it)");
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    app.stop().await.unwrap();
}

/// `wag_…` names in `text`, with histogram series suffixes removed.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("wag_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        names.insert(base.to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_grafana_dashboard_uses_only_exported_metrics() {
    let dashboard: Value = serde_json::from_str(&read("grafana/dashboards/wa-gateway.json")).unwrap();
    let exprs: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap()))
        .collect();
    assert!(
        exprs.len() >= 16,
        "the dashboard covers HTTP, sessions, messages, queue, webhooks, database, process"
    );
    let known: BTreeSet<&str> = CATALOGUE.iter().map(|(n, _, _)| *n).collect();
    let used = metric_names(&exprs.join("\n"));
    for name in &used {
        assert!(
            known.contains(name.as_str()),
            "the dashboard uses {name}, which the gateway does not export"
        );
    }
    // Histogram quantiles need the _bucket series of a histogram.
    for expr in exprs.iter().filter(|e| e.contains("histogram_quantile")) {
        let name = metric_names(expr).into_iter().next().unwrap();
        assert!(
            CATALOGUE.iter().any(|(n, k, _)| *n == name && *k == Kind::Histogram),
            "{name} is not a histogram"
        );
    }
    // The provisioning points at the dashboards directory the compose file mounts.
    assert!(read("grafana/provisioning/dashboards/wa-gateway.yml").contains("/var/lib/grafana/dashboards"));
    assert!(read("grafana/provisioning/datasources/prometheus.yml").contains("uid: prometheus"));
}

#[test]
fn every_metric_recorded_in_the_code_is_catalogued() {
    let mut recorded = BTreeSet::new();
    let mut stack = vec![std::path::PathBuf::from(format!("{ROOT}/src"))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for name in metric_names(&text) {
                    if text.contains(&format!("\"{name}\"")) {
                        recorded.insert(name);
                    }
                }
            }
        }
    }
    let known: BTreeSet<String> = CATALOGUE.iter().map(|(n, _, _)| (*n).to_owned()).collect();
    let missing: Vec<_> = recorded.difference(&known).collect();
    assert!(missing.is_empty(), "recorded but not in metrics::CATALOGUE (no help text): {missing:?}");
    let unused: Vec<_> = known.difference(&recorded).collect();
    assert!(unused.is_empty(), "catalogued but never recorded: {unused:?}");
}

/// Every `.route("path", get(…).post(…))` of the API modules is in the spec
/// with the same methods (the reverse of `every_documented_operation_is_routed`).
#[test]
fn every_route_in_the_router_is_documented() {
    let doc = serde_json::to_value(wa_gateway::api::openapi()).unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(format!("{ROOT}/src/api")).unwrap().map(Result::unwrap) {
        let file = entry.path();
        if file.file_name().is_some_and(|n| n == "docs.rs") {
            continue; // serves the documentation itself
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for chunk in text.split(".route(\"").skip(1) {
            let (path, rest) = chunk.split_once('"').unwrap();
            let call = &rest[..rest.find("\n").unwrap_or(rest.len())];
            for method in ["get", "post", "put", "patch", "delete"] {
                let routed = call.contains(&format!(" {method}(")) || call.contains(&format!(".{method}("));
                if routed {
                    let documented = doc["paths"][path].get(method).is_some();
                    assert!(
                        documented,
                        "{} {path} ({}) is routed but not in the OpenAPI document",
                        method.to_uppercase(),
                        file.display()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 60, "only {checked} routes found: the scan is broken");
}

#[tokio::test]
async fn the_docs_page_loads_nothing_from_the_internet() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let html = app.client.get(app.url("/docs/")).send().await.unwrap().text().await.unwrap();
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for chunk in html.split(attr).skip(1) {
            assets.push(chunk.split('"').next().unwrap().to_owned());
        }
    }
    assert!(assets.len() >= 3, "the page references its scripts and styles: {assets:?}");
    for asset in &assets {
        assert!(
            !asset.contains("://") && !asset.starts_with("//"),
            "{asset} would be fetched from elsewhere"
        );
        let url = app.url(&format!("/docs/{}", asset.trim_start_matches("./")));
        let res = app.client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 200, "{url}");
        assert!(!res.bytes().await.unwrap().is_empty(), "{url} is empty");
    }
    // The initializer points the UI at our own spec.
    let init =
        app.client.get(app.url("/docs/swagger-initializer.js")).send().await.unwrap().text().await.unwrap();
    assert!(init.contains("/openapi.json") && !init.contains("https://"), "{init}");
    let spec = app.client.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(spec.status(), 200);
    app.stop().await.unwrap();
}

/// The gateway service's environment in the compose file, and the ENV lines
/// of the Dockerfile, are accepted by `wa-gateway check-config` (which
/// refuses unknown keys), so no name there is a typo.
#[test]
fn compose_and_dockerfile_name_real_configuration_keys() {
    let compose = Command::new("python3")
        .args(["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"])
        .arg(format!("{ROOT}/docker-compose.yml"))
        .output()
        .expect("python3 with PyYAML");
    assert!(
        compose.status.success(),
        "docker-compose.yml does not parse: {}",
        String::from_utf8_lossy(&compose.stderr)
    );
    let compose: Value = serde_json::from_slice(&compose.stdout).unwrap();
    for service in ["gateway", "postgres", "redis", "prometheus", "grafana"] {
        assert!(compose["services"][service].is_object(), "compose has no {service}");
    }
    let mut env: Vec<(String, String)> = compose["services"]["gateway"]["environment"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    for line in read("Dockerfile").lines().skip_while(|l| !l.starts_with("ENV ")) {
        let line = line.trim_start_matches("ENV ").trim().trim_end_matches('\\').trim();
        if line.is_empty() || !line.contains('=') {
            break;
        }
        let (k, v) = line.split_once('=').unwrap();
        env.push((k.to_owned(), v.to_owned()));
    }
    assert!(env.iter().any(|(k, _)| k == "WAG_STORAGE__DATA_DIR"), "{env:?}");
    let bin = env!("CARGO_BIN_EXE_wa-gateway");
    let mut cmd = Command::new(bin);
    cmd.arg("check-config").env_clear();
    for (k, v) in &env {
        // Interpolations (${API_KEY:?…}) and compose-only hosts get valid stand-ins.
        let v = if v.starts_with("${") { API_KEY.to_owned() } else { v.clone() };
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "check-config refused the compose/Dockerfile environment:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let effective = String::from_utf8_lossy(&out.stdout);
    assert!(effective.contains("format = \"json\""), "WAG_LOG__FORMAT took effect:\n{effective}");
}
