//! Validation rules that `validator`'s built-ins do not cover, and the
//! flattening of its error tree into one line per offending key.

use std::borrow::Cow;

use validator::{ValidationError, ValidationErrors, ValidationErrorsKind};

use super::{Config, DatabaseConfig, Secret, SecretUrl};

/// Shortest API key accepted: 32 characters of a base64/url-safe alphabet
/// give well over 128 bits when generated randomly.
pub const MIN_API_KEY_LEN: usize = 32;

fn error(code: &'static str, message: impl Into<Cow<'static, str>>) -> ValidationError {
    ValidationError::new(code).with_message(message.into())
}

pub fn api_key(key: &Secret) -> Result<(), ValidationError> {
    let key = key.expose();
    if key.is_empty() {
        // Not configured: allowed, the API then fails closed with 503.
        return Ok(());
    }
    if key.len() < MIN_API_KEY_LEN {
        return Err(error(
            "too_short",
            format!("must be at least {MIN_API_KEY_LEN} characters (got {})", key.len()),
        ));
    }
    if !key.bytes().all(is_api_key_byte) {
        return Err(error("charset", "may only contain A-Z a-z 0-9 . _ ~ + / = -"));
    }
    Ok(())
}

/// Directory names web servers conventionally serve. Session credentials
/// must never sit where a misconfigured web server would hand them out.
const WEB_ROOTS: [&str; 7] = ["public", "static", "www", "wwwroot", "htdocs", "public_html", "html"];

pub fn data_dir(dir: &std::path::Path) -> Result<(), ValidationError> {
    if dir.as_os_str().is_empty() {
        return Err(error("empty", "must not be empty"));
    }
    let served = dir.components().find_map(|c| match c {
        std::path::Component::Normal(name) => {
            let name = name.to_string_lossy().to_ascii_lowercase();
            WEB_ROOTS.contains(&name.as_str()).then_some(name)
        }
        _ => None,
    });
    if let Some(name) = served {
        return Err(error(
            "served",
            format!("must not be inside a web root ({name}/): it holds WhatsApp credentials"),
        ));
    }
    Ok(())
}

pub fn is_api_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b)
}

pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

pub fn database_url(url: &SecretUrl) -> Result<(), ValidationError> {
    let url = url.expose();
    if url.is_empty() || is_postgres_url(url) || url.starts_with("sqlite:") {
        Ok(())
    } else {
        Err(error("scheme", "must start with postgres://, postgresql:// or sqlite:"))
    }
}

pub fn redis_url(url: &SecretUrl) -> Result<(), ValidationError> {
    let url = url.expose();
    if url.is_empty() || url.starts_with("redis://") || url.starts_with("rediss://") {
        Ok(())
    } else {
        Err(error("scheme", "must start with redis:// or rediss://"))
    }
}

pub fn key_prefix(prefix: &str) -> Result<(), ValidationError> {
    if prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) {
        Ok(())
    } else {
        Err(error("charset", "may only contain A-Z a-z 0-9 _ - ."))
    }
}

pub fn log_level(level: &str) -> Result<(), ValidationError> {
    tracing_subscriber::EnvFilter::builder()
        .parse(level)
        .map(|_| ())
        .map_err(|e| error("filter", format!("is not a valid log filter: {e}")))
}

pub fn pool_bounds(db: &DatabaseConfig) -> Result<(), ValidationError> {
    if db.min_connections > db.max_connections {
        return Err(error(
            "min_connections",
            "database.min_connections must not exceed database.max_connections",
        ));
    }
    Ok(())
}

pub fn retry_schedule(schedule: &[u64]) -> Result<(), ValidationError> {
    if schedule.iter().all(|s| (1..=604_800).contains(s)) {
        Ok(())
    } else {
        Err(error("range", "every delay must be between 1 and 604800 seconds"))
    }
}

/// Workers must finish draining before the process gives up on shutdown.
pub fn drain_within_shutdown(config: &Config) -> Result<(), ValidationError> {
    if config.queue.drain_timeout_secs >= config.shutdown.timeout_secs {
        return Err(error("drain", "queue.drain_timeout_secs must be smaller than shutdown.timeout_secs"));
    }
    let hooks = &config.webhooks;
    if !hooks.url.is_empty() {
        let ok = url::Url::parse(&hooks.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(error("webhook_url", "webhooks.url must be an http(s) URL"));
        }
        if crate::webhooks::signing::Secret::parse(hooks.secret.expose()).is_err() {
            return Err(error(
                "webhook_secret",
                "webhooks.secret must be whsec_ followed by base64 when webhooks.url is set",
            ));
        }
    }
    Ok(())
}

/// One `path: message` line per failed rule, sorted for stable output.
pub fn flatten(errors: &ValidationErrors) -> Vec<String> {
    let mut lines = Vec::new();
    walk(errors, "", &mut lines);
    lines.sort();
    lines
}

fn walk(errors: &ValidationErrors, prefix: &str, out: &mut Vec<String>) {
    for (field, kind) in errors.errors() {
        let path = match (prefix.is_empty(), field.as_ref()) {
            (_, "__all__") => prefix.to_owned(),
            (true, f) => f.to_owned(),
            (false, f) => format!("{prefix}.{f}"),
        };
        match kind {
            ValidationErrorsKind::Struct(inner) => walk(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    walk(inner, &format!("{path}[{i}]"), out);
                }
            }
            ValidationErrorsKind::Field(errs) => {
                for e in errs {
                    out.push(format!("{path}: {}", describe(e)));
                }
            }
        }
    }
}

fn describe(e: &ValidationError) -> String {
    if let Some(message) = &e.message {
        return message.to_string();
    }
    match e.code.as_ref() {
        "range" => {
            let min = e.params.get("min").map(|v| v.to_string());
            let max = e.params.get("max").map(|v| v.to_string());
            let value = e.params.get("value").map(|v| v.to_string()).unwrap_or_default();
            format!(
                "must be between {} and {} (got {value})",
                min.unwrap_or_else(|| "-".into()),
                max.unwrap_or_else(|| "-".into())
            )
        }
        "length" => "has the wrong length".into(),
        code => format!("is invalid ({code})"),
    }
}
