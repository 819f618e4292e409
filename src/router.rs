//! The one routing table: `(method, path)` → handler. No framework.
//!
//! [`ROUTES`] lists every endpoint once — path, methods, listener — and
//! [`dispatch`] maps each [`Route`] to its handler:
//!
//! | methods     | path                            | handler                              |
//! |-------------|---------------------------------|--------------------------------------|
//! | POST        | /auth/register                  | account::register                    |
//! | POST        | /auth/login                     | session::login                       |
//! | POST        | /auth/account/activate          | account::activate                    |
//! | POST        | /auth/account/activate/request  | account::request_activation          |
//! | POST        | /auth/account/forgot/request    | account::request_password_reset      |
//! | POST        | /auth/account/forgot            | account::reset_password              |
//! | POST        | /auth/account/remove            | account::remove                      |
//! | POST        | /auth/account/password          | account::change_password             |
//! | POST        | /auth/account/email/request     | email::request_change                |
//! | POST        | /auth/account/email             | email::confirm_change                |
//! | POST        | /auth/token/refresh             | session::refresh                     |
//! | POST        | /auth/token/revoke              | session::revoke                      |
//! | POST        | /auth/logout                    | session::logout                      |
//! | GET, HEAD   | /auth/sessions                  | session::list                        |
//! | POST        | /auth/sessions/revoke           | session::revoke_one                  |
//! | POST        | /auth/mfa/generate              | mfa::generate                        |
//! | POST        | /auth/mfa/enable                | mfa::enable                          |
//! | POST        | /auth/mfa/disable               | mfa::disable                         |
//! | POST        | /auth/mfa/totp                  | mfa::login_totp                      |
//! | POST        | /auth/mfa/recovery-codes        | mfa::recovery_codes                  |
//! | POST        | /auth/mfa/recover               | mfa::login_recover                   |
//! | POST        | /auth/passkeys/register/begin   | passkeys::register_begin             |
//! | POST        | /auth/passkeys/register/finish  | passkeys::register_finish            |
//! | GET, HEAD   | /auth/passkeys                  | passkeys::list                       |
//! | POST        | /auth/passkeys/remove           | passkeys::remove                     |
//! | POST        | /auth/passkeys/login/begin      | passkeys::login_begin                |
//! | POST        | /auth/passkeys/login/finish     | passkeys::login_finish               |
//! | GET, HEAD   | /auth/verify                    | verify::verify                       |
//! | any         | /auth/forward-auth              | verify::forward_auth                 |
//! | GET, HEAD   | /.well-known/jwks.json          | jwks::jwks                           |
//! | GET, HEAD   | /healthz, /readyz (both ports)  | health::healthz, health::readyz      |
//! | GET, HEAD   | /metrics (admin port only)      | health::metrics                      |
//! | GET         | /admin/accounts                 | admin::accounts (admin port only)    |
//! | GET, DELETE | /admin/accounts/{id}            | admin::account, admin::delete        |
//! | POST        | /admin/accounts/{id}/lock       | admin::lock                          |
//! | POST        | /admin/accounts/{id}/unlock     | admin::unlock                        |
//! | POST        | /admin/accounts/{id}/sign-out   | admin::sign_out                      |
//! | POST        | /admin/accounts/{id}/activate   | admin::activate                      |
//! | POST        | /admin/accounts/{id}/reset      | admin::reset                         |
//! | DELETE      | /admin/rate-limits              | admin::unthrottle                    |
//!
//! The admin rows (`/admin/`, admin listener only) have a path parameter:
//! `/admin/accounts/<id>[/<action>]` is matched to its `{id}` row by
//! [`admin_template`] before the table is read (the adapter parses the id:
//! `400` when it is not a UUID), so `405` + `Allow` work as for any row.
//!
//! `/auth/verify/<anything>` with any method is also `verify::verify`, and
//! `/auth/forward-auth/<anything>` `verify::forward_auth`: the shape of
//! Envoy's HTTP `ext_authz` check.
//!
//! With `EDGEAUTH_HBP_COMPAT=true`, [`resolve_with`] first consults
//! [`COMPAT_ROUTES`], the second table: the shapes Hasura Backend Plus
//! clients send, each a [`Route::Hbp`] that the HBP adapter (`api::compat`)
//! serves by calling the same operations as the handlers above. A compat row
//! may share its path with a row here (`POST /auth/login` then reads
//! `cookie`); a method only one of the two tables serves falls through to
//! the other, and `Allow` lists both.
//!
//! | methods | path (HBP table)               | handler                              |
//! |---------|--------------------------------|--------------------------------------|
//! | POST    | /auth/login                    | compat::login                        |
//! | POST    | /auth/mfa/totp                 | compat::mfa_totp                     |
//! | GET     | /auth/token/refresh            | compat::refresh                      |
//! | POST    | /auth/logout                   | compat::logout                       |
//! | GET     | /auth/activate                 | compat::activate                     |
//! | POST    | /auth/change-password          | compat::change_password              |
//! | POST    | /auth/change-password/request  | compat::change_password_request      |
//! | POST    | /auth/change-password/change   | compat::change_password_change       |
//! | POST    | /auth/change-email(/request)   | compat::change_email                 |
//! | POST    | /auth/change-email/change      | compat::change_email_change          |
//!
//! With `EDGEAUTH_PORTAL=true`, [`resolve_portal`] serves the third table,
//! [`PORTAL_ROUTES`]: the sign-in portal's HTML pages under `/auth/ui/`,
//! each a [`Route::Portal`] the portal adapter (`portal`) serves. Off, those
//! paths are unknown (404) like any other.
//!
//! | methods   | path (portal table)                  | handler                                |
//! |-----------|--------------------------------------|----------------------------------------|
//! | GET, POST | /auth/ui/login                       | pages::login_form, pages::login_submit |
//! | POST      | /auth/ui/login/mfa                   | pages::login_mfa                       |
//! | POST      | /auth/ui/login/passkey               | passkeys::login                        |
//! | GET, POST | /auth/ui/register                    | pages::register_form / _submit         |
//! | GET, POST | /auth/ui/activate                    | pages::activate_form / _submit         |
//! | GET, POST | /auth/ui/activate/request            | pages::activation_request_form / _submit |
//! | GET, POST | /auth/ui/forgot                      | pages::forgot_form / _submit           |
//! | GET, POST | /auth/ui/reset                       | pages::reset_form / _submit            |
//! | GET       | /auth/ui/account                     | account::page                          |
//! | POST      | /auth/ui/account/sessions/revoke     | account::revoke_session                |
//! | POST      | /auth/ui/account/password            | account::change_password               |
//! | POST      | /auth/ui/account/mfa/generate        | account::mfa_generate                  |
//! | POST      | /auth/ui/account/mfa/enable          | account::mfa_enable                    |
//! | POST      | /auth/ui/account/mfa/disable         | account::mfa_disable                   |
//! | POST      | /auth/ui/account/mfa/recovery-codes  | account::mfa_recovery_codes            |
//! | POST      | /auth/ui/account/passkeys/begin      | passkeys::begin (JSON answer)          |
//! | POST      | /auth/ui/account/passkeys/finish     | passkeys::finish                       |
//! | POST      | /auth/ui/account/passkeys/remove     | passkeys::remove                       |
//! | POST      | /auth/ui/logout                      | account::logout                        |
//! | GET, HEAD | /auth/ui/static/portal.css           | portal::stylesheet                     |
//! | GET, HEAD | /auth/ui/static/passkey.js           | portal::script                         |
//!
//! The router owns the tables and imports from the adapters only the
//! handler functions it dispatches to; no adapter imports the router.
//!
//! Anything else: 404; a known path with another method: 405 + `Allow`.
//! Paths are matched exactly as sent (no percent-decoding, no trailing
//! slash folding), so a route has exactly one spelling.

