//! The results: one row per scenario (and per request kind of the mixed
//! ones), facts (baselines, memory), and the target checks; printed
//! as Markdown and written as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::client::{KindStats, LoadResult};
use crate::probe::Usage;

pub struct Row {
    pub scenario: String,
    pub connections: usize,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub requests: u64,
    pub errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
    /// CPU time of the server under test per request, µs.
    pub server_cpu_us: Option<f64>,
    /// CPU time of redis-server per request, µs.
    pub redis_cpu_us: Option<f64>,
    /// CPU time of the load generator (this process) per request, µs.
    pub client_cpu_us: Option<f64>,
    /// Redis commands per request, by name.
    pub redis_calls: BTreeMap<String, f64>,
    /// Share of the cores busy with work not of this run, %.
    pub other_pct: Option<f64>,
}

impl Row {
    pub fn redis_cmds(&self) -> Option<f64> {
        (!self.redis_calls.is_empty()).then(|| self.redis_calls.values().sum())
    }
}

/// A target of the issue, checked on this run's figures.
pub struct Check {
    pub target: String,
    pub measured: String,
    /// None: not measured in this mode.
    pub pass: Option<bool>,
}

pub struct Report {
    pub mode: &'static str,
    pub rows: Vec<Row>,
    /// Named figures (baselines, memory) for the text and the JSON.
    pub facts: Vec<(String, String, Value)>,
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
    /// The hello baseline's rate: the best of its measurements (the least
    /// disturbed by other work on the machine), so ratios err low.
    pub hello_rate: Option<f64>,
}

impl Report {
    pub fn new(quick: bool) -> Report {
        Report {
            mode: if quick { "quick" } else { "full" },
            rows: Vec::new(),
            facts: Vec::new(),
            checks: Vec::new(),
            notes: Vec::new(),
            hello_rate: None,
        }
    }

    pub fn set_hello(&mut self, rate: f64) {
        self.hello_rate = Some(self.hello_rate.map_or(rate, |h| h.max(rate)));
    }

    /// The row's rate over hello's; none for the non-HTTP baselines.
    pub fn hello_ratio(&self, row: &Row) -> Option<f64> {
        let http = !(row.scenario.starts_with("baseline: EVALSHA")
            || row.scenario.starts_with("baseline: raw scrypt"));
        self.hello_rate.filter(|_| http).map(|h| row.rate / h)
    }

    /// Adds a row for `stats`: one kind of `result`, or (`whole`) its
    /// overall figure, which also gets the per-request costs.
    pub fn add(
        &mut self,
        scenario: &str,
        connections: usize,
        result: &LoadResult,
        stats: &KindStats,
        whole: bool,
    ) {
        let requests = result.overall().total();
        let usage = result.usage.as_ref().filter(|_| whole);
        self.push(
            scenario,
            connections,
            result.rate(stats),
            stats,
            usage.map(|u| (u, requests)),
        );
        // A kind's row has no per-request costs, but its load was disturbed
        // or not like the whole.
        if let (Some(u), Some(row)) = (&result.usage, self.rows.last_mut()) {
            row.other_pct = Some(u.other_share * 100.0);
        }
    }

    /// Adds a row with its rate given; `usage` is what the machine did
    /// while `requests` requests (in all) were served.
    pub fn push(
        &mut self,
        scenario: &str,
        connections: usize,
        rate: f64,
        stats: &KindStats,
        usage: Option<(&Usage, u64)>,
    ) {
        let per_request = usage.map(|(u, n)| (u, n.max(1) as f64));
        let us = |d: std::time::Duration, n: f64| d.as_secs_f64() * 1e6 / n;
        self.rows.push(Row {
            scenario: scenario.to_owned(),
            connections,
            rate,
            p50_ms: stats.quantile_ms(0.5),
            p99_ms: stats.quantile_ms(0.99),
            p999_ms: stats.quantile_ms(0.999),
            requests: stats.total(),
            errors: stats.errors,
            error_kinds: stats.error_kinds.clone(),
            server_cpu_us: per_request.and_then(|(u, n)| u.server.map(|d| us(d, n))),
            redis_cpu_us: per_request.map(|(u, n)| us(u.redis, n)),
            client_cpu_us: per_request.map(|(u, n)| us(u.own, n)),
            redis_calls: per_request
                .map(|(u, n)| {
                    u.redis_calls
                        .iter()
                        .map(|(k, c)| (k.clone(), *c as f64 / n))
                        .collect()
                })
                .unwrap_or_default(),
            other_pct: per_request.map(|(u, _)| u.other_share * 100.0),
        });
    }

