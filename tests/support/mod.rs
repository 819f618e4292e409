//! Test harness: a real `redis-server` per test on a free loopback port (no
//! persistence, killed on drop) and an in-process edgeauth on `127.0.0.1:0`,
//! talked to over HTTP. Never touches the machine's own Redis.
//!
//! With `EDGEAUTH_TEST_REDIS=cluster`, `TestServer::start`/`with` use a Redis
//! Cluster instead: the one shared by the test binary (`cluster::Cluster::shared`),
//! with a key prefix of the test's own; `Redis` then talks to it through the
//! namespace's proxy, so every helper (and every raw command a test sends with
//! the default `edgeauth:` prefix) works unchanged. Tests that need a Redis
//! process of their own (stop, restart, extra arguments) get one in both modes
//! through `Redis::start`/`start_with`.
//!
//! The kit every test file shares: `totp` (the tests' own RFC 6238
//! authenticator), `mfa` (enable, login ticket, second step, recovery),
//! `flows` (reset request and reset), `edge` (browser sign-ins and the edge
//! session cookie), `jwt` (claims of an issued token), `keys` (key names, account fields,
//! command statistics), `metrics` (`/metrics` samples), `nginx` (a real nginx
//! with a config of the test's own), `node` (running a test's Node.js script), `return_urls` (the hostile and accepted
//! return-URL tables), `soft_passkey` (the tests' own WebAuthn authenticator), and `cluster`.

#![allow(dead_code)]

pub mod cluster;
pub mod edge;
pub mod flows;
pub mod jwt;
pub mod keys;
pub mod metrics;
pub mod mfa;
pub mod nginx;
pub mod node;
pub mod return_urls;
pub mod soft_passkey;
pub mod totp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use edgeauth::app::App;
use edgeauth::config::Config;
use edgeauth::dev::RedisServer;
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderMap, SET_COOKIE};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const PASSWORD: &str = "correct horse battery";

/// `429 rate_limited` with a `Retry-After` of whole seconds in
/// `1..=max_retry_after`.
#[track_caller]
pub fn assert_limited(r: &Reply, max_retry_after: u64, what: &str) {
    assert_eq!(r.status, 429, "{what}: {}", r.text);
    assert_eq!(r.error(), "rate_limited", "{what}");
    let retry: u64 = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: 429 without Retry-After"))
        .parse()
        .unwrap_or_else(|e| panic!("{what}: Retry-After not whole seconds: {e}"));
    assert!(
        (1..=max_retry_after).contains(&retry),
        "{what}: Retry-After {retry} not in 1..={max_retry_after}"
    );
}

/// The wall clock in ms since the epoch (what the server's clock reads).
pub fn now_ms() -> u64 {
    edgeauth::clock::now_ms()
}

/// An error answer: `status` with the JSON `error` code `code`.
#[track_caller]
pub fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "expected {status} {code}: {}", r.text);
    assert_eq!(r.error(), code, "{}", r.text);
}

/// A `redis-server` child on its own port, or (cluster mode) a test's
/// namespace on a cluster, reached through its proxy on `port`.
pub struct Redis {
    child: Option<RedisServer>,
    pub port: u16,
    cluster: Option<Arc<cluster::Namespace>>,
}

/// Whether `EDGEAUTH_TEST_REDIS=cluster` runs the suite against a Redis Cluster.
pub fn cluster_mode() -> bool {
    std::env::var("EDGEAUTH_TEST_REDIS").is_ok_and(|v| v == "cluster")
}

impl Redis {
    pub fn start() -> Redis {
        Redis::start_with(&[])
    }

    /// What `TestServer::start`/`with` use: a fresh namespace on the shared
    /// cluster in cluster mode, else a `redis-server` of its own.
    pub fn for_test() -> Redis {
        if cluster_mode() {
            Redis::on_cluster(cluster::Cluster::shared())
        } else {
            Redis::start()
        }
    }

    /// A fresh namespace (key prefix + proxy) on `cluster`.
    pub fn on_cluster(cluster: &cluster::Cluster) -> Redis {
        let namespace = cluster::Namespace::new(cluster);
        Redis {
            child: None,
            port: namespace.proxy_port,
            cluster: Some(Arc::new(namespace)),
        }
    }

    /// The cluster namespace, in cluster mode.
    pub fn namespace(&self) -> Option<&cluster::Namespace> {
        self.cluster.as_deref()
    }