use hyper::Method;

use crate::api::compat;
use crate::api::{account, admin, email, health, jwks, mfa, passkeys, session, verify};
use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response};
use crate::portal;
use crate::portal::{account as portal_account, pages, passkeys as portal_passkeys};

/// A matched route. Its template is the only path text that reaches logs
/// and metrics, so label values stay bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Register,
    Login,
    Activate,
    ActivateRequest,
    ForgotRequest,
    Forgot,
    Remove,
    ChangePassword,
    EmailChangeRequest,
    EmailChange,
    Refresh,
    Revoke,
    Logout,
    Sessions,
    SessionRevoke,
    MfaGenerate,
    MfaEnable,
    MfaDisable,
    MfaTotp,
    MfaRecoveryCodes,
    MfaRecover,
    PasskeyRegisterBegin,
    PasskeyRegisterFinish,
    Passkeys,
    PasskeyRemove,
    PasskeyLoginBegin,
    PasskeyLoginFinish,
    Verify,
    ForwardAuth,
    Jwks,
    Healthz,
    Readyz,
    Metrics,
    AdminAccounts,
    AdminAccount,
    AdminLock,
    AdminUnlock,
    AdminSignOut,
    AdminActivate,
    AdminReset,
    AdminRateLimits,
    /// A route of the HBP compatibility table ([`COMPAT_ROUTES`]).
    Hbp(HbpRoute),
    /// A page of the sign-in portal ([`PORTAL_ROUTES`]).
    Portal(PortalRoute),
}

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Public,
    Admin,
}

