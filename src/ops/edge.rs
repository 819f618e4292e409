//! The edge session: what a portal sign-in leaves in the browser (a MACed
//! cookie naming one session family, see `auth::edge_cookie`) and how a
//! request carrying it is recognised — by `/auth/verify` for a gateway and
//! by the portal's own pages.
//!
//! The session family is an ordinary one: it shows in the session list and
//! every revocation (logout, revoke, password reset or change, session
//! revoke, refresh-token reuse, account removal) ends it. On top it has an
//! idle timeout and an absolute lifetime of its own, checked and slid by the
//! store (`store::edge_sessions`), which writes at most once per renewal
//! interval.
//!
//! Imports `ops::common` and `ops::credentials` (the [`Tokens`] type) only
//! among the operations; never the HTTP library, the request type, the
//! adapters or the router.

use crate::app::App;
use crate::auth::amr::Amr;
use crate::auth::edge_cookie::EdgeCookie;
use crate::error::{ApiResult, Error};
use crate::ops::common::{self, Caller};
use crate::ops::credentials::Tokens;
use crate::store::edge_sessions::EdgeLifetimes;

/// How often a session in use writes its last use to Redis at most.
pub const RENEW_EVERY_MS: u64 = 60_000;

/// Who a request is from, as a gateway asks: a signed-in browser (its edge
/// session) or the holder of an access token.
#[derive(Debug, Clone)]
pub struct Identity {
    pub caller: Caller,
    /// The account's email now.
    pub email: String,
    pub amr: Amr,
}

/// A signed-in browser.
pub type EdgeSession = Identity;

/// The identity of an access token (`None`: none was presented): the token
/// checked as every Bearer endpoint checks it, and its session's account
/// email — one cached read-only lookup, which also proves the session alive.
pub async fn bearer_identity(app: &App, token: Option<&str>, now_ms: u64) -> ApiResult<Identity> {
    let token = common::verified_token(app, token, now_ms)?;
    let email = app
        .store
        .session_identity(token.account, token.session, now_ms)
        .await?
        .ok_or(Error::InvalidToken)?;
    Ok(Identity {
        caller: Caller {
            account: token.account,
            session: token.session,
            auth_time: token.auth_time,
            amr: token.amr,
        },
        email,
        amr: token.amr,
    })
}

/// The session an edge cookie value names, when it is alive: `invalid_token`
/// for a value we did not make, and for a session revoked, idle past
/// `EDGEAUTH_SESSION_IDLE_TIMEOUT`, older than `EDGEAUTH_SESSION_MAX_AGE`,
/// or of a removed account. Slides the idle timeout (see the module doc).
pub async fn edge_session(app: &App, cookie_value: &str, now_ms: u64) -> ApiResult<EdgeSession> {
    let EdgeCookie { account, family } = app
        .edge_cookie_keys
        .decode(cookie_value)
        .ok_or(Error::InvalidToken)?;
    let state = app
        .store
        .touch_edge_session(account, family, now_ms, lifetimes(app))
        .await?
        .ok_or(Error::InvalidToken)?;
    let amr = Amr::from_bits(state.amr).unwrap_or_default();
    Ok(EdgeSession {
        caller: Caller {
            account,
            session: family,
            auth_time: state.auth_time,
            amr,
        },
        email: state.email,
        amr,
    })
}

/// The edge cookie value of the session a browser sign-in started.
pub fn cookie_value(app: &App, tokens: &Tokens) -> String {
    app.edge_cookie_keys.encode(&EdgeCookie {
        account: tokens.account,
        family: tokens.family,
    })
}

/// The configured lifetimes. The renewal interval is a minute, or a quarter
/// of the idle timeout when that is shorter (so a session in use never idles
/// out between two renewals).
fn lifetimes(app: &App) -> EdgeLifetimes {
    let idle_ms = app.config.session_idle_timeout.as_millis() as u64;
    EdgeLifetimes {
        idle_ms,
        max_age_ms: app.config.session_max_age.as_millis() as u64,
        renew_every_ms: RENEW_EVERY_MS.min(idle_ms / 4),
    }
}
