//! The sign-in portal: server-rendered HTML pages under `/auth/ui/` (on with
//! `EDGEAUTH_PORTAL`), a second adapter over the same operations
//! (`crate::ops`) as the JSON API — same rate limits, events and error
//! rules, and nothing that tells whether an account exists.
//!
//! - `pages`: sign-in (password, then the second factor), registration,
//!   activation, forgotten password; `account`: the signed-in account page
//!   (sessions, password, MFA) and sign-out; `passkeys`: sign-in with a
//!   passkey and the account page's passkeys (add, remove).
//! - `views`: the askama templates (`templates/portal/`); `strings`: every
//!   text, overridable by the operator; `errors`: the one mapping of errors
//!   to pages; `csrf`: the form tokens and the same-site rule;
//!   `device_name`: readable names for the session list.
//!
//! Every answer is `text/html; charset=utf-8` with a strict
//! `Content-Security-Policy` (no inline script or style), `Cache-Control:
//! no-store`, `Referrer-Policy: no-referrer` and `X-Frame-Options: DENY`;
//! the stylesheet is compiled in and served from `/auth/ui/static/`, as is
//! the one script (`static/passkey.js`, passkeys only): the pages that load
//! it add `script-src 'self'` to their policy, and work without it.
//!
//! Imports the operations, `api::wire` (the client, refresh and device
//! cookies it shares with the JSON adapter) and nothing else of `api`;
//! never the router.

pub mod account;
pub mod csrf;
pub mod device_name;
pub mod errors;
pub mod pages;
pub mod passkeys;
pub mod strings;
pub mod views;

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue, LOCATION, REFERRER_POLICY,
    SET_COOKIE, X_FRAME_OPTIONS,
};

use crate::app::{App, BuildError};
use crate::auth::csrf::{CSRF_INFO, CsrfKeys};
use crate::auth::data_keys::DataKeys;
use crate::config::Config;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response};
use crate::portal::strings::Strings;
use crate::return_url::ReturnUrls;

/// The stylesheet, compiled in.
pub const STYLESHEET: &str = include_str!("../../static/portal.css");

/// The passkey script, compiled in.
pub const PASSKEY_SCRIPT: &str = include_str!("../../static/passkey.js");

/// The portal's state, built once with the `App`.
pub struct Portal {
    pub strings: Strings,
    pub csrf: CsrfKeys,
    /// The `Content-Security-Policy` of every page.
    pub csp: HeaderValue,
    /// The same policy with `script-src 'self'`, for the pages that load
    /// the passkey script.
    pub csp_script: HeaderValue,
    /// The portal's public origin (`EDGEAUTH_PORTAL_URL`), when set.
    pub origin: Option<String>,
    /// Where a sign-in may return to (`rd`).
    pub return_urls: ReturnUrls,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal").finish_non_exhaustive()
    }
}