/// Where a route is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serves {
    Public,
    Admin,
    Both,
}

impl Serves {
    fn includes(self, listener: Listener) -> bool {
        matches!(
            (self, listener),
            (Serves::Both, _)
                | (Serves::Public, Listener::Public)
                | (Serves::Admin, Listener::Admin)
        )
    }
}

/// One row of the routing table.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub route: Route,
    pub path: &'static str,
    /// The methods, as an `Allow` header value.
    pub allow: &'static str,
    pub serves: Serves,
}

const POST: &str = "POST";
const GET: &str = "GET";
const GET_HEAD: &str = "GET, HEAD";
const GET_DELETE: &str = "GET, DELETE";
const DELETE: &str = "DELETE";

const fn spec(route: Route, path: &'static str, allow: &'static str, serves: Serves) -> RouteSpec {
    RouteSpec {
        route,
        path,
        allow,
        serves,
    }
}

/// Every route, once.
#[rustfmt::skip]
pub const ROUTES: &[RouteSpec] = &[
    spec(Route::Register, "/auth/register", POST, Serves::Public),
    spec(Route::Login, "/auth/login", POST, Serves::Public),
    spec(Route::Activate, "/auth/account/activate", POST, Serves::Public),
    spec(Route::ActivateRequest, "/auth/account/activate/request", POST, Serves::Public),
    spec(Route::ForgotRequest, "/auth/account/forgot/request", POST, Serves::Public),
    spec(Route::Forgot, "/auth/account/forgot", POST, Serves::Public),
    spec(Route::Remove, "/auth/account/remove", POST, Serves::Public),
    spec(Route::ChangePassword, "/auth/account/password", POST, Serves::Public),
    spec(Route::EmailChangeRequest, "/auth/account/email/request", POST, Serves::Public),
    spec(Route::EmailChange, "/auth/account/email", POST, Serves::Public),
    spec(Route::Refresh, "/auth/token/refresh", POST, Serves::Public),
    spec(Route::Revoke, "/auth/token/revoke", POST, Serves::Public),
    spec(Route::Logout, "/auth/logout", POST, Serves::Public),
    spec(Route::Sessions, "/auth/sessions", GET_HEAD, Serves::Public),
    spec(Route::SessionRevoke, "/auth/sessions/revoke", POST, Serves::Public),
    spec(Route::MfaGenerate, "/auth/mfa/generate", POST, Serves::Public),
    spec(Route::MfaEnable, "/auth/mfa/enable", POST, Serves::Public),
    spec(Route::MfaDisable, "/auth/mfa/disable", POST, Serves::Public),
    spec(Route::MfaTotp, "/auth/mfa/totp", POST, Serves::Public),
    spec(Route::MfaRecoveryCodes, "/auth/mfa/recovery-codes", POST, Serves::Public),
    spec(Route::MfaRecover, "/auth/mfa/recover", POST, Serves::Public),
    spec(Route::PasskeyRegisterBegin, "/auth/passkeys/register/begin", POST, Serves::Public),
    spec(Route::PasskeyRegisterFinish, "/auth/passkeys/register/finish", POST, Serves::Public),
    spec(Route::Passkeys, "/auth/passkeys", GET_HEAD, Serves::Public),
    spec(Route::PasskeyRemove, "/auth/passkeys/remove", POST, Serves::Public),
    spec(Route::PasskeyLoginBegin, "/auth/passkeys/login/begin", POST, Serves::Public),
    spec(Route::PasskeyLoginFinish, "/auth/passkeys/login/finish", POST, Serves::Public),
    spec(Route::Verify, "/auth/verify", GET_HEAD, Serves::Public),
    // Any method, like `/auth/forward-auth/<path>` (see `resolve_with`); GET and HEAD are the
    // ones a gateway sends in practice, and the ones listed here.
    spec(Route::ForwardAuth, "/auth/forward-auth", GET_HEAD, Serves::Public),
    spec(Route::Jwks, "/.well-known/jwks.json", GET_HEAD, Serves::Public),
    spec(Route::Healthz, "/healthz", GET_HEAD, Serves::Both),
    spec(Route::Readyz, "/readyz", GET_HEAD, Serves::Both),
    spec(Route::Metrics, "/metrics", GET_HEAD, Serves::Admin),
    spec(Route::AdminAccounts, "/admin/accounts", GET, Serves::Admin),
    spec(Route::AdminAccount, "/admin/accounts/{id}", GET_DELETE, Serves::Admin),
    spec(Route::AdminLock, "/admin/accounts/{id}/lock", POST, Serves::Admin),
    spec(Route::AdminUnlock, "/admin/accounts/{id}/unlock", POST, Serves::Admin),
    spec(Route::AdminSignOut, "/admin/accounts/{id}/sign-out", POST, Serves::Admin),
    spec(Route::AdminActivate, "/admin/accounts/{id}/activate", POST, Serves::Admin),
    spec(Route::AdminReset, "/admin/accounts/{id}/reset", POST, Serves::Admin),
    spec(Route::AdminRateLimits, "/admin/rate-limits", DELETE, Serves::Admin),
];

