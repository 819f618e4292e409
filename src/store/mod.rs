//! Redis: every piece of edgeauth state, behind typed async operations.
//!
//! The modules, one aggregate or one concern each:
//! - `connection`: one Redis or a Redis Cluster behind one type, the retries that are safe, the
//!   single-slot check of debug builds;
//! - `key_names` (private: nothing else knows a key name): the key layout;
//! - `scripts`: the Lua scripts of `lua/` (one atomic state change per file), declared in one list;
//! - `accounts`: registration, lookup by id or email, removal;
//! - `email_index`: the email → account index, its ownership rule and its one deletion rule —
//!   every read and write of it;
//! - `email`: the verified email change (its ticket and the two-slot move);
//! - `passwords`: every change of a password hash and of the credential version (rehash,
//!   change, reset; its module doc lists registration's first hash too);
//! - `tickets`: single-use tickets (activation, reset) and the pointers that find them;
//! - `sessions`: refresh families, rotation, revocation and the session cache;
//! - `mfa`: TOTP secrets, recovery codes and MFA login tickets;
//! - `passkeys`: an account's passkeys (WebAuthn credentials) and the state of a passkey ceremony;
//! - `events`: the mail and audit streams; `rate`: rate-limit counters;
//! - `rekey`: the compare-and-set re-seal and the walk over every account.
//!
//! Must not import hyper or `auth`; never reads the clock (time arrives as `now_ms`, or as a clock
//! function for the multi-step email change). Every operation runs under `op_timeout`, and
//! every failure — pool, connection, timeout, an unexpected reply — becomes
//! [`StoreError::Unavailable`], which the API answers with 503.

pub mod accounts;
pub mod admin;
mod connection;
pub mod edge_sessions;
pub mod email;
mod email_index;
pub mod events;
mod key_names;
pub mod mfa;
pub mod passkeys;
pub mod passwords;
pub mod rate;
pub mod rekey;
mod scripts;
pub mod sessions;
// The store's tests live under `tests/`; `test_redis` stays a child of the
// store so inline test modules (e.g. `rekey`'s) reach it as `super::super::test_redis`.
#[cfg(test)]
#[path = "tests/test_redis.rs"]
mod test_redis;
#[cfg(test)]
mod tests;
pub mod tickets;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::{fmt, future::Future, sync::Arc, time::Duration};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};

pub use accounts::{Account, NewAccount, Registration};
pub use email::EmailChange;
pub use events::{Event, EventKind};
pub use mfa::{MfaChange, MfaLogin, MfaState};
pub use sessions::{Rotation, SessionInfo, SessionMeta};
pub use tickets::TicketKind;

use key_names::Keys;
use uuid::Uuid;

use crate::cache::TtlCache;
use scripts::Scripts;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "edgeauth:";

