//! The run: processes, baselines, fixtures, every scenario of issue 6 in
//! order, then the target checks.
//!
//! Two edgeauth processes share one Redis (same key files, same prefix, so a
//! token from one is good on the other): `fast` hashes at scrypt log_n 10
//! and carries every scenario except those at the default cost; `slow`
//! hashes at log_n 17 and carries `login (log_n 17)` and `isolation`. Only
//! one of them is under load at a time. Their stdout (the JSON request log
//! at the default `info` level) goes to a file in the run's temp dir.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use serde_json::json;

use crate::Options;
use crate::client::{Job, LoadResult, Window, run_load};
use crate::fixtures::{self, Template};
use crate::jobs::{self, Chains, Fixed, Login, Mix, Refresh, Register, VerifyMany};
use crate::probe::{self, Usage, Watch};
use crate::procs::{self, EdgeauthSpec, Proc, TempDir};
use crate::report::{Report, mib};

/// How long things run.
struct Timing {
    warmup: Duration,
    duration: Duration,
    /// `login (log_n 17)`: a few hashes per second at most.
    slow_warmup: Duration,
    slow_duration: Duration,
}

impl Timing {
    fn new(quick: bool) -> Timing {
        if quick {
            Timing {
                warmup: Duration::from_millis(300),
                duration: Duration::from_secs(1),
                slow_warmup: Duration::from_millis(300),
                slow_duration: Duration::from_millis(600),
            }
        } else {
            Timing {
                warmup: Duration::from_secs(2),
                duration: Duration::from_secs(10),
                slow_warmup: Duration::from_secs(2),
                slow_duration: Duration::from_secs(10),
            }
        }
    }

    fn window(&self) -> Window {
        Window::starting_now(self.warmup, self.duration)
    }
}

/// The processes of a run.
struct Cluster {
    redis: Proc,
    fast: Proc,
    slow: Proc,
    hello: Proc,
    fast_addr: SocketAddr,
    hello_addr: SocketAddr,
    conn: MultiplexedConnection,
}

impl Cluster {
    /// Watches `window` (see `probe`), with `server` as the server under test.
    fn probe(&self, server: Option<u32>, window: Window) -> tokio::task::JoinHandle<Usage> {
        let watch = Watch {
            server,
            redis: self.redis.pid(),
            ours: vec![
                self.redis.pid(),
                self.fast.pid(),
                self.slow.pid(),
                self.hello.pid(),
            ],
        };
        probe::spawn(watch, self.conn.clone(), window)
    }

    /// Err when any process died.
    fn alive(&mut self) -> Result<(), String> {
        self.redis.check_alive()?;
        self.fast.check_alive()?;
        self.slow.check_alive()?;
        self.hello.check_alive()
    }
}

/// The whole run; its exit code.
pub async fn run(options: Options) -> ExitCode {
    let started = Instant::now();
    let mut report = Report::new(options.quick);
    let mut dir = TempDir::new();
    dir.keep = options.keep_logs;
    let outcome = run_all(&options, &dir, &mut report).await;
    let elapsed = started.elapsed();
    report.fact(
        "wall_clock_s",
        format!(
            "Run took {:.0} s (excluding compilation).",
            elapsed.as_secs_f64()
        ),
        json!(elapsed.as_secs_f64()),
    );
    println!("\n{}", report.markdown());
    let default_path = target_dir().join("load-bench.json");
    report.write_json(&default_path);
    if let Some(path) = &options.json {
        report.write_json(path);
    }
    if options.keep_logs {
        println!("server logs kept in {}", dir.path.display());
    }
    if let Err(e) = outcome {
        eprintln!("load: FAILED: {e}");
        return ExitCode::FAILURE;
    }
    let errors = report.errors();
    if errors > 0 {
        eprintln!("load: FAILED: {errors} requests got an unexpected answer");
        return ExitCode::FAILURE;
    }
    if !options.quick && report.missed() > 0 {
        eprintln!("load: {} target(s) missed", report.missed());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// `target/` of this build: the bench binary is `target/<profile>/deps/load-*`.
fn target_dir() -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| "target".into())
}

fn step(what: &str) {
    eprintln!("load: {what}");
}

