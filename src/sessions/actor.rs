//! One session's task: the only place its status changes while it runs.
//!
//! It consumes the engine's events in order, runs connection attempts on
//! the backoff schedule, and obeys stop/logout commands. Because one task
//! owns all of it, there is no reconnect racing a stop, and no two
//! connection attempts for one session at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::backoff::{BreakerState, Next};
use super::calls::{self, CallPolicy};
use super::manager::{Handle, Inner};
use super::status::Status;
use crate::engine::EngineError;
use crate::wa::{CallEnd, CallOffer, DisconnectReason, EngineEvent};

/// How often at most `sessions.last_seen_at` is written for activity.
const SEEN_WRITE_EVERY: Duration = Duration::from_secs(30);

pub(super) enum Command {
    /// Disconnect and end; credentials stay.
    Stop { reason: &'static str, ack: oneshot::Sender<Result<(), EngineError>> },
    /// Unlink, erase credentials and end.
    Logout { ack: oneshot::Sender<Result<(), EngineError>> },
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    End,
}

pub(super) struct Actor {
    inner: Arc<Inner>,
    handle: Arc<Handle>,
    events: mpsc::Receiver<EngineEvent>,
    commands: mpsc::Receiver<Command>,
    settled: Option<oneshot::Sender<Status>>,
    failures: u32,
    next_attempt: Option<Instant>,
    seen_written: Option<Instant>,
}

impl Actor {
    pub(super) fn new(
        inner: Arc<Inner>,
        handle: Arc<Handle>,
        events: mpsc::Receiver<EngineEvent>,
        commands: mpsc::Receiver<Command>,
        settled: oneshot::Sender<Status>,
    ) -> Self {
        Self {
            inner,
            handle,
            events,
            commands,
            settled: Some(settled),
            failures: 0,
            next_attempt: None,
            seen_written: None,
        }
    }

    pub(super) async fn run(mut self, stored_status: String, reason: &'static str) {
        let previous = Status::parse(&stored_status).unwrap_or(Status::Created);
        self.handle.update(|rt| rt.status = previous);
        self.transition(Status::Starting, reason, json!({})).await;
        self.next_attempt = Some(Instant::now());
        loop {
            let wake = self.next_attempt;
            let flow = tokio::select! {
                biased;
                command = self.commands.recv() => self.on_command(command).await,
                event = self.events.recv() => match event {
                    Some(event) => self.on_event(event).await,
                    None => Flow::End,
                },
                () = sleep_until(wake) => {
                    self.next_attempt = None;
                    self.attempt().await
                }
            };
            if flow == Flow::End {
                break;
            }
        }
        let status = self.handle.runtime().status;
        self.settle(status);
        self.handle.ended.cancel();
        metrics::gauge!("wag_sessions_running").decrement(1.0);
    }

    async fn transition(&self, status: Status, reason: &str, extra: Value) {
        self.inner.transition(&self.handle, status, reason, extra).await;
    }

    fn settle(&mut self, status: Status) {
        if let Some(tx) = self.settled.take() {
            let _ = tx.send(status);
        }
    }

    fn id(&self) -> &str {
        self.handle.id.as_str()
    }

    async fn attempt(&mut self) -> Flow {
        self.handle.update(|rt| {
            rt.next_retry_at = None;
            if rt.breaker == BreakerState::Open {
                rt.breaker = BreakerState::HalfOpen;
            }
        });
        let timeout = Duration::from_secs(self.inner.config.connect_timeout_secs);
        let result = match tokio::time::timeout(timeout, self.handle.engine.connect()).await {
            Ok(result) => result,
            Err(_) => Err(EngineError::Timeout),
        };
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        metrics::counter!("wag_session_connect_attempts_total", "engine" => self.handle.engine_kind.clone(), "outcome" => outcome)
            .increment(1);
        match result {
            // What happens next arrives as events (QR codes or Connected).
            Ok(()) => Flow::Continue,
            Err(e) => self.failed_attempt(e).await,
        }
    }

    async fn failed_attempt(&mut self, error: EngineError) -> Flow {
        self.failures += 1;
        let failures = self.failures;
        let message = error.to_string();
        tracing::info!(session = self.id(), attempt = failures, error = %message, "connection attempt failed");
        let next = self.inner.config.backoff().next(failures, rand::random::<f64>());
        let (after, breaker) = match next {
            Next::Retry { after } => (after, BreakerState::Closed),
            Next::Cooldown { after } => (after, BreakerState::Open),
            Next::GiveUp => {
                self.handle.update(|rt| {
                    rt.reconnect_attempts = failures;
                    rt.last_error = Some(message.clone());
                });
                self.handle.engine.disconnect().await;
                self.transition(Status::Failed, "gave_up", json!({"attempts": failures, "error": message}))
                    .await;
                self.inner.hub.publish(
                    self.id(),
                    "session.failed",
                    json!({"attempts": failures, "error": message}),
                );
                tracing::warn!(session = self.id(), attempts = failures, "reconnection gave up");
                return Flow::End;
            }
        };
        let retry_at = Utc::now() + after;
        self.handle.update(|rt| {
            rt.reconnect_attempts = failures;
            rt.last_error = Some(message.clone());
            rt.breaker = breaker;
            rt.next_retry_at = Some(retry_at);
            rt.connected_since = None;
        });
        self.next_attempt = Some(Instant::now() + after);
        let reason = if breaker == BreakerState::Open { "breaker_open" } else { "connect_failed" };
        let details = json!({"attempt": failures, "retry_in_ms": after.as_millis() as u64, "error": message});
        self.transition(Status::Reconnecting, reason, details).await;
        self.settle(Status::Reconnecting);
        Flow::Continue
    }

