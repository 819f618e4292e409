//! The password-hash pool: scrypt runs on `concurrency` dedicated threads
//! (about one per core: scrypt is memory-bandwidth bound, more threads only
//! add memory), fed by a queue of at most `queue` waiting jobs. Past that a
//! request fails fast with `503` instead of queueing without bound — tokio's
//! blocking pool alone would run up to 512 hashes at once, 64 GiB at the
//! OWASP cost.
//!
//! The threads run at the lowest CPU priority (nice 19). On a busy replica
//! the async workers — `/auth/verify`, refresh, probes — always come first,
//! and hashing takes whatever CPU is left: a login flood slows logins, not
//! the sessions already established. When nothing else runs, hashes get
//! every core.
//!
//! The pool counts every hash it computes so tests can check that an unknown
//! email and a wrong password cost the same work.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use prometheus::Histogram;
use tokio::sync::oneshot;

use crate::auth::password::{self, ScryptCost};
use crate::error::{ApiResult, Error};

type Job = Box<dyn FnOnce() + Send>;

pub struct Hasher {
    jobs: SyncSender<Job>,
    /// Jobs queued and not yet picked up by a thread.
    waiting: Arc<AtomicUsize>,
    cost: ScryptCost,
    computed: AtomicU64,
    duration: Histogram,
}

impl Hasher {
    /// Starts `concurrency` hashing threads. `duration` observes the time of
    /// each hash on its thread.
    pub fn new(
        cost: ScryptCost,
        concurrency: usize,
        queue: usize,
        duration: Histogram,
    ) -> std::io::Result<Hasher> {
        let (jobs, inbox) = sync_channel::<Job>(queue);
        let inbox = Arc::new(Mutex::new(inbox));
        let waiting = Arc::new(AtomicUsize::new(0));
        for n in 0..concurrency.max(1) {
            let (inbox, waiting) = (Arc::clone(&inbox), Arc::clone(&waiting));
            std::thread::Builder::new()
                .name(format!("edgeauth-hash-{n}"))
                .spawn(move || work(&inbox, &waiting))?;
        }
        Ok(Hasher {
            jobs,
            waiting,
            cost,
            computed: AtomicU64::new(0),
            duration,
        })
    }

    pub fn cost(&self) -> ScryptCost {
        self.cost
    }

    /// Requests waiting for a hashing thread.
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Hashes computed since start (hash + verify both count one).
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    /// A PHC string of `password` at the configured cost.
    pub async fn hash(&self, password: &str) -> ApiResult<String> {
        let password = password.to_owned();
        let cost = self.cost;
        self.run(move || password::hash_password(&password, cost))
            .await?
            .map_err(|e| Error::Internal(format!("password hash: {e}")))
    }

    /// Whether `password` matches the PHC string `phc`.
    pub async fn verify(&self, password: &str, phc: &str) -> ApiResult<bool> {
        let (password, phc) = (password.to_owned(), phc.to_owned());
        self.run(move || password::verify_password(&password, &phc))
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        let (reply, answer) = oneshot::channel();
        let timer = self.duration.clone();
        let job: Job = Box::new(move || {
            let _timer = timer.start_timer();
            // The requester may have gone (deadline, disconnect): the hash
            // still ran, and its slot was held, which is what bounds the work.
            let _ = reply.send(job());
        });
        // Counted before sending, so a thread picking the job up at once
        // never decrements below zero.
        self.waiting.fetch_add(1, Ordering::Relaxed);
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                return Err(Error::Unavailable("password hash queue full".into()));
            }
            Err(TrySendError::Disconnected(_)) => {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                return Err(Error::Internal("password hash threads are gone".into()));
            }
        }
        self.computed.fetch_add(1, Ordering::Relaxed);
        answer
            .await
            .map_err(|_| Error::Internal("a password hash thread failed".into()))
    }
}

/// A hashing thread: lowest priority, then jobs until the pool is dropped.
fn work(inbox: &Mutex<Receiver<Job>>, waiting: &AtomicUsize) {
    if let Err(e) =
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
    {
        tracing::warn!(error = %e, "cannot lower the priority of a password hash thread");
    }
    loop {
        // The lock is held only while waiting for the next job, never while hashing.
        let job = match inbox.lock() {
            Ok(inbox) => inbox.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return;
        };
        waiting.fetch_sub(1, Ordering::Relaxed);
        job();
    }
}
