//! Hasura Backend Plus client compatibility, on only with
//! `EDGEAUTH_HBP_COMPAT=true`: the requests `nhost-js-sdk` 2.x sends, each
//! mapped onto the handler of our own endpoint — one implementation, two
//! routes, the same conventions and errors.
//!
//! [`COMPAT_ROUTES`] is the second routing table; `router::resolve_with`
//! consults it first when the flag is on. The SDK (2.3.4) sends:
//!
//! | SDK call                       | request                                                  | handler                          |
//! |--------------------------------|----------------------------------------------------------|----------------------------------|
//! | `register(email, pw, data)`    | POST /auth/register `{email, password, user_data}`       | account::register (ours already) |
//! | `login(email, pw)`             | POST /auth/login `{email, password, cookie}`             | session::login_with              |
//! | `MFATotp(code, ticket)`        | POST /auth/mfa/totp `{code, ticket, cookie}`             | mfa::login_totp_with             |
//! | `refreshToken(token?)`         | GET /auth/token/refresh?refresh_token=…                  | session::refresh_presented       |
//! | `logout(all)`                  | POST /auth/logout?refresh_token=… `{all}`                | session::logout_presented        |
//! | `activate(ticket)`             | GET /auth/activate?ticket=…                              | account::activate                |
//! | `changePassword(old, new)`     | POST /auth/change-password `{old_password, new_password}`| account::change_password         |
//! | `changePasswordRequest(email)` | POST /auth/change-password/request `{email}`             | account::request_password_reset  |
//! | `changePasswordChange(pw, t)`  | POST /auth/change-password/change `{new_password, ticket}`| account::reset_password         |
//! | `changeEmail(new_email)`       | POST /auth/change-email `{new_email}`                    | email::request_change            |
//! | `changeEmailRequest(new_email)`| POST /auth/change-email/request `{new_email}`            | email::request_change            |
//! | `changeEmailChange(ticket)`    | POST /auth/change-email/change `{ticket}`                | email::confirm_change            |
//! | `MFAGenerate/Enable/Disable`   | POST /auth/mfa/generate, enable `{code}`, disable `{code}`| mfa::* (ours already)           |
//!
//! `cookie: false` (login, TOTP) and a token from the query (refresh) hand
//! the new refresh token out in the JSON body only, as HBP did; otherwise
//! the cookie. When a refresh request carries both a cookie and a query
//! token, the cookie wins (the query may be a placeholder).
//!
//! Off by default: it puts refresh tokens in URLs (logs, history, Referer)
//! and lets a GET spend an activation ticket. The GET routes answer GET
//! only, never HEAD: a HEAD must not rotate a token or spend a ticket.

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{CONTENT_TYPE, HeaderValue, LOCATION};
use serde::Deserialize;

use crate::api::session::{self, LogoutScope};
use crate::api::{Delivery, REFRESH_COOKIE, account, email, mfa};
use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response};
use crate::router::{GET, POST, Route, RouteSpec, Serves, spec};

/// A route of the compatibility table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HbpRoute {
    Login,
    MfaTotp,
    Refresh,
    Logout,
    Activate,
    ChangePassword,
    ChangePasswordRequest,
    ChangePasswordChange,
    ChangeEmail,
    ChangeEmailRequest,
    ChangeEmailChange,
}

const fn hbp(route: HbpRoute, path: &'static str, allow: &'static str) -> RouteSpec {
    spec(Route::Hbp(route), path, allow, Serves::Public)
}

/// Every route an HBP client needs that differs from ours, once. Paths an
/// HBP client shares with us unchanged (`/auth/register`, `/auth/mfa/*`
/// but `totp`) are not repeated here.
#[rustfmt::skip]
pub const COMPAT_ROUTES: &[RouteSpec] = &[
    hbp(HbpRoute::Login, "/auth/login", POST),
    hbp(HbpRoute::MfaTotp, "/auth/mfa/totp", POST),
    hbp(HbpRoute::Refresh, "/auth/token/refresh", GET),
    hbp(HbpRoute::Logout, "/auth/logout", POST),
    hbp(HbpRoute::Activate, "/auth/activate", GET),
    hbp(HbpRoute::ChangePassword, "/auth/change-password", POST),
    hbp(HbpRoute::ChangePasswordRequest, "/auth/change-password/request", POST),
    hbp(HbpRoute::ChangePasswordChange, "/auth/change-password/change", POST),
    hbp(HbpRoute::ChangeEmail, "/auth/change-email", POST),
    hbp(HbpRoute::ChangeEmailRequest, "/auth/change-email/request", POST),
    hbp(HbpRoute::ChangeEmailChange, "/auth/change-email/change", POST),
];

