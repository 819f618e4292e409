//! What `/auth/verify` asks about a session beyond its existence: the edge
//! session cookie's check with its sliding renewal
//! ([`Store::touch_edge_session`]), and the account's email for the gateway
//! ([`Store::session_identity`]).
//!
//! Both are cached per replica like `Store::session_exists`: a session seen
//! alive is trusted for the verify cache's TTL (at most 1 s), a revocation
//! through this replica forgets it at once, absence is never cached. So a
//! busy session costs one Redis round trip per second per replica, and the
//! renewal script writes at most once per renewal interval whatever the
//! number of replicas (it compares the stored `edge_at`).

use std::sync::atomic::Ordering;

use uuid::Uuid;

use super::{Store, StoreResult, bad_reply};

/// A live edge session as the store knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeState {
    /// The account's email now (it may have changed since the sign-in).
    pub email: String,
    /// Unix seconds of the sign-in; None for a session made before it was recorded.
    pub auth_time: Option<u64>,
    /// How the user authenticated (`auth::amr` bits).
    pub amr: u8,
}

/// The lifetimes an edge session is checked against, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct EdgeLifetimes {
    pub idle_ms: u64,
    pub max_age_ms: u64,
    /// The stored last use is rewritten only when older than this.
    pub renew_every_ms: u64,
}

impl Store {
    /// The edge session `family` of `account` when it is alive (renewing its
    /// idle timeout when the last renewal is older than `renew_every_ms`), or
    /// `None`: gone, never a browser session, idle too long or past its
    /// absolute lifetime (then deleted).
    pub async fn touch_edge_session(
        &self,
        account: Uuid,
        family: Uuid,
        now_ms: u64,
        lifetimes: EdgeLifetimes,
    ) -> StoreResult<Option<EdgeState>> {
        let inner = &self.inner;
        if inner.session_cache_ms > 0 {
            if let Some(state) = inner.seen_edge_sessions.get(&(account, family), now_ms) {
                return Ok(Some(state));
            }
        }
        let epoch = inner.revocations.load(Ordering::SeqCst);
        let state = self
            .run("touch_edge_session", async {
                let k = self.keys();
                let mut conn = self.conn().await?;
                // Lua numbers are doubles: keep the lifetimes well inside their exact integers.
                let (status, email, auth_time, amr): (String, String, u64, u64) = self
                    .scripts()
                    .edge_session_touch
                    .key(k.session(account, family))
                    .key(k.sessions(account))
                    .key(k.account(account))
                    .arg(family.to_string())
                    .arg(now_ms)
                    .arg(lifetimes.idle_ms.clamp(1, 1 << 50))
                    .arg(lifetimes.max_age_ms.clamp(1, 1 << 50))
                    .arg(lifetimes.renew_every_ms.min(1 << 50))
                    .invoke_async(&mut conn)
                    .await?;
                match status.as_str() {
                    "live" | "renewed" => Ok(Some(EdgeState {
                        email,
                        auth_time: (auth_time > 0).then_some(auth_time),
                        amr: u8::try_from(amr).map_err(|_| bad_reply("session amr"))?,
                    })),
                    "gone" => Ok(None),
                    other => Err(bad_reply(format!("edge session status {other:?}"))),
                }
            })
            .await?;
        match &state {
            // A revocation that finished while we asked may have deleted what we saw: don't cache.
            Some(state)
                if inner.session_cache_ms > 0
                    && inner.revocations.load(Ordering::SeqCst) == epoch =>
            {
                inner.seen_edge_sessions.insert(
                    (account, family),
                    state.clone(),
                    now_ms + inner.session_cache_ms,
                );
            }
            Some(_) => {}
            None => self.forget_sessions(account, Some(family)),
        }
        Ok(state)
    }

    /// The account's email when session `family` still exists (one read-only
    /// script), for the identity headers of `/auth/verify`.
    pub async fn session_identity(
        &self,
        account: Uuid,
        family: Uuid,
        now_ms: u64,
    ) -> StoreResult<Option<String>> {
        let inner = &self.inner;
        if inner.session_cache_ms > 0 {
            if let Some(email) = inner.seen_identities.get(&(account, family), now_ms) {
                return Ok(Some(email));
            }
        }
        let epoch = inner.revocations.load(Ordering::SeqCst);
        let email: Option<String> = self
            .run("session_identity", async {
                let k = self.keys();
                let mut conn = self.conn().await?;
                Ok(self
                    .scripts()
                    .session_identity
                    .key(k.session(account, family))
                    .key(k.account(account))
                    .invoke_async(&mut conn)
                    .await?)
            })
            .await?;
        if let Some(email) = &email {
            if inner.session_cache_ms > 0 && inner.revocations.load(Ordering::SeqCst) == epoch {
                inner.seen_identities.insert(
                    (account, family),
                    email.clone(),
                    now_ms + inner.session_cache_ms,
                );
            }
        }
        Ok(email)
    }
}