/// Why a store operation failed. There is one variant on purpose: to a caller every Redis failure
/// means "try again later"; the text is for logs only (it never holds a secret, and is never sent
/// to clients).
#[derive(Debug)]
pub enum StoreError {
    Unavailable(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(why) => write!(f, "redis unavailable: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How to reach Redis. No `Debug`: the URLs may carry a password.
#[derive(Clone)]
pub struct StoreConfig {
    /// The single Redis, used when `cluster_nodes` is empty.
    pub url: String,
    /// Seed nodes of a Redis Cluster (`redis://host:port` each); any reachable one tells the client
    /// the whole topology. Non-empty: cluster mode, and `url` is ignored.
    pub cluster_nodes: Vec<String>,
    /// Prepended to every key; must not contain `{` or `}` (they would break the per-account hash
    /// tags).
    pub prefix: String,
    /// Connections (single mode) or cluster clients (cluster mode: each keeps one multiplexed
    /// connection per node) used in turn.
    pub pool_size: usize,
    /// Bound on one whole operation, including waiting for a pooled connection.
    pub op_timeout: Duration,
    /// How long this replica may trust that a session exists without asking Redis (zero: always
    /// ask). Revocations made through this replica are seen at once regardless; those made
    /// elsewhere within this bound.
    pub session_cache_ttl: Duration,
    /// Sessions remembered at most (per replica).
    pub session_cache_entries: usize,
    /// Key material naming tickets in Redis (HMAC-SHA256 keys, derived from the data keys),
    /// current first; at least one.
    pub ticket_keys: Vec<[u8; 32]>,
    /// Approximate cap of each event stream (`XADD MAXLEN ~`).
    pub events_maxlen: u64,
}

/// The handle to all state. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

pub(crate) use connection::Connection;

struct Inner {
    /// A few multiplexed connections, used in turn (see [`Store::conn`]).
    connections: Vec<Connection>,
    next: AtomicUsize,
    /// Operations running now (the `in_use` of the pool metrics).
    in_flight: AtomicUsize,
    keys: Keys,
    scripts: Scripts,
    op_timeout: Duration,
    events_maxlen: u64,
    /// Failed operations since start (for metrics).
    errors: AtomicU64,
    /// Sessions recently seen to exist, until a deadline (see `sessions::session_exists`).
    seen_sessions: TtlCache<(Uuid, Uuid), ()>,
    /// Edge sessions recently seen alive (see `edge_sessions`), same deadline.
    seen_edge_sessions: TtlCache<(Uuid, Uuid), edge_sessions::EdgeState>,
    /// Emails of the accounts of sessions recently seen alive (see `edge_sessions`).
    seen_identities: TtlCache<(Uuid, Uuid), String>,
    session_cache_ms: u64,
    /// Bumped by every revocation through this replica, so a lookup that raced one does not
    /// re-cache what it revoked.
    revocations: AtomicU64,
}

impl Store {
    /// Builds the pool and hashes the scripts. Does no I/O: connections open on first use, so the
    /// server can start before Redis does (and `/readyz` says so meanwhile).
    pub fn new(cfg: &StoreConfig) -> StoreResult<Store> {
        if cfg.prefix.contains(['{', '}']) {
            return Err(StoreError::Unavailable(
                "key prefix must not contain '{' or '}'".into(),
            ));
        }
        if cfg.ticket_keys.is_empty() {
            return Err(StoreError::Unavailable("no ticket key configured".into()));
        }
        let connections = if cfg.cluster_nodes.is_empty() {
            single(cfg)?
        } else {
            cluster(cfg)?
        };
        Ok(Store {
            inner: Arc::new(Inner {
                connections,
                next: AtomicUsize::new(0),
                in_flight: AtomicUsize::new(0),
                keys: Keys::new(&cfg.prefix, &cfg.ticket_keys),
                scripts: Scripts::new(),
                op_timeout: cfg.op_timeout,
                events_maxlen: cfg.events_maxlen.max(1),
                errors: AtomicU64::new(0),
                seen_sessions: TtlCache::new(cfg.session_cache_entries),
                seen_edge_sessions: TtlCache::new(cfg.session_cache_entries),
                seen_identities: TtlCache::new(cfg.session_cache_entries),
                session_cache_ms: cfg.session_cache_ttl.as_millis() as u64,
                revocations: AtomicU64::new(0),
            }),
        })
    }

    /// One PING (readiness); in cluster mode to every master, one answer sufficing (see
    /// [`Connection::ping`]).
    pub async fn ping(&self) -> StoreResult<()> {
        self.run("ping", async {
            let mut conn = self.conn().await?;
            conn.ping().await?;
            Ok(())
        })
        .await
    }

    /// Connection state for metrics: (connections, operations in flight).
    pub fn pool_status(&self) -> (usize, usize) {
        (
            self.inner.connections.len(),
            self.inner.in_flight.load(Ordering::Relaxed),
        )
    }

    /// Operations that failed (connection, timeout, unexpected reply) since start.
    pub fn error_count(&self) -> u64 {
        self.inner.errors.load(Ordering::Relaxed)
    }

    fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    fn scripts(&self) -> &Scripts {
        &self.inner.scripts
    }

    /// The connection for the next operation: the multiplexed connections in turn. No checkout
    /// round trip (a pool that PINGs on checkout doubles the round trips of a one-script
    /// operation, see BENCHMARKS.md), and concurrent operations pipeline on each
    /// connection; a few of them spread the parsing over the runtime's threads.
    async fn conn(&self) -> StoreResult<Connection> {
        let inner = &self.inner;
        let i = inner.next.fetch_add(1, Ordering::Relaxed) % inner.connections.len().max(1);
        inner
            .connections
            .get(i)
            .cloned()
            .ok_or_else(|| StoreError::Unavailable("no Redis connection configured".into()))
    }

    /// Runs one whole operation under `op_timeout`, labelling its failure for the logs. Dropping a
    /// timed-out operation is safe: every state change is one script, and multi-step ones are
    /// designed to be cut short.
    async fn run<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        let outcome = tokio::time::timeout(self.inner.op_timeout, fut).await;
        self.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
        let result = match outcome {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(StoreError::Unavailable(why))) => {
                Err(StoreError::Unavailable(format!("{op}: {why}")))
            }
            Err(_) => Err(StoreError::Unavailable(format!(
                "{op}: timed out after {:?}",
                self.inner.op_timeout
            ))),
        };
        self.inner.errors.fetch_add(1, Ordering::Relaxed);
        result
    }
}

/// Single mode: a few lazy, self-reconnecting multiplexed connections.
fn single(cfg: &StoreConfig) -> StoreResult<Vec<Connection>> {
    let client = redis::Client::open(cfg.url.as_str())
        .map_err(|e| StoreError::Unavailable(format!("redis url: {e}")))?;
    // Each command is bounded here too, so a stopped Redis fails fast
    // even inside multi-step operations; reconnects retry quickly.
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(cfg.op_timeout))
        .set_connection_timeout(Some(cfg.op_timeout))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(10))
        .set_max_delay(Duration::from_millis(200));
    (0..cfg.pool_size.max(1))
        .map(|_| {
            ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
                .map(Connection::Single)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Unavailable(format!("redis connection: {e}")))
}

/// Cluster mode: a few cluster connections, each connecting in the background (like the single
/// mode's lazy connections, so the server starts before the cluster does).
///
/// Timeouts: every attempt, connecting or waiting for a reply, is bounded by `op_timeout`, as is
/// each whole command. Retries: none in the client; `connection` retries only what provably did
/// not run (redirections, "try again"), and a dead master fails fast (connection refused → 503)
/// until the cluster has promoted its replica and the client has reloaded the slot map, which it
/// does by itself when a node is lost or a redirection arrives.
fn cluster(cfg: &StoreConfig) -> StoreResult<Vec<Connection>> {
    let client = ClusterClientBuilder::new(cfg.cluster_nodes.iter().map(String::as_str))
        .retries(0)
        .build()
        .map_err(|e| StoreError::Unavailable(format!("redis cluster nodes: {e}")))?;
    let config = ClusterConfig::new()
        .set_connection_timeout(cfg.op_timeout)
        .set_response_timeout(cfg.op_timeout);
    Ok((0..cfg.pool_size.max(1))
        .map(|_| {
            Connection::Cluster(client.get_pending_async_connection_with_config(config.clone()))
        })
        .collect())
}

/// An "unexpected reply" failure.
fn bad_reply(what: impl fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("unexpected reply: {what}"))
}
