//! The one routing table: `(method, path)` → handler. No framework.
//!
//! Public listener:
//!
//! | method      | path                            | handler                              |
//! |-------------|---------------------------------|--------------------------------------|
//! | POST        | /auth/register                  | account::register                    |
//! | POST        | /auth/login                     | session::login                       |
//! | POST        | /auth/account/activate          | account::activate                    |
//! | POST        | /auth/account/activate/request  | account::request_activation          |
//! | POST        | /auth/account/forgot/request    | account::request_password_reset      |
//! | POST        | /auth/account/forgot            | account::reset_password              |
//! | POST        | /auth/account/remove            | account::remove                      |
//! | POST        | /auth/token/refresh             | session::refresh                     |
//! | POST        | /auth/token/revoke              | session::revoke                      |
//! | POST        | /auth/logout                    | session::logout                      |
//! | POST        | /auth/mfa/generate              | mfa::generate                        |
//! | POST        | /auth/mfa/enable                | mfa::enable                          |
//! | POST        | /auth/mfa/disable               | mfa::disable                         |
//! | POST        | /auth/mfa/totp                  | mfa::login_totp                      |
//! | POST        | /auth/mfa/recovery-codes        | mfa::recovery_codes                  |
//! | POST        | /auth/mfa/recover               | mfa::login_recover                   |
//! | GET, HEAD   | /auth/verify                    | verify::verify                       |
//! | GET, HEAD   | /.well-known/jwks.json          | keys::jwks                           |
//! | GET, HEAD   | /healthz                        | health::healthz                      |
//! | GET, HEAD   | /readyz                         | health::readyz                       |
//!
//! Admin listener: `GET, HEAD` `/healthz`, `/readyz` and `/metrics`
//! (health::metrics) only; `/metrics` is never on the public port.
//!
//! `/auth/verify/<anything>` with any method is also `verify::verify`: the
//! shape of Envoy's HTTP `ext_authz` check.
//!
//! Anything else: 404; a known path with another method: 405 + `Allow`.
//! Paths are matched exactly as sent (no percent-decoding, no trailing
//! slash folding), so a route has exactly one spelling.

use hyper::Method;

use crate::api::{account, health, keys, mfa, session, verify};
use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response};

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
    Refresh,
    Revoke,
    Logout,
    MfaGenerate,
    MfaEnable,
    MfaDisable,
    MfaTotp,
    MfaRecoveryCodes,
    MfaRecover,
    Verify,
    Jwks,
    Healthz,
    Readyz,
    Metrics,
}

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Public,
    Admin,
}

const POST: &str = "POST";
const GET_HEAD: &str = "GET, HEAD";

impl Route {
    /// Every route, in declaration order. Nothing routes through this list;
    /// it lets tests walk the routes (`tests/integration/openapi.rs` checks
    /// them against openapi.yaml), so a new variant goes here too.
    pub const ALL: &[Route] = &[
        Route::Register,
        Route::Login,
        Route::Activate,
        Route::ActivateRequest,
        Route::ForgotRequest,
        Route::Forgot,
        Route::Remove,
        Route::Refresh,
        Route::Revoke,
        Route::Logout,
        Route::MfaGenerate,
        Route::MfaEnable,
        Route::MfaDisable,
        Route::MfaTotp,
        Route::MfaRecoveryCodes,
        Route::MfaRecover,
        Route::Verify,
        Route::Jwks,
        Route::Healthz,
        Route::Readyz,
        Route::Metrics,
    ];

