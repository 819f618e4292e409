//! The one connection type of the store: a single Redis or a Redis Cluster behind
//! `redis::aio::ConnectionLike`, so every operation is written once.
//!
//! - Single: a [`ConnectionManager`], one multiplexed connection that reconnects by itself.
//! - Cluster: a `cluster_async::ClusterConnection`, which keeps a multiplexed connection to every
//!   node, routes each command by the slot of its first key (an `EVALSHA` by `KEYS[1]`) and
//!   relearns the slot map when told it is stale.
//!
//! # Cluster retries: only where the command provably did not run
//!
//! The cluster client's own retries are turned off, because it also retries after a connection
//! dropped mid-command — and then the command may already have run. Our scripts are not all
//! idempotent: run twice, `ticket_activate.lua` would answer "invalid ticket" for a ticket it just
//! spent, and a strict `session_rotate.lua` would take its own rotation for a reuse and revoke the
//! family. So this wrapper retries only the answers by which a node says it did *not* run the
//! command:
//!
//! - `MOVED` (the slot lives elsewhere; the client refreshes its slot map on seeing it) and
//!   `TRYAGAIN` / `CLUSTERDOWN` / `MASTERDOWN` / `LOADING` / `READONLY` (a resharding or failover
//!   in progress): pause briefly and send again, routed afresh;
//! - `ASK` (the slot is being migrated and the key is already on the target): `ASKING` plus the
//!   command, as one pipeline on the target node's connection.
//!
//! Everything else — a refused, dropped or timed-out connection — fails the operation, which the
//! API answers with 503, while the client reconnects and reloads the slot map in the background.
//! During a failover that is the window between the master's death and its replica's promotion;
//! afterwards the next command finds the new master, with no restart. All of it stays inside the
//! operation's `op_timeout` (`Store::run`).
//!
//! # Single slot, checked
//!
//! In debug builds (every test) each script call is checked before it is sent: all its KEYS must
//! hash to one slot, and so must every key the script builds from a key-prefix ARGV (the scripts'
//! headers name those ARGVs, see `scripts::key_prefix_args`). A cross-slot script would work on a
//! single Redis and fail only in a cluster; this makes it fail everywhere, at once.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo, SingleNodeRoutingInfo, Slot,
};
use redis::{
    Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, ServerErrorKind, Value,
};

/// How often one command is re-sent after a redirection or a "not now" answer. A MOVED needs one
/// more round once the slot map is reloaded; a failover or a migration can take several.
const REDIRECT_ROUNDS: u32 = 8;

/// Pauses between those rounds (doubling from min to max); the operation's deadline bounds the
/// total.
const PAUSE_MIN: Duration = Duration::from_millis(5);
const PAUSE_MAX: Duration = Duration::from_millis(200);

/// A handle to Redis. Cheap to clone; clones share the underlying connections, and concurrent
/// commands from every task are pipelined on them.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    /// Readiness: whether this replica reaches Redis. In a cluster the PING goes to every master
    /// and one answer suffices — "the cluster is reachable from here". Requiring all of them
    /// would turn every replica not-ready while one master fails over, taking away from the load
    /// balancer the replicas that still serve the other masters' accounts (every replica sees the
    /// same cluster, so none would do better); a replica cut off from the whole cluster still
    /// turns not-ready, and traffic goes to those that are not.
    pub(crate) async fn ping(&mut self) -> RedisResult<()> {
        let ping = redis::cmd("PING");
        match self {
            Connection::Single(conn) => ping.query_async::<String>(conn).await.map(drop),
            Connection::Cluster(conn) => {
                let any_master = RoutingInfo::MultiNode((
                    MultipleNodeRoutingInfo::AllMasters,
                    Some(ResponsePolicy::OneSucceeded),
                ));
                conn.route_command(ping, any_master).await.map(drop)
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        if cfg!(debug_assertions) {
            check_single_slot(cmd);
        }
        match self {
            Connection::Single(conn) => conn.req_packed_command(cmd),
            Connection::Cluster(conn) => Box::pin(cluster_command(conn, cmd)),
        }
    }

    /// The store's pipelines are reads of one account's keys (one slot), so a redirected one is
    /// simply sent again whole.
    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(conn) => Box::pin(async move {
                let mut pause = PAUSE_MIN;
                let mut round = 0;
                loop {
                    match conn.req_packed_commands(pipeline, offset, count).await {
                        Err(e) if round < REDIRECT_ROUNDS && not_run(&e).is_some() => {
                            round += 1;
                            tokio::time::sleep(pause).await;
                            pause = (pause * 2).min(PAUSE_MAX);
                        }
                        other => return other,
                    }
                }
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(conn) => conn.get_db(),
            Connection::Cluster(_) => 0,
        }
    }
}

/// What to do with an error that proves the command did not run; None for any other error.
enum Redirect<'e> {
    /// Send it again, routed by slot (after a pause).
    Again,
    /// `ASKING` + the command on this node (`host:port`).
    Ask(&'e str),
}

fn not_run(e: &RedisError) -> Option<Redirect<'_>> {
    match e.kind() {
        ErrorKind::Server(ServerErrorKind::Ask) => {
            e.redirect_node().map(|(addr, _)| Redirect::Ask(addr))
        }
        ErrorKind::Server(
            ServerErrorKind::Moved
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::BusyLoading
            | ServerErrorKind::ReadOnly,
        ) => Some(Redirect::Again),
        _ => None,
    }
}

