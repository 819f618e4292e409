//! Redis down and back (503 `unavailable` + `Retry-After`, recovery
//! without a restart), and `serve --dev` as a real process with graceful
//! shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

use crate::support::{PASSWORD, Redis, Reply, TestServer};

fn assert_unavailable(r: &Reply) {
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.error(), "unavailable");
    let retry = r.header("retry-after").expect("Retry-After");
    assert!(retry.parse::<u64>().is_ok_and(|n| n >= 1), "{retry}");
    assert!(
        !r.text.to_lowercase().contains("redis"),
        "no internals leak: {}",
        r.text
    );
}

async fn readyz(s: &TestServer) -> (u16, u16) {
    let public = s.get("/readyz").await.status;
    let admin = s.send(s.http.get(s.admin_url("/readyz"))).await.status;
    (public, admin)
}

/// Retries `attempt` (every 100 ms, for up to 10 s) until it returns true.
async fn eventually<F, Fut>(what: &str, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = edgeauth::clock::instant() + Duration::from_secs(10);
    while !attempt().await {
        assert!(
            edgeauth::clock::instant() < deadline,
            "{what} did not happen within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_gives_503_and_probes_tell() {
    // Stops and restarts its Redis: a single node of its own in every mode.
    let mut s = TestServer::with_redis(Redis::start(), &[]).await;
    let (jwt, refresh) = s.signed_in("down@example.com").await;
    assert_eq!(readyz(&s).await, (200, 200));
    s.redis.stop();

    for url in [s.url("/healthz"), s.admin_url("/healthz")] {
        let r = s.send(s.http.get(url)).await;
        assert_eq!(r.status, 200, "liveness touches no dependency: {}", r.text);
        assert_eq!(r.text, "OK");
    }
    for url in [s.url("/readyz"), s.admin_url("/readyz")] {
        let r = s.send(s.http.get(url)).await;
        assert_eq!(r.status, 503, "{}", r.text);
    }
    let login = s
        .post(
            "/auth/login",
            json!({"email": "down@example.com", "password": PASSWORD}),
        )
        .await;
    assert_unavailable(&login);
    assert_unavailable(&s.verify(&jwt).await);
    assert_unavailable(&s.post_cookie("/auth/token/refresh", &refresh).await);
    assert_unavailable(
        &s.post(
            "/auth/register",
            json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await,
    );
    // Requests that need no Redis still work.
    let r = s.get("/.well-known/jwks.json").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_again_once_redis_is_back() {
    // Stops and restarts its Redis: a single node of its own in every mode.
    let mut s = TestServer::with_redis(Redis::start(), &[]).await;
    let (jwt, _) = s.signed_in("before@example.com").await;
    s.redis.stop();
    assert_unavailable(&s.verify(&jwt).await);
    // Same port, empty data (no persistence).
    s.redis.restart();

    let s = &s;
    eventually("readyz 200 on both listeners", || async move {
        readyz(s).await == (200, 200)
    })
    .await;
    eventually("register 204", || async move {
        let r = s
            .post(
                "/auth/register",
                json!({"email": "after@example.com", "password": PASSWORD}),
            )
            .await;
        assert!(r.status == 204 || r.status == 503, "{}", r.text);
        r.status == 204
    })
    .await;
    let ticket = s.redis.ticket("account.registered", "after@example.com");
    let r = s
        .post("/auth/account/activate", json!({ "ticket": ticket }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (jwt2, refresh) = s.login("after@example.com").await;
    assert_eq!(s.verify(&jwt2).await.status, 200);
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The old session lived in the lost data.
    assert_eq!(s.verify(&jwt).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_is_down_at_start_is_picked_up_later() {
    let mut redis = Redis::start();
    redis.stop();
    let mut s = TestServer::with_redis(redis, &[]).await;
    assert_eq!(s.get("/healthz").await.status, 200);
    assert_eq!(readyz(&s).await, (503, 503));
    assert_unavailable(
        &s.post(
            "/auth/login",
            json!({"email": "late@example.com", "password": PASSWORD}),
        )
        .await,
    );
    s.redis.restart();
    let s = &s;
    eventually(
        "readyz 200",
        || async move { readyz(s).await == (200, 200) },
    )
    .await;
    let (jwt, _) = s.signed_in("late@example.com").await;
    assert_eq!(s.verify(&jwt).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_outages_are_survived() {
    // Stops and restarts its Redis: a single node of its own in every mode.
    let mut s = TestServer::with_redis(Redis::start(), &[]).await;
    for round in 0..3 {
        s.redis.stop();
        assert_eq!(readyz(&s).await, (503, 503), "round {round}");
        s.redis.restart();
        let email = format!("round{round}@example.com");
        let s = &s;
        eventually("register 204", || {
            let email = email.clone();
            async move {
                s.post(
                    "/auth/register",
                    json!({"email": email, "password": PASSWORD}),
                )
                .await
                .status
                    == 204
            }
        })
        .await;
    }
}

// ---------------------------------------------------------------- serve --dev

/// `edgeauth serve --dev` as a child process, its log lines (stdout)
/// arriving on a channel.
struct DevServer {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    public: SocketAddr,
    admin: SocketAddr,
    redis_pid: u32,
}

/// The value of `key=` in a compact log line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
}

impl DevServer {
    fn start(extra: &[(&str, &str)]) -> DevServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_edgeauth"));
        command
            .args(["serve", "--dev"])
            .env("EDGEAUTH_LISTEN", "127.0.0.1:0")
            .env("EDGEAUTH_ADMIN_LISTEN", "127.0.0.1:0")
            .env("EDGEAUTH_SCRYPT_LOG_N", "10")
            .env("EDGEAUTH_LOG", "info")
            .env_remove("EDGEAUTH_REDIS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in extra {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn edgeauth");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut dev = DevServer {
            child,
            lines,
            log: Vec::new(),
            public: "0.0.0.0:0".parse().unwrap(),
            admin: "0.0.0.0:0".parse().unwrap(),
            redis_pid: 0,
        };
        let started = dev.wait_for("throwaway redis-server");
        dev.redis_pid = field(&started, "pid")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no pid in {started:?}"));
        assert!(dev.redis_pid > 0, "{started}");
        let listening = dev.wait_for("listening");
        let addr = |key| {
            field(&listening, key)
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no {key} address in {listening:?}"))
        };
        dev.public = addr("public");
        dev.admin = addr("admin");
        dev
    }

    /// The next log line containing `needle` (waits up to 20 s).
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = edgeauth::clock::instant() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(edgeauth::clock::instant());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no log line with {needle:?} ({e}); log so far: {:#?}",
                    self.log
                ),
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.public, path)
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits (up to 20 s) for the process to exit.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = edgeauth::clock::instant() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                edgeauth::clock::instant() < deadline,
                "edgeauth did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        // Only when a test failed half-way: don't leave the process behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether `pid` is gone (absent, or a zombie waiting for its reaper).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ..." — the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_dev_runs_and_its_redis_dies_with_it() {
    let mut dev = DevServer::start(&[]);
    assert!(!process_gone(dev.redis_pid), "redis child runs");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let r = Reply::read(http.get(dev.url("/healthz")).send().await.unwrap()).await;
    assert_eq!((r.status, r.text.as_str()), (200, "OK"));
    let r = Reply::read(
        http.get(format!("http://{}/readyz", dev.admin))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "its redis answers: {}", r.text);
    // Dev mode: no Secure flag, and events (with tickets) in the log.
    let r = Reply::read(
        http.post(dev.url("/auth/register"))
            .json(&json!({"email": "dev@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let event = dev.wait_for("account.registered");
    let ticket = field(&event, "ticket").expect("ticket in the dev log");
    let ticket = ticket
        .trim_start_matches("Some(\"")
        .trim_end_matches("\")")
        .to_owned();
    let r = Reply::read(
        http.post(dev.url("/auth/account/activate"))
            .json(&json!({ "ticket": ticket }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.status, 204,
        "ticket {ticket:?} from {event:?}: {}",
        r.text
    );
    let r = Reply::read(
        http.post(dev.url("/auth/login"))
            .json(&json!({"email": "dev@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cookie = r.set_cookie().unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");

    dev.sigterm();
    let status = dev.wait_exit();
    assert_eq!(status.code(), Some(0), "exit status {status}");
    let deadline = edgeauth::clock::instant() + Duration::from_secs(5);
    while !process_gone(dev.redis_pid) {
        assert!(
            edgeauth::clock::instant() < deadline,
            "redis child {} outlived the server",
            dev.redis_pid
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_during_sigterm_completes() {
    let mut dev = DevServer::start(&[]);
    // A request whose body is still arriving when the signal comes. With
    // `Expect: 100-continue` the server says when its handler has started
    // reading the body, so the request is provably in flight.
    let body = json!({"email": "inflight@example.com", "password": PASSWORD}).to_string();
    let mut stream = TcpStream::connect(dev.public).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len(),
    )
    .unwrap();
    stream.flush().unwrap();
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("100 Continue");
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{:?}",
        String::from_utf8_lossy(&interim)
    );
    stream.write_all(&body.as_bytes()[..10]).unwrap();

    dev.sigterm();
    dev.wait_for("shutting down");
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(
        response.starts_with("HTTP/1.1 204"),
        "in-flight request finished: {response:?}"
    );
    // No new connections once draining.
    assert!(
        TcpStream::connect(dev.public).is_err()
            || reqwest::Client::new()
                .get(dev.url("/healthz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_err(),
        "a new connection was served while draining"
    );
    let status = dev.wait_exit();
    assert_eq!(status.code(), Some(0), "exit status {status}");
    let deadline = edgeauth::clock::instant() + Duration::from_secs(5);
    while !process_gone(dev.redis_pid) {
        assert!(
            edgeauth::clock::instant() < deadline,
            "redis child outlived the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid of a Redis, from `INFO server`.
fn redis_pid(redis: &Redis) -> u32 {
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query(&mut redis.conn())
        .expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("process_id")
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Resumes a stopped Redis even when the test fails half-way.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_gives_503_not_a_hang_and_recovery_follows() {
    // Stops its Redis: a single node of its own in every mode.
    let s = TestServer::with_redis(Redis::start(), &[]).await;
    let (jwt, refresh) = s.signed_in("hung@example.com").await;
    let pid = redis_pid(&s.redis);
    // Stopped, not dead: connections stay open and nothing answers.
    signal(pid, "-STOP");
    let resume = Resume(pid);
    assert_eq!(s.get("/healthz").await.status, 200);
    assert_eq!(readyz(&s).await, (503, 503));
    assert_unavailable(&s.verify(&jwt).await);
    assert_unavailable(
        &s.post(
            "/auth/login",
            json!({"email": "hung@example.com", "password": PASSWORD}),
        )
        .await,
    );
    // Several at once: every one answers 503.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let request = s.http.get(s.url("/auth/verify")).bearer_auth(jwt.clone());
        tasks.spawn(async move { Reply::read(request.send().await.expect("request")).await });
    }
    while let Some(r) = tasks.join_next().await {
        assert_unavailable(&r.unwrap());
    }
    drop(resume);
    let s = &s;
    eventually(
        "readyz 200",
        || async move { readyz(s).await == (200, 200) },
    )
    .await;
    // Same data: the session is still there and serves normally.
    let jwt = jwt.as_str();
    eventually(
        "verify 200",
        || async move { s.verify(jwt).await.status == 200 },
    )
    .await;
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (jwt2, _) = s.login("hung@example.com").await;
    assert_eq!(s.verify(&jwt2).await.status, 200);
}

// ------------------------------------------- slow, killed and emptied Redis

/// A gauge of `edgeauth_redis_pool_connections` from `/metrics`.
async fn pool_gauge(s: &TestServer, state: &str) -> i64 {
    let r = s.send(s.http.get(s.admin_url("/metrics"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let series = format!("edgeauth_redis_pool_connections{{state=\"{state}\"}} ");
    r.text
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series:?} in /metrics"))
}

/// `n` concurrent `/auth/verify` calls per token; every one must answer 200
/// naming its own account (a reply read off a connection that still held a
/// timed-out command would name another).
async fn verify_all_concurrently(s: &TestServer, tokens: &[(String, String)], n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (jwt, user) = tokens[i % tokens.len()].clone();
        let request = s.http.get(s.url("/auth/verify")).bearer_auth(jwt);
        tasks.spawn(async move {
            (
                user,
                Reply::read(request.send().await.expect("request")).await,
            )
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (user, r) = joined.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("x-auth-user-id").as_deref(), Some(user.as_str()));
    }
}

/// Signs in `n` accounts; returns (jwt, user id) for each.
async fn sessions(s: &TestServer, n: usize, tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        let (jwt, _) = s.signed_in(&format!("{tag}{i}@example.com")).await;
        let user = s
            .verify(&jwt)
            .await
            .header("x-auth-user-id")
            .expect("user id");
        out.push((jwt, user));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_gives_503_within_the_deadline_and_leaks_no_pool_slot() {
    const POOL: usize = 8;
    let redis = Redis::start_with(&["--enable-debug-command", "local"]);
    let s = TestServer::with_redis(
        redis,
        &[
            ("EDGEAUTH_REDIS_POOL_SIZE", "8"),
            ("EDGEAUTH_REDIS_TIMEOUT", "1s"),
            ("EDGEAUTH_REQUEST_TIMEOUT", "3s"),
            // Every verify must reach Redis here (the 1 s session cache would
            // answer recently seen sessions itself; see verify_cache.rs).
            ("EDGEAUTH_VERIFY_CACHE_TTL", "0"),
        ],
    )
    .await;
    let tokens = sessions(&s, 4, "slow").await;
    let (_, refresh) = s.login("slow0@example.com").await;
    // Warm: the pool holds open connections that will be mid-command below.
    verify_all_concurrently(&s, &tokens, 4 * POOL).await;

    // Redis is single-threaded: while DEBUG SLEEP runs it answers nobody.
    let sleeper = s.redis.client();
    let sleeping = std::thread::spawn(move || {
        let mut conn = sleeper.get_connection().expect("connection");
        redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg(3)
            .query::<String>(&mut conn)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !sleeping.is_finished(),
        "DEBUG SLEEP returned at once: {:?}",
        sleeping.join()
    );

    let started = edgeauth::clock::instant();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..24 {
        let (jwt, _) = tokens[i % tokens.len()].clone();
        let request = match i % 4 {
            0 | 1 => s.http.get(s.url("/auth/verify")).bearer_auth(jwt),
            2 => s
                .http
                .post(s.url("/auth/token/refresh"))
                .header("cookie", format!("refresh_token={refresh}")),
            _ => s
                .http
                .post(s.url("/auth/login"))
                .json(&json!({"email": "slow1@example.com", "password": PASSWORD})),
        };
        tasks.spawn(async move {
            let r = Reply::read(request.send().await.expect("request")).await;
            (r, started.elapsed())
        });
    }
    assert_eq!(
        s.get("/healthz").await.status,
        200,
        "liveness needs no Redis"
    );
    while let Some(joined) = tasks.join_next().await {
        let (r, elapsed) = joined.unwrap();
        // Redis sleeps for 3 s: an answer before it wakes is the deadline's.
        assert_unavailable(&r);
        // A hang bound, not a performance claim: the request deadline (3 s)
        // plus slack for a loaded machine.
        assert!(
            elapsed < Duration::from_secs(6),
            "answered after {elapsed:?}"
        );
    }
    assert_eq!(sleeping.join().unwrap().expect("DEBUG SLEEP"), "OK");

    let s = &s;
    eventually(
        "readyz 200",
        || async move { readyz(s).await == (200, 200) },
    )
    .await;
    // Full concurrency again, three times over: no slot was lost to the
    // requests cut off mid-command, and no connection answers for another.
    for _ in 0..3 {
        verify_all_concurrently(s, &tokens, 4 * POOL).await;
    }
    assert_eq!(pool_gauge(s, "in_use").await, 0, "a pool slot leaked");
    assert!(pool_gauge(s, "open").await <= POOL as i64);
    assert_eq!(
        crate::support::metrics::sample(
            &s.metrics_text().await,
            "edgeauth_redis_pool_connections_max"
        ),
        Some(POOL as f64)
    );
    // The refreshes cut off by the deadline were still queued in Redis and
    // ran when it woke: the session moved on while its client got 503. The
    // retry with the same token lands inside the reuse grace (10 s) and is
    // answered, not treated as reuse.
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_then_killed_mid_traffic_then_restarted_empty() {
    // Every verify must reach Redis here (see verify_cache.rs for the cache).
    let mut s = TestServer::with_redis(Redis::start(), &[("EDGEAUTH_VERIFY_CACHE_TTL", "0")]).await;
    let (jwt, refresh) = s.signed_in("killed@example.com").await;
    let pid = redis_pid(&s.redis);

    // Traffic all along: a verify every 20 ms, every answer recorded.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (http, url, jwt, stop) = (
            s.http.clone(),
            s.url("/auth/verify"),
            jwt.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = Reply::read(
                    http.get(&url)
                        .bearer_auth(&jwt)
                        .send()
                        .await
                        .expect("request"),
                )
                .await;
                seen.push((r.status, r.error_code()));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        })
    };
    let s_ref = &s;
    let jwt_ref = jwt.as_str();
    eventually("verify 200", || async move {
        s_ref.verify(jwt_ref).await.status == 200
    })
    .await;

    // Stopped: connections stay open, nothing answers.
    signal(pid, "-STOP");
    let resume = Resume(pid);
    assert_unavailable(&s.verify(&jwt).await);
    assert_eq!(s.get("/healthz").await.status, 200);
    // Killed while stopped: every pooled connection is now dead.
    signal(pid, "-KILL");
    drop(resume);
    assert_unavailable(&s.verify(&jwt).await);
    assert_unavailable(
        &s.post(
            "/auth/register",
            json!({"email": "during@example.com", "password": PASSWORD}),
        )
        .await,
    );
    assert_eq!(readyz(&s).await, (503, 503));
    assert_eq!(s.get("/healthz").await.status, 200);

    // Back, empty (no persistence).
    s.redis.restart();
    let s = &s;
    eventually(
        "readyz 200",
        || async move { readyz(s).await == (200, 200) },
    )
    .await;
    // Everything the lost data held is gone, cleanly: 401s, not 500s.
    let r = s.verify(&jwt).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.error(), "invalid_token");
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.error(), "invalid_refresh_token");
    assert!(r.clears_cookie(), "{:?}", r.set_cookie());
    let r = s
        .post(
            "/auth/login",
            json!({"email": "killed@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.error(), "invalid_credentials");
    // The same email registers again, and the new account works.
    let (jwt2, refresh2) = s.signed_in("killed@example.com").await;
    assert_eq!(s.verify(&jwt2).await.status, 200);
    assert_eq!(
        s.post_cookie("/auth/token/refresh", &refresh2).await.status,
        200
    );

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = traffic.await.unwrap();
    let count = |status: u16| seen.iter().filter(|(s, _)| *s == status).count();
    assert!(
        count(200) > 0 && count(503) > 0 && count(401) > 0,
        "{seen:?}"
    );
    for (status, code) in &seen {
        let expected = match status {
            200 => None,
            401 => Some("invalid_token"),
            503 => Some("unavailable"),
            _ => panic!("unexpected answer {status} {code:?} in {seen:?}"),
        };
        assert_eq!(code.as_deref(), expected, "{seen:?}");
    }
    assert_eq!(pool_gauge(s, "in_use").await, 0, "a pool slot leaked");
}
