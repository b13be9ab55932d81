//! Logging setup: JSON lines in production, pretty in development.
//!
//! Every line inside a request carries its `request_id` (the span set by the
//! request-id middleware). Secrets are kept out by construction: config types
//! redact themselves and no code logs headers or bodies.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. `RUST_LOG`, when set, overrides
/// `log.level`. Safe to call twice (the second call does nothing).
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::builder().parse(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_writer(std::io::stdout);
    let result = match config.format {
        LogFormat::Json => {
            builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
        }
        LogFormat::Pretty => builder.compact().try_init(),
    };
    // Already installed (tests start several apps in one process).
    drop(result);
}
