//! The admin command line's HTTP/1.1 client: one request at a time to the admin listener
//! (`http://` only: the admin listener speaks plain HTTP and belongs on a private network or
//! behind a port-forward), with the Bearer token, a deadline, and the API's `{error, message}`
//! bodies turned into one printable line.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one request may take, connecting included.
const DEADLINE: Duration = Duration::from_secs(30);
/// How long connecting may take.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);
/// The most of an answer read (an account page of 1000 summaries is far below).
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Why a request did not succeed, printed as one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// No answer: refused, timed out, cut off, or not HTTP.
    Unreachable(String),
    /// An answer other than 2xx: its status and, when the body is the API's error JSON, its
    /// `error` code and `message`.
    Api {
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(why) => f.write_str(why),
            Failure::Api {
                status,
                code,
                message,
            } => {
                write!(f, "HTTP {status}")?;
                if let Some(code) = code {
                    write!(f, " {code}")?;
                }
                match message {
                    Some(message) => write!(f, ": {message}"),
                    None if code.is_none() => {
                        f.write_str(" (not an answer of the admin API: check --url)")
                    }
                    None => Ok(()),
                }
            }
        }
    }
}

impl Failure {
    /// The failure of a non-2xx answer with this body.
    pub fn from_answer(status: StatusCode, body: &[u8]) -> Failure {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        Failure::Api {
            status: status.as_u16(),
            code: field("error"),
            message: field("message"),
        }
    }

    /// Whether the API said there is no such thing.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Failure::Api { status: 404, .. })
    }
}

/// A client of one admin listener with one token.
pub struct Client {
    base: String,
    token: HeaderValue,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Client {
    /// `base` is an `http://host:port` URL (a path prefix allowed), already checked by
    /// [`check_url`]; `token` one admin token.
    pub fn new(base: &str, token: &str) -> Result<Client, String> {
        let mut token = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the token holds characters a header cannot carry".to_owned())?;
        token.set_sensitive(true);
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_DEADLINE));
        connector.set_nodelay(true);
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1)
            .build(connector);
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    /// Sends one request (`path` starts with `/admin/` and may carry a query) and returns the
    /// body of a 2xx answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> Result<Bytes, Failure> {
        let url = format!("{}{path}", self.base);
        let mut request = Request::builder()
            .method(method)
            .uri(&url)
            .header(AUTHORIZATION, self.token.clone());
        let body = match json {
            Some(value) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(value.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(body)
            .map_err(|e| Failure::Unreachable(format!("{url}: not a usable URL: {e}")))?;
        let exchange = async {
            let answer = self.http.request(request).await.map_err(|e| {
                Failure::Unreachable(format!("cannot reach {}: {}", self.base, cause(&e)))
            })?;
            let status = answer.status();
            let body = http_body_util::Limited::new(answer.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| Failure::Unreachable(format!("{url}: the answer was cut off: {e}")))?
                .to_bytes();
            if status.is_success() {
                Ok(body)
            } else {
                Err(Failure::from_answer(status, &body))
            }
        };
        tokio::time::timeout(DEADLINE, exchange)
            .await
            .map_err(|_| {
                Failure::Unreachable(format!("{url}: no answer within {} s", DEADLINE.as_secs()))
            })?
    }
}

/// The innermost cause of a client error ("Connection refused (os error 111)"), which says
/// more than hyper's outer "client error (Connect)".
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// Checks a `--url`: `http://` with a host; no query or fragment. `https://` is refused: the
/// admin listener speaks plain HTTP (reach it over a private network or a port-forward).
pub fn check_url(url: &str) -> Result<String, String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(
                "https:// is not supported: the admin listener speaks plain HTTP; reach it \
                 over a private network or a port-forward (http://127.0.0.1:9090)"
                    .into(),
            );
        }
        _ => return Err(format!("{url:?}: give an http:// URL (http://host:port)")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{url:?}: no host"));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(format!("{url:?}: no query or fragment, please"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            check_url("http://127.0.0.1:9090/").unwrap(),
            "http://127.0.0.1:9090"
        );
        assert_eq!(
            check_url("http://admin.internal:9090/edge").unwrap(),
            "http://admin.internal:9090/edge"
        );
        assert!(
            check_url("https://x:9090")
                .unwrap_err()
                .contains("plain HTTP")
        );
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("127.0.0.1:9090").is_err());
        assert!(check_url("http://x:9090/?a=b").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn failures_print_the_apis_message() {
        let f = Failure::from_answer(
            StatusCode::UNAUTHORIZED,
            br#"{"error":"invalid_token","message":"Missing or invalid admin token."}"#,
        );
        assert_eq!(
            f.to_string(),
            "HTTP 401 invalid_token: Missing or invalid admin token."
        );
        assert!(!f.is_not_found());
        let f = Failure::from_answer(StatusCode::NOT_FOUND, b"<html>nope</html>");
        assert!(f.is_not_found());
        assert_eq!(
            f.to_string(),
            "HTTP 404 (not an answer of the admin API: check --url)"
        );
        let f = Failure::from_answer(StatusCode::BAD_REQUEST, br#"{"error":"invalid_request"}"#);
        assert_eq!(f.to_string(), "HTTP 400 invalid_request");
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused() {
        assert!(Client::new("http://127.0.0.1:9090", "a\nb").is_err());
        assert!(Client::new("http://127.0.0.1:9090", "x".repeat(40).as_str()).is_ok());
    }
}
