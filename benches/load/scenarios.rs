//! The run: processes, baselines, fixtures, every scenario in
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
use std::time::Duration;

use edgeauth::auth::edge_cookie::EdgeCookieKeys;
use edgeauth::auth::refresh::RefreshKeys;
use edgeauth::dev::RedisServer;
use redis::aio::MultiplexedConnection;
use serde_json::json;

use crate::Options;
use crate::client::{Job, LoadResult, Window, run_load};
use crate::fixtures::{self, Template};
use crate::jobs::{self, Chains, Fixed, Login, Mix, Refresh, Register, VerifyCookies, VerifyMany};
use crate::probe::{self, Usage, Watch};
use crate::procs::{self, EdgeauthSpec, Memory, Proc, TempDir};
use crate::report::{Report, mib};

/// What runs, for how long, with how many connections.
struct Plan {
    quick: bool,
    /// Connections of the HTTP loads (and tasks of the EVALSHA baseline).
    conns: usize,
    /// The hash pool's size (edgeauth's default: one per core).
    cores: usize,
    warmup: Duration,
    duration: Duration,
    /// `login (log_n 17)`: a few hashes per second at most.
    slow_warmup: Duration,
    slow_duration: Duration,
}

impl Plan {
    fn new(options: &Options) -> Plan {
        let (warmup, duration, slow_warmup, slow_duration) = if options.quick {
            (300, 1000, 300, 600)
        } else {
            (2000, 10_000, 2000, 10_000)
        };
        Plan {
            quick: options.quick,
            conns: options.connections,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            warmup: Duration::from_millis(warmup),
            duration: Duration::from_millis(duration),
            slow_warmup: Duration::from_millis(slow_warmup),
            slow_duration: Duration::from_millis(slow_duration),
        }
    }

    fn window(&self) -> Window {
        Window::starting_now(self.warmup, self.duration)
    }

    /// How long raw scrypt runs before a login scenario.
    fn scrypt(&self, log_n: u8) -> Duration {
        match (self.quick, log_n >= 17) {
            (true, _) => self.duration,
            (false, true) => self.slow_duration,
            (false, false) => self.duration / 2,
        }
    }

    /// Connections of `login (log_n 17)`: two per hashing thread keep the
    /// pool busy without a long queue.
    fn slow_conns(&self) -> usize {
        self.cores * 2
    }
}

/// Which server a load goes to.
#[derive(Clone, Copy)]
enum Target {
    /// edgeauth at scrypt log_n 10.
    Fast,
    /// edgeauth at scrypt log_n 17.
    Slow,
    Hello,
}

/// The processes of a run.
struct Cluster {
    redis: RedisServer,
    fast: Proc,
    slow: Proc,
    hello: Proc,
    fast_addr: SocketAddr,
    slow_addr: SocketAddr,
    hello_addr: SocketAddr,
    /// A shared connection to the run's Redis (fixtures, probes, baseline).
    conn: MultiplexedConnection,
    /// The data key's refresh-token keys (to mint cloned sessions' tokens).
    refresh_keys: RefreshKeys,
    /// The data key's edge-cookie keys (to mint cloned edge sessions' cookies).
    edge_keys: EdgeCookieKeys,
}

/// Rate limits far above anything a run sends.
const UNLIMITED: &str = "1000000000/1h";

