//! What both HTTP adapters (the JSON API and the HBP compatibility routes)
//! share to read a request into an operation's input and to write its
//! outcome back: the Bearer caller, the client's address, the refresh and
//! device cookies, the cookie-request origin check, and the token response.
//!
//! Free of behaviour: every decision is the operations' (`crate::ops`).
//! Imports no adapter and not the routing table.

use hyper::StatusCode;
use hyper::header::{HeaderValue, SET_COOKIE};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::auth::device::DeviceId;
use crate::auth::refresh::RefreshToken;
use crate::clock;
use crate::config::SameSite;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, json_response, rate_subject};
use crate::ops::common::{self, Caller, Client};
use crate::ops::credentials::{self, SignIn, Tokens};

/// Name of the refresh-token cookie (seed API).
pub const REFRESH_COOKIE: &str = "refresh_token";

/// Name of the device cookie (`auth::device`): it marks a browser that
/// signed in to an account with its password before.
pub const DEVICE_COOKIE: &str = "edgeauth_device";

/// How long a browser stays a known device of an account: a year.
const DEVICE_COOKIE_MAX_AGE_SECS: u64 = 365 * 86_400;

/// The caller of a Bearer endpoint (`ops::common::authenticate` on the
/// `Authorization: Bearer` token).
pub async fn authenticate(app: &App, req: &Request) -> ApiResult<Caller> {
    common::authenticate(app, req.bearer_token(), clock::now_ms()).await
}

/// The optional `password` of a sensitive change's body.
#[derive(Deserialize)]
pub struct PasswordConfirmation {
    pub password: Option<String>,
}

/// The re-authentication gate (`ops::credentials::require_recent_auth`)
/// with the body's optional `password`. A body is optional, so endpoints
/// without one keep working; one that is sent is checked whatever the
/// sign-in's age (not an object, or a `password` that is not a string: `400`,
/// as everywhere), and its password is used only when the sign-in is not
/// recent.
pub async fn require_recent_auth(app: &App, caller: &Caller, req: &Request) -> ApiResult<()> {
    let now_ms = clock::now_ms();
    let body = req.optional_json::<PasswordConfirmation>()?;
    let password = if credentials::auth_is_recent(app, caller, now_ms) {
        None
    } else {
        body.and_then(|body| body.password)
    };
    credentials::require_recent_auth(app, caller, password.as_deref(), now_ms).await
}

/// The client of a request, as operations take it ([`RequestClient::get`]).
pub struct RequestClient<'r> {
    rate_subject: String,
    address: String,
    user_agent: &'r str,
}

impl<'r> RequestClient<'r> {
    /// The client IP as a rate-limit subject: the peer, or `X-Forwarded-For`
    /// behind a trusted proxy; an IPv6 client counts as its network of
    /// `EDGEAUTH_RATE_IPV6_PREFIX` bits (see `http::rate_subject`). Its own
    /// address as recorded with a session, and its `User-Agent`.
    pub fn of(app: &App, req: &'r Request) -> Self {
        let ip = req.client_ip(&app.config.trusted_proxies);
        RequestClient {
            rate_subject: rate_subject(ip, app.config.rate_ipv6_prefix),
            address: ip.to_string(),
            user_agent: req.header_str("user-agent").unwrap_or(""),
        }
    }

    pub fn get(&self) -> Client<'_> {
        Client {
            rate_subject: &self.rate_subject,
            address: &self.address,
            user_agent: self.user_agent,
        }
    }
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

/// The device id of the request's device cookie, when it is a valid one for
/// `email` (the login's known-device budget).
pub fn known_device(app: &App, req: &Request, email: &str) -> Option<DeviceId> {
    req.cookie(DEVICE_COOKIE)
        .and_then(|value| app.device_keys.verify(&value, email))
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

/// After the password was proven: (re)sets the device cookie for `email`,
/// keeping the device `known` when it was already a known one. Not for
/// clients that asked for no cookies (`Delivery::BodyOnly`). Best effort: a
/// failure only means the browser stays unknown.
pub fn remember_device(
    app: &App,
    response: &mut Response,
    email: &str,
    known: Option<&DeviceId>,
    delivery: Delivery,
) {
    if delivery == Delivery::BodyOnly {
        return;
    }
    match app.device_keys.issue(email, known) {
        Ok(value) => {
            response.headers_mut().append(
                SET_COOKIE,
                cookie_header(app, DEVICE_COOKIE, &value, DEVICE_COOKIE_MAX_AGE_SECS),
            );
        }
        Err(e) => tracing::warn!(error = %e, "could not issue a device cookie"),
    }
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

/// `response` with the refresh cookie cleared.
pub fn clearing_refresh_cookie(app: &App, mut response: Response) -> Response {
    clear_refresh_cookie(app, &mut response);
    response
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
    /// `cookie: false` or sent its token in the query.
    BodyOnly,
}

/// `200 {jwt_token, jwt_expires_in}` + refresh cookie for `tokens`: an
/// access token carrying the family's `auth_time`, and the refresh token of
/// its generation.
pub fn token_response(app: &App, tokens: &Tokens, delivery: Delivery) -> ApiResult<Response> {
    let access =
        app.issue_access_token(tokens.account, tokens.family, tokens.auth_time, tokens.amr)?;
    let refresh = app.refresh_keys.encode(&RefreshToken {
        account_id: tokens.account,
        family_id: tokens.family,
        generation: tokens.generation,
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

/// The answer to a password step that asks for the second factor.
pub fn mfa_required_response(ticket: uuid::Uuid) -> Response {
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "mfa": true, "ticket": ticket }),
    )
}

/// The answer to a failed refresh: the error, and the cookie cleared when the
/// token will never work again (invalid, or its account locked: the lock
/// ended its family).
pub fn refresh_failed(app: &App, error: Error) -> ApiResult<Response> {
    match error {
        error @ (Error::InvalidRefreshToken | Error::AccountLocked) => {
            Ok(clearing_refresh_cookie(app, error.into_response()))
        }
        other => Err(other),
    }
}

/// The password step of a sign-in for either adapter: the operation with this
/// request's client and device cookie, answered with the tokens (handed out as
/// `delivery` says) or the MFA ticket, and the device cookie set or renewed.
pub async fn password_sign_in(
    app: &App,
    req: &Request,
    email: &str,
    password: &str,
    delivery: Delivery,
) -> ApiResult<Response> {
    let client = RequestClient::of(app, req);
    let device = known_device(app, req, email);
    let outcome = crate::ops::login::password(
        app,
        crate::ops::login::PasswordSignIn {
            email,
            password,
            client: client.get(),
            known_device: device.as_ref().map(|d| d.0.as_str()),
            kind: crate::ops::credentials::SessionKind::Api,
            now_ms: crate::clock::now_ms(),
        },
    )
    .await?;
    let mut response = match outcome {
        SignIn::Tokens(tokens) => token_response(app, &tokens, delivery)?,
        SignIn::MfaRequired { ticket } => mfa_required_response(ticket),
    };
    remember_device(app, &mut response, email, device.as_ref(), delivery);
    Ok(response)
}