async fn cluster_command(conn: &mut ClusterConnection, cmd: &Cmd) -> RedisResult<Value> {
    let mut pause = PAUSE_MIN;
    let mut result = conn.req_packed_command(cmd).await;
    for _ in 0..REDIRECT_ROUNDS {
        let next = match result.as_ref().err().and_then(not_run) {
            None => break,
            Some(Redirect::Ask(addr)) => asking(conn, cmd, addr).await,
            Some(Redirect::Again) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(PAUSE_MAX);
                conn.req_packed_command(cmd).await
            }
        };
        result = next;
    }
    result
}

/// `ASKING` then `cmd` on the node at `addr`, in one pipeline so both use the same connection.
async fn asking(conn: &mut ClusterConnection, cmd: &Cmd, addr: &str) -> RedisResult<Value> {
    let (host, port) = addr
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
        .ok_or_else(|| RedisError::from((ErrorKind::Parse, "ASK redirection without a node")))?;
    let mut pipe = redis::pipe();
    pipe.cmd("ASKING").add_command(cmd.clone());
    let mut replies = conn
        .route_pipeline(pipe, 1, 1, SingleNodeRoutingInfo::ByAddress { host, port })
        .await?;
    match replies.pop() {
        Some(Value::ServerError(e)) => Err(e.into()),
        Some(reply) => Ok(reply),
        None => Err(RedisError::from((
            ErrorKind::Parse,
            "no reply after ASKING",
        ))),
    }
}

/// The debug check of the module doc: a script's KEYS, and the keys it builds from key-prefix
/// ARGVs, all in one slot. KEYS and key prefixes come only from `store::key_names`, never from a client,
/// so a failure is a bug in edgeauth.
fn check_single_slot(cmd: &Cmd) {
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .filter_map(|arg| match arg {
            redis::Arg::Simple(bytes) => Some(bytes),
            _ => None,
        })
        .collect();
    let [name, script, numkeys, rest @ ..] = args.as_slice() else {
        return;
    };
    let evalsha = name.eq_ignore_ascii_case(b"EVALSHA");
    if !evalsha && !name.eq_ignore_ascii_case(b"EVAL") {
        return;
    }
    let Some(numkeys) = std::str::from_utf8(numkeys)
        .ok()
        .and_then(|n| n.parse().ok())
    else {
        return;
    };
    let (keys, argv) = rest.split_at(usize::min(numkeys, rest.len()));
    let Some(first) = keys.first() else {
        return;
    };
    let slot = Slot::for_key(first);
    for key in keys {
        debug_assert!(
            Slot::for_key(key) == slot,
            "script KEYS in two slots: {:?} and {:?}",
            String::from_utf8_lossy(first),
            String::from_utf8_lossy(key)
        );
    }
    if !evalsha {
        return;
    }
    let sha = String::from_utf8_lossy(script);
    for &i in super::scripts::key_prefix_args(&sha) {
        let prefix = argv.get(i.wrapping_sub(1)).copied().unwrap_or_default();
        // Any id the script appends lands in the slot of the prefix's hash tag.
        let built = [prefix, b"00000000-0000-0000-0000-000000000000"].concat();
        debug_assert!(
            Slot::for_key(&built) == slot,
            "script builds keys from ARGV[{i}] {:?} outside the slot of its KEYS[1] {:?}",
            String::from_utf8_lossy(prefix),
            String::from_utf8_lossy(first)
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use redis::Script;
    use uuid::Uuid;

    use super::check_single_slot;
    use crate::store::key_names::Keys;

    fn evalsha(script: &Script, keys: &[String], argv: &[String]) -> redis::Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(script.get_hash()).arg(keys.len());
        for arg in keys.iter().chain(argv) {
            cmd.arg(arg);
        }
        cmd
    }

    fn session_create() -> Script {
        Script::new(include_str!("../../lua/session_create.lua"))
    }

    /// session_create's KEYS and ARGV, with the key prefix of `prefix_of`.
    fn session_create_call(account: Uuid, prefix_of: Uuid) -> redis::Cmd {
        let k = Keys::new("edgeauth:", &[[0; 32]]);
        let family = Uuid::new_v4();
        let keys = [
            k.account(account),
            k.sessions(account),
            k.session(account, family),
        ];
        let mut argv: Vec<String> = ["1", "2", "3", "4"].map(String::from).to_vec();
        argv.push(k.session_prefix(prefix_of));
        argv.extend([family.to_string(), "agent {x}:".into(), "::1".into()]);
        evalsha(&session_create(), &keys, &argv)
    }

    #[test]
    fn one_accounts_keys_and_prefixes_pass() {
        let a = Uuid::new_v4();
        check_single_slot(&session_create_call(a, a));
    }

    #[test]
    #[should_panic(expected = "script KEYS in two slots")]
    fn keys_of_two_accounts_are_caught() {
        let k = Keys::new("edgeauth:", &[[0; 32]]);
        let keys = [k.account(Uuid::new_v4()), k.account(Uuid::new_v4())];
        check_single_slot(&evalsha(&session_create(), &keys, &[]));
    }

    #[test]
    #[should_panic(expected = "outside the slot of its KEYS[1]")]
    fn a_key_prefix_of_another_account_is_caught() {
        check_single_slot(&session_create_call(Uuid::new_v4(), Uuid::new_v4()));
    }

    #[test]
    fn other_commands_and_unknown_scripts_are_not_judged() {
        check_single_slot(redis::cmd("MGET").arg("a").arg("b"));
        let k = Keys::new("edgeauth:", &[[0; 32]]);
        let other = Script::new("return 1");
        // An unknown script: only its KEYS are checked (one here), no ARGV is taken for a prefix.
        check_single_slot(&evalsha(
            &other,
            &[k.account(Uuid::new_v4())],
            &[k.session_prefix(Uuid::new_v4())],
        ));
    }
}