/// The `Allow` value of a path both tables serve, with different methods.
pub(crate) fn joint_allow(native: &'static str, compat: &'static str) -> &'static str {
    match (native, compat) {
        ("POST", "GET") => "GET, POST",
        // Same methods (every other overlap; see the test below).
        _ => native,
    }
}

/// Runs the handler an HBP route maps onto.
pub async fn dispatch(app: &App, route: HbpRoute, req: &Request) -> ApiResult<Response> {
    match route {
        HbpRoute::Login => session::login_with(app, req, requested_delivery(req)?).await,
        HbpRoute::MfaTotp => mfa::login_totp_with(app, req, requested_delivery(req)?).await,
        HbpRoute::Refresh => session::refresh_presented(app, cookie_or_query_token(req)).await,
        HbpRoute::Logout => logout(app, req).await,
        HbpRoute::Activate => activate(app, req).await,
        HbpRoute::ChangePassword => account::change_password(app, req).await,
        HbpRoute::ChangePasswordRequest => account::request_password_reset(app, req).await,
        HbpRoute::ChangePasswordChange => account::reset_password(app, req).await,
        HbpRoute::ChangeEmail | HbpRoute::ChangeEmailRequest => {
            email::request_change(app, req).await
        }
        HbpRoute::ChangeEmailChange => email::confirm_change(app, req).await,
    }
}

#[derive(Deserialize)]
struct CookieChoice {
    /// HBP's default is a cookie.
    cookie: Option<bool>,
}

/// `cookie: false` → the refresh token in the body only; else the cookie.
/// A mistyped `cookie` is `400 invalid_request`; a missing or non-JSON body
/// is left for the handler to refuse.
fn requested_delivery(req: &Request) -> ApiResult<Delivery> {
    let choice = req.optional_json::<CookieChoice>()?;
    Ok(match choice.and_then(|c| c.cookie) {
        Some(false) => Delivery::BodyOnly,
        _ => Delivery::Cookie,
    })
}

/// The refresh token of `GET /auth/token/refresh`: the cookie (the SDK in
/// cookie mode may send a placeholder query too), else `?refresh_token=`,
/// whose successor then goes in the body only.
fn cookie_or_query_token(req: &Request) -> Option<(String, Delivery)> {
    req.cookie(REFRESH_COOKIE)
        .map(|c| (c, Delivery::Cookie))
        .or_else(|| query_param(req, "refresh_token").map(|q| (q, Delivery::BodyOnly)))
}

#[derive(Deserialize)]
struct LogoutBody {
    #[serde(default)]
    all: bool,
    refresh_token: Option<String>,
}

/// `POST /auth/logout?refresh_token=…` with `{all}`: the token from the
/// cookie, the query or the body (in that order); `all` ends every session
/// of the account. 204 whatever the token, like our logout.
async fn logout(app: &App, req: &Request) -> ApiResult<Response> {
    let body = req.optional_json::<LogoutBody>()?;
    let all = body.as_ref().is_some_and(|b| b.all);
    let cookie = req.cookie(REFRESH_COOKIE);
    if cookie.is_some() {
        super::check_cookie_request(app, req)?;
    }
    let raw = cookie
        .or_else(|| query_param(req, "refresh_token"))
        .or_else(|| body.and_then(|b| b.refresh_token));
    let scope = if all {
        LogoutScope::Everywhere
    } else {
        LogoutScope::ThisDevice
    };
    session::logout_presented(app, raw.as_deref(), scope).await
}

