//! Configuration: one typed tree, loaded once, validated once.
//!
//! Layers (later wins): the embedded `config/default.toml`, an optional file,
//! the conventional variables `API_KEY`, `DATABASE_URL`, `REDIS_URL`, `PORT`,
//! then `WAG_<SECTION>__<KEY>`. Nothing else in the crate reads the
//! environment; everything receives a `Config`.

mod secret;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};
use validator::Validate;

pub use secret::{Secret, SecretUrl, redact_url};

/// The embedded defaults; every key is documented there.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "validate::drain_within_shutdown", skip_on_field_errors = false))]
pub struct Config {
    #[validate(nested)]
    pub server: ServerConfig,
    #[validate(nested)]
    pub auth: AuthConfig,
    #[validate(nested)]
    pub storage: StorageConfig,
    #[validate(nested)]
    pub database: DatabaseConfig,
    #[validate(nested)]
    pub redis: RedisConfig,
    #[validate(nested)]
    pub queue: QueueConfig,
    pub metrics: MetricsConfig,
    #[validate(nested)]
    pub log: LogConfig,
    #[validate(nested)]
    pub shutdown: ShutdownConfig,
    #[validate(nested)]
    pub sessions: SessionsConfig,
    #[validate(nested)]
    pub sandbox: SandboxConfig,
    #[validate(nested)]
    pub messages: MessagesConfig,
    #[validate(nested)]
    pub outbound: OutboundConfig,
    #[validate(nested)]
    pub webhooks: WebhooksConfig,
    #[validate(nested)]
    pub media: MediaConfig,
    #[validate(nested)]
    pub contacts: ContactsConfig,
    #[validate(nested)]
    pub whatsapp: WhatsAppConfig,
}

/// The real WhatsApp engine (whatsapp-rust).
#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppConfig {
    /// Offer `"engine": "whatsapp"` sessions.
    pub enabled: bool,
    /// Ask the phone not to send chat history after linking; the gateway
    /// does not import history into the message log.
    pub skip_history_sync: bool,
    /// Timeout of the engine's HTTP calls (version lookup, media transfer).
    #[validate(range(min = 1, max = 600))]
    pub http_timeout_secs: u64,
}

/// Contacts.
#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ContactsConfig {
    /// How long an answer of "is this number on WhatsApp" is reused.
    #[validate(range(min = 1, max = 604800))]
    pub check_cache_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub host: std::net::IpAddr,
    pub port: u16,
    #[validate(range(min = 1, max = 3600))]
    pub request_timeout_secs: u64,
    #[validate(range(min = 1024, max = 1073741824))]
    pub body_limit_bytes: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[validate(custom(function = "validate::api_key"))]
    pub api_key: Secret,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    #[validate(custom(function = "validate::data_dir"))]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "validate::pool_bounds", skip_on_field_errors = false))]
pub struct DatabaseConfig {
    #[validate(custom(function = "validate::database_url"))]
    pub url: SecretUrl,
    #[validate(range(min = 1, max = 1000))]
    pub max_connections: u32,
    pub min_connections: u32,
    #[validate(range(min = 1, max = 300))]
    pub acquire_timeout_secs: u64,
    #[validate(range(min = 1, max = 86400))]
    pub idle_timeout_secs: u64,
    pub run_migrations: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    #[validate(custom(function = "validate::redis_url"))]
    pub url: SecretUrl,
    #[validate(length(min = 1, max = 64), custom(function = "validate::key_prefix"))]
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// When set, `/metrics` requires `Authorization: Bearer <token>`.
    pub token: Secret,
}