/// The table row of an admin path naming one account, `/admin/accounts/<id>` or
/// `/admin/accounts/<id>/<action>` (any non-empty id segment: the adapter checks it): the row's
/// `{id}` template, or None for any other path.
pub fn admin_template(listener: Listener, path: &str) -> Option<&'static str> {
    if listener != Listener::Admin {
        return None;
    }
    let rest = path.strip_prefix("/admin/accounts/")?;
    let (id, action) = match rest.split_once('/') {
        Some((id, action)) => (id, Some(action)),
        None => (rest, None),
    };
    if id.is_empty() || action.is_some_and(|a| a.is_empty() || a.contains('/')) {
        return None;
    }
    ROUTES
        .iter()
        .filter(|s| s.serves.includes(listener))
        .find(
            |s| match (s.path.strip_prefix("/admin/accounts/{id}"), action) {
                (Some(""), None) => true,
                (Some(tail), Some(action)) => tail.strip_prefix('/') == Some(action),
                _ => false,
            },
        )
        .map(|s| s.path)
}

/// A route of the HBP compatibility table.
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

/// A page of the sign-in portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalRoute {
    Login,
    LoginMfa,
    Register,
    Activate,
    ActivateRequest,
    Forgot,
    Reset,
    Account,
    SessionRevoke,
    Password,
    MfaGenerate,
    MfaEnable,
    MfaDisable,
    MfaRecoveryCodes,
    Logout,
    LoginPasskey,
    PasskeyBegin,
    PasskeyFinish,
    PasskeyRemove,
    Stylesheet,
    Script,
}

const GET_POST: &str = "GET, POST";

const fn page(route: PortalRoute, path: &'static str, allow: &'static str) -> RouteSpec {
    spec(Route::Portal(route), path, allow, Serves::Public)
}

/// Every page of the sign-in portal, once (served with `EDGEAUTH_PORTAL`).
#[rustfmt::skip]
pub const PORTAL_ROUTES: &[RouteSpec] = &[
    page(PortalRoute::Login, "/auth/ui/login", GET_POST),
    page(PortalRoute::LoginMfa, "/auth/ui/login/mfa", POST),
    page(PortalRoute::LoginPasskey, "/auth/ui/login/passkey", POST),
    page(PortalRoute::Register, "/auth/ui/register", GET_POST),
    page(PortalRoute::Activate, "/auth/ui/activate", GET_POST),
    page(PortalRoute::ActivateRequest, "/auth/ui/activate/request", GET_POST),
    page(PortalRoute::Forgot, "/auth/ui/forgot", GET_POST),
    page(PortalRoute::Reset, "/auth/ui/reset", GET_POST),
    page(PortalRoute::Account, "/auth/ui/account", GET),
    page(PortalRoute::SessionRevoke, "/auth/ui/account/sessions/revoke", POST),
    page(PortalRoute::Password, "/auth/ui/account/password", POST),
    page(PortalRoute::MfaGenerate, "/auth/ui/account/mfa/generate", POST),
    page(PortalRoute::MfaEnable, "/auth/ui/account/mfa/enable", POST),
    page(PortalRoute::MfaDisable, "/auth/ui/account/mfa/disable", POST),
    page(PortalRoute::MfaRecoveryCodes, "/auth/ui/account/mfa/recovery-codes", POST),
    page(PortalRoute::PasskeyBegin, "/auth/ui/account/passkeys/begin", POST),
    page(PortalRoute::PasskeyFinish, "/auth/ui/account/passkeys/finish", POST),
    page(PortalRoute::PasskeyRemove, "/auth/ui/account/passkeys/remove", POST),
    page(PortalRoute::Logout, "/auth/ui/logout", POST),
    page(PortalRoute::Stylesheet, "/auth/ui/static/portal.css", GET_HEAD),
    page(PortalRoute::Script, "/auth/ui/static/passkey.js", GET_HEAD),
];