/// `GET /auth/activate?ticket=…` — our activation with the ticket from the
/// query. As HBP did, it redirects to `EDGEAUTH_HBP_REDIRECT_URL_SUCCESS` /
/// `_ERROR` when they are set (the link in the mail is opened by a browser);
/// else 204, or the JSON error. A server error is never redirected.
async fn activate(app: &App, req: &Request) -> ApiResult<Response> {
    let ticket = query_param(req, "ticket").unwrap_or_default();
    let as_body = with_json_body(req, &serde_json::json!({ "ticket": ticket }));
    let result = account::activate(app, &as_body).await;
    let target = match &result {
        Ok(_) => app.config.hbp_redirect_success.as_deref(),
        Err(Error::InvalidTicket | Error::InvalidRequest(_)) => {
            app.config.hbp_redirect_error.as_deref()
        }
        Err(_) => None,
    };
    match target {
        Some(url) => Ok(redirect(url)),
        None => result,
    }
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

/// The request as our own endpoint takes it: the same headers and peer,
/// with `body` as its JSON body.
fn with_json_body(req: &Request, body: &serde_json::Value) -> Request {
    let mut headers = req.headers.clone();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Request {
        method: hyper::Method::POST,
        path: req.path.clone(),
        query: None,
        headers,
        body: Bytes::from(body.to_string()),
        peer: req.peer,
    }
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
    use crate::router::{Listener, ROUTES, resolve, resolve_with};
    use hyper::Method;

    fn method_of(allow: &str) -> Method {
        Method::from_bytes(allow.split(", ").next().unwrap().as_bytes()).unwrap()
    }

    #[test]
    fn compat_routes_are_served_only_with_the_flag() {
        for (i, spec) in COMPAT_ROUTES.iter().enumerate() {
            assert!(
                COMPAT_ROUTES[i + 1..]
                    .iter()
                    .all(|o| o.route != spec.route && o.path != spec.path),
                "{:?} listed twice",
                spec.route
            );
            let method = method_of(spec.allow);
            assert_eq!(
                resolve_with(Listener::Public, &method, spec.path, true).unwrap(),
                spec.route
            );
            assert_eq!(spec.route.template(), spec.path);
            assert_eq!(spec.route.allow(), spec.allow);
            // Off: our own route of that path and method, or 404/405.
            let native = ROUTES.iter().find(|n| n.path == spec.path);
            match (native, resolve(Listener::Public, &method, spec.path)) {
                (None, Err(Error::NotFound)) => {}
                (Some(n), Ok(route)) => assert_eq!(route, n.route),
                (Some(_), Err(Error::MethodNotAllowed { .. })) => {}
                (n, other) => panic!("{}: {n:?} {other:?}", spec.path),
            }
            assert!(matches!(
                resolve_with(Listener::Admin, &method, spec.path, true),
                Err(Error::NotFound)
            ));
        }
    }

    #[test]
    fn methods_of_both_tables_on_one_path() {
        use Listener::Public;
        let refresh = "/auth/token/refresh";
        assert_eq!(
            resolve_with(Public, &Method::GET, refresh, true).unwrap(),
            Route::Hbp(HbpRoute::Refresh)
        );
        assert_eq!(
            resolve_with(Public, &Method::POST, refresh, true).unwrap(),
            Route::Refresh
        );
        assert!(matches!(
            resolve_with(Public, &Method::PUT, refresh, true),
            Err(Error::MethodNotAllowed { allow: "GET, POST" })
        ));
        assert!(matches!(
            resolve_with(Public, &Method::HEAD, refresh, true),
            Err(Error::MethodNotAllowed { allow: "GET, POST" })
        ));
        assert!(matches!(
            resolve_with(Public, &Method::HEAD, "/auth/activate", true),
            Err(Error::MethodNotAllowed { allow: "GET" })
        ));
        assert!(matches!(
            resolve_with(Public, &Method::GET, "/auth/logout", true),
            Err(Error::MethodNotAllowed { allow: "POST" })
        ));
        // Every shared path's joint Allow names the methods of both rows.
        for compat in COMPAT_ROUTES {
            if let Some(native) = ROUTES.iter().find(|n| n.path == compat.path) {
                let joint = joint_allow(native.allow, compat.allow);
                for m in native.allow.split(", ").chain(compat.allow.split(", ")) {
                    assert!(
                        joint.split(", ").any(|j| j == m),
                        "{}: {joint}",
                        compat.path
                    );
                }
            }
        }
    }

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
