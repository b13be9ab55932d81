//! Persistence: repositories over sqlx, on PostgreSQL or the embedded SQLite.
//!
//! Layout:
//! - `repos.rs`   the traits the rest of the gateway depends on;
//! - `models.rs`  rows and inputs;
//! - `backend.rs` the single SQL implementation, instantiated per database;
//! - `connect.rs` pool construction from config (SQLite file in WAL mode);
//! - `checkpoint.rs` SQLite WAL checkpoints in the background;
//! - `gate.rs`, `writer.rs`, `script.rs` SQLite's one writer: turns, its held
//!   connection, and transactions in one hand-off;
//! - `polls.rs`, `chats.rs`, `contacts.rs`, `labels.rs` polls and votes,
//!   per-chat settings, contacts' names, labels (repositories of their own,
//!   both databases);
//! - `migrate.rs` reversible migrations from `migrations/<backend>/`.

mod backend;
mod chats;
mod checkpoint;
mod connect;
mod contacts;
mod gate;
mod labels;
pub mod migrate;
pub mod models;
mod polls;
pub mod repos;
mod script;
mod versioned;
mod writer;

use std::sync::Arc;

pub use backend::SqlBackend;
pub use chats::{ChatSettings, ChatSettingsChange, ChatSettingsRepo};
pub use connect::{connect, ensure_private_dir};
pub use contacts::{Contact, ContactChange, ContactRepo};
pub use gate::{Class as GateClass, Turn, WriteGate};
pub use labels::{Label, LabelRepo};
pub use models::*;
pub use polls::{NewPoll, Poll, PollRepo, PollVote};
pub use repos::*;
pub(crate) use script::ScriptTx;
pub use writer::{Writer, WriterConn};

use sqlx::{Database, QueryBuilder};

use crate::config::DatabaseKind;

/// Why a repository call failed, in terms callers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated: the thing already exists.
    #[error("already exists ({constraint})")]
    Conflict { constraint: String },
    /// A referenced row (usually the session) does not exist.
    #[error("referenced row does not exist")]
    MissingReference,
    /// Text the database cannot hold (PostgreSQL refuses the NUL character).
    #[error("text the database cannot store: {0}")]
    InvalidText(#[source] sqlx::Error),
    /// No connection could be had in time: the database is down or saturated.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict { constraint: db.constraint().unwrap_or("unique").to_owned() }
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::MissingReference,
            // character_not_in_repertoire, untranslatable_character
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("22021" | "22P05")) => {
                StoreError::InvalidText(e)
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e)
            }
            _ => StoreError::Other(e),
        }
    }
}

/// Every repository, cheap to clone, backend hidden.
#[derive(Clone)]
pub struct Store {
    pub kind: DatabaseKind,
    pub sessions: Arc<dyn SessionRepo>,
    pub templates: Arc<dyn TemplateRepo>,
    pub message_logs: Arc<dyn MessageLogRepo>,
    pub webhooks: Arc<dyn WebhookRepo>,
    pub deliveries: Arc<dyn WebhookDeliveryRepo>,
    pub session_events: Arc<dyn SessionEventRepo>,
    pub credentials: Arc<dyn CredentialRepo>,
    pub idempotency: Arc<dyn IdempotencyRepo>,
    pub polls: Arc<dyn PollRepo>,
    pub chats: Arc<dyn ChatSettingsRepo>,
    pub contacts: Arc<dyn ContactRepo>,
    pub labels: Arc<dyn LabelRepo>,
    probe: Arc<dyn Probe>,
    /// Bumped by every subscription change made through this store.
    webhooks_version: Arc<std::sync::atomic::AtomicU64>,
    pool: Pool,
    /// SQLite: the one connection the gated writes share (None on
    /// PostgreSQL, whose gated writes use the pool).
    writer: Option<Writer<sqlx::Sqlite>>,
    gate: WriteGate,
}

/// The repositories of their own (not on `SqlBackend`).
type Repos = (Arc<dyn PollRepo>, Arc<dyn ChatSettingsRepo>, Arc<dyn ContactRepo>, Arc<dyn LabelRepo>);

