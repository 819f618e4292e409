//! Re-sealing under a new data key: what the store offers `edgeauth rekey` (see `crate::rekey`)
//! and the re-seal on use of the MFA handlers.
//!
//! - [`Store::mfa_reseal`]: `mfa_reseal.lua`, a compare-and-set that swaps a sealed TOTP secret
//!   (the active `mfa` field of the account hash, or the pending secret) for the same secret
//!   sealed under the current key, only if the stored value is still the one that was opened.
//! - [`Store::next_accounts`]: every account id, a page at a time, by `SCAN` over the account
//!   hashes — on a Redis Cluster over every master, each with its own cursor (a `SCAN` sent
//!   through the cluster client would reach one node only).
//! - [`Store::mfa_sealed`]: the sealed values and recovery digests of one account (reads only).
//!
//! Like the rest of `store`, nothing here opens or seals anything: the caller does the crypto.

use redis::Value;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use uuid::Uuid;

use super::{Connection, Store, StoreResult, bad_reply};

/// Where a sealed TOTP secret lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedField {
    /// The active secret (field `mfa` of the account hash).
    Active,
    /// The pending secret (generated, not yet enabled).
    Pending,
}

/// What one account holds sealed or keyed by a data key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealedMfa {
    pub active: Option<String>,
    pub pending: Option<String>,
    /// Recovery-code digests (`<key id>:<mac>`).
    pub recovery: Vec<String>,
}

/// Progress of a walk over every account (see [`Store::next_accounts`]).
#[derive(Debug, Default)]
pub struct AccountScan {
    /// The nodes still to walk, the current one first: `None` for the single Redis, a master's
    /// address on a cluster. Unset until the first page.
    nodes: Option<Vec<Option<(String, u16)>>>,
    cursor: u64,
}

/// Keys per `SCAN` call: a hint to Redis, which may return more or fewer.
const SCAN_COUNT: u64 = 1000;

impl Store {
    /// One script (`mfa_reseal.lua`): replaces `old` by `new` at `field` if the stored value is
    /// still `old`. True when replaced; false when the value changed or is gone.
    pub async fn mfa_reseal(
        &self,
        account: Uuid,
        field: SealedField,
        old: &str,
        new: &str,
    ) -> StoreResult<bool> {
        self.run("mfa_reseal", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let replaced: i64 = s
                .mfa_reseal
                .key(k.account(account))
                .key(k.mfa_pending(account))
                .arg(match field {
                    SealedField::Active => "active",
                    SealedField::Pending => "pending",
                })
                .arg(old)
                .arg(new)
                .invoke_async(&mut conn)
                .await?;
            Ok(replaced == 1)
        })
        .await
    }

    /// `HGET mfa`, `GET` of the pending secret and `SMEMBERS` of the recovery set, in one
    /// pipeline (one slot).
    pub async fn mfa_sealed(&self, account: Uuid) -> StoreResult<SealedMfa> {
        self.run("mfa_sealed", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            let (active, pending, recovery): (Option<String>, Option<String>, Vec<String>) =
                redis::pipe()
                    .cmd("HGET")
                    .arg(k.account(account))
                    .arg("mfa")
                    .cmd("GET")
                    .arg(k.mfa_pending(account))
                    .cmd("SMEMBERS")
                    .arg(k.recovery(account))
                    .query_async(&mut conn)
                    .await?;
            Ok(SealedMfa {
                active,
                pending,
                recovery,
            })
        })
        .await
    }

    /// The next page of account ids, or None once every node has been walked. `SCAN` may return
    /// an account twice (a rehash during the walk); it never misses one that existed throughout.
    pub async fn next_accounts(&self, scan: &mut AccountScan) -> StoreResult<Option<Vec<Uuid>>> {
        self.run("next_accounts", async {
            let mut conn = self.conn().await?;
            if scan.nodes.is_none() {
                scan.nodes = Some(match &mut conn {
                    Connection::Single(_) => vec![None],
                    Connection::Cluster(cluster) => {
                        masters(cluster).await?.into_iter().map(Some).collect()
                    }
                });
            }
            let Some(node) = scan.nodes.as_ref().and_then(|n| n.first().cloned()) else {
                return Ok(None);
            };
            let pattern = format!("{}{{*}}:account", glob_escape(self.keys().prefix()));
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(scan.cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT);
            let reply = match (&mut conn, node) {
                (Connection::Single(single), None) => cmd.query_async(single).await?,
                (Connection::Cluster(cluster), Some((host, port))) => {
                    let at = SingleNodeRoutingInfo::ByAddress { host, port };
                    cluster
                        .route_command(cmd, RoutingInfo::SingleNode(at))
                        .await?
                }
                _ => return Err(bad_reply("scan: connection kind changed")),
            };
            let (cursor, keys): (u64, Vec<String>) =
                redis::from_redis_value(reply).map_err(|e| bad_reply(format!("SCAN: {e}")))?;
            scan.cursor = cursor;
            if cursor == 0 {
                if let Some(nodes) = scan.nodes.as_mut() {
                    nodes.remove(0);
                }
            }
            Ok(Some(
                keys.iter()
                    .filter_map(|key| self.keys().account_id(key))
                    .collect(),
            ))
        })
        .await
    }
}

