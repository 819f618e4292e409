//! Operations at start-up and in the metrics a newcomer reads first: errors
//! name the flag or the variable the user set, a missing key file is said
//! once, a Redis that does not answer at start is said once (and its
//! recovery once), listen addresses take host names, a `405` is labelled by
//! its route, the pool's limit has a gauge of its own, and
//! `process_cpu_seconds_total` counts fractions of a second.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use serde_json::Value;

use crate::support::metrics::sample;
use crate::support::{Redis, TempDir, TestServer};

/// `edgeauth serve` with `env` over working defaults (loopback, keys in `dir`).
fn command(dir: &TempDir, redis_url: &str, env: &[(&str, &str)]) -> Command {
    let key = dir.write(
        "signing.pem",
        &edgeauth::auth::jwt::generate_pkcs8_pem().unwrap(),
    );
    let data = dir.write(
        "data.key",
        &edgeauth::auth::data_keys::generate_data_key_base64().unwrap(),
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_edgeauth"));
    command
        .arg("serve")
        .env("EDGEAUTH_LISTEN", "127.0.0.1:0")
        .env("EDGEAUTH_ADMIN_LISTEN", "127.0.0.1:0")
        .env("EDGEAUTH_REDIS_URL", redis_url)
        .env("EDGEAUTH_JWT_KEY_FILES", key)
        .env("EDGEAUTH_DATA_KEY_FILE", data)
        .env("EDGEAUTH_SCRYPT_LOG_N", "10")
        .env("EDGEAUTH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (var, value) in env {
        command.env(var, value);
    }
    command
}

/// Every line of stdout and stderr of a finished run, and its exit code.
fn run_to_exit(mut command: Command) -> (Vec<String>, Option<i32>) {
    let out = command.output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .map(str::to_owned)
        .collect();
    (lines, out.status.code())
}

/// A running edgeauth whose lines (stdout and stderr) arrive on a channel.
struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(mut command: Command) -> Running {
        let mut child = command.spawn().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first JSON log line (from now on) whose message is `message`.
    fn wait_for(&mut self, message: &str) -> Value {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no {message:?} in {:#?}", self.seen));
            self.seen.push(line.clone());
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["message"] == message {
                    return v;
                }
            }
        }
    }

    /// SIGTERM, wait, and every line it logged.
    fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "edgeauth exited with {status}");
        std::thread::sleep(Duration::from_millis(100));
        self.seen.extend(self.lines.try_iter());
        self.seen
    }
}

#[test]
fn a_missing_key_file_is_reported_once() {
    let dir = TempDir::new();
    let missing = dir.0.join("no-such-data.key");
    let missing = missing.to_str().unwrap();
    let (lines, code) = run_to_exit(command(
        &dir,
        "redis://127.0.0.1:1",
        &[("EDGEAUTH_DATA_KEY_FILE", missing)],
    ));
    assert_eq!(code, Some(2), "{lines:#?}");
    let about: Vec<&String> = lines.iter().filter(|l| l.contains(missing)).collect();
    assert_eq!(about.len(), 1, "reported {} times: {lines:#?}", about.len());
    assert!(
        about[0].starts_with("edgeauth: EDGEAUTH_DATA_KEY_FILE: cannot read "),
        "{}",
        about[0]
    );
}

#[test]
fn a_bad_value_is_named_as_the_user_gave_it() {
    let dir = TempDir::new();
    let (lines, code) = run_to_exit(command(
        &dir,
        "redis://127.0.0.1:1",
        &[("EDGEAUTH_JWT_TTL", "banana")],
    ));
    assert_eq!(code, Some(2));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with("edgeauth: EDGEAUTH_JWT_TTL: "),
        "{lines:?}"
    );

    let mut flag = command(&dir, "redis://127.0.0.1:1", &[]);
    flag.args(["--jwt-ttl", "banana"]);
    let (lines, code) = run_to_exit(flag);
    assert_eq!(code, Some(2));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("edgeauth: --jwt-ttl: "), "{lines:?}");
    assert!(lines[0].contains("banana"), "{lines:?}");

    // A key file given by flag that cannot be read: the flag too.
    let mut flag = command(&dir, "redis://127.0.0.1:1", &[]);
    flag.args(["--jwt-key-files", "/nonexistent/signing.pem"]);
    let (lines, code) = run_to_exit(flag);
    assert_eq!(code, Some(2));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with("edgeauth: --jwt-key-files: cannot read "),
        "{lines:?}"
    );
}

