//! One writer at a time for SQLite, queued in the process, intake first.
//!
//! SQLite takes one writer at a time. A connection that finds the write lock
//! taken waits in SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20,
//! 25 ms… between tries: under load the group-committed writes (accepted
//! messages, `sent` marks, receipts, queue claims and results) spent most of
//! their time asleep there (11 ms for a one-row update) while the lock was
//! free again after well under a millisecond. The hot writers take this gate
//! first instead: they queue in order, each starts the moment the previous
//! one commits, and readers (WAL) never wait.
//!
//! Two classes share the turn. **Intake** (new log rows and new jobs: what a
//! client waits for before its 202) queues directly; **background** work
//! (claims, results, `sent` marks, receipts) first queues among itself, so
//! at most one background writer competes with intake at a time. Under a
//! flood, intake gets every other turn instead of one in five, and
//! background work still gets the turns in between (it is never starved).
//! PostgreSQL has row locks and gets a gate that is always open. On SQLite
//! the gated writes also share one connection (`Store::writer`), which
//! keeps its page cache warm from one turn to the next.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Mutex, MutexGuard};

struct Lanes {
    turn: Mutex<()>,
    background: Mutex<()>,
}

/// Serialises the hot write paths of one SQLite database; open for PostgreSQL.
#[derive(Clone, Default)]
pub struct WriteGate(Option<Arc<Lanes>>);

/// A writer's turn; it ends when dropped.
pub struct Turn<'a> {
    _turn: MutexGuard<'a, ()>,
    _background: Option<MutexGuard<'a, ()>>,
}

impl WriteGate {
    /// A gate that admits one writer at a time.
    pub fn serial() -> Self {
        Self(Some(Arc::new(Lanes { turn: Mutex::new(()), background: Mutex::new(()) })))
    }

    /// A gate that never waits.
    pub fn open() -> Self {
        Self(None)
    }

    /// Waits for a turn for intake (rows a client is waiting on).
    /// Take it before a connection, never while holding one (a writer
    /// waiting for the gate must not starve the pool).
    pub async fn intake(&self) -> Option<Turn<'_>> {
        let lanes = self.0.as_ref()?;
        let started = Instant::now();
        let turn = lanes.turn.lock().await;
        record(started, "intake");
        Some(Turn { _turn: turn, _background: None })
    }

    /// Waits for a turn for background work (same rules as [`Self::intake`]).
    pub async fn background(&self) -> Option<Turn<'_>> {
        let lanes = self.0.as_ref()?;
        let started = Instant::now();
        let background = lanes.background.lock().await;
        let turn = lanes.turn.lock().await;
        record(started, "background");
        Some(Turn { _turn: turn, _background: Some(background) })
    }
}

fn record(started: Instant, class: &'static str) {
    metrics::histogram!("wag_db_write_gate_wait_seconds", "class" => class)
        .record(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn intake_overtakes_queued_background_work_but_never_starves_it() {
        let gate = WriteGate::serial();
        let order = Arc::new(StdMutex::new(Vec::new()));
        let first = gate.intake().await.expect("a serial gate gives turns");
        let mut tasks = Vec::new();
        for name in ["bg1", "bg2", "bg3", "intake"] {
            let (gate, order) = (gate.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _turn = if name == "intake" { gate.intake().await } else { gate.background().await };
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }));
            // Each waiter queues before the next one starts.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(first);
        for task in tasks {
            task.await.unwrap();
        }
        // bg1 was already waiting for the turn; intake comes next, ahead of
        // background work queued before it, then background work resumes.
        assert_eq!(*order.lock().unwrap(), ["bg1", "intake", "bg2", "bg3"]);
    }

    #[tokio::test]
    async fn an_open_gate_never_waits() {
        let gate = WriteGate::open();
        assert!(gate.background().await.is_none());
        assert!(gate.intake().await.is_none());
    }
}
