//! `GET|HEAD /auth/verify`: the gateway check (nginx `auth_request`,
//! Traefik ForwardAuth, Envoy `ext_authz`). 200 with the caller's ids in
//! headers, or 401.

use hyper::header::HeaderValue;

use crate::api::wire;
use crate::app::App;
use crate::error::ApiResult;
use crate::http::{Request, Response, no_content};

pub async fn verify(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    let mut response = no_content();
    *response.status_mut() = hyper::StatusCode::OK;
    let headers = response.headers_mut();
    // Hyphenated UUIDs are always valid header values.
    for (name, id) in [
        ("x-auth-user-id", caller.account),
        ("x-auth-session-id", caller.session),
    ] {
        if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}
