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
//!
//! A group-commit batcher may take its turn *before* it collects its batch
//! ([`WriteGate::within`]): everything that arrived while it waited for the
//! turn then goes in the same batch, so under load batches grow with the
//! wait instead of one batch forming during the wait and another after it.
//! The gated writes inside see that their task holds the turn and do not
//! queue for another.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Mutex, OwnedMutexGuard};

struct Lanes {
    turn: Arc<Mutex<()>>,
    background: Arc<Mutex<()>>,
}

tokio::task_local! {
    /// The gate (its `Lanes` address) whose turn the current task holds.
    static HELD: usize;
}

/// Who a turn is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Rows a client is waiting on.
    Intake,
    /// Claims, results, `sent` marks, receipts.
    Background,
}

/// Serialises the hot write paths of one SQLite database; open for PostgreSQL.
#[derive(Clone, Default)]
pub struct WriteGate(Option<Arc<Lanes>>);

/// A writer's turn; it ends when dropped. A turn taken inside
/// [`WriteGate::within`] holds nothing (the enclosing one counts).
pub struct Turn {
    _turn: Option<OwnedMutexGuard<()>>,
    _background: Option<OwnedMutexGuard<()>>,
}

impl WriteGate {
    /// A gate that admits one writer at a time.
    pub fn serial() -> Self {
        Self(Some(Arc::new(Lanes { turn: Arc::default(), background: Arc::default() })))
    }

    /// A gate that never waits.
    pub fn open() -> Self {
        Self(None)
    }

    /// Waits for a turn for intake (rows a client is waiting on).
    /// Take it before a connection, never while holding one (a writer
    /// waiting for the gate must not starve the pool).
    pub async fn intake(&self) -> Option<Turn> {
        self.turn(Class::Intake).await
    }

    /// Waits for a turn for background work (same rules as [`Self::intake`]).
    pub async fn background(&self) -> Option<Turn> {
        self.turn(Class::Background).await
    }

    /// Waits for a turn of `class`; at once inside [`Self::within`].
    pub async fn turn(&self, class: Class) -> Option<Turn> {
        let lanes = self.0.as_ref()?;
        if HELD.try_with(|held| *held == Arc::as_ptr(lanes) as usize).unwrap_or(false) {
            return Some(Turn { _turn: None, _background: None });
        }
        let started = Instant::now();
        let background = match class {
            Class::Intake => None,
            Class::Background => Some(lanes.background.clone().lock_owned().await),
        };
        let turn = lanes.turn.clone().lock_owned().await;
        record(started, if class == Class::Intake { "intake" } else { "background" });
        Some(Turn { _turn: Some(turn), _background: background })
    }

    /// Runs `work` holding `turn` (from this gate): the gated writes inside
    /// it, in this task, use the turn instead of waiting for another. Work
    /// that hands writes to another task and waits for them would wait for
    /// itself: keep such work outside.
    pub async fn within<F: Future>(&self, turn: Option<Turn>, work: F) -> F::Output {
        match (turn, &self.0) {
            (Some(turn), Some(lanes)) => {
                let out = HELD.scope(Arc::as_ptr(lanes) as usize, work).await;
                drop(turn);
                out
            }
            _ => work.await,
        }
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
    async fn writes_within_a_held_turn_do_not_queue_again_and_others_wait_for_it() {
        let gate = WriteGate::serial();
        let turn = gate.turn(Class::Intake).await;
        let got_turn = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waiting = {
            let (gate, got_turn) = (gate.clone(), got_turn.clone());
            tokio::spawn(async move {
                let _turn = gate.background().await;
                got_turn.store(true, std::sync::atomic::Ordering::SeqCst);
            })
        };
        let overtaken = gate.within(turn, async {
            // Both classes: neither waits for the turn this task holds.
            let a = tokio::time::timeout(Duration::from_secs(1), gate.intake()).await.expect("nested intake");
            let b = tokio::time::timeout(Duration::from_secs(1), gate.background())
                .await
                .expect("nested background");
            drop((a, b));
            tokio::time::sleep(Duration::from_millis(30)).await;
            got_turn.load(std::sync::atomic::Ordering::SeqCst)
        });
        assert!(!overtaken.await, "another task got a turn while this one held it");
        // `within` gave the turn back.
        tokio::time::timeout(Duration::from_secs(1), waiting).await.expect("the turn was released").unwrap();
        assert!(got_turn.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_turn_held_on_one_gate_does_not_open_another() {
        let (a, b) = (WriteGate::serial(), WriteGate::serial());
        let held_b = b.intake().await;
        let turn = a.intake().await;
        let waited = a.within(turn, async {
            tokio::time::timeout(Duration::from_millis(50), b.intake()).await.is_err()
        });
        assert!(waited.await, "a turn on gate a let a writer through gate b");
        drop(held_b);
    }

    #[tokio::test]
    async fn an_open_gate_never_waits() {
        let gate = WriteGate::open();
        assert!(gate.background().await.is_none());
        assert!(gate.intake().await.is_none());
    }
}
