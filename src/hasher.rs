//! The password-hash pool: scrypt runs on `concurrency` dedicated threads
//! (about one per core: scrypt is memory-bandwidth bound, more threads only
//! add memory), fed by a queue of at most `queue` waiting jobs. Past that a
//! request fails fast with `503` instead of queueing without bound — tokio's
//! blocking pool alone would run up to 512 hashes at once, 64 GiB at the
//! OWASP cost.
//!
//! The threads run at a low CPU priority (nice 10). On a busy replica the
//! async workers — `/auth/verify`, refresh, probes — come first and hashing
//! keeps about a tenth of the CPU: a login flood slows logins, not the
//! sessions already established, and logins still progress. When nothing
//! else runs, hashes get every core.
//!
//! Every hash is observed in `edgeauth_password_hash_duration_seconds`; its
//! count is how tests check that an unknown email and a wrong password cost
//! the same work.

use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Jobs queued or running, and how many may be: `concurrency + queue`.
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    cost: ScryptCost,
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
        let concurrency = concurrency.max(1);
        // Admission is bounded by `admitted` below; the channel only needs
        // room for everything admitted.
        let (jobs, inbox) = sync_channel::<Job>(concurrency + queue);
        let inbox = Arc::new(Mutex::new(inbox));
        let waiting = Arc::new(AtomicUsize::new(0));
        for n in 0..concurrency {
            let (inbox, waiting) = (Arc::clone(&inbox), Arc::clone(&waiting));
            std::thread::Builder::new()
                .name(format!("edgeauth-hash-{n}"))
                .spawn(move || work(&inbox, &waiting))?;
        }
        Ok(Hasher {
            jobs,
            waiting,
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: concurrency + queue,
            cost,
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
        if self.admitted.fetch_add(1, Ordering::SeqCst) >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Unavailable("password hash queue full".into()));
        }
        let (reply, answer) = oneshot::channel();
        let timer = self.duration.clone();
        let admitted = Arc::clone(&self.admitted);
        let job: Job = Box::new(move || {
            let started = timer.start_timer();
            let result = job();
            // Observed before answering, so whoever the answer wakes sees it
            // counted.
            started.observe_duration();
            admitted.fetch_sub(1, Ordering::SeqCst);
            // The requester may have gone (deadline, disconnect): the hash
            // still ran, and its slot was held, which is what bounds the work.
            let _ = reply.send(result);
        });
        // Counted before sending, so a thread picking the job up at once
        // never decrements below zero.
        self.waiting.fetch_add(1, Ordering::Relaxed);
        match self.jobs.try_send(job) {
            Ok(()) => {}
            // Full cannot happen (admission keeps the channel below its
            // size); both mean the job will never run.
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                self.admitted.fetch_sub(1, Ordering::SeqCst);
                return Err(Error::Unavailable("password hash pool unavailable".into()));
            }
        }
        answer
            .await
            .map_err(|_| Error::Internal("a password hash thread failed".into()))
    }
}

/// A hashing thread: lowest priority, then jobs until the pool is dropped.
fn work(inbox: &Mutex<Receiver<Job>>, waiting: &AtomicUsize) {
    use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
    // The crate maps 0..=99 onto niceness 19..=-20: 22 is nice 10, a tenth of
    // a normal thread's CPU share when the async workers are busy.
    let lowered = ThreadPriorityValue::try_from(22u8)
        .map_err(|e| e.to_string())
        .and_then(|p| {
            set_current_thread_priority(ThreadPriority::Crossplatform(p)).map_err(|e| e.to_string())
        });
    if let Err(e) = lowered {
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
