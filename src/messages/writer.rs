//! Group commit for the message log and the send queue: each kind of
//! write (accept, progress — `sent` marks and receipts —, incoming) goes
//! through its own [`Batcher`], so a busy gateway writes rows in large
//! transactions.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::sync::Arc;

use super::tracker::status_event;
use crate::batch::Batcher;
use crate::queue::{Companion, NewJob, Queue};
use crate::sessions::EventHub;
use crate::store::{GateClass, MessageLog, NewMessageLog, SqlBackend, Store};
use crate::wa::Receipt;

/// The message log's batched writes.
#[derive(Clone)]
pub struct LogWriter {
    accept: Batcher<(NewMessageLog, NewJob), Result<(), String>>,
    /// `sent` marks and receipts share one transaction per batch: a
    /// message's send and its first receipts usually arrive together, and
    /// one commit writes their shared pages once.
    progress: Batcher<Progress, Result<Option<MessageLog>, String>>,
    incoming: Batcher<NewMessageLog, ()>,
}

enum Progress {
    /// (session, message id, WhatsApp id)
    Sent(String, String, String),
    Receipt(String, Receipt),
}

impl LogWriter {
    pub fn spawn(store: Store, queue: Queue, hub: EventHub) -> Self {
        // Every batch takes its writer turn before it collects (see `batch.rs`).
        let gate = store.write_gate();
        let (s, q) = (store.clone(), queue);
        let accept = Batcher::spawn_gated(
            "accept",
            gate.clone(),
            GateClass::Intake,
            move |items: Vec<(NewMessageLog, NewJob)>| {
                let (s, q) = (s.clone(), q.clone());
                async move {
                    let n = items.len();
                    let (logs, jobs): (Vec<_>, Vec<_>) = items.into_iter().unzip();
                    let rows = LogRows { store: &s, logs: &logs };
                    match q.enqueue_many_with(jobs, &rows).await {
                        Ok(_) => vec![Ok(()); n],
                        Err(e) => vec![Err(e.to_string()); n],
                    }
                }
            },
        );
        let (s, h) = (store.clone(), hub);
        let progress = Batcher::spawn_gated(
            "progress",
            gate.clone(),
            GateClass::Background,
            move |items: Vec<Progress>| {
                let (s, h) = (s.clone(), h.clone());
                async move { record_progress(&s, &h, items).await }
            },
        );
        let s = store;
        let incoming =
            Batcher::spawn_gated("incoming", gate, GateClass::Intake, move |items: Vec<NewMessageLog>| {
                let s = s.clone();
                async move {
                    // Retried like progress: the insert skips rows already
                    // logged, and a dropped batch would be messages lost.
                    if let Err(e) = retry(|| s.message_logs.insert_many_ignore(&items)).await {
                        tracing::warn!(error = %e, count = items.len(), "could not log incoming messages");
                    }
                    vec![(); items.len()]
                }
            });
        Self { accept, progress, incoming }
    }

    /// Writes the message's row and queues its job; Ok once both are durable.
    pub async fn accept(&self, log: NewMessageLog, job: NewJob) -> Result<(), String> {
        self.accept.call((log, job)).await.unwrap_or_else(|| Err("the log writer stopped".into()))
    }

    pub async fn mark_sent(
        &self,
        session: &str,
        message_id: &str,
        wa_id: &str,
    ) -> Result<Option<MessageLog>, String> {
        let item = Progress::Sent(session.to_owned(), message_id.to_owned(), wa_id.to_owned());
        self.progress.call(item).await.unwrap_or_else(|| Err("the log writer stopped".into()))
    }

    /// Applies a receipt (one id) in the background; events follow.
    pub async fn receipt(&self, session: &str, receipt: Receipt) {
        self.progress.submit(Progress::Receipt(session.to_owned(), receipt)).await;
    }

    pub async fn incoming(&self, log: NewMessageLog) {
        self.incoming.submit(log).await;
    }

    /// Like `incoming`, but returns once the row is committed (when something
    /// else must refer to it).
    pub async fn incoming_committed(&self, log: NewMessageLog) {
        self.incoming.call(log).await;
    }
}

/// Accepted messages' log rows, committed with their send jobs: in the
/// queue's transaction when the queue is in the database, otherwise first
/// (a job must never run before its row exists) and marked failed when the
/// jobs could not be queued.
struct LogRows<'a> {
    store: &'a Store,
    logs: &'a [NewMessageLog],
}

#[async_trait::async_trait]
impl Companion for LogRows<'_> {
    fn push_sqlite(&self, script: &mut sqlx::QueryBuilder<sqlx::Sqlite>) {
        if !self.logs.is_empty() {
            SqlBackend::<sqlx::Sqlite>::push_insert_logs(script, self.logs);
            script.push(";\n");
        }
    }

    async fn write_postgres(&self, conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
        SqlBackend::<sqlx::Postgres>::insert_logs_on(conn, self.logs).await.map(drop)
    }

    async fn write(&self) -> Result<(), String> {
        self.store.message_logs.insert_many_ignore(self.logs).await.map(drop).map_err(|e| e.to_string())
    }

    async fn undo(&self) {
        for log in self.logs {
            let _ = self
                .store
                .message_logs
                .mark_failed(&log.session_id, &log.message_id, "the queue was unavailable")
                .await;
        }
    }
}

