//! Polls and their votes: the options a vote's hashes refer to, and each
//! voter's latest choice.
//!
//! A WhatsApp vote names its choices by the SHA-256 of each option's text, so
//! a vote means nothing without the poll's options; the message log keeps only
//! the question. Polls are written when one is sent (the WhatsApp id is known
//! then) or received; votes replace the voter's earlier vote unless they are
//! older than it (WhatsApp may deliver a vote twice, or out of order).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Pool, Postgres, Sqlite};

use super::StoreResult;

/// A poll as sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPoll {
    pub session_id: String,
    /// The poll's message in the log.
    pub message_id: String,
    pub wa_message_id: String,
    pub chat_jid: String,
    pub question: String,
    pub options: Vec<String>,
    /// How many options a voter may pick.
    pub selectable: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Poll {
    pub poll: NewPoll,
    pub created_at: DateTime<Utc>,
}

/// One voter's current choice (empty: the vote was taken back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollVote {
    pub voter_jid: String,
    pub selected: Vec<String>,
    pub voted_at: DateTime<Utc>,
}

#[async_trait]
pub trait PollRepo: Send + Sync {
    /// Keeps a poll; the same message again changes nothing.
    async fn put(&self, poll: &NewPoll) -> StoreResult<()>;
    async fn get(&self, session_id: &str, message_id: &str) -> StoreResult<Option<Poll>>;
    async fn by_wa_id(&self, session_id: &str, wa_message_id: &str) -> StoreResult<Option<Poll>>;
    /// Records `voter`'s choice unless a vote of theirs at least as new is
    /// already kept; true when recorded.
    async fn vote(
        &self,
        session_id: &str,
        message_id: &str,
        voter_jid: &str,
        selected: &[String],
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Every voter's current choice, oldest vote first.
    async fn votes(&self, session_id: &str, message_id: &str) -> StoreResult<Vec<PollVote>>;
}

pub struct SqlPolls<DB: sqlx::Database> {
    pool: Pool<DB>,
}

impl<DB: sqlx::Database> SqlPolls<DB> {
    pub fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }
}

type PollRow = (String, String, String, String, String, String, i32, DateTime<Utc>);

fn poll(
    (session_id, message_id, wa_message_id, chat_jid, question, options, selectable, created_at): PollRow,
) -> Poll {
    Poll {
        poll: NewPoll {
            session_id,
            message_id,
            wa_message_id,
            chat_jid,
            question,
            // Written by `put` from a Vec<String>; unreadable means no options.
            options: serde_json::from_str(&options).unwrap_or_default(),
            selectable: u32::try_from(selectable).unwrap_or(1),
        },
        created_at,
    }
}

fn vote((voter_jid, selected, voted_ms): (String, String, i64)) -> PollVote {
    PollVote {
        voter_jid,
        selected: serde_json::from_str(&selected).unwrap_or_default(),
        voted_at: DateTime::from_timestamp_millis(voted_ms).unwrap_or_default(),
    }
}

/// `SELECT` of a poll row `WHERE` …
macro_rules! select_poll {
    ($filter:literal) => {
        concat!(
            "SELECT session_id, message_id, wa_message_id, chat_jid, question, options, selectable, created_at \
             FROM polls WHERE session_id = $1 AND ",
            $filter
        )
    };
}

macro_rules! impl_polls {
    ($db:ty) => {
        #[async_trait]
        impl PollRepo for SqlPolls<$db> {
            async fn put(&self, p: &NewPoll) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO polls (session_id, message_id, wa_message_id, chat_jid, question, options, selectable) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                )
                .bind(&p.session_id)
                .bind(&p.message_id)
                .bind(&p.wa_message_id)
                .bind(&p.chat_jid)
                .bind(&p.question)
                .bind(serde_json::to_string(&p.options).unwrap_or_else(|_| "[]".into()))
                .bind(i32::try_from(p.selectable).unwrap_or(i32::MAX))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get(&self, session_id: &str, message_id: &str) -> StoreResult<Option<Poll>> {
                let row: Option<PollRow> = sqlx::query_as(select_poll!("message_id = $2"))
                    .bind(session_id)
                    .bind(message_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(poll))
            }

            async fn by_wa_id(&self, session_id: &str, wa_message_id: &str) -> StoreResult<Option<Poll>> {
                let row: Option<PollRow> = sqlx::query_as(select_poll!("wa_message_id = $2"))
                    .bind(session_id)
                    .bind(wa_message_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(poll))
            }

            async fn vote(
                &self,
                session_id: &str,
                message_id: &str,
                voter_jid: &str,
                selected: &[String],
                at: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO poll_votes (session_id, message_id, voter_jid, selected, voted_ms) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (session_id, message_id, voter_jid) DO UPDATE \
                     SET selected = excluded.selected, voted_ms = excluded.voted_ms \
                     WHERE poll_votes.voted_ms < excluded.voted_ms",
                )
                .bind(session_id)
                .bind(message_id)
                .bind(voter_jid)
                .bind(serde_json::to_string(selected).unwrap_or_else(|_| "[]".into()))
                .bind(at.timestamp_millis())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn votes(&self, session_id: &str, message_id: &str) -> StoreResult<Vec<PollVote>> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT voter_jid, selected, voted_ms FROM poll_votes \
                     WHERE session_id = $1 AND message_id = $2 ORDER BY voted_ms, voter_jid",
                )
                .bind(session_id)
                .bind(message_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(vote).collect())
            }
        }
    };
}

impl_polls!(Postgres);
impl_polls!(Sqlite);
