//! Refresh-token families after sign-in: refresh (rotate), log out (end the
//! presented family, or every family of its account), and revoke (sign the
//! caller out everywhere).
//!
//! Imports `ops::common`, `ops::credentials` (the [`Tokens`] type) and
//! `ops::edge` (a browser family's lifetimes) only among the operations; never the HTTP library, the request type, the
//! adapters or the router.

use crate::app::App;
use crate::auth::amr::Amr;
use crate::auth::refresh::RefreshToken;
use crate::error::{ApiResult, Error};
use crate::metrics::Outcome;
use crate::ops::common::{self, Caller};
use crate::ops::credentials::Tokens;
use crate::ops::edge;
use crate::store::events::EventKind;
use crate::store::sessions::{Rotated, Rotation};

/// Rotation with a reuse grace (README, "Endpoints") of the presented
/// refresh token (`None`: none was presented). Every `invalid_refresh_token`
/// is counted here (`refresh_invalid`), whatever made it so.
pub async fn refresh(app: &App, presented: Option<&str>, now_ms: u64) -> ApiResult<Tokens> {
    let result = rotate(app, presented, now_ms).await;
    if matches!(result, Err(Error::InvalidRefreshToken)) {
        app.metrics.outcome(Outcome::RefreshInvalid);
    }
    result
}

async fn rotate(app: &App, presented: Option<&str>, now_ms: u64) -> ApiResult<Tokens> {
    let raw = presented.ok_or(Error::InvalidRefreshToken)?;
    let RefreshToken {
        account_id,
        family_id,
        generation,
    } = app
        .refresh_keys
        .decode(raw)
        .ok_or(Error::InvalidRefreshToken)?;
    // Past its absolute lifetime (EDGEAUTH_REFRESH_MAX_AGE) a family is
    // unknown however recently it was used; the access token keeps the
    // family's auth_time, so refreshing never makes a sign-in look recent.
    let Rotated {
        rotation,
        auth_time,
        amr,
    } = app
        .store
        .rotate_session_within(
            account_id,
            family_id,
            generation,
            now_ms,
            app.config.refresh_reuse_grace.as_millis() as u64,
            app.config.refresh_ttl.as_millis() as u64,
            app.config.refresh_max_age.as_millis() as u64,
            // A browser sign-in's family keeps its edge session's lifetimes.
            Some(edge::lifetimes(app)),
        )
        .await?;
    match rotation {
        Rotation::Advanced(next) | Rotation::Repeated(next) => {
            app.metrics.outcome(Outcome::RefreshSuccess);
            Ok(Tokens {
                account: account_id,
                family: family_id,
                generation: next,
                auth_time,
                // A family's amr is one Tokens made; a stored value we don't
                // know reads as none rather than failing the refresh.
                amr: Amr::from_bits(amr).unwrap_or_default(),
            })
        }
        Rotation::Reused => {
            app.metrics.outcome(Outcome::RefreshReuseDetected);
            app.emit(common::event(
                EventKind::RefreshTokenReused,
                Some(account_id),
                None,
                now_ms,
            ))
            .await?;
            Err(Error::InvalidRefreshToken)
        }
        Rotation::Unknown => Err(Error::InvalidRefreshToken),
        // The token was genuine (its MAC checked) but its account is locked.
        Rotation::Locked => Err(Error::AccountLocked),
    }
}

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutScope {
    /// The presented token's family.
    ThisDevice,
    /// Every family of the account (HBP's `{"all": true}`), as revoke does —
    /// but only when the presented token's family was still alive, so a
    /// token from a revoked family signs nobody out.
    Everywhere,
}

/// Ends the presented refresh token's family (and with
/// [`LogoutScope::Everywhere`] every family of its account). Succeeds
/// whatever the token: a logout never says whether it was valid.
pub async fn logout(
    app: &App,
    presented: Option<&str>,
    scope: LogoutScope,
    now_ms: u64,
) -> ApiResult<()> {
    if let Some(token) = presented.and_then(|raw| app.refresh_keys.decode(raw)) {
        let alive = app
            .store
            .revoke_session(token.account_id, token.family_id)
            .await?;
        if alive && scope == LogoutScope::Everywhere {
            app.store.revoke_all_sessions(token.account_id).await?;
            app.emit(common::event(
                EventKind::TokensRevoked,
                Some(token.account_id),
                None,
                now_ms,
            ))
            .await?;
        }
    }
    Ok(())
}

/// Signs the caller's account out everywhere.
pub async fn revoke(app: &App, caller: &Caller, now_ms: u64) -> ApiResult<()> {
    app.store.revoke_all_sessions(caller.account).await?;
    app.emit(common::event(
        EventKind::TokensRevoked,
        Some(caller.account),
        None,
        now_ms,
    ))
    .await
}