/// One batch of `sent` marks and receipts: one result per item (a
/// receipt's is only for the batcher; its events go out from here).
async fn record_progress(
    store: &Store,
    hub: &EventHub,
    items: Vec<Progress>,
) -> Vec<Result<Option<MessageLog>, String>> {
    let n = items.len();
    let (mut sent, mut sent_at, mut receipts, mut receipt_at) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Progress::Sent(session, message, wa) => {
                sent.push((session, message, wa));
                sent_at.push(i);
            }
            Progress::Receipt(session, receipt) => {
                receipts.push((session, receipt));
                receipt_at.push(i);
            }
        }
    }
    let steps: Vec<(String, String, &'static str)> = receipts
        .iter()
        .map(|(session, r)| {
            let step = match r.ack {
                crate::wa::Ack::Delivered => "delivered",
                crate::wa::Ack::Read => "read",
                crate::wa::Ack::Played => "played",
                crate::wa::Ack::Sent => "sent",
            };
            (session.clone(), r.ids.first().map(|i| i.as_str().to_owned()).unwrap_or_default(), step)
        })
        .collect();
    // Rows in (session, WhatsApp id) order: two batches touching the same
    // rows lock them in the same order.
    let sent_order = sorted_by(&sent, |(session, _, wa)| (session.clone(), wa.clone()));
    let sent_sorted: Vec<_> = sent_order.iter().map(|&i| sent[i].clone()).collect();
    let step_order = sorted_by(&steps, |(session, wa, _)| (session.clone(), wa.clone()));
    let steps_sorted: Vec<_> = step_order.iter().map(|&i| steps[i].clone()).collect();
    let mut out: Vec<Result<Option<MessageLog>, String>> = (0..n).map(|_| Ok(None)).collect();
    let (marked, moved) = match retry(|| store.message_logs.record_progress(&sent_sorted, &steps_sorted))
        .await
    {
        Ok((marked, moved)) => (unsort(marked, &sent_order), unsort(moved, &step_order)),
        Err(e) => {
            tracing::warn!(error = %e, sent = sent.len(), receipts = steps.len(), "could not record message progress");
            for &i in &sent_at {
                out[i] = Err(e.to_string());
            }
            return out;
        }
    };
    for (&i, log) in sent_at.iter().zip(marked) {
        out[i] = Ok(log);
    }
    publish_receipts(store, hub, receipts, &steps, moved).await;
    out
}

/// Events for applied receipts; a receipt for a message the gateway did not
/// send (e.g. from the phone) is passed on as `message.ack`.
async fn publish_receipts(
    store: &Store,
    hub: &EventHub,
    receipts: Vec<(String, Receipt)>,
    steps: &[(String, String, &'static str)],
    moved: Vec<Option<MessageLog>>,
) {
    let mut unmoved: BTreeMap<String, Vec<(Receipt, String)>> = BTreeMap::new();
    for ((session, receipt), (row, result)) in receipts.into_iter().zip(steps.iter().zip(moved)) {
        match result {
            Some(log) => {
                metrics::counter!("wag_message_receipts_total", "status" => row.2).increment(1);
                hub.publish_with(&session, "message.status", status_event(&log), log.request_id.clone());
            }
            None => unmoved.entry(session).or_default().push((receipt, row.1.clone())),
        }
    }
    // One lookup per session for the receipts that moved nothing (in a
    // group every member's receipt comes on its own, and only the first
    // moves the message): known ids are late receipts, the rest are
    // messages this gateway did not send.
    for (session, receipts) in unmoved {
        // Each id once: a group message's receipts repeat it per member.
        let ids: Vec<String> =
            receipts.iter().map(|(_, wa)| wa.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let known: HashSet<String> = match store.message_logs.known_wa_ids(&session, &ids).await {
            Ok(known) => known.into_iter().collect(),
            Err(e) => {
                tracing::warn!(session, error = %e, "could not look up receipts' messages");
                continue;
            }
        };
        for (receipt, wa) in receipts {
            if !known.contains(&wa) {
                hub.publish(&session, "message.ack", serde_json::to_value(receipt).unwrap_or_default());
            }
        }
    }
}

/// Indices of `items` sorted by `key`.
fn sorted_by<T, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| key(&items[i]));
    order
}

/// Puts results computed in `order` back in the callers' order.
fn unsort<R: Default>(sorted: Vec<R>, order: &[usize]) -> Vec<R> {
    let mut out: Vec<R> = std::iter::repeat_with(R::default).take(order.len()).collect();
    for (result, &i) in sorted.into_iter().zip(order) {
        out[i] = result;
    }
    out
}

/// A batch transaction can lose a deadlock or serialization race against
/// another batch; it is safe to run again (every write is idempotent).
async fn retry<R, F, Fut>(f: F) -> crate::store::StoreResult<R>
where
    F: Fn() -> Fut,
    Fut: Future<Output = crate::store::StoreResult<R>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Err(e) if attempt < 4 => {
                tracing::warn!(error = %e, attempt, "batched write failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
            }
            other => return other,
        }
    }
}

/// Shared so handlers, the tracker and the API use the same batchers.
pub type SharedWriter = Arc<LogWriter>;
