//! The closed-loop HTTP/1.1 load generator: N keep-alive connections, each
//! sending its next request as soon as the previous one was answered, for a
//! warm-up and then a fixed measured window. Latency goes into an HDR
//! histogram per request kind (µs); a request counts when its answer arrives
//! inside the window. After the window every connection finishes its
//! in-flight request unrecorded, so no load leaks into the next scenario.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub type Req = Request<Full<Bytes>>;

/// What a browser-like client sends; stored with each session, so it is part
/// of the Redis memory per account.
pub const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

pub fn get(path: &str, bearer: Option<&str>) -> Req {
    let mut builder = Request::builder().method(Method::GET).uri(path);
    if let Some(token) = bearer {
        builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Full::new(Bytes::new())).expect("request")
}

/// A GET carrying one cookie (the edge session cookie).
pub fn get_with_cookie(path: &str, cookie: &str) -> Req {
    Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(hyper::header::COOKIE, cookie)
        .body(Full::new(Bytes::new()))
        .expect("request")
}

pub fn post_json(path: &str, body: impl Into<Bytes>) -> Req {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, BROWSER_UA)
        .body(Full::new(body.into()))
        .expect("request")
}

/// A whole response.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A string field of a JSON body.
    pub fn field(&self, name: &str) -> Option<String> {
        self.json()[name].as_str().map(str::to_owned)
    }

    /// The refresh token a response set as its cookie.
    pub fn refresh_cookie(&self) -> Option<String> {
        self.headers
            .get_all(hyper::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("refresh_token="))
            .and_then(|v| v.split(';').next())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake {addr}: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            host: HeaderValue::from_str(&addr.to_string()).expect("host header"),
        })
    }

    pub async fn send(&mut self, mut req: Req) -> Result<Reply, String> {
        req.headers_mut().insert(HOST, self.host.clone());
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}

/// One request on a fresh connection (setup, readiness).
pub async fn once(addr: SocketAddr, req: Req) -> Result<Reply, String> {
    Conn::open(addr).await?.send(req).await
}

pub async fn readyz(addr: SocketAddr) -> bool {
    matches!(once(addr, get("/readyz", None)).await, Ok(r) if r.status == 200)
}

/// Sends one request per item over `connections` keep-alive connections
/// (setup work: registering accounts, first refreshes) and returns the
/// replies in item order.
pub async fn for_each<T: Send + Sync + 'static>(
    addr: SocketAddr,
    connections: usize,
    items: Vec<T>,
    make: impl Fn(&T) -> Req + Send + Sync + 'static,
) -> Vec<Result<Reply, String>> {
    let items = Arc::new(items);
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections.min(items.len()).max(1) {
        let (items, make, next) = (items.clone(), make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut conn: Option<Conn> = None;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                if conn.is_none() {
                    conn = Conn::open(addr).await.ok();
                }
                let reply = match conn.as_mut() {
                    Some(c) => c.send(make(item)).await,
                    None => Err(format!("cannot connect to {addr}")),
                };
                if reply.is_err() {
                    conn = None;
                }
                out.push((i, reply));
            }
            out
        }));
    }
    let mut replies: Vec<(usize, Result<Reply, String>)> = Vec::new();
    for task in tasks {
        replies.extend(task.await.expect("setup task"));
    }
    replies.sort_by_key(|(i, _)| *i);
    replies.into_iter().map(|(_, r)| r).collect()
}

/// What one connection sends. A job may send several kinds of request
/// (`mixed`); each kind gets its own statistics.
pub trait Job: Send + 'static {
    /// The next request and its kind (an index into the load's kind names).
    fn next(&mut self) -> (usize, Req);
    /// Whether the answer is the expected one (else it counts as an error);
    /// stateful jobs (refresh chains) take what they need from it.
    fn check(&mut self, kind: usize, reply: &Reply) -> bool;
}

/// Statistics of one request kind.
pub struct KindStats {
    pub name: String,
    pub latency_us: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    /// Unexpected statuses and transport failures ("io"), with counts.
    pub error_kinds: BTreeMap<String, u64>,
}

impl KindStats {
    pub fn new(name: &str) -> KindStats {
        KindStats {
            name: name.to_owned(),
            latency_us: Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram"),
            ok: 0,
            errors: 0,
            error_kinds: BTreeMap::new(),
        }
    }

