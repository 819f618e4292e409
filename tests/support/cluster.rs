//! Redis Cluster for the tests: a local cluster of three masters and three replicas, and a
//! namespace per test on it.
//!
//! - [`Cluster::start`] starts six `redis-server --cluster-enabled yes` on free loopback ports
//!   (no persistence, node timeout 2 s), joins them with `redis-cli --cluster create …
//!   --cluster-replicas 1`, and waits until every node says `cluster_state:ok`. Dropping it kills
//!   the nodes. A watchdog shell kills them too if the test process dies without unwinding — and
//!   that is how [`Cluster::shared`] goes: one cluster per test binary, started on first use,
//!   living in a static that is never dropped, killed by its watchdog when the process exits.
//! - [`Namespace`]: one test's view of a cluster. The server gets a key prefix of its own
//!   (`t<random>:`), so tests sharing the cluster never see each other's keys or events. The
//!   tests, though, are written against a single Redis with the default prefix: they read
//!   `edgeauth:events`, `HGET edgeauth:{<id>}:account …`, `KEYS *` through a plain
//!   `redis::Connection`. So the namespace runs a small RESP proxy on a loopback port, and
//!   `support::Redis` (its `url`, `conn`, `events`, `dump` …) points at it: each command is
//!   forwarded through a cluster-aware client (routed by key; `KEYS` to every master, merged),
//!   with `edgeauth:` in arguments rewritten to the test's prefix, and back in replies. A `KEYS`
//!   pattern is confined to the prefix, so `KEYS *` lists exactly the test's keys.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use edgeauth::dev::RedisServer;
use redis::Value;

use super::TempDir;

/// The prefix the tests spell; the proxy swaps it for the namespace's.
const TEST_PREFIX: &[u8] = b"edgeauth:";

/// One `redis-server` of a cluster.
struct Node {
    port: u16,
    child: Option<RedisServer>,
}

/// A running local Redis Cluster (3 masters + 3 replicas).
pub struct Cluster {
    nodes: Mutex<Vec<Node>>,
    ports: Vec<u16>,
    watchdog: Option<Child>,
    dir: TempDir,
}

