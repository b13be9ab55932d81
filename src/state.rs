//! `AppState`: everything a handler or worker needs, cheap to clone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::Config;
use crate::engine::sandbox::{SandboxFactory, SandboxNetwork};
use crate::http::auth::ApiKey;
use crate::messages::pacing::Pacer;
use crate::messages::{LogWriter, Tracker};
use crate::net::Outbound;
use crate::queue::{self, Persistence, Queue};
use crate::sessions::{EventHub, SessionManager};
use crate::shutdown::Supervisor;
use crate::store::{self, Store};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    /// Present when `redis.url` is configured.
    pub redis: Option<ConnectionManager>,
    pub api_key: ApiKey,
    /// `metrics.token`, when set, guards `/metrics`.
    pub metrics_token: ApiKey,
    pub queue: Queue,
    /// What Redis persists, when Redis is configured.
    pub redis_persistence: Option<Persistence>,
    pub supervisor: Supervisor,
    pub sessions: SessionManager,
    /// The simulated network, when `sandbox.enabled`.
    pub sandbox: Option<Arc<SandboxNetwork>>,
    /// Outbound HTTP behind the SSRF guard.
    pub outbound: Outbound,
    pub pacer: Arc<Pacer>,
    /// Webhook receivers: the SSRF guard (unless `webhooks.allow_private_networks`), no redirects.
    pub webhook_client: Outbound,
    /// Group-committed writes of the message log and send queue.
    pub log_writer: LogWriter,
    /// Uploaded files.
    pub media: crate::media::MediaStore,
    /// Answers of "is this number on WhatsApp", per session.
    pub contact_checks: Arc<crate::contacts::CheckCache>,
    pub started_at: Instant,
}

/// Events buffered for slow subscribers of the event stream.
const EVENT_BUFFER: usize = 16_384;

/// How long startup and health checks wait for Redis.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(3);

impl AppState {
    /// Connects to every configured dependency and applies migrations (unless
    /// disabled). Fails with a message naming what could not be reached.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // Install the recorder before anything records.
        crate::metrics::handle();
        store::ensure_private_dir(&config.storage.data_dir)?;
        warn_if_shared(&config.storage.data_dir);
        let store = store::connect(&config).await?;
        if config.database.run_migrations {
            store::migrate::up(store.pool()).await.context("applying database migrations")?;
        }
        let redis = match config.redis.url.is_empty() {
            true => None,
            false => Some(connect_redis(&config).await?),
        };
        let queue = Queue::from_config(&config, &store, redis.as_ref())?;
        let redis_persistence = match &redis {
            Some(conn) => Some(queue::check_persistence(conn).await),
            None => None,
        };
        match &redis_persistence {
            Some(Persistence::Unknown) => {
                tracing::info!("Redis does not allow CONFIG GET; make sure it persists with AOF")
            }
            Some(p) => {
                if let Some(warning) = p.warning() {
                    tracing::warn!("{warning}");
                }
            }
            None => {}
        }
        tracing::info!(
            database = ?store.kind,
            queue = queue.name(),
            redis = redis.is_some(),
            auth = !config.auth.api_key.is_empty(),
            "dependencies ready"
        );
        if config.auth.api_key.is_empty() {
            tracing::warn!("no API key configured: protected routes answer 503 until API_KEY is set");
        }
        let sandbox = config.sandbox.enabled.then(|| SandboxNetwork::new(config.sandbox.clone()));
        let hub = EventHub::new(EVENT_BUFFER);
        let log_writer = LogWriter::spawn(store.clone(), queue.clone(), hub.clone());
        let contact_checks =
            Arc::new(crate::contacts::CheckCache::new(Duration::from_secs(config.contacts.check_cache_secs)));
        let tracker = Tracker {
            writer: log_writer.clone(),
            hub: hub.clone(),
            preview_chars: config.messages.preview_chars,
            checks: contact_checks.clone(),
            store: store.clone(),
            max_attempts: config.messages.max_attempts,
            push_names: Default::default(),
        };
        let mut sessions = SessionManager::new(store.clone(), hub, config.sessions.clone())
            .with_message_sink(Arc::new(tracker));
        if let Some(network) = &sandbox {
            sessions = sessions.with_engine("sandbox", Arc::new(SandboxFactory { network: network.clone() }));
        }
        if config.whatsapp.enabled {
            let settings = crate::engine::whatsapp::Settings {
                skip_history_sync: config.whatsapp.skip_history_sync,
                http_timeout: Duration::from_secs(config.whatsapp.http_timeout_secs),
            };
            let factory = crate::engine::whatsapp::WhatsAppFactory { pool: store.pool().clone(), settings };
            sessions = sessions.with_engine("whatsapp", Arc::new(factory));
        }
        let outbound = Outbound::new(
            Duration::from_secs(config.outbound.timeout_secs),
            config.outbound.max_redirects,
            config.outbound.allow_private_networks,
        )?;
        let webhook_client = Outbound::new(
            Duration::from_secs(config.webhooks.timeout_secs),
            0,
            config.webhooks.allow_private_networks,
        )?;
        let media =
            crate::media::MediaStore::open(config.media.dir(&config.storage.data_dir), config.media.limits())
                .context("opening the media directory")?;
        Ok(Self {
            contact_checks,
            media,
            webhook_client,
            sessions,
            sandbox,
            outbound,
            pacer: Arc::new(Pacer::default()),
            log_writer,
            api_key: ApiKey::new(&config.auth.api_key),
            metrics_token: ApiKey::new(&config.metrics.token),
            config: Arc::new(config),
            store,
            redis,
            queue,
            redis_persistence,
            supervisor: Supervisor::new(),
            started_at: Instant::now(),
        })
    }
}

async fn connect_redis(config: &Config) -> anyhow::Result<ConnectionManager> {
    let url = &config.redis.url;
    let client = redis::Client::open(url.expose())
        .with_context(|| format!("redis.url {url} is not a valid Redis URL"))?;
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(REDIS_TIMEOUT))
        .set_response_timeout(Some(REDIS_TIMEOUT));
    tokio::time::timeout(REDIS_TIMEOUT * 2, client.get_connection_manager_with_config(manager_config))
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting to Redis at {url}"))?
        .with_context(|| format!("cannot connect to Redis at {url}"))
}

/// The data directory holds session credentials: say so when others can read it.
fn warn_if_shared(dir: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                dir = %dir.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "the data directory is accessible to other users; chmod 700 it"
            );
        }
    }
}
