//! The `messages` queue handler: one attempt at sending one message.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use rand::Rng;
use tracing::Instrument;

use super::job::{ResolvedMedia, SendJob};
use super::pacing::{PaceSettings, Pacer};
use super::tracker::status_event;
use crate::config::MessagesConfig;
use crate::engine::EngineError;
use crate::net::{FetchError, Outbound};
use crate::queue::{ClaimedJob, Handler, Outcome};
use crate::sessions::{EventHub, SessionError, SessionManager};
use crate::store::Store;
use crate::wa::ChatState;

/// Pacing waits up to this long inside the job; longer waits re-queue it.
const MAX_PACING_SLEEP: Duration = Duration::from_secs(1);

pub struct SendHandler {
    pub store: Store,
    pub writer: super::writer::LogWriter,
    pub sessions: SessionManager,
    pub hub: EventHub,
    pub pacer: Arc<Pacer>,
    pub outbound: Outbound,
    pub media: crate::media::MediaStore,
    pub config: MessagesConfig,
    /// A send refused as "not on WhatsApp" answers later number checks.
    pub checks: Arc<crate::contacts::CheckCache>,
}

/// Why an attempt did not send.
enum Failure {
    /// Worth another attempt later.
    Transient(String),
    /// Never going to work: the message fails now.
    Permanent(String),
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotConnected
            | EngineError::ConnectFailed(_)
            | EngineError::Timeout
            | EngineError::Internal(_) => Failure::Transient(e.to_string()),
            _ => Failure::Permanent(e.to_string()),
        }
    }
}

impl SendHandler {
    async fn fail(&self, job: &SendJob, reason: &str) {
        match self.store.message_logs.mark_failed(&job.session_id, &job.message_id, reason).await {
            Ok(Some(log)) => self.hub.publish_with(
                &job.session_id,
                "message.status",
                status_event(&log),
                log.request_id.clone(),
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(message_id = %job.message_id, error = %e, "could not record a failed message")
            }
        }
        metrics::counter!("wag_messages_total", "result" => "failed").increment(1);
    }