/// Session lifecycle: reconnection, the circuit breaker, restore at startup.
#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct SessionsConfig {
    #[validate(range(min = 10, max = 600000))]
    pub reconnect_base_ms: u64,
    #[validate(range(min = 10, max = 3600000))]
    pub reconnect_max_ms: u64,
    #[validate(range(min = 0.0, max = 0.5))]
    pub reconnect_jitter: f64,
    /// 0 = never give up.
    pub reconnect_max_attempts: u32,
    #[validate(range(min = 1, max = 1000))]
    pub breaker_threshold: u32,
    #[validate(range(min = 1, max = 86400))]
    pub breaker_cooldown_secs: u64,
    #[validate(range(min = 1, max = 600))]
    pub connect_timeout_secs: u64,
    pub restore_on_startup: bool,
    #[validate(range(min = 1, max = 1024))]
    pub restore_concurrency: usize,
    #[validate(range(min = 8, max = 65536))]
    pub event_buffer: usize,
    /// Decline every incoming call at once (a session's metadata
    /// `calls.reject` overrides it).
    pub reject_calls: bool,
    /// Sent to the caller after an automatic reject; empty: nothing.
    #[validate(length(max = 4096))]
    pub reject_call_message: String,
}

impl SessionsConfig {
    pub fn backoff(&self) -> crate::sessions::Backoff {
        crate::sessions::Backoff {
            base: Duration::from_millis(self.reconnect_base_ms),
            max: Duration::from_millis(self.reconnect_max_ms.max(self.reconnect_base_ms)),
            jitter: self.reconnect_jitter,
            max_attempts: self.reconnect_max_attempts,
            breaker_threshold: self.breaker_threshold,
            breaker_cooldown: Duration::from_secs(self.breaker_cooldown_secs),
        }
    }
}

/// Sending, pacing and the message log.
#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct MessagesConfig {
    #[validate(range(min = 1, max = 4096))]
    pub concurrency: usize,
    #[validate(range(min = 1, max = 100))]
    pub max_attempts: u32,
    #[validate(range(min = 1024, max = 104857600))]
    pub max_media_bytes: u64,
    #[validate(range(min = 1024, max = 157286400))]
    pub max_request_bytes: usize,
    #[validate(range(max = 4096))]
    pub preview_chars: usize,
    pub retention_days: u32,
    #[validate(range(min = 1, max = 720))]
    pub idempotency_ttl_hours: u64,
    pub pacing_enabled: bool,
    #[validate(range(min = 0.01, max = 1000.0))]
    pub pacing_per_second: f64,
    #[validate(range(min = 1, max = 10000))]
    pub pacing_burst: u32,
    #[validate(range(max = 60000))]
    pub pacing_jitter_ms: u64,
    #[validate(range(max = 60000))]
    pub typing_ms: u64,
    /// A message at `sent` this long without a receipt is sent again (same
    /// WhatsApp id); 0 turns resending off.
    #[validate(range(max = 604800))]
    pub resend_after_secs: u64,
    #[validate(range(max = 10))]
    pub max_resends: u32,
}

/// Webhook delivery.
#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// A webhook receiving every session's events (empty: none).
    pub url: String,
    /// Its Standard Webhooks secret (`whsec_…`); required with `url`.
    pub secret: Secret,
    pub events: Vec<String>,
    #[validate(range(min = 1, max = 120))]
    pub timeout_secs: u64,
    #[validate(length(min = 1, max = 50))]
    pub retry_schedule_secs: Vec<u64>,
    #[validate(range(min = 1, max = 100))]
    pub max_attempts: u32,
    #[validate(range(min = 0.0, max = 1.0))]
    pub retry_jitter: f64,
    #[validate(range(min = 1, max = 1024))]
    pub concurrency: usize,
    pub allow_private_networks: bool,
    /// When not empty, receivers must be one of these hosts or their subdomains.
    pub allowed_domains: Vec<String>,
    /// A delivery never attempted after this long is queued again (a crash
    /// between storing it and queueing it); 0 turns the check off.
    #[validate(range(max = 86400))]
    pub requeue_after_secs: u64,
}

/// Uploaded media (`POST /media`, `POST /sessions/{id}/message/media`).
#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// Where uploads are kept (0700); empty: `<storage.data_dir>/media`.
    pub dir: String,
    #[validate(range(min = 1024, max = 2_000_000_000))]
    pub max_bytes: u64,
    /// Per-type caps; 0 = `max_bytes`.
    pub image_max_bytes: u64,
    pub video_max_bytes: u64,
    pub audio_max_bytes: u64,
    #[validate(range(min = 1, max = 720))]
    pub ttl_hours: u64,
    #[validate(range(min = 1, max = 600))]
    pub read_timeout_secs: u64,
}