impl Cluster {
    async fn start(dir: &TempDir) -> Result<Cluster, String> {
        step("starting redis-server, two edgeauth processes and the hello server");
        let signing = edgeauth::auth::jwt::generate_pkcs8_pem().expect("signing key");
        let data_key = edgeauth::auth::data_keys::generate_data_key_base64().expect("data key");
        let jwt_file = dir.write("signing.pem", &signing);
        let data_file = dir.write("data.key", &data_key);
        let redis = procs::start_redis(&dir.path);
        let redis_url = redis.url();
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
            rate_limit: UNLIMITED,
        };
        let (fast, fast_addr) = procs::start_edgeauth(dir, &spec("edgeauth-log10", 10)).await;
        let (slow, slow_addr) = procs::start_edgeauth(dir, &spec("edgeauth-log17", 17)).await;
        let (hello, hello_addr) = procs::start_hello().await;
        Ok(Cluster {
            redis,
            fast,
            slow,
            hello,
            fast_addr,
            slow_addr,
            hello_addr,
            conn,
            refresh_keys: fixtures::refresh_keys(&data_key),
            edge_keys: fixtures::edge_cookie_keys(&data_key),
        })
    }

    fn target(&self, target: Target) -> (SocketAddr, u32) {
        match target {
            Target::Fast => (self.fast_addr, self.fast.pid()),
            Target::Slow => (self.slow_addr, self.slow.pid()),
            Target::Hello => (self.hello_addr, self.hello.pid()),
        }
    }

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

    /// An HTTP load on `target` through `window`, watched.
    async fn load(
        &self,
        target: Target,
        conns: usize,
        window: Window,
        kinds: &[&str],
        make: impl Fn(usize) -> Box<dyn Job>,
    ) -> LoadResult {
        let (addr, pid) = self.target(target);
        let probe = self.probe(Some(pid), window);
        let mut result = run_load(addr, conns, window, kinds, make).await;
        result.usage = Some(probe.await.expect("probe"));
        result
    }

    /// A single-kind scenario with the plan's connections and window: one
    /// row named `name`. Err when a process died meanwhile.
    async fn scenario(
        &mut self,
        report: &mut Report,
        plan: &Plan,
        name: &str,
        target: Target,
        make: impl Fn(usize) -> Box<dyn Job>,
    ) -> Result<LoadResult, String> {
        step(name);
        let result = self
            .load(target, plan.conns, plan.window(), &[name], make)
            .await;
        report.add(name, plan.conns, &result, &result.kinds[0], true);
        self.alive()?;
        Ok(result)
    }

    /// Err when any process died.
    fn alive(&mut self) -> Result<(), String> {
        if let Some(status) = self.redis.exited() {
            return Err(format!("redis-server exited ({status})"));
        }
        self.fast.check_alive()?;
        self.slow.check_alive()?;
        self.hello.check_alive()
    }
}

/// Figures the target checks need besides the table's rows.
#[derive(Default)]
struct Measured {
    idle: Memory,
    after_mixed: Memory,
    scrypt10: f64,
    scrypt17: f64,
    redis_bytes_per_account: f64,
    accounts_measured: &'static str,
}

/// The whole run; its exit code.
pub async fn run(options: Options) -> ExitCode {
    let started = edgeauth::clock::instant();
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
    report.write_json(&target_dir().join("load-bench.json"));
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
    let plan = Plan::new(options);
    let mut c = Cluster::start(dir).await?;
    report.notes.push(format!(
        "edgeauth: release build, default `info` log level, stdout (one JSON line per request) \
         to a file in the run's temp dir (`--keep-logs` keeps it); rate limits raised to \
         {UNLIMITED}; EDGEAUTH_AUTO_ACTIVATE=true; hash pool = {} (default: cores). `fast` runs \
         at scrypt log_n 10, `slow` at the default 17. Raw scrypt runs right before the login \
         scenario it is compared with.",
        plan.cores
    ));
    let mut m = Measured {
        idle: c.fast.memory(),
        ..Measured::default()
    };
    report.fact(
        "server_rss_idle_bytes",
        format!(
            "Server RSS idle: {:.1} MiB (peak {:.1} MiB); the log_n 17 process {:.1} MiB.",
            mib(m.idle.rss),
            mib(m.idle.hwm),
            mib(c.slow.memory().rss)
        ),
        json!({ "rss": m.idle.rss, "hwm": m.idle.hwm }),
    );

    baselines(&mut c, &plan, report).await?;
    let mut f = Fixtures::make(&mut c, &plan, report, &mut m).await?;
    fast_scenarios(&mut c, &mut f, &plan, report, &mut m).await?;
    // The machine's other work comes and goes: a second hello measurement;
    // the better of the two is the reference.
    hello(&mut c, &plan, "baseline: hello (bare hyper), again", report).await?;
    slow_scenarios(&mut c, &mut f, &plan, report, &mut m).await?;
    if !plan.quick {
        accounts_1k_vs_1m(&mut c, &f, &plan, report, &mut m).await?;
    }
    checks(report, &plan, &m);
    Ok(())
}

