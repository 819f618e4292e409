//! Probes: `/healthz` (liveness: touches nothing) and `/readyz` (Redis
//! answers PING and the server is not draining).

use hyper::StatusCode;

use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::http::{Response, text_response};

pub fn healthz() -> Response {
    text_response(StatusCode::OK, "OK")
}

pub async fn readyz(app: &App) -> ApiResult<Response> {
    if app.is_draining() {
        return Err(Error::Unavailable("shutting down".into()));
    }
    app.store.ping().await?;
    Ok(text_response(StatusCode::OK, "OK"))
}
