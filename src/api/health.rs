//! Probes: `/healthz` (liveness: touches nothing) and `/readyz` (Redis
//! answers PING and the server is not draining), and `/metrics` (admin
//! listener only).

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{CONTENT_TYPE, HeaderValue};

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

/// `GET /metrics` — Prometheus text format 0.0.4.
pub fn metrics(app: &App) -> ApiResult<Response> {
    let text = app
        .render_metrics()
        .map_err(|e| Error::Internal(format!("metrics: {e}")))?;
    let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
