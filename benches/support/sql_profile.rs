//! Per-statement database time, from sqlx's own statement log
//! (`BENCH_SQL=1`): which statements the run spent its database time in.

use std::collections::HashMap;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, filter};

static STATS: Mutex<Option<HashMap<String, (u64, f64)>>> = Mutex::new(None);

struct Statements;

#[derive(Default)]
struct Fields {
    sql: String,
    elapsed: f64,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        // sqlx leaves `db.statement` empty for short statements (COMMIT,
        // PRAGMA …) and names them only in `summary`.
        let text = value.split_whitespace().collect::<Vec<_>>().join(" ");
        match field.name() {
            "db.statement" if !text.is_empty() => self.sql = text,
            "summary" if self.sql.is_empty() => self.sql = text,
            _ => {}
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed = value;
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let key: String = fields.sql.chars().take(110).collect();
        let mut stats = STATS.lock().unwrap();
        let entry = stats.get_or_insert_with(HashMap::new).entry(key).or_default();
        entry.0 += 1;
        entry.1 += fields.elapsed;
    }
}

/// Starts collecting when `BENCH_SQL` is set.
pub fn install() {
    if std::env::var_os("BENCH_SQL").is_none() {
        return;
    }
    let only_sql = filter::Targets::new().with_target("sqlx::query", tracing::Level::DEBUG);
    tracing_subscriber::registry().with(Statements.with_filter(only_sql)).init();
}

/// Prints the statements with the most total time, and resets.
pub fn report() {
    let Some(stats) = STATS.lock().unwrap().take() else { return };
    let mut rows: Vec<_> = stats.into_iter().collect();
    rows.sort_by(|a, b| b.1.1.total_cmp(&a.1.1));
    let total: f64 = rows.iter().map(|r| r.1.1).sum();
    println!("    database time {total:.2} s in {} statements", rows.iter().map(|r| r.1.0).sum::<u64>());
    for (sql, (n, secs)) in rows.into_iter().take(14) {
        println!("    {secs:7.3} s {n:>7} × {:7.1} µs  {sql}", secs / n as f64 * 1e6);
    }
}
