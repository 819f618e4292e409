//! Accounts and sessions for the scenarios.
//!
//! Few accounts are made through the API (each costs a password hash).
//! Large numbers (10k sessions for `verify`, 1M accounts) are *cloned*: the
//! bench registers and logs in one template account through the API, reads
//! back every key that login left in Redis (the account hash, the email
//! index, the session hash and the sessions index, whatever their layout is
//! at the moment), and writes copies with fresh ids, email and family
//! through pipelined commands. Rate-limit counters and the events stream are
//! not part of the template: they are not per-account state. A cloned
//! session's first refresh token is minted with the data key the servers
//! use, so the servers then take over its chain (and their answers prove the
//! clone is faithful).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use edgeauth::auth::data_keys::DataKeys;
use edgeauth::auth::edge_cookie::{EDGE_COOKIE_INFO, EdgeCookie, EdgeCookieKeys};
use edgeauth::auth::refresh::{RefreshKeys, RefreshToken};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use serde_json::json;
use uuid::Uuid;

use crate::client::{Reply, for_each, post_json};
use crate::jobs::PASSWORD;

/// Setup requests run over this many connections.
const SETUP_CONNECTIONS: usize = 32;

pub fn sha256_hex(s: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest.as_ref() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

pub fn refresh_keys(data_key: &str) -> RefreshKeys {
    DataKeys::from_files(&[data_key.to_owned()])
        .expect("data key")
        .refresh_keys()
}

/// The first refresh token of a session family (generation 0).
pub fn mint(keys: &RefreshKeys, account: Uuid, family: Uuid) -> String {
    keys.encode(&RefreshToken {
        account_id: account,
        family_id: family,
        generation: 0,
    })
}

fn expect_status(what: &str, replies: &[Result<Reply, String>], status: u16) {
    for reply in replies {
        match reply {
            Ok(r) if r.status == status => {}
            Ok(r) => panic!(
                "{what}: status {} ({})",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

/// Registers every email (auto-activated).
pub async fn register(addr: SocketAddr, emails: &[String]) {
    let replies = for_each(addr, SETUP_CONNECTIONS, emails.to_vec(), |email| {
        post_json(
            "/auth/register",
            json!({ "email": email, "password": PASSWORD }).to_string(),
        )
    })
    .await;
    expect_status("register", &replies, 204);
}

/// Logs every email in; (JWT, refresh token) each.
pub async fn login(addr: SocketAddr, emails: &[String]) -> Vec<(String, String)> {
    let replies = for_each(addr, SETUP_CONNECTIONS, emails.to_vec(), |email| {
        post_json(
            "/auth/login",
            json!({ "email": email, "password": PASSWORD }).to_string(),
        )
    })
    .await;
    expect_status("login", &replies, 200);
    replies
        .into_iter()
        .map(|r| {
            let r = r.expect("checked");
            let jwt = r.field("jwt_token").expect("jwt_token");
            (jwt, r.refresh_cookie().expect("refresh cookie"))
        })
        .collect()
}

/// One refresh of each token; (JWT, next refresh token) each.
pub async fn refresh(addr: SocketAddr, tokens: Vec<String>) -> Vec<(String, String)> {
    let replies = for_each(addr, SETUP_CONNECTIONS, tokens, |token| {
        post_json(
            "/auth/token/refresh",
            json!({ "refresh_token": token }).to_string(),
        )
    })
    .await;
    expect_status("refresh", &replies, 200);
    replies
        .into_iter()
        .map(|r| {
            let r = r.expect("checked");
            (
                r.field("jwt_token").expect("jwt_token"),
                r.field("refresh_token").expect("refresh_token"),
            )
        })
        .collect()
}

/// A Redis value of the template.
#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Hash(Vec<(String, String)>),
    ZSet(Vec<(String, f64)>),
    Set(Vec<String>),
}

#[derive(Debug, Clone)]
struct TemplateKey {
    name: String,
    value: Value,
    /// Milliseconds, or none (-1).
    pttl: i64,
    /// OBJECT ENCODING and MEMORY USAGE of the template's key (diagnostics).
    encoding: String,
    memory: u64,
}

/// Every key one registered, logged-in account leaves in Redis, and the
/// strings in them that are that account's own (ids, email, email digest).
#[derive(Debug, Clone)]
pub struct Template {
    keys: Vec<TemplateKey>,
    account: String,
    family: String,
    email: String,
    email_digest: String,
}

/// One cloned account: its id and its session family's id.
#[derive(Debug, Clone, Copy)]
pub struct Cloned {
    pub account: Uuid,
    pub family: Uuid,
}

impl Template {
    /// Registers and logs in `email` through `addr`, then reads back what
    /// it left in Redis. Call it on a Redis holding nothing else of note:
    /// every string key whose value is the account id (the email index)
    /// and every key whose name holds it are taken.
    pub async fn capture(
        addr: SocketAddr,
        redis: &mut MultiplexedConnection,
        keys: &RefreshKeys,
        email: &str,
    ) -> Template {
        register(addr, &[email.to_owned()]).await;
        let (_, refresh) = login(addr, &[email.to_owned()]).await.remove(0);
        let token = keys.decode(&refresh).expect("the login's refresh token");
        let (account, family) = (token.account_id.to_string(), token.family_id.to_string());
        let names: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(redis)
            .await
            .expect("KEYS");
        let mut template_keys = Vec::new();
        for name in names {
            if name.contains("rate:") {
                continue;
            }
            let kind: String = redis::cmd("TYPE")
                .arg(&name)
                .query_async(redis)
                .await
                .expect("TYPE");
            let value = match kind.as_str() {
                "string" => {
                    let v: String = redis.get(&name).await.expect("GET");
                    if v != account && !name.contains(&account) {
                        continue;
                    }
                    Value::Str(v)
                }
                _ if !name.contains(&account) => continue,
                "hash" => Value::Hash(redis.hgetall(&name).await.expect("HGETALL")),
                "zset" => Value::ZSet(redis.zrange_withscores(&name, 0, -1).await.expect("ZRANGE")),
                "set" => Value::Set(redis.smembers(&name).await.expect("SMEMBERS")),
                other => panic!("template key {name} has a type the clone can't copy: {other}"),
            };
            let pttl: i64 = redis.pttl(&name).await.expect("PTTL");
            let encoding: String = redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(&name)
                .query_async(redis)
                .await
                .expect("OBJECT ENCODING");
            let memory: u64 = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(&name)
                .query_async(redis)
                .await
                .expect("MEMORY USAGE");
            template_keys.push(TemplateKey {
                name,
                value,
                pttl,
                encoding,
                memory,
            });
        }
        template_keys.sort_by(|a, b| a.name.cmp(&b.name));
        Template {
            keys: template_keys,
            account,
            family,
            email: email.to_owned(),
            email_digest: sha256_hex(email),
        }
    }

    /// `name (type, encoding, TTL, MEMORY USAGE)` of each key, with the
    /// template's ids as `<A>`/`<F>`.
    pub fn layout(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| {
                let name = k
                    .name
                    .replace(&self.account, "<A>")
                    .replace(&self.family, "<F>")
                    .replace(&self.email_digest, "<sha256(email)>");
                let kind = match &k.value {
                    Value::Str(_) => "string".to_owned(),
                    Value::Hash(f) => format!("hash of {}", f.len()),
                    Value::ZSet(m) => format!("zset of {}", m.len()),
                    Value::Set(m) => format!("set of {}", m.len()),
                };
                let ttl = if k.pttl > 0 {
                    format!("TTL {:.0} d", k.pttl as f64 / 86_400_000.0)
                } else {
                    "no TTL".to_owned()
                };
                format!("{name} ({kind}, {}, {ttl}, {} bytes)", k.encoding, k.memory)
            })
            .collect()
    }

    /// Writes `n` copies (emails `clone-<tag>-<i>@bench.example`), pipelined
    /// in batches over the shared connection.
    pub async fn clone_into(
        self: &Arc<Self>,
        redis: &MultiplexedConnection,
        tag: &str,
        n: usize,
    ) -> Vec<Cloned> {
        const BATCH: usize = 1000;
        const IN_FLIGHT: usize = 4;
        let mut tasks = tokio::task::JoinSet::new();
        let mut out = Vec::with_capacity(n);
        let mut start = 0;
        while start < n || !tasks.is_empty() {
            while start < n && tasks.len() < IN_FLIGHT {
                let end = (start + BATCH).min(n);
                let (template, mut conn, tag) = (self.clone(), redis.clone(), tag.to_owned());
                tasks.spawn(async move {
                    let mut pipe = redis::pipe();
                    let mut made = Vec::with_capacity(end - start);
                    for i in start..end {
                        let email = format!("clone-{tag}-{i}@bench.example");
                        made.push(template.add_copy(&mut pipe, &email));
                    }
                    let () = pipe.query_async(&mut conn).await.expect("clone pipeline");
                    made
                });
                start = end;
            }
            if let Some(done) = tasks.join_next().await {
                out.extend(done.expect("clone task"));
            }
        }
        out
    }

    fn add_copy(&self, pipe: &mut redis::Pipeline, email: &str) -> Cloned {
        let cloned = Cloned {
            account: Uuid::new_v4(),
            family: Uuid::new_v4(),
        };
        let subs = [
            (self.account.as_str(), cloned.account.to_string()),
            (self.family.as_str(), cloned.family.to_string()),
            (self.email_digest.as_str(), sha256_hex(email)),
            (self.email.as_str(), email.to_owned()),
        ];
        let s = |text: &str| {
            let mut text = text.to_owned();
            for (from, to) in &subs {
                if text.contains(from) {
                    text = text.replace(from, to);
                }
            }
            text
        };
        for key in &self.keys {
            let name = s(&key.name);
            match &key.value {
                Value::Str(v) => {
                    pipe.cmd("SET").arg(&name).arg(s(v)).ignore();
                }
                Value::Hash(fields) => {
                    let cmd = pipe.cmd("HSET").arg(&name);
                    for (f, v) in fields {
                        cmd.arg(s(f)).arg(s(v));
                    }
                    cmd.ignore();
                }
                Value::ZSet(members) => {
                    let cmd = pipe.cmd("ZADD").arg(&name);
                    for (m, score) in members {
                        cmd.arg(*score).arg(s(m));
                    }
                    cmd.ignore();
                }
                Value::Set(members) => {
                    let cmd = pipe.cmd("SADD").arg(&name);
                    for m in members {
                        cmd.arg(s(m));
                    }
                    cmd.ignore();
                }
            }
            if key.pttl > 0 {
                pipe.cmd("PEXPIRE").arg(&name).arg(key.pttl).ignore();
            }
        }
        cloned
    }
}

impl Template {
    /// Turns cloned sessions into edge sessions (what a portal sign-in
    /// makes: the family records `edge_at`, its last renewal, now) and
    /// returns each one's edge cookie as `name=value`.
    pub async fn edge_cookies(
        &self,
        redis: &MultiplexedConnection,
        keys: &EdgeCookieKeys,
        sessions: &[Cloned],
        now_ms: u64,
    ) -> Vec<String> {
        let Some(session_key) = self
            .keys
            .iter()
            .find(|k| k.name.contains(&self.family) && matches!(k.value, Value::Hash(_)))
        else {
            panic!("the template has no session hash");
        };
        let mut conn = redis.clone();
        let mut cookies = Vec::with_capacity(sessions.len());
        for batch in sessions.chunks(1000) {
            let mut pipe = redis::pipe();
            for s in batch {
                let name = session_key
                    .name
                    .replace(&self.account, &s.account.to_string())
                    .replace(&self.family, &s.family.to_string());
                pipe.cmd("HSET")
                    .arg(name)
                    .arg("edge_at")
                    .arg(now_ms)
                    .ignore();
                let value = keys.encode(&EdgeCookie {
                    account: s.account,
                    family: s.family,
                });
                cookies.push(format!("edgeauth_session={value}"));
            }
            let () = pipe.query_async(&mut conn).await.expect("edge pipeline");
        }
        cookies
    }
}

/// The edge-cookie keys of the data key the servers use.
pub fn edge_cookie_keys(data_key: &str) -> EdgeCookieKeys {
    let data = DataKeys::from_files(&[data_key.to_owned()]).expect("data key");
    EdgeCookieKeys::new(data.seal_key_material(EDGE_COOKIE_INFO))
}

/// `used_memory` of INFO memory, in bytes.
pub async fn used_memory(redis: &mut MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(redis)
        .await
        .expect("INFO memory");
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}

pub async fn dbsize(redis: &mut MultiplexedConnection) -> u64 {
    redis::cmd("DBSIZE")
        .query_async(redis)
        .await
        .expect("DBSIZE")
}
