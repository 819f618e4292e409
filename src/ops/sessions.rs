//! The signed-in view of the caller's sessions: list them, end one.
//!
//! Imports `ops::common` only among the operations; never the HTTP library,
//! the request type, the adapters or the router.

use uuid::Uuid;

use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::ops::common::Caller;

/// One session of the caller's account.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: Uuid,
    /// Unix ms.
    pub created_at: u64,
    /// Unix ms.
    pub last_used_at: u64,
    pub user_agent: String,
    pub ip: String,
    /// Whether this is the caller's own session.
    pub current: bool,
}

/// The caller's sessions, most recently used first.
pub async fn list(app: &App, caller: &Caller) -> ApiResult<Vec<SessionInfo>> {
    Ok(app
        .store
        .list_sessions(caller.account)
        .await?
        .into_iter()
        .map(|s| SessionInfo {
            current: s.id == caller.session,
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            user_agent: s.user_agent,
            ip: s.ip,
        })
        .collect())
}

/// Ends session `id` of the caller's account: whether it was the caller's
/// own. An id of another account's session is `404`, like one that never
/// existed.
pub async fn revoke_one(app: &App, caller: &Caller, id: Uuid) -> ApiResult<bool> {
    // Keys are per account, so another account's session id is simply absent here.
    if !app.store.revoke_session(caller.account, id).await? {
        return Err(Error::NotFound);
    }
    Ok(id == caller.session)
}
