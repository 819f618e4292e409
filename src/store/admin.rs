//! What the admin API reads and changes beyond the self-service paths: the account index that
//! lists every account a page at a time, account summaries, activation without a ticket, and
//! clearing rate-limit counters.
//!
//! # Listing every account: an index, not `SCAN`
//!
//! `SCAN` walks a Redis keyspace without blocking it, but may return a key twice (when the table
//! rehashes during the walk), and a listing must give each account exactly once. So the store
//! keeps an index: 16 sorted sets, `P{account_index:<h>}`, shard `h` holding the ids whose first
//! hex digit is `h`, every score 0, so `ZRANGEBYLEX` walks a shard in id order from any id on.
//! Each shard is its own hash tag: on a Redis Cluster the shards spread over the masters, and a
//! page never needs to ask every node. A cursor is (shard, last id given): the walk resumes right
//! after it, so an id present throughout is given exactly once, an id added meanwhile at most once.
//!
//! The index is kept by the account's own life:
//! - registration adds the id *before* it writes the account (see `store/accounts.rs`), so no
//!   account, not even a provisional one, exists unindexed; the paths where registration gives up
//!   take the id out again;
//! - removal takes it out *after* deleting the account.
//!
//! An id whose account is gone or still provisional (a registration in flight, or one that died
//! between the two steps) is skipped when read — never deleted then, as it may be a registration
//! about to write its account.
//!
//! Accounts made before the index existed are added by a backfill: the first walk (a listing
//! with no cursor) finds the marker `P account_index:ready` unset, adds every account id found by
//! `SCAN` on every master (adding twice is harmless), then sets the marker. Idempotent, so two
//! replicas may both run it.

use std::collections::HashMap;

use redis::AsyncCommands;
use uuid::Uuid;

use super::rekey::AccountScan;
use super::{Store, StoreResult, bad_reply};

/// Shards of the account index (one per first hex digit of an id).
pub const INDEX_SHARDS: u8 = 16;

/// Where a walk over the account index stands: the next id comes after `after` in shard `shard`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexCursor {
    pub shard: u8,
    /// The last id given (None: the shard's start).
    pub after: Option<Uuid>,
}

/// An account as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    pub id: Uuid,
    pub email: String,
    pub active: bool,
    pub locked: bool,
    pub locked_reason: Option<String>,
    /// Unix ms.
    pub created_at: u64,
    /// Unix ms of the newest session (None: never signed in since this was recorded).
    pub last_login_at: Option<u64>,
    pub mfa: bool,
    pub passkeys: u64,
    pub sessions: u64,
}

/// The shard of an account id.
pub fn shard_of(id: Uuid) -> u8 {
    id.as_bytes()[0] >> 4
}