impl MediaConfig {
    pub fn dir(&self, data_dir: &std::path::Path) -> PathBuf {
        if self.dir.is_empty() { data_dir.join("media") } else { PathBuf::from(&self.dir) }
    }

    pub fn limits(&self) -> crate::media::Limits {
        crate::media::Limits {
            max_bytes: self.max_bytes,
            image_max_bytes: self.image_max_bytes,
            video_max_bytes: self.video_max_bytes,
            audio_max_bytes: self.audio_max_bytes,
            read_timeout: std::time::Duration::from_secs(self.read_timeout_secs),
            ttl: std::time::Duration::from_secs(self.ttl_hours * 3600),
        }
    }
}

/// Outbound HTTP (media URLs).
#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    pub allow_private_networks: bool,
    #[validate(range(min = 1, max = 600))]
    pub timeout_secs: u64,
    #[validate(range(max = 20))]
    pub max_redirects: usize,
}

/// The simulated WhatsApp network.
#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    pub enabled: bool,
    #[validate(range(max = 600000))]
    pub delivered_after_ms: u64,
    #[validate(range(max = 600000))]
    pub read_after_ms: u64,
    #[validate(range(min = 1, max = 3600))]
    pub qr_interval_secs: u64,
}

/// Where jobs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueBackendKind {
    /// Redis when `redis.url` is set, otherwise the database.
    Auto,
    Redis,
    /// The configured database (SQLite or PostgreSQL), even if Redis is set.
    Database,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub backend: QueueBackendKind,
    #[validate(range(min = 1, max = 3600))]
    pub lease_secs: u64,
    #[validate(range(min = 10, max = 10000))]
    pub poll_interval_ms: u64,
    #[validate(range(min = 1, max = 1000))]
    pub batch: usize,
    #[validate(length(min = 1, max = 50), custom(function = "validate::retry_schedule"))]
    pub retry_schedule_secs: Vec<u64>,
    #[validate(range(min = 1, max = 1000))]
    pub max_attempts: u32,
    #[validate(range(min = 0.0, max = 1.0))]
    pub retry_jitter: f64,
    #[validate(range(min = 60, max = 31536000))]
    pub retention_secs: u64,
    #[validate(range(min = 1, max = 3600))]
    pub drain_timeout_secs: u64,
}

impl QueueConfig {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn retry_policy(&self) -> crate::queue::RetryPolicy {
        crate::queue::RetryPolicy {
            schedule: self.retry_schedule_secs.iter().map(|s| Duration::from_secs(*s)).collect(),
            jitter: self.retry_jitter,
        }
    }

    /// The settings every worker starts from; consumers set queue and concurrency.
    pub fn worker(&self, queue: &str, concurrency: usize) -> crate::queue::WorkerConfig {
        crate::queue::WorkerConfig {
            queue: queue.to_owned(),
            concurrency,
            batch: self.batch,
            lease: self.lease(),
            poll_interval: self.poll_interval(),
            retry: self.retry_policy(),
            drain_timeout: Duration::from_secs(self.drain_timeout_secs),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    #[validate(custom(function = "validate::log_level"))]
    pub level: String,
    /// Log one successful request in this many (errors always).
    #[validate(range(min = 1, max = 100000))]
    pub request_sample: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    #[validate(range(min = 1, max = 3600))]
    pub timeout_secs: u64,
}

/// Why the configuration could not be used. Each message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid configuration:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

/// Which database the gateway talks to, derived from `database.url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl Config {
    /// Loads defaults, `file`, then the process environment, and validates.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Self::defaults();
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        Self::from_figment(figment.merge(Self::env()))
    }

    /// The embedded defaults alone, as a figment to layer on (tests use this).
    pub fn defaults() -> Figment {
        Figment::from(Toml::string(DEFAULT_TOML))
    }

