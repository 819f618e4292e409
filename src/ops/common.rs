//! What every operation shares: the authenticated [`Caller`] (and checking
//! an access token into one), the client a request came from, rate limits,
//! and events.
//!
//! Imports nothing from the other operations, nor the HTTP library, the
//! request type, the adapters or the router.

use uuid::Uuid;

use crate::app::{App, VerifiedToken};
use crate::auth::amr::Amr;
use crate::config::RateLimit;
use crate::error::{ApiResult, Error};
use crate::metrics::Outcome;
use crate::store::events::{Event, EventKind};
use crate::store::rate::RateDecision;

/// The caller of a Bearer endpoint: an account and one of its sessions.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub account: Uuid,
    pub session: Uuid,
    /// The token's `auth_time` (unix seconds of the last credential proof);
    /// None for a token issued before it was recorded.
    pub auth_time: Option<u64>,
    /// How the user authenticated (the token's `amr`, or the edge session's).
    pub amr: Amr,
}

/// Who sent a request, as the adapter read it.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    /// The client IP as a rate-limit subject (an IPv6 client as its network).
    pub rate_subject: &'a str,
    /// The client's own address, as recorded with a session.
    pub address: &'a str,
    /// The `User-Agent`, recorded with a session ("" when absent).
    pub user_agent: &'a str,
}

/// Checks an access token (`None`: none was presented): signature, expiry,
/// issuer/audience, and that its session (`sid`) still exists — revocation
/// and account removal delete the session, so one `EXISTS` covers both.
///
/// A token seen before skips the signature check (its verdict is cached
/// until its `exp`); the session check always runs (see
/// `Store::session_exists` for its own short cache).
pub async fn authenticate(app: &App, token: Option<&str>, now_ms: u64) -> ApiResult<Caller> {
    let verified = verified_token(app, token, now_ms)?;
    if !app
        .store
        .session_exists(verified.account, verified.session, now_ms)
        .await?
    {
        return Err(Error::InvalidToken);
    }
    Ok(Caller {
        account: verified.account,
        session: verified.session,
        auth_time: verified.auth_time,
        amr: verified.amr,
    })
}

/// What an access token says, once its signature, expiry, issuer and
/// audience are checked — but not whether its session is still alive: every
/// caller must still ask the store. A token seen before skips the signature
/// check (its verdict is cached until its `exp`).
pub fn verified_token(app: &App, token: Option<&str>, now_ms: u64) -> ApiResult<VerifiedToken> {
    let token = token.ok_or(Error::InvalidToken)?;
    let digest = token_digest(token);
    if let Some(verified) = app.verified_tokens.get(&digest, now_ms) {
        return Ok(verified);
    }
    let claims = app
        .jwt
        .verify(
            token,
            now_ms / 1000,
            &app.config.jwt_issuer,
            app.config.jwt_audience.as_deref(),
        )
        .map_err(|_| Error::InvalidToken)?;
    let verified = VerifiedToken {
        account: Uuid::parse_str(&claims.sub).map_err(|_| Error::InvalidToken)?,
        session: Uuid::parse_str(&claims.sid).map_err(|_| Error::InvalidToken)?,
        auth_time: claims.auth_time,
        amr: Amr::from_claim(&claims.amr),
    };
    if app.config.verify_cache_entries > 0 {
        let expires_ms = claims.exp.saturating_mul(1000);
        app.verified_tokens.insert(digest, verified, expires_ms);
    }
    Ok(verified)
}

/// The verification cache's key for a token.
fn token_digest(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

/// Counts one attempt against `rate` (when `count`; else only looks) and
/// answers `429 rate_limited` with the window's remaining time past it.
/// Subjects are hashed by the store before they reach a key name.
pub async fn enforce_rate(
    app: &App,
    kind: &'static str,
    subject: &str,
    rate: Option<RateLimit>,
    count: bool,
) -> ApiResult<()> {
    let Some(rate) = rate else {
        return Ok(());
    };
    let window_ms = rate.window.as_millis() as u64;
    match app
        .store
        .rate_check(kind, subject, rate.limit, window_ms, count)
        .await?
    {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after } => {
            app.metrics.outcome(Outcome::RateLimited);
            Err(Error::RateLimited {
                retry_after_secs: retry_after.as_millis().div_ceil(1000) as u64,
            })
        }
    }
}

/// Gives back a slot [`enforce_rate`] took. Best effort: failing costs the
/// owner one slot of the window, not the request.
pub async fn refund_rate(app: &App, kind: &'static str, subject: &str, rate: Option<RateLimit>) {
    if rate.is_none() {
        return;
    }
    if let Err(e) = app.store.rate_refund(kind, subject).await {
        tracing::warn!(error = %e, kind, "could not give back a rate slot");
    }
}

/// An event about `user`, for the mail address `email` where one applies,
/// stamped `at` (events that carry a ticket set `ticket` and `expires_at` on
/// top).
pub fn event(kind: EventKind, user: Option<Uuid>, email: Option<&str>, at: u64) -> Event<'_> {
    Event {
        kind,
        user_id: user,
        email,
        ticket: None,
        expires_at: None,
        link: None,
        actor: None,
        at,
    }
}
