//! The one SQL implementation of every repository, stamped out per backend.
//!
//! The SQL below is written once in the dialect PostgreSQL and SQLite share
//! (`$n` parameters, `RETURNING`, `ON CONFLICT`), and the macro instantiates it
//! for `Pool<Postgres>` and `Pool<Sqlite>`. A macro rather than generics:
//! sqlx's per-database trait bounds would make every method signature longer
//! than its body. Timestamps are bound from Rust so both backends store the
//! same instants in a comparable form.

use std::marker::PhantomData;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{Connection as _, Database, Pool, Postgres, QueryBuilder, Sqlite};

use super::models::*;
use super::repos::*;
use super::{StoreResult, WriteGate, Writer, push_in};

/// `indices` grouped by the session `session_of` names for each.
fn by_session<'a>(
    indices: impl IntoIterator<Item = usize>,
    session_of: impl Fn(usize) -> &'a String,
) -> std::collections::BTreeMap<&'a str, Vec<usize>> {
    let mut sessions: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for i in indices {
        sessions.entry(session_of(i).as_str()).or_default().push(i);
    }
    sessions
}

/// Ids bound in one `IN (…)` list: a statement per this many keeps each
/// well under SQLite's and PostgreSQL's limits on bound parameters.
const IDS_PER_STATEMENT: usize = 500;

/// Message log ids deleted per statement by retention.
const RETENTION_CHUNK: i64 = 5_000;

/// Receipt steps in the order a batch applies them: (step, its time
/// column, the statuses it may move forward from).
const STEPS: [(&str, &str, &str); 3] = [
    ("delivered", "delivered_at", "('queued', 'sent')"),
    ("read", "read_at", "('queued', 'sent', 'delivered')"),
    ("played", "played_at", "('queued', 'sent', 'delivered', 'read')"),
];

/// A row returned by `sent` marks (tag 0) or a receipt step (tag = index
/// in `STEPS` + 1). `i32`: a bare integer literal on PostgreSQL.
#[derive(sqlx::FromRow)]
struct Tagged {
    tag: i32,
    #[sqlx(flatten)]
    log: MessageLog,
}

/// The rows `sent` marks and receipts moved, in the order given.
type Progress = (Vec<Option<MessageLog>>, Vec<Option<MessageLog>>);

/// One statement of `record_progress`, by the input indices it covers.
enum ProgressStatement<'a> {
    /// The `sent` marks of one session.
    Sent(&'a str, Vec<usize>),
    /// One receipt step (`STEPS` index) for up to `IDS_PER_STATEMENT` ids of one session.
    Step(usize, &'a str, Vec<usize>),
}

/// `record_progress`'s statements in order: `sent` marks first, so a
/// receipt in the same batch finds its message sent whichever came first;
/// then one multi-row UPDATE per step in step order, so a batch holding
/// "delivered" and "read" for one message ends at "read".
fn progress_plan<'a>(
    sent: &'a [(String, String, String)],
    receipts: &'a [(String, String, &'static str)],
) -> Vec<ProgressStatement<'a>> {
    let mut plan: Vec<_> = by_session(0..sent.len(), |i| &sent[i].0)
        .into_iter()
        .map(|(session, picked)| ProgressStatement::Sent(session, picked))
        .collect();
    for (step, (name, ..)) in STEPS.iter().enumerate() {
        let picked: Vec<usize> = (0..receipts.len()).filter(|&i| receipts[i].2 == *name).collect();
        for (session, picked) in by_session(picked, |i| &receipts[i].0) {
            plan.extend(
                picked
                    .chunks(IDS_PER_STATEMENT)
                    .map(|chunk| ProgressStatement::Step(step, session, chunk.to_vec())),
            );
        }
    }
    plan
}

