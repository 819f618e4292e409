//! Cross-site request forgery defence of the portal's forms.
//!
//! - A pre-session cookie (`__Host-edgeauth_csrf` over HTTPS, which browsers
//!   accept only host-only with `Path=/`, so no sibling subdomain can plant
//!   one; `edgeauth_csrf` with `Path=/auth/ui` when cookies are not Secure),
//!   `HttpOnly; SameSite=Strict`, holding a random nonce MACed by this
//!   server (`auth::csrf`), set on the first page a browser gets.
//! - Every form carries a hidden `csrf` token derived from that cookie; a
//!   POST whose token is not the cookie's (checked in constant time), or
//!   that has no valid cookie, is refused with `403`.
//! - Before that, fetch metadata: `Sec-Fetch-Site` other than `same-origin`
//!   or `none`, or an `Origin` naming another site, is refused with `403`.
//!   `Origin: null` is let through to the token check: browsers send it for
//!   same-origin form posts from a page with `Referrer-Policy: no-referrer`,
//!   which every portal page has.

use hyper::header::{HeaderValue, ORIGIN};

use crate::app::App;
use crate::auth::csrf::CsrfCookie;
use crate::error::{ApiResult, Error};
use crate::http::Request;

/// The cookie's name over HTTPS.
pub const SECURE_COOKIE: &str = "__Host-edgeauth_csrf";
/// The cookie's name when cookies are not Secure (`EDGEAUTH_COOKIE_SECURE=false`).
pub const PLAIN_COOKIE: &str = "edgeauth_csrf";

fn cookie_name(app: &App) -> &'static str {
    if app.config.cookie.secure {
        SECURE_COOKIE
    } else {
        PLAIN_COOKIE
    }
}

/// The browser's CSRF state for one request: the token its forms carry and,
/// when it had no valid cookie yet, the `Set-Cookie` that gives it one.
pub struct Csrf {
    pub token: String,
    pub set_cookie: Option<HeaderValue>,
}

fn presented(app: &App, req: &Request) -> Option<CsrfCookie> {
    req.cookie(cookie_name(app))
        .and_then(|value| app.portal.csrf.open(&value))
}

/// For a page: the browser's valid cookie, or a new one to set.
pub fn for_page(app: &App, req: &Request) -> ApiResult<Csrf> {
    if let Some(cookie) = presented(app, req) {
        return Ok(Csrf {
            token: app.portal.csrf.token(&cookie),
            set_cookie: None,
        });
    }
    let (value, cookie) = app
        .portal
        .csrf
        .issue()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let name = cookie_name(app);
    let attributes = if app.config.cookie.secure {
        "HttpOnly; Secure; SameSite=Strict; Path=/"
    } else {
        "HttpOnly; SameSite=Strict; Path=/auth/ui"
    };
    let header = HeaderValue::from_str(&format!("{name}={value}; {attributes}"))
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Csrf {
        token: app.portal.csrf.token(&cookie),
        set_cookie: Some(header),
    })
}

/// Whether fetch metadata and `Origin` allow a form post: refused when the
/// browser says another site sent it.
pub fn same_site_request(app: &App, req: &Request) -> bool {
    if let Some(site) = req.headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return false;
        }
    }
    match req.headers.get(ORIGIN) {
        None => true,
        Some(origin) if origin.as_bytes() == b"null" => true,
        Some(origin) => {
            req.is_own_origin(origin, &app.config.trusted_proxies)
                || app
                    .portal
                    .origin
                    .as_deref()
                    .is_some_and(|own| own.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
        }
    }
}

/// Checks a form post: same site, a valid cookie, and its token in the form.
/// `403` (`Error::InvalidOrigin`) otherwise; nothing has acted yet.
pub fn check_post(app: &App, req: &Request, token: Option<&str>) -> ApiResult<Csrf> {
    if !same_site_request(app, req) {
        return Err(Error::InvalidOrigin);
    }
    let cookie = presented(app, req).ok_or(Error::InvalidOrigin)?;
    match token {
        Some(token) if app.portal.csrf.check(&cookie, token) => Ok(Csrf {
            token: app.portal.csrf.token(&cookie),
            set_cookie: None,
        }),
        _ => Err(Error::InvalidOrigin),
    }
}