    async fn on_command(&mut self, command: Option<Command>) -> Flow {
        match command {
            None => {
                self.handle.engine.disconnect().await;
                Flow::End
            }
            Some(Command::Stop { reason, ack }) => {
                self.handle.engine.disconnect().await;
                self.transition(Status::Stopped, reason, json!({})).await;
                let _ = ack.send(Ok(()));
                Flow::End
            }
            Some(Command::Logout { ack }) => {
                // The operator wants the device gone: erase locally even
                // when WhatsApp cannot be told right now.
                if let Err(e) = self.handle.engine.logout().await {
                    tracing::warn!(session = self.id(), error = %e, "engine logout failed; erasing credentials anyway");
                }
                self.handle.engine.disconnect().await;
                let erased = self.inner.store.credentials.delete(self.id()).await;
                self.transition(Status::LoggedOut, "logout", json!({})).await;
                let _ = ack.send(erased.map(drop).map_err(|e| EngineError::Internal(e.to_string())));
                Flow::End
            }
        }
    }

    async fn on_event(&mut self, event: EngineEvent) -> Flow {
        self.mark_activity().await;
        match event {
            EngineEvent::Qr { code, expires_at } => {
                let status = self.handle.runtime().status;
                if !matches!(status, Status::Qr | Status::Pairing) {
                    self.transition(Status::Qr, "awaiting_link", json!({})).await;
                }
                self.handle.update(|rt| rt.qr = Some((code.clone(), expires_at)));
                self.inner.hub.publish(
                    self.id(),
                    "session.qr",
                    json!({"qr": code, "expires_at": expires_at}),
                );
                self.settle(Status::Qr);
            }
            EngineEvent::PairSuccess { phone, push_name } => {
                let details = json!({"phone": phone.as_str(), "push_name": push_name});
                self.record("session.paired", &details).await;
                self.inner.hub.publish(self.id(), "session.paired", details);
            }
            EngineEvent::PairError { reason } => {
                let details = json!({"reason": reason});
                self.record("session.pair_failed", &details).await;
                self.inner.hub.publish(self.id(), "session.pair_failed", details);
            }
            EngineEvent::Connected { phone, push_name } => {
                let reconnected = self.failures > 0 || self.handle.runtime().status == Status::Reconnecting;
                self.failures = 0;
                self.handle.update(|rt| {
                    rt.reconnect_attempts = 0;
                    rt.breaker = BreakerState::Closed;
                    rt.next_retry_at = None;
                    rt.last_error = None;
                    rt.connected_since = Some(Utc::now());
                    if reconnected {
                        rt.reconnects += 1;
                    }
                });
                if let Err(e) = self
                    .inner
                    .store
                    .sessions
                    .set_account(self.id(), Some(phone.as_str()), push_name.as_deref())
                    .await
                {
                    tracing::warn!(session = self.id(), error = %e, "could not record the linked account");
                }
                if reconnected {
                    metrics::counter!("wag_session_reconnects_total").increment(1);
                }
                let reason = if reconnected { "reconnected" } else { "connected" };
                self.transition(Status::Connected, reason, json!({"phone": phone.as_str()})).await;
                self.settle(Status::Connected);
            }
            EngineEvent::Disconnected { reason } => return self.on_disconnect(reason).await,
            EngineEvent::Message(mut m) if self.inner.sink.is_some() => {
                m.clean();
                if let Some(sink) = &self.inner.sink {
                    sink.incoming(self.id(), &m).await;
                }
            }
            EngineEvent::Receipt(r) if self.inner.sink.is_some() => {
                if let Some(sink) = &self.inner.sink {
                    sink.receipt(self.id(), &r).await;
                }
            }
            EngineEvent::ChatChanged { chat, change } if self.inner.sink.is_some() => {
                if let Some(sink) = &self.inner.sink {
                    sink.chat_changed(self.id(), &chat, &change).await;
                }
            }
            EngineEvent::ContactSaved { contact, name, first_name } if self.inner.sink.is_some() => {
                if let Some(sink) = &self.inner.sink {
                    sink.contact_saved(self.id(), &contact, &name, first_name.as_deref()).await;
                }
            }
            EngineEvent::Label(change) if self.inner.sink.is_some() => {
                if let Some(sink) = &self.inner.sink {
                    sink.label_changed(self.id(), &change).await;
                }
            }
            EngineEvent::PushName { push_name } => self.inner.push_name_changed(self.id(), &push_name).await,
            EngineEvent::Call(call) => self.on_call(call).await,
            EngineEvent::CallEnded(end) => {
                self.handle.calls.remove(&end.id);
                metrics::counter!("wag_calls_total", "outcome" => call_end_label(end.reason)).increment(1);
                self.inner.hub.publish(
                    self.id(),
                    "call.ended",
                    serde_json::to_value(&end).unwrap_or_default(),
                );
            }
            other => {
                let name = other.name();
                let data = match other {
                    EngineEvent::Message(m) => serde_json::to_value(m),
                    EngineEvent::Receipt(r) => serde_json::to_value(r),
                    other => serde_json::to_value(other),
                };
                self.inner.hub.publish(self.id(), name, data.unwrap_or(Value::Null));
            }
        }
        Flow::Continue
    }