/// The underlying pool, for the few subsystems (migrations, the queue, the
/// WhatsApp key store) that need the connection itself.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Store {
    /// The SQLite WAL checkpointer (see `checkpoint`), to run until
    /// `token` is cancelled; None on PostgreSQL.
    pub fn checkpointer(
        &self,
        token: tokio_util::sync::CancellationToken,
    ) -> Option<impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static> {
        match &self.pool {
            Pool::Sqlite(p) => Some(checkpoint::run(p.clone(), self.gate.clone(), token)),
            Pool::Postgres(_) => None,
        }
    }

    pub fn new(pool: Pool) -> Self {
        match pool {
            Pool::Sqlite(p) => {
                let gate = WriteGate::serial();
                let writer = Writer::held_like(&p);
                Self::from_backend(
                    DatabaseKind::Sqlite,
                    Arc::new(SqlBackend::new(p.clone()).with_writer(gate.clone(), writer.clone())),
                    (Pool::Sqlite(p.clone()), Some(writer)),
                    gate,
                    (
                        Arc::new(polls::SqlPolls::new(p.clone())),
                        Arc::new(chats::SqlChats::new(p.clone())),
                        Arc::new(contacts::SqlContacts::new(p.clone())),
                        Arc::new(labels::SqlLabels::new(p)),
                    ),
                )
            }
            Pool::Postgres(p) => Self::from_backend(
                DatabaseKind::Postgres,
                Arc::new(SqlBackend::new(p.clone())),
                (Pool::Postgres(p.clone()), None),
                WriteGate::open(),
                (
                    Arc::new(polls::SqlPolls::new(p.clone())),
                    Arc::new(chats::SqlChats::new(p.clone())),
                    Arc::new(contacts::SqlContacts::new(p.clone())),
                    Arc::new(labels::SqlLabels::new(p)),
                ),
            ),
        }
    }

    fn from_backend<B>(
        kind: DatabaseKind,
        backend: Arc<B>,
        (pool, writer): (Pool, Option<Writer<sqlx::Sqlite>>),
        gate: WriteGate,
        (polls, chats, contacts, labels): Repos,
    ) -> Self
    where
        B: SessionRepo
            + TemplateRepo
            + MessageLogRepo
            + WebhookRepo
            + WebhookDeliveryRepo
            + SessionEventRepo
            + CredentialRepo
            + IdempotencyRepo
            + Probe
            + 'static,
    {
        let webhooks_version = Arc::new(std::sync::atomic::AtomicU64::new(0));
        Self {
            kind,
            sessions: backend.clone(),
            templates: backend.clone(),
            message_logs: backend.clone(),
            webhooks: Arc::new(versioned::Versioned::new(backend.clone(), webhooks_version.clone())),
            deliveries: backend.clone(),
            session_events: backend.clone(),
            credentials: backend.clone(),
            idempotency: backend.clone(),
            polls,
            chats,
            contacts,
            labels,
            probe: backend,
            webhooks_version,
            pool,
            writer,
            gate,
        }
    }

    /// Changes with every webhook subscription created, changed or removed
    /// through this store: caches of subscriptions compare it.
    pub fn webhooks_version(&self) -> u64 {
        self.webhooks_version.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The gate the hot write paths share (the SQL queue takes it too).
    pub fn write_gate(&self) -> WriteGate {
        self.gate.clone()
    }

    /// SQLite: the connection the gated writes run on (the SQL queue's
    /// too); None on PostgreSQL.
    pub fn sqlite_writer(&self) -> Option<&Writer<sqlx::Sqlite>> {
        self.writer.as_ref()
    }

    /// One round trip to the database.
    pub async fn ping(&self) -> StoreResult<()> {
        self.probe.ping().await
    }

    /// Connections (in use, idle) right now.
    pub fn pool_usage(&self) -> (u32, u32) {
        let (size, idle) = match &self.pool {
            Pool::Sqlite(p) => (p.size(), p.num_idle()),
            Pool::Postgres(p) => (p.size(), p.num_idle()),
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        (size.saturating_sub(idle), idle)
    }

    /// Waits for checked-out connections to return, then closes them.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// Pushes ` IN (?, ?, …)` for `items` into `q`.
pub(crate) fn push_in<'t, DB: Database, T>(q: &mut QueryBuilder<DB>, items: impl IntoIterator<Item = T>)
where
    T: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    q.push(" IN (");
    let mut list = q.separated(", ");
    for item in items {
        list.push_bind(item);
    }
    list.push_unseparated(")");
}