/// Raw EVALSHA on the run's Redis, then the hello server.
async fn baselines(c: &mut Cluster, plan: &Plan, report: &mut Report) -> Result<(), String> {
    step("baseline: EVALSHA");
    let window = plan.window();
    let probe = c.probe(None, window);
    let mut result = crate::baselines::evalsha(&c.conn, plan.conns, window).await;
    result.usage = Some(probe.await.expect("probe"));
    report.add(
        "baseline: EVALSHA (HGET+HSET+EXPIRE), shared multiplexed conn",
        plan.conns,
        &result,
        &result.kinds[0],
        true,
    );
    hello(c, plan, "baseline: hello (bare hyper)", report).await
}

/// The hello baseline: `GET /` on the bare hyper server.
async fn hello(
    c: &mut Cluster,
    plan: &Plan,
    name: &str,
    report: &mut Report,
) -> Result<(), String> {
    let result = c
        .scenario(report, plan, name, Target::Hello, |_| {
            Box::new(Fixed {
                path: "/",
                bearer: None,
                expect: 200,
            })
        })
        .await?;
    report.set_hello(result.rate(&result.kinds[0]));
    Ok(())
}

fn scrypt_row(log_n: u8, threads: usize) -> String {
    format!("baseline: raw scrypt, log_n {log_n} (hashes/s, {threads} threads)")
}

/// Raw scrypt at `log_n` on as many threads as the hash pool has, measured
/// right before the login scenario it is compared with (this machine's
/// load drifts); a row of the table. Returns hashes/s.
async fn raw_scrypt(c: &Cluster, plan: &Plan, log_n: u8, report: &mut Report) -> f64 {
    step(&format!("baseline: raw scrypt at log_n {log_n}"));
    let (threads, duration) = (plan.cores, plan.scrypt(log_n));
    let window = Window::starting_now(Duration::ZERO, duration);
    let probe = c.probe(None, window);
    let (rate, stats) =
        tokio::task::spawn_blocking(move || crate::baselines::scrypt(log_n, threads, duration))
            .await
            .expect("scrypt");
    let usage = probe.await.expect("probe");
    report.push(
        &scrypt_row(log_n, threads),
        threads,
        rate,
        &stats,
        Some((&usage, stats.total())),
    );
    report.fact(
        &format!("scrypt_log_n_{log_n}_hashes_per_s"),
        format!("Raw scrypt (r=8, p=1) at log_n {log_n}, {threads} threads: {rate:.2} hashes/s."),
        json!(rate),
    );
    rate
}

/// Accounts, tokens and session chains the scenarios use.
struct Fixtures {
    template: Arc<Template>,
    /// JWTs of 10k distinct (cloned) sessions.
    tokens: Arc<Vec<String>>,
    /// Edge session cookies (`name=value`) of the same 10k sessions.
    cookies: Arc<Vec<String>>,
    /// Accounts at log_n 10 (one per connection) for login and mixed.
    login_emails: Vec<String>,
    /// Accounts hashed at log_n 17 for the slow process's logins.
    slow_emails: Vec<String>,
    /// Distinguishes the emails of this run's registrations.
    run_id: String,
    chains_made: usize,
}