/// The prefix of every portal path.
pub const PORTAL_PREFIX: &str = "/auth/ui/";

/// With the portal on, the route of a path under [`PORTAL_PREFIX`] (404 /
/// 405 + `Allow` as for the other tables); `None` for any other path.
pub fn resolve_portal(
    listener: Listener,
    method: &Method,
    path: &str,
) -> Option<Result<Route, Error>> {
    if listener != Listener::Public || !path.starts_with(PORTAL_PREFIX) {
        return None;
    }
    let Some(spec) = find(PORTAL_ROUTES, listener, path) else {
        return Some(Err(Error::NotFound));
    };
    Some(if accepts(spec.allow, method) {
        Ok(spec.route)
    } else {
        Err(Error::MethodNotAllowed { allow: spec.allow })
    })
}

/// The `Allow` value of a path both tables serve, with different methods.
fn joint_allow(native: &'static str, compat: &'static str) -> &'static str {
    match (native, compat) {
        ("POST", "GET") => "GET, POST",
        // Same methods (every other overlap; see the test below).
        _ => native,
    }
}

impl Route {
    fn spec(self) -> Option<&'static RouteSpec> {
        ROUTES
            .iter()
            .chain(COMPAT_ROUTES)
            .chain(PORTAL_ROUTES)
            .find(|s| s.route == self)
    }

    /// The path as written in [`ROUTES`]: the label logs and metrics use.
    pub fn template(self) -> &'static str {
        self.spec().map_or("unmatched", |s| s.path)
    }

    /// The methods the route answers, as an `Allow` header value.
    pub fn allow(self) -> &'static str {
        self.spec().map_or(POST, |s| s.allow)
    }
}

/// The paths whose answers hand out tokens or secrets (access and refresh
/// tokens, TOTP secrets, recovery codes): every answer on them, from either
/// routing table, carries `Cache-Control: no-store` (RFC 6749 §5.1), so no
/// browser or proxy cache keeps a copy.
const NO_STORE_PATHS: &[&str] = &[
    "/auth/login",
    "/auth/mfa/totp",
    "/auth/mfa/recover",
    "/auth/token/refresh",
    "/auth/mfa/generate",
    "/auth/mfa/recovery-codes",
    "/auth/passkeys/login/finish",
];

impl Route {
    /// Whether answers on this route must never be stored by a cache.
    pub fn no_store(self) -> bool {
        NO_STORE_PATHS.contains(&self.template())
    }
}

/// Whether `method` is among those of an `Allow` value.
fn accepts(allow: &str, method: &Method) -> bool {
    allow.split(", ").any(|m| m == method.as_str())
}

fn find(table: &'static [RouteSpec], listener: Listener, path: &str) -> Option<&'static RouteSpec> {
    table
        .iter()
        .find(|s| s.path == path && s.serves.includes(listener))
}

/// The template of a known path on a listener whatever the method (the
/// metric label of a `405`: the path is one of ours, only the method is
/// not), or `None` for an unknown path.
pub fn template_of(listener: Listener, path: &str, hbp_compat: bool) -> Option<&'static str> {
    let path = admin_template(listener, path).unwrap_or(path);
    find(ROUTES, listener, path)
        .or_else(|| find(COMPAT_ROUTES, listener, path).filter(|_| hbp_compat))
        .map(|s| s.path)
}

/// Finds the route for a path on a listener, checking the method, with the
/// HBP compatibility table off.
pub fn resolve(listener: Listener, method: &Method, path: &str) -> Result<Route, Error> {
    resolve_with(listener, method, path, false)
}

