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
//! client waits for before its 202) goes first; **background** work
//! (claims, results, `sent` marks, receipts) gets the turn when no intake
//! waits, or once it has waited [`BACKGROUND_MAX_WAIT`] — so a burst of
//! sends is answered at the writer's full speed, while the work behind it
//! still moves at a bounded delay (and in larger batches, which the
//! batchers collect while they wait). Each class is served in order.
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

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// How long background work waits behind intake at most before it takes
/// the next turn. Under a flood of sends the writer then spends most of its
/// time on intake; the background batchers (claims, results, receipts)
/// collect what arrives meanwhile and write it in one larger turn.
pub const BACKGROUND_MAX_WAIT: Duration = Duration::from_millis(25);

/// The turn and who waits for it.
struct Lanes {
    state: Mutex<Queues>,
    background_max_wait: Duration,
}

#[derive(Default)]
struct Queues {
    busy: bool,
    intake: VecDeque<oneshot::Sender<()>>,
    background: VecDeque<(Instant, oneshot::Sender<()>)>,
}

impl Lanes {
    /// Hands the free turn to the next waiter that still waits, or frees it.
    fn pass(&self, q: &mut Queues) {
        loop {
            let next = if self.background_due(q) || q.intake.is_empty() {
                q.background.pop_front().map(|(_, tx)| tx)
            } else {
                q.intake.pop_front()
            };
            match next {
                // A waiter that gave up dropped its receiver: try the next.
                Some(tx) => {
                    if tx.send(()).is_ok() {
                        return;
                    }
                }
                None => {
                    q.busy = false;
                    return;
                }
            }
        }
    }

    /// Whether the longest-waiting background writer has waited its bound.
    fn background_due(&self, q: &Queues) -> bool {
        q.background.front().is_some_and(|(since, _)| since.elapsed() >= self.background_max_wait)
    }

    fn release(&self) {
        let mut q = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.pass(&mut q);
    }
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
pub struct Turn(Option<Arc<Lanes>>);

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(lanes) = self.0.take() {
            lanes.release();
        }
    }
}

/// A place in a queue; if the waiting task gives up after the turn was
/// handed to it, the turn passes on instead of being lost.
struct Waiting {
    /// None once the turn was taken over by a [`Turn`].
    lanes: Option<Arc<Lanes>>,
    rx: oneshot::Receiver<()>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(lanes) = self.lanes.take() {
            self.rx.close();
            if self.rx.try_recv().is_ok() {
                lanes.release();
            }
        }
    }
}

impl WriteGate {
    /// A gate that admits one writer at a time.
    pub fn serial() -> Self {
        Self::serial_with(BACKGROUND_MAX_WAIT)
    }

    /// A serial gate where background work waits at most `background_max_wait`.
    pub fn serial_with(background_max_wait: Duration) -> Self {
        Self(Some(Arc::new(Lanes { state: Mutex::default(), background_max_wait })))
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
            return Some(Turn(None));
        }
        let started = Instant::now();
        let rx = {
            let mut q = lanes.state.lock().unwrap_or_else(|e| e.into_inner());
            if q.busy {
                let (tx, rx) = oneshot::channel();
                match class {
                    Class::Intake => q.intake.push_back(tx),
                    Class::Background => q.background.push_back((started, tx)),
                }
                Some(rx)
            } else {
                q.busy = true;
                None
            }
        };
        let held = match rx {
            None => lanes.clone(),
            Some(rx) => {
                let mut waiting = Waiting { lanes: Some(lanes.clone()), rx };
                // A sender is dropped unsent only with the gate, which
                // `waiting` keeps alive: this resolves with the turn.
                let _ = (&mut waiting.rx).await;
                waiting.lanes.take().unwrap_or_else(|| lanes.clone())
            }
        };
        record(started, if class == Class::Intake { "intake" } else { "background" });
        Some(Turn(Some(held)))
    }

    /// Runs `work` holding `turn` (from this gate): the gated writes inside
    /// it, in this task, use the turn instead of waiting for another. Work
    /// that hands writes to another task and waits for them would wait for
    /// itself: keep such work outside.
    pub async fn within<F: Future>(&self, turn: &Option<Turn>, work: F) -> F::Output {
        match (turn, &self.0) {
            (Some(_), Some(lanes)) => HELD.scope(Arc::as_ptr(lanes) as usize, work).await,
            _ => work.await,
        }
    }

    /// Whether background work has waited past its bound: an intake writer
    /// with more to write keeps its turn only while this is false.
    pub fn background_due(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|lanes| lanes.background_due(&lanes.state.lock().unwrap_or_else(|e| e.into_inner())))
    }
}