impl Store {
    /// `account_index.lua`: adds (`add`) or removes the ids of `ids`, all of one shard.
    pub(super) async fn index_change(
        &self,
        conn: &mut super::Connection,
        shard: u8,
        add: bool,
        ids: &[Uuid],
    ) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut inv = self
            .scripts()
            .account_index
            .key(self.keys().account_index(shard));
        inv.arg(if add { "add" } else { "remove" });
        for id in ids {
            inv.arg(id.to_string());
        }
        let _: i64 = inv.invoke_async(conn).await?;
        Ok(())
    }

    /// Adds every account made before the index existed, once (see the module doc). Walks the
    /// account hashes with `SCAN` on every master.
    pub async fn backfill_account_index(&self) -> StoreResult<()> {
        let ready: Option<String> = self
            .run("account_index_ready", async {
                let mut conn = self.conn().await?;
                Ok(conn.get(self.keys().account_index_ready()).await?)
            })
            .await?;
        if ready.is_some() {
            return Ok(());
        }
        let mut scan = AccountScan::default();
        while let Some(ids) = self.next_accounts(&mut scan).await? {
            self.run("account_index_backfill", async {
                let mut conn = self.conn().await?;
                for shard in 0..INDEX_SHARDS {
                    let of: Vec<Uuid> = ids
                        .iter()
                        .copied()
                        .filter(|id| shard_of(*id) == shard)
                        .collect();
                    self.index_change(&mut conn, shard, true, &of).await?;
                }
                Ok(())
            })
            .await?;
        }
        self.run("account_index_ready", async {
            let mut conn = self.conn().await?;
            // A marker, not account state: one plain SET.
            let _: () = conn.set(self.keys().account_index_ready(), "1").await?;
            Ok(())
        })
        .await
    }

    /// Up to `limit` summaries from `from` on, and where the next page starts (None: the walk is
    /// over). Ids whose account is missing or provisional are skipped, so a page may be shorter
    /// than `limit` while the walk goes on.
    pub async fn account_page(
        &self,
        from: IndexCursor,
        limit: usize,
    ) -> StoreResult<(Vec<AccountSummary>, Option<IndexCursor>)> {
        let mut ids: Vec<Uuid> = Vec::with_capacity(limit);
        let mut cursor = from;
        let mut next = None;
        while cursor.shard < INDEX_SHARDS {
            let want = limit - ids.len();
            let start = match cursor.after {
                Some(id) => format!("({id}"),
                None => "-".to_owned(),
            };
            let key = self.keys().account_index(cursor.shard);
            let got: Vec<String> = self
                .run("account_index_page", async {
                    let mut conn = self.conn().await?;
                    Ok(redis::cmd("ZRANGEBYLEX")
                        .arg(&key)
                        .arg(&start)
                        .arg("+")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(want)
                        .query_async(&mut conn)
                        .await?)
                })
                .await?;
            let full = got.len() == want;
            for member in &got {
                ids.push(Uuid::parse_str(member).map_err(|_| bad_reply("account index member"))?);
            }
            if full {
                next = Some(IndexCursor {
                    shard: cursor.shard,
                    after: ids.last().copied(),
                });
                break;
            }
            cursor = IndexCursor {
                shard: cursor.shard + 1,
                after: None,
            };
        }
        let summaries = self.account_summaries(&ids).await?;
        Ok((summaries.into_iter().flatten().collect(), next))
    }

    /// The summaries of `ids`, in order (None for a missing or provisional account): one pipeline
    /// per account on its own slot, the pipelines sent concurrently.
    pub async fn account_summaries(
        &self,
        ids: &[Uuid],
    ) -> StoreResult<Vec<Option<AccountSummary>>> {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, id) in ids.iter().copied().enumerate() {
            let store = self.clone();
            tasks.spawn(async move { (i, store.account_summary(id).await) });
        }
        let mut out = vec![None; ids.len()];
        while let Some(done) = tasks.join_next().await {
            let (i, summary) = done.map_err(|e| bad_reply(format!("summary task: {e}")))?;
            if let Some(slot) = out.get_mut(i) {
                *slot = summary?;
            }
        }
        Ok(out)
    }

    /// One account's summary: `HGETALL` of the account, `HLEN` of its passkeys and `ZCARD` of
    /// its sessions, in one pipeline (one slot). None for a missing or provisional account.
    pub async fn account_summary(&self, id: Uuid) -> StoreResult<Option<AccountSummary>> {
        self.run("account_summary", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            let (mut f, passkeys, sessions): (HashMap<String, String>, u64, u64) = redis::pipe()
                .cmd("HGETALL")
                .arg(k.account(id))
                .cmd("HLEN")
                .arg(k.passkeys(id))
                .cmd("ZCARD")
                .arg(k.sessions(id))
                .query_async(&mut conn)
                .await?;
            if f.get("ready").map(String::as_str) != Some("1") {
                return Ok(None);
            }
            let number = |v: Option<&String>, what: &str| -> StoreResult<Option<u64>> {
                v.map(|v| v.parse().map_err(|_| bad_reply(format!("account {what}"))))
                    .transpose()
            };
            let created_at = number(f.get("created_at"), "created_at")?.unwrap_or(0);
            let last_login_at = number(f.get("last_login_at"), "last_login_at")?;
            let locked = f.get("locked").map(String::as_str) == Some("1");
            Ok(Some(AccountSummary {
                id,
                email: f.remove("email").unwrap_or_default(),
                active: f.get("active").map(String::as_str) == Some("1"),
                locked,
                locked_reason: f.remove("locked_reason").filter(|_| locked),
                created_at,
                last_login_at,
                mfa: f.contains_key("mfa"),
                passkeys,
                sessions,
            }))
        })
        .await
    }

    /// `account_activate.lua`: activates the account without a ticket. false when it is missing
    /// (or provisional).
    pub async fn activate_account(&self, id: Uuid) -> StoreResult<bool> {
        self.run("activate_account", async {
            let mut conn = self.conn().await?;
            let done: i64 = self
                .scripts()
                .account_activate
                .key(self.keys().account(id))
                .invoke_async(&mut conn)
                .await?;
            Ok(done == 1)
        })
        .await
    }

    /// `rate_clear.lua` for each kind: forgets the counters of `subject` (as the rate limiter
    /// was given it) under every kind of `kinds`. Returns how many counters existed.
    pub async fn rate_clear(&self, kinds: &[&str], subject: &str) -> StoreResult<u64> {
        self.run("rate_clear", async {
            let mut conn = self.conn().await?;
            let mut cleared = 0;
            for kind in kinds {
                let n: u64 = self
                    .scripts()
                    .rate_clear
                    .key(self.keys().rate(kind, subject))
                    .invoke_async(&mut conn)
                    .await?;
                cleared += n;
            }
            Ok(cleared)
        })
        .await
    }
}
