//! The endpoint handlers, one file per area, and what they share: Bearer
//! authentication, the refresh cookie, and the token response.
//!
//! Handlers are plain async functions `(&App, &Request) -> ApiResult<Response>`;
//! they talk to `store` and `auth`, and never pick a failure status
//! themselves (that is `error`'s job).

pub mod account;
pub mod compat;
pub mod email;
pub mod health;
pub mod keys;
pub mod mfa;
pub mod session;
pub mod verify;

use hyper::StatusCode;
use hyper::header::{HeaderValue, SET_COOKIE};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::App;
use crate::auth::refresh::RefreshToken;
use crate::clock;
use crate::config::{RateLimit, SameSite};
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, json_response, rate_subject};
use crate::metrics::Outcome;
use crate::store::events::{Event, EventKind};
use crate::store::rate::RateDecision;

/// Name of the refresh-token cookie (seed API).
pub const REFRESH_COOKIE: &str = "refresh_token";

/// The caller of a Bearer endpoint: an account and one of its sessions.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub account: Uuid,
    pub session: Uuid,
    /// The token's `auth_time` (unix seconds of the last credential proof);
    /// None for a token issued before it was recorded.
    pub auth_time: Option<u64>,
}

/// Checks the Bearer token: signature, expiry, issuer/audience, and that its
/// session (`sid`) still exists — revocation and account removal delete the
/// session, so one `EXISTS` covers both.
///
/// A token seen before skips the signature check (its verdict is cached
/// until its `exp`); the session check always runs (see
/// `Store::session_exists` for its own short cache).
pub async fn authenticate(app: &App, req: &Request) -> ApiResult<Caller> {
    let token = req.bearer_token().ok_or(Error::InvalidToken)?;
    let now_ms = clock::now_ms();
    let digest = token_digest(token);
    let (account, session, auth_time) = match app.verified_tokens.get(&digest, now_ms) {
        Some(ids) => ids,
        None => {
            let claims = app
                .jwt
                .verify(
                    token,
                    now_ms / 1000,
                    &app.config.jwt_issuer,
                    app.config.jwt_audience.as_deref(),
                )
                .map_err(|_| Error::InvalidToken)?;
            let account = Uuid::parse_str(&claims.sub).map_err(|_| Error::InvalidToken)?;
            let session = Uuid::parse_str(&claims.sid).map_err(|_| Error::InvalidToken)?;
            if app.config.verify_cache_entries > 0 {
                let expires_ms = claims.exp.saturating_mul(1000);
                app.verified_tokens.insert(
                    digest,
                    (account, session, claims.auth_time),
                    expires_ms,
                );
            }
            (account, session, claims.auth_time)
        }
    };
    if !app.store.session_exists(account, session).await? {
        return Err(Error::InvalidToken);
    }
    Ok(Caller {
        account,
        session,
        auth_time,
    })
}

/// The optional `password` of a sensitive change's body.
#[derive(Deserialize)]
struct PasswordConfirmation {
    password: Option<String>,
}

/// The gate of sensitive changes (email change, MFA generate / enable /
/// disable / recovery codes, account removal): a stolen access token alone
/// must not take the account over. Passes when the caller's `auth_time` is
/// within `EDGEAUTH_REAUTH_MAX_AGE`, or when the body's optional `password`
/// is the account's current one; else `403 reauthentication_required`. The
/// body is read only when the sign-in is not recent, so endpoints without a
/// body keep working without one.
///
/// A wrong password is `401 invalid_credentials` and counts against the
/// account's `login_email` budget exactly as a wrong old password of a
/// password change does (a slot taken before the check, given back unless
/// the password was checked and wrong), so this is no unlimited oracle.
pub async fn require_recent_auth(app: &App, caller: &Caller, req: &Request) -> ApiResult<()> {
    let now_secs = clock::now_ms() / 1000;
    let max_age = app.config.reauth_max_age.as_secs();
    // A future auth_time (clock skew between replicas) counts as now.
    if caller
        .auth_time
        .is_some_and(|t| now_secs.saturating_sub(t) <= max_age)
    {
        return Ok(());
    }
    let Some(password) = req
        .optional_json::<PasswordConfirmation>()?
        .and_then(|body| body.password)
    else {
        return Err(Error::ReauthenticationRequired);
    };
    let account = app
        .store
        .account(caller.account)
        .await?
        .ok_or(Error::InvalidToken)?;
    let limit = app.config.rate_limits.login_per_email;
    enforce_rate(app, "login_email", &account.email, limit, true).await?;
    let matches = match app.hasher.verify(&password, &account.password).await {
        Ok(matches) => matches,
        Err(e) => {
            session::refund_login_email(app, &account.email).await;
            return Err(e);
        }
    };
    if !matches {
        return Err(Error::InvalidCredentials);
    }
    session::refund_login_email(app, &account.email).await;
    Ok(())
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

/// The client IP as a rate-limit subject: the peer, or `X-Forwarded-For`
/// behind a trusted proxy; an IPv6 client counts as its network of
/// `EDGEAUTH_RATE_IPV6_PREFIX` bits (see `http::rate_subject`).
pub fn client_ip(app: &App, req: &Request) -> String {
    rate_subject(
        req.client_ip(&app.config.trusted_proxies),
        app.config.rate_ipv6_prefix,
    )
}

/// The client's own address, as recorded with a session.
pub fn client_address(app: &App, req: &Request) -> String {
    req.client_ip(&app.config.trusted_proxies).to_string()
}

/// Refuses a request authenticated by the refresh cookie that another site
/// could have made the browser send (`403 invalid_origin`), before it acts.
pub fn check_cookie_request(app: &App, req: &Request) -> ApiResult<()> {
    if req.cookie_request_allowed(&app.config.cors_origins, &app.config.trusted_proxies) {
        Ok(())
    } else {
        Err(Error::InvalidOrigin)
    }
}

/// An event about `user`, for the mail address `email` where one applies,
/// stamped now (events that carry a ticket set `ticket` and `expires_at` on
/// top).
pub fn event(kind: EventKind, user: Option<Uuid>, email: Option<&str>) -> Event<'_> {
    Event {
        kind,
        user_id: user,
        email,
        ticket: None,
        expires_at: None,
        at: clock::now_ms(),
    }
}