fn record(started: Instant, class: &'static str) {
    metrics::histogram!("wag_db_write_gate_wait_seconds", "class" => class)
        .record(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use futures_util::FutureExt;

    use super::*;

    /// Queues `name` for a turn of `class` on `gate`; the turn is held 5 ms.
    fn queue(
        gate: &WriteGate,
        order: &Arc<StdMutex<Vec<&'static str>>>,
        name: &'static str,
        class: Class,
    ) -> tokio::task::JoinHandle<()> {
        let (gate, order) = (gate.clone(), order.clone());
        tokio::spawn(async move {
            let _turn = gate.turn(class).await;
            order.lock().unwrap().push(name);
            tokio::time::sleep(Duration::from_millis(5)).await;
        })
    }

    async fn run(first: Option<Turn>, tasks: Vec<tokio::task::JoinHandle<()>>) {
        drop(first);
        for task in tasks {
            task.await.unwrap();
        }
    }

    #[tokio::test]
    async fn intake_overtakes_background_work_that_has_not_waited_long() {
        let gate = WriteGate::serial_with(Duration::from_secs(60));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let first = gate.intake().await.expect("a serial gate gives turns");
        let mut tasks = Vec::new();
        for (name, class) in [
            ("bg1", Class::Background),
            ("bg2", Class::Background),
            ("in1", Class::Intake),
            ("in2", Class::Intake),
        ] {
            tasks.push(queue(&gate, &order, name, class));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        run(Some(first), tasks).await;
        // Intake first, each class in its own order; the background work
        // still runs once intake stops arriving.
        assert_eq!(*order.lock().unwrap(), ["in1", "in2", "bg1", "bg2"]);
    }

    #[tokio::test]
    async fn background_work_waiting_past_the_bound_goes_before_intake() {
        let max_wait = Duration::from_millis(20);
        let gate = WriteGate::serial_with(max_wait);
        let order = Arc::new(StdMutex::new(Vec::new()));
        let first = gate.intake().await.expect("a serial gate gives turns");
        let mut tasks = vec![queue(&gate, &order, "bg", Class::Background)];
        tokio::time::sleep(max_wait + Duration::from_millis(5)).await;
        for name in ["in1", "in2"] {
            tasks.push(queue(&gate, &order, name, Class::Intake));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        run(Some(first), tasks).await;
        assert_eq!(*order.lock().unwrap(), ["bg", "in1", "in2"]);
    }

    #[tokio::test]
    async fn a_stream_of_intake_never_starves_background_work() {
        let max_wait = Duration::from_millis(20);
        let gate = WriteGate::serial_with(max_wait);
        let order = Arc::new(StdMutex::new(Vec::new()));
        // Two intake writers taking turns: whenever one gives the turn
        // back, the other is already waiting for it.
        let intake: Vec<_> = (0..2)
            .map(|_| {
                let (gate, order) = (gate.clone(), order.clone());
                tokio::spawn(async move {
                    for _ in 0..100 {
                        let _turn = gate.intake().await;
                        order.lock().unwrap().push("in");
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1)).await;
        let bg = queue(&gate, &order, "bg", Class::Background);
        run(None, intake.into_iter().chain([bg]).collect()).await;
        let order = order.lock().unwrap();
        let at = order.iter().position(|n| *n == "bg").expect("background work ran");
        // 2 ms intake turns: the background writer got the turn after about
        // ten of them (max_wait), long before the stream of 200 ended.
        let bound = 100;
        assert!(at <= bound, "background work waited {at} intake turns: {order:?}");
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_passes_the_turn_on() {
        let gate = WriteGate::serial();
        let held = gate.intake().await;
        // Gave up while queued.
        assert!(tokio::time::timeout(Duration::from_millis(10), gate.background()).await.is_err());
        // Queued, handed the turn, and dropped before it saw it.
        let mut waiter = Box::pin(gate.intake());
        assert!((&mut waiter).now_or_never().is_none(), "the turn is held");
        drop(held);
        drop(waiter);
        let next = tokio::time::timeout(Duration::from_secs(1), gate.background()).await;
        assert!(next.expect("the turn was not lost").is_some());
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
        let overtaken = gate.within(&turn, async {
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
        drop(turn);
        // Dropping the turn gave it back.
        tokio::time::timeout(Duration::from_secs(1), waiting).await.expect("the turn was released").unwrap();
        assert!(got_turn.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_turn_held_on_one_gate_does_not_open_another() {
        let (a, b) = (WriteGate::serial(), WriteGate::serial());
        let held_b = b.intake().await;
        let turn = a.intake().await;
        let waited = a.within(&turn, async {
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