/// The masters of a cluster (`CLUSTER SLOTS`: for every slot range, its master's address first).
async fn masters(
    cluster: &mut redis::cluster_async::ClusterConnection,
) -> StoreResult<Vec<(String, u16)>> {
    let reply = cluster
        .route_command(
            redis::cmd("CLUSTER").arg("SLOTS").clone(),
            RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
        )
        .await?;
    let Value::Array(ranges) = reply else {
        return Err(bad_reply("CLUSTER SLOTS is not an array"));
    };
    let mut out: Vec<(String, u16)> = Vec::new();
    for range in ranges {
        let Value::Array(mut parts) = range else {
            return Err(bad_reply("CLUSTER SLOTS range is not an array"));
        };
        if parts.len() < 3 {
            return Err(bad_reply("CLUSTER SLOTS range without a master"));
        }
        let (host, port): (String, u16) = match parts.swap_remove(2) {
            Value::Array(node) if node.len() >= 2 => {
                let mut node = node.into_iter();
                let host = node.next().map(redis::from_redis_value::<String>);
                let port = node.next().map(redis::from_redis_value::<u16>);
                match (host, port) {
                    (Some(Ok(host)), Some(Ok(port))) if !host.is_empty() => (host, port),
                    _ => return Err(bad_reply("CLUSTER SLOTS master without an address")),
                }
            }
            _ => return Err(bad_reply("CLUSTER SLOTS master is not an array")),
        };
        if !out.iter().any(|(h, p)| *h == host && *p == port) {
            out.push((host, port));
        }
    }
    Ok(out)
}

/// `prefix` with Redis glob metacharacters escaped, for a `MATCH` pattern.
fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::collections::HashSet;

    use super::super::test_redis::TestRedis;
    use super::super::{MfaChange, NewAccount, Registration};
    use super::*;

    #[test]
    fn glob_metacharacters_are_escaped() {
        assert_eq!(glob_escape("edgeauth:"), "edgeauth:");
        assert_eq!(glob_escape("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:");
    }

    async fn registered(store: &Store, email: &str) -> Uuid {
        let id = Uuid::new_v4();
        let new = NewAccount {
            id,
            email,
            password: "$scrypt$x",
            active: true,
            now_ms: 1_700_000_000_000,
        };
        assert_eq!(store.register(new).await.unwrap(), Registration::Created);
        id
    }

    #[tokio::test]
    async fn reseal_is_a_compare_and_set_that_keeps_the_pending_ttl() {
        let redis = TestRedis::start();
        let store = redis.store();
        let id = registered(&store, "a@example.com").await;
        // Nothing stored yet: nothing replaced.
        assert!(
            !store
                .mfa_reseal(id, SealedField::Active, "old", "new")
                .await
                .unwrap()
        );
        assert!(
            !store
                .mfa_reseal(id, SealedField::Pending, "old", "new")
                .await
                .unwrap()
        );

        assert_eq!(
            store.mfa_set_pending(id, "p-old", 600_000).await.unwrap(),
            Some(MfaChange::Done)
        );
        assert!(
            !store
                .mfa_reseal(id, SealedField::Pending, "other", "x")
                .await
                .unwrap()
        );
        assert!(
            store
                .mfa_reseal(id, SealedField::Pending, "p-old", "p-new")
                .await
                .unwrap()
        );
        let sealed = store.mfa_sealed(id).await.unwrap();
        assert_eq!(sealed.pending.as_deref(), Some("p-new"));
        let mut raw = redis.raw().await;
        let ttl: i64 = redis::cmd("PTTL")
            .arg(store.keys().mfa_pending(id))
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!((1..=600_000).contains(&ttl), "{ttl}");

        assert_eq!(
            store.mfa_enable(id, "p-new", 7).await.unwrap(),
            MfaChange::Done
        );
        assert!(
            !store
                .mfa_reseal(id, SealedField::Active, "p-old", "x")
                .await
                .unwrap()
        );
        assert!(
            store
                .mfa_reseal(id, SealedField::Active, "p-new", "a-new")
                .await
                .unwrap()
        );
        let state = store.mfa_state(id).await.unwrap().unwrap();
        assert_eq!(state.active.as_deref(), Some("a-new"));
        assert_eq!(state.last_step, 7, "the replay guard is untouched");
        // The old value no longer matches: a second re-seal from it is refused.
        assert!(
            !store
                .mfa_reseal(id, SealedField::Active, "p-new", "y")
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn the_scan_finds_every_account_and_nothing_else() {
        let redis = TestRedis::start();
        let store = redis.store();
        let mut ids = HashSet::new();
        for i in 0..2500 {
            ids.insert(registered(&store, &format!("u{i}@example.com")).await);
        }
        let mut found = HashSet::new();
        let mut scan = AccountScan::default();
        while let Some(page) = store.next_accounts(&mut scan).await.unwrap() {
            found.extend(page);
        }
        assert_eq!(found, ids);
        assert_eq!(store.next_accounts(&mut scan).await.unwrap(), None);
    }
}