impl Portal {
    /// The portal of a server: texts (the defaults with the contents of
    /// `EDGEAUTH_PORTAL_STRINGS_FILE`, if set), CSRF keys, the return URLs
    /// a sign-in may go to and the page policy. An unreadable file or an
    /// unknown key is a configuration error (exit status 2).
    pub fn build(config: &Config, data_keys: &DataKeys) -> Result<Portal, BuildError> {
        const VAR: &str = "EDGEAUTH_PORTAL_STRINGS_FILE";
        let strings = match &config.portal_strings_file {
            None => Strings::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    BuildError::Config(format!("{VAR}: cannot read {}: {e}", path.display()))
                })?;
                Strings::with_overrides(&text)
                    .map_err(|e| BuildError::Config(format!("{VAR}: {}: {e}", path.display())))?
            }
        };
        let allow_http = !config.cookie.secure;
        // A sign-in form's answer may redirect to a return URL: the form's
        // `form-action` must allow those hosts too (browsers check redirects).
        let mut form_action = String::from("'self'");
        if let Some(origin) = &config.portal_url {
            form_action.push(' ');
            form_action.push_str(origin);
        }
        let schemes: &[&str] = if allow_http {
            &["https", "http"]
        } else {
            &["https"]
        };
        for domain in &config.portal_allowed_domains {
            let domain = domain.trim().trim_matches('.');
            if domain.is_empty() {
                continue;
            }
            // Any port (a return URL may name one); subdomains of names only.
            let is_ip = domain.parse::<std::net::IpAddr>().is_ok();
            for scheme in schemes {
                if is_ip {
                    form_action.push_str(&format!(" {scheme}://{domain}:*"));
                } else {
                    form_action
                        .push_str(&format!(" {scheme}://{domain}:* {scheme}://*.{domain}:*"));
                }
            }
        }
        let policy = |script: &str| {
            let csp = format!(
                "default-src 'none'; {script}style-src 'self'; img-src 'self' data:; \
                 form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
            );
            HeaderValue::from_str(&csp).map_err(|_| {
                BuildError::Config("EDGEAUTH_PORTAL_ALLOWED_DOMAINS: not valid host names".into())
            })
        };
        let csp = policy("")?;
        let csp_script = policy("script-src 'self'; connect-src 'self'; ")?;
        Ok(Portal {
            strings,
            csrf: CsrfKeys::new(data_keys.seal_key_material(CSRF_INFO)),
            csp,
            csp_script,
            origin: config.portal_url.clone(),
            return_urls: ReturnUrls::new(&config.portal_allowed_domains, allow_http),
        })
    }
}

/// Renders a template; a template that fails to render is an internal
/// error page's text instead.
pub fn render(view: &impl askama::Template) -> String {
    view.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "portal template failed");
        String::from("<!doctype html><title>Error</title><p>Something went wrong.</p>")
    })
}

/// Sets the headers every portal answer carries.
fn secure(app: &App, response: &mut Response, set_cookie: Option<&HeaderValue>) {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_SECURITY_POLICY, app.portal.csp.clone());
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Some(cookie) = set_cookie {
        headers.append(SET_COOKIE, cookie.clone());
    }
}

/// An HTML page answer.
pub fn html(
    app: &App,
    status: StatusCode,
    body: String,
    set_cookie: Option<&HeaderValue>,
) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    secure(app, &mut response, set_cookie);
    response
}

/// `303 See Other` to `location`.
pub fn redirect(app: &App, location: &str, set_cookie: Option<&HeaderValue>) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    secure(app, &mut response, set_cookie);
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// `GET /auth/ui/static/portal.css`.
pub fn stylesheet() -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(STYLESHEET.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}