/// Finds the route for a path on a listener, checking the method; with
/// `hbp_compat`, the compatibility table first.
pub fn resolve_with(
    listener: Listener,
    method: &Method,
    path: &str,
    hbp_compat: bool,
) -> Result<Route, Error> {
    // Envoy's HTTP ext_authz appends the original path to its `path_prefix`
    // and keeps the client's method, so the check arrives as
    // `/auth/verify/<original path>` with any method.
    if listener == Listener::Public && path.starts_with("/auth/verify/") {
        return Ok(Route::Verify);
    }
    if listener == Listener::Public
        && (path == "/auth/forward-auth" || path.starts_with("/auth/forward-auth/"))
    {
        return Ok(Route::ForwardAuth);
    }
    let path = admin_template(listener, path).unwrap_or(path);
    let native = find(ROUTES, listener, path);
    if let Some(compat) = find(COMPAT_ROUTES, listener, path).filter(|_| hbp_compat) {
        return match native {
            _ if accepts(compat.allow, method) => Ok(compat.route),
            Some(native) if accepts(native.allow, method) => Ok(native.route),
            Some(native) => Err(Error::MethodNotAllowed {
                allow: joint_allow(native.allow, compat.allow),
            }),
            None => Err(Error::MethodNotAllowed {
                allow: compat.allow,
            }),
        };
    }
    let spec = native.ok_or(Error::NotFound)?;
    if accepts(spec.allow, method) {
        Ok(spec.route)
    } else {
        Err(Error::MethodNotAllowed { allow: spec.allow })
    }
}

/// Runs the handler of `route`.
pub async fn dispatch(app: &App, route: Route, req: &Request) -> ApiResult<Response> {
    match route {
        Route::Register => account::register(app, req).await,
        Route::Login => session::login(app, req).await,
        Route::Activate => account::activate(app, req).await,
        Route::ActivateRequest => account::request_activation(app, req).await,
        Route::ForgotRequest => account::request_password_reset(app, req).await,
        Route::Forgot => account::reset_password(app, req).await,
        Route::Remove => account::remove(app, req).await,
        Route::ChangePassword => account::change_password(app, req).await,
        Route::EmailChangeRequest => email::request_change(app, req).await,
        Route::EmailChange => email::confirm_change(app, req).await,
        Route::Refresh => session::refresh(app, req).await,
        Route::Revoke => session::revoke(app, req).await,
        Route::Logout => session::logout(app, req).await,
        Route::Sessions => session::list(app, req).await,
        Route::SessionRevoke => session::revoke_one(app, req).await,
        Route::MfaGenerate => mfa::generate(app, req).await,
        Route::MfaEnable => mfa::enable(app, req).await,
        Route::MfaDisable => mfa::disable(app, req).await,
        Route::MfaTotp => mfa::login_totp(app, req).await,
        Route::MfaRecoveryCodes => mfa::recovery_codes(app, req).await,
        Route::MfaRecover => mfa::login_recover(app, req).await,
        Route::PasskeyRegisterBegin => passkeys::register_begin(app, req).await,
        Route::PasskeyRegisterFinish => passkeys::register_finish(app, req).await,
        Route::Passkeys => passkeys::list(app, req).await,
        Route::PasskeyRemove => passkeys::remove(app, req).await,
        Route::PasskeyLoginBegin => passkeys::login_begin(app, req).await,
        Route::PasskeyLoginFinish => passkeys::login_finish(app, req).await,
        Route::Verify => verify::verify(app, req).await,
        Route::ForwardAuth => verify::forward_auth(app, req).await,
        Route::Jwks => Ok(jwks::jwks(app)),
        Route::Healthz => Ok(health::healthz()),
        Route::Readyz => health::readyz(app).await,
        Route::Metrics => health::metrics(app),
        Route::AdminAccounts => admin::accounts(app, req).await,
        Route::AdminAccount if req.method == Method::DELETE => admin::delete(app, req).await,
        Route::AdminAccount => admin::account(app, req).await,
        Route::AdminLock => admin::lock(app, req).await,
        Route::AdminUnlock => admin::unlock(app, req).await,
        Route::AdminSignOut => admin::sign_out(app, req).await,
        Route::AdminActivate => admin::activate(app, req).await,
        Route::AdminReset => admin::reset(app, req).await,
        Route::AdminRateLimits => admin::unthrottle(app, req).await,
        Route::Hbp(route) => dispatch_hbp(app, route, req).await,
        Route::Portal(route) => dispatch_portal(app, route, req).await,
    }
}

