//! The shutdown supervisor: the one owner of every background task.
//!
//! Subsystems spawn their loops through [`Supervisor::spawn`] and watch
//! [`Supervisor::token`]; subsystems holding external resources (WhatsApp
//! connections) register a close hook. On shutdown the token is cancelled,
//! tasks are awaited, then the hooks run in reverse registration order (last
//! started, first closed). The caller bounds the whole drain with a timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

type Hook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

#[derive(Clone, Default)]
pub struct Supervisor {
    token: CancellationToken,
    tracker: TaskTracker,
    // A std Mutex: held only to push or take the list, never across an await.
    hooks: Arc<Mutex<Vec<(&'static str, Hook)>>>,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancelled when shutdown begins.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Starts shutdown; idempotent.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Runs a background task that shutdown waits for. Its error is logged;
    /// a task should return once `token()` is cancelled.
    pub fn spawn<F>(&self, name: &'static str, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.tracker.spawn(async move {
            match task.await {
                Ok(()) => tracing::debug!(task = name, "background task finished"),
                Err(e) => tracing::error!(task = name, error = ?e, "background task failed"),
            }
        });
    }

    /// Registers work to do after every task has stopped, e.g. closing
    /// connections.
    pub fn on_shutdown<F, Fut>(&self, name: &'static str, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hook: Hook = Box::new(move || Box::pin(hook()));
        self.hooks.lock().expect("hook list poisoned").push((name, hook));
    }

    /// Cancels, waits for tasks, then runs the close hooks.
    pub async fn drain(&self) {
        self.trigger();
        self.tracker.close();
        self.tracker.wait().await;
        let hooks = std::mem::take(&mut *self.hooks.lock().expect("hook list poisoned"));
        for (name, hook) in hooks.into_iter().rev() {
            tracing::info!(hook = name, "closing");
            hook().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn drain_waits_for_tasks_then_runs_hooks_in_reverse() {
        let sup = Supervisor::new();
        let order = Arc::new(Mutex::new(Vec::new()));
        let token = sup.token();
        let o = order.clone();
        sup.spawn("worker", async move {
            token.cancelled().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            o.lock().unwrap().push("worker finished");
            Ok(())
        });
        for name in ["pools", "sessions"] {
            let o = order.clone();
            sup.on_shutdown(name, move || async move { o.lock().unwrap().push(name) });
        }
        sup.drain().await;
        assert_eq!(*order.lock().unwrap(), ["worker finished", "sessions", "pools"]);
    }

    #[tokio::test]
    async fn failing_tasks_do_not_block_drain() {
        let sup = Supervisor::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        sup.spawn("broken", async move {
            r.fetch_add(1, Ordering::SeqCst);
            anyhow::bail!("boom")
        });
        tokio::time::timeout(Duration::from_secs(5), sup.drain()).await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(sup.is_shutting_down());
    }
}
