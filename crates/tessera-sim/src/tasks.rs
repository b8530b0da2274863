//! A [`Spawn`] that counts the work outstanding in a signer's sessions, so the simulation steps
//! the cluster only when every session is waiting for input.
//!
//! A session is busy from its start until it first waits, and from each input queued for it
//! until it waits again (the hooks `input_queued`, `task_waits` and `task_woke_idle` of
//! [`Spawn`]); a finished task is no work. When the count is zero every session of the signer
//! is blocked on its input queue or gone, so everything it will send in answer to what it was
//! given is already in the simulation's outbox, and the next step cannot race with it. That
//! makes the order of events a function of the seed alone, although each session runs on its
//! own thread.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tessera_node::Spawn;

/// Work outstanding in the sessions of one signer incarnation.
#[derive(Default)]
pub struct Tasks {
    work: Arc<Work>,
}

#[derive(Default)]
struct Work {
    busy: Mutex<i64>,
    changed: Condvar,
}

impl Work {
    fn lock(&self) -> MutexGuard<'_, i64> {
        self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, n: i64) {
        let mut busy = self.lock();
        *busy += n;
        self.changed.notify_all();
    }
}

/// A signer's sessions did not all come to wait within the limit: a livelock, a deadlock or a
/// session computing far longer than any protocol round should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stuck {
    /// Work items still outstanding.
    pub busy: i64,
}

impl Tasks {
    /// Waits until every session waits for input (or has ended), at most `limit`.
    pub fn wait_idle(&self, limit: Duration) -> Result<(), Stuck> {
        let end = Instant::now() + limit;
        let mut busy = self.work.lock();
        while *busy != 0 {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Stuck { busy: *busy });
            }
            busy = self
                .work
                .changed
                .wait_timeout(busy, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Ok(())
    }
}

impl Spawn for Tasks {
    fn spawn(&self, name: String, task: Box<dyn FnOnce() + Send>) {
        let work = self.work.clone();
        work.add(1);
        let run = move || {
            task();
            work.add(-1);
        };
        if std::thread::Builder::new().name(name).spawn(run).is_err() {
            // The closure (and its count) is gone with the failed spawn.
            self.work.add(-1);
        }
    }

    fn input_queued(&self) {
        self.work.add(1);
    }

    fn task_waits(&self) {
        self.work.add(-1);
    }

    fn task_woke_idle(&self) {
        self.work.add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn idle_only_once_every_task_waits() {
        let tasks = Arc::new(Tasks::default());
        let (tx, rx) = mpsc::channel::<u32>();
        let (done_tx, done_rx) = mpsc::channel::<u32>();
        let t = tasks.clone();
        tasks.spawn(
            "echo".into(),
            Box::new(move || loop {
                t.task_waits();
                match rx.recv() {
                    Ok(v) => {
                        std::thread::sleep(Duration::from_millis(30));
                        let _ = done_tx.send(v);
                    }
                    Err(_) => {
                        t.task_woke_idle();
                        return;
                    }
                }
            }),
        );
        tasks.wait_idle(Duration::from_secs(5)).unwrap();
        tasks.input_queued();
        tx.send(7).unwrap();
        // Idle means the answer is already out, although the task slept before sending it.
        tasks.wait_idle(Duration::from_secs(5)).unwrap();
        assert_eq!(done_rx.try_recv(), Ok(7));
        drop(tx);
        tasks.wait_idle(Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn a_task_that_never_waits_is_reported_stuck() {
        let tasks = Tasks::default();
        let (tx, rx) = mpsc::channel::<()>();
        tasks.spawn(
            "busy".into(),
            Box::new(move || {
                let _ = rx.recv();
            }),
        );
        assert_eq!(
            tasks.wait_idle(Duration::from_millis(50)),
            Err(Stuck { busy: 1 })
        );
        drop(tx);
        tasks.wait_idle(Duration::from_secs(5)).unwrap();
    }
}