/// Runs the portal's handler of `route`: a page for GET, its form for POST.
async fn dispatch_portal(app: &App, route: PortalRoute, req: &Request) -> ApiResult<Response> {
    use PortalRoute::*;
    let get = req.method == Method::GET;
    match route {
        Login if get => pages::login_form(app, req).await,
        Login => pages::login_submit(app, req).await,
        LoginMfa => pages::login_mfa(app, req).await,
        Register if get => pages::register_form(app, req).await,
        Register => pages::register_submit(app, req).await,
        Activate if get => pages::activate_form(app, req).await,
        Activate => pages::activate_submit(app, req).await,
        ActivateRequest if get => pages::activation_request_form(app, req).await,
        ActivateRequest => pages::activation_request_submit(app, req).await,
        Forgot if get => pages::forgot_form(app, req).await,
        Forgot => pages::forgot_submit(app, req).await,
        Reset if get => pages::reset_form(app, req).await,
        Reset => pages::reset_submit(app, req).await,
        Account => portal_account::page(app, req).await,
        SessionRevoke => portal_account::revoke_session(app, req).await,
        Password => portal_account::change_password(app, req).await,
        MfaGenerate => portal_account::mfa_generate(app, req).await,
        MfaEnable => portal_account::mfa_enable(app, req).await,
        MfaDisable => portal_account::mfa_disable(app, req).await,
        MfaRecoveryCodes => portal_account::mfa_recovery_codes(app, req).await,
        Logout => portal_account::logout(app, req).await,
        LoginPasskey => portal_passkeys::login(app, req).await,
        PasskeyBegin => portal_passkeys::begin(app, req).await,
        PasskeyFinish => portal_passkeys::finish(app, req).await,
        PasskeyRemove => portal_passkeys::remove(app, req).await,
        Stylesheet => Ok(portal::stylesheet()),
        Script => Ok(portal::script()),
    }
}