impl Fixtures {
    async fn make(
        c: &mut Cluster,
        plan: &Plan,
        report: &mut Report,
        m: &mut Measured,
    ) -> Result<Fixtures, String> {
        step("fixtures: template account, login accounts, 10k cloned sessions");
        let template = Arc::new(
            Template::capture(
                c.fast_addr,
                &mut c.conn,
                &c.refresh_keys,
                "template@bench.example",
            )
            .await,
        );
        report.fact(
            "template_layout",
            format!(
                "Keys of one account with one session (cloned for 10k sessions and 1M \
                 accounts): {}.",
                template.layout().join("; ")
            ),
            json!(template.layout()),
        );
        let login_emails: Vec<String> = (0..plan.conns)
            .map(|i| format!("login-{i}@bench.example"))
            .collect();
        fixtures::register(c.fast_addr, &login_emails).await;
        // Hashed at log_n 17 by the slow process, so its logins need no rehash.
        let slow_emails: Vec<String> = (0..plan.slow_conns())
            .map(|i| format!("login17-{i}@bench.example"))
            .collect();
        fixtures::register(c.slow_addr, &slow_emails).await;

        let before = fixtures::used_memory(&mut c.conn).await;
        let sessions = template.clone_into(&c.conn, "verify", 10_000).await;
        let after = fixtures::used_memory(&mut c.conn).await;
        m.redis_bytes_per_account = (after - before) as f64 / sessions.len() as f64;
        m.accounts_measured = "10k cloned accounts";
        report.fact(
            "redis_bytes_per_account_10k",
            format!(
                "Redis used_memory per account with one session: {:.0} bytes (10k cloned \
                 accounts).",
                m.redis_bytes_per_account
            ),
            json!(m.redis_bytes_per_account),
        );
        // One refresh each: the server issues their JWTs (and proves the clones work).
        let minted = sessions
            .iter()
            .map(|s| fixtures::mint(&c.refresh_keys, s.account, s.family))
            .collect();
        let first = fixtures::refresh(c.fast_addr, minted).await;
        let now_ms = edgeauth::clock::now_ms();
        let cookies = template
            .edge_cookies(&c.conn, &c.edge_keys, &sessions, now_ms)
            .await;
        c.alive()?;
        Ok(Fixtures {
            template,
            tokens: Arc::new(first.into_iter().map(|(jwt, _)| jwt).collect()),
            cookies: Arc::new(cookies),
            login_emails,
            slow_emails,
            run_id: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
            chains_made: 0,
        })
    }

    /// One refresh chain per connection, each on a cloned session of its own.
    async fn chains(&mut self, c: &Cluster, n: usize) -> Chains {
        self.chains_made += 1;
        let tag = format!("chain{}", self.chains_made);
        let cloned = self.template.clone_into(&c.conn, &tag, n).await;
        jobs::chains(
            cloned
                .iter()
                .map(|s| fixtures::mint(&c.refresh_keys, s.account, s.family))
                .collect(),
        )
    }

    fn login(&self, connection: usize) -> Box<dyn Job> {
        Box::new(Login::new(
            &self.login_emails[connection % self.login_emails.len()],
        ))
    }

    fn slow_login(&self, connection: usize) -> Box<dyn Job> {
        Box::new(Login::new(
            &self.slow_emails[connection % self.slow_emails.len()],
        ))
    }

    fn register(&self, what: &str, connection: usize) -> Box<dyn Job> {
        Box::new(Register {
            prefix: format!("{what}-{}-{connection}", self.run_id),
            n: 0,
        })
    }

    fn verify_cookies(&self, n: usize, connection: usize, connections: usize) -> Box<dyn Job> {
        let cookies = Arc::new(self.cookies[..n.min(self.cookies.len())].to_vec());
        Box::new(VerifyCookies::new(cookies, connection, connections))
    }

    fn verify_many(&self, connection: usize, connections: usize) -> Box<dyn Job> {
        Box::new(VerifyMany::new(
            self.tokens.clone(),
            connection,
            connections,
        ))
    }
}