    pub fn row(&self, scenario: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.scenario == scenario)
    }

    /// " (noisy: …)" when other work on the machine took more than 10 % of
    /// the cores while any of these rows was measured ("hello": the hello
    /// measurement used as the reference), else "".
    pub fn noise(&self, scenarios: &[&str]) -> String {
        let hello = self
            .rows
            .iter()
            .filter(|r| r.scenario.starts_with("baseline: hello"))
            .max_by(|a, b| a.rate.total_cmp(&b.rate));
        let loads: Vec<String> = scenarios
            .iter()
            .filter_map(|name| match *name {
                "hello" => hello,
                name => self.row(name),
            })
            .filter_map(|r| r.other_pct.map(|o| (r, o)))
            .filter(|(_, o)| *o > 10.0)
            .map(|(_, o)| format!("{o:.0} %"))
            .collect();
        if loads.is_empty() {
            String::new()
        } else {
            format!(
                " (noisy: other work took {} of the cores)",
                loads.join(" and ")
            )
        }
    }

    pub fn fact(&mut self, key: &str, text: String, value: Value) {
        self.facts.push((key.to_owned(), text, value));
    }

    pub fn check(&mut self, target: &str, measured: String, pass: Option<bool>) {
        self.checks.push(Check {
            target: target.to_owned(),
            measured,
            pass,
        });
    }

    pub fn errors(&self) -> u64 {
        self.rows.iter().map(|r| r.errors).sum()
    }

    pub fn missed(&self) -> usize {
        self.checks.iter().filter(|c| c.pass == Some(false)).count()
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## edgeauth load benchmark ({} run)\n\n{}\n",
            self.mode,
            machine()
        );
        out.push_str(
            "| scenario | conns | req/s | × hello | p50 ms | p99 ms | p99.9 ms | errors \
             | server CPU µs/req | Redis CPU µs/req | Redis cmds/req | client CPU µs/req | other load % |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let opt =
            |v: Option<f64>, digits: usize| v.map_or("–".to_owned(), |v| format!("{v:.digits$}"));
        for r in &self.rows {
            let errors = if r.errors == 0 {
                "0".to_owned()
            } else {
                let kinds: Vec<String> = r
                    .error_kinds
                    .iter()
                    .map(|(k, n)| format!("{n}× {k}"))
                    .collect();
                format!("**{}** ({})", r.errors, kinds.join(", "))
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} |",
                r.scenario,
                r.connections,
                rate(r.rate),
                opt(self.hello_ratio(r), 3),
                r.p50_ms,
                r.p99_ms,
                r.p999_ms,
                errors,
                opt(r.server_cpu_us, 1),
                opt(r.redis_cpu_us, 1),
                opt(r.redis_cmds(), 2),
                opt(r.client_cpu_us, 1),
                opt(r.other_pct, 0),
            );
        }
        out.push_str(
            "\nRedis commands per request (INFO commandstats; commands run inside scripts count too):\n\n",
        );
        for r in self.rows.iter().filter(|r| !r.redis_calls.is_empty()) {
            let calls: Vec<String> = r
                .redis_calls
                .iter()
                .filter(|(_, n)| **n >= 0.005)
                .map(|(k, n)| format!("{k} {n:.2}"))
                .collect();
            let calls = if calls.is_empty() {
                "none".to_owned()
            } else {
                calls.join(", ")
            };
            let _ = writeln!(out, "- {}: {calls}", r.scenario);
        }
        out.push('\n');
        for (_, text, _) in &self.facts {
            let _ = writeln!(out, "- {text}");
        }
        out.push_str(
            "\n*other load %*: share of the cores busy with processes outside this run \
             (and steal) during the measured window. This machine is shared: a row above \
             ~10 % was disturbed, and ratios across such rows are unreliable.\n",
        );
        out.push_str("\n### Targets\n\n");
        for c in &self.checks {
            let verdict = match c.pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "SKIP",
            };
            let _ = writeln!(out, "- {verdict} {}: {}", c.target, c.measured);
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                let _ = writeln!(out, "{n}");
            }
        }
        out
    }

    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "scenario": r.scenario,
                    "connections": r.connections,
                    "requests_per_s": r.rate,
                    "ratio_to_hello": self.hello_ratio(r),
                    "p50_ms": r.p50_ms,
                    "p99_ms": r.p99_ms,
                    "p999_ms": r.p999_ms,
                    "requests": r.requests,
                    "errors": r.errors,
                    "error_kinds": r.error_kinds,
                    "server_cpu_us_per_request": r.server_cpu_us,
                    "redis_cpu_us_per_request": r.redis_cpu_us,
                    "client_cpu_us_per_request": r.client_cpu_us,
                    "redis_commands_per_request": r.redis_calls,
                    "other_load_pct": r.other_pct,
                })
            })
            .collect();
        let facts: serde_json::Map<String, Value> = self
            .facts
            .iter()
            .map(|(k, _, v)| (k.clone(), v.clone()))
            .collect();
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|c| json!({ "target": c.target, "measured": c.measured, "pass": c.pass }))
            .collect();
        json!({
            "mode": self.mode,
            "machine": machine(),
            "scenarios": rows,
            "facts": facts,
            "targets": checks,
        })
    }

    pub fn write_json(&self, path: &Path) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let text = serde_json::to_string_pretty(&self.json()).expect("json");
        match std::fs::write(path, text + "\n") {
            Ok(()) => println!("wrote {}", path.display()),
            Err(e) => eprintln!("load: cannot write {}: {e}", path.display()),
        }
    }
}

fn rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.2}")
    }
}

/// CPU model, cores and kernel, from /proc.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} × {model}, Linux {}; load generator, servers and Redis share these cores",
        kernel.trim()
    )
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
