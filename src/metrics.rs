//! Prometheus metrics (prefix `edgeauth_`), served on the admin listener.
//!
//! Every label takes a bounded set of values: route templates from the
//! router (never raw paths), a fixed list of methods, status codes, and
//! typed enums for outcomes. Counters are resolved once where the label set
//! is fixed. Gauges that mirror other components (hash queue, Redis pool)
//! are read when `/metrics` is scraped.
//!
//! The `process_*` families come from the prometheus crate's process
//! collector, except `process_cpu_seconds_total`: that one counts whole
//! seconds there (an `IntCounter`), so a replica that used 0.7 s of CPU would
//! report 0. [`ProcessMetrics`] replaces it with the same name and type in
//! fractions of a second.

use std::sync::Mutex;
use std::time::Duration;

use hyper::{Method, StatusCode};
use prometheus::core::{Collector, Desc};
use prometheus::process_collector::ProcessCollector;
use prometheus::{
    Counter, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder, proto,
};

/// What happened to an authentication attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    LoginSuccess,
    LoginFailure,
    LoginInactive,
    MfaChallenge,
    MfaSuccess,
    MfaFailure,
    RefreshSuccess,
    RefreshInvalid,
    RefreshReuseDetected,
    RateLimited,
}

impl Outcome {
    const ALL: [Outcome; 10] = [
        Outcome::LoginSuccess,
        Outcome::LoginFailure,
        Outcome::LoginInactive,
        Outcome::MfaChallenge,
        Outcome::MfaSuccess,
        Outcome::MfaFailure,
        Outcome::RefreshSuccess,
        Outcome::RefreshInvalid,
        Outcome::RefreshReuseDetected,
        Outcome::RateLimited,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::LoginSuccess => "login_success",
            Outcome::LoginFailure => "login_failure",
            Outcome::LoginInactive => "login_inactive",
            Outcome::MfaChallenge => "mfa_challenge",
            Outcome::MfaSuccess => "mfa_success",
            Outcome::MfaFailure => "mfa_failure",
            Outcome::RefreshSuccess => "refresh_success",
            Outcome::RefreshInvalid => "refresh_invalid",
            Outcome::RefreshReuseDetected => "refresh_reuse_detected",
            Outcome::RateLimited => "rate_limited",
        }
    }
}

/// Values read from other components at scrape time.
pub struct Snapshot {
    pub hash_queue_depth: usize,
    pub redis_errors_total: u64,
    /// Multiplexed Redis connections (fixed by configuration).
    pub redis_connections: usize,
    /// Redis operations running now.
    pub redis_in_flight: usize,
}

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    outcomes: Vec<IntCounter>,
    /// Duration of one password hash or verification on its blocking thread.
    pub hash_duration: Histogram,
    hash_queue: IntGauge,
    redis_errors: IntCounter,
    /// `redis_errors` follows the store's own count; this is the last value seen.
    redis_errors_seen: Mutex<u64>,
    redis_pool: IntGaugeVec,
    redis_pool_max: IntGauge,
}

/// The name of the one process metric [`ProcessMetrics`] computes itself.
const CPU_SECONDS: &str = "process_cpu_seconds_total";

/// The prometheus crate's process collector (memory, file descriptors,
/// threads, start time) with `process_cpu_seconds_total` in fractional
/// seconds instead of its whole ones.
struct ProcessMetrics {
    inner: ProcessCollector,
    cpu: Counter,
    /// Serialises the read-and-advance of `cpu` between concurrent scrapes.
    cpu_lock: Mutex<()>,
}

impl ProcessMetrics {
    fn new() -> Result<ProcessMetrics, prometheus::Error> {
        Ok(ProcessMetrics {
            inner: ProcessCollector::for_self(),
            cpu: Counter::new(
                CPU_SECONDS,
                "Total user and system CPU time spent in seconds.",
            )?,
            cpu_lock: Mutex::new(()),
        })
    }

    /// User plus system CPU time of this process so far, in seconds.
    fn cpu_seconds() -> Option<f64> {
        let stat = procfs::process::Process::myself().ok()?.stat().ok()?;
        let ticks = procfs::ticks_per_second().max(1);
        Some((stat.utime + stat.stime) as f64 / ticks as f64)
    }
}

