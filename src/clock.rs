//! The one place that reads the time. Everything else takes the time
//! as an argument, so tests and scripts agree on "now".
//!
//! `clippy.toml` forbids `SystemTime::now` and `Instant::now` everywhere
//! else (tests and benchmarks included: they call these functions too).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
// The wall clock is read here and nowhere else (see the module doc).
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The monotonic clock, for durations and deadlines within this process
/// (an `Instant` means nothing to another replica, so it is never stored).
// The monotonic clock is read here and nowhere else (see the module doc).
#[allow(clippy::disallowed_methods)]
pub fn instant() -> Instant {
    Instant::now()
}
