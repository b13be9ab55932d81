//! One session's connection on whatsapp-rust, behind the engine seam.
//!
//! The seam says an engine connects once and never reconnects by itself, so
//! the crate's own reconnect loop is switched off: each `connect` builds a
//! fresh client on the session's key store (after disconnecting the previous
//! one, which would otherwise race it for the same keys), and when that
//! connection ends the session hears one `Disconnected` and decides.
//!
//! Events: a handler registered on the crate's bus (it runs inline, in
//! arrival order) pushes into an unbounded hand-off; one forwarder task per
//! connection translates them in order and awaits the session's bounded
//! channel, so nothing is reordered and a slow session slows only itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use whatsapp_rust::prelude::{Bot, Client, Event, EventHandler, SendOptions, TokioRuntime};

use super::incoming::{self, Context};
use super::keys::KeyStore;
use super::net::{Http, LastError, Socket};
use super::polls;
use crate::engine::{EngineContext, EngineError, EngineResult};
use crate::store::Pool;
use crate::wa::{DisconnectReason, EngineEvent};

/// How long `connect` waits for the socket before calling the attempt failed.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful close may take before the client is abandoned.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where one connection is in its life; decides what its end means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `connect` is waiting for the socket: an end is a failed attempt.
    Connecting,
    /// The socket came up: an end is a disconnect the session must hear.
    Up,
    /// The run loop ended.
    Ended,
    /// We closed it: its end and any late events are ours, not news.
    Closed,
}

struct Shared {
    phase: Mutex<Phase>,
    ended: Notify,
    /// WhatsApp unlinked this device: its keys are dead and are erased once
    /// the client is closed (erasing earlier would let the client's final
    /// flush write the dead device back).
    logged_out: AtomicBool,
    keys: KeyStore,
}

impl Shared {
    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves to `to` from `from` only; returns the phase found.
    fn advance(&self, from: Phase, to: Phase) -> Phase {
        let mut phase = self.phase.lock().unwrap_or_else(|p| p.into_inner());
        let found = *phase;
        if found == from {
            *phase = to;
        }
        found
    }

    fn close(&self) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner()) = Phase::Closed;
    }

    async fn erase_if_logged_out(&self) {
        if self.logged_out.load(Ordering::SeqCst)
            && let Err(e) = self.keys.erase().await
        {
            tracing::warn!(error = %e, "could not erase the keys of a logged-out device");
        }
    }
}

enum Item {
    Event(Arc<Event>),
    /// The crate's run loop returned.
    Ended,
}

/// Runs inline on the crate's dispatch path: hand off and return at once.
struct Forward(mpsc::UnboundedSender<Item>);

impl EventHandler for Forward {
    fn handle_event(&self, event: Arc<Event>) {
        let _ = self.0.send(Item::Event(event));
    }
}

/// A live connection.
pub(super) struct Live {
    pub client: Arc<Client>,
    shared: Arc<Shared>,
    /// The run-loop watcher and the forwarder; `None` once closed.
    tasks: Option<[JoinHandle<()>; 2]>,
}

impl Live {
    /// Disconnects (flushing the crate's buffered state) and waits for its
    /// tasks, bounded; nothing it does afterwards reaches the session.
    pub async fn close(mut self) {
        self.shared.close();
        let Some([run, forward]) = self.tasks.take() else { return };
        let client = self.client.clone();
        let graceful = async move {
            client.disconnect().await;
            let _ = run.await;
        };
        if tokio::time::timeout(CLOSE_TIMEOUT, graceful).await.is_err() {
            tracing::warn!("WhatsApp client did not close in time; abandoning it");
        }
        forward.abort();
        self.shared.erase_if_logged_out().await;
    }
}

impl Drop for Live {
    /// A connection dropped without `close` (its `connect` was cancelled by
    /// the session's timeout) must not live on: close it in the background.
    fn drop(&mut self) {
        let Some([run, forward]) = self.tasks.take() else { return };
        self.shared.close();
        forward.abort();
        let client = self.client.clone();
        let shared = self.shared.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                client.disconnect().await;
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, run).await;
                shared.erase_if_logged_out().await;
            });
        }
    }
}

/// Settings shared by every connection of one gateway.
#[derive(Clone)]
pub struct Settings {
    pub skip_history_sync: bool,
    pub http_timeout: Duration,
}