async fn run_all(options: &Options, dir: &TempDir, report: &mut Report) -> Result<(), String> {
    let quick = options.quick;
    let conns = options.connections;
    let t = Timing::new(quick);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // ---- processes ----------------------------------------------------
    step("starting redis-server, two edgeauth processes and the hello server");
    let signing = edgeauth::auth::jwt::generate_pkcs8_pem().expect("signing key");
    let data_key = edgeauth::auth::keys::generate_data_key_base64().expect("data key");
    let jwt_file = dir.write("signing.pem", &signing);
    let data_file = dir.write("data.key", &data_key);
    let refresh_keys = fixtures::refresh_keys(&data_key);
    let (redis, redis_port) = procs::start_redis(&dir.path);
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    procs::wait_for_port(
        format!("127.0.0.1:{redis_port}").parse().expect("addr"),
        "redis-server",
    )
    .await;
    let conn = redis::Client::open(redis_url.as_str())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("redis: {e}"))?;
    let spec = |name, scrypt_log_n| EdgeauthSpec {
        name,
        redis_url: &redis_url,
        jwt_key_file: &jwt_file,
        data_key_file: &data_file,
        scrypt_log_n,
    };
    let (fast, fast_addr) = procs::start_edgeauth(dir, &spec("edgeauth-log10", 10)).await;
    let (slow, slow_addr) = procs::start_edgeauth(dir, &spec("edgeauth-log17", 17)).await;
    let (hello, hello_addr) = procs::start_hello().await;
    let mut c = Cluster {
        redis,
        fast,
        slow,
        hello,
        fast_addr,
        hello_addr,
        conn,
    };
    report.notes.push(format!(
        "edgeauth: release build, default `info` log level, stdout (one JSON line per request) \
         to a file; rate limits raised to {}; EDGEAUTH_AUTO_ACTIVATE=true; hash pool = {cores} \
         (default: cores). `fast` runs at scrypt log_n 10, `slow` at the default 17.",
        "1000000000/1h"
    ));
    let idle = c.fast.memory();
    let idle_slow = c.slow.memory();
    report.fact(
        "server_rss_idle_bytes",
        format!(
            "Server RSS idle: {:.1} MiB (peak {:.1} MiB); the log_n 17 process {:.1} MiB.",
            mib(idle.rss),
            mib(idle.hwm),
            mib(idle_slow.rss)
        ),
        json!({ "rss": idle.rss, "hwm": idle.hwm, "slow_rss": idle_slow.rss }),
    );

    // ---- baselines ----------------------------------------------------
    step("baselines: raw scrypt");
    let scrypt_time = if quick { t.duration } else { t.duration / 2 };
    let scrypt10 =
        tokio::task::spawn_blocking(move || crate::baselines::scrypt(10, cores, scrypt_time))
            .await
            .expect("scrypt");
    let scrypt17 =
        tokio::task::spawn_blocking(move || crate::baselines::scrypt(17, cores, scrypt_time))
            .await
            .expect("scrypt");
    report.fact(
        "scrypt_hashes_per_s",
        format!(
            "Raw scrypt (r=8, p=1, {cores} threads): log_n 10 {scrypt10:.0} hashes/s, \
             log_n 17 {scrypt17:.2} hashes/s."
        ),
        json!({ "log_n_10": scrypt10, "log_n_17": scrypt17, "threads": cores }),
    );

    step("baselines: EVALSHA, hello");
    let window = t.window();
    let probe = c.probe(None, window);
    let mut result = crate::baselines::evalsha(&c.conn, conns, window).await;
    result.usage = Some(probe.await.expect("probe"));
    report.add(
        "baseline: EVALSHA (HGET+HSET+EXPIRE), shared multiplexed conn",
        conns,
        &result,
        &result.kinds[0],
        true,
    );
    let result = load(
        &c,
        c.hello_addr,
        conns,
        t.window(),
        &["hello"],
        c.hello.pid(),
        |_| {
            Box::new(Fixed {
                path: "/",
                bearer: None,
                expect: 200,
            })
        },
    )
    .await;
    let hello_rate = result.rate(&result.kinds[0]);
    report.set_hello(hello_rate);
    report.add(
        "baseline: hello (bare hyper)",
        conns,
        &result,
        &result.kinds[0],
        true,
    );
    c.alive()?;

    // ---- fixtures -----------------------------------------------------
    step("fixtures: template account, login accounts, 10k cloned sessions");
    let template = Arc::new(
        Template::capture(
            fast_addr,
            &mut c.conn,
            &refresh_keys,
            "template@bench.example",
        )
        .await,
    );
    report.fact(
        "template_layout",
        format!(
            "Keys of one account with one session (cloned for 10k sessions and 1M accounts): {}.",
            template.layout().join("; ")
        ),
        json!(template.layout()),
    );
    let login_emails: Vec<String> = (0..conns)
        .map(|i| format!("login-{i}@bench.example"))
        .collect();
    fixtures::register(fast_addr, &login_emails).await;
    // Hashed at log_n 17 by the slow process, so its logins need no rehash.
    let slow_emails: Vec<String> = (0..cores * 2)
        .map(|i| format!("login17-{i}@bench.example"))
        .collect();
    fixtures::register(slow_addr, &slow_emails).await;

    let before = fixtures::used_memory(&mut c.conn).await;
    let sessions = template.clone_into(&c.conn, "verify", 10_000).await;
    let after = fixtures::used_memory(&mut c.conn).await;
    let per_account_10k = (after - before) as f64 / sessions.len() as f64;
    report.fact(
        "redis_bytes_per_account_10k",
        format!(
            "Redis used_memory per account with one session: {per_account_10k:.0} bytes \
             (10k cloned accounts)."
        ),
        json!(per_account_10k),
    );
    let minted = sessions
        .iter()
        .map(|s| fixtures::mint(&refresh_keys, s.account, s.family))
        .collect();
    let first = fixtures::refresh(fast_addr, minted).await;
    let tokens: Arc<Vec<String>> = Arc::new(first.iter().map(|(jwt, _)| jwt.clone()).collect());
    let one_token: Arc<str> = tokens[0].as_str().into();
    // Chains for refresh, mixed and isolation: cloned sessions of their own.
    let mut new_chains = {
        let template = template.clone();
        let conn = c.conn.clone();
        let keys = refresh_keys.clone();
        let mut n = 0;
        move || {
            n += 1;
            let (template, conn, keys) = (template.clone(), conn.clone(), keys.clone());
            async move {
                let cloned = template
                    .clone_into(&conn, &format!("chain{n}"), conns)
                    .await;
                jobs::chains(
                    cloned
                        .iter()
                        .map(|s| fixtures::mint(&keys, s.account, s.family))
                        .collect(),
                )
            }
        }
    };
    c.alive()?;

    // ---- scenarios on the log_n 10 process --------------------------------
    let fast_pid = c.fast.pid();
    for (name, path, bearer) in [
        ("healthz", "/healthz", None),
        ("jwks", "/.well-known/jwks.json", None),
        (
            "verify (one token)",
            "/auth/verify",
            Some(one_token.clone()),
        ),
    ] {
        step(name);
        let result = load(&c, fast_addr, conns, t.window(), &[name], fast_pid, |_| {
            Box::new(Fixed {
                path,
                bearer: bearer.clone(),
                expect: 200,
            })
        })
        .await;
        report.add(name, conns, &result, &result.kinds[0], true);
        c.alive()?;
    }

    step("verify (10k tokens)");
    let result = load(
        &c,
        fast_addr,
        conns,
        t.window(),
        &["verify"],
        fast_pid,
        |i| Box::new(VerifyMany::new(tokens.clone(), i, conns)),
    )
    .await;
    report.add(
        "verify (10k tokens)",
        conns,
        &result,
        &result.kinds[0],
        true,
    );
    c.alive()?;

    step("refresh");
    let chains = new_chains().await;
    let result = load(
        &c,
        fast_addr,
        conns,
        t.window(),
        &["refresh"],
        fast_pid,
        |i| Box::new(Refresh::new(&chains, i, conns)),
    )
    .await;
    report.add("refresh", conns, &result, &result.kinds[0], true);
    c.alive()?;

    step("login (log_n 10)");
    let result = load(
        &c,
        fast_addr,
        conns,
        t.window(),
        &["login"],
        fast_pid,
        |i| Box::new(Login::new(&login_emails[i % login_emails.len()])),
    )
    .await;
    report.add("login (log_n 10)", conns, &result, &result.kinds[0], true);
    c.alive()?;

    step("register (log_n 10)");
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let result = load(
        &c,
        fast_addr,
        conns,
        t.window(),
        &["register"],
        fast_pid,
        |i| {
            Box::new(Register {
                prefix: format!("reg-{}-{i}", &run_id[..8]),
                n: 0,
            })
        },
    )
    .await;
    report.add(
        "register (log_n 10)",
        conns,
        &result,
        &result.kinds[0],
        true,
    );
    c.alive()?;

    step("mixed");
    let mixed_chains = new_chains().await;
    let kinds = ["verify", "refresh", "login", "register"];
    let result = load(&c, fast_addr, conns, t.window(), &kinds, fast_pid, |i| {
        let parts: Vec<(u32, Box<dyn Job>)> = vec![
            (80, Box::new(VerifyMany::new(tokens.clone(), i, conns))),
            (15, Box::new(Refresh::new(&mixed_chains, i, conns))),
            (
                4,
                Box::new(Login::new(&login_emails[i % login_emails.len()])),
            ),
            (
                1,
                Box::new(Register {
                    prefix: format!("mixed-{}-{i}", &run_id[..8]),
                    n: 0,
                }),
            ),
        ];
        Box::new(Mix::new(parts, i as u64 + 1))
    })
    .await;
    report.add(
        "mixed (80/15/4/1, log_n 10)",
        conns,
        &result,
        &result.overall(),
        true,
    );
    for k in &result.kinds {
        report.add(&format!("mixed · {}", k.name), conns, &result, k, false);
    }
    let after_mixed = c.fast.memory();
    report.fact(
        "server_rss_after_mixed_bytes",
        format!(
            "Server peak RSS (VmHWM) after mixed: {:.1} MiB (RSS now {:.1} MiB).",
            mib(after_mixed.hwm),
            mib(after_mixed.rss)
        ),
        json!({ "hwm": after_mixed.hwm, "rss": after_mixed.rss }),
    );
    c.alive()?;

    // ---- scenarios on the log_n 17 process ------------------------------------
    let slow_pid = c.slow.pid();
    let slow_conns = cores * 2;
    step("login (log_n 17)");
    let window = Window::starting_now(t.slow_warmup, t.slow_duration);
    let result = load(
        &c,
        slow_addr,
        slow_conns,
        window,
        &["login"],
        slow_pid,
        |i| Box::new(Login::new(&slow_emails[i % slow_emails.len()])),
    )
    .await;
    report.add(
        "login (log_n 17)",
        slow_conns,
        &result,
        &result.kinds[0],
        true,
    );
    c.alive()?;

    let iso_chains = new_chains().await;
    let iso_kinds = ["verify", "refresh"];
    let iso_job = |i: usize| -> Box<dyn Job> {
        let parts: Vec<(u32, Box<dyn Job>)> = vec![
            (50, Box::new(VerifyMany::new(tokens.clone(), i, conns))),
            (50, Box::new(Refresh::new(&iso_chains, i, conns))),
        ];
        Box::new(Mix::new(parts, i as u64 + 7))
    };
    step("isolation: verify + refresh without a login flood");
    let base = load(
        &c,
        slow_addr,
        conns,
        t.window(),
        &iso_kinds,
        slow_pid,
        &iso_job,
    )
    .await;
    for k in &base.kinds {
        report.add(
            &format!("isolation, no flood · {}", k.name),
            conns,
            &base,
            k,
            false,
        );
    }
    c.alive()?;
    step("isolation: verify + refresh during a login flood (log_n 17)");
    let flood_conns = cores * 4;
    let window = t.window();
    let (flooded, flood) = tokio::join!(
        load(&c, slow_addr, conns, window, &iso_kinds, slow_pid, &iso_job),
        run_load(slow_addr, flood_conns, window, &["login"], |i| {
            Box::new(Login::new(&slow_emails[i % slow_emails.len()]))
        }),
    );
    for k in &flooded.kinds {
        report.add(
            &format!("isolation, login flood · {}", k.name),
            conns,
            &flooded,
            k,
            false,
        );
    }
    report.add(
        "isolation, the flood · login (log_n 17)",
        flood_conns,
        &flood,
        &flood.kinds[0],
        false,
    );
    let slow_mem = c.slow.memory();
    report.fact(
        "slow_server_rss_bytes",
        format!(
            "The log_n 17 process: peak RSS {:.1} MiB after its login scenarios \
             ({cores} × 128 MiB scrypt buffers at most).",
            mib(slow_mem.hwm)
        ),
        json!({ "hwm": slow_mem.hwm }),
    );
    c.alive()?;

    // ---- 1k vs 1M accounts (full run only) -------------------------------------
    if !quick {
        accounts_1k_vs_1m(&mut c, &t, conns, &template, &refresh_keys, report).await?;
    }

    checks(
        report,
        quick,
        scrypt10,
        scrypt17,
        idle,
        after_mixed,
        per_account_10k,
        cores,
    );
    Ok(())
}

