//! Messaging throughput over the real HTTP API with the sandbox engine:
//! accepted sends per second with p50/p99 latency, next to a trivial route
//! (`GET /health/live`) of the same binary in the same run, and end-to-end
//! messages per second until every message is `delivered`. Pacing is off
//! unless `WAGB_MESSAGES__PACING_ENABLED=true` (then only intake is measured).
//!
//! ```sh
//! cargo bench --bench messaging                    # SQLite, then PostgreSQL + Redis; 5,000 messages
//! cargo bench --bench messaging -- postgres 20000  # one setup, 20,000 messages
//! ```
//!
//! PostgreSQL and Redis come from `WAG_TEST_DATABASE_URL` / `WAG_TEST_REDIS_URL`.
//! `BENCH_WEBHOOK=1` subscribes a local receiver to every event of the
//! session and reports how many webhooks reached it and how fast.

#[path = "support/sql_profile.rs"]
mod sql_profile;
#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use figment::providers::{Env, Format, Toml};
use serde_json::json;
use support::TempPostgres;
use tokio::net::TcpListener;
use wa_gateway::store::Pool;
use wa_gateway::{AppState, Config};

const KEY: &str = "bench-api-key-0123456789abcdefghijklmnop";
/// Concurrent clients unless `BENCH_CLIENTS` says otherwise.
const CLIENTS: usize = 32;

fn clients() -> usize {
    std::env::var("BENCH_CLIENTS").ok().and_then(|c| c.parse().ok()).filter(|&c| c > 0).unwrap_or(CLIENTS)
}

fn config(data_dir: &str, db_url: &str, redis_url: &str, prefix: &str) -> Config {
    let mut toml = format!(
        "[auth]\napi_key = \"{KEY}\"\n[storage]\ndata_dir = \"{data_dir}\"\n[database]\nurl = \"{db_url}\"\nmax_connections = 16\n\
         [redis]\nurl = \"{redis_url}\"\nkey_prefix = \"{prefix}\"\n[messages]\npacing_enabled = false\nconcurrency = 64\n\
         [sandbox]\ndelivered_after_ms = 0\nread_after_ms = 0\n[queue]\npoll_interval_ms = 10\nbatch = 64\n[log]\nlevel = \"warn\"\n"
    );
    if webhook() {
        toml.push_str("[webhooks]\nallow_private_networks = true\n");
    }
    // `WAGB_SECTION__KEY=value` overrides a setting for an experiment.
    let figment = Config::defaults().merge(Toml::string(&toml)).merge(Env::prefixed("WAGB_").split("__"));
    Config::from_figment(figment).expect("bench config")
}

fn webhook() -> bool {
    std::env::var_os("BENCH_WEBHOOK").is_some()
}