    /// Starts `redis-server` on this port (after a `stop`, or for the first time).
    fn spawn(&mut self, args: &[&str]) {
        let server = RedisServer::builder()
            .port(self.port)
            .args(args)
            .spawn()
            .unwrap_or_else(|e| panic!("the tests need redis-server: {e}"));
        self.child = Some(server);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("redis url")
    }

    pub fn conn(&self) -> redis::Connection {
        self.client().get_connection().expect("redis connection")
    }

    /// Kills the server (its data is gone: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut server) = self.child.take() {
            server.stop();
        }
    }

    /// Starts an empty server again on the same port.
    pub fn restart(&mut self) {
        assert!(
            self.cluster.is_none(),
            "restart needs a redis-server of the test's own: use Redis::start()"
        );
        self.stop();
        self.spawn(&[]);
    }

    /// Every event of both streams (`events`, and `events:audit` for failed
    /// sign-ins), oldest first, as field maps.
    pub fn events(&self) -> Vec<HashMap<String, String>> {
        let mut all = self.stream("edgeauth:events");
        all.extend(self.stream("edgeauth:events:audit"));
        all.sort_by_key(|(id, _)| *id);
        all.into_iter().map(|(_, event)| event).collect()
    }

    /// The entries of one stream, with their ids as (ms, seq) for ordering.
    pub fn stream(&self, key: &str) -> Vec<((u64, u64), HashMap<String, String>)> {
        let mut conn = self.conn();
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(key)
            .arg("-")
            .arg("+")
            .query(&mut conn)
            .expect("XRANGE");
        reply
            .ids
            .into_iter()
            .map(|entry| {
                let (ms, seq) = entry.id.split_once('-').expect("stream id");
                let id = (ms.parse().expect("id ms"), seq.parse().expect("id seq"));
                let fields = entry
                    .map
                    .into_iter()
                    .map(|(k, v)| (k, redis::from_redis_value::<String>(v).unwrap_or_default()))
                    .collect();
                (id, fields)
            })
            .collect()
    }

    /// The events of one type.
    pub fn events_of(&self, kind: &str) -> Vec<HashMap<String, String>> {
        self.events()
            .into_iter()
            .filter(|e| e.get("type").map(String::as_str) == Some(kind))
            .collect()
    }

    /// The ticket of the newest event of `kind` for `email`.
    pub fn ticket(&self, kind: &str, email: &str) -> String {
        self.events_of(kind)
            .into_iter()
            .rev()
            .find(|e| e.get("email").map(String::as_str) == Some(email))
            .and_then(|e| e.get("ticket").cloned())
            .unwrap_or_else(|| panic!("no {kind} event with a ticket for {email}"))
    }

    /// Every key name and logical value in Redis, as raw bytes (values as
    /// read back, not DUMP's possibly compressed serialization — a secret
    /// must not hide from a leak check behind LZF).
    pub fn contents(&self) -> Vec<u8> {
        self.contents_except(&[])
    }

    /// [`Redis::contents`] without the keys named in `skip` (e.g. the
    /// events stream, which carries tickets for the mailer by design).
    pub fn contents_except(&self, skip: &[&str]) -> Vec<u8> {
        let mut conn = self.conn();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut conn).expect("KEYS");
        let mut out = Vec::new();
        for key in keys {
            if skip.iter().any(|s| s.as_bytes() == key.as_slice()) {
                continue;
            }
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut conn).expect("TYPE");
            let values: Vec<Vec<u8>> = match kind.as_str() {
                "string" => vec![redis::cmd("GET").arg(&key).query(&mut conn).expect("GET")],
                "hash" => redis::cmd("HGETALL")
                    .arg(&key)
                    .query(&mut conn)
                    .expect("HGETALL"),
                "set" => redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query(&mut conn)
                    .expect("SMEMBERS"),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(&mut conn)
                    .expect("ZRANGE"),
                "list" => redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query(&mut conn)
                    .expect("LRANGE"),
                "stream" => {
                    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                        .arg(&key)
                        .arg("-")
                        .arg("+")
                        .query(&mut conn)
                        .expect("XRANGE");
                    reply
                        .ids
                        .into_iter()
                        .flat_map(|e| e.map.into_iter())
                        .flat_map(|(k, v)| {
                            [
                                k.into_bytes(),
                                redis::from_redis_value::<Vec<u8>>(v).unwrap_or_default(),
                            ]
                        })
                        .collect()
                }
                other => panic!("unexpected key type {other} for {key:?}"),
            };
            out.extend_from_slice(&key);
            out.push(b'\n');
            for v in values {
                out.extend_from_slice(&v);
                out.push(b'\n');
            }
        }
        out
    }

    /// [`Redis::contents`] as text, for string searches.
    pub fn dump(&self) -> String {
        String::from_utf8_lossy(&self.contents()).into_owned()
    }
}

