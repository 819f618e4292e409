//! Hasura Backend Plus client compatibility, on only with
//! `EDGEAUTH_HBP_COMPAT=true`: the adapter for the requests `nhost-js-sdk`
//! 2.x sends. Each handler decodes HBP's own request shape (query
//! parameters, `cookie`, `all`) and calls the same operation as our JSON
//! route — one implementation, two front doors, the same conventions and
//! errors. The routing table of these routes (`HbpRoute`) is the router's.
//!
//! The SDK (2.3.4) sends:
//!
//! | SDK call                       | request                                                  | handler → operation                        |
//! |--------------------------------|----------------------------------------------------------|--------------------------------------------|
//! | `register(email, pw, data)`    | POST /auth/register `{email, password, user_data}`       | our JSON route already                     |
//! | `login(email, pw)`             | POST /auth/login `{email, password, cookie}`             | login → ops::login::password               |
//! | `MFATotp(code, ticket)`        | POST /auth/mfa/totp `{code, ticket, cookie}`             | mfa_totp → ops::login::totp                |
//! | `refreshToken(token?)`         | GET /auth/token/refresh?refresh_token=…                  | refresh → ops::tokens::refresh             |
//! | `logout(all)`                  | POST /auth/logout?refresh_token=… `{all}`                | logout → ops::tokens::logout               |
//! | `activate(ticket)`             | GET /auth/activate?ticket=…                              | activate → ops::activate::activate         |
//! | `changePassword(old, new)`     | POST /auth/change-password `{old_password, new_password}`| change_password → ops::account             |
//! | `changePasswordRequest(email)` | POST /auth/change-password/request `{email}`             | change_password_request → ops::account     |
//! | `changePasswordChange(pw, t)`  | POST /auth/change-password/change `{new_password, ticket}`| change_password_change → ops::account     |
//! | `changeEmail(new_email)`       | POST /auth/change-email `{new_email}`                    | change_email → ops::email::request_change  |
//! | `changeEmailRequest(new_email)`| POST /auth/change-email/request `{new_email}`            | change_email → ops::email::request_change  |
//! | `changeEmailChange(ticket)`    | POST /auth/change-email/change `{ticket}`                | change_email_change → ops::email           |
//! | `MFAGenerate/Enable/Disable`   | POST /auth/mfa/generate, enable `{code}`, disable `{code}`| our JSON routes already                   |
//!
//! `cookie: false` (login, TOTP) and a token from the query (refresh) hand
//! the new refresh token out in the JSON body only, as HBP did; otherwise
//! the cookie. When a refresh request carries both a cookie and a query
//! token, the cookie wins (the query may be a placeholder).
//!
//! Off by default: it puts refresh tokens in URLs (logs, history, Referer)
//! and lets a GET spend an activation ticket. The GET routes answer GET
//! only, never HEAD: a HEAD must not rotate a token or spend a ticket.
//!
//! Imports `api::wire` and the operations only: never the JSON adapter's
//! handler modules, nor the routing table.

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{HeaderValue, LOCATION};
use serde::Deserialize;

use crate::api::wire::{
    self, Delivery, REFRESH_COOKIE, RequestClient, clearing_refresh_cookie, token_response,
};
use crate::app::App;
use crate::clock;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, no_content};
use crate::ops::credentials::SessionKind;
use crate::ops::credentials::{check_new_password, checked_code, parse_ticket, valid_email};
use crate::ops::login;
use crate::ops::tokens::{self, LogoutScope};
use crate::ops::{account, activate, email};

#[derive(Deserialize)]
struct CookieChoice {
    /// HBP's default is a cookie.
    cookie: Option<bool>,
}

/// `cookie: false` → the refresh token in the body only; else the cookie.
/// A mistyped `cookie` is `400 invalid_request`; a missing or non-JSON body
/// is left for the body's own decoding to refuse.
fn requested_delivery(req: &Request) -> ApiResult<Delivery> {
    let choice = req.optional_json::<CookieChoice>()?;
    Ok(match choice.and_then(|c| c.cookie) {
        Some(false) => Delivery::BodyOnly,
        _ => Delivery::Cookie,
    })
}