/// The value of a series (its name and labels as the page prints them) in a
/// Prometheus text page; 0 when absent.
fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Runs `n` requests from `clients()` concurrent clients; returns (elapsed, sorted latencies).
async fn load<F, Fut>(n: usize, make: F) -> (Duration, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients() {
        let (make, next) = (make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return lat;
                }
                let t = Instant::now();
                make(i).await;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    (started.elapsed(), all)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Outgoing messages not yet delivered (or read). Counts the shrinking set
/// through the status index rather than every delivered row: the poll must
/// not load the database it measures.
async fn pending(pool: &Pool) -> i64 {
    let sql = "SELECT status, COUNT(*) FROM message_logs WHERE status IN ('queued', 'sent', 'failed') GROUP BY status";
    let counts: Vec<(String, i64)> = match pool {
        Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    };
    if let Some((_, failed)) = counts.iter().find(|(status, _)| status == "failed") {
        panic!("{failed} messages failed");
    }
    counts.iter().map(|(_, n)| n).sum()
}

async fn bench(setup: &str, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let mut temp_db = None;
    let (db_url, redis_url) = match setup {
        "postgres" => {
            let Some(db) = TempPostgres::create().await else {
                println!("postgres: not reachable, skipped");
                return;
            };
            let url = db.url.clone();
            temp_db = Some(db);
            (url, support::redis_url())
        }
        _ => (format!("sqlite://{data_dir}/bench.db"), String::new()),
    };
    let prefix = format!("wagbench{}", uuid::Uuid::now_v7().simple());
    let config = config(&data_dir, &db_url, &redis_url, &prefix);
    // With pacing on (`WAGB_MESSAGES__PACING_ENABLED=true`, the default
    // settings) sends leave at the paced rate: only intake is measured.
    let paced = config.messages.pacing_enabled;
    let state = AppState::build(config).await.unwrap();
    let pool = state.store.pool().clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(wa_gateway::serve(state.clone(), listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().pool_max_idle_per_host(clients()).build().unwrap();
    let post = |path: &str, body: serde_json::Value| {
        client.post(format!("{base}{path}")).header("x-api-key", KEY).json(&body).send()
    };
    post("/sessions", json!({"id": "bench"})).await.unwrap();
    while state.sessions.qr("bench").is_err() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let linked = post("/sandbox/sessions/bench/link", json!({"phone": "491700000001"})).await.unwrap();
    assert!(linked.status().is_success());
    let received = if webhook() {
        let (url, count) = support::counting_receiver().await;
        let res = post("/sessions/bench/webhooks", json!({"url": url, "events": ["*"]})).await.unwrap();
        assert_eq!(res.status(), 201);
        Some(count)
    } else {
        None
    };

    // The trivial route first, same clients and concurrency.
    let (c, b) = (client.clone(), base.clone());
    let (t_took, t_lat) = load(n, move |_| {
        let (c, b) = (c.clone(), b.clone());
        async move {
            let res = c.get(format!("{b}/health/live")).send().await.unwrap();
            assert!(res.status().is_success());
        }
    })
    .await;

    let (c, b) = (client.clone(), base.clone());
    let started = Instant::now();
    let (s_took, s_lat) = load(n, move |i| {
        let (c, b) = (c.clone(), b.clone());
        async move {
            let body = json!({"to": format!("49171{:07}", i % 1000), "text": format!("bench {i}")});
            let res = c
                .post(format!("{b}/sessions/bench/message"))
                .header("x-api-key", KEY)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 202);
        }
    })
    .await;
    while !paced && pending(&pool).await > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let e2e = started.elapsed();
    let e2e = if paced {
        "not measured (paced)".to_owned()
    } else {
        format!("{:>6.0} msg/s ({:.1} s)", n as f64 / e2e.as_secs_f64(), e2e.as_secs_f64())
    };

    let trivial = n as f64 / t_took.as_secs_f64();
    let sends = n as f64 / s_took.as_secs_f64();
    println!(
        "{setup:>8}: {n} messages, {} clients | trivial route {trivial:>7.0} req/s (p50 {:.2} ms, p99 {:.2} ms) | \
         accepted sends {sends:>6.0} req/s (p50 {:.2} ms, p99 {:.2} ms) = {:.0} % | end-to-end to delivered {e2e}",
        clients(),
        pct(&t_lat, 0.5),
        pct(&t_lat, 0.99),
        pct(&s_lat, 0.5),
        pct(&s_lat, 0.99),
        sends / trivial * 100.0,
    );
    if let Some(count) = received {
        // What the session published since the subscription: a `message.sent`
        // and a `message.status` per step (a receipt that overtakes the send
        // leaves out the `sent` pair).
        let published = |text: &str| {
            counter(text, "wag_events_published_total{event=\"message.status\"}")
                + counter(text, "wag_events_published_total{event=\"message.sent\"}")
        };
        let (mut want, mut seen, mut still) = (f64::INFINITY, 0, Instant::now());
        while (count.load(Ordering::Relaxed) as f64) < want && still.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
            want = published(&text);
            let now = count.load(Ordering::Relaxed);
            if now != seen {
                (seen, still) = (now, Instant::now());
            }
        }
        let got = count.load(Ordering::Relaxed);
        let took = started.elapsed() - if (got as f64) < want { still.elapsed() } else { Duration::ZERO };
        let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        println!(
            "    webhooks: {got} of {want:.0} events received, {:.0}/s from the first send ({:.1} s); \
             dispatch retries: {:.0}",
            got as f64 / took.as_secs_f64(),
            took.as_secs_f64(),
            counter(&text, "wag_webhook_dispatch_retries_total"),
        );
        let shown =
            ["wag_webhook_deliveries_total", "wag_event_backlog", "wag_webhook_dispatch_seconds_count"];
        for line in text.lines().filter(|l| shown.iter().any(|s| l.starts_with(s))) {
            println!("      {line}");
        }
    }
    if std::env::var_os("BENCH_BREAKDOWN").is_some() {
        let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        breakdown(&text);
    }
    sql_profile::report();
    let _ = stop.send(());
    let _ = server.await;
    if let Some(db) = temp_db {
        db.drop().await;
        support::drop_redis_keys(&redis_url, &prefix);
    }
}

/// Where the time went (`BENCH_BREAKDOWN=1`): per histogram series of the
/// gateway's own metrics, how often it was recorded and its mean. Metrics
/// are process-wide, so this is for single-setup runs.
fn breakdown(metrics: &str) {
    let wanted = [
        "wag_write_batch_",
        "wag_db_write_gate",
        "wag_queue_run_seconds",
        "wag_queue_wait_seconds",
        "wag_http_request_duration",
        "wag_sqlite_",
    ];
    for line in metrics.lines().filter(|l| wanted.iter().any(|w| l.starts_with(w))) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Some(base) = series.split('{').next().and_then(|n| n.strip_suffix("_sum")) else { continue };
        let labels = series.split_once('{').map_or("", |(_, l)| l);
        let count_line = format!("{base}_count{{{labels} ");
        let count: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&count_line))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0.0);
        let sum: f64 = value.parse().unwrap_or(0.0);
        if count > 0.0 {
            println!("    {base}{{{labels}: n={count:.0} sum={sum:.3} mean={:.4}", sum / count);
        }
    }
}

#[tokio::main]
async fn main() {
    sql_profile::install();
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let setups = match args.first().map(String::as_str) {
        Some(k @ ("postgres" | "sqlite")) => vec![k.to_owned()],
        _ => vec!["sqlite".to_owned(), "postgres".to_owned()],
    };
    let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(5000);
    for setup in setups {
        bench(&setup, n).await;
    }
}