    /// The environment layers: conventional names first, `WAG_` last.
    fn env() -> Figment {
        let conventional = Env::raw().filter_map(|key| {
            let path = match key.as_str() {
                k if k.eq_ignore_ascii_case("API_KEY") => "auth.api_key",
                k if k.eq_ignore_ascii_case("DATABASE_URL") => "database.url",
                k if k.eq_ignore_ascii_case("REDIS_URL") => "redis.url",
                k if k.eq_ignore_ascii_case("PORT") => "server.port",
                _ => return None,
            };
            Some(path.into())
        });
        // WAG_CONFIG names the file, not a key: keep it out of the tree.
        let prefixed = Env::prefixed("WAG_").ignore(&["CONFIG"]).split("__");
        Figment::new().merge(conventional).merge(prefixed)
    }

    /// Extracts and validates; the single gate every config passes through.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate().map_err(|e| ConfigError::Invalid(validate::flatten(&e)))?;
        Ok(config)
    }

    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.server.host, self.server.port)
    }

    /// The database URL in use: the configured one, or the embedded SQLite file.
    pub fn database_url(&self) -> SecretUrl {
        if self.database.url.is_empty() {
            let path = self.storage.data_dir.join("wa-gateway.db");
            SecretUrl::new(format!("sqlite://{}", path.display()))
        } else {
            self.database.url.clone()
        }
    }

    pub fn database_kind(&self) -> DatabaseKind {
        if validate::is_postgres_url(self.database_url().expose()) {
            DatabaseKind::Postgres
        } else {
            DatabaseKind::Sqlite
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.server.request_timeout_secs)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown.timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(toml: &str) -> Result<Config, ConfigError> {
        Config::from_figment(Config::defaults().merge(Toml::string(toml)))
    }

    fn errors(toml: &str) -> String {
        with(toml).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_valid_and_use_embedded_sqlite() {
        let config = with("").unwrap();
        assert_eq!(config.database_kind(), DatabaseKind::Sqlite);
        assert_eq!(config.database_url().expose(), "sqlite://./data/wa-gateway.db");
        assert!(config.auth.api_key.is_empty());
    }

    #[test]
    fn short_api_key_is_refused_naming_the_key() {
        let msg = errors("[auth]\napi_key = \"0123456789\"");
        assert!(msg.contains("auth.api_key"), "{msg}");
        assert!(msg.contains("at least 32"), "{msg}");
        assert!(!msg.contains("0123456789"), "the key itself must not be echoed: {msg}");
    }

    #[test]
    fn api_key_with_forbidden_characters_is_refused() {
        let msg = errors("[auth]\napi_key = \"abcdefghijklmnopqrstuvwxyz012345 6\"");
        assert!(msg.contains("auth.api_key"), "{msg}");
    }

    #[test]
    fn good_api_key_is_accepted() {
        with("[auth]\napi_key = \"abcdefghijklmnopqrstuvwxyz0123456789+/=._~-\"").unwrap();
    }

    #[test]
    fn bad_values_name_their_keys() {
        let msg = errors(
            "[server]\nrequest_timeout_secs = 0\n[database]\nurl = \"mysql://x\"\nmax_connections = 2\nmin_connections = 5\n[log]\nlevel = \"wa_gateway=loud\"",
        );
        for key in ["server.request_timeout_secs", "database.url", "database.min_connections", "log.level"] {
            assert!(msg.contains(key), "{key} missing from: {msg}");
        }
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused() {
        assert!(errors("[server]\nprot = 1").contains("prot"));
        assert!(errors("[server]\nport = \"high\"").contains("port"));
    }

    #[test]
    fn data_dir_inside_a_web_root_is_refused() {
        for bad in ["./public/data", "/var/www/html/wa", "/srv/app/Static/keys", ""] {
            let errs = errors(&format!("[storage]\ndata_dir = \"{bad}\""));
            assert!(errs.contains("storage.data_dir"), "{bad}: {errs}");
        }
        assert!(with("[storage]\ndata_dir = \"/var/lib/wa-gateway\"").is_ok());
    }

    #[test]
    fn postgres_url_selects_postgres() {
        let config = with("[database]\nurl = \"postgres://u:p@h/d\"").unwrap();
        assert_eq!(config.database_kind(), DatabaseKind::Postgres);
        assert!(!format!("{config:?}").contains(":p@"));
    }
}