    /// Announces the call; rejects it at once when the policy says so
    /// (then texts the caller, if a message is set), else keeps it ringing
    /// for `POST …/calls/{id}/reject`.
    async fn on_call(&mut self, call: CallOffer) {
        metrics::counter!("wag_calls_total", "outcome" => "received").increment(1);
        self.inner.hub.publish(self.id(), "call.received", serde_json::to_value(&call).unwrap_or_default());
        let policy = CallPolicy::for_session(&self.inner.config, &self.handle.metadata);
        if !policy.reject {
            self.handle.calls.insert(call, std::time::Instant::now());
            return;
        }
        if let Err(e) = self.handle.engine.reject_call(&call).await {
            tracing::warn!(call = call.id, error = %e, "could not reject a call");
            metrics::counter!("wag_calls_total", "outcome" => "reject_failed").increment(1);
            self.handle.calls.insert(call, std::time::Instant::now());
            return;
        }
        metrics::counter!("wag_calls_total", "outcome" => "rejected").increment(1);
        self.inner.hub.publish(self.id(), "call.rejected", calls::rejected_event(&call, true));
        if let (Some(text), Some(chat), Some(sink)) =
            (&policy.message, calls::reply_chat(&call), &self.inner.sink)
            && let Err(e) = sink.reply(self.id(), chat, text).await
        {
            tracing::warn!(call = call.id, error = %e, "could not queue the reject message");
        }
    }

    async fn on_disconnect(&mut self, reason: DisconnectReason) -> Flow {
        self.handle.update(|rt| rt.connected_since = None);
        let terminal = match &reason {
            DisconnectReason::Network { detail } => {
                self.handle.update(|rt| rt.last_error = Some(detail.clone()));
                // A blip: try again at once; failures then back off.
                self.next_attempt = Some(Instant::now());
                self.transition(
                    Status::Reconnecting,
                    "connection_lost",
                    json!({"error": detail, "retry_in_ms": 0}),
                )
                .await;
                return Flow::Continue;
            }
            DisconnectReason::LoggedOut { detail } => {
                if let Err(e) = self.inner.store.credentials.delete(self.id()).await {
                    tracing::warn!(session = self.id(), error = %e, "could not erase credentials");
                }
                self.handle.update(|rt| rt.last_error = Some(detail.clone()));
                (Status::LoggedOut, "logged_out", json!({"detail": detail}))
            }
            DisconnectReason::StreamReplaced => {
                self.handle
                    .update(|rt| rt.last_error = Some("another client took over the connection".into()));
                (Status::Replaced, "stream_replaced", json!({}))
            }
            DisconnectReason::TemporaryBan { code, expires_at } => {
                self.handle.update(|rt| rt.last_error = Some(format!("temporarily banned (code {code})")));
                (Status::Banned, "temporary_ban", json!({"code": code, "expires_at": expires_at}))
            }
        };
        // None of these can be fixed by retrying; do not come back at restart either.
        if let Err(e) = self.inner.store.sessions.set_desired_state(self.id(), "stopped").await {
            tracing::warn!(session = self.id(), error = %e, "could not record desired state");
        }
        self.handle.engine.disconnect().await;
        let (status, why, details) = terminal;
        self.transition(status, why, details).await;
        Flow::End
    }

    async fn record(&self, event_type: &str, details: &Value) {
        if let Err(e) = self.inner.store.session_events.append(self.id(), event_type, details).await {
            tracing::warn!(session = self.id(), event_type, error = %e, "could not record session event");
        }
    }

    async fn mark_activity(&mut self) {
        self.handle.update(|rt| rt.last_activity_at = Some(Utc::now()));
        let due = self.seen_written.is_none_or(|t| t.elapsed() >= SEEN_WRITE_EVERY);
        if due {
            self.seen_written = Some(Instant::now());
            if let Err(e) = self.inner.store.sessions.touch_seen(self.id()).await {
                tracing::debug!(session = self.id(), error = %e, "could not record activity");
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn call_end_label(reason: CallEnd) -> &'static str {
    match reason {
        CallEnd::Missed => "missed",
        CallEnd::AnsweredElsewhere => "answered_elsewhere",
        CallEnd::RejectedElsewhere => "rejected_elsewhere",
    }
}