    pub fn template(self) -> &'static str {
        match self {
            Route::Register => "/auth/register",
            Route::Login => "/auth/login",
            Route::Activate => "/auth/account/activate",
            Route::ActivateRequest => "/auth/account/activate/request",
            Route::ForgotRequest => "/auth/account/forgot/request",
            Route::Forgot => "/auth/account/forgot",
            Route::Remove => "/auth/account/remove",
            Route::Refresh => "/auth/token/refresh",
            Route::Revoke => "/auth/token/revoke",
            Route::Logout => "/auth/logout",
            Route::MfaGenerate => "/auth/mfa/generate",
            Route::MfaEnable => "/auth/mfa/enable",
            Route::MfaDisable => "/auth/mfa/disable",
            Route::MfaTotp => "/auth/mfa/totp",
            Route::MfaRecoveryCodes => "/auth/mfa/recovery-codes",
            Route::MfaRecover => "/auth/mfa/recover",
            Route::Verify => "/auth/verify",
            Route::Jwks => "/.well-known/jwks.json",
            Route::Healthz => "/healthz",
            Route::Readyz => "/readyz",
            Route::Metrics => "/metrics",
        }
    }

    /// The methods the route answers, as an `Allow` header value.
    pub fn allow(self) -> &'static str {
        match self {
            Route::Verify | Route::Jwks | Route::Healthz | Route::Readyz | Route::Metrics => {
                GET_HEAD
            }
            _ => POST,
        }
    }

    fn accepts(self, method: &Method) -> bool {
        match self.allow() {
            GET_HEAD => method == Method::GET || method == Method::HEAD,
            _ => method == Method::POST,
        }
    }
}

/// Finds the route for a path on a listener, checking the method.
pub fn resolve(listener: Listener, method: &Method, path: &str) -> Result<Route, Error> {
    let route = match (listener, path) {
        (_, "/healthz") => Route::Healthz,
        (_, "/readyz") => Route::Readyz,
        (Listener::Admin, "/metrics") => Route::Metrics,
        (Listener::Admin, _) => return Err(Error::NotFound),
        // Envoy's HTTP ext_authz appends the original path to its
        // `path_prefix` and keeps the client's method, so the check arrives
        // as `/auth/verify/<original path>` with any method.
        (Listener::Public, path) if path.starts_with("/auth/verify/") => return Ok(Route::Verify),
        (Listener::Public, path) => match path {
            "/auth/register" => Route::Register,
            "/auth/login" => Route::Login,
            "/auth/account/activate" => Route::Activate,
            "/auth/account/activate/request" => Route::ActivateRequest,
            "/auth/account/forgot/request" => Route::ForgotRequest,
            "/auth/account/forgot" => Route::Forgot,
            "/auth/account/remove" => Route::Remove,
            "/auth/token/refresh" => Route::Refresh,
            "/auth/token/revoke" => Route::Revoke,
            "/auth/logout" => Route::Logout,
            "/auth/mfa/generate" => Route::MfaGenerate,
            "/auth/mfa/enable" => Route::MfaEnable,
            "/auth/mfa/disable" => Route::MfaDisable,
            "/auth/mfa/totp" => Route::MfaTotp,
            "/auth/mfa/recovery-codes" => Route::MfaRecoveryCodes,
            "/auth/mfa/recover" => Route::MfaRecover,
            "/auth/verify" => Route::Verify,
            "/.well-known/jwks.json" => Route::Jwks,
            _ => return Err(Error::NotFound),
        },
    };
    if route.accepts(method) {
        Ok(route)
    } else {
        Err(Error::MethodNotAllowed {
            allow: route.allow(),
        })
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
        Route::Refresh => session::refresh(app, req).await,
        Route::Revoke => session::revoke(app, req).await,
        Route::Logout => session::logout(app, req).await,
        Route::MfaGenerate => mfa::generate(app, req).await,
        Route::MfaEnable => mfa::enable(app, req).await,
        Route::MfaDisable => mfa::disable(app, req).await,
        Route::MfaTotp => mfa::login_totp(app, req).await,
        Route::MfaRecoveryCodes => mfa::recovery_codes(app, req).await,
        Route::MfaRecover => mfa::login_recover(app, req).await,
        Route::Verify => verify::verify(app, req).await,
        Route::Jwks => Ok(keys::jwks(app)),
        Route::Healthz => Ok(health::healthz()),
        Route::Readyz => health::readyz(app).await,
        Route::Metrics => health::metrics(app),
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
    }

    #[test]
    fn all_lists_every_route_once_in_order() {
        for (i, route) in Route::ALL.iter().enumerate() {
            assert_eq!(*route as usize, i, "{route:?} out of order in Route::ALL");
            let method = if route.allow() == POST {
                Method::POST
            } else {
                Method::GET
            };
            let served = [Listener::Public, Listener::Admin]
                .into_iter()
                .any(|l| resolve(l, &method, route.template()).ok() == Some(*route));
            assert!(served, "{route:?} is not served on any listener");
        }
    }
}