/// The verification cache's key for a token.
fn token_digest(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

/// `Set-Cookie` for a refresh token (`value` = None clears it), with the
/// attributes in the order README documents them:
/// `refresh_token=…; HttpOnly; Secure; SameSite=Strict; Path=/auth; Max-Age=…`.
fn refresh_cookie(app: &App, value: Option<&str>) -> HeaderValue {
    let max_age = value.map_or(0, |_| app.config.refresh_ttl.as_secs());
    cookie_header(app, REFRESH_COOKIE, value.unwrap_or(""), max_age)
}

/// `name=value` with the configured attributes (Secure, SameSite, Domain),
/// `HttpOnly` and `Path=/auth`.
fn cookie_header(app: &App, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let settings = &app.config.cookie;
    let mut cookie = format!("{name}={value}; HttpOnly");
    if settings.secure {
        cookie.push_str("; Secure");
    }
    cookie.push_str(match settings.same_site {
        SameSite::Strict => "; SameSite=Strict",
        SameSite::Lax => "; SameSite=Lax",
        SameSite::None => "; SameSite=None",
    });
    cookie.push_str(&format!("; Path=/auth; Max-Age={max_age}"));
    if let Some(domain) = &settings.domain {
        cookie.push_str(&format!("; Domain={domain}"));
    }
    // Tokens are base64url and the domain is checked by `config`, so this
    // always holds; an empty header is the harmless fallback.
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))
}

/// Name of the device cookie (`auth::device`): it marks a browser that
/// signed in to an account with its password before.
pub const DEVICE_COOKIE: &str = "edgeauth_device";

/// How long a browser stays a known device of an account: a year.
const DEVICE_COOKIE_MAX_AGE_SECS: u64 = 365 * 86_400;

pub fn set_device_cookie(app: &App, response: &mut Response, value: &str) {
    response.headers_mut().append(
        SET_COOKIE,
        cookie_header(app, DEVICE_COOKIE, value, DEVICE_COOKIE_MAX_AGE_SECS),
    );
}

pub fn set_refresh_cookie(app: &App, response: &mut Response, token: &str) {
    response
        .headers_mut()
        .append(SET_COOKIE, refresh_cookie(app, Some(token)));
}

pub fn clear_refresh_cookie(app: &App, response: &mut Response) {
    response
        .headers_mut()
        .append(SET_COOKIE, refresh_cookie(app, None));
}

#[derive(Serialize)]
struct TokenBody<'a> {
    jwt_token: &'a str,
    jwt_expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

/// Where the client wants its refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Cookie,
    /// In the JSON body (clients without cookies); the cookie is set too.
    Body,
    /// In the JSON body only, no cookie: an HBP client that asked for
    /// `cookie: false` or sent its token in the query (`api::compat`).
    BodyOnly,
}

/// `200 {jwt_token, jwt_expires_in}` + refresh cookie for generation `generation`
/// of family `family`, whose access token carries `auth_time` (the family's).
pub fn token_response(
    app: &App,
    account: Uuid,
    family: Uuid,
    generation: u64,
    auth_time: Option<u64>,
    delivery: Delivery,
) -> ApiResult<Response> {
    let access = app.issue_access_token(account, family, auth_time)?;
    let refresh = app.refresh_keys.encode(&RefreshToken {
        account_id: account,
        family_id: family,
        generation,
    });
    let body = TokenBody {
        jwt_token: &access.token,
        jwt_expires_in: access.expires_in_ms,
        refresh_token: (delivery != Delivery::Cookie).then_some(refresh.as_str()),
    };
    let mut response = json_response(StatusCode::OK, &body);
    if delivery != Delivery::BodyOnly {
        set_refresh_cookie(app, &mut response, &refresh);
    }
    Ok(response)
}