/// An HTTP load through `window`, watching the server `pid`, Redis and the
/// machine.
async fn load(
    c: &Cluster,
    addr: SocketAddr,
    conns: usize,
    window: Window,
    kinds: &[&str],
    pid: u32,
    make: impl Fn(usize) -> Box<dyn Job>,
) -> LoadResult {
    let probe = c.probe(Some(pid), window);
    let mut result = run_load(addr, conns, window, kinds, make).await;
    result.usage = Some(probe.await.expect("probe"));
    result
}

/// Refresh with 1k accounts in Redis, then with 1M: Redis is emptied, 1k
/// accounts are registered and logged in through the API, refresh runs over
/// their 1k chains; 999k cloned accounts are added and the same chains run
/// again.
async fn accounts_1k_vs_1m(
    c: &mut Cluster,
    t: &Timing,
    conns: usize,
    template: &Arc<Template>,
    refresh_keys: &edgeauth::auth::refresh::RefreshKeys,
    report: &mut Report,
) -> Result<(), String> {
    step("1k accounts through the API (Redis emptied first)");
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut c.conn)
        .await
        .map_err(|e| format!("FLUSHALL: {e}"))?;
    let before = fixtures::used_memory(&mut c.conn).await;
    let emails: Vec<String> = (0..1000)
        .map(|i| format!("acct-{i}@bench.example"))
        .collect();
    fixtures::register(c.fast_addr, &emails).await;
    let sessions = fixtures::login(c.fast_addr, &emails).await;
    let after = fixtures::used_memory(&mut c.conn).await;
    report.fact(
        "redis_bytes_per_account_api",
        format!(
            "Redis used_memory per account through the API (register + login; includes the \
             per-email rate counter and the events stream entry): {:.0} bytes.",
            (after - before) as f64 / 1000.0
        ),
        json!((after - before) as f64 / 1000.0),
    );
    let chains: Chains = jobs::chains(sessions.into_iter().map(|(_, r)| r).collect());
    let fast_pid = c.fast.pid();

    step("refresh with 1k accounts");
    let result = load(
        c,
        c.fast_addr,
        conns,
        t.window(),
        &["refresh"],
        fast_pid,
        |i| Box::new(Refresh::new(&chains, i, conns)),
    )
    .await;
    report.add(
        "refresh, 1k accounts",
        conns,
        &result,
        &result.kinds[0],
        true,
    );
    c.alive()?;

    step("filling Redis to 1M accounts (cloned)");
    let before = fixtures::used_memory(&mut c.conn).await;
    let fill_started = Instant::now();
    let filled = template.clone_into(&c.conn, "fill", 999_000).await;
    let after = fixtures::used_memory(&mut c.conn).await;
    let per_account = (after - before) as f64 / filled.len() as f64;
    let keys = fixtures::dbsize(&mut c.conn).await;
    report.fact(
        "redis_bytes_per_account_1m",
        format!(
            "Redis used_memory per account with one session: {per_account:.0} bytes \
             (999k cloned accounts, {keys} keys in all, filled in {:.0} s).",
            fill_started.elapsed().as_secs_f64()
        ),
        json!(per_account),
    );
    // A sample of the clones must work like real sessions.
    let sample: Vec<String> = filled
        .iter()
        .step_by(filled.len() / 100)
        .map(|s| fixtures::mint(refresh_keys, s.account, s.family))
        .collect();
    fixtures::refresh(c.fast_addr, sample).await;
    drop(filled);

    step("refresh with 1M accounts");
    let result = load(
        c,
        c.fast_addr,
        conns,
        t.window(),
        &["refresh"],
        fast_pid,
        |i| Box::new(Refresh::new(&chains, i, conns)),
    )
    .await;
    report.add(
        "refresh, 1M accounts",
        conns,
        &result,
        &result.kinds[0],
        true,
    );
    c.alive()
}

