//! `GET /.well-known/jwks.json`: every configured verification key, so
//! gateways validate access tokens locally and keys rotate without downtime.

use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};

use crate::app::App;
use crate::http::Response;

pub fn jwks(app: &App) -> Response {
    let mut response = hyper::Response::new(Full::new(app.jwks.clone()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