/// Opens one connection and waits until its socket is up or it failed.
pub(super) async fn open(ctx: &EngineContext, pool: &Pool, settings: &Settings) -> EngineResult<Live> {
    let last_error = LastError::default();
    let http = Http::new(settings.http_timeout, last_error.clone())
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let (tx, rx) = mpsc::unbounded_channel();
    let mut builder = Bot::builder()
        .with_backend_arc(KeyStore::backend(pool, ctx.session_id.as_str()))
        .with_transport_factory(Socket::new(last_error.clone()))
        .with_http_client(http)
        .with_runtime(TokioRuntime)
        .with_event_handler(Forward(tx.clone()));
    if settings.skip_history_sync {
        builder = builder.skip_history_sync();
    }
    let bot = builder
        .build()
        .await
        .map_err(|e| EngineError::ConnectFailed(format!("could not start the client: {e}")))?;
    let client = bot.client();
    // The session owns retries (backoff, breaker, give-up); see module docs.
    client.enable_auto_reconnect.store(false, Ordering::SeqCst);

    let shared = Arc::new(Shared {
        phase: Mutex::new(Phase::Connecting),
        ended: Notify::new(),
        logged_out: AtomicBool::new(false),
        keys: KeyStore::new(pool, ctx.session_id.as_str()),
    });
    let handle = bot.spawn();
    let run = {
        let shared = shared.clone();
        tokio::spawn(async move {
            handle.await;
            // Whoever waits in `connect` learns the attempt failed.
            if shared.advance(Phase::Connecting, Phase::Ended) == Phase::Connecting {
                shared.ended.notify_one();
            }
            let _ = tx.send(Item::Ended);
        })
    };
    let forward = tokio::spawn(forward(rx, client.clone(), ctx.events.clone(), shared.clone()));
    let live = Live { client: client.clone(), shared: shared.clone(), tasks: Some([run, forward]) };

    let ended = shared.ended.notified();
    tokio::pin!(ended);
    if shared.phase() == Phase::Ended {
        live.close().await;
        return Err(failed(&last_error, "the connection closed at once"));
    }
    let outcome = tokio::select! {
        r = client.wait_for_socket(SOCKET_TIMEOUT) => r.map_err(|e| e.to_string()),
        _ = &mut ended => Err("the connection closed before it was up".to_owned()),
    };
    match outcome {
        Ok(()) if shared.advance(Phase::Connecting, Phase::Up) == Phase::Connecting => Ok(live),
        Ok(()) => {
            live.close().await;
            Err(failed(&last_error, "the connection closed right after it opened"))
        }
        Err(why) => {
            live.close().await;
            Err(failed(&last_error, &why))
        }
    }
}

fn failed(last_error: &LastError, fallback: &str) -> EngineError {
    EngineError::ConnectFailed(last_error.take().unwrap_or_else(|| fallback.to_owned()))
}

/// Translates one connection's events in order. Only the end of the run
/// loop reports a network disconnect (the crate may also announce one, or a
/// stream error, first): one connection, at most one `Disconnected`.
async fn forward(
    mut rx: mpsc::UnboundedReceiver<Item>,
    client: Arc<Client>,
    events: mpsc::Sender<EngineEvent>,
    shared: Arc<Shared>,
) {
    let mut last_network: Option<String> = None;
    let mut terminal = false;
    while let Some(item) = rx.recv().await {
        if shared.phase() == Phase::Closed {
            return;
        }
        let out = match item {
            Item::Event(event) => {
                let device = client.persistence_manager().get_device_snapshot();
                let cx = Context {
                    phone: device.pn.as_ref().and_then(incoming::jid).and_then(|j| j.phone()),
                    push_name: Some(device.push_name.clone()).filter(|n| !n.is_empty()),
                    now: Utc::now(),
                };
                let mut out = incoming::translate(&event, &cx);
                if let Event::Messages(batch) = &*event {
                    settle_polls(&client, &shared.keys, batch, &mut out).await;
                }
                out.retain(|e| match e {
                    EngineEvent::Disconnected { reason: DisconnectReason::Network { detail } } => {
                        last_network = Some(detail.clone());
                        false
                    }
                    EngineEvent::Disconnected { reason } => {
                        if matches!(reason, DisconnectReason::LoggedOut { .. }) {
                            shared.logged_out.store(true, Ordering::SeqCst);
                        }
                        terminal = true;
                        true
                    }
                    _ => true,
                });
                out
            }
            // After a logout, ban or takeover the session already heard why;
            // an attempt that never came up is reported by `open` instead.
            Item::Ended if terminal || shared.phase() != Phase::Up => return,
            Item::Ended => {
                let detail = last_network.take().unwrap_or_else(|| "the connection closed".into());
                vec![EngineEvent::Disconnected { reason: DisconnectReason::Network { detail } }]
            }
        };
        for event in out {
            if events.send(event).await.is_err() {
                return;
            }
        }
    }
}

/// Poll secrets to keep and votes to read need the key store, which the
/// pure translation has no access to.
async fn settle_polls(
    client: &Client,
    keys: &KeyStore,
    batch: &whatsapp_rust::wacore::types::events::MessageBatch,
    out: &mut [EngineEvent],
) {
    for m in batch.messages.iter() {
        let (message, info) = (&m.message, &m.info);
        if polls::vote_of(message).is_none() && polls::secret_of(message, info).is_none() {
            continue;
        }
        let translated = out.iter_mut().find_map(|e| match e {
            EngineEvent::Message(im) if im.id.as_str() == info.id.as_str() => Some(im),
            _ => None,
        });
        if let Some(im) = translated {
            polls::settle(client, keys, message, info, im).await;
        }
    }
}

/// Sends with the gateway's id, so a re-run after a crash is the same message.
pub(super) fn send_options(id: Option<&crate::wa::MessageId>) -> SendOptions {
    match id {
        Some(id) => SendOptions::default().with_message_id(id.as_str()),
        None => SendOptions::default(),
    }
}