impl Cluster {
    /// The cluster shared by every test of this binary (see the module doc).
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(Cluster::start)
    }

    /// A cluster of its own (for tests that break it). Retries on a port race.
    pub fn start() -> Cluster {
        let mut last = String::new();
        for _ in 0..3 {
            match Cluster::try_start() {
                Ok(cluster) => return cluster,
                Err(e) => last = e,
            }
        }
        panic!("could not start a Redis Cluster: {last}");
    }

    fn try_start() -> Result<Cluster, String> {
        let started = edgeauth::clock::instant();
        let dir = TempDir::new();
        let mut nodes = Vec::new();
        for _ in 0..6 {
            let port = cluster_port();
            let child = spawn_node(port, &dir.0)?;
            nodes.push(Node {
                port,
                child: Some(child),
            });
        }
        let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
        let pids: Vec<u32> = nodes
            .iter()
            .filter_map(|n| n.child.as_ref().map(RedisServer::pid))
            .collect();
        let cluster = Cluster {
            nodes: Mutex::new(nodes),
            ports: ports.clone(),
            watchdog: Some(watchdog(&pids, &dir.0)),
            dir,
        };
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .map_err(|e| format!("redis-cli: {e} (apt-get install -y redis-tools)"))?;
        if !out.status.success() {
            return Err(format!(
                "redis-cli --cluster create: {}",
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        if !cluster.wait_ok(Duration::from_secs(10)) {
            return Err("cluster_state did not become ok".into());
        }
        // Replicas attached and synced, so a failover test can rely on them.
        if !wait_for(Duration::from_secs(10), || cluster.replicas_in_sync()) {
            return Err("replicas did not sync".into());
        }
        eprintln!(
            "redis cluster on ports {:?} ready in {:?}",
            ports,
            started.elapsed()
        );
        Ok(cluster)
    }

    /// Comma-separated seed URLs (every node), for `EDGEAUTH_REDIS_CLUSTER_NODES`.
    pub fn seeds(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn client(&self) -> redis::cluster::ClusterClient {
        redis::cluster::ClusterClient::new(
            self.ports
                .iter()
                .map(|p| format!("redis://127.0.0.1:{p}"))
                .collect::<Vec<_>>(),
        )
        .expect("cluster client")
    }

    /// Ports of the nodes still running.
    pub fn live_ports(&self) -> Vec<u16> {
        let nodes = self.nodes.lock().unwrap();
        nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
            .collect()
    }

    /// `(port, role)` of every node as the live nodes see it (`CLUSTER NODES` of one of them),
    /// role "master" or "slave", without the ones flagged failed.
    pub fn roles(&self) -> Vec<(u16, String)> {
        for port in self.live_ports() {
            let Ok(nodes) = query::<String>(port, &["CLUSTER", "NODES"]) else {
                continue;
            };
            return nodes
                .lines()
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split(' ').collect();
                    let port = fields.get(1)?.split(['@', ':']).nth(1)?.parse().ok()?;
                    let flags = fields.get(2)?;
                    if flags.contains("fail") && !flags.contains("fail?") {
                        return None;
                    }
                    let role = if flags.contains("master") {
                        "master"
                    } else {
                        "slave"
                    };
                    Some((port, role.to_owned()))
                })
                .collect();
        }
        Vec::new()
    }

    /// The master serving `key`'s slot now (asked of a live node).
    pub fn master_of(&self, key: &str) -> u16 {
        let live = self.live_ports();
        let slot: i64 = live
            .iter()
            .find_map(|&port| query(port, &["CLUSTER", "KEYSLOT", key]).ok())
            .expect("a live node");
        for port in live {
            let Ok(Value::Array(ranges)) = query::<Value>(port, &["CLUSTER", "SLOTS"]) else {
                continue;
            };
            for range in ranges {
                let Value::Array(fields) = range else {
                    continue;
                };
                let (Some(Value::Int(from)), Some(Value::Int(to)), Some(Value::Array(master))) =
                    (fields.first(), fields.get(1), fields.get(2))
                else {
                    continue;
                };
                if (*from..=*to).contains(&slot) {
                    if let Some(Value::Int(port)) = master.get(1) {
                        return *port as u16;
                    }
                }
            }
        }
        panic!("no live node knows the master of slot {slot}");
    }

    /// One command to the node on `port` itself (not routed by the cluster client).
    pub fn node<T: redis::FromRedisValue>(&self, port: u16, args: &[&str]) -> T {
        query(port, args).unwrap_or_else(|e| panic!("{args:?} on node {port}: {e}"))
    }

    /// The masters' ports (as the live nodes see it).
    pub fn masters(&self) -> Vec<u16> {
        let roles = self.roles();
        roles
            .into_iter()
            .filter(|(_, role)| role == "master")
            .map(|(port, _)| port)
            .collect()
    }

    /// The PID of the node on `port`.
    pub fn pid(&self, port: u16) -> u32 {
        let nodes = self.nodes.lock().unwrap();
        nodes
            .iter()
            .find(|n| n.port == port)
            .and_then(|n| n.child.as_ref())
            .map(RedisServer::pid)
            .expect("a running node on that port")
    }

    /// SIGKILLs the node on `port` (by its PID) and reaps it.
    pub fn kill(&self, port: u16) {
        let pid = self.pid(port);
        let status = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -KILL {pid}");
        let mut nodes = self.nodes.lock().unwrap();
        if let Some(node) = nodes.iter_mut().find(|n| n.port == port) {
            if let Some(mut server) = node.child.take() {
                server.stop();
            }
        }
    }

    /// Until every live node says `cluster_state:ok` (false on timeout).
    pub fn wait_ok(&self, timeout: Duration) -> bool {
        wait_for(timeout, || {
            self.live_ports().iter().all(|&port| {
                query::<String>(port, &["CLUSTER", "INFO"])
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            })
        })
    }

    /// Every live master has a replica whose link to it is up.
    fn replicas_in_sync(&self) -> bool {
        let roles = self.roles();
        let masters = roles.iter().filter(|(_, r)| r == "master").count();
        let synced = roles
            .iter()
            .filter(|(_, r)| r == "slave")
            .filter(|(port, _)| {
                query::<String>(*port, &["INFO", "replication"])
                    .is_ok_and(|info| info.contains("master_link_status:up"))
            })
            .count();
        masters == 3 && synced >= masters
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Ok(mut nodes) = self.nodes.lock() {
            for node in nodes.iter_mut() {
                if let Some(mut server) = node.child.take() {
                    server.stop();
                }
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// A free loopback port whose cluster bus port (+10000) is free too.
fn cluster_port() -> u16 {
    loop {
        let port = edgeauth::dev::free_port().expect("free port");
        if port <= 55535 && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}

/// A cluster node; [`RedisServer`] waits until it answers PING.
fn spawn_node(port: u16, dir: &std::path::Path) -> Result<RedisServer, String> {
    let conf: PathBuf = dir.join(format!("nodes-{port}.conf"));
    RedisServer::builder()
        .port(port)
        .dir(dir)
        .args(["--cluster-enabled", "yes", "--cluster-config-file"])
        .args([&conf])
        .args(["--cluster-node-timeout", "2000"])
        // Replicas sync at once (the default waits 5 s for more replicas to share the transfer).
        .args(["--repl-diskless-sync-delay", "0"])
        .spawn()
}

/// A shell that kills the nodes (and removes their directory) once this process is gone: statics
/// are never dropped, and a test binary may die without unwinding.
fn watchdog(pids: &[u32], dir: &std::path::Path) -> Child {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill -9 {pids} 2>/dev/null; rm -rf '{dir}'",
        me = std::process::id(),
        pids = pids.join(" "),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("watchdog shell")
}

fn wait_for(timeout: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = edgeauth::clock::instant() + timeout;
    while edgeauth::clock::instant() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// One command to one node (not cluster-routed), with short timeouts.
fn query<T: redis::FromRedisValue>(port: u16, args: &[&str]) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut conn = client.get_connection_with_timeout(Duration::from_millis(500))?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut conn)
}

/// One test's view of a cluster: its key prefix and the proxy that shows its keys under the
/// default prefix (see the module doc). Dropping it stops the proxy's listener.
pub struct Namespace {
    pub seeds: String,
    pub prefix: String,
    pub proxy_port: u16,
    stop: Arc<AtomicBool>,
}

impl Namespace {
    /// A fresh prefix on `cluster`, and its proxy.
    pub fn new(cluster: &Cluster) -> Namespace {
        let prefix = format!("t{}:", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let proxy_port = listener.local_addr().expect("proxy addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let (client, stopping, namespace) = (cluster.client(), stop.clone(), prefix.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (client, prefix) = (client.clone(), namespace.clone());
                std::thread::spawn(move || serve(stream, &client, prefix.as_bytes()));
            }
        });
        Namespace {
            seeds: cluster.seeds(),
            prefix,
            proxy_port,
            stop,
        }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.proxy_port));
    }
}

/// One proxied client connection: RESP commands in, forwarded through a cluster connection made
/// on first use, replies out.
fn serve(stream: TcpStream, client: &redis::cluster::ClusterClient, prefix: &[u8]) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = stream;
    let mut conn: Option<redis::cluster::ClusterConnection> = None;
    while let Some(args) = read_command(&mut reader) {
        let reply = execute(&mut conn, client, args, prefix);
        let mut bytes = Vec::new();
        match reply {
            Ok(value) => write_value(&mut bytes, &unprefix(value, prefix)),
            Err(e) => {
                let message = match e.code() {
                    Some(code) => format!("{code} {}", e.detail().unwrap_or_default()),
                    None => format!("ERR {e}"),
                };
                bytes.extend_from_slice(
                    format!("-{}\r\n", message.replace(['\r', '\n'], " ")).as_bytes(),
                );
            }
        }
        if out.write_all(&bytes).is_err() {
            return;
        }
    }
}

fn execute(
    conn: &mut Option<redis::cluster::ClusterConnection>,
    client: &redis::cluster::ClusterClient,
    args: Vec<Vec<u8>>,
    prefix: &[u8],
) -> redis::RedisResult<Value> {
    let name = args
        .first()
        .map(|a| a.to_ascii_uppercase())
        .unwrap_or_default();
    match name.as_slice() {
        // The client's handshake and probes: answered here.
        b"CLIENT" | b"SELECT" => return Ok(Value::Okay),
        b"PING" => return Ok(Value::SimpleString("PONG".into())),
        _ => {}
    }
    let mut cmd = redis::cmd(&String::from_utf8_lossy(&args[0]));
    for arg in &args[1..] {
        let arg = match arg.strip_prefix(TEST_PREFIX) {
            Some(rest) => [prefix, rest].concat(),
            // Confine a KEYS pattern to the namespace.
            None if name == b"KEYS" && !arg.starts_with(prefix) => {
                [prefix, arg.as_slice()].concat()
            }
            None => arg.clone(),
        };
        cmd.arg(arg);
    }
    if conn.is_none() {
        *conn = Some(client.get_connection()?);
    }
    match conn {
        Some(conn) => cmd.query(conn),
        None => unreachable!(),
    }
}

/// The namespace's prefix back to the tests' in every string of a reply (key names from KEYS).
fn unprefix(value: Value, prefix: &[u8]) -> Value {
    match value {
        Value::BulkString(bytes) => match bytes.strip_prefix(prefix) {
            Some(rest) => Value::BulkString([TEST_PREFIX, rest].concat()),
            None => Value::BulkString(bytes),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| unprefix(v, prefix)).collect())
        }
        other => other,
    }
}

