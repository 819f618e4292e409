//! The password-hash pool: scrypt runs on tokio's blocking threads, at most
//! `concurrency` at once (about one per core: scrypt is memory-bandwidth
//! bound, more threads only add memory), with at most `queue` requests
//! waiting. Past that the request fails fast with `503` instead of queueing
//! without bound — tokio's blocking pool alone would run up to 512 hashes at
//! once, 64 GiB at the OWASP cost.
//!
//! The pool counts every hash it computes so tests can check that an unknown
//! email and a wrong password cost the same work.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use prometheus::Histogram;
use tokio::sync::Semaphore;

use crate::auth::password::{self, ScryptCost};
use crate::error::{ApiResult, Error};

pub struct Hasher {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    cost: ScryptCost,
    computed: AtomicU64,
    duration: Histogram,
}

/// Decrements the waiting count even when the request is cancelled while
/// queued.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Hasher {
    /// `duration` observes the time of each hash on its thread.
    pub fn new(
        cost: ScryptCost,
        concurrency: usize,
        max_waiting: usize,
        duration: Histogram,
    ) -> Hasher {
        Hasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
            cost,
            computed: AtomicU64::new(0),
            duration,
        }
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
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::Relaxed);
                    return Err(Error::Unavailable("password hash queue full".into()));
                }
                let _waiting = Waiting(&self.waiting);
                Arc::clone(&self.permits)
                    .acquire_owned()
                    .await
                    .map_err(|_| Error::Unavailable("password hash pool closed".into()))?
            }
        };
        self.computed.fetch_add(1, Ordering::Relaxed);
        // The permit moves into the blocking job: if the request is
        // cancelled, the hash still holds its slot until it finishes, so the
        // bound counts the work actually running.
        let timer = self.duration.clone();
        tokio::task::spawn_blocking(move || {
            let _timer = timer.start_timer();
            let result = job();
            drop(permit);
            result
        })
        .await
        .map_err(|e| Error::Internal(format!("password hash task: {e}")))
    }
}
