//! A new outgoing message as the pipeline stores it: its log row (status
//! `queued`) and its send job, built the same way for every way a message
//! is accepted (the API, batches, schedules, a call's reject message).

use chrono::{DateTime, Utc};

use super::job::{Draft, StatusJob, TargetRef};
use super::tracker::cap_preview;
use super::{QUEUE, SendJob, ids};
use crate::queue::NewJob;
use crate::store::{Direction, NewMessageLog};

pub struct Outgoing {
    pub session_id: String,
    pub message_id: String,
    pub chat: String,
    pub draft: Draft,
    pub reply_to: Option<TargetRef>,
    pub mentions: Vec<String>,
    pub request_id: Option<String>,
    pub batch_id: Option<String>,
    /// A scheduled message: when to send it.
    pub send_at: Option<DateTime<Utc>>,
    /// A status update's audience and look.
    pub status: Option<StatusJob>,
}

impl Outgoing {
    /// A plain text to `chat`, with a new message id.
    pub fn text(session_id: &str, chat: &str, body: &str) -> Self {
        Self {
            session_id: session_id.to_owned(),
            message_id: ids::new_message_id(),
            chat: chat.to_owned(),
            draft: Draft::Text { body: body.to_owned() },
            reply_to: None,
            mentions: Vec::new(),
            request_id: None,
            batch_id: None,
            send_at: None,
            status: None,
        }
    }

    /// The log row and the job; one chat's messages leave in order (the
    /// job's lane is the session and chat).
    pub fn into_rows(
        self,
        preview_chars: usize,
        max_attempts: u32,
    ) -> Result<(NewMessageLog, NewJob), serde_json::Error> {
        let job = SendJob {
            session_id: self.session_id.clone(),
            message_id: self.message_id.clone(),
            wa_id: ids::wa_id_for(&self.message_id),
            chat: self.chat,
            reply_to: self.reply_to,
            mentions: self.mentions,
            request_id: self.request_id.clone(),
            draft: self.draft,
            resend: false,
            status: self.status,
        };
        let log = NewMessageLog {
            session_id: self.session_id.clone(),
            direction: Direction::Outgoing,
            message_id: self.message_id.clone(),
            wa_message_id: Some(job.wa_id.clone()),
            chat_jid: job.chat.clone(),
            message_type: job.draft.kind().to_owned(),
            content_preview: cap_preview(job.draft.preview().as_deref(), preview_chars),
            status: "queued".into(),
            request_id: self.request_id,
            sender_jid: None,
            batch_id: self.batch_id,
            scheduled_at: self.send_at,
        };
        let payload = serde_json::to_value(&job)?;
        let lane = format!("{}|{}", self.session_id, job.chat);
        let mut new_job =
            NewJob::new(QUEUE, lane, payload).id(self.message_id).ordered().max_attempts(max_attempts);
        if let Some(at) = self.send_at {
            new_job = new_job.run_at(at.timestamp_millis());
        }
        Ok((log, new_job))
    }
}