/// HBP's login body (`cookie` is read by [`requested_delivery`]).
#[derive(Deserialize)]
pub struct HbpLogin {
    pub email: String,
    pub password: String,
}

/// `POST /auth/login` `{email, password, cookie}`.
pub async fn login(app: &App, req: &Request) -> ApiResult<Response> {
    let delivery = requested_delivery(req)?;
    let body: HbpLogin = req.json()?;
    let email = valid_email(&body.email)?;
    wire::password_sign_in(app, req, &email, &body.password, delivery).await
}

/// HBP's second login step (`cookie` is read by [`requested_delivery`]).
#[derive(Deserialize)]
pub struct HbpTotp {
    pub code: String,
    pub ticket: String,
}

/// `POST /auth/mfa/totp` `{code, ticket, cookie}`.
pub async fn mfa_totp(app: &App, req: &Request) -> ApiResult<Response> {
    let delivery = requested_delivery(req)?;
    let body: HbpTotp = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    let code = checked_code(&body.code)?;
    let client = RequestClient::of(app, req);
    let tokens = login::totp(
        app,
        ticket,
        code,
        client.get(),
        SessionKind::Api,
        clock::now_ms(),
    )
    .await?;
    token_response(app, &tokens, delivery)
}

/// `GET /auth/token/refresh`: the token from the cookie (the SDK in cookie
/// mode may send a placeholder query too), else `?refresh_token=`, whose
/// successor then goes in the body only. Failures clear the cookie.
pub async fn refresh(app: &App, req: &Request) -> ApiResult<Response> {
    let (raw, delivery) = match req.cookie(REFRESH_COOKIE) {
        Some(cookie) => (Some(cookie), Delivery::Cookie),
        None => (query_param(req, "refresh_token"), Delivery::BodyOnly),
    };
    match tokens::refresh(app, raw.as_deref(), clock::now_ms()).await {
        Ok(tokens) => token_response(app, &tokens, delivery),
        Err(e) => wire::refresh_failed(app, e),
    }
}

/// HBP's logout body.
#[derive(Deserialize)]
pub struct HbpLogout {
    #[serde(default)]
    pub all: bool,
    pub refresh_token: Option<String>,
}

/// `POST /auth/logout?refresh_token=…` with `{all}`: the token from the
/// cookie, the query or the body (in that order); `all` ends every session
/// of the account. 204 whatever the token, like our logout.
pub async fn logout(app: &App, req: &Request) -> ApiResult<Response> {
    let body = req.optional_json::<HbpLogout>()?;
    let all = body.as_ref().is_some_and(|b| b.all);
    let cookie = req.cookie(REFRESH_COOKIE);
    if cookie.is_some() {
        wire::check_cookie_request(app, req)?;
    }
    let raw = cookie
        .or_else(|| query_param(req, "refresh_token"))
        .or_else(|| body.and_then(|b| b.refresh_token));
    let scope = if all {
        LogoutScope::Everywhere
    } else {
        LogoutScope::ThisDevice
    };
    tokens::logout(app, raw.as_deref(), scope, clock::now_ms()).await?;
    Ok(clearing_refresh_cookie(app, no_content()))
}

/// `GET /auth/activate?ticket=…` — activation with the ticket from the
/// query. As HBP did, it redirects to `EDGEAUTH_HBP_REDIRECT_URL_SUCCESS` /
/// `_ERROR` when they are set (the link in the mail is opened by a browser);
/// else 204, or the JSON error. A server error is never redirected.
pub async fn activate(app: &App, req: &Request) -> ApiResult<Response> {
    let ticket = query_param(req, "ticket").unwrap_or_default();
    let result = match parse_ticket(&ticket) {
        Ok(ticket) => activate::activate(app, ticket, clock::now_ms()).await,
        Err(e) => Err(e),
    };
    let target = match &result {
        Ok(()) => app.config.hbp_redirect_success.as_deref(),
        Err(Error::InvalidTicket | Error::InvalidRequest(_)) => {
            app.config.hbp_redirect_error.as_deref()
        }
        Err(_) => None,
    };
    match target {
        Some(url) => Ok(redirect(url)),
        None => result.map(|()| no_content()),
    }
}