/// Runs the HBP adapter's handler of `route`.
async fn dispatch_hbp(app: &App, route: HbpRoute, req: &Request) -> ApiResult<Response> {
    match route {
        HbpRoute::Login => compat::login(app, req).await,
        HbpRoute::MfaTotp => compat::mfa_totp(app, req).await,
        HbpRoute::Refresh => compat::refresh(app, req).await,
        HbpRoute::Logout => compat::logout(app, req).await,
        HbpRoute::Activate => compat::activate(app, req).await,
        HbpRoute::ChangePassword => compat::change_password(app, req).await,
        HbpRoute::ChangePasswordRequest => compat::change_password_request(app, req).await,
        HbpRoute::ChangePasswordChange => compat::change_password_change(app, req).await,
        HbpRoute::ChangeEmail | HbpRoute::ChangeEmailRequest => {
            compat::change_email(app, req).await
        }
        HbpRoute::ChangeEmailChange => compat::change_email_change(app, req).await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn routes_and_methods() {
        use Listener::*;
        for method in [Method::GET, Method::POST, Method::DELETE] {
            assert_eq!(
                resolve(Public, &method, "/auth/verify/api/orders").unwrap(),
                Route::Verify,
                "Envoy ext_authz shape"
            );
        }
        assert_eq!(
            resolve(Public, &Method::POST, "/auth/login").unwrap(),
            Route::Login
        );
        assert_eq!(
            resolve(Public, &Method::HEAD, "/auth/verify").unwrap(),
            Route::Verify
        );
        assert_eq!(
            resolve(Admin, &Method::GET, "/readyz").unwrap(),
            Route::Readyz
        );
        assert!(matches!(
            resolve(Public, &Method::GET, "/auth/login"),
            Err(Error::MethodNotAllowed { allow: "POST" })
        ));
        assert!(matches!(
            resolve(Public, &Method::POST, "/healthz"),
            Err(Error::MethodNotAllowed { allow: "GET, HEAD" })
        ));
        for path in ["/auth/login/", "/auth/%6Cogin", "/", "/metrics", "/auth"] {
            assert!(
                matches!(resolve(Public, &Method::POST, path), Err(Error::NotFound)),
                "{path}"
            );
        }
        assert!(matches!(
            resolve(Admin, &Method::POST, "/auth/login"),
            Err(Error::NotFound)
        ));
        assert_eq!(
            template_of(Public, "/auth/login", false),
            Some("/auth/login")
        );
        assert_eq!(template_of(Public, "/auth/activate", false), None);
        assert_eq!(
            template_of(Public, "/auth/activate", true),
            Some("/auth/activate")
        );
        assert_eq!(template_of(Admin, "/auth/login", false), None);
        assert_eq!(template_of(Public, "/nope", true), None);
    }

    #[test]
    fn admin_paths_with_an_id() {
        use Listener::*;
        let id = "0b5f1c9e-8f0e-4a57-9d53-6f7f2b0a1c2d";
        let at = |m: Method, p: &str| resolve(Admin, &m, p);
        assert_eq!(
            at(Method::GET, &format!("/admin/accounts/{id}")).unwrap(),
            Route::AdminAccount
        );
        assert_eq!(
            at(Method::DELETE, &format!("/admin/accounts/{id}")).unwrap(),
            Route::AdminAccount
        );
        assert_eq!(
            at(Method::POST, &format!("/admin/accounts/{id}/lock")).unwrap(),
            Route::AdminLock
        );
        assert_eq!(
            at(Method::POST, &format!("/admin/accounts/{id}/sign-out")).unwrap(),
            Route::AdminSignOut
        );
        assert_eq!(
            at(Method::GET, "/admin/accounts").unwrap(),
            Route::AdminAccounts
        );
        assert_eq!(
            at(Method::DELETE, "/admin/rate-limits").unwrap(),
            Route::AdminRateLimits
        );
        assert!(matches!(
            at(Method::GET, &format!("/admin/accounts/{id}/lock")),
            Err(Error::MethodNotAllowed { allow: "POST" })
        ));
        assert!(matches!(
            at(Method::POST, &format!("/admin/accounts/{id}")),
            Err(Error::MethodNotAllowed {
                allow: "GET, DELETE"
            })
        ));
        for path in [
            "/admin/accounts/".to_owned(),
            format!("/admin/accounts/{id}/"),
            format!("/admin/accounts/{id}/nope"),
            format!("/admin/accounts/{id}/lock/x"),
            "/admin/nope".to_owned(),
        ] {
            assert!(
                matches!(at(Method::POST, &path), Err(Error::NotFound)),
                "{path}"
            );
        }
        assert_eq!(
            template_of(Admin, &format!("/admin/accounts/{id}/reset"), false),
            Some("/admin/accounts/{id}/reset")
        );
        for path in [
            "/admin/accounts".to_owned(),
            format!("/admin/accounts/{id}"),
        ] {
            assert!(
                matches!(resolve(Public, &Method::GET, &path), Err(Error::NotFound)),
                "{path}"
            );
        }
    }

    #[test]
    fn every_route_is_listed_once_and_served() {
        for (i, spec) in ROUTES.iter().enumerate() {
            assert!(
                ROUTES[i + 1..]
                    .iter()
                    .all(|other| other.route != spec.route && other.path != spec.path),
                "{:?} listed twice",
                spec.route
            );
            let method = method_of(spec.allow);
            let served = [Listener::Public, Listener::Admin]
                .into_iter()
                .any(|l| resolve(l, &method, spec.path).ok() == Some(spec.route));
            assert!(served, "{:?} is not served on any listener", spec.route);
            assert_eq!(spec.route.template(), spec.path);
        }
    }

    #[test]
    fn portal_routes_are_listed_once_under_their_prefix() {
        for (i, spec) in PORTAL_ROUTES.iter().enumerate() {
            assert!(spec.path.starts_with(PORTAL_PREFIX), "{}", spec.path);
            assert!(
                PORTAL_ROUTES[i + 1..]
                    .iter()
                    .all(|o| o.route != spec.route && o.path != spec.path),
                "{:?} listed twice",
                spec.route
            );
            let method = method_of(spec.allow);
            assert_eq!(
                resolve_portal(Listener::Public, &method, spec.path)
                    .unwrap()
                    .unwrap(),
                spec.route
            );
            assert_eq!(spec.route.template(), spec.path);
            // Not in the other tables: off, the portal's paths are unknown.
            assert!(matches!(
                resolve_with(Listener::Public, &method, spec.path, true),
                Err(Error::NotFound)
            ));
            assert!(resolve_portal(Listener::Admin, &method, spec.path).is_none());
        }
        assert!(matches!(
            resolve_portal(Listener::Public, &Method::GET, "/auth/ui/nope"),
            Some(Err(Error::NotFound))
        ));
        assert!(matches!(
            resolve_portal(Listener::Public, &Method::PUT, "/auth/ui/login"),
            Some(Err(Error::MethodNotAllowed { allow: "GET, POST" }))
        ));
        assert!(resolve_portal(Listener::Public, &Method::GET, "/auth/login").is_none());
    }

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
}
