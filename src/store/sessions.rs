//! Sessions: one refresh-token family each, with its generation counter and metadata (never token
//! material).
//!
//! `P{A}:session:F` holds the family; the zset `P{A}:sessions` indexes an account's families by
//! last use, so the cap can evict the least recently used and removal can find them all. Both
//! slide: every write renews their TTL, and the zset's is renewed whenever a hash's is, so it never
//! expires before a live family.

use redis::AsyncCommands;
use std::sync::atomic::Ordering;

use uuid::Uuid;

use super::edge_sessions::EdgeLifetimes;
use super::{Store, StoreResult, bad_reply};

/// The password change lives with every other password write (`store/passwords.rs`); its outcome
/// is still named here for the callers that import it from this module.
pub use super::passwords::PasswordChange;

/// Longest user agent kept, in bytes.
const USER_AGENT_MAX: usize = 256;

#[derive(Debug, Clone, Copy)]
pub struct SessionMeta<'a> {
    /// Truncated to 256 bytes (at a char boundary).
    pub user_agent: &'a str,
    pub ip: &'a str,
}

/// A session (refresh family) to start.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub account: Uuid,
    pub family: Uuid,
    pub meta: SessionMeta<'a>,
    pub now_ms: u64,
    /// The idle lifetime, already capped by the absolute one.
    pub ttl_ms: u64,
    /// The longest idle lifetime any family of the account may have been given, whatever its
    /// kind (an API client's refresh TTL, a browser's idle timeout): only families unused for
    /// longer than this (and than `ttl_ms`) are pruned as expired. The new family's own TTL
    /// alone would take a live family of a longer-lived kind for expired.
    pub prune_after_ms: u64,
    /// Families kept per account (the least recently used goes).
    pub cap: u32,
    /// The credential version the password or ticket was checked under.
    pub credential_version: u64,
    /// Unix seconds of the credential proof, kept for every access token refreshed from it.
    pub auth_time: u64,
    /// How the user authenticated (`auth::amr` bits), kept like `auth_time`.
    pub amr: u8,
    /// A browser sign-in: the family is also an edge session (see `edge_sessions`).
    pub browser: bool,
}

/// What a rotation found: its outcome, and the family's `auth_time` (unix seconds; None for a
/// family made before it was recorded) and `amr` bits (0 when not recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotated {
    pub rotation: Rotation,
    pub auth_time: Option<u64>,
    pub amr: u8,
}

/// One live session (refresh family) as `GET /auth/sessions` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: Uuid,
    /// Unix ms.
    pub created_at: u64,
    /// Unix ms: login or last refresh.
    pub last_used_at: u64,
    pub user_agent: String,
    pub ip: String,
}

/// What asking for a new session came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStart {
    Created,
    /// No such ready account, or its credential version moved on.
    Refused,
    /// The account is locked.
    Locked,
}

/// The outcome of presenting generation g of a family (README, "Endpoints").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// g was current: the family moved to this generation.
    Advanced(u64),
    /// g was the previous one, within the grace: hand out this (current) generation again.
    Repeated(u64),
    /// Any other generation: the family has been revoked.
    Reused,
    /// No such family (expired, revoked, evicted).
    Unknown,
    /// The account is locked: the family (if it was still there) has been deleted.
    Locked,
}

impl Store {
    /// Creates the family of `session` at generation 0 for an existing ready account; prunes
    /// expired members, enforces the cap by evicting least-recently-used families (deleting their
    /// hashes). false when the account does not exist, or its credential version is no longer
    /// `credential_version` (the one its password or MFA ticket was checked under: a reset or
    /// change landed meanwhile).
    pub async fn create_session(&self, session: NewSession<'_>) -> StoreResult<bool> {
        Ok(self.start_session(session).await? == SessionStart::Created)
    }

