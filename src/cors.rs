//! CORS for browser apps on other origins: only the exact origins listed in
//! `EDGEAUTH_CORS_ORIGINS` get `Access-Control-Allow-Origin` (echoed, never
//! `*`, because refresh cookies need `Allow-Credentials`). Preflight
//! (`OPTIONS` on a known route) answers 204 with the route's methods.

use hyper::StatusCode;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ALLOW,
    HeaderMap, HeaderValue, ORIGIN, VARY,
};

use crate::http::{Response, no_content};

/// The request's `Origin` when it is one of `allowed` (exact, byte for byte).
pub fn allowed_origin(allowed: &[String], headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(ORIGIN)?;
    allowed
        .iter()
        .any(|o| o.as_bytes() == origin.as_bytes())
        .then(|| origin.clone())
}

/// Adds the CORS headers for an allowed origin to any response.
pub fn decorate(response: &mut Response, origin: HeaderValue) {
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("X-Request-Id"),
    );
    headers.append(VARY, HeaderValue::from_static("Origin"));
}

/// The answer to `OPTIONS` on a route that allows `allow`. Browsers read
/// the `Access-Control-*` headers, added by [`decorate`] only for an allowed
/// origin; plain HTTP clients read `Allow`.
pub fn preflight(allow: &'static str) -> Response {
    let mut response = no_content();
    let headers = response.headers_mut();
    headers.insert(ALLOW, HeaderValue::from_static(allow));
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(allow),
    );
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, X-Request-Id"),
    );
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
