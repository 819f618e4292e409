//! The load benchmark: one command that starts a throwaway
//! `redis-server`, two edgeauth processes (release build; scrypt log_n 10 and
//! the default 17), a bare hyper "OK" server and the raw baselines (EVALSHA,
//! scrypt), then drives every scenario with a closed-loop HTTP/1.1 client and
//! prints a Markdown table plus the issue's target checks.
//!
//! ```sh
//! cargo bench --bench load               # full: ~10 s per scenario, 1k vs 1M accounts
//! cargo bench --bench load -- --quick    # CI smoke run: ~1 s per scenario, under a minute
//! ```
//!
//! Options (after `--`): `--quick`, `--connections N` (default 64),
//! `--json PATH` (also written to `target/load-bench.json`), `--keep-logs`
//! (keep the servers' stdout logs and print where they are).
//!
//! Layout (`benches/load/`): `main.rs` (options), `procs.rs` (child
//! processes, /proc readings), `hello.rs` (the hello baseline server, run by
//! re-executing this binary), `client.rs` (the load generator), `jobs.rs`
//! (what each connection sends), `fixtures.rs` (accounts and sessions),
//! `baselines.rs` (EVALSHA, scrypt), `probe.rs` (CPU and Redis
//! commands during a window), `scenarios.rs` (the run), `report.rs`
//! (table, checks, JSON).

// A benchmark whose setup fails should stop loudly, like a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod baselines;
mod client;
mod fixtures;
mod hello;
mod jobs;
mod probe;
mod procs;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;

/// Command-line options of the benchmark.
#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    pub connections: usize,
    pub json: Option<PathBuf>,
    pub keep_logs: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        connections: 64,
        json: None,
        keep_logs: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--keep-logs" => options.keep_logs = true,
            "--connections" => {
                options.connections = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--connections needs a positive number")?;
            }
            "--json" => options.json = Some(args.next().ok_or("--json needs a path")?.into()),
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    // The hello baseline: this same binary, re-executed as a server.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-hello") {
        let port = args.get(i + 1).and_then(|p| p.parse().ok()).expect("port");
        hello::serve(port);
        return ExitCode::SUCCESS;
    }
    // `cargo test --all-targets` runs bench binaries too, without `--bench`:
    // a debug-build load run there would measure nothing useful and take
    // minutes. `cargo bench` (which passes `--bench`) is how this runs.
    if !args.iter().any(|a| a == "--bench") {
        println!("load: skipped outside `cargo bench --bench load` (see BENCHMARKS.md)");
        return ExitCode::SUCCESS;
    }
    let options = match parse_args() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("load: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(scenarios::run(options))
}