impl Collector for ProcessMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.inner
            .desc()
            .into_iter()
            .filter(|d| d.fq_name != CPU_SECONDS)
            .chain(self.cpu.desc())
            .collect()
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        if let (Some(total), Ok(_guard)) = (Self::cpu_seconds(), self.cpu_lock.lock()) {
            // A counter only moves forward: add what was used since the last scrape.
            let delta = total - self.cpu.get();
            if delta > 0.0 {
                self.cpu.inc_by(delta);
            }
        }
        let mut families: Vec<proto::MetricFamily> = self
            .inner
            .collect()
            .into_iter()
            .filter(|f| f.name() != CPU_SECONDS)
            .collect();
        families.extend(self.cpu.collect());
        families
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("edgeauth_http_requests_total", "HTTP requests answered"),
            &["route", "method", "status"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "edgeauth_http_request_duration_seconds",
                "Time from request head to response, by route template",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route"],
        )?;
        let outcome_vec = IntCounterVec::new(
            Opts::new(
                "edgeauth_auth_outcomes_total",
                "Authentication outcomes by kind",
            ),
            &["kind"],
        )?;
        let outcomes = Outcome::ALL
            .iter()
            .map(|o| outcome_vec.get_metric_with_label_values(&[o.label()]))
            .collect::<Result<Vec<_>, _>>()?;
        let hash_duration = Histogram::with_opts(
            HistogramOpts::new(
                "edgeauth_password_hash_duration_seconds",
                "Time one scrypt hash or verification takes on its thread",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0,
            ]),
        )?;
        let hash_queue = IntGauge::new(
            "edgeauth_password_hash_queue_depth",
            "Password hashes waiting for a hashing thread",
        )?;
        let redis_errors = IntCounter::new(
            "edgeauth_redis_errors_total",
            "Redis operations that failed (connection, timeout, unexpected reply)",
        )?;
        let redis_pool = IntGaugeVec::new(
            Opts::new(
                "edgeauth_redis_pool_connections",
                "Redis connections (open) and operations using them (in_use)",
            ),
            &["state"],
        )?;
        let redis_pool_max = IntGauge::new(
            "edgeauth_redis_pool_connections_max",
            "Redis connections this replica opens at most (EDGEAUTH_REDIS_POOL_SIZE)",
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new("edgeauth_build_info", "Always 1; labelled with the version"),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);

        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(outcome_vec))?;
        registry.register(Box::new(hash_duration.clone()))?;
        registry.register(Box::new(hash_queue.clone()))?;
        registry.register(Box::new(redis_errors.clone()))?;
        registry.register(Box::new(redis_pool.clone()))?;
        registry.register(Box::new(redis_pool_max.clone()))?;
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(ProcessMetrics::new()?))?;
        Ok(Metrics {
            registry,
            requests,
            durations,
            outcomes,
            hash_duration,
            hash_queue,
            redis_errors,
            redis_errors_seen: Mutex::new(0),
            redis_pool,
            redis_pool_max,
        })
    }

    /// Counts one answered request. `route` is a route template or `unmatched`.
    pub fn observe_request(
        &self,
        route: &'static str,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
    ) {
        self.requests
            .with_label_values(&[route, method_label(method), status.as_str()])
            .inc();
        self.durations
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    pub fn outcome(&self, outcome: Outcome) {
        if let Some(counter) = Outcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .and_then(|i| self.outcomes.get(i))
        {
            counter.inc();
        }
    }

    /// The text exposition, after refreshing the mirrored gauges.
    pub fn render(&self, snapshot: Snapshot) -> Result<String, prometheus::Error> {
        self.hash_queue.set(snapshot.hash_queue_depth as i64);
        if let Ok(mut seen) = self.redis_errors_seen.lock() {
            self.redis_errors
                .inc_by(snapshot.redis_errors_total.saturating_sub(*seen));
            *seen = snapshot.redis_errors_total.max(*seen);
        }
        for (state, value) in [
            ("open", snapshot.redis_connections),
            ("in_use", snapshot.redis_in_flight),
        ] {
            self.redis_pool
                .with_label_values(&[state])
                .set(value as i64);
        }
        // The pool is fixed in size: its limit is what it holds.
        self.redis_pool_max.set(snapshot.redis_connections as i64);
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn renders_every_family_with_bounded_labels() {
        let m = Metrics::new().unwrap();
        m.observe_request(
            "/auth/login",
            &Method::POST,
            StatusCode::OK,
            Duration::from_millis(3),
        );
        m.observe_request(
            "unmatched",
            &Method::from_bytes(b"BREW").unwrap(),
            StatusCode::NOT_FOUND,
            Duration::ZERO,
        );
        m.outcome(Outcome::RefreshReuseDetected);
        let text = m
            .render(Snapshot {
                hash_queue_depth: 2,
                redis_errors_total: 5,
                redis_connections: 4,
                redis_in_flight: 2,
            })
            .unwrap();
        for needle in [
            r#"edgeauth_http_requests_total{method="POST",route="/auth/login",status="200"} 1"#,
            r#"edgeauth_http_requests_total{method="other",route="unmatched",status="404"} 1"#,
            r#"edgeauth_auth_outcomes_total{kind="refresh_reuse_detected"} 1"#,
            r#"edgeauth_auth_outcomes_total{kind="login_success"} 0"#,
            "edgeauth_password_hash_queue_depth 2",
            "edgeauth_redis_errors_total 5",
            r#"edgeauth_redis_pool_connections{state="in_use"} 2"#,
            "edgeauth_redis_pool_connections_max 4",
            "# TYPE process_cpu_seconds_total counter",
            r#"edgeauth_build_info{version=""#,
            "edgeauth_http_request_duration_seconds_bucket",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        assert!(!text.contains(r#"state="max""#), "{text}");
        assert_eq!(text.matches("# TYPE process_cpu_seconds_total").count(), 1);
    }
}
