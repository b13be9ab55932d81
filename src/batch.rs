//! Group commit: many callers, one writer, one transaction per batch.
//!
//! Under load, one commit per item is what limits throughput (SQLite has one
//! writer; PostgreSQL pays a round trip and a WAL flush per commit). Callers
//! hand an item to a [`Batcher`] and await its result; one task takes
//! everything waiting (up to `MAX_BATCH`) and processes it at once. An idle
//! system still writes at once (a batch of one), so latency does not grow;
//! a busy one writes in large batches.
//!
//! A batcher whose writes go through a [`WriteGate`] takes its turn first
//! and collects after (`spawn_gated`): what arrived while it waited joins
//! the batch, instead of waiting for one more turn. An intake batcher with
//! more items waiting keeps its turn for the next batch until background
//! work is due: releasing it between batches handed the writer to
//! background work every other turn, whatever the gate's priorities.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use crate::store::{GateClass, Turn, WriteGate};

const MAX_BATCH: usize = 256;
const CHANNEL: usize = 8192;

type Item<T, R> = (T, Option<oneshot::Sender<R>>);

/// Collects items from many callers and processes them in batches.
pub struct Batcher<T, R> {
    tx: mpsc::Sender<Item<T, R>>,
}

impl<T, R> Clone for Batcher<T, R> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// `f` gets a batch and returns one result per item, in order.
    pub fn spawn<F, Fut>(name: &'static str, f: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<R>> + Send,
    {
        Self::spawn_gated(name, WriteGate::open(), GateClass::Intake, f)
    }

    /// Like [`Self::spawn`] for writes behind `gate`: once items wait, it
    /// takes a turn of `class`, then takes everything waiting, and runs `f`
    /// within the turn. `f` must not wait for gated writes of other tasks.
    pub fn spawn_gated<F, Fut>(name: &'static str, gate: WriteGate, class: GateClass, f: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<R>> + Send,
    {
        let (tx, mut rx) = mpsc::channel::<Item<T, R>>(CHANNEL);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            // Intake that has more waiting keeps its turn (see `gate.rs`).
            let mut kept: Option<Option<Turn>> = None;
            while kept.is_some() || rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                // An open gate gives no turn and `within` just runs `f`.
                let turn = match kept.take() {
                    Some(turn) => turn,
                    None => gate.turn(class).await,
                };
                while batch.len() < MAX_BATCH
                    && let Ok(item) = rx.try_recv()
                {
                    batch.push(item);
                }
                let (items, acks): (Vec<T>, Vec<_>) = batch.drain(..).unzip();
                metrics::histogram!("wag_write_batch_size", "kind" => name).record(items.len() as f64);
                let started = std::time::Instant::now();
                let results = gate.within(&turn, f(items)).await;
                metrics::histogram!("wag_write_batch_duration_seconds", "kind" => name)
                    .record(started.elapsed().as_secs_f64());
                for (ack, result) in acks.into_iter().zip(results) {
                    if let Some(ack) = ack {
                        let _ = ack.send(result);
                    }
                }
                if class == GateClass::Intake && !rx.is_empty() && !gate.background_due() {
                    kept = Some(turn);
                }
            }
        });
        Self { tx }
    }

    /// Processes `item` and returns its result; None if the batcher is gone.
    pub async fn call(&self, item: T) -> Option<R> {
        let (ack, result) = oneshot::channel();
        self.tx.send((item, Some(ack))).await.ok()?;
        result.await.ok()
    }

    /// Queues `item` without waiting for its result (waits only while the
    /// batcher is full: back-pressure).
    pub async fn submit(&self, item: T) {
        let _ = self.tx.send((item, None)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn an_intake_batcher_with_more_waiting_keeps_its_turn_until_background_work_is_due() {
        for (max_wait, expected) in
            [(Duration::from_secs(60), ["[1]", "[2]", "bg"]), (Duration::ZERO, ["[1]", "bg", "[2]"])]
        {
            let gate = WriteGate::serial_with(max_wait);
            let order = Arc::new(Mutex::new(Vec::new()));
            let log = order.clone();
            let batcher =
                Batcher::spawn_gated("test", gate.clone(), GateClass::Intake, move |items: Vec<u32>| {
                    let log = log.clone();
                    async move {
                        log.lock().unwrap().push(format!("{items:?}"));
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        vec![(); items.len()]
                    }
                });
            let first = tokio::spawn({
                let b = batcher.clone();
                async move { b.call(1).await }
            });
            tokio::time::sleep(Duration::from_millis(5)).await;
            // Background work queues while the first batch holds the turn,
            // then more intake arrives.
            let bg = tokio::spawn({
                let (gate, order) = (gate.clone(), order.clone());
                async move {
                    let _turn = gate.background().await;
                    order.lock().unwrap().push("bg".to_owned());
                }
            });
            tokio::time::sleep(Duration::from_millis(5)).await;
            let second = tokio::spawn({
                let b = batcher.clone();
                async move { b.call(2).await }
            });
            for task in [first, second] {
                assert!(task.await.unwrap().is_some());
            }
            bg.await.unwrap();
            assert_eq!(*order.lock().unwrap(), expected, "background work due after {max_wait:?}");
        }
    }
}