/// The targets of issue 6, on this run's figures.
#[allow(clippy::too_many_arguments)]
fn checks(
    report: &mut Report,
    quick: bool,
    scrypt10: f64,
    scrypt17: f64,
    idle: procs::Memory,
    after_mixed: procs::Memory,
    per_account_10k: f64,
    cores: usize,
) {
    let hello = report
        .row("baseline: hello (bare hyper)")
        .map_or(0.0, |r| r.rate);
    let ratio = |report: &Report, name: &str| {
        report.row(name).map_or((0.0, 0.0, 0.0), |r| {
            (r.rate, r.rate / hello.max(1e-9), r.p99_ms)
        })
    };
    let (rate, x, p99) = ratio(report, "refresh");
    report.check(
        "refresh ≥ 0.15 × hello, p99 ≤ 10 ms",
        format!("{x:.3} × ({rate:.0} vs {hello:.0} req/s), p99 {p99:.2} ms"),
        Some(x >= 0.15 && p99 <= 10.0),
    );
    let (rate, x, _) = ratio(report, "verify (one token)");
    report.check(
        "verify, one token ≥ 0.5 × hello",
        format!("{x:.3} × ({rate:.0} req/s)"),
        Some(x >= 0.5),
    );
    let (rate, x, _) = ratio(report, "verify (10k tokens)");
    report.check(
        "verify, 10k distinct tokens ≥ 0.2 × hello",
        format!("{x:.3} × ({rate:.0} req/s)"),
        Some(x >= 0.2),
    );
    let (rate, x, _) = ratio(report, "healthz");
    report.check(
        "healthz ≥ 0.9 × hello",
        format!("{x:.3} × ({rate:.0} req/s)"),
        Some(x >= 0.9),
    );
    for (name, raw, log_n) in [
        ("login (log_n 17)", scrypt17, 17),
        ("login (log_n 10)", scrypt10, 10),
    ] {
        let (rate, _, _) = ratio(report, name);
        let x = rate / raw.max(1e-9);
        report.fact(
            &format!("login_log_n_{log_n}_ratio_to_scrypt"),
            format!("{name}: {rate:.2} logins/s = {x:.2} × raw scrypt ({raw:.2} hashes/s)."),
            json!(x),
        );
        report.check(
            &format!("{name} ≥ 0.9 × raw scrypt at log_n {log_n}"),
            format!("{x:.2} × ({rate:.2} logins/s vs {raw:.2} hashes/s)"),
            Some(x >= 0.9),
        );
    }
    for kind in ["verify", "refresh"] {
        let base = report
            .row(&format!("isolation, no flood · {kind}"))
            .map_or(0.0, |r| r.p99_ms);
        let flooded = report
            .row(&format!("isolation, login flood · {kind}"))
            .map_or(0.0, |r| r.p99_ms);
        report.check(
            &format!("isolation: {kind} p99 during a login flood ≤ 2 × without"),
            format!(
                "{:.2} × ({flooded:.2} ms vs {base:.2} ms)",
                flooded / base.max(1e-9)
            ),
            Some(flooded <= 2.0 * base),
        );
    }
    match (
        report.row("refresh, 1k accounts"),
        report.row("refresh, 1M accounts"),
    ) {
        (Some(small), Some(large)) => {
            let x = large.rate / small.rate.max(1e-9);
            report.check(
                "refresh with 1M accounts = with 1k (within noise: ≥ 0.85 ×)",
                format!("{x:.2} × ({:.0} vs {:.0} req/s)", large.rate, small.rate),
                Some(x >= 0.85),
            );
        }
        _ => report.check(
            "refresh with 1M accounts = with 1k",
            "full run only".into(),
            None,
        ),
    }
    report.check(
        "server RSS idle < 32 MiB",
        format!("{:.1} MiB", mib(idle.rss)),
        Some(idle.rss < 32 << 20),
    );
    // The log_n 10 process's hash buffers: cores × 128 × r × N bytes.
    let buffers = cores as u64 * 128 * 8 * (1 << 10);
    report.check(
        "server peak RSS under mixed < 64 MiB + the hash pool's scrypt buffers",
        format!(
            "{:.1} MiB (limit {:.1} MiB at log_n 10)",
            mib(after_mixed.hwm),
            mib((64 << 20) + buffers)
        ),
        Some(after_mixed.hwm < (64 << 20) + buffers),
    );
    let per_account = report
        .facts
        .iter()
        .find(|(k, _, _)| k == "redis_bytes_per_account_1m")
        .and_then(|(_, _, v)| v.as_f64())
        .unwrap_or(per_account_10k);
    report.check(
        "Redis memory per account with one session ≤ 1 KiB",
        format!(
            "{per_account:.0} bytes ({})",
            if quick { "10k accounts" } else { "1M accounts" }
        ),
        Some(per_account <= 1024.0),
    );
}