    async fn resolve_media(&self, job: &SendJob) -> Result<Option<ResolvedMedia>, Failure> {
        let Some(source) = job.draft.media() else { return Ok(None) };
        if let Some(id) = &source.media_id {
            // Uploads are typed by their bytes when stored.
            let (data, info) = self.media.load(id).await.map_err(|e| Failure::Permanent(e.to_string()))?;
            return Ok(Some(ResolvedMedia {
                data: data.into(),
                mime_type: info.mime_type,
                file_name: source.file_name.clone().or(info.file_name),
            }));
        }
        let (data, fetched_type, fetched_name) = match (&source.base64, &source.url) {
            (Some(b64), _) => {
                let data = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| Failure::Permanent("media.base64 is not valid base64".into()))?;
                (data, None, None)
            }
            (None, Some(url)) => {
                let fetched =
                    self.outbound.fetch(url, self.config.max_media_bytes).await.map_err(|e| match e {
                        e @ FetchError::Network(_) | e @ FetchError::Status(_) if e.is_transient() => {
                            Failure::Transient(format!("downloading the media: {e}"))
                        }
                        e => Failure::Permanent(format!("downloading the media: {e}")),
                    })?;
                (fetched.bytes, fetched.content_type, fetched.file_name)
            }
            (None, None) => return Err(Failure::Permanent("the media has no source".into())),
        };
        let mime_type =
            source.mime_type.clone().or(fetched_type).ok_or_else(|| {
                Failure::Permanent("the media type is unknown: give media.mime_type".into())
            })?;
        Ok(Some(ResolvedMedia {
            data: data.into(),
            mime_type,
            file_name: source.file_name.clone().or(fetched_name),
        }))
    }

    async fn attempt(&self, job: &SendJob, claimed: &ClaimedJob) -> Result<Option<Duration>, Failure> {
        if job.resend {
            // A resend goes out only while the message still waits for its
            // first receipt.
            match self.store.message_logs.get(&job.session_id, &job.message_id).await {
                Ok(Some(log)) if log.status == "sent" => {}
                Ok(_) => return Ok(None),
                Err(e) => return Err(Failure::Transient(e.to_string())),
            }
        } else if claimed.attempt > 1
            && let Ok(Some(log)) = self.store.message_logs.get(&job.session_id, &job.message_id).await
            && log.status != "queued"
        {
            // A repeat attempt found that an earlier one got through.
            return Ok(None);
        }
        let handle = self.sessions.handle(&job.session_id);
        let engine = match self.sessions.connected_engine(&job.session_id) {
            Ok(engine) => engine,
            Err(SessionError::NotRunning(_) | SessionError::WrongStatus { .. }) => {
                if handle.is_none() && matches!(self.store.sessions.get(&job.session_id).await, Ok(None)) {
                    return Err(Failure::Permanent("the session was deleted".into()));
                }
                return Err(Failure::Transient("the session is not connected".into()));
            }
            Err(e) => return Err(Failure::Transient(e.to_string())),
        };
        let metadata = handle.map(|h| h.metadata.clone()).unwrap_or_default();
        let pace = PaceSettings::for_session(&self.config, &metadata);
        let now = Instant::now();
        let wait = self.pacer.slot(&job.session_id, &job.message_id, pace, now);
        if wait > MAX_PACING_SLEEP {
            self.pacer.hold(&job.message_id, now + wait);
            return Ok(Some(wait));
        }
        let jitter = if pace.enabled && self.config.pacing_jitter_ms > 0 {
            Duration::from_millis(rand::rng().random_range(0..=self.config.pacing_jitter_ms))
        } else {
            Duration::ZERO
        };
        tokio::time::sleep(wait + jitter).await;

        let media = self.resolve_media(job).await?;
        let (chat, message) = job.to_outgoing(media).map_err(Failure::Permanent)?;
        if self.config.typing_ms > 0 && job.draft.kind() == "text" {
            // Best effort: a failed typing indicator must not stop the message.
            let _ = engine.set_chat_state(&chat, ChatState::Composing).await;
            tokio::time::sleep(Duration::from_millis(self.config.typing_ms)).await;
            let _ = engine.set_chat_state(&chat, ChatState::Paused).await;
        }
        let started = Instant::now();
        let sent = match engine.send(&chat, &message).await {
            Ok(sent) => sent,
            Err(e) => {
                if let (EngineError::NotOnWhatsApp(_), Some(phone)) = (&e, chat.phone()) {
                    self.checks.learn(&job.session_id, &phone, false);
                }
                return Err(e.into());
            }
        };
        metrics::histogram!("wag_message_send_seconds").record(started.elapsed().as_secs_f64());
        if job.resend {
            metrics::counter!("wag_messages_total", "result" => "resent").increment(1);
            return Ok(None);
        }
        if let super::Draft::Poll { question, options, selectable } = &job.draft {
            // Before `sent` is announced, so a vote is never ahead of its poll.
            let poll = crate::store::NewPoll {
                session_id: job.session_id.clone(),
                message_id: job.message_id.clone(),
                wa_message_id: sent.id.as_str().to_owned(),
                chat_jid: chat.to_string(),
                question: question.clone(),
                options: options.clone(),
                selectable: *selectable,
            };
            super::polls::keep(&self.store, poll).await;
        }
        if let super::Draft::PollVote { poll, voter: Some(voter), options, .. } = &job.draft {
            let (store, hub) = (&self.store, &self.hub);
            super::polls::record_own(store, hub, &job.session_id, (poll, voter), options, &chat, &sent).await;
        }
        match self.writer.mark_sent(&job.session_id, &job.message_id, sent.id.as_str()).await {
            // A receipt that overtook the send already announced a later step.
            Ok(Some(log)) if log.status == "sent" => {
                let event = status_event(&log);
                // `message.sent` for subscribers that want only this step.
                self.hub.publish_with(&job.session_id, "message.sent", event.clone(), log.request_id.clone());
                self.hub.publish_with(&job.session_id, "message.status", event, log.request_id.clone());
            }
            Ok(_) => {}
            // Sent but not recorded: a retry would re-send the same id, which
            // WhatsApp treats as the same message; better than losing the status.
            Err(e) => return Err(Failure::Transient(format!("sent, but recording it failed: {e}"))),
        }
        metrics::counter!("wag_messages_total", "result" => "sent").increment(1);
        Ok(None)
    }
}

#[async_trait]
impl Handler for SendHandler {
    async fn handle(&self, claimed: &ClaimedJob) -> Outcome {
        let job: SendJob = match serde_json::from_value(claimed.payload.clone()) {
            Ok(job) => job,
            Err(e) => return Outcome::dead(format!("unreadable job payload: {e}")),
        };
        let span = tracing::info_span!("send", message_id = %job.message_id, session = %job.session_id,
            request_id = job.request_id.as_deref().unwrap_or(""), attempt = claimed.attempt);
        // `instrument`, never `enter`: a guard held across an await leaves the
        // span entered on whichever thread the task resumes on, which corrupts
        // the subscriber's per-thread span stack (and panics it).
        async move {
            match self.attempt(&job, claimed).await {
                Ok(None) => Outcome::Done,
                Ok(Some(wait)) => Outcome::Defer { after: wait },
                Err(Failure::Permanent(reason)) => {
                    self.fail(&job, &reason).await;
                    Outcome::dead(reason)
                }
                Err(Failure::Transient(reason)) if claimed.attempt >= claimed.max_attempts => {
                    let reason = format!("{reason} (gave up after {} attempts)", claimed.attempt);
                    self.fail(&job, &reason).await;
                    Outcome::dead(reason)
                }
                Err(Failure::Transient(reason)) => Outcome::retry(reason),
            }
        }
        .instrument(span)
        .await
    }
}