/// Everything on the log_n 10 process: healthz, jwks, verify, refresh,
/// login, register, mixed.
async fn fast_scenarios(
    c: &mut Cluster,
    f: &mut Fixtures,
    plan: &Plan,
    report: &mut Report,
    m: &mut Measured,
) -> Result<(), String> {
    let conns = plan.conns;
    let one_token: Arc<str> = f.tokens[0].as_str().into();
    for (name, path, bearer) in [
        ("healthz", "/healthz", None),
        ("jwks", "/.well-known/jwks.json", None),
        ("verify (one token)", "/auth/verify", Some(one_token)),
    ] {
        c.scenario(report, plan, name, Target::Fast, |_| {
            Box::new(Fixed {
                path,
                bearer: bearer.clone(),
                expect: 200,
            })
        })
        .await?;
    }
    c.scenario(report, plan, "verify (10k tokens)", Target::Fast, |i| {
        f.verify_many(i, conns)
    })
    .await?;
    c.scenario(report, plan, "verify (one cookie)", Target::Fast, |i| {
        f.verify_cookies(1, i, conns)
    })
    .await?;
    c.scenario(report, plan, "verify (10k cookies)", Target::Fast, |i| {
        f.verify_cookies(10_000, i, conns)
    })
    .await?;
    c.scenario(report, plan, "sign-in page", Target::Fast, |_| {
        Box::new(Fixed {
            path: "/auth/ui/login",
            bearer: None,
            expect: 200,
        })
    })
    .await?;

    let chains = f.chains(c, conns).await;
    c.scenario(report, plan, "refresh", Target::Fast, |i| {
        Box::new(Refresh::new(&chains, i, conns))
    })
    .await?;

    m.scrypt10 = raw_scrypt(c, plan, 10, report).await;
    c.scenario(report, plan, "login (log_n 10)", Target::Fast, |i| {
        f.login(i)
    })
    .await?;
    c.scenario(report, plan, "register (log_n 10)", Target::Fast, |i| {
        f.register("reg", i)
    })
    .await?;

    step("mixed");
    let chains = f.chains(c, conns).await;
    let kinds = ["verify", "refresh", "login", "register"];
    let result = c
        .load(Target::Fast, conns, plan.window(), &kinds, |i| {
            let parts: Vec<(u32, Box<dyn Job>)> = vec![
                (80, f.verify_many(i, conns)),
                (15, Box::new(Refresh::new(&chains, i, conns))),
                (4, f.login(i)),
                (1, f.register("mixed", i)),
            ];
            Box::new(Mix::new(parts, i as u64 + 1))
        })
        .await;
    let name = "mixed (80/15/4/1, log_n 10)";
    report.add(name, conns, &result, &result.overall(), true);
    for k in &result.kinds {
        report.add(&format!("mixed · {}", k.name), conns, &result, k, false);
    }
    m.after_mixed = c.fast.memory();
    report.fact(
        "server_rss_after_mixed_bytes",
        format!(
            "Server peak RSS (VmHWM) after mixed: {:.1} MiB (RSS now {:.1} MiB).",
            mib(m.after_mixed.hwm),
            mib(m.after_mixed.rss)
        ),
        json!({ "hwm": m.after_mixed.hwm, "rss": m.after_mixed.rss }),
    );
    c.alive()
}

/// Everything on the log_n 17 process: login at the default cost, and
/// verify + refresh with and without a login flood.
async fn slow_scenarios(
    c: &mut Cluster,
    f: &mut Fixtures,
    plan: &Plan,
    report: &mut Report,
    m: &mut Measured,
) -> Result<(), String> {
    let conns = plan.conns;
    m.scrypt17 = raw_scrypt(c, plan, 17, report).await;
    step("login (log_n 17)");
    let window = Window::starting_now(plan.slow_warmup, plan.slow_duration);
    let result = c
        .load(Target::Slow, plan.slow_conns(), window, &["login"], |i| {
            f.slow_login(i)
        })
        .await;
    let name = "login (log_n 17)";
    report.add(name, plan.slow_conns(), &result, &result.kinds[0], true);
    c.alive()?;

    let chains = f.chains(c, conns).await;
    let kinds = ["verify", "refresh"];
    let job = |i: usize| -> Box<dyn Job> {
        let parts: Vec<(u32, Box<dyn Job>)> = vec![
            (50, f.verify_many(i, conns)),
            (50, Box::new(Refresh::new(&chains, i, conns))),
        ];
        Box::new(Mix::new(parts, i as u64 + 7))
    };
    step("isolation: verify + refresh without a login flood");
    let base = c
        .load(Target::Slow, conns, plan.window(), &kinds, &job)
        .await;
    for k in &base.kinds {
        let name = format!("isolation, no flood · {}", k.name);
        report.add(&name, conns, &base, k, false);
    }
    c.alive()?;

    step("isolation: verify + refresh during a login flood (log_n 17)");
    let flood_conns = plan.slow_conns() * 2;
    let window = plan.window();
    let (flooded, flood) = tokio::join!(
        c.load(Target::Slow, conns, window, &kinds, &job),
        run_load(c.slow_addr, flood_conns, window, &["login"], |i| {
            f.slow_login(i)
        }),
    );
    for k in &flooded.kinds {
        let name = format!("isolation, login flood · {}", k.name);
        report.add(&name, conns, &flooded, k, false);
    }
    let name = "isolation, the flood · login (log_n 17)";
    report.add(name, flood_conns, &flood, &flood.kinds[0], false);
    let slow = c.slow.memory();
    report.fact(
        "slow_server_rss_bytes",
        format!(
            "The log_n 17 process: peak RSS {:.1} MiB after its login scenarios \
             ({} × 128 MiB scrypt buffers at most).",
            mib(slow.hwm),
            plan.cores
        ),
        json!({ "hwm": slow.hwm }),
    );
    c.alive()
}

