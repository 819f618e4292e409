//! The gateway check: `GET|HEAD /auth/verify` (nginx `auth_request`, and any
//! gateway that turns a 401 into a redirect itself) and
//! `/auth/forward-auth` (Traefik ForwardAuth, Caddy `forward_auth`, Envoy
//! `ext_authz`, which hand the answer to the browser as it is).
//!
//! A request is authenticated by its `Authorization: Bearer` token, which
//! decides alone when present, or else by the edge session cookie a portal
//! sign-in set (`ops::edge`). 200 carries the caller in `X-Auth-User-Id`,
//! `X-Auth-Session-Id`, `X-Auth-Email` and `X-Auth-Amr`. `?mfa=1` or
//! `X-Auth-Require: mfa` asks for a session that passed a second factor
//! (else `403 mfa_required`). An unauthenticated request is `401`, carrying
//! `X-Auth-Redirect` (the portal's sign-in URL with `rd` = the original URL)
//! when `EDGEAUTH_PORTAL_URL` is set; on `/auth/forward-auth` a browser
//! navigation gets that URL as a `302` instead.

use hyper::StatusCode;
use hyper::header::{ACCEPT, AUTHORIZATION, HeaderValue, LOCATION};

use crate::app::App;
use crate::clock;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, no_content};
use crate::ops::edge::{self, Identity};
use crate::return_url;

/// How an unauthenticated request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Always `401` (the gateway redirects, with `X-Auth-Redirect`).
    Status,
    /// A browser navigation gets a `302` to the sign-in page.
    RedirectNavigations,
}

/// `GET|HEAD /auth/verify` (and `/auth/verify/<path>`, any method).
pub async fn verify(app: &App, req: &Request) -> ApiResult<Response> {
    check(app, req, Answer::Status).await
}

/// `/auth/forward-auth` and `/auth/forward-auth/<path>`, any method.
pub async fn forward_auth(app: &App, req: &Request) -> ApiResult<Response> {
    check(app, req, Answer::RedirectNavigations).await
}

async fn check(app: &App, req: &Request, answer: Answer) -> ApiResult<Response> {
    let mfa = requires_mfa(req)?;
    let identity = match identify(app, req).await {
        Ok(identity) => identity,
        Err(Error::InvalidToken) => return Ok(unauthenticated(app, req, answer)),
        Err(other) => return Err(other),
    };
    if mfa && !identity.amr.has_mfa() {
        return Err(Error::MfaRequired);
    }
    let mut response = no_content();
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    // Hyphenated UUIDs are always valid header values; an email is printable
    // ASCII (validated at registration), the amr list too.
    let values = [
        ("x-auth-user-id", identity.caller.account.to_string()),
        ("x-auth-session-id", identity.caller.session.to_string()),
        ("x-auth-email", identity.email),
        ("x-auth-amr", identity.amr.header_value()),
    ];
    for (name, value) in values {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

/// The Bearer token decides when an `Authorization` header is present;
/// otherwise the edge session cookie; neither: `invalid_token`.
async fn identify(app: &App, req: &Request) -> ApiResult<Identity> {
    let now_ms = clock::now_ms();
    if req.headers.contains_key(AUTHORIZATION) {
        return edge::bearer_identity(app, req.bearer_token(), now_ms).await;
    }
    let cookies = req.cookies(&app.config.session_cookie_name, edge::COOKIES_PER_REQUEST);
    edge::first_live_session(app, &cookies, now_ms).await
}

/// `?mfa=1` (or `true`) in the query, or `X-Auth-Require: mfa`. Another
/// value of `mfa` is `400`: a gateway's config that would silently protect
/// less than it says. The query counts only on `/auth/verify` and
/// `/auth/forward-auth` themselves: on `/auth/verify/<path>` (Envoy's
/// shape) it is the original request's query, none of ours, and the header
/// is the way to ask.
fn requires_mfa(req: &Request) -> ApiResult<bool> {
    let by_header = req
        .header_str("x-auth-require")
        .is_some_and(|v| v.split(',').any(|w| w.trim().eq_ignore_ascii_case("mfa")));
    let ours = req.path == "/auth/verify" || req.path == "/auth/forward-auth";
    let query = req.query.as_deref().filter(|_| ours).unwrap_or("");
    let mut by_query = false;
    for value in url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == "mfa")
        .map(|(_, value)| value)
    {
        by_query |= match value.as_ref() {
            "1" | "true" => true,
            "0" | "false" => false,
            _ => return Err(Error::invalid_request("mfa must be 1, true, 0 or false.")),
        };
    }
    Ok(by_query || by_header)
}

/// `401 invalid_token`, with the sign-in URL when the portal has a public
/// origin — or, for a browser navigation on `/auth/forward-auth`, a `302` to it.
fn unauthenticated(app: &App, req: &Request, answer: Answer) -> Response {
    let sign_in = app.config.portal_url.as_deref().map(|portal| {
        let original = original_url(app, req);
        return_url::sign_in_url(portal, original.as_deref())
    });
    let sign_in = sign_in.and_then(|url| HeaderValue::from_str(&url).ok());
    match sign_in {
        Some(url) if answer == Answer::RedirectNavigations && is_navigation(req) => {
            let mut response = no_content();
            *response.status_mut() = StatusCode::FOUND;
            response.headers_mut().insert(LOCATION, url);
            response
        }
        Some(url) => {
            let mut response = Error::InvalidToken.into_response();
            response.headers_mut().insert("x-auth-redirect", url);
            response
        }
        None => Error::InvalidToken.into_response(),
    }
}

/// The URL the browser asked the gateway for, from the headers a gateway
/// sets — believed only from a trusted proxy (`EDGEAUTH_TRUSTED_PROXIES`).
fn original_url(app: &App, req: &Request) -> Option<String> {
    let peer = req.peer.ip().to_canonical();
    if !app.config.trusted_proxies.iter().any(|n| n.contains(peer)) {
        return None;
    }
    return_url::original_url(
        req.header_str("x-original-url"),
        req.header_str("x-forwarded-proto"),
        req.header_str("x-forwarded-host"),
        req.header_str("x-forwarded-uri"),
    )
}

/// A browser loading a page: GET or HEAD accepting HTML.
fn is_navigation(req: &Request) -> bool {
    let method_ok = req.method == hyper::Method::GET || req.method == hyper::Method::HEAD;
    let wants_html = req
        .headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"));
    method_ok && wants_html
}