/// HBP's password change body.
#[derive(Deserialize)]
pub struct HbpPasswordChange {
    pub old_password: String,
    pub new_password: String,
}

/// `POST /auth/change-password` `{old_password, new_password}` (Bearer).
pub async fn change_password(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    let body: HbpPasswordChange = req.json()?;
    check_new_password(app, &body.new_password)?;
    account::change_password(
        app,
        &caller,
        &body.old_password,
        &body.new_password,
        clock::now_ms(),
    )
    .await?;
    Ok(no_content())
}

/// HBP's reset request body.
#[derive(Deserialize)]
pub struct HbpEmail {
    pub email: String,
}

/// `POST /auth/change-password/request` `{email}` — 204 always.
pub async fn change_password_request(app: &App, req: &Request) -> ApiResult<Response> {
    let body: HbpEmail = req.json()?;
    let email = valid_email(&body.email)?;
    let client = RequestClient::of(app, req);
    account::request_password_reset(app, &email, client.get().rate_subject, clock::now_ms())
        .await?;
    Ok(no_content())
}

/// HBP's reset body.
#[derive(Deserialize)]
pub struct HbpReset {
    pub ticket: String,
    pub new_password: String,
}

/// `POST /auth/change-password/change` `{new_password, ticket}`.
pub async fn change_password_change(app: &App, req: &Request) -> ApiResult<Response> {
    let body: HbpReset = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    check_new_password(app, &body.new_password)?;
    account::reset_password(app, ticket, &body.new_password, clock::now_ms()).await?;
    Ok(no_content())
}

/// HBP's email change request body (and the optional re-authentication
/// `password`, read by `wire::require_recent_auth`).
#[derive(Deserialize)]
pub struct HbpNewEmail {
    pub new_email: String,
}

/// `POST /auth/change-email` and `/auth/change-email/request` `{new_email}`
/// (Bearer) — 204; mails a ticket to the new address.
pub async fn change_email(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    wire::require_recent_auth(app, &caller, req).await?;
    let body: HbpNewEmail = req.json()?;
    let new_email = valid_email(&body.new_email)?;
    email::request_change(app, &caller, &new_email, clock::now_ms()).await?;
    Ok(no_content())
}

/// HBP's email change confirm body.
#[derive(Deserialize)]
pub struct HbpTicket {
    pub ticket: String,
}

/// `POST /auth/change-email/change` `{ticket}`.
pub async fn change_email_change(app: &App, req: &Request) -> ApiResult<Response> {
    let body: HbpTicket = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    email::confirm_change(app, ticket, &clock::now_ms).await?;
    Ok(no_content())
}

/// `302 Found` to `url` (checked by `config` to be a header-safe http(s) URL).
fn redirect(url: &str) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(location) = HeaderValue::from_str(url) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// The first non-empty value of query parameter `name`, percent-decoded
/// (`+` is a space, as in forms). Undecodable UTF-8 counts as absent.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query
        .as_deref()?
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key)? == name).then(|| percent_decode(value))?
        })
        .find(|value| !value.is_empty())
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use hyper::Method;

    fn request(query: Option<&str>) -> Request {
        Request {
            method: Method::GET,
            path: "/auth/activate".into(),
            query: query.map(str::to_owned),
            headers: Default::default(),
            body: Bytes::new(),
            peer: "127.0.0.1:1".parse().unwrap(),
        }
    }

    #[test]
    fn query_parameters() {
        let r = request(Some("a=1&refresh_token=ab%2Dc+d&refresh_token=second"));
        assert_eq!(query_param(&r, "refresh_token").as_deref(), Some("ab-c d"));
        assert_eq!(query_param(&r, "a").as_deref(), Some("1"));
        assert_eq!(query_param(&r, "b"), None);
        let r = request(Some("ticket=&ticket=x&bad=%zz%"));
        assert_eq!(query_param(&r, "ticket").as_deref(), Some("x"));
        assert_eq!(query_param(&r, "bad").as_deref(), Some("%zz%"));
        assert_eq!(query_param(&request(Some("t=%ff")), "t"), None);
        assert_eq!(query_param(&request(None), "t"), None);
        assert_eq!(query_param(&request(Some("ticket")), "ticket"), None);
    }
}