/// Refresh with 1k accounts in Redis, then with 1M: Redis is emptied, 1k
/// accounts are registered and logged in through the API, refresh runs over
/// their 1k chains; 999k cloned accounts are added and the same chains run
/// again.
async fn accounts_1k_vs_1m(
    c: &mut Cluster,
    f: &Fixtures,
    plan: &Plan,
    report: &mut Report,
    m: &mut Measured,
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
    let per_account = (after - before) as f64 / emails.len() as f64;
    report.fact(
        "redis_bytes_per_account_api",
        format!(
            "Redis used_memory per account through the API (register + login; includes the \
             per-email rate counter and the events stream entry): {per_account:.0} bytes."
        ),
        json!(per_account),
    );
    let chains: Chains = jobs::chains(sessions.into_iter().map(|(_, r)| r).collect());
    let conns = plan.conns;
    c.scenario(report, plan, "refresh, 1k accounts", Target::Fast, |i| {
        Box::new(Refresh::new(&chains, i, conns))
    })
    .await?;

    step("filling Redis to 1M accounts (cloned)");
    let before = fixtures::used_memory(&mut c.conn).await;
    let fill_started = edgeauth::clock::instant();
    let filled = f.template.clone_into(&c.conn, "fill", 999_000).await;
    let after = fixtures::used_memory(&mut c.conn).await;
    m.redis_bytes_per_account = (after - before) as f64 / filled.len() as f64;
    m.accounts_measured = "999k cloned accounts";
    let keys = fixtures::dbsize(&mut c.conn).await;
    report.fact(
        "redis_bytes_per_account_1m",
        format!(
            "Redis used_memory per account with one session: {:.0} bytes (999k cloned \
             accounts, {keys} keys in all, filled in {:.0} s).",
            m.redis_bytes_per_account,
            fill_started.elapsed().as_secs_f64()
        ),
        json!(m.redis_bytes_per_account),
    );
    // A sample of the clones must work like real sessions.
    let sample: Vec<String> = filled
        .iter()
        .step_by(filled.len() / 100)
        .map(|s| fixtures::mint(&c.refresh_keys, s.account, s.family))
        .collect();
    fixtures::refresh(c.fast_addr, sample).await;
    drop(filled);

    c.scenario(report, plan, "refresh, 1M accounts", Target::Fast, |i| {
        Box::new(Refresh::new(&chains, i, conns))
    })
    .await?;
    Ok(())
}

