//! Rate-limit counters, shared by every replica: one fixed-window counter
//! per (kind, subject), in one script, expiring with its window.
//!
//! Subjects (emails, IP addresses) appear in key names only as a SHA-256
//! digest, like the email index.

use std::time::Duration;

use super::{Store, StoreResult};

/// The verdict on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Over the limit until the window ends.
    Limited {
        retry_after: Duration,
    },
}

impl Store {
    /// Counts one attempt of `kind` by `subject` (when `count`) and says
    /// whether it is within `limit` per `window_ms`. With `count` false it
    /// only looks: allowed while fewer than `limit` attempts were counted.
    pub async fn rate_check(
        &self,
        kind: &'static str,
        subject: &str,
        limit: u32,
        window_ms: u64,
        count: bool,
    ) -> StoreResult<RateDecision> {
        self.run("rate_check", async {
            let mut conn = self.conn().await?;
            let (allowed, retry_ms): (i64, i64) = self
                .scripts()
                .rate_hit
                .key(self.keys().rate(kind, subject))
                .arg(limit)
                .arg(window_ms.max(1))
                .arg(if count { "1" } else { "0" })
                .invoke_async(&mut conn)
                .await?;
            Ok(if allowed == 1 {
                RateDecision::Allowed
            } else {
                RateDecision::Limited {
                    retry_after: Duration::from_millis(retry_ms.max(1) as u64),
                }
            })
        })
        .await
    }

    /// Gives back one attempt counted by `rate_check` (when it turned out
    /// not to be what the limit is about, e.g. a login whose password was
    /// right). Never creates a counter, never extends its window.
    pub async fn rate_refund(&self, kind: &'static str, subject: &str) -> StoreResult<()> {
        self.run("rate_refund", async {
            let mut conn = self.conn().await?;
            let _: (i64, i64) = self
                .scripts()
                .rate_hit
                .key(self.keys().rate(kind, subject))
                .arg(1)
                .arg(1)
                .arg("-1")
                .invoke_async(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }
}