    /// [`Store::create_session`], telling a locked account apart.
    pub async fn start_session(&self, session: NewSession<'_>) -> StoreResult<SessionStart> {
        let NewSession {
            account,
            family,
            meta,
            now_ms,
            ttl_ms,
            prune_after_ms,
            cap,
            credential_version,
            auth_time,
            amr,
            browser,
        } = session;
        self.run("create_session", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            let ttl_ms = ttl_ms.max(1);
            let created: i64 = self
                .scripts()
                .session_create
                .key(k.account(account))
                .key(k.sessions(account))
                .key(k.session(account, family))
                .arg(now_ms)
                .arg(ttl_ms)
                .arg(cap.max(1))
                .arg(now_ms.saturating_sub(prune_after_ms.max(ttl_ms)))
                .arg(k.session_prefix(account))
                .arg(family.to_string())
                .arg(truncate(meta.user_agent, USER_AGENT_MAX))
                .arg(meta.ip)
                .arg(credential_version)
                .arg(auth_time)
                .arg(amr)
                .arg(if browser { "1" } else { "0" })
                .invoke_async(&mut conn)
                .await?;
            Ok(match created {
                1 => SessionStart::Created,
                -1 => SessionStart::Locked,
                _ => SessionStart::Refused,
            })
        })
        .await
    }

    /// Rotation in one script: presented g, current c:
    ///  g == c → c+1 (rotated_at = last_used_at = now, renew TTLs) → Advanced(c+1)
    ///  g == c-1 and grace_ms > 0 and now - rotated_at <= grace_ms → Repeated(c)  (no change)
    ///  family missing → Unknown; anything else → delete the family → Reused;
    ///  the account locked → delete the family → Locked (checked first)
    pub async fn rotate_session(
        &self,
        account: Uuid,
        family: Uuid,
        generation: u64,
        now_ms: u64,
        grace_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<Rotation> {
        self.rotate_session_within(
            account,
            family,
            generation,
            now_ms,
            grace_ms,
            ttl_ms,
            u64::MAX,
            None,
        )
        .await
        .map(|rotated| rotated.rotation)
    }

    /// [`Store::rotate_session`] for a family that lives at most `max_age_ms` since its creation
    /// (older: deleted → Unknown; a renewal never reaches past it), with the family's auth_time
    /// and amr. A family a browser sign-in made also keeps `edge`'s idle timeout and absolute
    /// lifetime for its refresh tokens (none given: unbounded), and a rotation counts as a use
    /// of its edge session.
    #[allow(clippy::too_many_arguments)]
    pub async fn rotate_session_within(
        &self,
        account: Uuid,
        family: Uuid,
        generation: u64,
        now_ms: u64,
        grace_ms: u64,
        ttl_ms: u64,
        max_age_ms: u64,
        edge: Option<EdgeLifetimes>,
    ) -> StoreResult<Rotated> {
        self.run("rotate_session", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            // Lua numbers are doubles: keep the lifetime well inside their exact integers.
            let max_age_ms = max_age_ms.clamp(1, 1 << 50);
            let (edge_idle_ms, edge_max_age_ms) =
                edge.map_or((1 << 50, 1 << 50), |e| (e.idle_ms, e.max_age_ms));
            let (status, generation, auth_time, amr): (String, u64, u64, u64) = self
                .scripts()
                .session_rotate
                .key(k.session(account, family))
                .key(k.sessions(account))
                .key(k.account(account))
                .arg(family.to_string())
                .arg(generation)
                .arg(now_ms)
                .arg(grace_ms)
                .arg(ttl_ms.max(1))
                .arg(max_age_ms)
                .arg(edge_idle_ms.clamp(1, 1 << 50))
                .arg(edge_max_age_ms.clamp(1, 1 << 50))
                .invoke_async(&mut conn)
                .await?;
            let rotation = match status.as_str() {
                "advanced" => Rotation::Advanced(generation),
                "repeated" => Rotation::Repeated(generation),
                "reused" => {
                    self.forget_sessions(account, Some(family));
                    Rotation::Reused
                }
                "unknown" => {
                    self.forget_sessions(account, Some(family));
                    Rotation::Unknown
                }
                "locked" => {
                    self.forget_sessions(account, Some(family));
                    Rotation::Locked
                }
                other => return Err(bad_reply(format!("rotation status {other:?}"))),
            };
            Ok(Rotated {
                rotation,
                auth_time: (auth_time > 0).then_some(auth_time),
                amr: u8::try_from(amr).map_err(|_| bad_reply("session amr"))?,
            })
        })
        .await
    }

    /// One EXISTS (what `/auth/verify` asks per request).
    ///
    /// The hot path of every Bearer request. A session seen to exist is trusted for
    /// `session_cache_ttl` without asking Redis again: a revocation through this replica forgets
    /// it at once ([`Store::forget_sessions`]), one through another replica is seen when the
    /// entry expires. Absence is never cached. `now` (unix ms) dates the cache entries.
    pub async fn session_exists(&self, account: Uuid, family: Uuid, now: u64) -> StoreResult<bool> {
        let inner = &self.inner;
        if inner.session_cache_ms > 0 && inner.seen_sessions.get(&(account, family), now).is_some()
        {
            return Ok(true);
        }
        let epoch = inner.revocations.load(Ordering::SeqCst);
        let exists = self
            .run("session_exists", async {
                let mut conn = self.conn().await?;
                Ok(conn.exists(self.keys().session(account, family)).await?)
            })
            .await?;
        // A revocation that finished while we asked may have deleted what we saw: don't cache it.
        if exists && inner.session_cache_ms > 0 && inner.revocations.load(Ordering::SeqCst) == epoch
        {
            inner
                .seen_sessions
                .insert((account, family), (), now + inner.session_cache_ms);
        }
        Ok(exists)
    }

    /// Forgets cached sessions after a revocation through this replica: one family, or every
    /// family of the account. Called after the revoking script has run.
    pub(super) fn forget_sessions(&self, account: Uuid, family: Option<Uuid>) {
        let inner = &self.inner;
        inner.revocations.fetch_add(1, Ordering::SeqCst);
        match family {
            Some(family) => {
                inner.seen_sessions.remove(&(account, family));
                inner.seen_edge_sessions.remove(&(account, family));
                inner.seen_identities.remove(&(account, family));
            }
            None => {
                inner.seen_sessions.remove_where(|(a, _), _| *a == account);
                inner
                    .seen_edge_sessions
                    .remove_where(|(a, _), _| *a == account);
                inner
                    .seen_identities
                    .remove_where(|(a, _), _| *a == account);
            }
        }
    }

    /// false when the family did not exist.
    pub async fn revoke_session(&self, account: Uuid, family: Uuid) -> StoreResult<bool> {
        self.run("revoke_session", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            let existed: i64 = self
                .scripts()
                .session_revoke
                .key(k.session(account, family))
                .key(k.sessions(account))
                .arg(family.to_string())
                .invoke_async(&mut conn)
                .await?;
            self.forget_sessions(account, Some(family));
            Ok(existed == 1)
        })
        .await
    }

    /// The account's live sessions, most recently used first (one script, O(sessions)).
    pub async fn list_sessions(&self, account: Uuid) -> StoreResult<Vec<SessionInfo>> {
        self.run("list_sessions", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            let flat: Vec<String> = self
                .scripts()
                .sessions_list
                .key(k.sessions(account))
                .arg(k.session_prefix(account))
                .invoke_async(&mut conn)
                .await?;
            flat.chunks_exact(5)
                .map(|f| {
                    let number = |s: &str| s.parse::<u64>().map_err(|_| bad_reply("session time"));
                    Ok(SessionInfo {
                        id: Uuid::parse_str(&f[0]).map_err(|_| bad_reply("session id"))?,
                        created_at: number(&f[1])?,
                        last_used_at: number(&f[2])?,
                        user_agent: f[3].clone(),
                        ip: f[4].clone(),
                    })
                })
                .collect()
        })
        .await
    }

    /// Revokes every family of the account; returns how many existed.
    pub async fn revoke_all_sessions(&self, account: Uuid) -> StoreResult<u64> {
        self.run("revoke_all_sessions", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            let revoked: u64 = self
                .scripts()
                .sessions_revoke_all
                .key(k.sessions(account))
                .arg(k.session_prefix(account))
                .invoke_async(&mut conn)
                .await?;
            self.forget_sessions(account, None);
            Ok(revoked)
        })
        .await
    }

    /// The family's current generation (tests, diagnostics).
    pub async fn session_generation(
        &self,
        account: Uuid,
        family: Uuid,
    ) -> StoreResult<Option<u64>> {
        self.run("session_generation", async {
            let mut conn = self.conn().await?;
            Ok(conn
                .hget(self.keys().session(account, family), "gen")
                .await?)
        })
        .await
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let end = (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("abc", 256), "abc");
        assert_eq!(truncate("abcdef", 4), "abcd");
        assert_eq!(truncate("aé", 2), "a"); // 'é' is two bytes
        assert_eq!(truncate(&"x".repeat(300), 256).len(), 256);
    }
}