/// Whether `needle` occurs in `haystack` (an empty needle always does).
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("edgeauth-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running edgeauth with its own Redis.
pub struct TestServer {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub redis: Redis,
    /// The PEM of the signing key (tests craft their own tokens with it).
    pub signing_pem: String,
    pub http: reqwest::Client,
    pub app: App,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: TempDir,
}

/// Settings every test server uses unless overridden: a cheap scrypt cost
/// (hashing is not what these tests measure) and short timeouts.
const BASE: &[(&str, &str)] = &[
    ("EDGEAUTH_SCRYPT_LOG_N", "10"),
    ("EDGEAUTH_REDIS_TIMEOUT", "1s"),
    ("EDGEAUTH_REQUEST_TIMEOUT", "3s"),
    ("EDGEAUTH_SHUTDOWN_GRACE", "5s"),
    ("EDGEAUTH_COOKIE_SECURE", "false"),
    // Limits high enough for any test that is not about them (the counting
    // still runs); the rate-limit tests set their own.
    ("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "100000/1h"),
    ("EDGEAUTH_RATE_LOGIN_PER_IP", "100000/1h"),
    ("EDGEAUTH_RATE_REGISTER_PER_IP", "100000/1h"),
    ("EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_IP", "100000/1h"),
    ("EDGEAUTH_RATE_FORGOT_REQUEST_PER_IP", "100000/1h"),
    ("EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_EMAIL", "100000/1h"),
    ("EDGEAUTH_RATE_FORGOT_REQUEST_PER_EMAIL", "100000/1h"),
    ("EDGEAUTH_RATE_EMAIL_REQUEST_PER_ACCOUNT", "100000/1h"),
    ("EDGEAUTH_RATE_MFA_PER_ACCOUNT", "100000/1h"),
    // No password strength check for tests that are not about it (many make
    // up passwords like "password-3"); the policy tests (password_policy.rs)
    // and the README walkthrough (`serve --dev`) run with the default.
    ("EDGEAUTH_PASSWORD_MIN_SCORE", "0"),
];

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::with(&[]).await
    }

    /// Starts with extra `EDGEAUTH_*` settings (override the base ones).
    pub async fn with(settings: &[(&str, &str)]) -> TestServer {
        TestServer::with_redis(Redis::for_test(), settings).await
    }

    pub async fn with_redis(redis: Redis, settings: &[(&str, &str)]) -> TestServer {
        let dir = TempDir::new();
        let signing_pem = edgeauth::auth::jwt::generate_pkcs8_pem().expect("keygen");
        let key = dir.write("signing.pem", &signing_pem);
        let data_key = dir.write(
            "data.key",
            &edgeauth::auth::data_keys::generate_data_key_base64().expect("data key"),
        );
        let mut map: HashMap<String, String> = BASE
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("EDGEAUTH_REDIS_URL".into(), redis.url());
        if let Some(namespace) = redis.namespace() {
            map.insert(
                "EDGEAUTH_REDIS_CLUSTER_NODES".into(),
                namespace.seeds.clone(),
            );
            map.insert("EDGEAUTH_REDIS_PREFIX".into(), namespace.prefix.clone());
        }
        map.insert("EDGEAUTH_JWT_KEY_FILES".into(), key.display().to_string());
        map.insert(
            "EDGEAUTH_DATA_KEY_FILE".into(),
            data_key.display().to_string(),
        );
        for (k, v) in settings {
            map.insert(k.to_string(), v.to_string());
        }
        let config = Config::from_map(&map, false).expect("test config");
        let app = App::build(config).await.expect("build app");
        let public = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let admin = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
        let addr = public.local_addr().expect("addr");
        let admin_addr = admin.local_addr().expect("admin addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(edgeauth::server::serve(app.clone(), public, admin, async {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            admin: admin_addr,
            redis,
            signing_pem,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
            app,
            shutdown: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{}", self.admin, path)
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    /// POST a JSON body with a Bearer token.
    pub async fn post_bearer(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    /// POST with only a refresh cookie (no body).
    pub async fn post_cookie(&self, path: &str, refresh_token: &str) -> Reply {
        self.send(
            self.http
                .post(self.url(path))
                .header(COOKIE, format!("refresh_token={refresh_token}")),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn verify(&self, token: &str) -> Reply {
        self.send(self.http.get(self.url("/auth/verify")).bearer_auth(token))
            .await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request");
        Reply::read(response).await
    }

    /// Registers and activates an account (through the activation ticket).
    pub async fn create_account(&self, email: &str) {
        let r = self
            .post(
                "/auth/register",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 204, "register: {}", r.text);
        let ticket = self.redis.ticket("account.registered", email);
        let r = self
            .post("/auth/account/activate", json!({ "ticket": ticket }))
            .await;
        assert_eq!(r.status, 204, "activate: {}", r.text);
    }

    /// Logs in and returns (jwt, refresh token).
    pub async fn login(&self, email: &str) -> (String, String) {
        let r = self
            .post("/auth/login", json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(r.status, 200, "login: {}", r.text);
        (r.jwt(), r.refresh_cookie().expect("refresh cookie"))
    }

    /// Creates, activates and logs in an account; returns (jwt, refresh token).
    pub async fn signed_in(&self, email: &str) -> (String, String) {
        self.create_account(email).await;
        self.login(email).await
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            text,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn jwt(&self) -> String {
        self.json()["jwt_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no jwt_token in {}", self.text))
            .to_owned()
    }

    /// The `error` code of a JSON error body, checking its shape.
    pub fn error(&self) -> String {
        assert_eq!(
            self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "error body must be JSON: {}",
            self.text
        );
        let body = self.json();
        assert!(body["message"].is_string(), "no message in {}", self.text);
        body["error"].as_str().expect("error code").to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The raw `Set-Cookie` header for `refresh_token`, if any.
    pub fn set_cookie(&self) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("refresh_token="))
            .map(str::to_owned)
    }

    /// The refresh token set by this response (None when absent or cleared).
    pub fn refresh_cookie(&self) -> Option<String> {
        let cookie = self.set_cookie()?;
        let value = cookie
            .trim_start_matches("refresh_token=")
            .split(';')
            .next()?
            .to_owned();
        (!value.is_empty()).then_some(value)
    }

    /// Whether this response clears the refresh cookie.
    pub fn clears_cookie(&self) -> bool {
        self.set_cookie()
            .is_some_and(|c| c.starts_with("refresh_token=;") && c.contains("Max-Age=0"))
    }
}

impl TestServer {
    /// Stops the server and hands back its Redis, still running with its
    /// data, so another `TestServer::with_redis` can use it (rehash tests).
    pub async fn into_redis(mut self) -> Redis {
        self.stop().await;
        let port = self.redis.port;
        let cluster = self.redis.cluster.clone();
        std::mem::replace(
            &mut self.redis,
            Redis {
                child: None,
                port,
                cluster,
            },
        )
    }
}

impl Redis {
    /// A second handle on this same `redis-server` that does not own it
    /// (dropping or stopping it leaves the server running), so two
    /// `TestServer::with_redis` replicas can share one Redis.
    pub fn shared(&self) -> Redis {
        Redis {
            child: None,
            port: self.port,
            cluster: self.cluster.clone(),
        }
    }
}

impl Reply {
    /// The `error` code of a JSON error body, or None (no panic) when the
    /// body is not one.
    pub fn error_code(&self) -> Option<String> {
        let body: Value = serde_json::from_str(&self.text).ok()?;
        body["error"].as_str().map(str::to_owned)
    }
}

impl Redis {
    /// Like [`Redis::start`], with extra `redis-server` arguments (e.g.
    /// `--enable-debug-command local`, which `DEBUG SLEEP` needs on Redis 7).
    /// A later `restart` starts it without them.
    pub fn start_with(args: &[&str]) -> Redis {
        let server = RedisServer::builder()
            .args(args)
            .spawn()
            .unwrap_or_else(|e| panic!("the tests need redis-server: {e}"));
        Redis {
            port: server.port(),
            child: Some(server),
            cluster: None,
        }
    }
}