#[test]
fn redis_down_at_start_is_said_once_and_its_return_once() {
    let mut redis = Redis::start();
    redis.stop();
    let dir = TempDir::new();
    let mut p = Running::spawn(command(&dir, &redis.url(), &[]));
    p.wait_for("listening");
    let warning = p.wait_for(
        "Redis does not answer: edgeauth answers 503 until it does, and retries by itself",
    );
    assert_eq!(warning["level"], "WARN", "{warning}");
    // Some retries go by unanswered; none of them says it again.
    std::thread::sleep(Duration::from_millis(1500));
    redis.restart();
    let back = p.wait_for("Redis answers: serving");
    assert_eq!(back["level"], "INFO", "{back}");
    let lines = p.stop();
    for message in ["Redis does not answer", "Redis answers"] {
        let count = lines.iter().filter(|l| l.contains(message)).count();
        assert_eq!(count, 1, "{message:?} logged {count} times: {lines:#?}");
    }
}

#[test]
fn redis_up_at_start_says_nothing_about_it() {
    let redis = Redis::start();
    let dir = TempDir::new();
    let mut p = Running::spawn(command(&dir, &redis.url(), &[]));
    p.wait_for("listening");
    std::thread::sleep(Duration::from_millis(500));
    let lines = p.stop();
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("Redis does not answer") || l.contains("Redis answers")),
        "{lines:#?}"
    );
}

/// User plus system CPU seconds of process `pid`, read the way the kernel counts them.
fn cpu_seconds_of(pid: u32) -> f64 {
    let stat = procfs::process::Process::new(pid as i32)
        .unwrap()
        .stat()
        .unwrap();
    (stat.utime + stat.stime) as f64 / procfs::ticks_per_second() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_names_listen_and_cpu_seconds_are_not_truncated() {
    let redis = Redis::start();
    let dir = TempDir::new();
    let mut p = Running::spawn(command(
        &dir,
        &redis.url(),
        &[
            ("EDGEAUTH_LISTEN", "localhost:0"),
            ("EDGEAUTH_ADMIN_LISTEN", "localhost:0"),
        ],
    ));
    let listening = p.wait_for("listening");
    let admin: std::net::SocketAddr = listening["admin"].as_str().unwrap().parse().unwrap();
    assert!(admin.ip().is_loopback(), "{listening}");
    let http = reqwest::Client::new();
    // Some work, then the counter must sit between two readings of the kernel's own count
    // (whole seconds would fall below the first).
    for _ in 0..20 {
        let r = http
            .get(format!("http://{admin}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let pid = p.child.id();
    let before = cpu_seconds_of(pid);
    let text = http
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let after = cpu_seconds_of(pid);
    let cpu = sample(&text, "process_cpu_seconds_total").unwrap_or_else(|| panic!("{text}"));
    assert!(cpu > 0.0, "{text}");
    assert!(
        before <= cpu && cpu <= after,
        "process_cpu_seconds_total = {cpu}, the kernel says {before}..{after}"
    );
    assert!(text.contains("# TYPE process_cpu_seconds_total counter"));
    p.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_405_is_labelled_by_its_route_and_the_pool_limit_has_its_own_gauge() {
    let s = TestServer::start().await;
    for _ in 0..3 {
        assert_eq!(s.get("/auth/login").await.status, 405);
    }
    assert_eq!(
        s.send(s.http.delete(s.admin_url("/metrics"))).await.status,
        405
    );
    let text = s.metrics_text().await;
    for (series, at_least) in [
        (
            r#"edgeauth_http_requests_total{method="GET",route="/auth/login",status="405"}"#,
            3.0,
        ),
        (
            r#"edgeauth_http_requests_total{method="DELETE",route="/metrics",status="405"}"#,
            1.0,
        ),
        ("edgeauth_redis_pool_connections_max", 1.0),
        (r#"edgeauth_redis_pool_connections{state="open"}"#, 1.0),
    ] {
        let value = sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        assert!(value >= at_least, "{series} = {value}");
    }
    assert!(
        !text
            .lines()
            .any(|l| l.contains(r#"route="unmatched""#) && l.contains(r#"status="405""#)),
        "{text}"
    );
    assert!(!text.contains(r#"state="max""#), "{text}");
}