    pub fn merge(&mut self, other: &KindStats) {
        self.latency_us
            .add(&other.latency_us)
            .expect("histogram add");
        self.ok += other.ok;
        self.errors += other.errors;
        for (k, n) in &other.error_kinds {
            *self.error_kinds.entry(k.clone()).or_default() += n;
        }
    }

    pub fn record_latency(&mut self, latency: Duration) {
        let us = latency.as_micros().max(1) as u64;
        self.latency_us.saturating_record(us);
    }

    pub fn record_ok(&mut self, latency: Duration) {
        self.record_latency(latency);
        self.ok += 1;
    }

    pub fn record_error(&mut self, what: String) {
        self.errors += 1;
        *self.error_kinds.entry(what).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.ok + self.errors
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }
}

/// The outcome of one load: per kind, plus the measured window's length and
/// (when it was watched) what the machine did meanwhile.
pub struct LoadResult {
    pub kinds: Vec<KindStats>,
    pub window: Duration,
    pub usage: Option<crate::probe::Usage>,
}

impl LoadResult {
    /// Every kind together.
    pub fn overall(&self) -> KindStats {
        let mut all = KindStats::new("all");
        for k in &self.kinds {
            all.merge(k);
        }
        all
    }

    /// Completed requests per second (answered inside the window, any status).
    pub fn rate(&self, stats: &KindStats) -> f64 {
        stats.total() as f64 / self.window.as_secs_f64()
    }
}

/// When a load warms up and measures. Loads run together (a flood beside
/// the measured load) share one.
#[derive(Clone, Copy)]
pub struct Window {
    pub measure_from: Instant,
    pub until: Instant,
}

impl Window {
    pub fn starting_now(warmup: Duration, duration: Duration) -> Window {
        let measure_from = edgeauth::clock::instant() + warmup;
        Window {
            measure_from,
            until: measure_from + duration,
        }
    }
}

/// Runs `connections` connections against `addr`, each driving the job
/// `make(i)` gives it, through `window`. `observe` lists process ids whose
/// CPU time inside the measured window is reported.
pub async fn run_load(
    addr: SocketAddr,
    connections: usize,
    window: Window,
    kinds: &[&str],
    make: impl Fn(usize) -> Box<dyn Job>,
) -> LoadResult {
    let names: Arc<Vec<String>> = Arc::new(kinds.iter().map(|k| k.to_string()).collect());
    // Every connection is open before the clock starts mattering.
    let mut conns = Vec::new();
    for _ in 0..connections {
        conns.push(Conn::open(addr).await.expect("open a load connection"));
    }
    let mut tasks = Vec::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let job = make(i);
        let names = names.clone();
        tasks.push(tokio::spawn(drive(addr, conn, job, names, window)));
    }
    let mut stats: Vec<KindStats> = kinds.iter().map(|k| KindStats::new(k)).collect();
    for task in tasks {
        let local = task.await.expect("load connection task");
        for (total, part) in stats.iter_mut().zip(&local) {
            total.merge(part);
        }
    }
    LoadResult {
        kinds: stats,
        window: window.until - window.measure_from,
        usage: None,
    }
}

async fn drive(
    addr: SocketAddr,
    conn: Conn,
    mut job: Box<dyn Job>,
    names: Arc<Vec<String>>,
    window: Window,
) -> Vec<KindStats> {
    let mut stats: Vec<KindStats> = names.iter().map(|n| KindStats::new(n)).collect();
    let mut conn = Some(conn);
    while edgeauth::clock::instant() < window.until {
        let Some(c) = conn.as_mut() else {
            // The previous request broke the connection: open another.
            match Conn::open(addr).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    if edgeauth::clock::instant() >= window.measure_from {
                        stats[0].record_error(format!("io: {e}"));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            continue;
        };
        let (kind, req) = job.next();
        let sent = edgeauth::clock::instant();
        let reply = c.send(req).await;
        let done = edgeauth::clock::instant();
        let recorded = done >= window.measure_from && done <= window.until;
        match reply {
            Ok(reply) => {
                let expected = job.check(kind, &reply);
                if recorded {
                    let s = &mut stats[kind];
                    if expected {
                        s.record_ok(done - sent);
                    } else {
                        s.record_latency(done - sent);
                        s.record_error(reply.status.to_string());
                    }
                }
            }
            Err(e) => {
                conn = None;
                if recorded {
                    stats[kind].record_error(format!("io: {e}"));
                }
            }
        }
    }
    stats
}
