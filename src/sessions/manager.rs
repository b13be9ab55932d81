//! The session registry: starts, stops and looks up sessions, each run by
//! its own task (`actor.rs`), and restores them at startup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::actor::{Actor, Command};
use super::events::{EventHub, MessageSink};
use super::runtime::Runtime;
use super::status::Status;
use crate::config::SessionsConfig;
use crate::engine::{Engine, EngineContext, EngineError, EngineFactory};
use crate::ids::SessionId;
use crate::store::{Page, Session, Store, StoreError, Transition};
use crate::wa::PhoneNumber;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session {0} does not exist")]
    NotFound(String),
    #[error("the {0} engine is not available in this gateway")]
    EngineUnavailable(String),
    #[error("session {0} is not running")]
    NotRunning(String),
    /// The operation needs another status; carries the current one.
    #[error("session {id} is {status}")]
    WrongStatus { id: String, status: &'static str },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type SessionResult<T> = Result<T, SessionError>;

/// One running (or recently ended) session.
pub struct Handle {
    pub id: SessionId,
    pub engine_kind: String,
    /// The session's metadata as it was when started (pacing overrides).
    pub metadata: serde_json::Value,
    pub engine: Arc<dyn Engine>,
    pub(super) runtime: Mutex<Runtime>,
    pub(super) commands: mpsc::Sender<Command>,
    /// Calls ringing now (rejectable by id).
    pub calls: super::calls::Ringing,
    /// Cancelled when the session's task has ended.
    pub(super) ended: CancellationToken,
    /// Serialises transitions so the audit rows are written in the order
    /// the statuses changed, whoever (task or API call) changes them.
    pub(super) transitions: tokio::sync::Mutex<()>,
}

impl Handle {
    pub fn runtime(&self) -> Runtime {
        self.runtime.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn is_running(&self) -> bool {
        !self.ended.is_cancelled()
    }

    pub(super) fn update<R>(&self, f: impl FnOnce(&mut Runtime) -> R) -> R {
        f(&mut self.runtime.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

pub(super) struct Inner {
    pub store: Store,
    pub hub: EventHub,
    /// Where messages and receipts go (the message log); None: only events.
    pub sink: Option<Arc<dyn MessageSink>>,
    pub config: SessionsConfig,
    factories: HashMap<String, Arc<dyn EngineFactory>>,
    sessions: RwLock<HashMap<String, Arc<Handle>>>,
    tasks: TaskTracker,
}

impl Inner {
    /// Records a status change: memory, database row + audit, event, metric.
    /// A database failure is logged, not returned: the session keeps going
    /// and the next transition writes the truth again.
    pub(super) async fn transition(&self, handle: &Handle, status: Status, reason: &str, extra: Value) {
        let _order = handle.transitions.lock().await;
        let (previous, error) = handle.update(|rt| (rt.status, rt.last_error.clone()));
        tracing::info!(
            session = handle.id.as_str(),
            from = previous.as_str(),
            to = status.as_str(),
            reason,
            "session status"
        );
        // The record first, then the live status: whoever sees the new status
        // (GET /sessions/{id} reads it first) finds its audit row and every
        // write made before it.
        record(
            &self.store,
            &self.hub,
            handle.id.as_str(),
            status,
            previous.as_str(),
            reason,
            error.as_deref(),
            extra,
        )
        .await;
        handle.update(|rt| {
            rt.status = status;
            rt.last_activity_at = Some(Utc::now());
            if status != Status::Qr {
                rt.qr = None;
            }
        });
    }
}

impl Inner {
    /// Keeps the account's new display name and announces it once: the
    /// API and the engine may both report the same change.
    pub(super) async fn push_name_changed(&self, id: &str, name: &str) {
        // One check-and-write at a time per session, or both reporters
        // could see the old name and announce the new one twice.
        let handle = self.sessions.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned();
        let _one = match &handle {
            Some(h) => Some(h.transitions.lock().await),
            None => None,
        };
        let session = match self.store.sessions.get(id).await {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(session = id, error = %e, "could not read the session for its new name");
                return;
            }
        };
        if session.push_name.as_deref() == Some(name) {
            return;
        }
        if let Err(e) = self.store.sessions.set_account(id, session.phone.as_deref(), Some(name)).await {
            tracing::warn!(session = id, error = %e, "could not record the new display name");
        }
        self.hub.publish(id, "session.push_name", json!({"type": "push_name", "push_name": name}));
    }
}

#[allow(clippy::too_many_arguments)]
async fn record(
    store: &Store,
    hub: &EventHub,
    id: &str,
    status: Status,
    previous: &str,
    reason: &str,
    error: Option<&str>,
    extra: Value,
) {
    let mut details = json!({"status": status.as_str(), "previous": previous, "reason": reason});
    if let (Some(map), Value::Object(more)) = (details.as_object_mut(), extra) {
        map.extend(more);
    }
    let error = if matches!(status, Status::Connected | Status::Stopped | Status::Qr) { None } else { error };
    let t = Transition { status: status.as_str(), error, event_type: "session.status", details: &details };
    if let Err(e) = store.sessions.transition(id, &t).await {
        tracing::warn!(session = id, status = status.as_str(), error = %e, "could not record session status");
    }
    metrics::counter!("wag_session_transitions_total", "status" => status.as_str()).increment(1);
    hub.publish(id, "session.status", details);
}

/// Cheap to clone; one per gateway.
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

/// Outcome of restoring sessions at startup.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RestoreReport {
    pub total: usize,
    pub connected: usize,
    /// Started but waiting for a QR scan (their credentials were gone).
    pub awaiting_link: usize,
    pub failed: usize,
    pub elapsed_ms: u128,
}

impl SessionManager {
    pub fn new(store: Store, hub: EventHub, config: SessionsConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                hub,
                config,
                sink: None,
                factories: HashMap::new(),
                sessions: RwLock::new(HashMap::new()),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// Registers an engine kind. Call before sharing the manager.
    pub fn with_engine(mut self, kind: &str, factory: Arc<dyn EngineFactory>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("engines are registered before the manager is shared")
            .factories
            .insert(kind.to_owned(), factory);
        self
    }

    /// Routes incoming messages and receipts to `sink`. Call before sharing.
    pub fn with_message_sink(mut self, sink: Arc<dyn MessageSink>) -> Self {
        Arc::get_mut(&mut self.inner).expect("the sink is set before the manager is shared").sink =
            Some(sink);
        self
    }

    pub fn has_engine(&self, kind: &str) -> bool {
        self.inner.factories.contains_key(kind)
    }

    pub fn hub(&self) -> &EventHub {
        &self.inner.hub
    }

    pub fn handle(&self, id: &str) -> Option<Arc<Handle>> {
        self.inner.sessions.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    /// The engine of a connected session, for sending.
    pub fn connected_engine(&self, id: &str) -> SessionResult<Arc<dyn Engine>> {
        let handle =
            self.handle(id).filter(|h| h.is_running()).ok_or_else(|| SessionError::NotRunning(id.into()))?;
        match handle.runtime().status {
            Status::Connected => Ok(handle.engine.clone()),
            other => Err(SessionError::WrongStatus { id: id.into(), status: other.as_str() }),
        }
    }

    /// The calls ringing on a running session, oldest first.
    pub fn ringing_calls(&self, id: &str) -> SessionResult<Vec<crate::wa::CallOffer>> {
        let handle =
            self.handle(id).filter(|h| h.is_running()).ok_or_else(|| SessionError::NotRunning(id.into()))?;
        Ok(handle.calls.list(Instant::now()))
    }

    /// Declines a ringing call (`call.rejected` follows). NotFound when it
    /// is not ringing (ended, already rejected, or never rang here).
    pub async fn reject_call(&self, id: &str, call_id: &str) -> SessionResult<crate::wa::CallOffer> {
        let engine = self.connected_engine(id)?;
        let handle = self.handle(id).ok_or_else(|| SessionError::NotRunning(id.into()))?;
        let call = handle.calls.remove(call_id).ok_or_else(|| EngineError::NotFound("call".into()))?;
        match engine.reject_call(&call).await {
            Ok(()) => {
                metrics::counter!("wag_calls_total", "outcome" => "rejected").increment(1);
                self.inner.hub.publish(id, "call.rejected", super::calls::rejected_event(&call, false));
                Ok(call)
            }
            // It stopped ringing meanwhile: nothing to put back.
            Err(e @ EngineError::NotFound(_)) => Err(e.into()),
            Err(e) => {
                handle.calls.insert(call, Instant::now());
                Err(e.into())
            }
        }
    }

    /// Records a display name the API just set (see `Inner::push_name_changed`).
    pub async fn push_name_changed(&self, id: &str, name: &str) {
        self.inner.push_name_changed(id, name).await;
    }

    /// Number of sessions with a live task.
    pub fn running(&self) -> usize {
        self.inner
            .sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|h| h.is_running())
            .count()
    }

    async fn load(&self, id: &str) -> SessionResult<Session> {
        self.inner.store.sessions.get(id).await?.ok_or_else(|| SessionError::NotFound(id.into()))
    }

    /// Starts the session (idempotent) and remembers to restore it.
    pub async fn start(&self, id: &str) -> SessionResult<Arc<Handle>> {
        let session = self.load(id).await?;
        if !self.has_engine(&session.engine) {
            return Err(SessionError::EngineUnavailable(session.engine));
        }
        self.inner.store.sessions.set_desired_state(id, "running").await?;
        Ok(self.spawn(session, "start")?.0)
    }

    /// Starts a session's task unless one is running. The receiver reports
    /// the first settled status (connected, qr, or a failure).
    #[allow(clippy::type_complexity)]
    fn spawn(
        &self,
        session: Session,
        reason: &'static str,
    ) -> SessionResult<(Arc<Handle>, Option<oneshot::Receiver<Status>>)> {
        let factory = self
            .inner
            .factories
            .get(&session.engine)
            .cloned()
            .ok_or_else(|| SessionError::EngineUnavailable(session.engine.clone()))?;
        let id = SessionId::parse(&session.id).map_err(|_| SessionError::NotFound(session.id.clone()))?;
        let mut sessions = self.inner.sessions.write().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = sessions.get(&session.id).filter(|h| h.is_running()) {
            return Ok((existing.clone(), None));
        }
        let (events_tx, events_rx) = mpsc::channel(self.inner.config.event_buffer);
        let (commands_tx, commands_rx) = mpsc::channel(8);
        let engine = factory.create(EngineContext {
            session_id: id.clone(),
            events: events_tx,
            credentials: self.inner.store.credentials.clone(),
        });
        let handle = Arc::new(Handle {
            id,
            engine_kind: session.engine.clone(),
            metadata: session.metadata.0.clone(),
            engine,
            runtime: Mutex::new(Runtime::new()),
            commands: commands_tx,
            calls: Default::default(),
            ended: CancellationToken::new(),
            transitions: tokio::sync::Mutex::new(()),
        });
        sessions.insert(session.id.clone(), handle.clone());
        drop(sessions);
        let (settled_tx, settled_rx) = oneshot::channel();
        let actor = Actor::new(self.inner.clone(), handle.clone(), events_rx, commands_rx, settled_tx);
        // Every line the session's task logs names the session.
        let span = tracing::info_span!("session", session = %session.id, engine = %session.engine);
        self.inner.tasks.spawn(tracing::Instrument::instrument(actor.run(session.status, reason), span));
        metrics::gauge!("wag_sessions_running").increment(1.0);
        Ok((handle, Some(settled_rx)))
    }

    async fn command(
        &self,
        id: &str,
        make: impl FnOnce(oneshot::Sender<Result<(), EngineError>>) -> Command,
    ) -> SessionResult<bool> {
        let Some(handle) = self.handle(id).filter(|h| h.is_running()) else { return Ok(false) };
        let (tx, rx) = oneshot::channel();
        if handle.commands.send(make(tx)).await.is_err() {
            return Ok(false);
        }
        match rx.await {
            Ok(result) => result.map(|()| true).map_err(Into::into),
            Err(_) => Ok(true),
        }
    }

    /// Stops the session, keeps its credentials, and does not restore it.
    pub async fn stop(&self, id: &str) -> SessionResult<()> {
        let session = self.load(id).await?;
        self.inner.store.sessions.set_desired_state(id, "stopped").await?;
        let stopped = self.command(id, |ack| Command::Stop { reason: "stop", ack }).await?;
        if !stopped && Status::parse(&session.status).is_some_and(Status::is_live) {
            record_detached(&self.inner, id, Status::Stopped, &session.status, "stop").await;
        }
        Ok(())
    }

    /// Unlinks the device and erases the credentials.
    pub async fn logout(&self, id: &str) -> SessionResult<()> {
        let session = self.load(id).await?;
        self.inner.store.sessions.set_desired_state(id, "stopped").await?;
        if !self.command(id, |ack| Command::Logout { ack }).await? {
            self.inner.store.credentials.delete(id).await?;
            record_detached(&self.inner, id, Status::LoggedOut, &session.status, "logout").await;
        }
        Ok(())
    }

    /// Logs out (best effort) and removes the session with everything it owns.
    pub async fn delete(&self, id: &str) -> SessionResult<bool> {
        if self.handle(id).is_some_and(|h| h.is_running()) {
            let logout = self.command(id, |ack| Command::Logout { ack });
            match tokio::time::timeout(self.connect_timeout(), logout).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(session = id, error = %e, "logout before delete failed"),
                Err(_) => tracing::warn!(session = id, "logout before delete timed out"),
            }
        }
        self.inner.sessions.write().unwrap_or_else(|e| e.into_inner()).remove(id);
        Ok(self.inner.store.sessions.delete(id).await?)
    }

    fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.inner.config.connect_timeout_secs)
    }

    /// The QR payload to scan, while the session waits for one.
    pub fn qr(&self, id: &str) -> SessionResult<(String, chrono::DateTime<Utc>)> {
        let handle =
            self.handle(id).filter(|h| h.is_running()).ok_or_else(|| SessionError::NotRunning(id.into()))?;
        let rt = handle.runtime();
        match (rt.status, rt.qr) {
            (Status::Qr, Some(qr)) => Ok(qr),
            (status, _) => Err(SessionError::WrongStatus { id: id.into(), status: status.as_str() }),
        }
    }

    /// Asks for a pairing code to type on the phone of `phone`.
    pub async fn pair_code(&self, id: &str, phone: &PhoneNumber) -> SessionResult<String> {
        let handle =
            self.handle(id).filter(|h| h.is_running()).ok_or_else(|| SessionError::NotRunning(id.into()))?;
        let status = handle.runtime().status;
        if !matches!(status, Status::Qr | Status::Pairing) {
            return Err(SessionError::WrongStatus { id: id.into(), status: status.as_str() });
        }
        let code = handle.engine.request_pair_code(phone).await?;
        if status == Status::Qr {
            self.inner
                .transition(&handle, Status::Pairing, "pair_code", json!({"phone": phone.as_str()}))
                .await;
        }
        Ok(code)
    }

    /// Brings back every session that was running, `restore_concurrency` at
    /// a time, each waiting for its first connection outcome. One failing
    /// session is recorded and does not stop the others.
    pub async fn restore(&self) -> SessionResult<RestoreReport> {
        let started = Instant::now();
        let mut pending = Vec::new();
        let mut page = Page::first(Page::<String>::MAX_LIMIT);
        loop {
            let batch = self.inner.store.sessions.list_running(&page).await?;
            let last = batch.last().map(|s| s.id.clone());
            pending.extend(batch);
            match last {
                Some(after) => page = Page::after(after, Page::<String>::MAX_LIMIT),
                None => break,
            }
        }
        let total = pending.len();
        if total == 0 {
            return Ok(RestoreReport::default());
        }
        tracing::info!(total, concurrency = self.inner.config.restore_concurrency, "restoring sessions");
        let report = Arc::new(Mutex::new(RestoreReport { total, ..Default::default() }));
        let step = (total / 10).max(1);
        futures_util::stream::iter(pending)
            .for_each_concurrent(self.inner.config.restore_concurrency, |session| {
                let report = report.clone();
                async move {
                    let id = session.id.clone();
                    let outcome = self.restore_one(session).await;
                    let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
                    match outcome {
                        Some(Status::Connected) => r.connected += 1,
                        Some(Status::Qr | Status::Pairing) => r.awaiting_link += 1,
                        other => {
                            r.failed += 1;
                            tracing::warn!(session = id, status = ?other, "session did not come back");
                        }
                    }
                    let done = r.connected + r.awaiting_link + r.failed;
                    if done.is_multiple_of(step) || done == total {
                        tracing::info!(
                            done,
                            total,
                            connected = r.connected,
                            failed = r.failed,
                            "restore progress"
                        );
                    }
                }
            })
            .await;
        let mut report = report.lock().unwrap_or_else(|e| e.into_inner()).clone();
        report.elapsed_ms = started.elapsed().as_millis();
        metrics::histogram!("wag_session_restore_seconds").record(started.elapsed().as_secs_f64());
        tracing::info!(?report, "restore finished");
        Ok(report)
    }

    async fn restore_one(&self, session: Session) -> Option<Status> {
        if !self.has_engine(&session.engine) {
            let id = session.id.clone();
            let detail = json!({"error": format!("the {} engine is not available", session.engine)});
            let t = Transition {
                status: "failed",
                error: Some("engine unavailable"),
                event_type: "session.restore_failed",
                details: &detail,
            };
            if let Err(e) = self.inner.store.sessions.transition(&id, &t).await {
                tracing::warn!(session = id, error = %e, "could not record restore failure");
            }
            return None;
        }
        let (_, settled) = self.spawn(session, "restore").ok()?;
        let settled = settled?;
        // A session that neither connects nor fails within the attempt
        // timeout keeps trying in the background; restore moves on.
        tokio::time::timeout(self.connect_timeout() + Duration::from_secs(1), settled).await.ok()?.ok()
    }

    /// Marks sessions the database thinks are live as stopped: after a crash
    /// nothing is running until restore starts it again.
    pub async fn reset_stale(&self) -> SessionResult<usize> {
        let mut page = Page::first(Page::<String>::MAX_LIMIT);
        let mut reset = 0;
        loop {
            let batch = self.inner.store.sessions.list(&page).await?;
            let Some(last) = batch.last().map(|s| s.id.clone()) else { break };
            for s in batch {
                if Status::parse(&s.status).is_some_and(Status::is_live) && self.handle(&s.id).is_none() {
                    record_detached(&self.inner, &s.id, Status::Stopped, &s.status, "gateway_restart").await;
                    reset += 1;
                }
            }
            page = Page::after(last, Page::<String>::MAX_LIMIT);
        }
        Ok(reset)
    }

    /// Stops every session (keeping them marked for restore) and waits for
    /// their tasks, within `bound`.
    pub async fn close(&self, bound: Duration) {
        let handles: Vec<Arc<Handle>> =
            self.inner.sessions.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        let stops = handles.iter().filter(|h| h.is_running()).map(|h| async move {
            let (tx, rx) = oneshot::channel();
            if h.commands.send(Command::Stop { reason: "shutdown", ack: tx }).await.is_ok() {
                let _ = rx.await;
            }
        });
        let all = futures_util::future::join_all(stops);
        if tokio::time::timeout(bound, all).await.is_err() {
            tracing::warn!("some sessions did not stop in time");
        }
        self.inner.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(1), self.inner.tasks.wait()).await;
    }
}

/// Records a transition for a session without a running task.
async fn record_detached(inner: &Inner, id: &str, status: Status, previous: &str, reason: &str) {
    record(&inner.store, &inner.hub, id, status, previous, reason, None, json!({})).await;
}
