use crate::binary::output;
use crate::support::{API_KEY, Backend, TestDb};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_ten_character_key_stops_startup_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let out =
        output(&["serve"], &[("API_KEY", "abcdefghij"), ("WAG_STORAGE__DATA_DIR", &data), ("PORT", "0")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("auth.api_key"), "{err}");
    assert!(err.contains("at least 32"), "{err}");
    assert!(!err.contains("abcdefghij"), "the key must not be echoed: {err}");
    assert!(!dir.path().join("wa-gateway.db").exists(), "nothing may be created before validation");
}

#[test]
fn bad_values_from_env_and_file_name_their_keys() {
    let out = output(&["check-config"], &[("WAG_SERVER__REQUEST_TIMEOUT_SECS", "0")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("server.request_timeout_secs"), "{}", stderr(&out));

    let out = output(&["check-config"], &[("PORT", "not-a-port")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("port"), "{}", stderr(&out));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.toml");
    std::fs::write(&file, "[database]\nmax_connections = 0\n").unwrap();
    let out = output(&["--config", file.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("database.max_connections"), "{}", stderr(&out));

    let out = output(&["--config", "/nonexistent/gateway.toml", "check-config"], &[]);
    assert_eq!(out.status.code(), Some(2), "a missing config file is an error, not silently skipped");
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let out = output(
        &["check-config"],
        &[
            ("API_KEY", API_KEY),
            ("DATABASE_URL", "postgres://app:hunter2-secret@db.internal:5432/wag"),
            ("REDIS_URL", "redis://:redis-secret@cache:6379"),
            ("WAG_SERVER__PORT", "8088"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for secret in [API_KEY, "hunter2-secret", "redis-secret"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains("postgres://app:[redacted]@db.internal:5432/wag"), "{text}");
    assert!(text.contains("api_key = \"[redacted]\""), "{text}");
    assert!(text.contains("port = 8088"), "WAG_ beats defaults: {text}");
}

#[test]
fn drain_timeout_must_fit_in_the_shutdown_bound() {
    let out = output(
        &["check-config"],
        &[("WAG_SHUTDOWN__TIMEOUT_SECS", "5"), ("WAG_QUEUE__DRAIN_TIMEOUT_SECS", "5")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("queue.drain_timeout_secs"), "{}", stderr(&out));
}

#[test]
fn wag_variables_beat_conventional_ones() {
    let out = output(&["check-config"], &[("PORT", "7000"), ("WAG_SERVER__PORT", "7001")]);
    assert!(stdout(&out).contains("port = 7001"), "{}", stdout(&out));
}

#[test]
fn openapi_prints_the_document() {
    let out = output(&["openapi"], &[]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["paths"]["/sessions"].is_object());
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
}

fn migrate_round_trip(db: &TestDb) {
    let data = db.dir.path().display().to_string();
    let envs = [("DATABASE_URL", db.url.as_str()), ("WAG_STORAGE__DATA_DIR", data.as_str())];
    let run = |args: &[&str]| {
        let out = output(args, &envs);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    assert!(run(&["migrate", "status"]).contains("pending"));
    run(&["migrate", "up"]);
    let status = run(&["migrate", "status"]);
    assert!(status.contains("applied") && !status.contains("pending"), "{status}");
    assert!(run(&["migrate", "down"]).contains("reverted 1"));
    assert!(run(&["migrate", "status"]).contains("pending"));
    run(&["migrate", "up"]);
    let status = run(&["migrate", "status"]);
    assert!(!status.contains("pending"));
    let total = status.lines().filter(|l| l.contains(" applied ")).count();
    assert!(total >= 2, "{status}");
    let all = run(&["migrate", "down", "--steps", "100"]);
    assert!(all.contains(&format!("reverted {total}")), "{all}");
}

#[tokio::test]
async fn migrate_down_then_up_on_sqlite() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    tokio::task::spawn_blocking(move || migrate_round_trip(&db)).await.unwrap();
}

#[tokio::test]
async fn migrate_down_then_up_on_postgres() {
    let Some(db) = TestDb::new(Backend::Postgres).await else { return };
    tokio::task::spawn_blocking(move || migrate_round_trip(&db)).await.unwrap();
}
