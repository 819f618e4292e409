//! Locking an account (an administrator's decision): while locked no session
//! starts or continues — password, second-factor and passkey sign-ins through
//! every front door answer `account_locked`, and so does a refresh; the lock
//! itself ends every session, MFA login ticket and edge session at once.
//! Unlocking lets sign-ins work again; the sessions the lock ended stay ended.
//!
//! The checks that enforce the lock are in the store's scripts (a session
//! never starts for a locked account, a refresh sees the account's flag in
//! the same round trip) and in the sign-in operations; this module only sets
//! and clears it.
//!
//! Imports no other operation; never the HTTP library, the request type, the
//! adapters or the router.

use uuid::Uuid;

use crate::app::App;
use crate::error::ApiResult;

/// Longest reason kept, in characters (longer ones are cut).
pub const REASON_MAX_CHARS: usize = 500;

/// Locks `account` for `reason` and ends every session it has. This
/// replica's verify caches forget the account's sessions at once; other
/// replicas' within their cache TTL (`EDGEAUTH_VERIFY_CACHE_TTL`, 1 s by
/// default). Locking a locked account replaces the reason and the time.
/// false when there is no such account.
pub async fn lock(app: &App, account: Uuid, reason: &str, now_ms: u64) -> ApiResult<bool> {
    let reason: String = reason.trim().chars().take(REASON_MAX_CHARS).collect();
    let ended = app.store.lock_account(account, &reason, now_ms).await?;
    if let Some(ended) = ended {
        tracing::info!(%account, sessions = ended, "account locked");
    }
    Ok(ended.is_some())
}

/// Unlocks `account` (`now_ms` dates the log line). false when there is no
/// such account.
pub async fn unlock(app: &App, account: Uuid, now_ms: u64) -> ApiResult<bool> {
    let done = app.store.unlock_account(account).await?;
    if done {
        tracing::info!(%account, at = now_ms, "account unlocked");
    }
    Ok(done)
}