/// The performance targets (BENCHMARKS.md), on this run's figures.
fn checks(report: &mut Report, plan: &Plan, m: &Measured) {
    let hello = report.hello_rate.unwrap_or(0.0);
    let ratio = |report: &Report, name: &str| {
        report.row(name).map_or((0.0, 0.0, 0.0), |r| {
            (r.rate, r.rate / hello.max(1e-9), r.p99_ms)
        })
    };
    let (rate, x, p99) = ratio(report, "refresh");
    let noise = report.noise(&["refresh", "hello"]);
    report.check(
        "refresh ≥ 0.15 × hello, p99 ≤ 10 ms",
        format!("{x:.3} × ({rate:.0} vs {hello:.0} req/s), p99 {p99:.2} ms{noise}"),
        Some(x >= 0.15 && p99 <= 10.0),
    );
    for (name, target, min) in [
        ("verify (one token)", "verify, one token ≥ 0.5 × hello", 0.5),
        (
            "verify (10k tokens)",
            "verify, 10k distinct tokens ≥ 0.2 × hello",
            0.2,
        ),
        (
            "verify (one cookie)",
            "verify, one cookie ≥ 0.5 × hello",
            0.5,
        ),
        (
            "verify (10k cookies)",
            "verify, 10k distinct cookies ≥ 0.2 × hello",
            0.2,
        ),
        ("sign-in page", "sign-in page GET ≥ 0.3 × hello", 0.3),
        ("healthz", "healthz ≥ 0.9 × hello", 0.9),
    ] {
        let (rate, x, _) = ratio(report, name);
        let noise = report.noise(&[name, "hello"]);
        report.check(
            target,
            format!("{x:.3} × ({rate:.0} req/s){noise}"),
            Some(x >= min),
        );
    }
    for (name, raw, log_n) in [
        ("login (log_n 17)", m.scrypt17, 17),
        ("login (log_n 10)", m.scrypt10, 10),
    ] {
        let (rate, _, _) = ratio(report, name);
        let x = rate / raw.max(1e-9);
        report.fact(
            &format!("login_log_n_{log_n}_ratio_to_scrypt"),
            format!("{name}: {rate:.2} logins/s = {x:.2} × raw scrypt ({raw:.2} hashes/s)."),
            json!(x),
        );
        let noise = report.noise(&[name, &scrypt_row(log_n, plan.cores)]);
        report.check(
            &format!("{name} ≥ 0.9 × raw scrypt at log_n {log_n}"),
            format!("{x:.2} × ({rate:.2} logins/s vs {raw:.2} hashes/s){noise}"),
            Some(x >= 0.9),
        );
    }
    for kind in ["verify", "refresh"] {
        let (without, with) = (
            format!("isolation, no flood · {kind}"),
            format!("isolation, login flood · {kind}"),
        );
        let base = report.row(&without).map_or(0.0, |r| r.p99_ms);
        let flooded = report.row(&with).map_or(0.0, |r| r.p99_ms);
        let noise = report.noise(&[&without, &with]);
        report.check(
            &format!("isolation: {kind} p99 during a login flood ≤ 2 × without"),
            format!(
                "{:.2} × ({flooded:.2} ms vs {base:.2} ms){noise}",
                flooded / base.max(1e-9)
            ),
            Some(flooded <= 2.0 * base),
        );
    }
    let (small, large) = ("refresh, 1k accounts", "refresh, 1M accounts");
    match (report.row(small), report.row(large)) {
        (Some(s), Some(l)) => {
            let x = l.rate / s.rate.max(1e-9);
            let measured = format!("{x:.2} × ({:.0} vs {:.0} req/s)", l.rate, s.rate);
            let noise = report.noise(&[small, large]);
            report.check(
                "refresh with 1M accounts = with 1k (within noise: ≥ 0.85 ×)",
                format!("{measured}{noise}"),
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
        format!("{:.1} MiB", mib(m.idle.rss)),
        Some(m.idle.rss < 32 << 20),
    );
    // The log_n 10 process's hash buffers: cores × 128 × r × N bytes.
    let limit = (64 << 20) + plan.cores as u64 * 128 * 8 * (1 << 10);
    report.check(
        "server peak RSS under mixed < 64 MiB + the hash pool's scrypt buffers",
        format!(
            "{:.1} MiB (limit {:.1} MiB at log_n 10)",
            mib(m.after_mixed.hwm),
            mib(limit)
        ),
        Some(m.after_mixed.hwm < limit),
    );
    report.check(
        "Redis memory per account with one session ≤ 1 KiB",
        format!(
            "{:.0} bytes ({})",
            m.redis_bytes_per_account, m.accounts_measured
        ),
        Some(m.redis_bytes_per_account <= 1024.0),
    );
}