/// One RESP array of bulk strings (what redis-rs sends); None at EOF or on garbage.
fn read_command(reader: &mut impl BufRead) -> Option<Vec<Vec<u8>>> {
    let count: usize = read_header(reader, b'*')?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let len: usize = read_header(reader, b'$')?;
        let mut arg = vec![0; len + 2];
        reader.read_exact(&mut arg).ok()?;
        arg.truncate(len);
        args.push(arg);
    }
    Some(args)
}

fn read_header(reader: &mut impl BufRead, kind: u8) -> Option<usize> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).ok()?;
    let text = std::str::from_utf8(line.strip_prefix(&[kind])?).ok()?;
    text.trim_end().parse().ok()
}

/// RESP2 encoding of a reply.
fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Nil => out.extend_from_slice(b"$-1\r\n"),
        Value::Int(i) => out.extend_from_slice(format!(":{i}\r\n").as_bytes()),
        Value::BulkString(bytes) => {
            out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\r\n");
        }
        Value::Array(items) | Value::Set(items) => {
            out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for item in items {
                write_value(out, item);
            }
        }
        Value::Map(pairs) => {
            out.extend_from_slice(format!("*{}\r\n", pairs.len() * 2).as_bytes());
            for (k, v) in pairs {
                write_value(out, k);
                write_value(out, v);
            }
        }
        Value::SimpleString(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        Value::Okay => out.extend_from_slice(b"+OK\r\n"),
        Value::Double(d) => write_value(out, &Value::BulkString(d.to_string().into_bytes())),
        Value::Boolean(b) => write_value(out, &Value::Int(i64::from(*b))),
        Value::VerbatimString { text, .. } => {
            write_value(out, &Value::BulkString(text.clone().into_bytes()))
        }
        other => {
            let message = format!("ERR test proxy cannot encode {other:?}");
            out.extend_from_slice(
                format!("-{}\r\n", message.replace(['\r', '\n'], " ")).as_bytes(),
            );
        }
    }
}
