//! What the machine did during a measured window: CPU time of the server
//! under test, of redis-server and of the load generator itself, how busy
//! the cores were with *other* work (this machine is shared: a row measured
//! while something else ran is noisy), and which Redis commands were called
//! (INFO commandstats).

use std::collections::BTreeMap;
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use crate::client::Window;
use crate::procs::cpu_of;

#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// CPU of the server under test (none for a Redis-only load).
    pub server: Option<Duration>,
    pub redis: Duration,
    /// The load generator (this process).
    pub own: Duration,
    /// Share of all cores busy with processes not of this run (and steal).
    pub other_share: f64,
    /// Redis commands called in the window, by name (INFO excluded).
    pub redis_calls: BTreeMap<String, u64>,
}

/// Which processes to watch.
#[derive(Debug, Clone)]
pub struct Watch {
    pub server: Option<u32>,
    pub redis: u32,
    /// Every process of this run (for "other").
    pub ours: Vec<u32>,
}

struct Snapshot {
    server: Duration,
    redis: Duration,
    own: Duration,
    ours: Duration,
    busy: u64,
    total: u64,
    calls: BTreeMap<String, u64>,
}

async fn snapshot(watch: &Watch, conn: &mut MultiplexedConnection) -> Snapshot {
    let (busy, total) = machine_ticks();
    let calls = commandstats(conn).await;
    Snapshot {
        server: watch.server.map(cpu_of).unwrap_or_default(),
        redis: cpu_of(watch.redis),
        own: cpu_of(std::process::id()),
        ours: watch.ours.iter().map(|p| cpu_of(*p)).sum::<Duration>() + cpu_of(std::process::id()),
        busy,
        total,
        calls,
    }
}

/// Watches `window` from a task of its own; the handle yields the usage.
pub fn spawn(
    watch: Watch,
    mut conn: MultiplexedConnection,
    window: Window,
) -> tokio::task::JoinHandle<Usage> {
    tokio::spawn(async move {
        tokio::time::sleep_until(window.measure_from.into()).await;
        let a = snapshot(&watch, &mut conn).await;
        tokio::time::sleep_until(window.until.into()).await;
        let b = snapshot(&watch, &mut conn).await;
        // /proc/stat counts in ticks of 10 ms, summed over every core.
        let busy = Duration::from_millis(b.busy.saturating_sub(a.busy) * 10);
        let total = Duration::from_millis(b.total.saturating_sub(a.total) * 10);
        let other = busy.saturating_sub(b.ours.saturating_sub(a.ours));
        let mut calls = BTreeMap::new();
        for (name, n) in &b.calls {
            let d = n.saturating_sub(a.calls.get(name).copied().unwrap_or(0));
            if d > 0 && name != "info" {
                calls.insert(name.clone(), d);
            }
        }
        Usage {
            server: watch.server.map(|_| b.server.saturating_sub(a.server)),
            redis: b.redis.saturating_sub(a.redis),
            own: b.own.saturating_sub(a.own),
            other_share: other.as_secs_f64() / total.as_secs_f64().max(1e-9),
            redis_calls: calls,
        }
    })
}

/// (busy, total) ticks of all cores from /proc/stat; steal counts as busy.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    (busy, busy + at(3) + at(4))
}

/// calls per command, from `cmdstat_<name>:calls=N,...` lines.
async fn commandstats(conn: &mut MultiplexedConnection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap_or_default();
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}