/// `GET /auth/ui/static/passkey.js`.
pub fn script() -> Response {
    let mut response =
        hyper::Response::new(Full::new(Bytes::from_static(PASSKEY_SCRIPT.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}

/// Lets a page run the passkey script (`script-src 'self'`, and
/// `connect-src 'self'` for its calls).
pub fn allow_script(app: &App, mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CONTENT_SECURITY_POLICY, app.portal.csp_script.clone());
    response
}

/// The answer to an error outside a page handler (an unknown page, a wrong
/// method, a body refused before it was read) on a portal path.
pub fn error_response(app: &App, error: Error) -> Response {
    errors::page(app, error)
}

/// A decoded `application/x-www-form-urlencoded` body (or query string).
pub struct Form(Vec<(String, String)>);

impl Form {
    /// The request's form body; anything else is `400`.
    pub fn of(req: &Request) -> ApiResult<Form> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&req.body)
            .map(Form)
            .map_err(|_| Error::invalid_request("The form is not valid."))
    }

    /// The request's query string.
    pub fn query(req: &Request) -> Form {
        Form(
            req.query
                .as_deref()
                .and_then(|q| serde_urlencoded::from_str(q).ok())
                .unwrap_or_default(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or "".
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// The value of a field the form must have: `400` when absent.
    pub fn required(&self, name: &str) -> ApiResult<&str> {
        self.get(name)
            .ok_or_else(|| Error::invalid_request(format!("The form has no {name}.")))
    }
}

/// One portal request: the app, the request, and the browser's CSRF state
/// (whose `Set-Cookie`, if any, goes on whatever answer is sent).
pub struct Cx<'r> {
    pub app: &'r App,
    pub req: &'r Request,
    pub csrf: csrf::Csrf,
}

impl<'r> Cx<'r> {
    /// A page request (GET): the CSRF cookie is made when missing.
    pub fn get(app: &'r App, req: &'r Request) -> ApiResult<Cx<'r>> {
        Ok(Cx {
            app,
            req,
            csrf: csrf::for_page(app, req)?,
        })
    }

    /// A form post: decoded, then checked for cross-site forgery before
    /// anything acts (`403` page otherwise).
    pub fn post(app: &'r App, req: &'r Request) -> ApiResult<(Cx<'r>, Form)> {
        if !csrf::same_site_request(app, req) {
            return Err(Error::InvalidOrigin);
        }
        let form = Form::of(req)?;
        let csrf = csrf::check_post(app, req, form.get("csrf"))?;
        Ok((Cx { app, req, csrf }, form))
    }

    pub fn t(&self) -> &'r Strings {
        &self.app.portal.strings
    }

    /// A frame whose heading is the text of `key`.
    pub fn frame(&self, key: &str) -> views::Frame<'_> {
        views::Frame::new(self.t(), key, &self.csrf.token)
    }

    /// A rendered page.
    pub fn page(&self, status: StatusCode, view: &impl askama::Template) -> Response {
        html(
            self.app,
            status,
            render(view),
            self.csrf.set_cookie.as_ref(),
        )
    }

    /// A page showing `error` next to its form: the error's status and headers.
    pub fn page_with_error(&self, error: &Error, view: &impl askama::Template) -> Response {
        let (status, _) = errors::describe(self.t(), error);
        let mut response = self.page(status, view);
        errors::decorate(error, &mut response);
        response
    }

    /// The text shown for `error`.
    pub fn error_text(&self, error: &Error) -> String {
        errors::describe(self.t(), error).1
    }

    /// `303` to `location`.
    pub fn redirect(&self, location: &str) -> Response {
        redirect(self.app, location, self.csrf.set_cookie.as_ref())
    }
}

/// `Set-Cookie` for the edge session cookie (`value` None clears it):
/// `<EDGEAUTH_SESSION_COOKIE_NAME>=…; HttpOnly; Secure; SameSite=Lax; Path=/;
/// Max-Age=<EDGEAUTH_SESSION_MAX_AGE>[; Domain=<EDGEAUTH_SESSION_COOKIE_DOMAIN>]`,
/// without `Secure` when `EDGEAUTH_COOKIE_SECURE=false`.
pub fn session_cookie(app: &App, value: Option<&str>) -> HeaderValue {
    let config = &app.config;
    let max_age = value.map_or(0, |_| config.session_max_age.as_secs());
    let mut cookie = format!(
        "{}={}; HttpOnly",
        config.session_cookie_name,
        value.unwrap_or("")
    );
    if config.cookie.secure {
        cookie.push_str("; Secure");
    }
    cookie.push_str(&format!("; SameSite=Lax; Path=/; Max-Age={max_age}"));
    if let Some(domain) = &config.session_cookie_domain {
        cookie.push_str(&format!("; Domain={domain}"));
    }
    // The name and domain are checked by `config` and the value is
    // base64url, so this holds; an empty header is the harmless fallback.
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))
}

/// The browser's live edge session, if its cookie names one (`None` for a
/// missing, forged, revoked or expired one; Redis trouble is an error).
pub async fn current_session(
    app: &App,
    req: &Request,
) -> ApiResult<Option<crate::ops::edge::EdgeSession>> {
    let cookies = req.cookies(
        &app.config.session_cookie_name,
        crate::ops::edge::COOKIES_PER_REQUEST,
    );
    match crate::ops::edge::first_live_session(app, &cookies, crate::clock::now_ms()).await {
        Ok(session) => Ok(Some(session)),
        Err(Error::InvalidToken) => Ok(None),
        Err(e) => Err(e),
    }
}