/// The row each `sent` mark and receipt moved, from the tagged rows the
/// plan's statements returned (in order: a later row of a message wins).
fn progress_rows(
    rows: Vec<Tagged>,
    sent: &[(String, String, String)],
    receipts: &[(String, String, &'static str)],
) -> Progress {
    let mut marked = std::collections::HashMap::new();
    let mut moved = std::collections::HashMap::new();
    for Tagged { tag, log } in rows {
        if tag == 0 {
            marked.insert((log.session_id.clone(), log.message_id.clone()), log);
        } else if let (Some(wa), Some((step, ..))) =
            (log.wa_message_id.clone(), usize::try_from(tag - 1).ok().and_then(|i| STEPS.get(i)))
        {
            moved.insert((log.session_id.clone(), wa, *step), log);
        }
    }
    let sent = sent.iter().map(|(s, m, _)| marked.remove(&(s.clone(), m.clone()))).collect();
    let receipts =
        receipts.iter().map(|(s, wa, step)| moved.remove(&(s.clone(), wa.clone(), *step))).collect();
    (sent, receipts)
}

/// `record_progress` on a backend that runs it as one script; None: the
/// general path (one statement at a time in a transaction).
#[async_trait]
trait ProgressScript<DB: Database> {
    async fn record(
        backend: &SqlBackend<DB>,
        sent: &[(String, String, String)],
        receipts: &[(String, String, &'static str)],
        now: DateTime<Utc>,
    ) -> Option<StoreResult<Progress>>;
}

struct Script;

#[async_trait]
impl ProgressScript<Postgres> for Script {
    async fn record(
        _: &SqlBackend<Postgres>,
        _: &[(String, String, String)],
        _: &[(String, String, &'static str)],
        _: DateTime<Utc>,
    ) -> Option<StoreResult<Progress>> {
        None
    }
}

#[async_trait]
impl ProgressScript<Sqlite> for Script {
    /// The whole transaction in one hand-off (see `script.rs`): on SQLite
    /// each statement is a round trip to the connection's thread.
    async fn record(
        backend: &SqlBackend<Sqlite>,
        sent: &[(String, String, String)],
        receipts: &[(String, String, &'static str)],
        now: DateTime<Utc>,
    ) -> Option<StoreResult<Progress>> {
        let mut script = QueryBuilder::<Sqlite>::new("BEGIN IMMEDIATE;\n");
        for statement in &progress_plan(sent, receipts) {
            SqlBackend::<Sqlite>::push_progress(&mut script, statement, sent, receipts, now);
            script.push(";\n");
        }
        script.push("COMMIT;\n");
        let _turn = backend.gate.background().await;
        Some(match super::ScriptTx::run_committed::<Tagged>(&backend.writer, &mut script).await {
            Ok(rows) => Ok(progress_rows(rows, sent, receipts)),
            Err(e) => Err(e.into()),
        })
    }
}

/// One database's pool, implementing every repository trait.
pub struct SqlBackend<DB: Database> {
    pub(crate) pool: Pool<DB>,
    /// The connection the gated writes use (see [`Self::with_writer`]).
    writer: Writer<DB>,
    gate: WriteGate,
    _db: PhantomData<DB>,
}

impl<DB: Database> SqlBackend<DB> {
    pub fn new(pool: Pool<DB>) -> Self {
        Self { writer: Writer::Pool(pool.clone()), pool, gate: WriteGate::open(), _db: PhantomData }
    }

    /// Hot batch writes (message log inserts, `sent` marks, receipts) take
    /// `gate` and run on `writer` (see `writer.rs`).
    pub fn with_writer(mut self, gate: WriteGate, writer: Writer<DB>) -> Self {
        self.gate = gate;
        self.writer = writer;
        self
    }
}

macro_rules! session_cols {
    () => {
        "id, engine, status, phone, push_name, metadata, last_seen_at, desired_state, last_error, created_at, updated_at"
    };
}
macro_rules! log_cols {
    () => {
        "id, session_id, direction, message_id, wa_message_id, chat_jid, message_type, content_preview, status, error, request_id, created_at, updated_at, sender_jid, sent_at, delivered_at, read_at, played_at, failed_at, batch_id, scheduled_at"
    };
    // The same columns of a table aliased `m`.
    (m) => {
        "m.id, m.session_id, m.direction, m.message_id, m.wa_message_id, m.chat_jid, m.message_type, m.content_preview, m.status, m.error, m.request_id, m.created_at, m.updated_at, m.sender_jid, m.sent_at, m.delivered_at, m.read_at, m.played_at, m.failed_at, m.batch_id, m.scheduled_at"
    };
}
macro_rules! webhook_cols {
    () => {
        "id, session_id, url, events, secret, headers, enabled, created_at, updated_at"
    };
}
macro_rules! delivery_cols {
    () => {
        "id, session_id, webhook_id, webhook_url, event_id, event_type, payload, status, attempts, last_attempt_at, last_status_code, last_error, created_at, updated_at"
    };
}

macro_rules! impl_repos {
    ($db:ty) => {
        impl SqlBackend<$db> {
            /// The message log's multi-row insert (rows already there are
            /// skipped) on `conn`, which may be inside another writer's
            /// transaction: the send queue writes an accepted message's row
            /// and its job in one commit. Takes no writer gate; the caller
            /// holds the turn.
            pub async fn insert_logs_on(
                conn: &mut <$db as Database>::Connection,
                rows: &[NewMessageLog],
            ) -> Result<u64, sqlx::Error> {
                if rows.is_empty() {
                    return Ok(0);
                }
                // One multi-row statement: one round trip and one commit for the batch.
                let mut q = QueryBuilder::<$db>::new("");
                Self::push_insert_logs(&mut q, rows);
                Ok(q.build().execute(&mut *conn).await?.rows_affected())
            }

            /// Marks `picked` rows (session, message id, WhatsApp id) of one
            /// session sent. The ids are a list, not a joined VALUES table:
            /// joined, PostgreSQL without statistics (a young table, or
            /// autovacuum off) sometimes scanned the table once per row
            /// (30–50 ms per batch of 16 in the benchmark's slow mode).
            fn push_sent_update(
                q: &mut QueryBuilder<$db>,
                session: &str,
                picked: &[usize],
                rows: &[(String, String, String)],
                now: DateTime<Utc>,
            ) {
                q.push(
                    "UPDATE message_logs SET status = CASE WHEN status = 'queued' THEN 'sent' ELSE status END, \
                     wa_message_id = CASE message_id",
                );
                for &i in picked {
                    q.push(" WHEN ").push_bind(rows[i].1.as_str()).push(" THEN ").push_bind(rows[i].2.as_str());
                }
                q.push(" ELSE wa_message_id END, error = NULL, sent_at = COALESCE(sent_at, ")
                    .push_bind(now)
                    .push("), updated_at = ")
                    .push_bind(now)
                    .push(" WHERE session_id = ")
                    .push_bind(session.to_owned())
                    .push(" AND message_id");
                push_in(q, picked.iter().map(|&i| rows[i].1.clone()));
                q.push(concat!(" AND status <> 'failed' RETURNING 0 AS tag, ", log_cols!()));
            }

            /// Appends one receipt step's multi-row UPDATE for `wa_ids` of
            /// `session` (`STEPS[step]`); it returns the rows it moved,
            /// tagged `step + 1`.
            fn push_advance<'a>(
                q: &mut QueryBuilder<$db>,
                step: usize,
                session: &str,
                wa_ids: impl IntoIterator<Item = &'a str>,
                now: DateTime<Utc>,
            ) {
                let (name, column, allowed) = STEPS[step];
                // The status guard is wrapped (`IS TRUE`) so no index can
                // serve it: with statistics older than a burst (PostgreSQL
                // without a recent ANALYZE) the planner took "queued or
                // sent" for a handful of rows, scanned all of them through
                // the status index and compared each with every receipt
                // (243 ms for 50 receipts against 18,000 waiting rows). The
                // ids are a list per session, not a joined VALUES table:
                // joined, PostgreSQL without statistics (a young table)
                // sometimes looped over the table once per receipt (about
                // 150 ms per batch of 130, against 20 ms otherwise: the
                // benchmark's slow mode); a list is one index probe per id
                // or at worst one pass over the session's rows. The index is
                // partial, so `IS NOT NULL` is spelled out for it to match.
                q.push(format!("UPDATE message_logs SET status = '{name}', {column} = COALESCE({column}, "));
                q.push_bind(now)
                    .push("), updated_at = ")
                    .push_bind(now)
                    .push(" WHERE session_id = ")
                    .push_bind(session.to_owned())
                    .push(" AND wa_message_id");
                push_in(q, wa_ids.into_iter().map(str::to_owned));
                q.push(format!(
                    " AND wa_message_id IS NOT NULL AND direction = 'outgoing' \
                     AND (status IN {allowed}) IS TRUE RETURNING {} AS tag, ",
                    step + 1
                ))
                .push(log_cols!());
            }

            /// Appends one statement of the progress plan.
            fn push_progress(
                q: &mut QueryBuilder<$db>,
                statement: &ProgressStatement<'_>,
                sent: &[(String, String, String)],
                receipts: &[(String, String, &'static str)],
                now: DateTime<Utc>,
            ) {
                match statement {
                    ProgressStatement::Sent(session, picked) => Self::push_sent_update(q, session, picked, sent, now),
                    ProgressStatement::Step(step, session, picked) => {
                        Self::push_advance(q, *step, session, picked.iter().map(|&i| receipts[i].1.as_str()), now)
                    }
                }
            }

            /// Appends the multi-row insert of `rows` (ids already logged
            /// are skipped) to `q`, for a caller that runs several
            /// statements at once. `rows` must not be empty.
            pub fn push_insert_logs(q: &mut QueryBuilder<$db>, rows: &[NewMessageLog]) {
                let now = Utc::now();
                q.push(
                    "INSERT INTO message_logs (session_id, direction, message_id, wa_message_id, chat_jid, \
                     message_type, content_preview, status, request_id, created_at, updated_at, sender_jid, batch_id, scheduled_at) ",
                );
                q.push_values(rows, |mut b, new| {
                    b.push_bind(new.session_id.clone())
                        .push_bind(new.direction.as_str())
                        .push_bind(new.message_id.clone())
                        .push_bind(new.wa_message_id.clone())
                        .push_bind(new.chat_jid.clone())
                        .push_bind(new.message_type.clone())
                        .push_bind(new.content_preview.clone())
                        .push_bind(new.status.clone())
                        .push_bind(new.request_id.clone())
                        .push_bind(now)
                        .push_bind(now)
                        .push_bind(new.sender_jid.clone())
                        .push_bind(new.batch_id.clone())
                        .push_bind(new.scheduled_at);
                });
                q.push(" ON CONFLICT (session_id, message_id) DO NOTHING");
            }
        }

        #[async_trait]
        impl SessionRepo for SqlBackend<$db> {
            async fn create(&self, new: &NewSession) -> StoreResult<Session> {
                let now = Utc::now();
                let sql = concat!(
                    "INSERT INTO sessions (id, engine, status, metadata, created_at, updated_at) \
                     VALUES ($1, $2, 'created', $3, $4, $4) RETURNING ",
                    session_cols!()
                );
                Ok(sqlx::query_as::<$db, Session>(sql)
                    .bind(&new.id)
                    .bind(&new.engine)
                    .bind(Json(&new.metadata))
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn get(&self, id: &str) -> StoreResult<Option<Session>> {
                let sql = concat!("SELECT ", session_cols!(), " FROM sessions WHERE id = $1");
                Ok(sqlx::query_as::<$db, Session>(sql).bind(id).fetch_optional(&self.pool).await?)
            }

            async fn list(&self, page: &Page<String>) -> StoreResult<Vec<Session>> {
                let mut q = QueryBuilder::<$db>::new(concat!("SELECT ", session_cols!(), " FROM sessions"));
                if let Some(after) = &page.after {
                    q.push(" WHERE id > ").push_bind(after.clone());
                }
                q.push(" ORDER BY id LIMIT ").push_bind(page.sql_limit());
                Ok(q.build_query_as::<Session>().fetch_all(&self.pool).await?)
            }

            async fn set_status(&self, id: &str, status: &str) -> StoreResult<Option<Session>> {
                let sql = concat!("UPDATE sessions SET status = $2, updated_at = $3 WHERE id = $1 RETURNING ", session_cols!());
                Ok(sqlx::query_as::<$db, Session>(sql)
                    .bind(id)
                    .bind(status)
                    .bind(Utc::now())
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn set_account(
                &self,
                id: &str,
                phone: Option<&str>,
                push_name: Option<&str>,
            ) -> StoreResult<Option<Session>> {
                let sql = concat!(
                    "UPDATE sessions SET phone = $2, push_name = $3, last_seen_at = $4, updated_at = $4 \
                     WHERE id = $1 RETURNING ",
                    session_cols!()
                );
                Ok(sqlx::query_as::<$db, Session>(sql)
                    .bind(id)
                    .bind(phone)
                    .bind(push_name)
                    .bind(Utc::now())
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn transition(&self, id: &str, t: &Transition<'_>) -> StoreResult<Option<SessionEvent>> {
                let now = Utc::now();
                let mut tx = self.pool.begin().await?;
                let updated = sqlx::query::<$db>(
                    "UPDATE sessions SET status = $2, last_error = $3, updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(t.status)
                .bind(t.error)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 0 {
                    return Ok(None);
                }
                let event = sqlx::query_as::<$db, SessionEvent>(
                    "INSERT INTO session_events (session_id, event_type, details, created_at) \
                     VALUES ($1, $2, $3, $4) RETURNING id, session_id, event_type, details, created_at",
                )
                .bind(id)
                .bind(t.event_type)
                .bind(Json(t.details))
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some(event))
            }

            async fn set_desired_state(&self, id: &str, desired: &str) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("UPDATE sessions SET desired_state = $2 WHERE id = $1")
                    .bind(id)
                    .bind(desired)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn list_running(&self, page: &Page<String>) -> StoreResult<Vec<Session>> {
                let mut q = QueryBuilder::<$db>::new(concat!(
                    "SELECT ", session_cols!(), " FROM sessions WHERE desired_state = 'running'"
                ));
                if let Some(after) = &page.after {
                    q.push(" AND id > ").push_bind(after.clone());
                }
                q.push(" ORDER BY id LIMIT ").push_bind(page.sql_limit());
                Ok(q.build_query_as::<Session>().fetch_all(&self.pool).await?)
            }

            async fn touch_seen(&self, id: &str) -> StoreResult<()> {
                sqlx::query::<$db>("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(Utc::now())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete(&self, id: &str) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("DELETE FROM sessions WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn count_by_status(&self) -> StoreResult<Vec<(String, i64)>> {
                Ok(sqlx::query_as::<$db, (String, i64)>(
                    "SELECT status, COUNT(*) FROM sessions GROUP BY status ORDER BY status",
                )
                .fetch_all(&self.pool)
                .await?)
            }
        }

        #[async_trait]
        impl TemplateRepo for SqlBackend<$db> {
            async fn create(&self, new: &NewTemplate) -> StoreResult<Template> {
                Ok(sqlx::query_as::<$db, Template>(
                    "INSERT INTO templates (name, content, description, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) RETURNING name, content, description, created_at, updated_at",
                )
                .bind(&new.name)
                .bind(&new.content)
                .bind(new.description.as_deref())
                .bind(Utc::now())
                .fetch_one(&self.pool)
                .await?)
            }

            async fn get(&self, name: &str) -> StoreResult<Option<Template>> {
                Ok(sqlx::query_as::<$db, Template>(
                    "SELECT name, content, description, created_at, updated_at FROM templates WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn list(&self, page: &Page<String>) -> StoreResult<Vec<Template>> {
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT name, content, description, created_at, updated_at FROM templates",
                );
                if let Some(after) = &page.after {
                    q.push(" WHERE name > ").push_bind(after.clone());
                }
                q.push(" ORDER BY name LIMIT ").push_bind(page.sql_limit());
                Ok(q.build_query_as::<Template>().fetch_all(&self.pool).await?)
            }

            async fn update(
                &self,
                name: &str,
                content: &str,
                description: Option<&str>,
            ) -> StoreResult<Option<Template>> {
                Ok(sqlx::query_as::<$db, Template>(
                    "UPDATE templates SET content = $2, description = $3, updated_at = $4 WHERE name = $1 \
                     RETURNING name, content, description, created_at, updated_at",
                )
                .bind(name)
                .bind(content)
                .bind(description)
                .bind(Utc::now())
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn delete(&self, name: &str) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("DELETE FROM templates WHERE name = $1")
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }

        #[async_trait]
        impl MessageLogRepo for SqlBackend<$db> {
            async fn insert(&self, new: &NewMessageLog) -> StoreResult<MessageLog> {
                let sql = concat!(
                    "INSERT INTO message_logs (session_id, direction, message_id, wa_message_id, chat_jid, \
                     message_type, content_preview, status, request_id, created_at, updated_at, sender_jid, batch_id, scheduled_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13) RETURNING ",
                    log_cols!()
                );
                Ok(sqlx::query_as::<$db, MessageLog>(sql)
                    .bind(&new.session_id)
                    .bind(new.direction.as_str())
                    .bind(&new.message_id)
                    .bind(new.wa_message_id.as_deref())
                    .bind(&new.chat_jid)
                    .bind(&new.message_type)
                    .bind(new.content_preview.as_deref())
                    .bind(&new.status)
                    .bind(new.request_id.as_deref())
                    .bind(Utc::now())
                    .bind(new.sender_jid.as_deref())
                    .bind(new.batch_id.as_deref())
                    .bind(new.scheduled_at)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn insert_ignore(&self, new: &NewMessageLog) -> StoreResult<bool> {
                Ok(self.insert_many_ignore(std::slice::from_ref(new)).await? > 0)
            }

            async fn mark_sent(
                &self,
                session_id: &str,
                message_id: &str,
                wa_message_id: &str,
            ) -> StoreResult<Option<MessageLog>> {
                let row = (session_id.to_owned(), message_id.to_owned(), wa_message_id.to_owned());
                Ok(self.mark_sent_many(&[row]).await?.pop().flatten())
            }

            async fn mark_failed(&self, session_id: &str, message_id: &str, error: &str) -> StoreResult<Option<MessageLog>> {
                let sql = concat!(
                    "UPDATE message_logs SET status = 'failed', error = $3, failed_at = $4, updated_at = $4 \
                     WHERE session_id = $1 AND message_id = $2 AND status = 'queued' RETURNING ",
                    log_cols!()
                );
                Ok(sqlx::query_as::<$db, MessageLog>(sql)
                    .bind(session_id)
                    .bind(message_id)
                    .bind(error)
                    .bind(Utc::now())
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn advance(&self, session_id: &str, wa_message_id: &str, step: &str) -> StoreResult<Option<MessageLog>> {
                let step = match step {
                    "delivered" => "delivered",
                    "read" => "read",
                    "played" => "played",
                    _ => return Ok(None),
                };
                let row = (session_id.to_owned(), wa_message_id.to_owned(), step);
                Ok(self.advance_many(&[row]).await?.pop().flatten())
            }

            async fn get(&self, session_id: &str, message_id: &str) -> StoreResult<Option<MessageLog>> {
                let sql = concat!("SELECT ", log_cols!(), " FROM message_logs WHERE session_id = $1 AND message_id = $2");
                Ok(sqlx::query_as::<$db, MessageLog>(sql)
                    .bind(session_id)
                    .bind(message_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn known_wa_ids(&self, session_id: &str, wa_message_ids: &[String]) -> StoreResult<Vec<String>> {
                let mut known = Vec::new();
                for chunk in wa_message_ids.chunks(IDS_PER_STATEMENT) {
                    let mut q = QueryBuilder::<$db>::new(
                        "SELECT DISTINCT wa_message_id FROM message_logs WHERE session_id = ",
                    );
                    q.push_bind(session_id.to_owned()).push(" AND wa_message_id");
                    push_in(&mut q, chunk.iter().cloned());
                    q.push(" AND wa_message_id IS NOT NULL");
                    known.extend(q.build_query_scalar::<String>().fetch_all(&self.pool).await?);
                }
                Ok(known)
            }

            async fn find_by_wa_id(
                &self,
                session_id: &str,
                wa_message_id: &str,
            ) -> StoreResult<Option<MessageLog>> {
                let sql = concat!(
                    "SELECT ",
                    log_cols!(),
                    " FROM message_logs WHERE session_id = $1 AND wa_message_id = $2 \
                     ORDER BY id DESC LIMIT 1"
                );
                Ok(sqlx::query_as::<$db, MessageLog>(sql)
                    .bind(session_id)
                    .bind(wa_message_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn set_status(
                &self,
                session_id: &str,
                message_id: &str,
                status: &str,
                error: Option<&str>,
            ) -> StoreResult<Option<MessageLog>> {
                let sql = concat!(
                    "UPDATE message_logs SET status = $3, error = $4, updated_at = $5 \
                     WHERE session_id = $1 AND message_id = $2 RETURNING ",
                    log_cols!()
                );
                Ok(sqlx::query_as::<$db, MessageLog>(sql)
                    .bind(session_id)
                    .bind(message_id)
                    .bind(status)
                    .bind(error)
                    .bind(Utc::now())
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn set_wa_id(
                &self,
                session_id: &str,
                message_id: &str,
                wa_message_id: &str,
            ) -> StoreResult<Option<MessageLog>> {
                let sql = concat!(
                    "UPDATE message_logs SET wa_message_id = $3, updated_at = $4 \
                     WHERE session_id = $1 AND message_id = $2 RETURNING ",
                    log_cols!()
                );
                Ok(sqlx::query_as::<$db, MessageLog>(sql)
                    .bind(session_id)
                    .bind(message_id)
                    .bind(wa_message_id)
                    .bind(Utc::now())
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list(
                &self,
                session_id: &str,
                filter: &MessageLogFilter,
                page: &Page<i64>,
            ) -> StoreResult<Vec<MessageLog>> {
                let mut q = QueryBuilder::<$db>::new(concat!("SELECT ", log_cols!(), " FROM message_logs WHERE session_id = "));
                q.push_bind(session_id.to_owned());
                if let Some(direction) = filter.direction {
                    q.push(" AND direction = ").push_bind(direction.as_str());
                }
                if let Some(chat) = &filter.chat_jid {
                    q.push(" AND chat_jid = ").push_bind(chat.clone());
                }
                if let Some(status) = &filter.status {
                    q.push(" AND status = ").push_bind(status.clone());
                }
                if let Some(after) = page.after {
                    q.push(" AND id < ").push_bind(after);
                }
                q.push(" ORDER BY id DESC LIMIT ").push_bind(page.sql_limit());
                Ok(q.build_query_as::<MessageLog>().fetch_all(&self.pool).await?)
            }

            async fn insert_many_ignore(&self, rows: &[NewMessageLog]) -> StoreResult<u64> {
                if rows.is_empty() {
                    return Ok(0);
                }
                let _turn = self.gate.intake().await;
                let mut conn = self.writer.acquire().await?;
                Ok(Self::insert_logs_on(&mut conn, rows).await?)
            }

            async fn mark_sent_many(&self, rows: &[(String, String, String)]) -> StoreResult<Vec<Option<MessageLog>>> {
                Ok(self.record_progress(rows, &[]).await?.0)
            }

            async fn record_progress(
                &self,
                sent: &[(String, String, String)],
                receipts: &[(String, String, &'static str)],
            ) -> StoreResult<Progress> {
                if sent.is_empty() && receipts.is_empty() {
                    return Ok((Vec::new(), Vec::new()));
                }
                let now = Utc::now();
                if let Some(done) = <Script as ProgressScript<$db>>::record(self, sent, receipts, now).await {
                    return done;
                }
                let _turn = self.gate.background().await;
                let mut conn = self.writer.acquire().await?;
                let mut tx = conn.begin().await?;
                let mut rows = Vec::new();
                for statement in &progress_plan(sent, receipts) {
                    let mut q = QueryBuilder::<$db>::new("");
                    Self::push_progress(&mut q, statement, sent, receipts, now);
                    rows.extend(q.build_query_as::<Tagged>().fetch_all(&mut *tx).await?);
                }
                tx.commit().await?;
                Ok(progress_rows(rows, sent, receipts))
            }

            async fn chats(&self, session_id: &str, page: &Page<i64>) -> StoreResult<Vec<ChatSummary>> {
                // A skip scan of the (session, chat, id) index: one probe for
                // each of the session's chats to find it, one for its newest
                // row, then unread counts for the page's chats only (partial
                // index). Cost grows with the number of chats, not of
                // messages; the window-function pass it replaced read the
                // session's whole log (README, "Chats").
                let mut q = QueryBuilder::<$db>::new(
                    "WITH RECURSIVE chats (jid) AS (SELECT MIN(chat_jid) FROM message_logs WHERE session_id = ",
                );
                q.push_bind(session_id.to_owned());
                q.push(
                    " UNION ALL SELECT (SELECT MIN(chat_jid) FROM message_logs WHERE session_id = ",
                );
                q.push_bind(session_id.to_owned());
                q.push(
                    " AND chat_jid > chats.jid) FROM chats WHERE chats.jid IS NOT NULL), \
                     latest (jid, last_id) AS (SELECT jid, (SELECT MAX(id) FROM message_logs WHERE session_id = ",
                );
                q.push_bind(session_id.to_owned());
                q.push(
                    " AND chat_jid = chats.jid) FROM chats WHERE jid IS NOT NULL), \
                     page (jid, last_id) AS (SELECT jid, last_id FROM latest \
                     WHERE jid <> 'status@broadcast'",
                );
                // Status updates are not a chat (WhatsApp lists them apart).
                if let Some(after) = page.after {
                    q.push(" AND last_id < ").push_bind(after);
                }
                q.push(" ORDER BY last_id DESC LIMIT ").push_bind(page.sql_limit());
                q.push(concat!(
                    ") SELECT ",
                    log_cols!(m),
                    ", (SELECT COUNT(*) FROM message_logs u WHERE u.session_id = "
                ));
                q.push_bind(session_id.to_owned());
                q.push(
                    " AND u.chat_jid = page.jid AND u.direction = 'incoming' AND u.status = 'received') AS unread \
                     FROM page JOIN message_logs m ON m.id = page.last_id ORDER BY page.last_id DESC",
                );
                Ok(q.build_query_as::<ChatSummary>().fetch_all(&self.pool).await?)
            }

            async fn unread(&self, session_id: &str, chat_jid: &str, limit: i64) -> StoreResult<Vec<(String, Option<String>)>> {
                Ok(sqlx::query_as::<$db, (String, Option<String>)>(
                    "SELECT wa_message_id, sender_jid FROM message_logs WHERE session_id = $1 AND chat_jid = $2 \
                     AND direction = 'incoming' AND status = 'received' AND wa_message_id IS NOT NULL \
                     ORDER BY id LIMIT $3",
                )
                .bind(session_id)
                .bind(chat_jid)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn put_media_handle(&self, session_id: &str, message_id: &str, handle: &str) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO media_handles (session_id, message_id, handle) VALUES ($1, $2, $3) \
                     ON CONFLICT (session_id, message_id) DO UPDATE SET handle = excluded.handle",
                )
                .bind(session_id)
                .bind(message_id)
                .bind(handle)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn media_handle(&self, session_id: &str, message_id: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar::<$db, String>(
                    "SELECT handle FROM media_handles WHERE session_id = $1 AND message_id = $2",
                )
                .bind(session_id)
                .bind(message_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn mark_read(&self, session_id: &str, chat_jid: &str, wa_ids: &[String]) -> StoreResult<u64> {
                if wa_ids.is_empty() {
                    return Ok(0);
                }
                let now = Utc::now();
                let mut q = QueryBuilder::<$db>::new("UPDATE message_logs SET status = 'read', read_at = ");
                q.push_bind(now).push(", updated_at = ").push_bind(now);
                q.push(" WHERE session_id = ").push_bind(session_id.to_owned());
                q.push(" AND chat_jid = ").push_bind(chat_jid.to_owned());
                q.push(" AND direction = 'incoming' AND status = 'received' AND wa_message_id");
                super::push_in(&mut q, wa_ids.iter().cloned());
                Ok(q.build().execute(&self.pool).await?.rows_affected())
            }

            async fn advance_many(&self, rows: &[(String, String, &'static str)]) -> StoreResult<Vec<Option<MessageLog>>> {
                Ok(self.record_progress(&[], rows).await?.1)
            }

            async fn stale_outgoing(
                &self,
                status: &str,
                before: DateTime<Utc>,
                max_resends: i32,
                after_id: i64,
                limit: i64,
            ) -> StoreResult<Vec<(i64, String, String)>> {
                // The literal `status IN (…)` lets both databases use the
                // partial index of waiting rows (`message_logs_waiting_idx`)
                // whatever `$1` is.
                Ok(sqlx::query_as::<$db, (i64, String, String)>(
                    "SELECT id, session_id, message_id FROM message_logs WHERE status IN ('queued', 'sent') \
                     AND status = $1 AND updated_at < $2 \
                     AND direction = 'outgoing' AND resends < $3 AND id > $4 ORDER BY id LIMIT $5",
                )
                .bind(status)
                .bind(before)
                .bind(max_resends)
                .bind(after_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn list_batch(&self, session_id: &str, batch_id: &str) -> StoreResult<Vec<MessageLog>> {
                Ok(sqlx::query_as::<$db, MessageLog>(concat!(
                    "SELECT ", log_cols!(), " FROM message_logs WHERE session_id = $1 AND batch_id = $2 ORDER BY id"
                ))
                .bind(session_id)
                .bind(batch_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn list_scheduled(&self, session_id: &str, page: &Page<i64>) -> StoreResult<Vec<MessageLog>> {
                let mut q = QueryBuilder::<$db>::new(concat!(
                    "SELECT ", log_cols!(), " FROM message_logs WHERE session_id = "
                ));
                q.push_bind(session_id.to_owned())
                    .push(" AND scheduled_at IS NOT NULL AND status = 'queued'");
                if let Some(after) = page.after {
                    q.push(" AND id > ").push_bind(after);
                }
                q.push(" ORDER BY id LIMIT ").push_bind(page.sql_limit());
                Ok(q.build_query_as::<MessageLog>().fetch_all(&self.pool).await?)
            }

            async fn count_resend(&self, session_id: &str, message_id: &str) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "UPDATE message_logs SET resends = resends + 1, updated_at = $3 WHERE session_id = $1 AND message_id = $2",
                )
                .bind(session_id)
                .bind(message_id)
                .bind(Utc::now())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn count_queued(&self, session_id: &str) -> StoreResult<i64> {
                Ok(sqlx::query_as::<$db, (i64,)>(
                    "SELECT COUNT(*) FROM message_logs WHERE session_id = $1 AND status = 'queued'",
                )
                .bind(session_id)
                .fetch_one(&self.pool)
                .await?
                .0)
            }

            /// Rows are created in id order, so the rows older than `cutoff`
            /// are the ids below a boundary, found by a binary search over
            /// the primary key (no index on `created_at`: on the hot path it
            /// was one more index write per message). Deleted in id ranges
            /// of `RETENTION_CHUNK`, each its own short gated write, so a
            /// large backlog never holds SQLite's one writer for long. A clock
            /// that stepped back can keep or take a few rows near the
            /// boundary, by the size of the step.
            async fn delete_before(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
                let (first, last): (Option<i64>, Option<i64>) =
                    sqlx::query_as::<$db, (Option<i64>, Option<i64>)>("SELECT MIN(id), MAX(id) FROM message_logs")
                        .fetch_one(&self.pool)
                        .await?;
                let (Some(first), Some(last)) = (first, last) else { return Ok(0) };
                // Every id below `old_below` is older than the cutoff; no id
                // at or above `new_from` is.
                let (mut old_below, mut new_from) = (first, last + 1);
                while old_below < new_from {
                    let mid = old_below + (new_from - old_below) / 2;
                    let probe = sqlx::query_as::<$db, (i64, DateTime<Utc>)>(
                        "SELECT id, created_at FROM message_logs WHERE id >= $1 ORDER BY id LIMIT 1",
                    )
                    .bind(mid)
                    .fetch_optional(&self.pool)
                    .await?;
                    match probe {
                        Some((id, at)) if at < cutoff => old_below = id + 1,
                        _ => new_from = mid,
                    }
                }
                let mut deleted = 0;
                let mut from = first;
                while from < old_below {
                    let to = (from + RETENTION_CHUNK).min(old_below);
                    // A turn per range: the hot writers get the writer
                    // between two ranges instead of sleeping in SQLite's
                    // busy handler behind a delete on another connection.
                    let _turn = self.gate.background().await;
                    let mut conn = self.writer.acquire().await?;
                    // A row still `queued` is a message not sent yet (one
                    // scheduled further ahead than the retention, or still
                    // waiting in its chat's lane): deleting it would lose
                    // its status and the client's view of it. Stale ones
                    // are failed by the repair sweep and go next time.
                    deleted += sqlx::query::<$db>(
                        "DELETE FROM message_logs WHERE id >= $1 AND id < $2 AND status <> 'queued'",
                    )
                    .bind(from)
                    .bind(to)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                    from = to;
                }
                Ok(deleted)
            }
        }

        #[async_trait]
        impl WebhookRepo for SqlBackend<$db> {
            async fn create(&self, new: &NewWebhook) -> StoreResult<Webhook> {
                let sql = concat!(
                    "INSERT INTO webhooks (id, session_id, url, events, secret, headers, enabled, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7) RETURNING ",
                    webhook_cols!()
                );
                Ok(sqlx::query_as::<$db, Webhook>(sql)
                    .bind(&new.id)
                    .bind(&new.session_id)
                    .bind(&new.url)
                    .bind(Json(&new.events))
                    .bind(&new.secret)
                    .bind(Json(&new.headers))
                    .bind(Utc::now())
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn get(&self, session_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
                let sql = concat!("SELECT ", webhook_cols!(), " FROM webhooks WHERE session_id = $1 AND id = $2");
                Ok(sqlx::query_as::<$db, Webhook>(sql)
                    .bind(session_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list(&self, session_id: &str) -> StoreResult<Vec<Webhook>> {
                let sql = concat!("SELECT ", webhook_cols!(), " FROM webhooks WHERE session_id = $1 ORDER BY created_at, id");
                Ok(sqlx::query_as::<$db, Webhook>(sql).bind(session_id).fetch_all(&self.pool).await?)
            }

            async fn update(
                &self,
                session_id: &str,
                id: &str,
                patch: &WebhookPatch,
            ) -> StoreResult<Option<Webhook>> {
                // COALESCE keeps the stored value for every field the patch leaves out.
                let sql = concat!(
                    "UPDATE webhooks SET url = COALESCE($3, url), events = COALESCE($4, events), \
                     secret = COALESCE($5, secret), headers = COALESCE($6, headers), \
                     enabled = COALESCE($7, enabled), updated_at = $8 \
                     WHERE session_id = $1 AND id = $2 RETURNING ",
                    webhook_cols!()
                );
                Ok(sqlx::query_as::<$db, Webhook>(sql)
                    .bind(session_id)
                    .bind(id)
                    .bind(patch.url.as_deref())
                    .bind(patch.events.as_ref().map(Json))
                    .bind(patch.secret.as_deref())
                    .bind(patch.headers.as_ref().map(Json))
                    .bind(patch.enabled)
                    .bind(Utc::now())
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn delete(&self, session_id: &str, id: &str) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("DELETE FROM webhooks WHERE session_id = $1 AND id = $2")
                    .bind(session_id)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }

        #[async_trait]
        impl WebhookDeliveryRepo for SqlBackend<$db> {
            async fn create(&self, new: &NewWebhookDelivery) -> StoreResult<WebhookDelivery> {
                let sql = concat!(
                    "INSERT INTO webhook_deliveries (session_id, webhook_id, webhook_url, event_id, event_type, \
                     payload, status, attempts, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) RETURNING ",
                    delivery_cols!()
                );
                Ok(sqlx::query_as::<$db, WebhookDelivery>(sql)
                    .bind(&new.session_id)
                    .bind(new.webhook_id.as_deref())
                    .bind(&new.webhook_url)
                    .bind(&new.event_id)
                    .bind(&new.event_type)
                    .bind(Json(&new.payload))
                    .bind(Utc::now())
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn get(&self, id: i64) -> StoreResult<Option<WebhookDelivery>> {
                let sql = concat!("SELECT ", delivery_cols!(), " FROM webhook_deliveries WHERE id = $1");
                Ok(sqlx::query_as::<$db, WebhookDelivery>(sql).bind(id).fetch_optional(&self.pool).await?)
            }

            async fn record_attempt(
                &self,
                id: i64,
                attempt: &DeliveryAttempt,
            ) -> StoreResult<Option<WebhookDelivery>> {
                let sql = concat!(
                    "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, last_attempt_at = $3, \
                     last_status_code = $4, last_error = $5, updated_at = $3 WHERE id = $1 RETURNING ",
                    delivery_cols!()
                );
                Ok(sqlx::query_as::<$db, WebhookDelivery>(sql)
                    .bind(id)
                    .bind(&attempt.status)
                    .bind(Utc::now())
                    .bind(attempt.status_code)
                    .bind(attempt.error.as_deref())
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn create_many(&self, rows: &[NewWebhookDelivery]) -> StoreResult<Vec<(i64, Option<String>)>> {
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let now = Utc::now();
                // A writer turn on SQLite: ungated, a burst of events waited
                // in SQLite's busy handler behind the message writers.
                let _turn = self.gate.background().await;
                let mut conn = self.writer.acquire().await?;
                let mut tx = conn.begin().await?;
                let mut out = Vec::with_capacity(rows.len());
                // 7 parameters a row: far below either database's limit.
                for chunk in rows.chunks(500) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO webhook_deliveries (session_id, webhook_id, webhook_url, event_id, event_type, \
                         payload, status, attempts, created_at, updated_at) ",
                    );
                    q.push_values(chunk, |mut b, new| {
                        b.push_bind(new.session_id.clone())
                            .push_bind(new.webhook_id.clone())
                            .push_bind(new.webhook_url.clone())
                            .push_bind(new.event_id.clone())
                            .push_bind(new.event_type.clone())
                            .push_bind(Json(new.payload.clone()))
                            .push("'pending'")
                            .push("0")
                            .push_bind(now)
                            .push_bind(now);
                    });
                    q.push(" RETURNING id, webhook_id");
                    out.extend(q.build_query_as::<(i64, Option<String>)>().fetch_all(&mut *tx).await?);
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn record_attempts_logged(&self, items: &[(NewWebhookAttempt, DeliveryAttempt)]) -> StoreResult<()> {
                let now = Utc::now();
                // Rows in id order: two batches touching the same deliveries
                // lock them in the same order.
                let mut order: Vec<&(NewWebhookAttempt, DeliveryAttempt)> = items.iter().collect();
                order.sort_by_key(|(a, _)| a.delivery_id);
                let _turn = self.gate.background().await;
                let mut conn = self.writer.acquire().await?;
                let mut tx = conn.begin().await?;
                for (a, outcome) in order {
                    sqlx::query::<$db>(
                        "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, latency_ms, error, response_excerpt, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(a.delivery_id)
                    .bind(a.attempt)
                    .bind(a.status_code)
                    .bind(a.latency_ms)
                    .bind(a.error.as_deref())
                    .bind(a.response_excerpt.as_deref())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query::<$db>(
                        "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, last_attempt_at = $3, \
                         last_status_code = $4, last_error = $5, updated_at = $3 WHERE id = $1",
                    )
                    .bind(a.delivery_id)
                    .bind(&outcome.status)
                    .bind(now)
                    .bind(outcome.status_code)
                    .bind(outcome.error.as_deref())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn attempts(&self, delivery_id: i64) -> StoreResult<Vec<WebhookAttempt>> {
                Ok(sqlx::query_as::<$db, WebhookAttempt>(
                    "SELECT id, delivery_id, attempt, status_code, latency_ms, error, response_excerpt, created_at \
                     FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id",
                )
                .bind(delivery_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn reset(&self, id: i64) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("UPDATE webhook_deliveries SET status = 'pending', updated_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(Utc::now())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn unattempted_before(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<Vec<(i64, Option<String>)>> {
                Ok(sqlx::query_as::<$db, (i64, Option<String>)>(
                    "SELECT id, webhook_id FROM webhook_deliveries WHERE status = 'pending' AND attempts = 0 \
                     AND created_at < $1 ORDER BY id LIMIT $2",
                )
                .bind(before)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn dead_between(
                &self,
                session_id: &str,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
                limit: i64,
            ) -> StoreResult<Vec<i64>> {
                Ok(sqlx::query_as::<$db, (i64,)>(
                    "SELECT id FROM webhook_deliveries WHERE session_id = $1 AND status = 'dead' \
                     AND created_at >= $2 AND created_at < $3 ORDER BY id LIMIT $4",
                )
                .bind(session_id)
                .bind(from)
                .bind(to)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|r| r.0)
                .collect())
            }

            async fn list(
                &self,
                filter: &DeliveryFilter,
                page: &Page<i64>,
            ) -> StoreResult<Vec<WebhookDelivery>> {
                let mut q = QueryBuilder::<$db>::new(concat!("SELECT ", delivery_cols!(), " FROM webhook_deliveries WHERE 1 = 1"));
                if let Some(session) = &filter.session_id {
                    q.push(" AND session_id = ").push_bind(session.clone());
                }
                if let Some(webhook) = &filter.webhook_id {
                    q.push(" AND webhook_id = ").push_bind(webhook.clone());
                }
                if let Some(status) = &filter.status {
                    q.push(" AND status = ").push_bind(status.clone());
                }
                if let Some(after) = page.after {
                    q.push(" AND id < ").push_bind(after);
                }
                q.push(" ORDER BY id DESC LIMIT ").push_bind(page.sql_limit());
                Ok(q.build_query_as::<WebhookDelivery>().fetch_all(&self.pool).await?)
            }
        }

        #[async_trait]
        impl SessionEventRepo for SqlBackend<$db> {
            async fn append(
                &self,
                session_id: &str,
                event_type: &str,
                details: &Value,
            ) -> StoreResult<SessionEvent> {
                Ok(sqlx::query_as::<$db, SessionEvent>(
                    "INSERT INTO session_events (session_id, event_type, details, created_at) \
                     VALUES ($1, $2, $3, $4) RETURNING id, session_id, event_type, details, created_at",
                )
                .bind(session_id)
                .bind(event_type)
                .bind(Json(details))
                .bind(Utc::now())
                .fetch_one(&self.pool)
                .await?)
            }

            async fn list(&self, session_id: &str, page: &Page<i64>) -> StoreResult<Vec<SessionEvent>> {
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT id, session_id, event_type, details, created_at FROM session_events WHERE session_id = ",
                );
                q.push_bind(session_id.to_owned());
                if let Some(after) = page.after {
                    q.push(" AND id < ").push_bind(after);
                }
                q.push(" ORDER BY id DESC LIMIT ").push_bind(page.sql_limit());
                Ok(q.build_query_as::<SessionEvent>().fetch_all(&self.pool).await?)
            }
        }

        #[async_trait]
        impl IdempotencyRepo for SqlBackend<$db> {
            async fn reserve(
                &self,
                session_id: &str,
                key: &str,
                request_hash: &str,
                message_id: &str,
                ttl: std::time::Duration,
            ) -> StoreResult<Reservation> {
                let now = Utc::now();
                let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1));
                // An expired claim is replaced: the key is free again.
                let claimed = sqlx::query::<$db>(
                    "INSERT INTO idempotency_keys (session_id, key, request_hash, message_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (session_id, key) DO UPDATE SET request_hash = $3, message_id = $4, created_at = $5, \
                     expires_at = $6 WHERE idempotency_keys.expires_at <= $5",
                )
                .bind(session_id)
                .bind(key)
                .bind(request_hash)
                .bind(message_id)
                .bind(now)
                .bind(expires)
                .execute(&self.pool)
                .await?;
                if claimed.rows_affected() > 0 {
                    return Ok(Reservation::New);
                }
                let (request_hash, message_id) = sqlx::query_as::<$db, (String, String)>(
                    "SELECT request_hash, message_id FROM idempotency_keys WHERE session_id = $1 AND key = $2",
                )
                .bind(session_id)
                .bind(key)
                .fetch_one(&self.pool)
                .await?;
                Ok(Reservation::Existing { request_hash, message_id })
            }

            async fn prune(&self) -> StoreResult<u64> {
                let done = sqlx::query::<$db>("DELETE FROM idempotency_keys WHERE expires_at <= $1")
                    .bind(Utc::now())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }

        #[async_trait]
        impl CredentialRepo for SqlBackend<$db> {
            async fn get(&self, session_id: &str) -> StoreResult<Option<Credentials>> {
                Ok(sqlx::query_as::<$db, Credentials>(
                    "SELECT session_id, engine, data, created_at, updated_at FROM session_credentials WHERE session_id = $1",
                )
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn put(&self, session_id: &str, engine: &str, data: &Value) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO session_credentials (session_id, engine, data, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) \
                     ON CONFLICT (session_id) DO UPDATE SET engine = $2, data = $3, updated_at = $4",
                )
                .bind(session_id)
                .bind(engine)
                .bind(Json(data))
                .bind(Utc::now())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete(&self, session_id: &str) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("DELETE FROM session_credentials WHERE session_id = $1")
                    .bind(session_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }

        #[async_trait]
        impl Probe for SqlBackend<$db> {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query::<$db>("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}

impl_repos!(Postgres);
impl_repos!(Sqlite);
